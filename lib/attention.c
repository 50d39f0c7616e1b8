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
 * The products go through sgemm on strided views of qkv (one head is a
 * (T,hs) matrix with row stride 3C), so nothing is copied.  att is kept
 * for the backward; preatt is not needed (the softmax backward reads att).
 * The backward accumulates into dqkv, like every other layer.  (Writing
 * it instead, by beta = 0 in its GEMMs, saves the caller's memset but
 * not the time: OpenBLAS then zeroes each head's strided block itself;
 * measured on a GPT step, its zeroing rose from 0.2% to 0.7% of the step
 * while memset fell by 0.1%.)
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

/* out (B,T,C); att (B,NH,T,T) cache; qkv (B,T,3C) */
void sl_attention_forward(float *out, float *att, const float *qkv, int B, int T,
                          int C, int NH)
{
	int hs = C / NH;
	float scale = 1.0f / sqrtf((float)hs);

	SL_ASSERT(C % NH == 0);
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

/* dqkv (B,T,3C) += ...; scratch (T,T) floats; dout (B,T,C) */
void sl_attention_backward(float *dqkv, float *scratch, const float *dout,
                           const float *qkv, const float *att, int B, int T, int C,
                           int NH)
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
