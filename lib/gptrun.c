/*
 * gptrun.c - training and evaluation steps of a GPT over whole batches,
 * split over worker threads.
 *
 * A batch of b sequences is cut into one contiguous share per worker
 * (sl_pool_share).  Each worker runs the forward and backward of its
 * share on its own activations with single-threaded BLAS (OpenBLAS runs
 * this model's GEMMs at full speed on one core, and erratically when one
 * call is split over two; see DESIGN.md), into its own gradient block
 * (worker 0 into P.grad), with dloss = share / b so that the blocks add
 * up to the gradient of the batch mean.  Then every worker takes one range
 * of elements and the sum of squares of the blocks' sum over it (blocks
 * added worker 0 first, squares in fixed lanes), for clipping: the order
 * of every sum is fixed by the thread count alone, so a step is
 * bit-reproducible for a given nthreads.  The summed gradient itself is
 * not written: the update forms it again piece by piece in cache, clips
 * it and steps the optimizer (the block's sum is read twice but never
 * written), and sl_gpt_run_grad writes it into P.grad for a caller who
 * wants it there.  The update also clears every block's biases and
 * layer-norm parameters, piece by piece while they are in cache, so the
 * next step need not; the weight matrices and embedding tables (the
 * decayed prefix, nearly all of it) it leaves, and the next backward
 * writes their gradients instead of adding to them (dw_set), which saves
 * clearing 3 MiB per block and reading the zeros back (a step that
 * follows no update clears its block itself; an idle worker clears the
 * rest of its block).  Dropout masks are drawn per
 * element of the whole batch (sl_gpt_forward_part), so they do not depend
 * on the split at all.
 *
 * Evaluation splits the same way; each position's loss is computed by the
 * worker that ran it, in double, and summed in position order by the
 * caller, so the sum does not depend on the number of workers either
 * (each row's forward is then the same arithmetic whatever the share,
 * up to how OpenBLAS blocks a GEMM of that many rows).
 *
 * Activations are made on first use for the largest share, and serve any
 * smaller one (a->B is set per call; every buffer is laid out by it).
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct worker {
	struct sl_gpt_acts *acts;
	float *grad; /* worker 0: P.grad */
	double loss;
};

struct sl_gpt_run {
	struct sl_gpt *g;
	int maxB, T, nw, cap;
	struct sl_pool *pool;
	struct worker *w;
	double *nll;       /* maxB * T, evaluation */
	double *sq;        /* per worker: squares of its share of the gradient */
	int sq_valid;      /* sq holds the last step's gradient's */
	int unreduced;     /* P.grad holds worker 0's block alone */
	int zeroed;        /* every block's sums are zero, its decayed part stale
	                    * (the last update cleared them; see update_job) */
	float *pack;       /* the block weights packed for the step (sl_gpt_pack) */
	struct sl_optim *optim;
	float scale;       /* clipping factor, 1 for none */
	/* the job in flight */
	const int32_t *ids, *targets;
	int b;
	uint64_t seed;
};

struct sl_gpt_run *sl_gpt_run_new(struct sl_gpt *g, int maxB, int T, int nthreads)
{
	struct sl_gpt_run *r = sl_xcalloc(1, sizeof *r);

	SL_ASSERT(maxB >= 1 && T >= 1 && T <= g->cfg.maxT && nthreads >= 1);
	r->g = g;
	r->maxB = maxB;
	r->T = T;
	r->nw = nthreads;
	r->cap = (maxB + nthreads - 1) / nthreads;
	r->pool = sl_pool_new(nthreads);
	r->w = sl_xcalloc((size_t)nthreads, sizeof *r->w);
	r->nll = sl_xmalloc((size_t)maxB * T * sizeof *r->nll);
	r->sq = sl_xcalloc((size_t)nthreads, sizeof *r->sq);
	if (sl_gpt_pack_size(g))
		r->pack = sl_xalloc64(sl_gpt_pack_size(g) * sizeof *r->pack);
	if (nthreads > 1)
		sl_blas_threads(1);
	return r;
}

void sl_gpt_run_free(struct sl_gpt_run *r)
{
	if (!r)
		return;
	sl_pool_free(r->pool);
	for (int w = 0; w < r->nw; w++) {
		sl_gpt_acts_free(r->w[w].acts);
		if (w > 0)
			free(r->w[w].grad);
	}
	free(r->w);
	free(r->nll);
	free(r->sq);
	free(r->pack);
	free(r);
}

/* Worker wi's activations, set for b sequences. */
static struct sl_gpt_acts *acts_for(struct sl_gpt_run *r, int wi, int b)
{
	struct worker *w = &r->w[wi];

	SL_ASSERT(b >= 1 && b <= r->cap);
	if (!w->acts)
		w->acts = sl_gpt_acts_new(r->g, r->cap, r->T);
	w->acts->B = b;
	w->acts->wpack_shared = r->pack;
	return w->acts;
}

/* The weights packed for this step's products, a share per worker. */
static void pack_job(void *arg, int wi, int nw)
{
	struct sl_gpt_run *r = arg;

	sl_gpt_pack(r->g, r->pack, wi, nw);
}

static void step_job(void *arg, int wi, int nw)
{
	struct sl_gpt_run *r = arg;
	struct worker *w = &r->w[wi];
	struct sl_params *P = &r->g->P;
	size_t b0, b1, off;
	struct sl_gpt_acts *a;
	int b;

	sl_pool_share(wi, nw, (size_t)r->b, &b0, &b1);
	b = (int)(b1 - b0);
	w->loss = 0;
	if (wi > 0 && !w->grad)
		w->grad = sl_xcalloc(P->n, sizeof *w->grad);
	else if (!r->zeroed)
		memset(w->grad, 0, P->n * sizeof *w->grad);
	if (b == 0) { /* an idle worker adds nothing */
		if (r->zeroed)
			memset(w->grad, 0, P->ndecay * sizeof *w->grad);
		return;
	}
	a = acts_for(r, wi, b);
	a->dw_set = 1; /* the decayed part is written (see update_job) */
	off = b0 * (size_t)r->T;
	w->loss = sl_gpt_forward_part(r->g, a, r->ids + off, r->targets + off, r->seed, 1,
	                              (int)b0);
	sl_gpt_backward(r->g, a, w->grad, r->ids + off, r->targets + off,
	                (float)b / (float)r->b);
}

VECTOR_CLONES
static void add2(float *restrict out, const float *restrict x, const float *restrict y,
                 size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] + y[i];
}

VECTOR_CLONES
static void add_to(float *restrict out, const float *restrict x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] += x[i];
}

/* The blocks' sum (worker 0 first) over [a, b) into out, which is no
 * block. */
static void sum_range(const struct sl_gpt_run *r, float *out, size_t a, size_t b)
{
	if (r->nw == 1) {
		memcpy(out, r->w[0].grad + a, (b - a) * sizeof *out);
		return;
	}
	add2(out, r->w[0].grad + a, r->w[1].grad + a, b - a);
	for (int k = 2; k < r->nw; k++)
		add_to(out, r->w[k].grad + a, b - a);
}

/* Sum of squares of the workers' blocks' sum over a share of the
 * elements, for clipping: element e0 + i in lane i % 16 (pieces are
 * multiples of 16 long), the lanes added pairwise at the end. */
#define PIECE 4096
static void norm_job(void *arg, int wi, int nw)
{
	struct sl_gpt_run *r = arg;
	double acc[SL_SQ_LANES] = {0};
	float buf[PIECE];
	size_t e0, e1;

	sl_pool_share(wi, nw, r->g->P.n, &e0, &e1);
	if (r->nw == 1) { /* sl_clip_grad_norm's sum, to the bit */
		r->sq[wi] = sl_sum_squares(r->w[0].grad, e1);
		return;
	}
	for (size_t a = e0; a < e1; a += PIECE) {
		size_t b = a + PIECE < e1 ? a + PIECE : e1;
		sum_range(r, buf, a, b);
		sl_sum_squares_add(acc, buf, b - a);
	}
	r->sq[wi] = sl_sum_squares_total(acc);
}

/* P.grad = the blocks' sum, over a share of the elements. */
static void reduce_job(void *arg, int wi, int nw)
{
	struct sl_gpt_run *r = arg;
	size_t e0, e1;

	sl_pool_share(wi, nw, r->g->P.n, &e0, &e1);
	for (int k = 1; k < r->nw; k++)
		add_to(r->g->P.grad + e0, r->w[k].grad + e0, e1 - e0);
}

void sl_gpt_run_grad(struct sl_gpt_run *r)
{
	if (r->unreduced)
		sl_pool_run(r->pool, reduce_job, r);
	r->unreduced = 0;
}

float sl_gpt_run_step(struct sl_gpt_run *r, const int32_t *ids, const int32_t *targets,
                      int b, uint64_t seed)
{
	double loss = 0;

	SL_ASSERT(b >= 1 && b <= r->maxB);
	r->w[0].grad = r->g->P.grad;
	r->ids = ids;
	r->targets = targets;
	r->b = b;
	r->seed = seed;
	if (r->pack)
		sl_pool_run(r->pool, pack_job, r);
	sl_pool_run(r->pool, step_job, r);
	r->zeroed = 0;
	r->unreduced = r->nw > 1;
	sl_pool_run(r->pool, norm_job, r);
	r->sq_valid = 1;
	for (int w = 0; w < r->nw; w++) {
		size_t b0, b1;
		sl_pool_share(w, r->nw, (size_t)b, &b0, &b1);
		loss += r->w[w].loss * (double)(b1 - b0) / b;
	}
	return (float)loss;
}

/* Clipping and the optimizer over worker wi's share of the block, in
 * pieces that stay in cache, each with a private copy of the optimizer so
 * that every piece sees the same step count.  An unreduced gradient is
 * summed piece by piece into a buffer on the stack, as sl_gpt_run_grad
 * would sum it, and never written whole.  Element-wise, so the split
 * changes no result. */
static void update_job(void *arg, int wi, int nw)
{
	struct sl_gpt_run *r = arg;
	struct sl_params *P = &r->g->P;
	float buf[PIECE];
	size_t e0, e1;

	sl_pool_share(wi, nw, P->n, &e0, &e1);
	for (size_t a = e0; a < e1; a += PIECE) {
		size_t b = a + PIECE < e1 ? a + PIECE : e1;
		size_t nd = P->ndecay > a ? (P->ndecay < b ? P->ndecay : b) - a : 0;
		struct sl_optim o = *r->optim;
		float *g = P->grad + a;
		if (r->unreduced) {
			sum_range(r, buf, a, b);
			g = buf;
		}
		if (r->scale != 1.0f)
			for (size_t e = 0; e < b - a; e++)
				g[e] *= r->scale;
		sl_optim_step(&o, P->data + a, P->m + a, P->v + a, g, b - a, nd);
		/* the next step's gradients that are sums (biases, layer norms)
		 * start at zero: cleared here, in cache, rather than by a pass
		 * over each whole block; the decayed part, [0, ndecay), the next
		 * backward writes outright (dw_set), so it is left as it is */
		if (b > P->ndecay) {
			size_t c = a > P->ndecay ? a : P->ndecay;
			for (int k = 0; k < r->nw; k++)
				if (r->w[k].grad)
					memset(r->w[k].grad + c, 0, (b - c) * sizeof *g);
		}
	}
}

float sl_gpt_run_update(struct sl_gpt_run *r, struct sl_optim *o, float max_norm)
{
	struct sl_params *P = &r->g->P;
	double sq = 0, norm;

	if (r->sq_valid)
		for (int w = 0; w < r->nw; w++)
			sq += r->sq[w];
	else /* no step since the last update: P.grad is whatever it holds */
		sq = sl_sum_squares(P->grad, P->n);
	norm = sqrt(sq);
	r->scale = max_norm > 0 && norm > max_norm ? (float)(max_norm / (norm + 1e-6)) : 1.0f;
	r->optim = o;
	r->w[0].grad = P->grad;
	sl_pool_run(r->pool, update_job, r);
	r->sq_valid = r->unreduced = 0;
	r->zeroed = 1;
	o->t++;
	return (float)norm;
}

/* -log softmax(z)[y] by log-sum-exp, in double. */
static double nll_of(const float *z, int V, int32_t y)
{
	float mx = z[0];
	double s = 0;

	for (int v = 1; v < V; v++)
		mx = z[v] > mx ? z[v] : mx;
	for (int v = 0; v < V; v++)
		s += exp((double)z[v] - mx);
	return log(s) + mx - z[y];
}

static void loss_job(void *arg, int wi, int nw)
{
	struct sl_gpt_run *r = arg;
	size_t b0, b1, i0, i1;
	struct sl_gpt_acts *a;
	int V = r->g->cfg.V;

	sl_pool_share(wi, nw, (size_t)r->b, &b0, &b1);
	if (b1 == b0)
		return;
	a = acts_for(r, wi, (int)(b1 - b0));
	i0 = b0 * (size_t)r->T;
	i1 = b1 * (size_t)r->T;
	sl_gpt_forward(r->g, a, r->ids + i0, NULL, 0, 0);
	for (size_t i = i0; i < i1; i++)
		r->nll[i] = nll_of(a->logits + (i - i0) * V, V, r->targets[i]);
}

double sl_gpt_run_loss(struct sl_gpt_run *r, const int32_t *ids, const int32_t *targets,
                       int b, float *nll)
{
	size_t n = (size_t)b * r->T;
	double sum = 0;

	SL_ASSERT(b >= 1 && b <= r->maxB);
	r->ids = ids;
	r->targets = targets;
	r->b = b;
	if (r->pack)
		sl_pool_run(r->pool, pack_job, r);
	sl_pool_run(r->pool, loss_job, r);
	for (size_t i = 0; i < n; i++) {
		if (nll)
			nll[i] = (float)r->nll[i];
		sum += r->nll[i];
	}
	return sum;
}
