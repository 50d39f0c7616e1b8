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
 *   the ReLU is applied as the 2x2 windows are pooled (one pass, unrolled
 *   and branch-free), and its backward reads the pooled value at each
 *   winner (positive exactly where the input was).
 *
 * The results are bit-identical to sl_conv2d_forward, sl_relu_forward and
 * sl_maxpool2d_forward (K = S = 2) run one after the other, and to their
 * backwards: the same GEMM calls, the same comparisons (ties go to the
 * first; no NaN reaches the pool), the same order of every sum.  The unit
 * test checks exactly that.
 *
 * Nothing of the batch is kept but the pooled output and the winners.  The
 * core layers keep every image's columns and convolution for the backward
 * (for Fashion-MNIST's second block, 113 KB and 25 KB an image: 9 MB for
 * 64 images, far beyond the caches), so the backward read them back from
 * memory.  Here one image's columns and convolution live in a scratch that
 * stays in cache: the backward lowers the image again (copies, cheaper
 * than the memory traffic) and takes the ReLU's mask from the pooled
 * output, which is the convolution's value at each winner.
 *
 * Shapes: in (B,IC,H,W) -> out (B,OC,OH/2,OW/2) (floor); argmax
 * (B,OC,OH/2,OW/2), each winner's index in its OH*OW plane; scratch, one
 * image's columns (IC*KH*KW, OH*OW) and convolution (OC, OH*OW).
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Output columns ow with 0 <= ow*stride - pad + kw < W: [*lo, *hi). */
static void valid_cols(const struct sl_conv2d *c, int kw, int *lo, int *hi)
{
	int a = c->pad - kw, l, h;

	/* smallest ow with ow*stride >= a, largest with ow*stride <= a + W - 1
	 * (without the divisions at stride 1: this runs per kernel row) */
	if (c->stride == 1) {
		l = a <= 0 ? 0 : a;
		h = a + c->W - 1 < 0 ? -1 : a + c->W - 1;
	} else {
		l = a <= 0 ? 0 : (a + c->stride - 1) / c->stride;
		h = a + c->W - 1 < 0 ? -1 : (a + c->W - 1) / c->stride;
	}
	if (h > c->OW - 1)
		h = c->OW - 1;
	*lo = l < c->OW ? l : c->OW;
	*hi = h + 1 > *lo ? h + 1 : *lo;
}

/* GCC turns short copy and fill loops into calls to memcpy and memset,
 * whose call and dispatch cost more than a 28-float row; these stay loops. */
#if defined(__GNUC__) && !defined(__clang__)
#define PLAIN_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define PLAIN_LOOPS
#endif

// in (IC,H,W) -> col (IC*KH*KW, OH*OW)
PLAIN_LOOPS
static void im2col_rows(float *restrict col, const float *restrict in,
                        const struct sl_conv2d *c)
{
	int OW = c->OW;

	for (int kw = 0; kw < c->KW; kw++) {
		int lo, hi;
		valid_cols(c, kw, &lo, &hi);
		for (int ic = 0; ic < c->IC; ic++)
			for (int kh = 0; kh < c->KH; kh++) {
				const float *plane = in + (size_t)ic * c->H * c->W;
				float *dst = col + (((size_t)ic * c->KH + kh) * c->KW + kw) *
				                       c->OH * OW;
				for (int oh = 0; oh < c->OH; oh++, dst += OW) {
					int ih = oh * c->stride - c->pad + kh;
					const float *src;
					if (ih < 0 || ih >= c->H) {
						for (int ow = 0; ow < OW; ow++)
							dst[ow] = 0.0f;
						continue;
					}
					src = plane + (size_t)ih * c->W + kw - c->pad;
					for (int ow = 0; ow < lo; ow++)
						dst[ow] = 0.0f;
					if (c->stride == 1)
						for (int ow = lo; ow < hi; ow++)
							dst[ow] = src[ow];
					else
						for (int ow = lo; ow < hi; ow++)
							dst[ow] = src[ow * c->stride];
					for (int ow = hi; ow < OW; ow++)
						dst[ow] = 0.0f;
				}
			}
	}
}

/* im2col for a "same" convolution (stride 1, OW == W, as 3x3 with padding
 * 1 is): a kernel offset's block of columns is then the input plane
 * shifted by a fixed number of elements, so it is one long copy, after
 * which the few positions that fall on the padding are zeroed (the copy
 * put the neighbouring row's values there).  The same values as
 * im2col_rows, in a tenth of the time for 28-float rows. */
PLAIN_LOOPS
static void im2col_same(float *restrict col, const float *restrict in,
                        const struct sl_conv2d *c)
{
	int OW = c->OW, OH = c->OH;
	size_t N = (size_t)OH * OW;

	for (int ic = 0; ic < c->IC; ic++)
		for (int kh = 0; kh < c->KH; kh++) {
			/* rows with 0 <= oh - pad + kh < H */
			int r0 = c->pad - kh > 0 ? c->pad - kh : 0;
			int r1 = c->H + c->pad - kh < OH ? c->H + c->pad - kh : OH;
			for (int kw = 0; kw < c->KW; kw++) {
				const float *plane = in + (size_t)ic * c->H * c->W;
				float *dst = col + (((size_t)ic * c->KH + kh) * c->KW + kw) * N;
				ptrdiff_t off = (ptrdiff_t)(kh - c->pad) * c->W + (kw - c->pad);
				size_t a, b;
				int lo, hi;

				valid_cols(c, kw, &lo, &hi);
				if (r1 <= r0 || hi <= lo) {
					memset(dst, 0, N * sizeof *dst);
					continue;
				}
				a = (size_t)r0 * OW + (size_t)lo;
				b = (size_t)(r1 - 1) * OW + (size_t)hi;
				for (size_t j = 0; j < a; j++)
					dst[j] = 0.0f;
				/* dst[j] = plane[j + off]; every index read is inside the
				 * plane: j + off is (ih, ow + kw - pad) with ih = r0 at a
				 * and r1 - 1 at b - 1, and lo, hi keep the column in range */
				memcpy(dst + a, plane + ((ptrdiff_t)a + off), (b - a) * sizeof *dst);
				for (size_t j = b; j < N; j++)
					dst[j] = 0.0f;
				for (int oh = r0; oh < r1; oh++) {
					float *row = dst + (size_t)oh * OW;
					for (int ow = 0; ow < lo; ow++)
						row[ow] = 0.0f;
					for (int ow = hi; ow < OW; ow++)
						row[ow] = 0.0f;
				}
			}
		}
}

static void im2col(float *col, const float *in, const struct sl_conv2d *c)
{
	if (c->stride == 1 && c->OW == c->W)
		im2col_same(col, in, c);
	else
		im2col_rows(col, in, c);
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

/* The ReLU and the 2x2 pool of one (OH,OW) plane x, in one pass: y
 * (OH/2,OW/2) gets each window's largest ReLU output, am its index in the
 * plane.  The ReLU's values (x > 0 ? x : +0, so never NaN) are compared as
 * sl_maxpool2d_forward compares them, the first winning a tie; its NaN
 * rule never fires on them.  Written without branches. */
static void relu_pool_plane(float *restrict y, int32_t *restrict am,
                            const float *restrict x, int OH, int OW)
{
	int PH = OH / 2, PW = OW / 2;

	for (int ph = 0; ph < PH; ph++) {
		const float *r0 = x + (size_t)2 * ph * OW, *r1 = r0 + OW;
		float *yr = y + (size_t)ph * PW;
		int32_t *ar = am + (size_t)ph * PW, i0 = 2 * ph * OW;
		for (int pw = 0; pw < PW; pw++) {
			float a = r0[2 * pw], b = r0[2 * pw + 1];
			float c = r1[2 * pw], d = r1[2 * pw + 1];
			int32_t ia = i0 + 2 * pw, im = ia;
			float m;
			a = a > 0.0f ? a : 0.0f, b = b > 0.0f ? b : 0.0f;
			c = c > 0.0f ? c : 0.0f, d = d > 0.0f ? d : 0.0f;
			m = a;
			im = b > m ? ia + 1 : im;
			m = b > m ? b : m;
			im = c > m ? ia + OW : im;
			m = c > m ? c : m;
			im = d > m ? ia + OW + 1 : im;
			m = d > m ? d : m;
			yr[pw] = m;
			ar[pw] = im;
		}
	}
}

/* ----------------------------------------------- the same, in AVX-512
 * The block's planes are small (rows of 7 to 28 floats), too short for
 * the compiler's vector loops, which the pool and unpool would need
 * anyway to split even and odd columns.  Here one masked vector takes up
 * to 16 windows of a row pair: the even and odd columns are separated by
 * permutes, the compare-and-select chain runs on whole vectors, and the
 * unpool writes every element (no zeroing pass, no scatter).  Same
 * operations as the scalar versions, element by element, so the same
 * bits (the block's test runs whichever the CPU takes). */
#if VM_X86
#define T512 VM_T512

/* relu_pool_plane for the OC planes of one image: x (OC,OH,OW) */
T512 static void relu_pool_avx512(float *restrict y, int32_t *restrict am,
                                  const float *restrict x, int OC, int OH, int OW)
{
	int PH = OH / 2, PW = OW / 2;
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
	                                       24, 26, 28, 30);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	const __m512 zero = _mm512_setzero_ps();

	for (int oc = 0; oc < OC; oc++)
		for (int ph = 0; ph < PH; ph++) {
			const float *r0 = x + ((size_t)oc * OH + 2 * ph) * OW, *r1 = r0 + OW;
			size_t at = ((size_t)oc * PH + ph) * PW;
			for (int p0 = 0; p0 < PW; p0 += 16) {
				int n = PW - p0 < 16 ? PW - p0 : 16;
				__mmask16 lo = vm_lanes16(2 * n), hi = vm_lanes16(2 * n - 16), k;
				__m512 t0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * p0);
				__m512 t1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * p0 + 16);
				__m512 u0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * p0);
				__m512 u1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * p0 + 16);
				/* max(v, 0) gives the second operand, +0, for a NaN or
				 * a zero of either sign: v > 0 ? v : +0 exactly */
				__m512 a = _mm512_max_ps(_mm512_permutex2var_ps(t0, even, t1), zero);
				__m512 b = _mm512_max_ps(_mm512_permutex2var_ps(t0, odd, t1), zero);
				__m512 c = _mm512_max_ps(_mm512_permutex2var_ps(u0, even, u1), zero);
				__m512 d = _mm512_max_ps(_mm512_permutex2var_ps(u0, odd, u1), zero);
				__m512i ia = _mm512_add_epi32(_mm512_set1_epi32(2 * ph * OW + 2 * p0),
				                              even);
				__m512i im = ia;
				__m512 m = a;
				k = _mm512_cmp_ps_mask(b, m, _CMP_GT_OQ);
				im = _mm512_mask_add_epi32(im, k, ia, _mm512_set1_epi32(1));
				m = _mm512_mask_mov_ps(m, k, b);
				k = _mm512_cmp_ps_mask(c, m, _CMP_GT_OQ);
				im = _mm512_mask_add_epi32(im, k, ia, _mm512_set1_epi32(OW));
				m = _mm512_mask_mov_ps(m, k, c);
				k = _mm512_cmp_ps_mask(d, m, _CMP_GT_OQ);
				im = _mm512_mask_add_epi32(im, k, ia, _mm512_set1_epi32(OW + 1));
				m = _mm512_mask_mov_ps(m, k, d);
				_mm512_mask_storeu_ps(y + at + p0, vm_lanes16(n), m);
				_mm512_mask_storeu_epi32(am + at + p0, vm_lanes16(n), im);
			}
		}
}

/* unpool_relu for the OC planes of one image, every element of dx
 * (OC,OH,OW) written: +0, or at a winner 0 + dy where y > 0 */
T512 static void unpool_relu_avx512(float *restrict dx, const float *restrict dy,
                                    const int32_t *restrict am, const float *restrict y,
                                    int OC, int OH, int OW)
{
	int PH = OH / 2, PW = OW / 2;
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
	                                       24, 26, 28, 30);
	const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6,
	                                      22, 7, 23);
	const __m512i ihi = _mm512_add_epi32(ilo, _mm512_set1_epi32(8));
	const __m512 zero = _mm512_setzero_ps();

	for (int oc = 0; oc < OC; oc++) {
		float *plane = dx + (size_t)oc * OH * OW;
		for (int ph = 0; ph < PH; ph++) {
			float *d0 = plane + (size_t)2 * ph * OW, *d1 = d0 + OW;
			size_t at = ((size_t)oc * PH + ph) * PW;
			for (int p0 = 0; p0 < PW; p0 += 16) {
				int n = PW - p0 < 16 ? PW - p0 : 16;
				__mmask16 kn = vm_lanes16(n), lo = vm_lanes16(2 * n), hi = vm_lanes16(2 * n - 16);
				__m512 g = _mm512_add_ps(zero, _mm512_maskz_loadu_ps(kn, dy + at + p0));
				__m512 yv = _mm512_maskz_loadu_ps(kn, y + at + p0);
				__m512 v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(yv, zero, _CMP_GT_OQ), g);
				__m512i kk = _mm512_sub_epi32(
				        _mm512_maskz_loadu_epi32(kn, am + at + p0),
				        _mm512_add_epi32(_mm512_set1_epi32(2 * ph * OW + 2 * p0), even));
				__m512 e0 = _mm512_maskz_mov_ps(
				        _mm512_cmpeq_epi32_mask(kk, _mm512_setzero_si512()), v);
				__m512 e1 = _mm512_maskz_mov_ps(
				        _mm512_cmpeq_epi32_mask(kk, _mm512_set1_epi32(1)), v);
				__m512 e2 = _mm512_maskz_mov_ps(
				        _mm512_cmpeq_epi32_mask(kk, _mm512_set1_epi32(OW)), v);
				__m512 e3 = _mm512_maskz_mov_ps(
				        _mm512_cmpeq_epi32_mask(kk, _mm512_set1_epi32(OW + 1)), v);
				_mm512_mask_storeu_ps(d0 + 2 * p0, lo, _mm512_permutex2var_ps(e0, ilo, e1));
				_mm512_mask_storeu_ps(d0 + 2 * p0 + 16, hi,
				                      _mm512_permutex2var_ps(e0, ihi, e1));
				_mm512_mask_storeu_ps(d1 + 2 * p0, lo, _mm512_permutex2var_ps(e2, ilo, e3));
				_mm512_mask_storeu_ps(d1 + 2 * p0 + 16, hi,
				                      _mm512_permutex2var_ps(e2, ihi, e3));
			}
			if (OW % 2)
				d0[OW - 1] = d1[OW - 1] = 0.0f;
		}
		if (OH % 2)
			for (int ow = 0; ow < OW; ow++)
				plane[(size_t)(OH - 1) * OW + ow] = 0.0f;
	}
}

/* col2im_rows at stride 1, a row of din at a time: the row is loaded
 * once, every (kh, kw) column row that lands on it is added in registers,
 * in col2im_rows' order (kh, then kw), and the row is stored once.
 * (Adding each column row into memory instead stalls on every load that
 * overlaps the previous, shifted store.)  Lanes a kernel offset does not
 * reach keep their value (a masked add), as col2im_rows leaves them. */
T512 static void col2im_avx512(float *din, const float *col, const struct sl_conv2d *c)
{
	size_t N = (size_t)c->OH * c->OW;

	for (int ic = 0; ic < c->IC; ic++)
		for (int ih = 0; ih < c->H; ih++) {
			float *dst = din + ((size_t)ic * c->H + ih) * c->W;
			for (int w0 = 0; w0 < c->W; w0 += 16) {
				__mmask16 kw16 = vm_lanes16(c->W - w0);
				__m512 acc = _mm512_maskz_loadu_ps(kw16, dst + w0);
				for (int kh = 0; kh < c->KH; kh++) {
					int oh = ih + c->pad - kh;
					if (oh < 0 || oh >= c->OH)
						continue;
					for (int kw = 0; kw < c->KW; kw++) {
						/* dst column iw takes col column iw + pad - kw,
						 * valid for 0 <= iw + pad - kw < OW */
						const float *row = col + (((size_t)ic * c->KH + kh) * c->KW + kw) * N +
						                   (size_t)oh * c->OW;
						int s = c->pad - kw, lo = -s - w0, hi = c->OW - s - w0;
						__mmask16 k = (__mmask16)(vm_lanes16(hi) & ~vm_lanes16(lo) & kw16);
						__m512 v = _mm512_maskz_loadu_ps(
						        k, (const float *)((uintptr_t)row +
						                           (uintptr_t)((ptrdiff_t)(w0 + s) *
						                                       (ptrdiff_t)sizeof *row)));
						acc = _mm512_mask_add_ps(acc, k, acc, v);
					}
				}
				_mm512_mask_storeu_ps(dst + w0, kw16, acc);
			}
		}
}

#endif

void sl_convblock_forward(float *out, int32_t *argmax, float *scratch, const float *in,
                          const float *w, const float *bias, const struct sl_conv2d *c,
                          int B)
{
	size_t K = (size_t)c->IC * c->KH * c->KW, N = (size_t)c->OH * c->OW;
	int PH = c->OH / 2, PW = c->OW / 2;
	float *o = scratch, *cb = scratch + (size_t)c->OC * N;

	SL_ASSERT(c->OH >= 2 && c->OW >= 2);
	for (int b = 0; b < B; b++) {
		im2col(cb, in + (size_t)b * c->IC * c->H * c->W, c);
		if (bias) {
			for (int oc = 0; oc < c->OC; oc++)
				for (size_t j = 0; j < N; j++)
					o[oc * N + j] = bias[oc];
		}
		sl_gemm_nn(o, (int)N, w, (int)K, SL_TRANS_N, cb, (int)N, c->OC, (int)N, (int)K,
		           bias != NULL);
#if VM_X86
		if (vm_avx512()) {
			size_t at = (size_t)b * c->OC * PH * PW;
			relu_pool_avx512(out + at, argmax + at, o, c->OC, c->OH, c->OW);
			continue;
		}
#endif
		for (int oc = 0; oc < c->OC; oc++) {
			size_t at = ((size_t)b * c->OC + oc) * PH * PW;
			relu_pool_plane(out + at, argmax + at, o + (size_t)oc * N, c->OH, c->OW);
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
 * once and no sum is reordered.  The ReLU's output at a winner is the
 * pooled value y of its window. */
static void unpool_relu(float *restrict dx, const float *restrict dy,
                        const int32_t *restrict am, const float *restrict y, size_t P)
{
	/* Without a branch: which window member won is a coin toss to the
	 * branch predictor, and the mispredictions made this loop a third of
	 * the backward.  y is a ReLU output, +0 or positive (never NaN), so
	 * y > 0 is its bits read as a positive integer; the sum's bits are
	 * kept under that mask, else +0. */
	for (size_t i = 0; i < P; i++) {
		int32_t yb;
		uint32_t vb;
		float v = 0.0f + dy[i];
		memcpy(&yb, &y[i], sizeof yb);
		memcpy(&vb, &v, sizeof vb);
		vb &= 0u - (uint32_t)(yb > 0);
		memcpy(&dx[am[i]], &vb, sizeof vb);
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
                           const float *out, const int32_t *argmax, const float *in,
                           const float *w, float *scratch, const struct sl_conv2d *c,
                           int B)
{
	size_t K = (size_t)c->IC * c->KH * c->KW, N = (size_t)c->OH * c->OW;
	size_t P = (size_t)(c->OH / 2) * (c->OW / 2);
	float *dconv = scratch, *col = scratch + (size_t)c->OC * N;
	int fast = vm_avx512();

	for (int b = 0; b < B; b++) {
		const float *x = in + (size_t)b * c->IC * c->H * c->W;

		/* unpool, with the ReLU's mask: 0 + d where the output is positive */
		if (fast) {
#if VM_X86
			size_t at = (size_t)b * c->OC * P;
			unpool_relu_avx512(dconv, dout + at, argmax + at, out + at, c->OC, c->OH,
			                   c->OW);
#endif
		} else {
			memset(dconv, 0, (size_t)c->OC * N * sizeof *dconv);
			for (int oc = 0; oc < c->OC; oc++) {
				size_t at = ((size_t)b * c->OC + oc) * P;
				unpool_relu(dconv + (size_t)oc * N, dout + at, argmax + at, out + at,
				            P);
			}
		}
		im2col(col, x, c);
		sl_gemm_nt_add(dw, (int)K, dconv, (int)N, col, (int)N, c->OC, (int)K, (int)N);
		if (dbias)
			bias_sums(dbias, dconv, c->OC, N);
		if (din) { /* the columns are done with: their gradient goes there */
			float *dx = din + (size_t)b * c->IC * c->H * c->W;
			sl_gemm_nn(col, (int)N, w, (int)K, SL_TRANS_T, dconv, (int)N, (int)K, (int)N,
			           c->OC, 0);
#if VM_X86
			if (fast && c->stride == 1) {
				col2im_avx512(dx, col, c);
				continue;
			}
#endif
			col2im_rows(dx, col, c);
		}
	}
}

size_t sl_convblock_scratch_size(const struct sl_conv2d *c)
{
	size_t N = (size_t)c->OH * c->OW;
	return (size_t)c->OC * N + (size_t)c->IC * c->KH * c->KW * N;
}
