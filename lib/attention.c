/*
 * attention.c - causal multi-head self-attention, forward and backward.
 *
 * The input is the fused query/key/value projection qkv (B,T,3C): for
 * token t, q = qkv[t][0:C], k = qkv[t][C:2C], v = qkv[t][2C:3C], each split
 * into NH heads of hs = C/NH values.  For every (b, head):
 *
 *     preatt = q k^T / sqrt(hs)           (T,T), only j <= t is used
 *     att    = softmax over j <= t         (T,T), zero above the diagonal
 *     out    = att v                       (T,hs), into out[b][t][h*hs..]
 *
 * Two ways to the same sums, chosen by shape and CPU (use_kernel):
 *  - "the causal kernel", which does only the causal work, j <= t, half
 *    the products, holding a head's rows in cache and its tiles in
 *    registers, the scale and softmax fused into the scores' pass; for
 *    head sizes 16 and 32 with T <= 256 on CPUs with AVX-512 (GCC on
 *    x86-64), where it is the faster.  It is written twice: as plain loops
 *    (below), which only sanitizer builds run, and as AVX-512 intrinsics
 *    with the same sums in the same order ("for AVX-512"), which every
 *    other build runs;
 *  - sgemm on strided views of qkv (one head is a (T,hs) matrix with row
 *    stride 3C), nothing copied, full T x T products, and the softmax as a
 *    pass of its own; for everything else.
 * att is kept for the backward; preatt is not needed (the softmax
 * backward reads att).  The backward accumulates into dqkv, like every
 * other layer.  (Writing it instead, by beta = 0 in the GEMMs, saves the
 * caller's memset but not the time: OpenBLAS then zeroes each head's
 * strided block itself; measured on a GPT step, its zeroing rose from
 * 0.2% to 0.7% of the step while memset fell by 0.1%.)
 *
 * NaN: on the kernel's path a NaN reaches what depends on it causally and
 * nothing else (a NaN in token s's query, key or value makes NaN the rows
 * t >= s of out and att, and in the backward dq, dk and dv of the tokens
 * it reaches).  The GEMM path multiplies the zeros above the diagonal
 * too, so there a NaN value (or, in the backward, a NaN query) also
 * reaches earlier rows, as it always did.  Both do each (b, head) in one
 * fixed order, so a caller that splits the batch over threads gets the
 * same bits whatever their number.
 *
 * The softmax loops are lib/vmath.h kernels: the row max by integer keys
 * (exact, and a max GCC vectorises), e^x by vm_exp (relative error under
 * 1e-7) with exponents below -87 taken as -87 (e^-87 is 2e-38: against
 * the row's largest term, 1, nothing), sums in lanes, so each row is a
 * few vector instructions wide and the same bits every run.  A NaN score
 * makes its row NaN, as it did with expf.
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

/* a (T,T): row t = softmax(row t [0..t]), zero after t */
VM_INLINE void causal_softmax_body(int fused, float *a, int T)
{
	for (int t = 0; t < T; t++) {
		float *row = a + (size_t)t * T, acc[VM_LANES] = {0}, mx, sum;
		uint32_t kmax = 0;
		int j;

		for (j = 0; j <= t; j++) {
			uint32_t k = vm_key(row[j]);
			kmax = k > kmax ? k : kmax;
		}
		mx = vm_unkey(kmax);
		for (j = 0; j <= t; j++) {
			float x = row[j] - mx;
			/* a float select, which GCC does vectorise here; NaN stays */
			x = x < -87.0f ? -87.0f : x;
			row[j] = vm_exp(x, fused);
		}
		for (j = 0; j + VM_LANES <= t + 1; j += VM_LANES)
			for (int k = 0; k < VM_LANES; k++)
				acc[k] += row[j + k];
		for (; j <= t; j++)
			acc[j % VM_LANES] += row[j];
		sum = vm_lanes_total(acc);
		for (j = 0; j <= t; j++)
			row[j] /= sum;
		for (j = t + 1; j < T; j++)
			row[j] = 0;
	}
}

VM_KERNEL(causal_softmax, (float *a, int T), a, T)

/* The softmax backward, row by row: da = a * (da - sum(a * da)) over
 * [0..t], zero after t. */
VM_INLINE void causal_softmax_bwd_body(int fused, float *da, const float *a, int T)
{
	for (int t = 0; t < T; t++) {
		const float *ar = a + (size_t)t * T;
		float *dr = da + (size_t)t * T, acc[VM_LANES] = {0}, dot;
		int j;

		for (j = 0; j + VM_LANES <= t + 1; j += VM_LANES)
			for (int k = 0; k < VM_LANES; k++)
				acc[k] = vm_madd(ar[j + k], dr[j + k], acc[k], fused);
		for (; j <= t; j++)
			acc[j % VM_LANES] = vm_madd(ar[j], dr[j], acc[j % VM_LANES], fused);
		dot = vm_lanes_total(acc);
		for (j = 0; j <= t; j++)
			dr[j] = ar[j] * (dr[j] - dot);
		for (j = t + 1; j < T; j++)
			dr[j] = 0;
	}
}

VM_KERNEL(causal_softmax_bwd, (float *da, const float *a, int T), da, a, T)

/* ------------------------------------------------ the causal kernel */

/* The kernel works on AT_R query rows at a time.  Their scores against
 * keys 0..t go by AT_W-column blocks (one AVX-512 vector) into a row
 * buffer, each AT_R x AT_W block's sums held in registers through the hs
 * steps (the row loops carry "#pragma GCC unroll", which GCC needs to
 * keep them there); the keys are first transposed, so that a block is
 * q[t][i] times a contiguous piece of row i.  A block may reach past t:
 * those columns are computed, then masked by index (so a NaN key after t
 * reaches no row before it).  The softmax runs over whole blocks, as
 * vectors with no scalar tail, and att v goes AT_M rows at a time, over
 * j <= t only.  The backward is the same with dy for q and v for k, then
 * the column sums dv += att^T dy and dk += dpre^T q, AT_M columns at a
 * time over t >= j. */
#define AT_W VM_LANES
#define AT_R 8
#define AT_M 8
#define AT_MAXHS 32
#define AT_MAXT 256 /* the longest T the kernel takes (use_kernel) */

/* yt (hs,Tp) = y (T,hs; row stride ld) transposed, columns T..Tp zero.
 * Blocks of 8 x 8 through a buffer: rows of y read as whole vectors, and
 * rows of yt written as whole vectors. */
VM_INLINE void at_transpose(float *yt, const float *y, int ld, int T, int Tp, int hs)
{
	int j = 0;

	for (; j + 8 <= T && hs % 8 == 0; j += 8)
		for (int i = 0; i < hs; i += 8) {
			float b[8][8];
			for (int r = 0; r < 8; r++)
				for (int c = 0; c < 8; c++)
					b[c][r] = y[(size_t)(j + r) * ld + i + c];
			for (int c = 0; c < 8; c++)
				for (int r = 0; r < 8; r++)
					yt[(size_t)(i + c) * Tp + j + r] = b[c][r];
		}
	for (int i = 0; i < hs; i++) {
		for (int jj = j; jj < T; jj++)
			yt[(size_t)i * Tp + jj] = y[(size_t)jj * ld + i];
		for (int jj = T; jj < Tp; jj++)
			yt[(size_t)i * Tp + jj] = 0;
	}
}

/* s[r][0..ncols rounded up to AT_W) = alpha * x[t0 + r] . y[j], r < nr
 * (s row stride Tp); yt = y transposed (hs,Tp) */
VM_INLINE void at_scores(int fused, float *s, const float *x, int ldx, const float *yt,
                         int Tp, int t0, int nr, int ncols, int hs, float alpha)
{
	x += (size_t)t0 * ldx;
	for (int jb = 0; jb < ncols; jb += AT_W) {
		if (nr == AT_R) {
			float acc[AT_R][AT_W] = {{0}};
			for (int i = 0; i < hs; i++) {
				const float *yr = yt + (size_t)i * Tp + jb;
#pragma GCC unroll 8
				for (int r = 0; r < AT_R; r++) {
					float xv = x[(size_t)r * ldx + i];
					for (int l = 0; l < AT_W; l++)
						acc[r][l] = vm_madd(xv, yr[l], acc[r][l], fused);
				}
			}
#pragma GCC unroll 8
			for (int r = 0; r < AT_R; r++)
				for (int l = 0; l < AT_W; l++)
					s[(size_t)r * Tp + jb + l] = alpha * acc[r][l];
			continue;
		}
		for (int r = 0; r < nr; r++) {
			float acc[AT_W] = {0};
			for (int i = 0; i < hs; i++) {
				const float *yr = yt + (size_t)i * Tp + jb;
				float xv = x[(size_t)r * ldx + i];
				for (int l = 0; l < AT_W; l++)
					acc[l] = vm_madd(xv, yr[l], acc[l], fused);
			}
			for (int l = 0; l < AT_W; l++)
				s[(size_t)r * Tp + jb + l] = alpha * acc[l];
		}
	}
}

/* rows a[t0 + r][0..T), r < nr = softmax of s[r][0..t0 + r], zero after;
 * s (nr,Tp) holds whole blocks.  The same steps and sums as
 * causal_softmax, the tail masked by index, each step over all the rows
 * before the next (their chains overlap). */
VM_INLINE void at_softmax_rows(int fused, float *a, float *s, int t0, int nr, int T, int Tp)
{
	float mx[AT_R], sum[AT_R];

	for (int r = 0; r < nr; r++) {
		const float *sr = s + (size_t)r * Tp;
		int n = t0 + r + 1, nb = (n + AT_W - 1) / AT_W * AT_W;
		uint32_t kmax = 0;
		for (int j = 0; j < nb; j++) {
			/* zero (below every key) past n: a mask, which vectorises */
			uint32_t k = vm_key(sr[j]) & (0u - (uint32_t)(j < n));
			kmax = k > kmax ? k : kmax;
		}
		mx[r] = vm_unkey(kmax);
	}
	for (int r = 0; r < nr; r++) {
		float *sr = s + (size_t)r * Tp, acc[AT_W] = {0}, m = mx[r];
		int n = t0 + r + 1;
		for (int jb = 0; jb < n; jb += AT_W)
			for (int l = 0; l < AT_W; l++) {
				float x = sr[jb + l] - m, e;
				/* a float select, which GCC does vectorise here; NaN stays */
				x = x < -87.0f ? -87.0f : x;
				e = vm_exp(x, fused);
				e = jb + l < n ? e : 0.0f;
				sr[jb + l] = e;
				acc[l] += e;
			}
		sum[r] = vm_lanes_total(acc);
	}
	for (int r = 0; r < nr; r++) {
		float *arow = a + (size_t)(t0 + r) * T, *sr = s + (size_t)r * Tp, d = sum[r];
		int n = t0 + r + 1;
		for (int j = 0; j < T; j++)
			arow[j] = j < n ? sr[j] / d : 0.0f;
	}
}

/* dr[0..T) = a * (s - sum(a * s)) over [0..n), zero from n, as
 * causal_softmax_bwd; s (datt) holds whole blocks, a = ar[0..T). */
VM_INLINE void at_softmax_bwd_row(int fused, float *dr, const float *ar, const float *s,
                                  int n, int T)
{
	float acc[AT_W] = {0}, dot;
	int jb = 0;

	for (; jb + AT_W <= n; jb += AT_W)
		for (int l = 0; l < AT_W; l++)
			acc[l] = vm_madd(ar[jb + l], s[jb + l], acc[l], fused);
	if (jb < n && jb + AT_W <= T) {
		for (int l = 0; l < AT_W; l++) {
			float a = jb + l < n ? ar[jb + l] : 0.0f, d = jb + l < n ? s[jb + l] : 0.0f;
			acc[l] = vm_madd(a, d, acc[l], fused);
		}
	} else {
		for (int j = jb; j < n; j++)
			acc[j - jb] = vm_madd(ar[j], s[j], acc[j - jb], fused);
	}
	dot = vm_lanes_total(acc);
	for (int j = 0; j < T; j++)
		dr[j] = j < n ? ar[j] * (s[j] - dot) : 0.0f;
}

/* How the mixes store a sum x: AT_SET writes it, AT_ADD adds alpha x to
 * the old value, AT_SCALE writes alpha x as AT_ADD would onto a zero (the
 * same multiply-add, so the same bits as adding into a cleared array). */
enum { AT_SET, AT_ADD, AT_SCALE };
#define AT_OUT(mode, alpha, x, old)                                                \
	((mode) == AT_SET ? (x) : vm_madd((alpha), (x), (mode) == AT_ADD ? (old) : 0.0f, fused))

/* A tile's AT_M rows of sums into o's rows t0.. (row stride ldo), as
 * accum says. */
VM_INLINE void at_store_tile(int fused, float *o, int ldo, int t0, int accum, float alpha,
                             float acc[AT_M][AT_MAXHS], int hs)
{
#pragma GCC unroll 8
	for (int r = 0; r < AT_M; r++) {
		float *or = o + (size_t)(t0 + r) * ldo;
		for (int i = 0; i < hs; i++)
			or[i] = AT_OUT(accum, alpha, acc[r][i], or[i]);
	}
}

/* o[t] (+)= alpha * sum over j <= t of P[t][j] y[j], t in [t0,t1): P
 * (T,T), y (T,hs) row stride ldy, o row stride ldo; stored as accum says
 * (AT_OUT).  Only P's lower triangle and y's rows up to t reach o[t]. */
VM_INLINE void at_mix(int fused, float *o, int ldo, int accum, float alpha, const float *P,
                      int T, const float *y, int ldy, int t0, int t1, int hs)
{
	int t = t0;

	for (; t + AT_M <= t1; t += AT_M) {
		float acc[AT_M][AT_MAXHS] = {{0}};
		const float *pr = P + (size_t)t * T;
		/* columns 0..t: every row of the tile */
		for (int j = 0; j <= t; j++) {
			const float *yr = y + (size_t)j * ldy;
#pragma GCC unroll 8
			for (int r = 0; r < AT_M; r++) {
				float p = pr[(size_t)r * T + j];
				for (int i = 0; i < hs; i++)
					acc[r][i] = vm_madd(p, yr[i], acc[r][i], fused);
			}
		}
		/* column t + d: rows d.. of the tile */
#pragma GCC unroll 8
		for (int d = 1; d < AT_M; d++) {
			const float *yr = y + (size_t)(t + d) * ldy;
#pragma GCC unroll 8
			for (int r = d; r < AT_M; r++) {
				float p = pr[(size_t)r * T + t + d];
				for (int i = 0; i < hs; i++)
					acc[r][i] = vm_madd(p, yr[i], acc[r][i], fused);
			}
		}
		at_store_tile(fused, o, ldo, t, accum, alpha, acc, hs);
	}
	for (; t < t1; t++) {
		float acc[AT_MAXHS] = {0}, *or = o + (size_t)t * ldo;
		for (int j = 0; j <= t; j++) {
			const float *yr = y + (size_t)j * ldy;
			float p = P[(size_t)t * T + j];
			for (int i = 0; i < hs; i++)
				acc[i] = vm_madd(p, yr[i], acc[i], fused);
		}
		for (int i = 0; i < hs; i++)
			or[i] = AT_OUT(accum, alpha, acc[i], or[i]);
	}
}

/* o[j] (+)= alpha * sum over t >= j of P[t][j] y[t], the transposed mix:
 * P's lower triangle only; stored as accum says (AT_ADD or AT_SCALE). */
VM_INLINE void at_mixt(int fused, float *o, int ldo, int accum, float alpha, const float *P,
                       const float *y, int ldy, int T, int hs)
{
	int j = 0;

	for (; j + AT_M <= T; j += AT_M) {
		float acc[AT_M][AT_MAXHS] = {{0}};
		const float *pc = P + j;
		/* row j + d, d < AT_M - 1: columns ..d of the tile */
#pragma GCC unroll 8
		for (int d = 0; d < AT_M - 1; d++) {
			const float *yr = y + (size_t)(j + d) * ldy;
#pragma GCC unroll 8
			for (int r = 0; r <= d; r++) {
				float p = pc[(size_t)(j + d) * T + r];
				for (int i = 0; i < hs; i++)
					acc[r][i] = vm_madd(p, yr[i], acc[r][i], fused);
			}
		}
		/* rows j + AT_M - 1 on: every column of the tile */
		for (int t = j + AT_M - 1; t < T; t++) {
			const float *yr = y + (size_t)t * ldy;
#pragma GCC unroll 8
			for (int r = 0; r < AT_M; r++) {
				float p = pc[(size_t)t * T + r];
				for (int i = 0; i < hs; i++)
					acc[r][i] = vm_madd(p, yr[i], acc[r][i], fused);
			}
		}
		at_store_tile(fused, o, ldo, j, accum, alpha, acc, hs);
	}
	for (; j < T; j++) {
		float acc[AT_MAXHS] = {0}, *or = o + (size_t)j * ldo;
		for (int t = j; t < T; t++) {
			const float *yr = y + (size_t)t * ldy;
			float p = P[(size_t)t * T + j];
			for (int i = 0; i < hs; i++)
				acc[i] = vm_madd(p, yr[i], acc[i], fused);
		}
		for (int i = 0; i < hs; i++)
			or[i] = AT_OUT(accum, alpha, acc[i], or[i]);
	}
}

/* One head: q, k, v (T,hs) with row stride ld, out (T,hs) with row
 * stride ldo, a (T,T); kt (hs,Tp) and s (AT_R,Tp) scratch. */
VM_INLINE void at_head_fwd(int fused, float *out, int ldo, float *a, const float *q,
                           const float *k, const float *v, int ld, int T, int hs,
                           float scale, float *kt, float *s)
{
	int Tp = (T + AT_W - 1) / AT_W * AT_W;

	at_transpose(kt, k, ld, T, Tp, hs);
	for (int t0 = 0; t0 < T; t0 += AT_R) {
		int nr = T - t0 < AT_R ? T - t0 : AT_R;
		at_scores(fused, s, q, ld, kt, Tp, t0, nr, t0 + nr, hs, scale);
		at_softmax_rows(fused, a, s, t0, nr, T, Tp);
		at_mix(fused, out, ldo, AT_SET, 1.0f, a, T, v, ld, t0, t0 + nr, hs);
	}
}

VM_INLINE void at_head_bwd(int fused, int mode, float *dq, float *dk, float *dv, float *dp,
                           const float *dy, int ldo, const float *a, const float *q,
                           const float *k, const float *v, int ld, int T, int hs,
                           float scale, float *vt, float *s)
{
	int Tp = (T + AT_W - 1) / AT_W * AT_W;

	at_transpose(vt, v, ld, T, Tp, hs);
	for (int t0 = 0; t0 < T; t0 += AT_R) {
		int nr = T - t0 < AT_R ? T - t0 : AT_R;
		/* datt = dy v^T, its softmax backward dpre, dq += scale dpre k */
		at_scores(fused, s, dy, ldo, vt, Tp, t0, nr, t0 + nr, hs, 1.0f);
		for (int r = 0; r < nr; r++)
			at_softmax_bwd_row(fused, dp + (size_t)(t0 + r) * T,
			                   a + (size_t)(t0 + r) * T, s + (size_t)r * Tp,
			                   t0 + r + 1, T);
		at_mix(fused, dq, ld, mode, scale, dp, T, k, ld, t0, t0 + nr, hs);
	}
	/* dv += att^T dy;  dk += scale dpre^T q */
	at_mixt(fused, dv, ld, mode, 1.0f, a, dy, ldo, T, hs);
	at_mixt(fused, dk, ld, mode, scale, dp, q, ld, T, hs);
}

VM_INLINE void attn_fwd_body(int fused, float *out, float *att, const float *qkv, int B,
                             int T, int C, int NH)
{
	int hs = C / NH, Tp = (T + AT_W - 1) / AT_W * AT_W;
	float scale = 1.0f / sqrtf((float)hs), kt[(size_t)hs * Tp], s[AT_R * Tp];

	memset(s, 0, sizeof s);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const float *q = qkv + (size_t)b * T * 3 * C + h * hs;
			float *o = out + (size_t)b * T * C + h * hs;
			float *a = att + ((size_t)b * NH + h) * T * T;
			/* a constant head size (use_kernel: 16 or 32), for
			 * tiles the compiler keeps in registers */
#define AT_FWD(HS) at_head_fwd(fused, o, C, a, q, q + C, q + 2 * C, 3 * C, T, HS, scale, \
			       kt, s)
			if (hs == 32)
				AT_FWD(32);
			else
				AT_FWD(16);
#undef AT_FWD
		}
}

#if !VM_X86 /* there the AVX-512 build below runs instead */
VM_KERNEL(attn_fwd, (float *out, float *att, const float *qkv, int B, int T, int C, int NH),
          out, att, qkv, B, T, C, NH)
#endif

VM_INLINE void attn_bwd_body(int fused, float *dqkv, float *scratch, const float *dout,
                             const float *qkv, const float *att, int B, int T, int C, int NH,
                             int add)
{
	int hs = C / NH, Tp = (T + AT_W - 1) / AT_W * AT_W;
	float scale = 1.0f / sqrtf((float)hs), vt[(size_t)hs * Tp], s[AT_R * Tp];

	memset(s, 0, sizeof s);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			size_t base = (size_t)b * T * 3 * C + h * hs;
			const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
			float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
			const float *a = att + ((size_t)b * NH + h) * T * T;
			const float *dy = dout + (size_t)b * T * C + h * hs;
#define AT_BWD(MODE, HS) at_head_bwd(fused, MODE, dq, dk, dv, scratch, dy, C, a, q, k, v, \
				     3 * C, T, HS, scale, vt, s)
			if (hs == 32 && add)
				AT_BWD(AT_ADD, 32);
			else if (hs == 32)
				AT_BWD(AT_SCALE, 32);
			else if (add)
				AT_BWD(AT_ADD, 16);
			else
				AT_BWD(AT_SCALE, 16);
#undef AT_BWD
		}
}

#if !VM_X86
VM_KERNEL(attn_bwd, (float *dqkv, float *scratch, const float *dout, const float *qkv,
                     const float *att, int B, int T, int C, int NH, int add),
          dqkv, scratch, dout, qkv, att, B, T, C, NH, add)
#endif

#if VM_X86
/* ------------------------------------ the causal kernel, for AVX-512 */

/* The causal kernel again, in AVX-512 intrinsics: where the CPU has
 * AVX-512 it runs this build, and the loops above run in the sanitizer
 * builds alone.  Every element is the same sum in the same order as in
 * the loops' fused build (the score blocks, the softmax steps, each mix's
 * multiply-adds by ascending index, the softmax backward's 0 * 0 in the
 * dead lanes of a block within the row and none in one reaching past T),
 * so the bits are theirs (checked on 368 cases with NaN, infinities and
 * products that underflow, T 1-256, head sizes 16 and 32); what differs
 * is where the operands sit.  Built from the loops, GCC kept the mixes'
 * eight row pointers on the stack and reloaded them every step, and each
 * score block broadcast one query per multiply-add.  Here the rows a tile
 * reads by column (the queries, or dy, and att or dpre) are first
 * transposed into small k-major buffers (x8, p8: 8 floats per index), so
 * every broadcast is at a constant offset, and the scores go 32 keys at a
 * time, two multiply-adds per broadcast; the keys are transposed through
 * registers (at_transpose's buffer made its vector reads wait on scalar
 * stores), and the softmax steps run over the tile's 8 rows together, so
 * their exp and sum chains overlap.  Measured on Zen 5 (one thread, B 6,
 * T 64, 4 heads of 32, hot): forward 94-99 -> 78-80 us, backward 129-139
 * -> 111-112 us; in a GPT training step (OpenBLAS's AVX-512 kernels, 2
 * threads), attention fell from 10.4% to 9.3% of the time. */
#define T512 VM_T512
#define UNROLL _Pragma("GCC unroll 16")
#define AK T512 static inline __attribute__((always_inline))

/* x8[i][r] = x[r][i] (row stride ld) for r < nr, zero for nr <= r < 8;
 * i < n, n a multiple of 8 */
AK void ak_pack_rows(float *restrict x8, const float *x, size_t ld, int nr, int n)
{
	for (int i0 = 0; i0 < n; i0 += 8) {
		__m256 r[8];
		UNROLL for (int k = 0; k < 8; k++)
			r[k] = k < nr ? _mm256_loadu_ps(x + k * ld + i0) : _mm256_setzero_ps();
		vm_tr8x8(r);
		UNROLL for (int k = 0; k < 8; k++)
			_mm256_storeu_ps(x8 + (size_t)(i0 + k) * 8, r[k]);
	}
}

/* p8[j][r] = P[r][j] (P: nr rows of stride T, from row t0 of the matrix)
 * for j < t0 + nr, r < 8 (zero for r >= nr); P's columns past t0 + nr
 * are not read, as they may lie past the matrix. */
AK void ak_pack_probs(float *restrict p8, const float *P, int T, int t0, int nr)
{
	ak_pack_rows(p8, P, (size_t)T, nr, t0);
	if (nr == 8) {
		ak_pack_rows(p8 + (size_t)t0 * 8, P + t0, (size_t)T, 8, 8);
		return;
	}
	for (int j = t0; j < t0 + 8; j++)
		for (int r = 0; r < 8; r++)
			p8[(size_t)j * 8 + r] = r < nr && j < t0 + nr ? P[(size_t)r * T + j] : 0.0f;
}

/* acc[r] += p[r] y for tile rows r0 <= r < r1: a row y (16 NV floats)
 * times the broadcast p[r], one multiply-add per vector */
AK void ak_rank1(__m512 acc[8][2], const float *p, const float *y, int r0, int r1,
                 const int NV)
{
	__m512 y0 = _mm512_loadu_ps(y), y1 = NV == 2 ? _mm512_loadu_ps(y + 16) : y0;

	UNROLL for (int r = r0; r < r1; r++) {
		__m512 x = _mm512_set1_ps(p[r]);
		acc[r][0] = _mm512_fmadd_ps(x, y0, acc[r][0]);
		if (NV == 2)
			acc[r][1] = _mm512_fmadd_ps(x, y1, acc[r][1]);
	}
}

/* s[r][jb .. jb + 16 NB) = alpha * sum over i < hs of x8[i][r] yt[i][jb ..]
 * for r < 8: at_scores' blocks, NB of them at once */
AK void ak_scores(float *s, int Tp, const float *x8, const float *yt, int jb, int hs,
                  float alpha, const int NB)
{
	__m512 acc[8][2], al = _mm512_set1_ps(alpha);

	UNROLL for (int r = 0; r < 8; r++)
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
	/* written out rather than through ak_rank1: GCC's code for that
	 * here ran the forward 4-7% slower */
	for (int i = 0; i < hs; i++) {
		const float *yr = yt + (size_t)i * Tp + jb;
		__m512 y0 = _mm512_loadu_ps(yr), y1 = NB == 2 ? _mm512_loadu_ps(yr + 16) : y0;
		UNROLL for (int r = 0; r < 8; r++) {
			__m512 x = _mm512_set1_ps(x8[(size_t)i * 8 + r]);
			acc[r][0] = _mm512_fmadd_ps(x, y0, acc[r][0]);
			if (NB == 2)
				acc[r][1] = _mm512_fmadd_ps(x, y1, acc[r][1]);
		}
	}
	UNROLL for (int r = 0; r < 8; r++) {
		_mm512_storeu_ps(s + (size_t)r * Tp + jb, _mm512_mul_ps(al, acc[r][0]));
		if (NB == 2)
			_mm512_storeu_ps(s + (size_t)r * Tp + jb + 16, _mm512_mul_ps(al, acc[r][1]));
	}
}

/* 16 floats at o from the sums acc, stored as mode says (AT_OUT) */
AK void ak_store(float *o, int mode, __m512 al, __m512 acc)
{
	if (mode == AT_SET)
		_mm512_storeu_ps(o, acc);
	else if (mode == AT_ADD)
		_mm512_storeu_ps(o, _mm512_fmadd_ps(al, acc, _mm512_loadu_ps(o)));
	else
		_mm512_storeu_ps(o, _mm512_fmadd_ps(al, acc, _mm512_setzero_ps()));
}

/* a tile row's sums acc (16 NV floats) into o, as mode says */
AK void ak_store_row(float *o, int mode, __m512 al, __m512 a0, __m512 a1, const int NV)
{
	ak_store(o, mode, al, a0);
	if (NV == 2)
		ak_store(o + 16, mode, al, a1);
}

/* o[t0 + r] for r < nr, stored as mode says, from the sum over j <= t0 + r
 * of p8[j][r] y[j] (y row stride ldy, 16 NV wide): at_mix's tile. */
AK void ak_mix(float *o, int ldo, int mode, float alpha, const float *p8, const float *y,
               int ldy, int t0, int nr, const int NV)
{
	__m512 acc[8][2], al = _mm512_set1_ps(alpha);

	UNROLL for (int r = 0; r < 8; r++)
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
	/* columns 0..t0: every row */
	for (int j = 0; j <= t0; j++)
		ak_rank1(acc, p8 + (size_t)j * 8, y + (size_t)j * ldy, 0, 8, NV);
	/* column t0 + d: rows d.. */
	UNROLL for (int d = 1; d < 8; d++) {
		const float *yr = y + (size_t)(t0 + d) * ldy, *pj = p8 + (size_t)(t0 + d) * 8;
		__m512 y0, y1;
		if (d >= nr)
			break;
		y0 = _mm512_loadu_ps(yr);
		y1 = NV == 2 ? _mm512_loadu_ps(yr + 16) : y0;
		UNROLL for (int r = d; r < 8; r++) {
			__m512 p = _mm512_set1_ps(pj[r]);
			acc[r][0] = _mm512_fmadd_ps(p, y0, acc[r][0]);
			if (NV == 2)
				acc[r][1] = _mm512_fmadd_ps(p, y1, acc[r][1]);
		}
	}
	UNROLL for (int r = 0; r < 8; r++) {
		if (r >= nr)
			break;
		ak_store_row(o + (size_t)(t0 + r) * ldo, mode, al, acc[r][0], acc[r][1], NV);
	}
}

/* o[j] (+)= alpha * sum over t >= j of P[t][j] y[t], P (T,T): at_mixt,
 * 8 columns of P at a time, the last T % 8 one by one. */
AK void ak_mixt(float *o, int ldo, int mode, float alpha, const float *P, const float *y,
                int ldy, int T, const int NV)
{
	__m512 al = _mm512_set1_ps(alpha);
	int j = 0;

	for (; j + 8 <= T; j += 8) {
		__m512 acc[8][2];
		UNROLL for (int r = 0; r < 8; r++)
			acc[r][0] = acc[r][1] = _mm512_setzero_ps();
		/* row j + d, d < 7: columns ..d of the tile */
		UNROLL for (int d = 0; d < 7; d++)
			ak_rank1(acc, P + (size_t)(j + d) * T + j, y + (size_t)(j + d) * ldy, 0, d + 1,
			         NV);
		/* rows j + 7 on: every column */
		for (int t = j + 7; t < T; t++)
			ak_rank1(acc, P + (size_t)t * T + j, y + (size_t)t * ldy, 0, 8, NV);
		UNROLL for (int r = 0; r < 8; r++)
			ak_store_row(o + (size_t)(j + r) * ldo, mode, al, acc[r][0], acc[r][1], NV);
	}
	for (; j < T; j++) {
		__m512 a0 = _mm512_setzero_ps(), a1 = a0;
		for (int t = j; t < T; t++) {
			const float *yr = y + (size_t)t * ldy;
			__m512 p = _mm512_set1_ps(P[(size_t)t * T + j]);
			a0 = _mm512_fmadd_ps(p, _mm512_loadu_ps(yr), a0);
			if (NV == 2)
				a1 = _mm512_fmadd_ps(p, _mm512_loadu_ps(yr + 16), a1);
		}
		ak_store(o + (size_t)j * ldo, mode, al, a0);
		if (NV == 2)
			ak_store(o + (size_t)j * ldo + 16, mode, al, a1);
	}
}

/* yt (hs,Tp) = y (T,hs; row stride ld) transposed, columns T..Tp zero:
 * at_transpose, 8 x 8 blocks in registers (through a buffer, the scalar
 * stores stalled the vector loads after them). */
AK void ak_transpose(float *yt, const float *y, int ld, int T, int Tp, int hs)
{
	int j = 0;

	for (; j + 8 <= T; j += 8)
		for (int i = 0; i < hs; i += 8) {
			__m256 r[8];
			UNROLL for (int k = 0; k < 8; k++)
				r[k] = _mm256_loadu_ps(y + (size_t)(j + k) * ld + i);
			vm_tr8x8(r);
			UNROLL for (int c = 0; c < 8; c++)
				_mm256_storeu_ps(yt + (size_t)(i + c) * Tp + j, r[c]);
		}
	for (int i = 0; i < hs; i++) {
		for (int jj = j; jj < T; jj++)
			yt[(size_t)i * Tp + jj] = y[(size_t)jj * ld + i];
		for (int jj = T; jj < Tp; jj++)
			yt[(size_t)i * Tp + jj] = 0;
	}
}

/* vm_exp on 16 lanes, the same steps */
AK __m512 ak_exp(__m512 x)
{
	const __m512 big = _mm512_set1_ps(12582912.0f);
	__m512 k = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), big), n, r, p;
	__m512i e;

	n = _mm512_sub_ps(k, big);
	r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
	r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
	p = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
	e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_castps_si512(k), _mm512_set1_epi32(127)), 23);
	return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* at_softmax_rows: rows a[t0 + r] (r < nr) = the softmax of s[r][0..t0 + r],
 * zero after; each step over the tile's rows together, so that their
 * chains overlap. */
AK void ak_softmax_rows(float *a, float *s, int t0, int nr, int T, int Tp)
{
	__m512i kmax[8];
	__m512 m[8], acc[8];
	float d[8];
	int end = t0 + nr;

	UNROLL for (int r = 0; r < 8; r++) {
		kmax[r] = _mm512_setzero_si512();
		acc[r] = m[r] = _mm512_setzero_ps();
		d[r] = 1.0f;
	}
	for (int jb = 0; jb < end; jb += AT_W)
		UNROLL for (int r = 0; r < 8; r++) {
			__m512i b, key;
			if (r >= nr)
				break;
			b = _mm512_loadu_si512(s + (size_t)r * Tp + jb);
			/* vm_key: the bits flipped by the sign */
			key = _mm512_xor_si512(
				b, _mm512_or_si512(_mm512_srai_epi32(b, 31),
			                           _mm512_set1_epi32((int)0x80000000u)));
			kmax[r] = _mm512_mask_max_epu32(kmax[r], vm_lanes16(t0 + r + 1 - jb),
			                                kmax[r], key);
		}
	UNROLL for (int r = 0; r < 8; r++) {
		if (r >= nr)
			break;
		m[r] = _mm512_set1_ps(vm_unkey(_mm512_reduce_max_epu32(kmax[r])));
	}
	for (int jb = 0; jb < end; jb += AT_W)
		UNROLL for (int r = 0; r < 8; r++) {
			float *sr = s + (size_t)r * Tp + jb;
			__mmask16 live;
			__m512 x, e;
			if (r >= nr || jb >= t0 + r + 1)
				break;
			live = vm_lanes16(t0 + r + 1 - jb);
			x = _mm512_sub_ps(_mm512_loadu_ps(sr), m[r]);
			/* max(-87, x) keeps a NaN x, as the select does */
			x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
			e = _mm512_maskz_mov_ps(live, ak_exp(x));
			_mm512_storeu_ps(sr, e);
			acc[r] = _mm512_add_ps(acc[r], e);
		}
	UNROLL for (int r = 0; r < 8; r++) {
		if (r >= nr)
			break;
		d[r] = vm_lanes_total512(acc[r]);
	}
	UNROLL for (int r = 0; r < 8; r++) {
		float *arow, *sr;
		__m512 dv;
		int n = t0 + r + 1, jb = 0;
		if (r >= nr)
			break;
		arow = a + (size_t)(t0 + r) * T;
		sr = s + (size_t)r * Tp;
		dv = _mm512_set1_ps(d[r]);
		for (; jb < n; jb += AT_W)
			_mm512_mask_storeu_ps(arow + jb, vm_lanes16(T - jb),
			                      _mm512_maskz_div_ps(vm_lanes16(n - jb),
			                                          _mm512_loadu_ps(sr + jb), dv));
		/* the blocks past the row's end: zeros, no division */
		for (; jb < T; jb += AT_W)
			_mm512_mask_storeu_ps(arow + jb, vm_lanes16(T - jb), _mm512_setzero_ps());
	}
}

/* at_softmax_bwd_row for the tile's rows together: dp[t0 + r][0..T) =
 * a * (s - sum(a * s)) over [0..t0 + r], zero after; a = att's rows,
 * s (datt) holds whole blocks. */
AK void ak_softmax_bwd_rows(float *dp, const float *a, const float *s, int t0, int nr, int T,
                            int Tp)
{
	__m512 acc[8], dot[8];
	int end = t0 + nr;

	UNROLL for (int r = 0; r < 8; r++)
		acc[r] = dot[r] = _mm512_setzero_ps();
	for (int jb = 0; jb < end; jb += AT_W)
		UNROLL for (int r = 0; r < 8; r++) {
			const float *ar, *sr;
			__mmask16 live;
			__m512 av, sv;
			if (r >= nr || jb >= t0 + r + 1)
				break;
			ar = a + (size_t)(t0 + r) * T + jb;
			sr = s + (size_t)r * Tp + jb;
			live = vm_lanes16(t0 + r + 1 - jb);
			av = _mm512_maskz_loadu_ps(live, ar);
			sv = _mm512_maskz_loadu_ps(live, sr);
			/* as at_softmax_bwd_row: a block within the row adds 0 * 0
			 * in the lanes past its end; one reaching past T leaves
			 * them as they are (its scalar tail) */
			if (jb + AT_W <= T)
				acc[r] = _mm512_fmadd_ps(av, sv, acc[r]);
			else
				acc[r] = _mm512_mask3_fmadd_ps(av, sv, acc[r], live);
		}
	UNROLL for (int r = 0; r < 8; r++) {
		if (r >= nr)
			break;
		dot[r] = _mm512_set1_ps(vm_lanes_total512(acc[r]));
	}
	UNROLL for (int r = 0; r < 8; r++) {
		const float *ar, *sr;
		float *dr;
		int n = t0 + r + 1, jb = 0;
		if (r >= nr)
			break;
		ar = a + (size_t)(t0 + r) * T;
		sr = s + (size_t)r * Tp;
		dr = dp + (size_t)(t0 + r) * T;
		for (; jb < n; jb += AT_W) {
			__mmask16 in = vm_lanes16(T - jb);
			__m512 av = _mm512_maskz_loadu_ps(in, ar + jb);
			_mm512_mask_storeu_ps(
				dr + jb, in,
				_mm512_maskz_mul_ps(vm_lanes16(n - jb), av,
			                            _mm512_sub_ps(_mm512_loadu_ps(sr + jb), dot[r])));
		}
		for (; jb < T; jb += AT_W) /* past the row's end: zeros */
			_mm512_mask_storeu_ps(dr + jb, vm_lanes16(T - jb), _mm512_setzero_ps());
	}
}

/* The scores of rows t0.. (nr of them, x8 their operand) against keys
 * 0..t0 + nr - 1, in blocks of 32 and a last one of 16 */
AK void ak_score_rows(float *s, int Tp, const float *x8, const float *yt, int t0, int nr,
                      int hs, float alpha)
{
	int jb = 0, ncols = t0 + nr;

	for (; jb + 16 < ncols; jb += 32)
		ak_scores(s, Tp, x8, yt, jb, hs, alpha, 2);
	if (jb < ncols)
		ak_scores(s, Tp, x8, yt, jb, hs, alpha, 1);
}

/* One head, as at_head_fwd; hs = 16 NV. */
AK void ak_head_fwd(float *out, int ldo, float *a, const float *q, const float *k,
                    const float *v, int ld, int T, float scale, float *kt, float *s,
                    float *x8, float *p8, const int NV)
{
	int hs = 16 * NV, Tp = (T + AT_W - 1) / AT_W * AT_W;

	ak_transpose(kt, k, ld, T, Tp, hs);
	for (int t0 = 0; t0 < T; t0 += 8) {
		int nr = T - t0 < 8 ? T - t0 : 8;
		ak_pack_rows(x8, q + (size_t)t0 * ld, (size_t)ld, nr, hs);
		ak_score_rows(s, Tp, x8, kt, t0, nr, hs, scale);
		ak_softmax_rows(a, s, t0, nr, T, Tp);
		ak_pack_probs(p8, a + (size_t)t0 * T, T, t0, nr);
		ak_mix(out, ldo, AT_SET, 1.0f, p8, v, ld, t0, nr, NV);
	}
}

/* One head's backward, as at_head_bwd. */
AK void ak_head_bwd(int mode, float *dq, float *dk, float *dv, float *dp, const float *dy,
                    int ldo, const float *a, const float *q, const float *k, const float *v,
                    int ld, int T, float scale, float *vt, float *s, float *x8, float *p8,
                    const int NV)
{
	int hs = 16 * NV, Tp = (T + AT_W - 1) / AT_W * AT_W;

	ak_transpose(vt, v, ld, T, Tp, hs);
	for (int t0 = 0; t0 < T; t0 += 8) {
		int nr = T - t0 < 8 ? T - t0 : 8;
		/* datt = dy v^T, its softmax backward dpre, dq += scale dpre k */
		ak_pack_rows(x8, dy + (size_t)t0 * ldo, (size_t)ldo, nr, hs);
		ak_score_rows(s, Tp, x8, vt, t0, nr, hs, 1.0f);
		ak_softmax_bwd_rows(dp, a, s, t0, nr, T, Tp);
		ak_pack_probs(p8, dp + (size_t)t0 * T, T, t0, nr);
		ak_mix(dq, ld, mode, scale, p8, k, ld, t0, nr, NV);
	}
	/* dv += att^T dy;  dk += scale dpre^T q */
	ak_mixt(dv, ld, mode, 1.0f, a, dy, ldo, T, NV);
	ak_mixt(dk, ld, mode, scale, dp, q, ld, T, NV);
}


T512 static void ak_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);
	/* no clearing of s: each step reads only the score blocks it wrote */
	float kt[AT_MAXHS * AT_MAXT], s[AT_R * AT_MAXT], x8[AT_MAXHS * 8], p8[AT_MAXT * 8];

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const float *q = qkv + (size_t)b * T * 3 * C + h * hs;
			float *o = out + (size_t)b * T * C + h * hs;
			float *a = att + ((size_t)b * NH + h) * T * T;
			if (hs == 32)
				ak_head_fwd(o, C, a, q, q + C, q + 2 * C, 3 * C, T, scale, kt, s, x8,
				            p8, 2);
			else
				ak_head_fwd(o, C, a, q, q + C, q + 2 * C, 3 * C, T, scale, kt, s, x8,
				            p8, 1);
		}
}

T512 static void ak_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH, int add)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);
	float vt[AT_MAXHS * AT_MAXT], s[AT_R * AT_MAXT], x8[AT_MAXHS * 8], p8[AT_MAXT * 8];

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			size_t base = (size_t)b * T * 3 * C + h * hs;
			const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
			float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
			const float *a = att + ((size_t)b * NH + h) * T * T;
			const float *dy = dout + (size_t)b * T * C + h * hs;
#define AK_BWD(MODE, NV) ak_head_bwd(MODE, dq, dk, dv, scratch, dy, C, a, q, k, v, 3 * C, T, \
				     scale, vt, s, x8, p8, NV)
			if (hs == 32 && add)
				AK_BWD(AT_ADD, 2);
			else if (hs == 32)
				AK_BWD(AT_SCALE, 2);
			else if (add)
				AK_BWD(AT_ADD, 1);
			else
				AK_BWD(AT_SCALE, 1);
#undef AK_BWD
		}
}
#endif

/* ------------------------------------------------------ the GEMM path */

static void gemm_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                         int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const float *q = qkv + (size_t)b * T * 3 * C + h * hs;
			const float *k = q + C, *v = q + 2 * C;
			float *a = att + ((size_t)b * NH + h) * T * T;
			/* a = scale * q k^T (only the lower triangle is read) */
			sl_matmul_ld(a, T, q, 3 * C, k, 3 * C, SL_TRANS_N, SL_TRANS_T, T, T, hs,
			             scale, 0.0f);
			causal_softmax(a, T);
			/* out_h = att v */
			sl_matmul_ld(out + (size_t)b * T * C + h * hs, C, a, T, v, 3 * C,
			             SL_TRANS_N, SL_TRANS_N, T, hs, T, 1.0f, 0.0f);
		}
}

static void gemm_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                          const float *att, int B, int T, int C, int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			size_t base = (size_t)b * T * 3 * C + h * hs;
			const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
			float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
			const float *a = att + ((size_t)b * NH + h) * T * T;
			const float *dy = dout + (size_t)b * T * C + h * hs;
			float *da = scratch;
			/* dv += att^T dy;  datt = dy v^T */
			sl_matmul_ld(dv, 3 * C, a, T, dy, C, SL_TRANS_T, SL_TRANS_N, T, hs, T,
			             1.0f, 1.0f);
			sl_matmul_ld(da, T, dy, C, v, 3 * C, SL_TRANS_N, SL_TRANS_T, T, T, hs,
			             1.0f, 0.0f);
			/* dpre = softmax backward of datt */
			causal_softmax_bwd(da, a, T);
			/* dq += scale dpre k;  dk += scale dpre^T q */
			sl_matmul_ld(dq, 3 * C, da, T, k, 3 * C, SL_TRANS_N, SL_TRANS_N, T, hs, T,
			             scale, 1.0f);
			sl_matmul_ld(dk, 3 * C, da, T, q, 3 * C, SL_TRANS_T, SL_TRANS_N, T, hs, T,
			             scale, 1.0f);
		}
}

/* Which path, by shape and CPU (measured on AMD Zen 5, one thread,
 * OpenBLAS's AVX-512 kernels; B = 6, 4 heads, forward + backward): the
 * kernel for head sizes 16 and 32, where its loops' AVX-512 build took
 * 0.6-0.8 of the GEMM path's time at T = 64, 128 and 256 (the intrinsics
 * build takes about 0.85 of the loops' time); sgemm for the rest, where
 * the kernel was slower (hs = 64: 1.4-2.1x the time; other sizes, which
 * take its generic loops, 2-4x); T beyond AT_MAXT, not measured, keeps to
 * sgemm too.  Only on CPUs with AVX-512: the loops' AVX2 build took
 * 1.3-1.8x the time of sgemm with OpenBLAS's AVX2 (Haswell) kernels, B =
 * 12, T = 64, hs = 32.  Sanitizer builds take the loops, unfused, so the
 * sanitizers check the loops, not the intrinsics build; the unit tests
 * check that one against a double reference. */
static int use_kernel(int T, int hs)
{
	if (!((hs == 16 || hs == 32) && T <= AT_MAXT))
		return 0;
#if defined(__SANITIZE_ADDRESS__)
	return 1;
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
	return __builtin_cpu_supports("avx512f");
#else
	return 0;
#endif
}

/* out (B,T,C); att (B,NH,T,T) cache; qkv (B,T,3C) */
void sl_attention_forward(float *out, float *att, const float *qkv, int B, int T,
                          int C, int NH)
{
	SL_ASSERT(C % NH == 0);
	if (use_kernel(T, C / NH))
#if VM_X86
		ak_fwd(out, att, qkv, B, T, C, NH);
#else
		attn_fwd(out, att, qkv, B, T, C, NH);
#endif
	else
		gemm_forward(out, att, qkv, B, T, C, NH);
}

/* dqkv (B,T,3C) += ...; scratch (T,T) floats; dout (B,T,C) */
void sl_attention_backward(float *dqkv, float *scratch, const float *dout,
                           const float *qkv, const float *att, int B, int T, int C,
                           int NH)
{
	SL_ASSERT(C % NH == 0);
	if (use_kernel(T, C / NH))
#if VM_X86
		ak_bwd(dqkv, scratch, dout, qkv, att, B, T, C, NH, 1);
#else
		attn_bwd(dqkv, scratch, dout, qkv, att, B, T, C, NH, 1);
#endif
	else
		gemm_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
}

/* The same, but dqkv is written, not added to: the kernel stores its sums
 * as they would land on a cleared dqkv (the same bits, without the pass
 * that clears it); the GEMM path clears it first. */
void sl_attention_backward_set(float *dqkv, float *scratch, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C,
                               int NH)
{
	SL_ASSERT(C % NH == 0);
	if (use_kernel(T, C / NH)) {
#if VM_X86
		ak_bwd(dqkv, scratch, dout, qkv, att, B, T, C, NH, 0);
#else
		attn_bwd(dqkv, scratch, dout, qkv, att, B, T, C, NH, 0);
#endif
		return;
	}
	memset(dqkv, 0, (size_t)B * T * 3 * C * sizeof *dqkv);
	gemm_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
}

/* out (n) = a + b; the backward of a sum passes dout to both inputs. */
void sl_residual_forward(float *out, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void sl_residual_backward(float *da, float *db, const float *dout, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		da[i] += dout[i];
		db[i] += dout[i];
	}
}
