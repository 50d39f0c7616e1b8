/*
 * kvcache.c - running a GPT one token at a time for generation.
 *
 * A training forward (gpt.c) recomputes every position of a window.  When
 * text is generated token by token, the keys and values of the tokens
 * already seen never change (attention is causal), so they are kept: per
 * block, the rows K and V of (maxT, C).  Feeding m new tokens at positions
 * n .. n+m-1 then costs the work of m rows, not n+m:
 *
 *   x = wte[id] + wpe[pos]                                      (m,C)
 *   per block: qkv = qkv(ln1(x)); K, V rows n..n+m-1 = its k, v
 *              x += proj(attention of the m queries over K, V rows
 *                        0 .. own position)
 *              x += proj2(gelu(fc(ln2(x))))
 *   logits = lnf(x of the last token) . wte^T                   (V)
 *
 * The layers are the training ones (layer norm, linear, GELU) on m rows;
 * only the attention differs, as its queries and keys are different rows,
 * and a single row goes through the linear layers as a matrix-vector
 * product of our own (sgemm would pack each weight matrix for one use:
 * 256 -> 100 us a token for nanoGPT's Shakespeare model).
 * Results agree with sl_gpt_forward to float rounding, not bit for bit.
 * The cache holds at most maxT tokens: the caller slides its window by
 * resetting and feeding the last tokens again (their positions change).
 *
 * The cache reads the model's parameters and owns everything else: K and
 * V (2 L maxT C floats) and scratch for maxT rows.
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sl_gpt_kv {
	const struct sl_gpt *g;
	int n;                         /* tokens cached */
	float *k, *v;                  /* (L, maxT, C) */
	float *x, *ln, *qkv, *atty, *proj, *fch, *fchg; /* scratch for maxT rows */
	float *mean, *rstd, *att, *logits;
};

/* Block l's tensors, in the order sl_gpt_init adds them. */
enum { LN1W, LN1B, QKVW, QKVB, PROJW, PROJB, LN2W, LN2B, FCW, FCB, FC2W, FC2B, NPER };

static const float *W(const struct sl_gpt *g, int l, int k)
{
	return sl_params_data(&g->P, 2 + l * NPER + k);
}

struct sl_gpt_kv *sl_gpt_kv_new(const struct sl_gpt *g)
{
	struct sl_gpt_kv *c = sl_xcalloc(1, sizeof *c);
	size_t T = (size_t)g->cfg.maxT, C = (size_t)g->cfg.C, L = (size_t)g->cfg.L;

	/* the layout this file assumes: wte, wpe, NPER per block, lnf.w, lnf.b */
	SL_ASSERT(g->P.count == 4 + g->cfg.L * NPER);
	SL_ASSERT(sl_params_find(&g->P, "h.0.mlp.proj.b") == 2 + FC2B);
	c->g = g;
	c->k = sl_xmalloc(L * T * C * sizeof *c->k);
	c->v = sl_xmalloc(L * T * C * sizeof *c->v);
	c->x = sl_xmalloc(T * C * sizeof *c->x);
	c->ln = sl_xmalloc(T * C * sizeof *c->ln);
	c->qkv = sl_xmalloc(T * 3 * C * sizeof *c->qkv);
	c->atty = sl_xmalloc(T * C * sizeof *c->atty);
	c->proj = sl_xmalloc(T * C * sizeof *c->proj);
	c->fch = sl_xmalloc(T * 4 * C * sizeof *c->fch);
	c->fchg = sl_xmalloc(T * 4 * C * sizeof *c->fchg);
	c->mean = sl_xmalloc(T * sizeof *c->mean);
	c->rstd = sl_xmalloc(T * sizeof *c->rstd);
	c->att = sl_xmalloc(T * T * sizeof *c->att);
	c->logits = sl_xmalloc((size_t)g->cfg.V * sizeof *c->logits);
	return c;
}

void sl_gpt_kv_free(struct sl_gpt_kv *c)
{
	if (!c)
		return;
	float *f[] = {c->k,    c->v,    c->x,    c->ln,   c->qkv, c->atty, c->proj,
	              c->fch,  c->fchg, c->mean, c->rstd, c->att, c->logits};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		free(f[i]);
	free(c);
}

void sl_gpt_kv_reset(struct sl_gpt_kv *c)
{
	c->n = 0;
}

int sl_gpt_kv_len(const struct sl_gpt_kv *c)
{
	return c->n;
}

/* Dot product in a fixed order: LANES running sums over the part that
 * fills them, added up in order, then the tail.  The fixed order keeps
 * results reproducible; the lanes let the compiler vectorise it without
 * -ffast-math.  (Eight measured best here: GCC leaves 16 or 32 scalar.) */
enum { LANES = 8 };

static float dot(const float *x, const float *y, int n)
{
	float acc[LANES] = {0}, s = 0;
	int k = 0;

	for (; k + LANES <= n; k += LANES)
		for (int j = 0; j < LANES; j++)
			acc[j] += x[k + j] * y[k + j];
	for (int j = 0; j < LANES; j++)
		s += acc[j];
	for (; k < n; k++)
		s += x[k] * y[k];
	return s;
}

/* One row through a linear layer: out (OC) = w (OC,C) . in (C) + bias.
 * A single row is a matrix-vector product, which sgemm handles badly
 * (it packs the whole matrix for one use); here each weight row is read
 * once, straight from the model. */
static void linear1(float *out, const float *in, const float *w, const float *bias,
                    int C, int OC)
{
	for (int o = 0; o < OC; o++)
		out[o] = dot(in, w + (size_t)o * C, C) + (bias ? bias[o] : 0.0f);
}

/* A linear layer over m rows: sgemm for several, linear1 for one. */
static void linear(float *out, const float *in, const float *w, const float *bias, int m,
                   int C, int OC)
{
	if (m == 1)
		linear1(out, in, w, bias, C, OC);
	else
		sl_linear_forward(out, in, w, bias, m, C, OC);
}

/* Attention of m queries (rows n..n+m-1) over the cached keys and values
 * of block l.  qkv (m,3C) -> atty (m,C).  The same sums as
 * sl_attention_forward (scaled products, a float softmax), by sgemm and
 * expf here: not the same bits, within float rounding (tests/unit/kvcache.c). */
static void attend(struct sl_gpt_kv *c, int l, int m)
{
	const struct sl_gpt *g = c->g;
	int C = g->cfg.C, NH = g->cfg.NH, hs = C / NH, n = c->n, N = n + m;
	size_t lo = (size_t)l * g->cfg.maxT * C;
	float scale = 1.0f / sqrtf((float)hs);

	for (int h = 0; h < NH; h++) {
		const float *q = c->qkv + h * hs, *K = c->k + lo + h * hs, *V = c->v + lo + h * hs;
		float *a = c->att;
		/* a (m,N) = scale * q K^T; row i may look at columns 0..n+i */
		sl_matmul_ld(a, N, q, 3 * C, K, C, SL_TRANS_N, SL_TRANS_T, m, N, hs, scale, 0.0f);
		for (int i = 0; i < m; i++) {
			float *row = a + (size_t)i * N, mx = row[0], sum = 0;
			int t = n + i;
			for (int j = 1; j <= t; j++)
				if (row[j] > mx)
					mx = row[j];
			for (int j = 0; j <= t; j++) {
				row[j] = expf(row[j] - mx);
				sum += row[j];
			}
			for (int j = 0; j <= t; j++)
				row[j] /= sum;
			for (int j = t + 1; j < N; j++)
				row[j] = 0;
		}
		sl_matmul_ld(c->atty + h * hs, C, a, N, V, C, SL_TRANS_N, SL_TRANS_N, m, hs, N,
		             1.0f, 0.0f);
	}
}

const float *sl_gpt_kv_feed(struct sl_gpt_kv *c, const int32_t *ids, int m)
{
	const struct sl_gpt *g = c->g;
	const struct sl_params *P = &g->P;
	int C = g->cfg.C, L = g->cfg.L, V = g->cfg.V, n = c->n;
	size_t mc = (size_t)m * C;
	const float *wte = sl_params_data(P, 0), *wpe = sl_params_data(P, 1);
	const float *last;

	SL_ASSERT(m >= 1 && n + m <= g->cfg.maxT);
	for (int i = 0; i < m; i++)
		SL_ASSERT(ids[i] >= 0 && ids[i] < V);
	// (m) ids -> (m,C) token + position embeddings
	for (int i = 0; i < m; i++) {
		const float *te = wte + (size_t)ids[i] * C, *pe = wpe + (size_t)(n + i) * C;
		float *x = c->x + (size_t)i * C;
		for (int j = 0; j < C; j++)
			x[j] = te[j] + pe[j];
	}
	for (int l = 0; l < L; l++) {
		size_t lo = ((size_t)l * g->cfg.maxT + n) * C;
		sl_layernorm_forward(c->ln, c->mean, c->rstd, c->x, W(g, l, LN1W), W(g, l, LN1B),
		                     m, C);
		linear(c->qkv, c->ln, W(g, l, QKVW), W(g, l, QKVB), m, C, 3 * C);
		for (int i = 0; i < m; i++) {
			const float *row = c->qkv + (size_t)i * 3 * C;
			memcpy(c->k + lo + (size_t)i * C, row + C, (size_t)C * sizeof *c->k);
			memcpy(c->v + lo + (size_t)i * C, row + 2 * C, (size_t)C * sizeof *c->v);
		}
		attend(c, l, m);
		linear(c->proj, c->atty, W(g, l, PROJW), W(g, l, PROJB), m, C, C);
		sl_residual_forward(c->x, c->x, c->proj, mc);
		sl_layernorm_forward(c->ln, c->mean, c->rstd, c->x, W(g, l, LN2W), W(g, l, LN2B),
		                     m, C);
		linear(c->fch, c->ln, W(g, l, FCW), W(g, l, FCB), m, C, 4 * C);
		sl_gelu_forward(c->fchg, c->fch, mc * 4);
		linear(c->proj, c->fchg, W(g, l, FC2W), W(g, l, FC2B), m, 4 * C, C);
		sl_residual_forward(c->x, c->x, c->proj, mc);
	}
	c->n = n + m;
	/* only the last token's logits are wanted */
	last = c->x + (size_t)(m - 1) * C;
	sl_layernorm_forward(c->ln, c->mean, c->rstd, last, sl_params_data(P, 2 + L * NPER),
	                     sl_params_data(P, 3 + L * NPER), 1, C);
	linear1(c->logits, c->ln, wte, NULL, C, V);
	return c->logits;
}
