/*
 * gptrun.c - unit tests of the GPT runner (lib/gptrun.c): one worker is
 * exactly sl_gpt_forward + sl_gpt_backward; several workers give the same
 * gradient to float rounding (dropout included: masks are drawn per
 * element of the whole batch), bit-identical from run to run; batches
 * smaller than maxB and smaller than the thread count; the evaluation
 * loss against the per-position losses worked from the logits; the
 * threaded update against sl_clip_grad_norm + sl_optim_step, and the same
 * bits whether or not sl_gpt_run_grad summed the gradient first; and all
 * of it again with shares large enough for products from packed weights.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { B = 5, T = 6 };

static void model(struct sl_gpt *g, float dropout)
{
	struct sl_gpt_config cfg = {11, 8, 2, 2, 8, dropout};

	sl_gpt_init(g, &cfg);
	sl_gpt_init_weights(g, 7);
	for (size_t i = 0; i < g->P.n; i++)
		g->P.data[i] += (float)(0.05 * sin(3.0 * (double)i));
}

static void batch(int32_t *ids, int32_t *tg)
{
	for (int i = 0; i < B * T; i++) {
		ids[i] = (i * 7 + i / 5) % 11;
		tg[i] = (i * 3 + 2) % 11;
	}
}

/* Max |a - b| over n, relative to max |b|. */
static double relerr(const float *a, const float *b, size_t n)
{
	double e = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		e = fmax(e, fabs((double)a[i] - b[i]));
		m = fmax(m, fabs((double)b[i]));
	}
	return e / m;
}

static void test_threads(float dropout)
{
	struct sl_gpt g;
	int32_t ids[B * T], tg[B * T];
	struct sl_gpt_acts *a;
	float *ref, *got, loss1, lossn;
	const char *what = dropout > 0 ? " (dropout)" : "";

	model(&g, dropout);
	batch(ids, tg);
	ref = malloc(g.P.n * sizeof *ref);
	got = malloc(g.P.n * sizeof *got);

	/* the model's own forward and backward, in one piece */
	a = sl_gpt_acts_new(&g, B, T);
	memset(ref, 0, g.P.n * sizeof *ref);
	loss1 = sl_gpt_forward(&g, a, ids, tg, 42, 1);
	sl_gpt_backward(&g, a, ref, ids, tg, 1.0f);
	sl_gpt_acts_free(a);
	{
		struct sl_gpt_run *r = sl_gpt_run_new(&g, B, T, 1);
		float l = sl_gpt_run_step(r, ids, tg, B, 42);
		sl_gpt_run_grad(r);
		ok(l == loss1 && !memcmp(g.P.grad, ref, g.P.n * sizeof *ref),
		   "one worker%s: loss and gradient bit-identical to forward + backward", what);
		sl_gpt_run_free(r);
	}
	for (int nt = 2; nt <= 4; nt++) {
		struct sl_gpt_run *r = sl_gpt_run_new(&g, B, T, nt);
		double e;
		float l;
		lossn = sl_gpt_run_step(r, ids, tg, B, 42);
		sl_gpt_run_grad(r);
		memcpy(got, g.P.grad, g.P.n * sizeof *got);
		e = relerr(got, ref, g.P.n);
		ok(e < 1e-5 && fabs(lossn - loss1) < 1e-5,
		   "%d workers%s: gradient within %.2g of one worker's, loss %.7f vs %.7f", nt,
		   what, e, lossn, loss1);
		/* the gradient is overwritten, not added to, and repeats exactly */
		for (size_t i = 0; i < g.P.n; i++)
			g.P.grad[i] = 1e30f;
		l = sl_gpt_run_step(r, ids, tg, B, 42);
		sl_gpt_run_grad(r);
		ok(l == lossn && !memcmp(g.P.grad, got, g.P.n * sizeof *got),
		   "%d workers%s: a second step is bit-identical", nt, what);
		sl_gpt_run_free(r);
		/* a fresh runner with the same thread count, too */
		r = sl_gpt_run_new(&g, B, T, nt);
		sl_gpt_run_step(r, ids, tg, B, 42);
		sl_gpt_run_grad(r);
		ok(!memcmp(g.P.grad, got, g.P.n * sizeof *got),
		   "%d workers%s: a new runner is bit-identical", nt, what);
		sl_gpt_run_free(r);
	}
	free(ref);
	free(got);
	sl_gpt_free(&g);
}

/* b < maxB, and b < the number of workers (some idle). */
static void test_small_batches(void)
{
	struct sl_gpt g;
	int32_t ids[B * T], tg[B * T];
	float *ref = NULL;
	struct sl_gpt_run *r1, *r4;

	model(&g, 0);
	batch(ids, tg);
	r1 = sl_gpt_run_new(&g, B, T, 1);
	r4 = sl_gpt_run_new(&g, B, T, 4);
	ref = malloc(g.P.n * sizeof *ref);
	for (int b = 1; b <= 3; b++) {
		struct sl_gpt_acts *a = sl_gpt_acts_new(&g, b, T);
		float l0, l1, l4;
		memset(ref, 0, g.P.n * sizeof *ref);
		l0 = sl_gpt_forward(&g, a, ids, tg, 0, 1);
		sl_gpt_backward(&g, a, ref, ids, tg, 1.0f);
		sl_gpt_acts_free(a);
		l1 = sl_gpt_run_step(r1, ids, tg, b, 0);
		sl_gpt_run_grad(r1);
		ok(l1 == l0 && !memcmp(g.P.grad, ref, g.P.n * sizeof *ref),
		   "batch of %d, one worker: bit-identical to a model of that batch", b);
		l4 = sl_gpt_run_step(r4, ids, tg, b, 0);
		sl_gpt_run_grad(r4);
		ok(fabs(l4 - l0) < 1e-5 && relerr(g.P.grad, ref, g.P.n) < 1e-5,
		   "batch of %d over 4 workers: same loss and gradient (%.2g)", b,
		   relerr(g.P.grad, ref, g.P.n));
	}
	/* a worker busy in one step and idle in the next adds nothing of the
	 * first: the update leaves the weight gradients for the next backward
	 * to overwrite, which an idle worker does not run */
	{
		struct sl_optim o;
		struct sl_gpt_acts *a = sl_gpt_acts_new(&g, 1, T);
		float l0, l4;
		sl_optim_init(&o, SL_OPTIM_SGD);
		o.lr = 0.1f;
		sl_gpt_run_step(r4, ids, tg, 4, 0);
		sl_gpt_run_update(r4, &o, 0);
		memset(ref, 0, g.P.n * sizeof *ref);
		l0 = sl_gpt_forward(&g, a, ids, tg, 0, 1);
		sl_gpt_backward(&g, a, ref, ids, tg, 1.0f);
		l4 = sl_gpt_run_step(r4, ids, tg, 1, 0);
		sl_gpt_run_grad(r4);
		ok(fabs(l4 - l0) < 1e-5 && relerr(g.P.grad, ref, g.P.n) < 1e-5,
		   "4 workers, then 1 sequence after an update: idle workers add nothing (%.2g)",
		   relerr(g.P.grad, ref, g.P.n));
		sl_gpt_acts_free(a);
	}
	sl_gpt_run_free(r1);
	sl_gpt_run_free(r4);
	free(ref);
	sl_gpt_free(&g);
}

static void test_loss(void)
{
	struct sl_gpt g;
	int32_t ids[B * T], tg[B * T];
	struct sl_gpt_acts *a;
	double want = 0;
	float nll1[B * T], nll3[B * T];

	model(&g, 0.3f); /* evaluation never drops */
	batch(ids, tg);
	a = sl_gpt_acts_new(&g, B, T);
	sl_gpt_forward(&g, a, ids, NULL, 0, 0);
	for (int i = 0; i < B * T; i++) {
		const float *z = a->logits + (size_t)i * 11;
		double s = 0, l;
		for (int v = 0; v < 11; v++)
			s += exp((double)z[v]);
		l = log(s) - z[tg[i]];
		want += l;
	}
	for (int nt = 1; nt <= 3; nt += 2) {
		struct sl_gpt_run *r = sl_gpt_run_new(&g, B, T, nt);
		double got = sl_gpt_run_loss(r, ids, tg, B, nt == 1 ? nll1 : nll3);
		ok(fabs(got - want) < 1e-4 * fabs(want),
		   "%d worker%s: summed loss %.6f equals the log-sum-exp of the logits (%.6f)", nt,
		   nt > 1 ? "s" : "", got, want);
		sl_gpt_run_free(r);
	}
	{
		double e = 0, s = 0;
		for (int i = 0; i < B * T; i++) {
			e = fmax(e, fabs(nll1[i] - nll3[i]));
			s += nll1[i];
		}
		ok(e < 1e-5 && fabs(s - want) < 1e-3,
		   "per-position losses agree across thread counts (%.2g) and add up", e);
	}
	sl_gpt_acts_free(a);
	sl_gpt_free(&g);
}

/* Three steps of clipping + AdamW, by the runner and by hand; and by the
 * runner with the gradient summed into P.grad first (sl_gpt_run_grad),
 * which must give the same bits as the update's own piecewise sums. */
static void test_update(void)
{
	int32_t ids[B * T], tg[B * T];

	batch(ids, tg);
	for (int nt = 1; nt <= 3; nt += 2)
		for (int clip = 0; clip <= 1; clip++) {
			struct sl_gpt g, h, k;
			struct sl_optim o1, o2, o3;
			struct sl_gpt_run *r, *rh, *rk;
			float n1 = 0, n2 = 0, n3 = 0;
			model(&g, 0);
			model(&h, 0);
			model(&k, 0);
			sl_optim_init(&o1, SL_OPTIM_ADAMW);
			o1.weight_decay = 0.1f;
			o1.beta2 = 0.99f;
			o2 = o3 = o1;
			r = sl_gpt_run_new(&g, B, T, nt);
			rh = sl_gpt_run_new(&h, B, T, nt);
			rk = sl_gpt_run_new(&k, B, T, nt);
			for (int step = 0; step < 3; step++) {
				/* max norm 0.05 clips every step (the norms are ~0.3) */
				float mx = clip ? 0.05f : 0.0f;
				sl_gpt_run_step(r, ids, tg, B, 0);
				n1 = sl_gpt_run_update(r, &o1, mx);
				sl_gpt_run_step(rh, ids, tg, B, 0);
				sl_gpt_run_grad(rh);
				n2 = sl_clip_grad_norm(h.P.grad, h.P.n, clip ? mx : INFINITY);
				sl_optim_step(&o2, h.P.data, h.P.m, h.P.v, h.P.grad, h.P.n, h.P.ndecay);
				sl_gpt_run_step(rk, ids, tg, B, 0);
				sl_gpt_run_grad(rk);
				n3 = sl_gpt_run_update(rk, &o3, mx);
			}
			ok(n1 == n3 && !memcmp(g.P.data, k.P.data, g.P.n * 4) &&
			   !memcmp(g.P.m, k.P.m, g.P.n * 4) && !memcmp(g.P.v, k.P.v, g.P.n * 4),
			   "update, %d worker%s%s: bit-identical with the gradient summed first", nt,
			   nt > 1 ? "s" : "", clip ? ", clipping" : "");
			if (nt == 1)
				ok(n1 == n2 && o1.t == 3 && !memcmp(g.P.data, h.P.data, g.P.n * 4) &&
				   !memcmp(g.P.m, h.P.m, g.P.n * 4) && !memcmp(g.P.v, h.P.v, g.P.n * 4),
				   "update, one worker%s: bit-identical to clip + optimizer step",
				   clip ? ", clipping" : "");
			else
				ok(fabs(n1 - n2) < 1e-6 * n2 && o1.t == 3 &&
				   relerr(g.P.data, h.P.data, g.P.n) < 1e-6,
				   "update, %d workers%s: norm %.6f vs %.6f, weights within %.2g", nt,
				   clip ? ", clipping" : "", n1, n2, relerr(g.P.data, h.P.data, g.P.n));
			sl_gpt_run_free(r);
			sl_gpt_run_free(rh);
			sl_gpt_run_free(rk);
			sl_gpt_free(&g);
			sl_gpt_free(&h);
			sl_gpt_free(&k);
		}
}

/* Shares of 32 rows and more: the runner packs the weights once per step
 * for its workers (sl_gpt_pack) and again after each update.  Three steps
 * of AdamW by a one-worker runner give the bits of sl_gpt_forward +
 * sl_gpt_backward + sl_clip_grad_norm + sl_optim_step (which pack for
 * themselves); two workers agree to float rounding and repeat their bits;
 * the evaluation loss of two workers matches the logits'. */
static void test_packed_runner(void)
{
	enum { PB = 8, PT = 8 };
	struct sl_gpt_config cfg = {11, PT, 2, 2, 16, 0};
	struct sl_gpt g[3];
	struct sl_optim o[3];
	struct sl_gpt_run *r[3] = {NULL};
	struct sl_gpt_acts *a;
	int32_t ids[PB * PT], tg[PB * PT];
	double want = 0, got;

	for (int i = 0; i < PB * PT; i++) {
		ids[i] = (i * 7 + i / 9) % 11;
		tg[i] = (i * 5 + 1) % 11;
	}
	for (int k = 0; k < 3; k++) {
		sl_gpt_init(&g[k], &cfg);
		sl_gpt_init_weights(&g[k], 11);
		sl_optim_init(&o[k], SL_OPTIM_ADAMW);
		o[k].lr = 1e-2f;
		o[k].weight_decay = 0.1f;
	}
	/* g[0]: by hand; g[1]: one worker; g[2]: two workers */
	a = sl_gpt_acts_new(&g[0], PB, PT);
	r[1] = sl_gpt_run_new(&g[1], PB, PT, 1);
	r[2] = sl_gpt_run_new(&g[2], PB, PT, 2);
	for (int step = 0; step < 3; step++) {
		sl_params_zero_grad(&g[0].P);
		sl_gpt_forward(&g[0], a, ids, tg, 0, 1);
		sl_gpt_backward(&g[0], a, g[0].P.grad, ids, tg, 1.0f);
		sl_clip_grad_norm(g[0].P.grad, g[0].P.n, 0.5f);
		sl_optim_step(&o[0], g[0].P.data, g[0].P.m, g[0].P.v, g[0].P.grad, g[0].P.n,
		              g[0].P.ndecay);
		for (int k = 1; k < 3; k++) {
			sl_gpt_run_step(r[k], ids, tg, PB, 0);
			sl_gpt_run_update(r[k], &o[k], 0.5f);
		}
	}
	ok(!memcmp(g[0].P.data, g[1].P.data, g[0].P.n * sizeof *g[0].P.data),
	   "packed shares, one worker: three AdamW steps give the bits of the model by hand");
	ok(relerr(g[2].P.data, g[0].P.data, g[0].P.n) < 1e-5,
	   "packed shares, two workers: the same weights to float rounding (%.2g)",
	   relerr(g[2].P.data, g[0].P.data, g[0].P.n));
	{
		struct sl_gpt h;
		struct sl_optim oh;
		struct sl_gpt_run *rh;
		sl_gpt_init(&h, &cfg);
		sl_gpt_init_weights(&h, 11);
		sl_optim_init(&oh, SL_OPTIM_ADAMW);
		oh.lr = 1e-2f;
		oh.weight_decay = 0.1f;
		rh = sl_gpt_run_new(&h, PB, PT, 2);
		for (int step = 0; step < 3; step++) {
			sl_gpt_run_step(rh, ids, tg, PB, 0);
			sl_gpt_run_update(rh, &oh, 0.5f);
		}
		ok(!memcmp(h.P.data, g[2].P.data, h.P.n * sizeof *h.P.data),
		   "packed shares, two workers: a second run repeats the bits");
		sl_gpt_run_free(rh);
		sl_gpt_free(&h);
	}
	sl_gpt_forward(&g[2], a, ids, NULL, 0, 0);
	for (int i = 0; i < PB * PT; i++) {
		const float *z = a->logits + (size_t)i * 11;
		double s = 0;
		for (int v = 0; v < 11; v++)
			s += exp((double)z[v]);
		want += log(s) - z[tg[i]];
	}
	got = sl_gpt_run_loss(r[2], ids, tg, PB, NULL);
	ok(fabs(got - want) < 1e-5 * fabs(want),
	   "packed shares, two workers: evaluation loss %.6f matches the logits' %.6f", got,
	   want);
	sl_gpt_acts_free(a);
	for (int k = 0; k < 3; k++) {
		sl_gpt_run_free(r[k]);
		sl_gpt_free(&g[k]);
	}
}

int main(void)
{
	sl_init("gptrun-test");
	test_threads(0);
	test_threads(0.2f);
	test_small_batches();
	test_loss();
	test_update();
	test_packed_runner();
	return done_testing();
}
