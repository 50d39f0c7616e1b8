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
 * made (top-k or top-p; top-p alone orders only the tokens that can be in
 * its nucleus) and plain id order otherwise (no sort is needed then).
 * When a single token remains (greedy, top-k 1, a tiny top-p) it is
 * returned without drawing, so the generator only advances for real
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
	double *w;      /* every token's weight, by id (top-p alone) */
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
	s->w = sl_xmalloc((size_t)V * sizeof *s->w);
	return s;
}

void sl_sampler_free(struct sl_sampler *s)
{
	if (!s)
		return;
	free(s->c);
	free(s->ids);
	free(s->p);
	free(s->w);
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

/* Sift-down in a heap of h[0..n) whose root is the least likely (up = 0)
 * or the most likely (up = 1). */
static void sift(struct cand *h, int n, int i, int up)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		struct cand t;
		if (l < n && (up ? before(&h[l], &h[m]) : before(&h[m], &h[l])))
			m = l;
		if (r < n && (up ? before(&h[r], &h[m]) : before(&h[m], &h[r])))
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
			sift(c, k, i, 0);
		for (int i = k; i < V; i++)
			if (before(&c[i], &c[0])) {
				c[0] = c[i];
				sift(c, k, 0, 0);
			}
	}
	qsort(c, (size_t)k, sizeof *c, cmp_cand);
}

/* The shortest prefix of the n weights s->p in walk order that reaches
 * need; *total becomes its sum. */
static int prefix(struct sl_sampler *s, int n, double need, double *total)
{
	double cum = 0;
	int m = 0;

	while (m < n && cum < need)
		cum += s->p[m++];
	*total = cum;
	return m;
}

/*
 * Top-p over the whole vocabulary without sorting all of it.  The weights
 * are summed in id order; a token whose weight is below
 * eps = (1 - p) total / 2V cannot be in the nucleus, as all such tokens
 * together weigh less than (1 - p) total / 2, so the others reach p total
 * before any of them (with a margin far above rounding when 1 - p > 1e-6,
 * the only case sent here).  The others go into a heap with the most
 * likely at its root, and are taken from it in order until they reach
 * p total: the same tokens, in the same order, as a full sort would give,
 * at the cost of the tokens kept rather than of the vocabulary.
 */
static int nucleus(struct sl_sampler *s, const float *logits, float zmax, double *total)
{
	int V = s->V, m = 0, n = 0;
	double T = s->o.temperature, sum = 0, eps, need, cum = 0;

	for (int i = 0; i < V; i++)
		sum += s->w[i] = exp(((double)logits[i] - zmax) / T);
	eps = (1 - s->o.top_p) * sum / (2.0 * V);
	for (int i = 0; i < V; i++)
		if (s->w[i] >= eps) {
			s->c[m].z = logits[i];
			s->c[m].id = i;
			m++;
		}
	for (int i = m / 2 - 1; i >= 0; i--)
		sift(s->c, m, i, 1);
	need = s->o.top_p * sum;
	while (m > 0 && cum < need) {
		s->ids[n] = s->c[0].id;
		s->p[n] = s->w[s->c[0].id];
		cum += s->p[n++];
		s->c[0] = s->c[--m];
		sift(s->c, m, 0, 1);
	}
	*total = cum;
	return n;
}

/* The weights of the top k (all V when no k), sorted when a cut is to be
 * made and in id order otherwise, then the top-p prefix of them; *total
 * gets the kept weights' sum. */
static int ranked(struct sl_sampler *s, const float *logits, float zmax, double *total)
{
	const struct sl_sample_opts *o = &s->o;
	int V = s->V, n = V;

	for (int i = 0; i < V; i++) {
		s->c[i].z = logits[i];
		s->c[i].id = i;
	}
	if (o->top_k > 0 || o->top_p < 1) {
		if (o->top_k > 0 && o->top_k < V)
			n = o->top_k;
		top_k(s->c, V, n);
	}
	*total = 0;
	for (int i = 0; i < n; i++) {
		s->ids[i] = s->c[i].id;
		s->p[i] = exp(((double)s->c[i].z - zmax) / o->temperature);
		*total += s->p[i];
	}
	/* summed in the same order as total, so top_p = 1 would keep all */
	if (o->top_p < 1)
		n = prefix(s, n, o->top_p * *total, total);
	return n;
}

int sl_sampler_dist(struct sl_sampler *s, const float *logits, const int32_t **ids,
                    const double **probs, int *bad)
{
	const struct sl_sample_opts *o = &s->o;
	int V = s->V, n, best = 0;
	double total;

	for (int i = 0; i < V; i++)
		if (!isfinite(logits[i])) {
			*bad = i;
			return -1;
		}
	for (int i = 1; i < V; i++)
		if (logits[i] > logits[best])
			best = i;
	if (o->temperature == 0 || o->top_k == 1) {
		s->ids[0] = best;
		s->p[0] = 1;
		n = 1;
	} else {
		if (o->top_k == 0 && o->top_p < 1 && 1 - o->top_p > 1e-6)
			n = nucleus(s, logits, logits[best], &total);
		else
			n = ranked(s, logits, logits[best], &total);
		for (int i = 0; i < n; i++)
			s->p[i] /= total;
	}
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
