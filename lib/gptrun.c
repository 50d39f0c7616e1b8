/*
 * gptrun.c - training and evaluation steps of a GPT over whole batches.
 *
 * This first version runs the batch on the calling thread in one piece;
 * the interface already admits workers that each take a slice of the
 * batch with their own activations (see sluice.h).
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sl_gpt_run {
	struct sl_gpt *g;
	int maxB, T, nthreads;
	struct sl_gpt_acts **acts; /* by batch size, made on first use */
};

struct sl_gpt_run *sl_gpt_run_new(struct sl_gpt *g, int maxB, int T, int nthreads)
{
	struct sl_gpt_run *r = sl_xcalloc(1, sizeof *r);

	SL_ASSERT(maxB >= 1 && T >= 1 && T <= g->cfg.maxT && nthreads >= 1);
	r->g = g;
	r->maxB = maxB;
	r->T = T;
	r->nthreads = nthreads;
	r->acts = sl_xcalloc((size_t)maxB + 1, sizeof *r->acts);
	return r;
}

void sl_gpt_run_free(struct sl_gpt_run *r)
{
	if (!r)
		return;
	for (int b = 0; b <= r->maxB; b++)
		if (r->acts[b])
			sl_gpt_acts_free(r->acts[b]);
	free(r->acts);
	free(r);
}

static struct sl_gpt_acts *acts_for(struct sl_gpt_run *r, int b)
{
	SL_ASSERT(b >= 1 && b <= r->maxB);
	if (!r->acts[b])
		r->acts[b] = sl_gpt_acts_new(r->g, b, r->T);
	return r->acts[b];
}

float sl_gpt_run_step(struct sl_gpt_run *r, const int32_t *ids, const int32_t *targets,
                      int b, uint64_t seed)
{
	struct sl_gpt_acts *a = acts_for(r, b);
	struct sl_params *P = &r->g->P;
	float loss = sl_gpt_forward(r->g, a, ids, targets, seed, 1);

	memset(P->grad, 0, P->n * sizeof *P->grad);
	sl_gpt_backward(r->g, a, P->grad, ids, targets, 1.0f);
	return loss;
}

double sl_gpt_run_loss(struct sl_gpt_run *r, const int32_t *ids, const int32_t *targets,
                       int b, float *nll)
{
	struct sl_gpt_acts *a = acts_for(r, b);
	size_t n = (size_t)b * r->T;
	int V = r->g->cfg.V;
	double sum = 0;

	sl_gpt_forward(r->g, a, ids, NULL, 0, 0);
	/* -log softmax from the logits by log-sum-exp, in double */
	for (size_t i = 0; i < n; i++) {
		const float *z = a->logits + i * V;
		float mx = z[0];
		double s = 0, l;
		for (int v = 1; v < V; v++)
			mx = z[v] > mx ? z[v] : mx;
		for (int v = 0; v < V; v++)
			s += exp((double)z[v] - mx);
		l = log(s) + mx - z[targets[i]];
		if (nll)
			nll[i] = (float)l;
		sum += l;
	}
	return sum;
}
