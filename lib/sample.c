/*
 * sample.c - choosing the next token from a language model's logits.
 *
 * A sampler turns V logits z into a distribution and draws one token:
 *
 *   temperature T   p_i is proportional to exp((z_i - max z) / T).  T = 0
 *                   is greedy decoding: the arg max alone.
 *   top-k K         only the K most likely tokens stay (0: all of them).
 *   top-p P         of those, only the smallest run of the most likely
 *                   whose probability (renormalised over the top K) sums
 *                   to at least P (nucleus sampling; 1: all of them).
 *
 * "Most likely" orders tokens by logit, larger first, and equal logits by
 * id, smaller first.  That is a total order, so which tokens a cut keeps
 * never depends on a sort's whims: of two tied tokens at the edge of the
 * top K, the smaller id stays, and greedy decoding picks the smallest id
 * among equal maxima.
 *
 * The kept tokens' probabilities are renormalised to sum to 1 and one is
 * drawn by inverting their cumulative distribution: with u uniform in
 * [0, 1) from the caller's generator, the first token in walk order whose
 * running sum exceeds u.  The walk order is the order above when a cut is
 * made (top-k or top-p) and plain id order otherwise (no sort is needed
 * then).  When a single token remains (greedy, top-k 1, a tiny top-p) it
 * is returned without drawing, so the generator only advances for real
 * choices.  Everything is computed in double, in a fixed order: the same
 * logits and generator state give the same token on every run and machine.
 *
 * Logits must be finite.  A NaN or an infinity means a broken model, and
 * is reported (with its index) rather than sampled around.
 *
 * The sampler owns scratch for V candidates; it is not shared by threads.
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>

struct cand {
	float z;
	int32_t id;
};

struct sl_sampler {
	struct sl_sample_opts o;
	int V;
	struct cand *c; /* V candidates, the kept ones first in walk order */
	int32_t *ids;   /* the kept ids */
	double *p;      /* and their probabilities */
};

const char *sl_sample_check(const struct sl_sample_opts *o)
{
	if (!(o->temperature >= 0) || !isfinite(o->temperature))
		return "the temperature must be a finite number >= 0";
	if (o->top_k < 0)
		return "top-k must be >= 0 (0: no limit)";
	if (!(o->top_p > 0 && o->top_p <= 1))
		return "top-p must be in (0, 1] (1: no limit)";
	return NULL;
}

struct sl_sampler *sl_sampler_new(int V, const struct sl_sample_opts *o)
{
	struct sl_sampler *s = sl_xcalloc(1, sizeof *s);

	SL_ASSERT(V >= 1 && !sl_sample_check(o));
	s->o = *o;
	s->V = V;
	s->c = sl_xmalloc((size_t)V * sizeof *s->c);
	s->ids = sl_xmalloc((size_t)V * sizeof *s->ids);
	s->p = sl_xmalloc((size_t)V * sizeof *s->p);
	return s;
}

void sl_sampler_free(struct sl_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s->ids);
	free(s->p);
	free(s);
}

/* a before b in the order of likelihood: larger logit, then smaller id. */
static int before(const struct cand *a, const struct cand *b)
{
	return a->z > b->z || (a->z == b->z && a->id < b->id);
}

static int cmp_cand(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* Sift-down in a heap whose root is the least likely of h[0..n). */
static void sift(struct cand *h, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		struct cand t;
		if (l < n && before(&h[m], &h[l]))
			m = l;
		if (r < n && before(&h[m], &h[r]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Moves the k most likely of c[0..V) to c[0..k), sorted.  A heap of the
 * best k so far (its root the worst of them) keeps this O(V log k). */
static void top_k(struct cand *c, int V, int k)
{
	if (k < V) {
		for (int i = k / 2 - 1; i >= 0; i--)
			sift(c, k, i);
		for (int i = k; i < V; i++)
			if (before(&c[i], &c[0])) {
				c[0] = c[i];
				sift(c, k, 0);
			}
	}
	qsort(c, (size_t)k, sizeof *c, cmp_cand);
}

int sl_sampler_dist(struct sl_sampler *s, const float *logits, const int32_t **ids,
                    const double **probs, int *bad)
{
	const struct sl_sample_opts *o = &s->o;
	int V = s->V, n = V, best = 0;
	double T = o->temperature, total = 0;

	for (int i = 0; i < V; i++)
		if (!isfinite(logits[i])) {
			*bad = i;
			return -1;
		}
	for (int i = 1; i < V; i++)
		if (logits[i] > logits[best])
			best = i;
	if (T == 0 || o->top_k == 1) {
		s->ids[0] = best;
		s->p[0] = 1;
		n = 1;
		goto out;
	}
	for (int i = 0; i < V; i++) {
		s->c[i].z = logits[i];
		s->c[i].id = i;
	}
	if (o->top_k > 0 || o->top_p < 1) {
		if (o->top_k > 0 && o->top_k < V)
			n = o->top_k;
		top_k(s->c, V, n);
	}
	/* unnormalised weights over the top k, in walk order */
	for (int i = 0; i < n; i++) {
		s->ids[i] = s->c[i].id;
		s->p[i] = exp(((double)s->c[i].z - logits[best]) / T);
		total += s->p[i];
	}
	if (o->top_p < 1) {
		/* the shortest prefix reaching top_p of the total; summed in the
		 * same order as total, so top_p = 1 would keep everything */
		double need = o->top_p * total, cum = 0;
		int m = 0;
		while (m < n && cum < need)
			cum += s->p[m++];
		n = m;
		total = cum;
	}
	for (int i = 0; i < n; i++)
		s->p[i] /= total;
out:
	*ids = s->ids;
	*probs = s->p;
	return n;
}

int32_t sl_sampler_draw(struct sl_sampler *s, const float *logits, struct sl_rng *r,
                        int *bad)
{
	const int32_t *ids;
	const double *p;
	int n = sl_sampler_dist(s, logits, &ids, &p, bad), last = 0;
	double u, acc = 0;

	if (n < 0)
		return -1;
	if (n == 1)
		return ids[0];
	u = sl_rng_uniform(r);
	for (int i = 0; i < n; i++) {
		if (p[i] > 0)
			last = i;
		acc += p[i];
		if (u < acc)
			return ids[i];
	}
	/* rounding left the running sum just short of u: the last possible */
	return ids[last];
}
