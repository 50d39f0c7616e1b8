/*
 * gemm.c - small matrix products as AVX-512 register tiles read straight
 * from the operands: the per-image products of a convolution in im2col
 * form and the linear layers of the nets in lib/net.c (MLP, CNN head).
 *
 * Their sizes are small (Fashion-MNIST's second conv block: 32 x 196 x
 * 144 per image; an MLP's first layer: 64 x 256 x 784 per worker).  At
 * these sizes sgemm spends a fifth of its time packing both operands into
 * its own layout, and its kernels are whatever OpenBLAS was told to use:
 * our machines hold it to its AVX2 kernels through OPENBLAS_CORETYPE,
 * half the width this CPU has.  Here, on CPUs with AVX-512:
 *
 *   sl_gemm_nn, C = op(A) B: a tile of 8 rows x 32 columns of C in 16
 *   registers; for each k, two vectors of B's row k and 8 broadcast
 *   elements of A, 16 multiply-adds.  B is walked 32 columns at a time,
 *   so its panel stays in L1 across the row tiles.
 *   sl_gemm_nt_panels, C = A B^T: B^T's panels transposed and A packed
 *   (nn_packed, below) for sl_gemm_nn's tile, whatever the size.
 *   sl_gemm_nt_add, C += A B^T: both operands are read along their rows:
 *   a 4 x 4 tile of dot products in 16 vector accumulators, folded into
 *   one vector of 16 sums at the end (a fixed tree of shuffles and adds).
 *   sl_gemm_pack_b + sl_gemm_packed, C = A B from a B packed once and used
 *   many times (a GPT's weights, by every worker of a step), A read in
 *   place, with the passes a layer makes around the product folded into
 *   the tiles; sl_gemm_tn_packing, C (+)= A^T B the same way, B packed
 *   per call (a weight gradient).  Both give sl_gemm_nn's bits.
 *
 * Edges: rows past the end are computed from the last row and not stored;
 * columns past the end are masked.  Every sum runs in an order fixed by
 * the shapes, so the bits are the same for any thread count; they differ
 * from sgemm's in the last places.  Elsewhere (no AVX-512, other
 * compilers, sanitizer builds) these are sl_matmul_ld calls.  lib/conv.c
 * and lib/convblock.c both use them, so the fused block and the core
 * layers still give the same bits.
 */
#include "sluice.h"
#include "vmath.h"

#include <stddef.h>
#include <stdint.h>


#if VM_X86
#define T512 VM_T512
/* the tiles' loops, fully unrolled, so the tile stays in registers */
#define UNROLL _Pragma("GCC unroll 16")


/* One tile of nn_avx512: rows m0..m0+7 (the ones past M repeat row M-1
 * and are not stored), columns n0.. in NV vectors (masks k0, k1). */
T512 static inline __attribute__((always_inline)) void
nn_tile(float *restrict C, size_t ldc, const float *restrict a, ptrdiff_t sm,
        ptrdiff_t sk, const float *restrict B, size_t ldb, int M, int K, int acc, int m0,
        int n0, __mmask16 k0, __mmask16 k1, const int NV)
{
	const float *ar[8];
	__m512 c[8][2];

	UNROLL for (int i = 0; i < 8; i++) {
		int m = m0 + i < M ? m0 + i : M - 1;
		const float *o = C + (size_t)m * ldc + n0;
		ar[i] = a + (ptrdiff_t)m * sm;
		/* C's old values first, when adding to them */
		c[i][0] = c[i][1] = _mm512_setzero_ps();
		if (acc) {
			c[i][0] = _mm512_maskz_loadu_ps(k0, o);
			if (NV == 2)
				c[i][1] = _mm512_maskz_loadu_ps(k1, o + 16);
		}
	}
	for (int k = 0; k < K; k++) {
		const float *b = B + (size_t)k * ldb + n0;
		__m512 b0 = _mm512_maskz_loadu_ps(k0, b), b1 = b0;
		if (NV == 2)
			b1 = _mm512_maskz_loadu_ps(k1, b + 16);
		UNROLL for (int i = 0; i < 8; i++) {
			__m512 x = _mm512_set1_ps(ar[i][k * sk]);
			c[i][0] = _mm512_fmadd_ps(x, b0, c[i][0]);
			if (NV == 2)
				c[i][1] = _mm512_fmadd_ps(x, b1, c[i][1]);
		}
	}
	UNROLL for (int i = 0; i < 8; i++) {
		float *o = C + (size_t)(m0 + i) * ldc + n0;
		if (m0 + i >= M)
			break;
		_mm512_mask_storeu_ps(o, k0, c[i][0]);
		if (NV == 2)
			_mm512_mask_storeu_ps(o + 16, k1, c[i][1]);
	}
}

/* C (M,N) = A B (+ C when acc): A's element (m,k) at a[m*sm + k*sk], B
 * (K,N) and C (M,N) row-major with row strides ldb and ldc.  Panels of
 * 32 columns; a last one of 16 or fewer takes one vector per row. */
T512 static void nn_avx512(float *restrict C, size_t ldc, const float *restrict a,
                           ptrdiff_t sm, ptrdiff_t sk, const float *restrict B, size_t ldb,
                           int M, int N, int K, int acc)
{
	for (int n0 = 0; n0 < N; n0 += 32) {
		__mmask16 k0 = vm_lanes16(N - n0), k1 = vm_lanes16(N - n0 - 16);
		for (int m0 = 0; m0 < M; m0 += 8)
			if (N - n0 > 16)
				nn_tile(C, ldc, a, sm, sk, B, ldb, M, K, acc, m0, n0, k0, k1, 2);
			else
				nn_tile(C, ldc, a, sm, sk, B, ldb, M, K, acc, m0, n0, k0, k1, 1);
	}
}

/* two vectors -> one whose lanes hold pairwise sums of both, for the
 * folding tree below: lanes of x and y interleaved, then added */
T512 static inline __m512 fold32(__m512 x, __m512 y)
{
	return _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y));
}

T512 static inline __m512 fold64(__m512 x, __m512 y)
{
	__m512d xd = _mm512_castps_pd(x), yd = _mm512_castps_pd(y);
	return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(xd, yd)),
	                     _mm512_castpd_ps(_mm512_unpackhi_pd(xd, yd)));
}

/* 128-bit blocks: (x0, y0, x2, y2) + (x1, y1, x3, y3) */
T512 static inline __m512 fold128(__m512 x, __m512 y)
{
	return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xdd));
}

/* C (M,P) += A (M,N) B (P,N)^T, row-major with row strides ldc, lda,
 * ldb. */
T512 static void nt_avx512(float *restrict C, size_t ldc, const float *restrict A,
                           size_t lda, const float *restrict B, size_t ldb, int M, int P,
                           int N)
{
	for (int m0 = 0; m0 < M; m0 += 4)
		for (int p0 = 0; p0 < P; p0 += 4) {
			const float *ar[4], *br[4];
			__m512 v[4][4], s;
			float out[16];
			UNROLL for (int i = 0; i < 4; i++) {
				ar[i] = A + (size_t)(m0 + i < M ? m0 + i : M - 1) * lda;
				br[i] = B + (size_t)(p0 + i < P ? p0 + i : P - 1) * ldb;
				UNROLL for (int j = 0; j < 4; j++)
					v[i][j] = _mm512_setzero_ps();
			}
			for (int n = 0; n < N; n += 16) {
				__mmask16 k = vm_lanes16(N - n);
				__m512 x[4], y[4];
				UNROLL for (int i = 0; i < 4; i++) {
					x[i] = _mm512_maskz_loadu_ps(k, ar[i] + n);
					y[i] = _mm512_maskz_loadu_ps(k, br[i] + n);
				}
				UNROLL for (int i = 0; i < 4; i++)
					UNROLL for (int j = 0; j < 4; j++)
						v[i][j] = _mm512_fmadd_ps(x[i], y[j], v[i][j]);
			}
			/* 16 vectors -> 16 sums: fold32 and fold64 leave, in each
			 * 128-bit block of r[i], the block's sums of v[i][0..3];
			 * the fold128s add the four blocks, rows i into block i,
			 * so lane 4i + j of s is the dot product (i, j) */
			{
				__m512 r[4], q0, q1;
				UNROLL for (int i = 0; i < 4; i++)
					r[i] = fold64(fold32(v[i][0], v[i][1]), fold32(v[i][2], v[i][3]));
				q0 = fold128(r[0], r[1]);
				q1 = fold128(r[2], r[3]);
				s = fold128(q0, q1);
			}
			_mm512_storeu_ps(out, s);
			for (int i = 0; i < 4 && m0 + i < M; i++)
				for (int j = 0; j < 4 && p0 + j < P; j++)
					C[(size_t)(m0 + i) * ldc + p0 + j] += out[4 * i + j];
		}
}

/* ------------------------------------------------------- packed products
 *
 * From PK_MIN multiply-adds on, the operands are first copied into the
 * order the tile reads them: PK_MC rows of A as strips of 8 rows, each
 * strip k-major (the 8 values of step k side by side), and B as panels of
 * 32 columns, k-major, zero past N.  The tile then streams both from
 * consecutive addresses, which the prefetchers follow; read in place, the
 * A rows and B rows of a product whose operands come from memory (a GPT's
 * activations, 0.2-3 MiB per worker) left the tile waiting on loads, up to
 * a third slower than sgemm, which packs too.  The inner dimension goes in
 * blocks of PK_KC: a B panel (32 KiB) stays in L1 across the row strips,
 * and each element's sum carries on from the block before through C,
 * stored and reloaded as floats, so the sums are those of nn_tile to the
 * bit, whichever path a product takes.  The next tile's rows of C are
 * prefetched: its first multiply-adds wait on them otherwise.  The packed
 * rows (PK_MC x PK_KC floats, 256 KiB) and the panel (32 KiB) live on the
 * stack, so the products allocate nothing.  Measured on a GPT step
 * (default OPENBLAS_CORETYPE=Haswell, so these kernels in place of sgemm):
 * 2 threads 21.2 -> 18.3 ms/iter, the same parameter bits. */
#define PK_MIN (1 << 21)
#define PK_KC 256
#define PK_MC 256

/* A tile's share of a struct sl_gemm_epi: pointers at the tile's first
 * row and column, NULL where that step does not apply to this k block
 * (the start values to the first, the rest to the last). */
struct tile_io {
	const float *bias, *x, *mul;
	size_t ldx, ldm;
	float *colsum;
};

/* C (rows <= 8, 16 NV columns under masks k0, k1) (+)= the strip ap (K x 8)
 * times the panel bp (K x 32), or with lda > 0, A's rows read in place
 * from ap (row stride lda; rows past the last repeat it); with io, the
 * sums start at x + bias (either may be NULL) unless acc, and the results
 * are multiplied by mul and added to colsum, a row at a time, as a
 * separate pass over C would. */
T512 static inline __attribute__((always_inline)) void
pk_tile(float *restrict C, size_t ldc, const float *restrict ap, size_t lda, size_t sk,
        const float *restrict bp, int K, int acc, int rows, __mmask16 k0, __mmask16 k1,
        const int NV, const struct tile_io *io)
{
	__m512 c[8][2];
	const float *ar[8];

	UNROLL for (int i = 0; i < 8; i++) {
		c[i][0] = c[i][1] = _mm512_setzero_ps();
		if (acc && i < rows) {
			c[i][0] = _mm512_maskz_loadu_ps(k0, C + (size_t)i * ldc);
			if (NV == 2)
				c[i][1] = _mm512_maskz_loadu_ps(k1, C + (size_t)i * ldc + 16);
		}
	}
	if (io && !acc && (io->bias || io->x)) {
		__m512 b0 = _mm512_setzero_ps(), b1 = b0;
		if (io->bias) {
			b0 = _mm512_maskz_loadu_ps(k0, io->bias);
			if (NV == 2)
				b1 = _mm512_maskz_loadu_ps(k1, io->bias + 16);
		}
		UNROLL for (int i = 0; i < 8; i++) {
			c[i][0] = b0;
			c[i][1] = b1;
			if (io->x && i < rows) {
				const float *x = io->x + (size_t)i * io->ldx;
				c[i][0] = _mm512_maskz_loadu_ps(k0, x);
				if (NV == 2)
					c[i][1] = _mm512_maskz_loadu_ps(k1, x + 16);
				if (io->bias) { /* x + bias, the one rounding a filled C had */
					c[i][0] = _mm512_add_ps(c[i][0], b0);
					c[i][1] = _mm512_add_ps(c[i][1], b1);
				}
			}
		}
	}
	if (lda) {
		UNROLL for (int i = 0; i < 8; i++)
			ar[i] = ap + (size_t)(i < rows ? i : rows - 1) * lda;
		for (int k = 0; k < K; k++) {
			__m512 b0 = _mm512_load_ps(bp + (size_t)k * 32), b1 = b0;
			if (NV == 2)
				b1 = _mm512_load_ps(bp + (size_t)k * 32 + 16);
			UNROLL for (int i = 0; i < 8; i++) {
				__m512 x = _mm512_set1_ps(ar[i][(size_t)k * sk]);
				c[i][0] = _mm512_fmadd_ps(x, b0, c[i][0]);
				if (NV == 2)
					c[i][1] = _mm512_fmadd_ps(x, b1, c[i][1]);
			}
		}
	} else {
		for (int k = 0; k < K; k++) {
			__m512 b0 = _mm512_load_ps(bp + (size_t)k * 32), b1 = b0;
			if (NV == 2)
				b1 = _mm512_load_ps(bp + (size_t)k * 32 + 16);
			UNROLL for (int i = 0; i < 8; i++) {
				__m512 x = _mm512_set1_ps(ap[(size_t)k * 8 + i]);
				c[i][0] = _mm512_fmadd_ps(x, b0, c[i][0]);
				if (NV == 2)
					c[i][1] = _mm512_fmadd_ps(x, b1, c[i][1]);
			}
		}
	}
	if (io && io->mul)
		UNROLL for (int i = 0; i < 8; i++) {
			const float *m = io->mul + (size_t)i * io->ldm;
			if (i >= rows)
				break;
			c[i][0] = _mm512_mul_ps(c[i][0], _mm512_maskz_loadu_ps(k0, m));
			if (NV == 2)
				c[i][1] = _mm512_mul_ps(c[i][1], _mm512_maskz_loadu_ps(k1, m + 16));
		}
	UNROLL for (int i = 0; i < 8; i++) {
		if (i >= rows)
			break;
		_mm512_mask_storeu_ps(C + (size_t)i * ldc, k0, c[i][0]);
		if (NV == 2)
			_mm512_mask_storeu_ps(C + (size_t)i * ldc + 16, k1, c[i][1]);
	}
	if (io && io->colsum) {
		__m512 s0 = _mm512_maskz_loadu_ps(k0, io->colsum), s1 = s0;
		if (NV == 2)
			s1 = _mm512_maskz_loadu_ps(k1, io->colsum + 16);
		UNROLL for (int i = 0; i < 8; i++) {
			if (i >= rows)
				break;
			s0 = _mm512_add_ps(s0, c[i][0]);
			if (NV == 2)
				s1 = _mm512_add_ps(s1, c[i][1]);
		}
		_mm512_mask_storeu_ps(io->colsum, k0, s0);
		if (NV == 2)
			_mm512_mask_storeu_ps(io->colsum + 16, k1, s1);
	}
}

/* dst[k*W + j] = src[j*ld + k] for j < n, zero for n <= j < W; k < kc.
 * W is 8 (a strip of A read along its rows) or 32 (a panel of B stored
 * transposed); 8 x 8 blocks go through registers. */
T512 static void pack_rows(float *restrict dst, int W, const float *restrict src, size_t ld,
                           int n, int kc)
{
	for (int jb = 0; jb < W; jb += 8) {
		int k = 0;
		if (jb + 8 <= n)
			for (; k + 8 <= kc; k += 8) {
				__m256 r[8];
				UNROLL for (int j = 0; j < 8; j++)
					r[j] = _mm256_loadu_ps(src + (size_t)(jb + j) * ld + k);
				vm_tr8x8(r);
				UNROLL for (int j = 0; j < 8; j++)
					_mm256_store_ps(dst + (size_t)(k + j) * W + jb, r[j]);
			}
		for (; k < kc; k++)
			for (int j = jb; j < jb + 8; j++)
				dst[(size_t)k * W + j] = j < n ? src[(size_t)j * ld + k] : 0.0f;
	}
}

/* dst[k*W + j] = src[k*ld + j] for j < n, zero for n <= j < W; k < kc:
 * W = 8 (a strip of A stored transposed) or 32 (a panel of B as is) */
T512 static void pack_cols(float *restrict dst, int W, const float *restrict src, size_t ld,
                           int n, int kc)
{
	__mmask16 m0 = vm_lanes16(n < W ? n : W), m1 = vm_lanes16(n - 16);

	for (int k = 0; k < kc; k++) {
		__m512 x = _mm512_maskz_loadu_ps(m0, src + (size_t)k * ld);
		if (W == 8) {
			_mm256_store_ps(dst + (size_t)k * 8, _mm512_castps512_ps256(x));
			continue;
		}
		_mm512_store_ps(dst + (size_t)k * 32, x);
		_mm512_store_ps(dst + (size_t)k * 32 + 16,
		                _mm512_maskz_loadu_ps(m1, src + (size_t)k * ld + 16));
	}
}

/* The panel of B at rows k0.. (kc) and columns n0.. (w <= 32), B's (k,n)
 * at b[k*sbk + n*sbn] with sbk or sbn 1: the one packing of B that
 * nn_packed and sl_gemm_pack_b share, so their tiles read the same. */
T512 static void pack_panel(float *restrict dst, const float *b, ptrdiff_t sbk, ptrdiff_t sbn,
                            int k0, int n0, int w, int kc)
{
	const float *s = b + (ptrdiff_t)k0 * sbk + (ptrdiff_t)n0 * sbn;

	if (sbk == 1)
		pack_rows(dst, 32, s, (size_t)sbn, w, kc);
	else
		pack_cols(dst, 32, s, (size_t)sbk, w, kc);
}

/* C (M,N) (+)= A B by packed strips and panels: A's element (m,k) at
 * a[m*sam + k*sak], B's (k,n) at b[k*sbk + n*sbn], with sak or sam 1 and
 * sbn or sbk 1; C row-major with row stride ldc. */
T512 static void nn_packed(float *restrict C, size_t ldc, const float *a, ptrdiff_t sam,
                           ptrdiff_t sak, const float *b, ptrdiff_t sbk, ptrdiff_t sbn, int M,
                           int N, int K, int acc)
{
	float ap[PK_MC * PK_KC] __attribute__((aligned(64)));
	float bp[32 * PK_KC] __attribute__((aligned(64)));

	for (int k0 = 0; k0 < K; k0 += PK_KC) {
		int kc = K - k0 < PK_KC ? K - k0 : PK_KC, ac = acc || k0 > 0;
		for (int m0 = 0; m0 < M; m0 += PK_MC) {
			int mc = M - m0 < PK_MC ? M - m0 : PK_MC, nt = (mc + 7) / 8;
			for (int t = 0; t < nt; t++) {
				int rows = mc - 8 * t < 8 ? mc - 8 * t : 8;
				const float *s = a + (ptrdiff_t)(m0 + 8 * t) * sam + (ptrdiff_t)k0 * sak;
				if (sak == 1)
					pack_rows(ap + (size_t)t * 8 * kc, 8, s, (size_t)sam, rows, kc);
				else
					pack_cols(ap + (size_t)t * 8 * kc, 8, s, (size_t)sak, rows, kc);
			}
			for (int n0 = 0; n0 < N; n0 += 32) {
				int w = N - n0 < 32 ? N - n0 : 32;
				__mmask16 k0m = vm_lanes16(w), k1m = vm_lanes16(w - 16);
				pack_panel(bp, b, sbk, sbn, k0, n0, w, kc);
				for (int t = 0; t < nt; t++) {
					int rows = mc - 8 * t < 8 ? mc - 8 * t : 8;
					float *c = C + (size_t)(m0 + 8 * t) * ldc + n0;
					if (ac && t + 1 < nt)
						UNROLL for (int i = 0; i < 8; i++) {
							/* rows past mc: its last, not past the end */
							int m = 8 + i < mc - 8 * t ? 8 + i : mc - 8 * t - 1;
							_mm_prefetch((const char *)(c + (size_t)m * ldc),
							             _MM_HINT_T0);
							_mm_prefetch((const char *)(c + (size_t)m * ldc + 16),
							             _MM_HINT_T0);
						}
					if (w > 16)
						pk_tile(c, ldc, ap + (size_t)t * 8 * kc, 0, 0, bp, kc, ac, rows,
						        k0m, k1m, 2, NULL);
					else
						pk_tile(c, ldc, ap + (size_t)t * 8 * kc, 0, 0, bp, kc, ac, rows,
						        k0m, k1m, 1, NULL);
				}
			}
		}
	}
}

/* The first 32 floats of rows 0..n-1 (n <= 8) of p, into L1. */
T512 static inline __attribute__((always_inline)) void
prefetch_rows(const float *p, size_t ld, int n)
{
	for (int i = 0; i < n; i++) {
		_mm_prefetch((const char *)(p + (size_t)i * ld), _MM_HINT_T0);
		_mm_prefetch((const char *)(p + (size_t)i * ld + 16), _MM_HINT_T0);
	}
}

/* C (M,N) = A B from B packed by sl_gemm_pack_b, A row-major with row
 * stride lda, e's passes on the tiles.  Strips of 8 rows go in order,
 * each over all of C's columns before the next: B (a layer's weights,
 * 64-256 KiB) stays in L2 while C and e's operands, which come from
 * memory, are walked a row block at a time, as the prefetchers like.
 * A's 8 rows are read in place: they were just written (a layer norm's
 * or GELU's output, a gradient) and the strip's first panel brings them
 * into L1 for the rest; packing them cost more (2.6% of a GPT step at 2
 * threads) than the broadcasts from 8 rows do.
 * nn_packed's order (one panel of B over every strip, which keeps a
 * panel packed per product in L1) reads C, x and mul as 128-byte pieces
 * of many rows: in a GPT step that order made these products slower
 * than sgemm's, this one faster.  Each element's sum is nn_packed's, k
 * block after k block, so the bits are sl_gemm_nn's. */
T512 static void nn_bpacked(float *restrict C, size_t ldc, const float *a, size_t sam,
                            size_t sak, const float *bpre, int M, int N, int K, int acc,
                            const struct sl_gemm_epi *e)
{
	size_t np = sl_gemm_pack_b_size(1, N);
	/* columns per group: a group's B (K x nb) is 256 KiB at most */
	int nb = (int)(((size_t)65536 / (size_t)K) & ~(size_t)31);

	nb = nb < 32 ? 32 : nb;
	for (int g0 = 0; g0 < N; g0 += nb)
	for (int m0 = 0; m0 < M; m0 += 8) {
		int rows = M - m0 < 8 ? M - m0 : 8, g1 = N - g0 < nb ? N : g0 + nb;
		for (int k0 = 0; k0 < K; k0 += PK_KC) {
			int kc = K - k0 < PK_KC ? K - k0 : PK_KC;
			const float *ap = a + (size_t)m0 * sam + (size_t)k0 * sak;
			for (int n0 = g0; n0 < g1; n0 += 32) {
				int w = N - n0 < 32 ? N - n0 : 32;
				__mmask16 k0m = vm_lanes16(w), k1m = vm_lanes16(w - 16);
				const float *pan = bpre + (size_t)k0 * np + (size_t)n0 * (size_t)kc;
				float *c = C + (size_t)m0 * ldc + n0;
				struct tile_io io = {0}, *iop = NULL;
				if (e && k0 == 0 && !acc) {
					io.bias = e->bias ? e->bias + n0 : NULL;
					io.x = e->x ? e->x + (size_t)m0 * (size_t)e->ldx + n0 : NULL;
					io.ldx = (size_t)e->ldx;
					iop = &io;
				}
				if (e && k0 + kc >= K) {
					io.mul = e->mul ? e->mul + (size_t)m0 * (size_t)e->ldm + n0 : NULL;
					io.ldm = (size_t)e->ldm;
					io.colsum = e->colsum ? e->colsum + n0 : NULL;
					iop = &io;
				}
				/* the next tile's rows of C and of e's operands: its
				 * first and last steps wait on them otherwise */
				{
					int nn = n0 + 32 < g1 ? n0 + 32 : g0, nm = nn != g0 ? m0 : m0 + 8;
					int nr = M - nm < 8 ? M - nm : 8;
					if (nr > 0) {
						prefetch_rows(C + (size_t)nm * ldc + nn, ldc, nr);
						if (e && e->x && k0 == 0)
							prefetch_rows(e->x + (size_t)nm * (size_t)e->ldx + nn,
							              (size_t)e->ldx, nr);
						if (e && e->mul && k0 + kc >= K)
							prefetch_rows(e->mul + (size_t)nm * (size_t)e->ldm + nn,
							              (size_t)e->ldm, nr);
					}
				}
				if (w > 16)
					pk_tile(c, ldc, ap, sam, sak, pan, kc, acc || k0 > 0, rows, k0m, k1m, 2,
					        iop);
				else
					pk_tile(c, ldc, ap, sam, sak, pan, kc, acc || k0 > 0, rows, k0m, k1m, 1,
					        iop);
			}
		}
	}
}

/* whether sl_gemm_nn packs a product of this size */
static int packs(int M, int N, int K)
{
	return K > 0 && (double)M * N * K >= PK_MIN;
}
#endif

void sl_gemm_nn(float *c, int ldc, const float *a, int lda, enum sl_trans ta,
                const float *b, int ldb, int M, int N, int K, int acc)
{
	SL_ASSERT(M >= 0 && N >= 0 && K >= 0);
	if (M == 0 || N == 0)
		return;
#if VM_X86
	if (vm_avx512()) { /* A's element (m,k) at a[m*sm + k*sk] */
		ptrdiff_t sm = ta == SL_TRANS_N ? lda : 1, sk = ta == SL_TRANS_N ? 1 : lda;
		if (packs(M, N, K))
			nn_packed(c, (size_t)ldc, a, sm, sk, b, ldb, 1, M, N, K, acc);
		else
			nn_avx512(c, (size_t)ldc, a, sm, sk, b, (size_t)ldb, M, N, K, acc);
		return;
	}
#endif
	sl_matmul_ld(c, ldc, a, lda, b, ldb, ta, SL_TRANS_N, M, N, K, 1.0f,
	             acc ? 1.0f : 0.0f);
}

void sl_gemm_nt_add(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                    int M, int N, int K)
{
	SL_ASSERT(M >= 0 && N >= 0 && K >= 0);
	if (M == 0 || N == 0)
		return;
#if VM_X86
	if (vm_avx512()) {
		nt_avx512(c, (size_t)ldc, a, (size_t)lda, b, (size_t)ldb, M, N, K);
		return;
	}
#endif
	sl_matmul_ld(c, ldc, a, lda, b, ldb, SL_TRANS_N, SL_TRANS_T, M, N, K, 1.0f, 1.0f);
}

void sl_gemm_nt_panels(float *c, int ldc, const float *a, int lda, const float *b,
                       int ldb, int M, int N, int K, int acc)
{
	SL_ASSERT(M >= 0 && N >= 0 && K >= 0);
	if (M == 0 || N == 0)
		return;
#if VM_X86
	/* B^T's panels have to be transposed in any case, so it always packs:
	 * one order of sums for every shape */
	if (vm_avx512()) {
		nn_packed(c, (size_t)ldc, a, lda, 1, b, 1, ldb, M, N, K, acc);
		return;
	}
#endif
	sl_matmul_ld(c, ldc, a, lda, b, ldb, SL_TRANS_N, SL_TRANS_T, M, N, K, 1.0f,
	             acc ? 1.0f : 0.0f);
}

static int prepack_off;

void sl_gemm_prepack_off(int off)
{
	prepack_off = off;
}

int sl_gemm_prepacks(void)
{
#if VM_X86
	return vm_avx512() && !prepack_off;
#else
	return 0;
#endif
}

size_t sl_gemm_pack_b_size(int K, int N)
{
	return (size_t)K * (size_t)((N + 31) & ~31);
}

void sl_gemm_pack_b(float *bp, const float *b, int ldb, enum sl_trans tb, int K, int N)
{
	SL_ASSERT(K >= 0 && N >= 0 && sl_gemm_prepacks() && ((uintptr_t)bp & 63) == 0);
#if VM_X86
	size_t np = sl_gemm_pack_b_size(1, N);
	ptrdiff_t sbk = tb == SL_TRANS_T ? 1 : ldb, sbn = tb == SL_TRANS_T ? ldb : 1;

	for (int k0 = 0; k0 < K; k0 += PK_KC) {
		int kc = K - k0 < PK_KC ? K - k0 : PK_KC;
		for (int n0 = 0; n0 < N; n0 += 32)
			pack_panel(bp + (size_t)k0 * np + (size_t)n0 * (size_t)kc, b, sbk, sbn, k0, n0,
			           N - n0 < 32 ? N - n0 : 32, kc);
	}
#else
	(void)bp, (void)b, (void)ldb, (void)tb;
#endif
}

void sl_gemm_packed(float *c, int ldc, const float *a, int lda, const float *bp, int M,
                    int N, int K, const struct sl_gemm_epi *e)
{
	/* K > 0: the start values and passes ride on the k blocks */
	SL_ASSERT(M >= 0 && N >= 0 && K > 0 && sl_gemm_prepacks());
	if (M == 0 || N == 0)
		return;
#if VM_X86
	nn_bpacked(c, (size_t)ldc, a, (size_t)lda, 1, bp, M, N, K, 0, e);
#else
	(void)c, (void)ldc, (void)a, (void)lda, (void)bp, (void)e;
#endif
}

void sl_gemm_tn_packing(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                        int M, int N, int K, int acc, float *bp)
{
	SL_ASSERT(M >= 0 && N >= 0 && K > 0 && sl_gemm_prepacks());
	if (M == 0 || N == 0)
		return;
#if VM_X86
	sl_gemm_pack_b(bp, b, ldb, SL_TRANS_N, K, N);
	nn_bpacked(c, (size_t)ldc, a, 1, (size_t)lda, bp, M, N, K, acc, NULL);
#else
	(void)c, (void)ldc, (void)a, (void)lda, (void)b, (void)ldb, (void)acc, (void)bp;
#endif
}

int sl_gemm_beats_blas(void)
{
	return vm_avx512() && !sl_blas_wide();
}
