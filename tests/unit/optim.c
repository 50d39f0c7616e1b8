/*
 * optim.c - unit tests of the optimizers, gradient clipping, the
 * learning-rate schedules and the parameter block, and one end-to-end run
 * that ties them to the layers.
 *
 * Each optimizer is stepped a few times on changing gradients and held
 * against its rule written out again here in double (the moments and the
 * bias corrections included): the largest difference, relative to the
 * largest parameter, stays below 1e-6, which is float rounding of a few
 * operations (a parameter that lands near zero after cancelling keeps the
 * absolute error of the terms it came from, hence not per element).  A few steps are also checked against numbers worked by
 * hand.  Without L1 the step runs vectorised (AVX-512, AVX2 or SSE2 as
 * the machine has): a block of odd length stepped whole must give the
 * bits of the same block stepped one element per call.  The cosine schedule is held against the formula of
 * ../shared/bench/torch_charlm.py (our PyTorch anchor), step by step.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NP = 6, NDECAY = 4 };

/* The same rules in double, one element at a time; m and v are the
 * moments, t the step (from 1). */
static double ref_step(const struct sl_optim *o, double p, double g,
                       double *m, double *v, int t, int decays)
{
	if (decays) {
		g += o->l2 * p + o->l1 * ((p > 0) - (p < 0));
		p -= (double)o->lr * o->weight_decay * p;
	}
	switch (o->kind) {
	case SL_OPTIM_SGD:
		return p - o->lr * g;
	case SL_OPTIM_MOMENTUM:
		*m = o->momentum * *m + g;
		return p - o->lr * *m;
	case SL_OPTIM_NESTEROV:
		*m = o->momentum * *m + g;
		return p - o->lr * (g + o->momentum * *m);
	case SL_OPTIM_ADAM:
	case SL_OPTIM_ADAMW:
		*m = o->beta1 * *m + (1 - o->beta1) * g;
		*v = o->beta2 * *v + (1 - o->beta2) * g * g;
		return p - o->lr * (*m / (1 - pow(o->beta1, t))) /
		               (sqrt(*v / (1 - pow(o->beta2, t))) + o->eps);
	case SL_OPTIM_RMSPROP:
		*v = o->alpha * *v + (1 - o->alpha) * g * g;
		return p - o->lr * g / (sqrt(*v) + o->eps);
	}
	return NAN;
}

/* The vectorised loops against one element per call (the scalar path
 * through the same code), bit for bit, over 1001 elements (a vector
 * remainder), the first 600 decayed, three steps of changing gradients. */
static void test_vector_same_bits(void)
{
	enum { N = 1001, ND = 600 };
	static float p1[N], m1[N], v1[N], p2[N], m2[N], v2[N], g[N];
	struct sl_rng r;

	for (int k = SL_OPTIM_SGD; k <= SL_OPTIM_RMSPROP; k++) {
		struct sl_optim o1, o2;
		int same = 1;
		sl_optim_init(&o1, (enum sl_optim_kind)k);
		o1.l2 = 0.01f;
		o1.weight_decay = 0.05f;
		o2 = o1;
		sl_rng_seed(&r, 7);
		for (int i = 0; i < N; i++) {
			p1[i] = p2[i] = (float)sl_rng_normal(&r);
			m1[i] = m2[i] = v1[i] = v2[i] = 0.0f;
		}
		for (int t = 0; t < 3; t++) {
			for (int i = 0; i < N; i++)
				g[i] = (float)sl_rng_normal(&r);
			g[5] = 0.0f; /* a zero gradient, a zero moment */
			sl_optim_step(&o1, p1, m1, v1, g, N, ND);
			for (int i = 0; i < N; i++) {
				struct sl_optim oi = o2;
				sl_optim_step(&oi, p2 + i, m2 + i, v2 + i, g + i, 1, i < ND);
			}
			o2.t++;
		}
		same = memcmp(p1, p2, sizeof p1) == 0 && memcmp(m1, m2, sizeof m1) == 0 &&
		       memcmp(v1, v2, sizeof v1) == 0;
		ok(same, "%s without L1: a block of %d stepped whole gives the bits of one "
		   "element per call", sl_optim_name((enum sl_optim_kind)k), N);
	}
}

static void test_against_reference(void)
{
	static const float p0[NP] = {0.5f, -1.25f, 2.0f, -0.03f, 0.7f, -0.2f};
	static const float grads[3][NP] = {
		{0.1f, -0.2f, 0.3f, 0.05f, -1.5f, 0.0f},
		{-0.3f, 0.25f, 0.3f, 0.01f, 0.5f, 2.0f},
		{0.2f, 0.1f, -0.4f, -0.02f, 0.0f, -1.0f},
	};
	/* plain, then with every penalty on (they touch [0, NDECAY) only) */
	for (int pen = 0; pen < 2; pen++)
		for (int k = SL_OPTIM_SGD; k <= SL_OPTIM_RMSPROP; k++) {
			struct sl_optim o;
			float p[NP], m[NP] = {0}, v[NP] = {0};
			double rp[NP], rm[NP] = {0}, rv[NP] = {0}, err = 0, big = 0;

			sl_optim_init(&o, (enum sl_optim_kind)k);
			o.lr = 0.05f;
			if (pen)
				o.l1 = 0.01f, o.l2 = 0.1f, o.weight_decay = 0.2f;
			for (int i = 0; i < NP; i++)
				p[i] = p0[i], rp[i] = p0[i];
			for (int t = 1; t <= 3; t++) {
				sl_optim_step(&o, p, m, v, grads[t - 1], NP, NDECAY);
				for (int i = 0; i < NP; i++) {
					rp[i] = ref_step(&o, rp[i], grads[t - 1][i], &rm[i],
					                 &rv[i], t, i < NDECAY);
					err = fmax(err, fabs(p[i] - rp[i]));
					big = fmax(big, fabs(rp[i]));
				}
			}
			err /= big;
			ok(err < 1e-6 && o.t == 3,
			   "%s%s: 3 steps follow the rule computed in double (err %.1e)",
			   sl_optim_name((enum sl_optim_kind)k),
			   pen ? " with l1, l2, weight decay" : "", err);
		}
}

static void test_by_hand(void)
{
	struct sl_optim o;
	float p[2], m[2] = {0}, v[2] = {0}, g[2] = {1, 1}, g0[2] = {0, 0};

	/* momentum 0.9, lr 0.1, g = 1: m 1 then 1.9; p 0.9 then 0.71 */
	sl_optim_init(&o, SL_OPTIM_MOMENTUM);
	o.lr = 0.1f, p[0] = 1, p[1] = 1;
	sl_optim_step(&o, p, m, v, g, 2, 0);
	sl_optim_step(&o, p, m, v, g, 2, 0);
	ok(fabsf(p[0] - 0.71f) < 1e-6f && fabsf(m[0] - 1.9f) < 1e-6f,
	   "momentum: two steps by hand (p %.7f, m %.7f)", p[0], m[0]);
	/* Nesterov: p 1 - 0.1 (1 + 0.9) = 0.81, then 0.81 - 0.1 (1 + 1.71) */
	sl_optim_init(&o, SL_OPTIM_NESTEROV);
	o.lr = 0.1f, p[0] = 1, m[0] = 0;
	sl_optim_step(&o, p, m, v, g, 1, 0);
	sl_optim_step(&o, p, m, v, g, 1, 0);
	ok(fabsf(p[0] - 0.539f) < 1e-6f, "nesterov: two steps by hand (p %.7f)",
	   p[0]);
	/* Adam's first step moves each parameter by lr * g / (|g| + eps) */
	sl_optim_init(&o, SL_OPTIM_ADAM);
	o.lr = 0.1f, p[0] = 1, p[1] = 1, m[0] = m[1] = v[0] = v[1] = 0;
	g[1] = -1e-3f;
	sl_optim_step(&o, p, m, v, g, 2, 0);
	ok(fabsf(p[0] - 0.9f) < 1e-7f &&
	       fabs(p[1] - (1 + 0.1 * 1e-3 / (1e-3 + 1e-8))) < 1e-7,
	   "adam: the first step is lr * sign(g) (%.7f, %.7f)", p[0], p[1]);
	/* AdamW decays a parameter with zero gradient by exactly 1 - lr wd;
	 * decay leaves the tail past ndecay alone. */
	sl_optim_init(&o, SL_OPTIM_ADAMW);
	o.lr = 0.1f, o.weight_decay = 0.5f, p[0] = 2, p[1] = 2;
	m[0] = m[1] = v[0] = v[1] = 0;
	sl_optim_step(&o, p, m, v, g0, 2, 1);
	ok(p[0] == 2 * (1 - 0.1f * 0.5f) && p[1] == 2,
	   "adamw: decoupled decay on [0, ndecay) only (%.7f, %.7f)", p[0], p[1]);
	/* Adam with l2 instead: the penalty is a gradient, normalised */
	sl_optim_init(&o, SL_OPTIM_ADAM);
	o.lr = 0.1f, o.l2 = 0.5f, p[0] = 2, m[0] = v[0] = 0;
	sl_optim_step(&o, p, m, v, g0, 1, 1);
	ok(fabsf(p[0] - 1.9f) < 1e-6f, "adam with l2: coupled penalty (%.7f)", p[0]);
	/* SGD with l1 moves by lr * l1 toward zero and leaves zero at zero */
	sl_optim_init(&o, SL_OPTIM_SGD);
	o.lr = 0.5f, o.l1 = 0.1f, p[0] = -1, p[1] = 0;
	sl_optim_step(&o, p, NULL, NULL, g0, 2, 2);
	ok(p[0] == -0.95f && p[1] == 0, "sgd with l1 (%.7f, %.7f)", p[0], p[1]);
}

static void test_clip(void)
{
	float g[3] = {3, 0, 4}, h[2] = {0.3f, 0.4f}, norm;

	norm = sl_clip_grad_norm(g, 3, 1);
	ok(norm == 5 && fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[2] - 0.8f) < 1e-6f,
	   "clip: norm 5 to 1 (%.7f, %.7f)", g[0], g[2]);
	norm = sl_clip_grad_norm(h, 2, 1);
	ok(fabsf(norm - 0.5f) < 1e-7f && h[0] == 0.3f && h[1] == 0.4f,
	   "clip: a norm below the limit is left alone");
}

/* torch_charlm.py's lr_at(), the anchor's schedule */
static double anchor_lr(int it)
{
	double lr = 1e-3, lo = 1e-4;
	int wu = 100, total = 2000;

	if (it < wu)
		return lr * (it + 1) / (wu + 1);
	if (it > total)
		return lo;
	return lo + 0.5 * (1 + cos(M_PI * (double)(it - wu) / (total - wu))) *
	                (lr - lo);
}

static void test_sched(void)
{
	struct sl_sched s;
	enum sl_sched_kind k;
	double err = 0;
	int r[8];

	sl_sched_init(&s, SL_SCHED_CONSTANT, 0.1f);
	ok(sl_sched_lr(&s, 0) == 0.1f && sl_sched_lr(&s, 1000000) == 0.1f,
	   "constant");
	sl_sched_init(&s, SL_SCHED_STEP, 0.1f);
	s.every = 3, s.gamma = 0.5f;
	ok(sl_sched_lr(&s, 2) == 0.1f && sl_sched_lr(&s, 3) == 0.05f &&
	       sl_sched_lr(&s, 6) == 0.025f,
	   "step: halves every 3 steps");
	s.warmup = 4;
	ok(fabsf(sl_sched_lr(&s, 0) - 0.02f) < 1e-9f &&
	       fabsf(sl_sched_lr(&s, 3) - 0.08f) < 1e-9f &&
	       sl_sched_lr(&s, 4) == 0.1f && sl_sched_lr(&s, 7) == 0.05f,
	   "step with warmup: linear ramp, then its own clock");
	sl_sched_init(&s, SL_SCHED_EXP, 1.0f);
	s.gamma = 0.9f;
	ok(fabsf(sl_sched_lr(&s, 10) - 0.34867844f) < 1e-6f,
	   "exp: 0.9^10 (%.8f)", sl_sched_lr(&s, 10));
	sl_sched_init(&s, SL_SCHED_COSINE, 1e-3f);
	s.warmup = 100, s.total = 2000, s.min_lr = 1e-4f;
	for (int it = 0; it < 2100; it++)
		err = fmax(err, fabs(sl_sched_lr(&s, it) - anchor_lr(it)) / anchor_lr(it));
	ok(err < 1e-6, "cosine with warmup equals torch_charlm.py's lr_at (err %.1e)",
	   err);

	/* plateau, patience 2, factor 0.5, floor 0.02: the third observation
	 * in a row without a 1e-4 relative improvement halves the rate */
	sl_sched_init(&s, SL_SCHED_PLATEAU, 0.1f);
	s.patience = 2, s.factor = 0.5f, s.min_lr = 0.02f;
	{
		float metric[8] = {1.0f, 0.9f, 0.95f, 0.89995f, 0.91f, 0.5f, 0.6f, 0.6f};
		for (int i = 0; i < 8; i++)
			r[i] = sl_sched_observe(&s, metric[i]);
	}
	ok(!r[0] && !r[1] && !r[2] && !r[3] && r[4] && !r[5] && !r[6] && !r[7] &&
	       sl_sched_lr(&s, 99) == 0.05f,
	   "plateau: lowers the rate after patience observations (lr %g)",
	   sl_sched_lr(&s, 99));
	for (int i = 0; i < 20; i++)
		sl_sched_observe(&s, 0.7f);
	ok(sl_sched_lr(&s, 0) == 0.02f, "plateau: never below min_lr (%g)",
	   sl_sched_lr(&s, 0));
	sl_sched_init(&s, SL_SCHED_PLATEAU, 0.1f);
	s.patience = 0, s.maximize = 1;
	ok(!sl_sched_observe(&s, 0.5f) && !sl_sched_observe(&s, 0.6f) &&
	       sl_sched_observe(&s, 0.59f),
	   "plateau: maximize counts a fall as no improvement");
	ok(sl_sched_parse(&k, "cosine") == 0 && k == SL_SCHED_COSINE &&
	       sl_sched_parse(&k, "linear") < 0,
	   "schedule names parse");
}

static void test_params(void)
{
	struct sl_params P = {0};
	int s1[2] = {4, 3}, sb1[1] = {4}, s2[2] = {2, 4}, sb2[1] = {2};
	int w1 = sl_params_add(&P, "w1", 1, 2, s1);
	int b1 = sl_params_add(&P, "b1", 0, 1, sb1);
	int w2 = sl_params_add(&P, "w2", 1, 2, s2);
	int b2 = sl_params_add(&P, "b2", 0, 1, sb2);
	enum sl_optim_kind k;
	int names = 1;

	sl_params_alloc(&P);
	ok(P.n == 26 && P.ndecay == 20 && P.t[w1].off == 0 && P.t[w2].off == 12 &&
	       P.t[b1].off == 20 && P.t[b2].off == 24,
	   "params: weights first, then the rest, each in order added");
	ok(sl_params_find(&P, "w2") == w2 && sl_params_find(&P, "w3") < 0 &&
	       sl_params_data(&P, b1) == P.data + 20 &&
	       sl_params_grad(&P, w2) == P.grad + 12,
	   "params: views by name and index");
	P.grad[25] = 1;
	sl_params_zero_grad(&P);
	ok(P.grad[25] == 0 && P.data[0] == 0 && P.m[25] == 0 && P.v[25] == 0,
	   "params: blocks start zeroed; zero_grad clears the gradients");
	sl_params_free(&P);
	for (int i = SL_OPTIM_SGD; i <= SL_OPTIM_RMSPROP; i++)
		names &= sl_optim_parse(&k, sl_optim_name((enum sl_optim_kind)i)) == 0 &&
		         k == (enum sl_optim_kind)i;
	ok(names && sl_optim_parse(&k, "lbfgs") < 0, "optimizer names round-trip");
}

/* A 2-16-2 tanh MLP learns XOR: the whole tensor core in one loop (init,
 * linear, tanh, cross-entropy, backward, clipping, Adam, schedule).  Run
 * twice from the same seed it must give the same bytes. */
static float xor_run(uint64_t seed, float *final, size_t *nfinal)
{
	static const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
	static const int32_t y[4] = {0, 1, 1, 0};
	struct sl_params P = {0};
	struct sl_optim o;
	struct sl_sched s;
	struct sl_rng r;
	struct sl_init_spec he, zero = {SL_INIT_ZEROS, 0};
	int sw1[2] = {16, 2}, sb1[1] = {16}, sw2[2] = {2, 16}, sb2[1] = {2};
	int w1 = sl_params_add(&P, "w1", 1, 2, sw1), b1 = sl_params_add(&P, "b1", 0, 1, sb1);
	int w2 = sl_params_add(&P, "w2", 1, 2, sw2), b2 = sl_params_add(&P, "b2", 0, 1, sb2);
	float h[64], a[64], logits[8], probs[8], dlogits[8], da[64], dh[64];
	float loss = 0;

	sl_params_alloc(&P);
	sl_rng_seed(&r, seed);
	sl_init_parse(&he, "xavier_uniform");
	sl_init_fill(sl_params_data(&P, w1), &r, he, 32, 2, 16);
	sl_init_fill(sl_params_data(&P, w2), &r, he, 32, 16, 2);
	sl_init_fill(sl_params_data(&P, b1), &r, zero, 16, 0, 0);
	sl_optim_init(&o, SL_OPTIM_ADAMW);
	o.weight_decay = 1e-4f;
	sl_sched_init(&s, SL_SCHED_COSINE, 0.05f);
	s.warmup = 10, s.total = 300, s.min_lr = 0.005f;
	for (int step = 0; step < 300; step++) {
		sl_linear_forward(h, x, sl_params_data(&P, w1), sl_params_data(&P, b1),
		                  4, 2, 16);
		sl_tanh_forward(a, h, 64);
		sl_linear_forward(logits, a, sl_params_data(&P, w2),
		                  sl_params_data(&P, b2), 4, 16, 2);
		loss = sl_softmax_xent_forward(probs, logits, y, 4, 2);
		sl_params_zero_grad(&P);
		memset(dlogits, 0, sizeof dlogits);
		memset(da, 0, sizeof da);
		memset(dh, 0, sizeof dh);
		sl_softmax_xent_backward(dlogits, 1, probs, y, 4, 2);
		sl_linear_backward(da, sl_params_grad(&P, w2), sl_params_grad(&P, b2),
		                   dlogits, a, sl_params_data(&P, w2), 4, 16, 2);
		sl_tanh_backward(dh, da, a, 64);
		sl_linear_backward(NULL, sl_params_grad(&P, w1), sl_params_grad(&P, b1),
		                   dh, x, sl_params_data(&P, w1), 4, 2, 16);
		sl_clip_grad_norm(P.grad, P.n, 1.0f);
		o.lr = sl_sched_lr(&s, step);
		sl_optim_step(&o, P.data, P.m, P.v, P.grad, P.n, P.ndecay);
	}
	memcpy(final, P.data, P.n * sizeof *final);
	*nfinal = P.n;
	sl_params_free(&P);
	return loss;
}

static void test_xor(void)
{
	float a[128], b[128];
	size_t na, nb;
	float la = xor_run(3, a, &na), lb = xor_run(3, b, &nb);

	ok(la < 0.02f, "a tanh MLP learns XOR with AdamW and cosine (loss %.5f)", la);
	ok(la == lb && na == nb && !memcmp(a, b, na * sizeof *a),
	   "the same seed trains to the same bytes");
}

int main(void)
{
	sl_blas_threads(1);
	test_against_reference();
	test_vector_same_bits();
	test_by_hand();
	test_clip();
	test_sched();
	test_params();
	test_xor();
	return done_testing();
}
