/*
 * gpt.c - a GPT-style language model, told top-down.
 *
 *   ids (B,T) -> token embedding + position embedding -> dropout
 *   L blocks:  x = x + dropout(proj(attention(qkv(layernorm1(x)))))
 *              x = x + dropout(proj2(gelu(fc(layernorm2(x)))))
 *   layernorm_f -> logits = x . wte^T (the head is the token table, tied)
 *   loss = mean softmax cross-entropy against the next tokens
 *
 * Parameters live in one sl_params block with named views (wte, wpe,
 * h.<l>.ln1.w, ... lnf.b), so an optimiser step is one flat loop and a
 * checkpoint one write.  Weight decay applies to the matrices and the
 * embedding tables, not to biases or layer-norm parameters (as nanoGPT).
 * Initialisation is normal(0, 0.02), with the two residual projections of
 * each block scaled by 1/sqrt(2L), biases 0, layer-norm weights 1.
 *
 * Activations for one (B,T) live in struct sl_gpt_acts; the forward fills
 * them, the backward reads them and accumulates parameter gradients into a
 * block laid out like the parameters.  A training forward (train set, the
 * one a backward needs) keeps GELU's derivative in fch in place of GELU's
 * input, which nothing else reads.  Several workers can each run their
 * own slice of a batch with their own acts and gradient block.
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	LN1W, LN1B, QKVW, QKVB, PROJW, PROJB, LN2W, LN2B, FCW, FCB, FC2W, FC2B, NPER
};

static const char *const per_name[NPER] = {
	"ln1.w", "ln1.b", "attn.qkv.w", "attn.qkv.b", "attn.proj.w", "attn.proj.b",
	"ln2.w", "ln2.b", "mlp.fc.w",   "mlp.fc.b",   "mlp.proj.w",  "mlp.proj.b",
};

/* Index of block l's tensor k in the parameter list. */
static int pidx(int l, int k)
{
	return 2 + l * NPER + k;
}

void sl_gpt_init(struct sl_gpt *g, const struct sl_gpt_config *cfg)
{
	int C = cfg->C, L = cfg->L;

	memset(g, 0, sizeof *g);
	g->cfg = *cfg;
	SL_ASSERT(C % cfg->NH == 0 && L > 0 && cfg->V > 0 && cfg->maxT > 0);
	sl_params_add(&g->P, "wte", 1, 2, (int[]){cfg->V, C});
	sl_params_add(&g->P, "wpe", 1, 2, (int[]){cfg->maxT, C});
	for (int l = 0; l < L; l++) {
		const int shapes[NPER][2] = {{C, 0}, {C, 0}, {3 * C, C}, {3 * C, 0},
		                             {C, C}, {C, 0}, {C, 0},     {C, 0},
		                             {4 * C, C}, {4 * C, 0}, {C, 4 * C}, {C, 0}};
		for (int k = 0; k < NPER; k++) {
			char name[SL_PARAM_NAME_MAX];
			int two = shapes[k][1] != 0;
			snprintf(name, sizeof name, "h.%d.%s", l, per_name[k]);
			sl_params_add(&g->P, name, two, two ? 2 : 1, shapes[k]);
		}
	}
	sl_params_add(&g->P, "lnf.w", 0, 1, (int[]){C});
	sl_params_add(&g->P, "lnf.b", 0, 1, (int[]){C});
	sl_params_alloc(&g->P);
}

void sl_gpt_init_weights(struct sl_gpt *g, uint64_t seed)
{
	struct sl_rng rng;
	float resid = 0.02f / sqrtf(2.0f * (float)g->cfg.L);

	sl_rng_seed(&rng, seed);
	for (int i = 0; i < g->P.count; i++) {
		const struct sl_param *p = &g->P.t[i];
		float *w = sl_params_data(&g->P, i);
		size_t len = strlen(p->name);
		if (len >= 2 && strcmp(p->name + len - 2, ".w") == 0 && p->ndim == 1) {
			for (size_t j = 0; j < p->n; j++) /* layer-norm weights */
				w[j] = 1;
		} else if (p->ndim == 1) {
			memset(w, 0, p->n * sizeof *w); /* biases */
		} else {
			float sd = strstr(p->name, ".proj.w") ? resid : 0.02f;
			for (size_t j = 0; j < p->n; j++)
				w[j] = (float)(sl_rng_normal(&rng) * sd);
		}
	}
}

void sl_gpt_free(struct sl_gpt *g)
{
	sl_params_free(&g->P);
}

/* ---------------------------------------------------------- activations */

struct sl_gpt_acts *sl_gpt_acts_new(const struct sl_gpt *g, int B, int T)
{
	struct sl_gpt_acts *a = sl_xcalloc(1, sizeof *a);
	size_t BT = (size_t)B * T, C = (size_t)g->cfg.C, L = (size_t)g->cfg.L,
	       V = (size_t)g->cfg.V, NH = (size_t)g->cfg.NH;
	int drop = g->cfg.dropout > 0;

	SL_ASSERT(T <= g->cfg.maxT);
	a->B = B;
	a->T = T;
#define ALLOC(x, n) (a->x = sl_xcalloc((size_t)(n) + 1, sizeof *a->x))
	ALLOC(pos, BT);
	for (size_t i = 0; i < BT; i++)
		a->pos[i] = (int32_t)(i % (size_t)T);
	ALLOC(enc, BT * C);
	ALLOC(encmask, drop ? BT * C : 0);
	ALLOC(ln1, L * BT * C);
	ALLOC(ln1m, L * BT);
	ALLOC(ln1r, L * BT);
	ALLOC(qkv, L * BT * 3 * C);
	ALLOC(atty, L * BT * C);
	ALLOC(att, L * B * NH * T * T);
	ALLOC(proj, drop ? L * BT * C : 0); /* see residual_branch */
	ALLOC(projmask, drop ? L * BT * C : 0);
	ALLOC(res2, L * BT * C);
	ALLOC(ln2, L * BT * C);
	ALLOC(ln2m, L * BT);
	ALLOC(ln2r, L * BT);
	ALLOC(fch, L * BT * 4 * C);
	ALLOC(fchg, L * BT * 4 * C);
	ALLOC(fc2, drop ? L * BT * C : 0);
	ALLOC(fc2mask, drop ? L * BT * C : 0);
	ALLOC(res3, L * BT * C);
	ALLOC(lnf, BT * C);
	ALLOC(lnfm, BT);
	ALLOC(lnfr, BT);
	ALLOC(logits, BT * V);
	ALLOC(probs, BT * V);
	/* backward scratch */
	ALLOC(dres, BT * C);
	ALLOC(dx, BT * C);
	ALLOC(dx2, BT * C);
	ALLOC(dqkv, BT * 3 * C);
	ALLOC(dfchg, BT * 4 * C);
	ALLOC(dlogits, BT * V);
	ALLOC(datt, (size_t)T * T);
#undef ALLOC
	if (sl_gemm_prepacks())
		a->dwpack = sl_xalloc64(sl_gemm_pack_b_size((int)BT, 4 * (int)C) * sizeof *a->dwpack);
	return a;
}

void sl_gpt_acts_free(struct sl_gpt_acts *a)
{
	if (!a)
		return;
	float *f[] = {a->enc, a->encmask, a->ln1, a->ln1m, a->ln1r, a->qkv, a->atty,
	              a->att, a->proj, a->projmask, a->res2, a->ln2, a->ln2m, a->ln2r,
	              a->fch, a->fchg, a->fc2, a->fc2mask, a->res3, a->lnf, a->lnfm,
	              a->lnfr, a->logits, a->probs, a->dres, a->dx, a->dx2, a->dqkv,
	              a->dfchg, a->dlogits, a->datt, a->wpack_own, a->dwpack};
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		free(f[i]);
	free(a->pos);
	free(a);
}

/* ------------------------------------------------------- packed weights
 *
 * Where sl_gemm_prepacks, a step's products with the blocks' weights run
 * on B operands packed once (lib/gemm.c's panels): w^T for the forward,
 * w for the backward's input gradient.  Packed per product instead, as
 * sgemm and sl_gemm_nn do, every worker packed every weight twice a step
 * (and sl_gemm_nn once per 256-row block); that was 4% of a training step.
 * The layer's passes over the product ride on its tiles (struct
 * sl_gemm_epi): bias and residual start values, GELU's derivative and the
 * fc bias gradient.  Per block: the forward's four, then the backward's
 * four; then the head's two (the token table); each sl_gemm_pack_b_size
 * floats (a multiple of 32, so each stays 64-byte aligned).  The weight
 * gradients are lib/gemm.c's too (sl_gemm_tn_packing), so every product
 * of a step is, whatever OpenBLAS was told: the same bits under any
 * OPENBLAS_CORETYPE. */
enum { PK_QKV, PK_PROJ, PK_FC, PK_FC2, NPK };
static const int pk_w[NPK] = {QKVW, PROJW, FCW, FC2W};
static const int pk_oc[NPK] = {3, 1, 4, 1}, pk_ic[NPK] = {1, 1, 1, 4}; /* x C */

/* Block l's weight k, (oc, ic); l = L, k = 0 is the head (the token
 * table, (V, C)). */
static const float *pack_weight(const struct sl_gpt *g, int l, int k, int *oc, int *ic)
{
	if (l == g->cfg.L) {
		*oc = g->cfg.V;
		*ic = g->cfg.C;
		return sl_params_data(&g->P, 0);
	}
	*oc = pk_oc[k] * g->cfg.C;
	*ic = pk_ic[k] * g->cfg.C;
	return sl_params_data(&g->P, pidx(l, pk_w[k]));
}

static size_t pack_len(const struct sl_gpt *g, int l, int k, int bwd)
{
	int oc, ic;

	pack_weight(g, l, k, &oc, &ic);
	return bwd ? sl_gemm_pack_b_size(oc, ic) : sl_gemm_pack_b_size(ic, oc);
}

/* Where weight k of block l (the head: l = L, k = 0) lies packed for the
 * forward (bwd 0) or the backward (1): the blocks in order, then the
 * head. */
static size_t pack_off(const struct sl_gpt *g, int l, int k, int bwd)
{
	size_t per = 0, off;

	for (int j = 0; j < NPK; j++)
		per += pack_len(g, 0, j, 0) + pack_len(g, 0, j, 1);
	off = (size_t)l * per;
	for (int j = 0; j < k; j++)
		off += pack_len(g, l, j, 0) + pack_len(g, l, j, 1);
	return off + (bwd ? pack_len(g, l, k, 0) : 0);
}

size_t sl_gpt_pack_size(const struct sl_gpt *g)
{
	int L = g->cfg.L;

	return sl_gemm_prepacks() ? pack_off(g, L, 0, 1) + pack_len(g, L, 0, 1) : 0;
}

void sl_gpt_pack(const struct sl_gpt *g, float *dst, int part, int nparts)
{
	size_t i0, i1;

	sl_pool_share(part, nparts, (size_t)g->cfg.L * NPK * 2 + 2, &i0, &i1);
	for (size_t i = i0; i < i1; i++) {
		int l = (int)(i / (2 * NPK)), k = (int)(i / 2 % NPK), bwd = (int)(i % 2), oc, ic;
		const float *w = pack_weight(g, l, k, &oc, &ic);
		/* w (oc, ic): the forward's B is w^T (ic, oc), the backward's w */
		if (bwd)
			sl_gemm_pack_b(dst + pack_off(g, l, k, 1), w, ic, SL_TRANS_N, oc, ic);
		else
			sl_gemm_pack_b(dst + pack_off(g, l, k, 0), w, ic, SL_TRANS_T, ic, oc);
	}
}

/* The packed weights this forward uses, or NULL for none. */
static const float *packs_for(const struct sl_gpt *g, struct sl_gpt_acts *a)
{
	if (!sl_gemm_prepacks() || a->B * a->T < 32)
		return NULL;
	if (a->wpack_shared)
		return a->wpack_shared;
	if (!a->wpack_own)
		a->wpack_own = sl_xalloc64(sl_gpt_pack_size(g) * sizeof *a->wpack_own);
	sl_gpt_pack(g, a->wpack_own, 0, 1);
	return a->wpack_own;
}

/* -------------------------------------------------------------- forward */

/* sl_linear_forward, from the packed w^T wp where given. */
static void linear_forward(float *out, const float *in, const float *w, const float *wp,
                           const float *bias, int B, int C, int OC)
{
	if (wp)
		sl_gemm_packed(out, OC, in, C, wp, B, OC, C, &(struct sl_gemm_epi){.bias = bias});
	else
		sl_linear_forward(out, in, w, bias, B, C, OC);
}

/* out (B,OC) = x + dropout(in . w^T + bias), a block's residual branch.
 * Without dropout the branch needs no buffer: out starts as x + bias and
 * the GEMM adds onto it, one pass over memory instead of linear's bias
 * copy plus the residual's sum (nothing in the backward reads the
 * branch).  With dropout, branch and mask (B,OC) keep it and its mask. */
static void residual_branch(float *out, float *branch, float *mask, const float *x,
                            const float *in, const float *w, const float *wp,
                            const float *bias, float p, uint64_t seed, int B, int C, int OC)
{
	size_t n = (size_t)B * OC;

	if (p > 0) {
		linear_forward(branch, in, w, wp, bias, B, C, OC);
		sl_dropout_forward(branch, mask, branch, p, seed, n);
		sl_residual_forward(out, x, branch, n);
		return;
	}
	if (wp) {
		sl_gemm_packed(out, OC, in, C, wp, B, OC, C,
		               &(struct sl_gemm_epi){.bias = bias, .x = x, .ldx = OC});
		return;
	}
	for (int b = 0; b < B; b++)
		for (int o = 0; o < OC; o++)
			out[(size_t)b * OC + o] = x[(size_t)b * OC + o] + bias[o];
	sl_linear_gemm(out, in, w, B, C, OC, 1);
}

float sl_gpt_forward(const struct sl_gpt *g, struct sl_gpt_acts *a,
                     const int32_t *ids, const int32_t *targets, uint64_t seed,
                     int train)
{
	return sl_gpt_forward_part(g, a, ids, targets, seed, train, 0);
}

float sl_gpt_forward_part(const struct sl_gpt *g, struct sl_gpt_acts *a,
                          const int32_t *ids, const int32_t *targets, uint64_t seed,
                          int train, int first)
{
	const struct sl_params *P = &g->P;
	int B = a->B, T = a->T, C = g->cfg.C, V = g->cfg.V, NH = g->cfg.NH, L = g->cfg.L;
	int BT = B * T;
	size_t btc = (size_t)BT * C;
	float p = train ? g->cfg.dropout : 0;
	const float *x, *wp;
	/* seed + k * golden starts splitmix64's stream k elements on */
	uint64_t skip = (uint64_t)first * (uint64_t)T * (uint64_t)C * 0x9e3779b97f4a7c15ULL;

	/* (B,T) ids -> (B,T,C) token + position embeddings */
	sl_embedding_forward(a->enc, ids, sl_params_data(P, 0), BT, C, V);
	{
		const float *wpe = sl_params_data(P, 1);
		for (int i = 0; i < BT; i++)
			for (int c = 0; c < C; c++)
				a->enc[(size_t)i * C + c] += wpe[(size_t)a->pos[i] * C + c];
	}
	if (p > 0)
		sl_dropout_forward(a->enc, a->encmask, a->enc, p, seed + skip, btc);
	wp = a->wpack = packs_for(g, a);
	x = a->enc;
	for (int l = 0; l < L; l++) {
		float *ln1 = a->ln1 + l * btc, *qkv = a->qkv + l * btc * 3,
		      *atty = a->atty + l * btc, *res2 = a->res2 + l * btc,
		      *ln2 = a->ln2 + l * btc, *fch = a->fch + l * btc * 4,
		      *fchg = a->fchg + l * btc * 4, *res3 = a->res3 + l * btc;
		sl_layernorm_forward(ln1, a->ln1m + (size_t)l * BT, a->ln1r + (size_t)l * BT, x,
		                     sl_params_data(P, pidx(l, LN1W)),
		                     sl_params_data(P, pidx(l, LN1B)), BT, C);
#define WP(k) (wp ? wp + pack_off(g, l, (k), 0) : NULL)
		linear_forward(qkv, ln1, sl_params_data(P, pidx(l, QKVW)), WP(PK_QKV),
		               sl_params_data(P, pidx(l, QKVB)), BT, C, 3 * C);
		sl_attention_forward(atty, a->att + (size_t)l * B * NH * T * T, qkv, B, T, C, NH);
		residual_branch(res2, p > 0 ? a->proj + l * btc : NULL,
		                p > 0 ? a->projmask + l * btc : NULL, x, atty,
		                sl_params_data(P, pidx(l, PROJW)), WP(PK_PROJ),
		                sl_params_data(P, pidx(l, PROJB)), p,
		                sl_mix64(seed + 2 * (uint64_t)l + 1) + skip, BT, C, C);
		sl_layernorm_forward(ln2, a->ln2m + (size_t)l * BT, a->ln2r + (size_t)l * BT, res2,
		                     sl_params_data(P, pidx(l, LN2W)),
		                     sl_params_data(P, pidx(l, LN2B)), BT, C);
		linear_forward(fch, ln2, sl_params_data(P, pidx(l, FCW)), WP(PK_FC),
		               sl_params_data(P, pidx(l, FCB)), BT, C, 4 * C);
		if (train) /* fch becomes GELU'(fch), all the backward needs of it */
			sl_gelu_forward_grad(fchg, fch, fch, btc * 4);
		else
			sl_gelu_forward(fchg, fch, btc * 4);
		residual_branch(res3, p > 0 ? a->fc2 + l * btc : NULL,
		                p > 0 ? a->fc2mask + l * btc : NULL, res2, fchg,
		                sl_params_data(P, pidx(l, FC2W)), WP(PK_FC2),
		                sl_params_data(P, pidx(l, FC2B)), p,
		                sl_mix64(seed + 2 * (uint64_t)l + 2) + skip, BT, 4 * C, C);
		x = res3;
#undef WP
	}
	sl_layernorm_forward(a->lnf, a->lnfm, a->lnfr, x, sl_params_data(P, 2 + L * NPER),
	                     sl_params_data(P, 3 + L * NPER), BT, C);
	/* logits (B,T,V) = lnf . wte^T, the tied head */
	linear_forward(a->logits, a->lnf, sl_params_data(P, 0),
	               wp ? wp + pack_off(g, L, 0, 0) : NULL, NULL, BT, C, V);
	if (!targets)
		return 0;
	return sl_softmax_xent_forward(a->probs, a->logits, targets, BT, V);
}

/* ------------------------------------------------------------- backward */

/* dbias (n) += the column sums of d (rows, n), row by row as
 * sl_linear_backward adds them; built for the CPU's widest vectors. */
VECTOR_CLONES
static void colsum_add(float *restrict dbias, const float *restrict d, int rows, int n)
{
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < n; c++)
			dbias[c] += d[(size_t)r * n + c];
}

/* d (rows, n) *= s, and dbias += the column sums of the product (the fc
 * layer's GELU backward and bias gradient in one pass). */
VECTOR_CLONES
static void mul_colsum_add(float *restrict dbias, float *restrict d, const float *restrict s,
                           int rows, int n)
{
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < n; c++) {
			float v = d[(size_t)r * n + c] * s[(size_t)r * n + c];
			d[(size_t)r * n + c] = v;
			dbias[c] += v;
		}
}

/* sl_linear_backward, except that din is written rather than added to
 * (every input gradient here has one source), which saves zeroing it.
 * Where the weights come packed (wp), din is taken from them with e's
 * passes, and dw by lib/gemm.c too, its B (in) packed into dwp: the same
 * sums as sl_linear_gemm_dw's where that runs lib/gemm.c's kernels, and
 * in a GPT step at native kernels level with sgemm's or up to 1% faster.
 * dwacc 0 writes dw instead of adding to it. */
static void linear_backward_set(float *din, float *dw, float *dbias, const float *dout,
                                const float *in, const float *w, const float *wp,
                                const struct sl_gemm_epi *e, float *dwp, int dwacc, int B,
                                int C, int OC)
{
	if (wp)
		sl_gemm_packed(din, C, dout, OC, wp, B, C, OC, e);
	else
		sl_linear_gemm_din(din, dout, w, B, C, OC, 0);
	if (wp && dwp)
		sl_gemm_tn_packing(dw, C, dout, OC, in, C, OC, C, B, dwacc, dwp);
	else
		sl_linear_gemm_dw(dw, dout, in, B, C, OC, dwacc);
	if (dbias)
		colsum_add(dbias, dout, B, OC);
}

void sl_gpt_backward(const struct sl_gpt *g, struct sl_gpt_acts *a, float *grad,
                     const int32_t *ids, const int32_t *targets, float dloss)
{
	const struct sl_params *P = &g->P;
	int B = a->B, T = a->T, C = g->cfg.C, V = g->cfg.V, NH = g->cfg.NH, L = g->cfg.L;
	int BT = B * T;
	size_t btc = (size_t)BT * C;
	int drop = g->cfg.dropout > 0, dwacc = !a->dw_set;
	const float *wp = a->wpack;
#define G(i) (grad + P->t[(i)].off)
#define W(i) sl_params_data(P, (i))
#define WP(k) (wp ? wp + pack_off(g, l, (k), 1) : NULL)

	memset(a->dlogits, 0, (size_t)BT * V * sizeof *a->dlogits);
	sl_softmax_xent_backward(a->dlogits, dloss, a->probs, targets, BT, V);
	linear_backward_set(a->dx, G(0), NULL, a->dlogits, a->lnf, W(0),
	                    wp ? wp + pack_off(g, L, 0, 1) : NULL, NULL, a->dwpack, dwacc, BT, C,
	                    V);
	memset(a->dres, 0, btc * sizeof *a->dres);
	sl_layernorm_backward(a->dres, G(2 + L * NPER), G(3 + L * NPER), a->dx,
	                      L ? a->res3 + (L - 1) * btc : a->enc, W(2 + L * NPER), a->lnfm,
	                      a->lnfr, BT, C);
	for (int l = L - 1; l >= 0; l--) {
		const float *x = l ? a->res3 + (l - 1) * btc : a->enc;
		float *ln1 = a->ln1 + l * btc, *qkv = a->qkv + l * btc * 3,
		      *atty = a->atty + l * btc, *res2 = a->res2 + l * btc,
		      *ln2 = a->ln2 + l * btc, *fch = a->fch + l * btc * 4,
		      *fchg = a->fchg + l * btc * 4;
		/* res3 = res2 + fc2: dres flows on; dfc2 = dres (through the mask) */
		const float *dfc2 = a->dres;
		if (drop) {
			memset(a->dx2, 0, btc * sizeof *a->dx2);
			sl_dropout_backward(a->dx2, a->dres, a->fc2mask + l * btc, btc);
			dfc2 = a->dx2;
		}
		/* fchg = gelu(fch): dfch = dfchg GELU'(fch), which the training
		 * forward left in fch; in place, dfchg is not needed again.  The
		 * fc bias gradient (column sums of dfch, row by row as
		 * sl_linear_backward adds them) is taken in the same pass, or on
		 * the product's tiles from packed weights. */
		linear_backward_set(a->dfchg, G(pidx(l, FC2W)), G(pidx(l, FC2B)), dfc2, fchg,
		                    W(pidx(l, FC2W)), WP(PK_FC2),
		                    &(struct sl_gemm_epi){.mul = fch, .ldm = 4 * C,
		                                          .colsum = G(pidx(l, FCB))},
		                    a->dwpack, dwacc, BT, 4 * C, C);
		if (!wp)
			mul_colsum_add(G(pidx(l, FCB)), a->dfchg, fch, BT, 4 * C);
		linear_backward_set(a->dx, G(pidx(l, FCW)), NULL, a->dfchg, ln2, W(pidx(l, FCW)),
		                    WP(PK_FC), NULL, a->dwpack, dwacc, BT, C, 4 * C);
		sl_layernorm_backward(a->dres, G(pidx(l, LN2W)), G(pidx(l, LN2B)), a->dx, res2,
		                      W(pidx(l, LN2W)), a->ln2m + (size_t)l * BT,
		                      a->ln2r + (size_t)l * BT, BT, C);
		/* res2 = x + proj */
		{
			const float *dproj = a->dres;
			if (drop) {
				memset(a->dx2, 0, btc * sizeof *a->dx2);
				sl_dropout_backward(a->dx2, a->dres, a->projmask + l * btc, btc);
				dproj = a->dx2;
			}
			linear_backward_set(a->dx, G(pidx(l, PROJW)), G(pidx(l, PROJB)), dproj, atty,
			                    W(pidx(l, PROJW)), WP(PK_PROJ), NULL, a->dwpack, dwacc, BT, C,
			                    C);
		}
		sl_attention_backward_set(a->dqkv, a->datt, a->dx, qkv,
		                          a->att + (size_t)l * B * NH * T * T, B, T, C, NH);
		linear_backward_set(a->dx, G(pidx(l, QKVW)), G(pidx(l, QKVB)), a->dqkv, ln1,
		                    W(pidx(l, QKVW)), WP(PK_QKV), NULL, a->dwpack, dwacc, BT, C,
		                    3 * C);
		sl_layernorm_backward(a->dres, G(pidx(l, LN1W)), G(pidx(l, LN1B)), a->dx, x,
		                      W(pidx(l, LN1W)), a->ln1m + (size_t)l * BT,
		                      a->ln1r + (size_t)l * BT, BT, C);
	}
	{
		const float *denc = a->dres;
		if (drop) {
			memset(a->dx2, 0, btc * sizeof *a->dx2);
			sl_dropout_backward(a->dx2, a->dres, a->encmask, btc);
			denc = a->dx2;
		}
		sl_embedding_backward(G(0), denc, ids, BT, C); /* after the head's dw */
		if (a->dw_set) /* the position table's one source */
			memset(G(1), 0, P->t[1].n * sizeof *grad);
		sl_embedding_backward(G(1), denc, a->pos, BT, C);
	}
#undef G
#undef W
#undef WP
}

/* FLOPs of one training step on B*T tokens (forward + backward), counted
 * as 6 per parameter-token for the matrices plus the attention products. */
double sl_gpt_flops(const struct sl_gpt *g, int B, int T)
{
	double n = (double)g->P.n - (double)g->cfg.maxT * g->cfg.C;
	return 6.0 * n * B * T + 12.0 * g->cfg.L * g->cfg.C * (double)T * B * T;
}
