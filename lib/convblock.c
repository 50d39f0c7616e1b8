/*
 * convblock.c - the CNN block, conv2d -> ReLU -> 2x2 max-pool, as one
 * forward/backward pair.
 *
 * A small CNN spends most of its time outside GEMM: lowering images to
 * columns (im2col), scattering gradients back (col2im), pooling and the
 * ReLU.  lib/conv.c does each step per element with bounds checks, which
 * is clear and general; this file does the same arithmetic for the block
 * every sluice CNN is made of, with the loops arranged for speed:
 *
 *   im2col and col2im work a row at a time: for each kernel offset and
 *   output row, the valid output columns are computed once, so the inner
 *   loop is a plain copy (a memcpy at stride 1) or add, with no test;
 *   the ReLU is applied in place to the convolution's output, and its
 *   backward reads that output (positive exactly where the input was);
 *   pooling 2x2 windows is unrolled and branch-free.
 *
 * The results are bit-identical to sl_conv2d_forward, sl_relu_forward and
 * sl_maxpool2d_forward (K = S = 2) run one after the other, and to their
 * backwards: the same GEMM calls, the same comparisons (ties go to the
 * first; no NaN reaches the pool), the same order of every sum.  The unit
 * test checks exactly that.
 *
 * Shapes: in (B,IC,H,W) -> conv (B,OC,OH,OW), ReLU'd in place -> out
 * (B,OC,OH/2,OW/2) (floor); caches: col (B, IC*KH*KW, OH*OW), conv, and
 * argmax (B,OC,OH/2,OW/2), each winner's index in its OH*OW plane.
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Output columns ow with 0 <= ow*stride - pad + kw < W: [*lo, *hi). */
static void valid_cols(const struct sl_conv2d *c, int kw, int *lo, int *hi)
{
	int a = c->pad - kw, l, h;

	/* smallest ow with ow*stride >= a, largest with ow*stride <= a + W - 1 */
	l = a <= 0 ? 0 : (a + c->stride - 1) / c->stride;
	h = a + c->W - 1 < 0 ? -1 : (a + c->W - 1) / c->stride;
	if (h > c->OW - 1)
		h = c->OW - 1;
	*lo = l < c->OW ? l : c->OW;
	*hi = h + 1 > *lo ? h + 1 : *lo;
}

// in (IC,H,W) -> col (IC*KH*KW, OH*OW)
static void im2col_rows(float *col, const float *in, const struct sl_conv2d *c)
{
	for (int ic = 0; ic < c->IC; ic++)
		for (int kh = 0; kh < c->KH; kh++)
			for (int kw = 0; kw < c->KW; kw++) {
				const float *plane = in + (size_t)ic * c->H * c->W;
				int lo, hi;
				valid_cols(c, kw, &lo, &hi);
				for (int oh = 0; oh < c->OH; oh++, col += c->OW) {
					int ih = oh * c->stride - c->pad + kh;
					const float *src;
					if (ih < 0 || ih >= c->H) {
						memset(col, 0, (size_t)c->OW * sizeof *col);
						continue;
					}
					src = plane + (size_t)ih * c->W + kw - c->pad;
					for (int ow = 0; ow < lo; ow++)
						col[ow] = 0.0f;
					if (c->stride == 1)
						memcpy(col + lo, src + lo, (size_t)(hi - lo) * sizeof *col);
					else
						for (int ow = lo; ow < hi; ow++)
							col[ow] = src[ow * c->stride];
					for (int ow = hi; ow < c->OW; ow++)
						col[ow] = 0.0f;
				}
			}
}

// col (IC*KH*KW, OH*OW) -> din (IC,H,W), adding, in lib/conv.c's order
static void col2im_rows(float *din, const float *col, const struct sl_conv2d *c)
{
	for (int ic = 0; ic < c->IC; ic++)
		for (int kh = 0; kh < c->KH; kh++)
			for (int kw = 0; kw < c->KW; kw++) {
				float *plane = din + (size_t)ic * c->H * c->W;
				int lo, hi;
				valid_cols(c, kw, &lo, &hi);
				for (int oh = 0; oh < c->OH; oh++, col += c->OW) {
					int ih = oh * c->stride - c->pad + kh;
					float *dst;
					if (ih < 0 || ih >= c->H)
						continue;
					dst = plane + (size_t)ih * c->W + kw - c->pad;
					if (c->stride == 1)
						for (int ow = lo; ow < hi; ow++)
							dst[ow] += col[ow];
					else
						for (int ow = lo; ow < hi; ow++)
							dst[ow * c->stride] += col[ow];
				}
			}
}

/* The pool reads the ReLU's output, which is never NaN (the ReLU maps NaN
 * to 0), so the NaN rule of sl_maxpool2d_forward never fires and plain
 * comparisons, first wins on a tie, give its result.  Written without
 * branches, so the compiler can vectorise a row. */
// x: two rows of the plane (r0, r1) -> y, am: one row of PW outputs
static void pool_row(float *y, int32_t *am, const float *r0, const float *r1,
                     int i0, int OW, int PW)
{
	for (int pw = 0; pw < PW; pw++) {
		float a = r0[2 * pw], b = r0[2 * pw + 1], c = r1[2 * pw], d = r1[2 * pw + 1];
		int32_t ia = i0 + 2 * pw, ib = ia + 1, ic = ia + OW, id = ic + 1;
		float m = a;
		int32_t im = ia;
		im = b > m ? ib : im;
		m = b > m ? b : m;
		im = c > m ? ic : im;
		m = c > m ? c : m;
		im = d > m ? id : im;
		m = d > m ? d : m;
		y[pw] = m;
		am[pw] = im;
	}
}

void sl_convblock_forward(float *out, float *conv, int32_t *argmax, float *col,
                          const float *in, const float *w, const float *bias,
                          const struct sl_conv2d *c, int B)
{
	size_t K = (size_t)c->IC * c->KH * c->KW, N = (size_t)c->OH * c->OW;
	int PH = c->OH / 2, PW = c->OW / 2;

	SL_ASSERT(c->OH >= 2 && c->OW >= 2);
	for (int b = 0; b < B; b++) {
		float *o = conv + (size_t)b * c->OC * N, *cb = col + (size_t)b * K * N;
		float beta = 0.0f;

		im2col_rows(cb, in + (size_t)b * c->IC * c->H * c->W, c);
		if (bias) {
			for (int oc = 0; oc < c->OC; oc++)
				for (size_t j = 0; j < N; j++)
					o[oc * N + j] = bias[oc];
			beta = 1.0f;
		}
		sl_matmul(o, w, cb, SL_TRANS_N, SL_TRANS_N, c->OC, (int)N, (int)K, 1.0f,
		          beta);
		sl_relu_forward(o, o, (size_t)c->OC * N);
		for (int oc = 0; oc < c->OC; oc++) {
			const float *x = o + (size_t)oc * N;
			float *y = out + ((size_t)b * c->OC + oc) * PH * PW;
			int32_t *am = argmax + ((size_t)b * c->OC + oc) * PH * PW;
			for (int ph = 0; ph < PH; ph++)
				pool_row(y + ph * PW, am + ph * PW, x + 2 * ph * c->OW,
				         x + (2 * ph + 1) * c->OW, 2 * ph * c->OW, c->OW, PW);
		}
	}
}

/* Unpooling and the ReLU's backward in one pass over the winners, for one
 * plane: dx (zeroed) gets, at each winner, 0 + dy where the ReLU's output
 * there is positive, and stays +0 elsewhere.  That is what adding dy into
 * the zeroed gradient and then applying sl_relu_backward (0 + d where the
 * output is positive, else +0) leave, bit for bit: 0 + (0 + dy) is 0 + dy
 * (a -0 gradient becomes +0 either way), and a position that wins no
 * window stays +0.  2x2 windows do not overlap, so a position wins at most
 * once and no sum is reordered. */
static void unpool_relu(float *restrict dx, const float *restrict dy,
                        const int32_t *restrict am, const float *restrict y, size_t P)
{
	/* Without a branch: which window member won is a coin toss to the
	 * branch predictor, and the mispredictions made this loop a third of
	 * the backward.  y is a ReLU output, +0 or positive (never NaN), so
	 * y > 0 is its bits read as a positive integer; the sum's bits are
	 * kept under that mask, else +0. */
	for (size_t i = 0; i < P; i++) {
		int32_t k = am[i], yb;
		uint32_t vb;
		float v = 0.0f + dy[i];
		memcpy(&yb, &y[k], sizeof yb);
		memcpy(&vb, &v, sizeof vb);
		vb &= 0u - (uint32_t)(yb > 0);
		memcpy(&dx[k], &vb, sizeof vb);
	}
}

/* dbias[oc] += the sum of row oc of d (OC,N), each row summed from j = 0
 * up, as sl_conv2d_backward does.  Eight rows go side by side, each read
 * in order: eight independent chains of adds keep the adder busy, and
 * every load is contiguous. */
static void bias_sums(float *dbias, const float *restrict d, int OC, size_t N)
{
	int oc = 0;

	for (; oc + 8 <= OC; oc += 8) {
		const float *r = d + (size_t)oc * N;
		float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
		float s4 = 0.0f, s5 = 0.0f, s6 = 0.0f, s7 = 0.0f;
		for (size_t j = 0; j < N; j++) {
			s0 += r[j];
			s1 += r[N + j];
			s2 += r[2 * N + j];
			s3 += r[3 * N + j];
			s4 += r[4 * N + j];
			s5 += r[5 * N + j];
			s6 += r[6 * N + j];
			s7 += r[7 * N + j];
		}
		dbias[oc] += s0, dbias[oc + 1] += s1, dbias[oc + 2] += s2;
		dbias[oc + 3] += s3, dbias[oc + 4] += s4, dbias[oc + 5] += s5;
		dbias[oc + 6] += s6, dbias[oc + 7] += s7;
	}
	for (; oc < OC; oc++) {
		const float *r = d + (size_t)oc * N;
		float s = 0.0f;
		for (size_t j = 0; j < N; j++)
			s += r[j];
		dbias[oc] += s;
	}
}

void sl_convblock_backward(float *din, float *dw, float *dbias, const float *dout,
                           const float *w, const float *conv, const int32_t *argmax,
                           const float *col, float *scratch,
                           const struct sl_conv2d *c, int B)
{
	size_t K = (size_t)c->IC * c->KH * c->KW, N = (size_t)c->OH * c->OW;
	size_t P = (size_t)(c->OH / 2) * (c->OW / 2);
	float *dconv = scratch, *dcol = scratch + (size_t)c->OC * N;

	for (int b = 0; b < B; b++) {
		const float *cv = conv + (size_t)b * c->OC * N;

		/* unpool, with the ReLU's mask: 0 + d where the output is positive */
		memset(dconv, 0, (size_t)c->OC * N * sizeof *dconv);
		for (int oc = 0; oc < c->OC; oc++)
			unpool_relu(dconv + (size_t)oc * N, dout + ((size_t)b * c->OC + oc) * P,
			            argmax + ((size_t)b * c->OC + oc) * P, cv + (size_t)oc * N, P);
		sl_matmul(dw, dconv, col + (size_t)b * K * N, SL_TRANS_N, SL_TRANS_T,
		          c->OC, (int)K, (int)N, 1.0f, 1.0f);
		if (dbias)
			bias_sums(dbias, dconv, c->OC, N);
		if (din) {
			sl_matmul(dcol, w, dconv, SL_TRANS_T, SL_TRANS_N, (int)K, (int)N, c->OC,
			          1.0f, 0.0f);
			col2im_rows(din + (size_t)b * c->IC * c->H * c->W, dcol, c);
		}
	}
}

size_t sl_convblock_scratch_size(const struct sl_conv2d *c)
{
	size_t N = (size_t)c->OH * c->OW;
	return (size_t)c->OC * N + (size_t)c->IC * c->KH * c->KW * N;
}
