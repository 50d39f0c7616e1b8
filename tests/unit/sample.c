/*
 * sample.c - the token sampler: its distributions against probabilities
 * worked out here independently (in long double, by a plain sort), draws
 * counted against them, the exact inverse-CDF draw, ties, greedy
 * decoding, the cuts' edge cases and non-finite logits.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>

/* Reference: the kept ids in walk order and their probabilities. */
struct ref {
	int n;
	int ids[8192];
	long double p[8192];
};

static const float *ref_z;

static int ref_cmp(const void *a, const void *b)
{
	int i = *(const int *)a, j = *(const int *)b;

	if (ref_z[i] != ref_z[j])
		return ref_z[i] > ref_z[j] ? -1 : 1;
	return i - j;
}

static void reference(struct ref *r, const float *z, int V, double T, int k, double p)
{
	long double w[8192], total = 0, cum = 0, mx = z[0];
	int sorted = k > 0 || p < 1;

	for (int i = 0; i < V; i++)
		r->ids[i] = i;
	if (sorted) {
		ref_z = z;
		qsort(r->ids, (size_t)V, sizeof *r->ids, ref_cmp);
	}
	for (int j = 1; j < V; j++)
		mx = z[j] > mx ? z[j] : mx;
	r->n = k > 0 && k < V ? k : V;
	for (int i = 0; i < r->n; i++) {
		w[i] = expl(((long double)z[r->ids[i]] - mx) / T);
		total += w[i];
	}
	if (p < 1) {
		int m = 0;
		while (m < r->n && cum < p * total)
			cum += w[m++];
		r->n = m;
		total = cum;
	}
	for (int i = 0; i < r->n; i++)
		r->p[i] = w[i] / total;
}

/* The sampler's distribution equals the reference's (ids exactly,
 * probabilities to 1e-12). */
static void same_dist(const char *what, const float *z, int V, double T, int k, double p)
{
	struct sl_sample_opts o = {T, k, p};
	struct sl_sampler *s = sl_sampler_new(V, &o);
	static struct ref r;
	const int32_t *ids;
	const double *pr;
	int bad = -1, n = sl_sampler_dist(s, z, &ids, &pr, &bad), same;
	double err = 0;

	reference(&r, z, V, T, k, p);
	same = n == r.n;
	for (int i = 0; same && i < n; i++) {
		same = ids[i] == r.ids[i];
		err = fmax(err, fabs(pr[i] - (double)r.p[i]));
	}
	ok(same && err < 1e-12, "%s: %d tokens kept, as worked out (max error %.2g)", what, n,
	   err);
	sl_sampler_free(s);
}

/* Draws N tokens and compares the counts with the exact probabilities by
 * chi-square (critical values at p = 0.001), and checks that nothing
 * outside the kept set is ever drawn. */
static void counts(const char *what, const float *z, int V, double T, int k, double p)
{
	struct sl_sample_opts o = {T, k, p};
	struct sl_sampler *s = sl_sampler_new(V, &o);
	static struct ref r;
	static long cnt[8192];
	/* chi-square quantiles at 0.999 for df 1..9 */
	static const double crit[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52,
	                              22.46, 24.32, 26.12, 27.88};
	const long N = 200000;
	struct sl_rng rng;
	double chi = 0;
	long outside = 0, kept = 0;
	int bad;

	reference(&r, z, V, T, k, p);
	SL_ASSERT(r.n >= 2 && r.n <= 10);
	for (int i = 0; i < V; i++)
		cnt[i] = 0;
	sl_rng_seed(&rng, 12345);
	for (long i = 0; i < N; i++)
		cnt[sl_sampler_draw(s, z, &rng, &bad)]++;
	for (int i = 0; i < r.n; i++) {
		double e = (double)(N * r.p[i]);
		chi += (cnt[r.ids[i]] - e) * (cnt[r.ids[i]] - e) / e;
		kept += cnt[r.ids[i]];
	}
	outside = N - kept;
	ok(outside == 0 && chi < crit[r.n - 1],
	   "%s: %ld draws match the %d probabilities (chi-square %.2f < %.2f), none outside",
	   what, N, r.n, chi, crit[r.n - 1]);
	sl_sampler_free(s);
}

int main(void)
{
	struct sl_sampler *s;
	struct sl_rng rng, before;
	const int32_t *ids;
	const double *pr;
	int bad, n, same;
	/* probabilities 0.5, 0.25, 0.15, 0.1 shuffled over ids */
	float q[4] = {logf(0.15f), logf(0.5f), logf(0.1f), logf(0.25f)};
	float z10[10] = {0.3f, -1.2f, 2.0f, 0.9f, 0.9f, -0.4f, 1.7f, 0.0f, -3.0f, 1.1f};
	float tie[5] = {1, 3, 2, 2, 0.5f};
	static float big[5000];

	/* option checks */
	ok(!sl_sample_check(&(struct sl_sample_opts){1, 0, 1}), "defaults are valid");
	ok(!sl_sample_check(&(struct sl_sample_opts){0, 5, 0.5}), "greedy with cuts is valid");
	ok(sl_sample_check(&(struct sl_sample_opts){NAN, 0, 1}) != NULL, "NaN temperature refused");
	ok(sl_sample_check(&(struct sl_sample_opts){INFINITY, 0, 1}) != NULL,
	   "infinite temperature refused");
	ok(sl_sample_check(&(struct sl_sample_opts){-0.5, 0, 1}) != NULL,
	   "negative temperature refused");
	ok(sl_sample_check(&(struct sl_sample_opts){1, -1, 1}) != NULL, "negative top-k refused");
	ok(sl_sample_check(&(struct sl_sample_opts){1, 0, 0}) != NULL, "top-p 0 refused");
	ok(sl_sample_check(&(struct sl_sample_opts){1, 0, 1.5}) != NULL, "top-p 1.5 refused");
	ok(sl_sample_check(&(struct sl_sample_opts){1, 0, NAN}) != NULL, "NaN top-p refused");

	/* distributions against the reference */
	same_dist("temperature 1, no cut: the softmax in id order", z10, 10, 1, 0, 1);
	same_dist("temperature 0.5", z10, 10, 0.5, 0, 1);
	same_dist("temperature 3", z10, 10, 3, 0, 1);
	same_dist("top-k 4 (the tie 0.9/0.9 split: the smaller id stays)", z10, 10, 1, 4, 1);
	same_dist("top-k 5 (both tied tokens in)", z10, 10, 1, 5, 1);
	same_dist("top-k larger than V keeps all, sorted", z10, 10, 1, 50, 1);
	same_dist("top-p 0.7", q, 4, 1, 0, 0.7);
	same_dist("top-p 0.9", z10, 10, 0.8, 0, 0.9);
	same_dist("top-k 3 then top-p 0.8 of the renormalised three", q, 4, 1, 3, 0.8);
	same_dist("top-k 7, top-p 0.95, temperature 1.3", z10, 10, 1.3, 7, 0.95);

	/* hand-worked values */
	s = sl_sampler_new(4, &(struct sl_sample_opts){1, 0, 0.7});
	n = sl_sampler_dist(s, q, &ids, &pr, &bad);
	ok(n == 2 && ids[0] == 1 && ids[1] == 3 && fabs(pr[0] - 2.0 / 3) < 1e-6 &&
	       fabs(pr[1] - 1.0 / 3) < 1e-6,
	   "top-p 0.7 over 0.5/0.25/0.15/0.1 keeps 0.5 and 0.25 as 2/3 and 1/3");
	sl_sampler_free(s);
	s = sl_sampler_new(4, &(struct sl_sample_opts){1, 3, 0.8});
	n = sl_sampler_dist(s, q, &ids, &pr, &bad);
	ok(n == 2 && ids[0] == 1 && ids[1] == 3,
	   "top-k 3 then top-p 0.8: 0.5/0.9 < 0.8 <= 0.75/0.9, two kept");
	sl_sampler_free(s);
	s = sl_sampler_new(5, &(struct sl_sample_opts){1, 2, 1});
	n = sl_sampler_dist(s, tie, &ids, &pr, &bad);
	ok(n == 2 && ids[0] == 1 && ids[1] == 2 &&
	       fabs(pr[0] - exp(3.0) / (exp(3.0) + exp(2.0))) < 1e-15,
	   "top-k 2 over logits 1,3,2,2,.5: ids 1 and 2 (the tie goes to the smaller id)");
	sl_sampler_free(s);

	/* greedy */
	s = sl_sampler_new(5, &(struct sl_sample_opts){0, 0, 1});
	sl_rng_seed(&rng, 9);
	before = rng;
	same = 1;
	for (int i = 0; i < 10; i++)
		same &= sl_sampler_draw(s, tie, &rng, &bad) == 1;
	ok(same && rng.s[0] == before.s[0] && rng.s[3] == before.s[3],
	   "temperature 0 takes the arg max and draws nothing");
	tie[4] = 3;
	ok(sl_sampler_draw(s, tie, &rng, &bad) == 1, "greedy: equal maxima at 1 and 4 give 1");
	tie[4] = 0.5f;
	sl_sampler_free(s);
	s = sl_sampler_new(10, &(struct sl_sample_opts){1, 1, 1});
	before = rng;
	ok(sl_sampler_draw(s, z10, &rng, &bad) == 2 && rng.s[1] == before.s[1],
	   "top-k 1 is greedy, without a draw");
	sl_sampler_free(s);
	s = sl_sampler_new(10, &(struct sl_sample_opts){2, 0, 1e-9});
	before = rng;
	ok(sl_sampler_draw(s, z10, &rng, &bad) == 2 && rng.s[1] == before.s[1],
	   "a tiny top-p keeps the most likely token alone, without a draw");
	sl_sampler_free(s);
	s = sl_sampler_new(5, &(struct sl_sample_opts){1e-30, 0, 1});
	tie[4] = 3;
	n = sl_sampler_dist(s, tie, &ids, &pr, &bad);
	ok(n == 5 && pr[1] == 0.5 && pr[4] == 0.5 && pr[0] == 0 && pr[2] == 0,
	   "temperature 1e-30: the two equal maxima share everything");
	tie[4] = 0.5f;
	sl_sampler_free(s);
	s = sl_sampler_new(10, &(struct sl_sample_opts){1e300, 0, 1});
	n = sl_sampler_dist(s, z10, &ids, &pr, &bad);
	ok(n == 10 && pr[0] == 0.1 && pr[8] == 0.1, "temperature 1e300: uniform");
	sl_sampler_free(s);

	/* the draw is the inverse CDF of one uniform, exactly */
	s = sl_sampler_new(10, &(struct sl_sample_opts){0.9, 6, 0.97});
	sl_rng_seed(&rng, 77);
	same = 1;
	for (int t = 0; t < 2000; t++) {
		struct sl_rng copy = rng;
		double u = sl_rng_uniform(&copy), acc = 0;
		int want = -1;
		n = sl_sampler_dist(s, z10, &ids, &pr, &bad);
		for (int i = 0; i < n && want < 0; i++)
			if (u < (acc += pr[i]))
				want = ids[i];
		same &= sl_sampler_draw(s, z10, &rng, &bad) == want &&
		        rng.s[2] == copy.s[2];
	}
	ok(same, "2000 draws are the inverse CDF of one uniform each");
	sl_sampler_free(s);

	/* counted */
	counts("temperature 1", q, 4, 1, 0, 1);
	counts("temperature 0.7", z10, 10, 0.7, 0, 1);
	counts("top-k 4 (a tie split at the edge)", z10, 10, 1, 4, 1);
	counts("top-p 0.8", z10, 10, 1, 0, 0.8);
	counts("top-k 6, top-p 0.9, temperature 1.5", z10, 10, 1.5, 6, 0.9);

	/* top-k by heap on a large vocabulary with many ties */
	sl_rng_seed(&rng, 3);
	for (int i = 0; i < 5000; i++)
		big[i] = (float)sl_rng_below(&rng, 40) / 4;
	same_dist("V 5000, logits in 40 levels, top-k 37", big, 5000, 1, 37, 1);
	same_dist("V 5000, top-k 1000, top-p 0.5", big, 5000, 0.7, 1000, 0.5);
	same_dist("V 5000, top-p 0.3", big, 5000, 1, 0, 0.3);
	same_dist("V 5000, top-p 0.999 (pruned before sorting)", big, 5000, 0.5, 0, 0.999);
	same_dist("V 5000, top-p 1 - 1e-9 (sorted whole)", big, 5000, 0.5, 0, 1 - 1e-9);

	/* non-finite logits */
	{
		float z[6] = {0, 1, 2, 3, 4, 5};
		float bads[3] = {NAN, INFINITY, -INFINITY};
		const char *names[3] = {"NaN", "+inf", "-inf"};
		for (int b = 0; b < 3; b++)
			for (int greedy = 0; greedy < 2; greedy++) {
				s = sl_sampler_new(6, &(struct sl_sample_opts){greedy ? 0 : 1, 0, 1});
				z[4] = bads[b];
				bad = -1;
				ok(sl_sampler_draw(s, z, &rng, &bad) == -1 && bad == 4,
				   "a %s logit is refused with its index (%s)", names[b],
				   greedy ? "greedy" : "sampling");
				sl_sampler_free(s);
			}
	}

	/* the same seed, the same tokens */
	{
		struct sl_rng a, b;
		struct sl_sampler *s1 = sl_sampler_new(10, &(struct sl_sample_opts){1, 0, 0.95});
		sl_rng_seed(&a, 5);
		sl_rng_seed(&b, 5);
		same = 1;
		for (int i = 0; i < 1000; i++)
			same &= sl_sampler_draw(s1, z10, &a, &bad) == sl_sampler_draw(s1, z10, &b, &bad);
		ok(same, "same seed, same 1000 tokens");
		sl_sampler_free(s1);
	}
	return done_testing();
}
