/*
 * conv.c - the image layers: 2-d convolution, max-pooling and flatten,
 * over NCHW batches (B images of C planes of H x W, row-major).
 *
 * Convolution is lowered to GEMM by im2col: for one image, every
 * receptive field (IC*KH*KW values, zero where it hangs over the padding)
 * becomes a column of a (IC*KH*KW, OH*OW) matrix, and the output planes
 * are the kernels (OC, IC*KH*KW) times that matrix.  The forward keeps the
 * columns of the whole batch as its cache, since the weight gradient needs
 * them again: dw += dout (OC, OH*OW) . col^T.  The input gradient is the
 * transposed product, w^T . dout, scattered back by col2im (adding where
 * receptive fields overlap).  Images are processed one at a time in order,
 * so the accumulation into dw and dbias has a fixed order.  The three
 * products go to lib/gemm.c (AVX-512 tiles where the CPU has them, else
 * sgemm), as the fused block's do, so the two agree bit for bit.
 *
 * Max-pooling records, per output, which input won; the backward routes
 * each gradient to that input alone.
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sl_conv2d_init(struct sl_conv2d *c, int IC, int H, int W, int OC, int KH,
                   int KW, int stride, int pad)
{
	if (IC < 1 || H < 1 || W < 1 || OC < 1 || KH < 1 || KW < 1 || stride < 1 ||
	    pad < 0)
		return -1;
	if (H + 2 * pad < KH || W + 2 * pad < KW)
		return -1;
	c->IC = IC, c->H = H, c->W = W;
	c->OC = OC, c->KH = KH, c->KW = KW;
	c->stride = stride, c->pad = pad;
	c->OH = (H + 2 * pad - KH) / stride + 1;
	c->OW = (W + 2 * pad - KW) / stride + 1;
	return 0;
}

/* Rows of one image's column matrix, and its columns. */
static size_t col_rows(const struct sl_conv2d *c)
{
	return (size_t)c->IC * c->KH * c->KW;
}

static size_t col_cols(const struct sl_conv2d *c)
{
	return (size_t)c->OH * c->OW;
}

size_t sl_conv2d_col_size(const struct sl_conv2d *c, int B)
{
	return (size_t)B * col_rows(c) * col_cols(c);
}

// in (IC,H,W) -> col (IC*KH*KW, OH*OW)
static void im2col(float *col, const float *in, const struct sl_conv2d *c)
{
	for (int ic = 0; ic < c->IC; ic++)
		for (int kh = 0; kh < c->KH; kh++)
			for (int kw = 0; kw < c->KW; kw++) {
				const float *plane = in + (size_t)ic * c->H * c->W;
				for (int oh = 0; oh < c->OH; oh++) {
					int ih = oh * c->stride - c->pad + kh;
					for (int ow = 0; ow < c->OW; ow++) {
						int iw = ow * c->stride - c->pad + kw;
						*col++ = ih >= 0 && ih < c->H && iw >= 0 && iw < c->W
						             ? plane[ih * c->W + iw]
						             : 0.0f;
					}
				}
			}
}

// col (IC*KH*KW, OH*OW) -> din (IC,H,W), adding
static void col2im(float *din, const float *col, const struct sl_conv2d *c)
{
	for (int ic = 0; ic < c->IC; ic++)
		for (int kh = 0; kh < c->KH; kh++)
			for (int kw = 0; kw < c->KW; kw++) {
				float *plane = din + (size_t)ic * c->H * c->W;
				for (int oh = 0; oh < c->OH; oh++) {
					int ih = oh * c->stride - c->pad + kh;
					for (int ow = 0; ow < c->OW; ow++, col++) {
						int iw = ow * c->stride - c->pad + kw;
						if (ih >= 0 && ih < c->H && iw >= 0 && iw < c->W)
							plane[ih * c->W + iw] += *col;
					}
				}
			}
}

// in (B,IC,H,W), w (OC,IC,KH,KW), bias (OC) -> out (B,OC,OH,OW);
// col (B, IC*KH*KW, OH*OW) cache
void sl_conv2d_forward(float *out, float *col, const float *in, const float *w,
                       const float *bias, const struct sl_conv2d *c, int B)
{
	size_t K = col_rows(c), N = col_cols(c);

	for (int b = 0; b < B; b++) {
		float *o = out + (size_t)b * c->OC * N, *cb = col + (size_t)b * K * N;

		im2col(cb, in + (size_t)b * c->IC * c->H * c->W, c);
		if (bias) {
			for (int oc = 0; oc < c->OC; oc++)
				for (size_t j = 0; j < N; j++)
					o[oc * N + j] = bias[oc];
		}
		sl_gemm_nn(o, (int)N, w, (int)K, SL_TRANS_N, cb, (int)N, c->OC, (int)N, (int)K,
		           bias != NULL);
	}
}

// dout (B,OC,OH,OW) -> din (B,IC,H,W), dw (OC,IC,KH,KW), dbias (OC)
void sl_conv2d_backward(float *din, float *dw, float *dbias, const float *dout,
                        const float *w, const float *col,
                        const struct sl_conv2d *c, int B)
{
	size_t K = col_rows(c), N = col_cols(c);
	float *dcol = din ? sl_xmalloc(K * N * sizeof *dcol) : NULL;

	for (int b = 0; b < B; b++) {
		const float *d = dout + (size_t)b * c->OC * N;

		sl_gemm_nt_add(dw, (int)K, d, (int)N, col + (size_t)b * K * N, (int)N, c->OC,
		               (int)K, (int)N);
		if (dbias)
			for (int oc = 0; oc < c->OC; oc++) {
				float s = 0.0f;
				for (size_t j = 0; j < N; j++)
					s += d[oc * N + j];
				dbias[oc] += s;
			}
		if (din) {
			sl_gemm_nn(dcol, (int)N, w, (int)K, SL_TRANS_T, d, (int)N, (int)K, (int)N, c->OC,
			           0);
			col2im(din + (size_t)b * c->IC * c->H * c->W, dcol, c);
		}
	}
	free(dcol);
}

/* --------------------------------------------------------------- maxpool */

// in (B,C,H,W) -> out (B,C,OH,OW); argmax (B,C,OH,OW) cache
void sl_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int B,
                          int C, int H, int W, int K, int S)
{
	int OH, OW;

	SL_ASSERT(K >= 1 && S >= 1 && H >= K && W >= K);
	OH = (H - K) / S + 1;
	OW = (W - K) / S + 1;
	for (size_t p = 0; p < (size_t)B * C; p++) {
		const float *x = in + p * H * W;
		float *y = out + p * OH * OW;
		int32_t *am = argmax + p * OH * OW;

		for (int oh = 0; oh < OH; oh++)
			for (int ow = 0; ow < OW; ow++) {
				int best = oh * S * W + ow * S;
				float max = x[best];

				for (int kh = 0; kh < K && !isnan(max); kh++)
					for (int kw = 0; kw < K; kw++) {
						int i = (oh * S + kh) * W + ow * S + kw;
						if (x[i] > max || isnan(x[i])) {
							max = x[i];
							best = i;
							if (isnan(max))
								break;
						}
					}
				y[oh * OW + ow] = max;
				am[oh * OW + ow] = best;
			}
	}
}

// dout (B,C,OH,OW) -> din (B,C,H,W)
void sl_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                           int B, int C, int H, int W, int K, int S)
{
	int OH = (H - K) / S + 1, OW = (W - K) / S + 1;

	for (size_t p = 0; p < (size_t)B * C; p++) {
		float *dx = din + p * H * W;
		const float *dy = dout + p * OH * OW;
		const int32_t *am = argmax + p * OH * OW;

		for (int i = 0; i < OH * OW; i++)
			dx[am[i]] += dy[i];
	}
}

/* --------------------------------------------------------------- flatten */

// in (B,C,H,W) -> out (B,C*H*W), n = B*C*H*W
void sl_flatten_forward(float *out, const float *in, size_t n)
{
	if (out != in)
		memcpy(out, in, n * sizeof *out);
}

void sl_flatten_backward(float *din, const float *dout, size_t n)
{
	if (din == dout)
		return;
	for (size_t i = 0; i < n; i++)
		din[i] += dout[i];
}
