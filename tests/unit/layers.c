/*
 * layers.c - unit tests of the layers and losses.
 *
 * The core is one gradient checker, used on every layer and loss, for
 * every input and weight it differentiates.  It turns a layer into the
 * scalar L = sum_i r_i * y_i (r fixed random, so every output counts with
 * its own weight; for a loss, y is the scalar loss and r is the dloss),
 * runs the backward with dy = r, and compares each gradient element with
 * the four-point central difference
 *
 *     dL/dx ~ (8 (L(x+h) - L(x-h)) - (L(x+2h) - L(x-2h))) / (12 h)
 *
 * of the float forward, accumulated in double, h = 2^-7 (2^-5 for the
 * losses, whose one float output rounds more coarsely relative to each
 * input's share of it).  The truncation error is O(h^4), far below float
 * rounding, so the error left is rounding: 1e-5 to 1e-4 of the gradient's
 * scale.  The error of a tensor is
 * max |analytic - numeric| / max(max |numeric|, 1e-2), and each case
 * states its tolerance (1e-3 for all today).  Inputs of the piecewise ops
 * (ReLU, max-pool, MAE, Huber, hinge) are drawn more than 2h from their
 * kinks, so the differences never straddle one.  The checker runs
 * the backward a second time onto random gradients already present, to
 * check that it accumulates (+=) rather than overwrites.  And it is shown
 * to fail: a backward that is off by 1% is caught.
 *
 * The fast kernels are also held against naive loops (conv2d forward and
 * backward against direct convolution, max-pool against a scan, linear
 * against the sum), the fused cross-entropy against a log-softmax computed
 * independently in double, and dropout's mask against its seed.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct sl_rng rng;

static float *fvec(size_t n)
{
	return sl_xcalloc(n, sizeof(float));
}

static void fill_normal(float *x, size_t n, double sigma)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(sigma * sl_rng_normal(&rng));
}

/* Normal values at least `gap` away from every kink in kinks[0..nk). */
static void fill_away(float *x, size_t n, double sigma, const float *kinks,
                      int nk, float gap)
{
	for (size_t i = 0; i < n; i++) {
		int near;
		do {
			x[i] = (float)(sigma * sl_rng_normal(&rng));
			near = 0;
			for (int k = 0; k < nk; k++)
				near |= fabsf(x[i] - kinks[k]) < gap;
		} while (near);
	}
}

static double max_abs(const double *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

/* ------------------------------------------------------ gradient checker */

#define MAXT 4

struct gcheck {
	const char *name;
	int nt;                     /* differentiable tensors */
	const char *tname[MAXT];
	float *x[MAXT];
	size_t n[MAXT];
	float *y;                   /* the output the forward writes */
	size_t ny;
	void (*forward)(const struct gcheck *g);
	/* accumulates into dx[k] for each tensor k */
	void (*backward)(const struct gcheck *g, float *const *dx, const float *dy);
	void *ctx;                  /* the case's sizes and caches */
	double tol;
	double h;                   /* the step; 0 for 2^-7 */
};

static void gc_add(struct gcheck *g, const char *name, float *x, size_t n)
{
	SL_ASSERT(g->nt < MAXT);
	g->tname[g->nt] = name;
	g->x[g->nt] = x;
	g->n[g->nt] = n;
	g->nt++;
}

static double objective(const struct gcheck *g, const float *r)
{
	double L = 0;

	g->forward(g);
	for (size_t i = 0; i < g->ny; i++)
		L += (double)r[i] * g->y[i];
	return L;
}

/* Runs the checks on g, reporting one TAP line per tensor plus one for
 * accumulation; returns the worst error over the tensors. */
static double gradcheck(const struct gcheck *g, int report)
{
	float *r = fvec(g->ny), *dx[MAXT], *acc[MAXT], *pre[MAXT];
	double worst = 0, acc_err = 0;

	if (g->ny == 1)
		r[0] = 0.75f; /* a loss: dloss != 1 checks its scaling */
	else
		fill_normal(r, g->ny, 1.0);

	g->forward(g);
	for (int k = 0; k < g->nt; k++) {
		dx[k] = fvec(g->n[k]);
		acc[k] = fvec(g->n[k]);
		pre[k] = fvec(g->n[k]);
		fill_normal(pre[k], g->n[k], 1.0);
		memcpy(acc[k], pre[k], g->n[k] * sizeof(float));
	}
	g->backward(g, dx, r);
	g->backward(g, acc, r);

	for (int k = 0; k < g->nt; k++) {
		double *num = sl_xcalloc(g->n[k], sizeof(double)), scale, err = 0;
		float *x = g->x[k];
		size_t worst_i = 0;
		double h = g->h ? g->h : 1.0 / 128;

		for (size_t i = 0; i < g->n[k]; i++) {
			float save = x[i];
			double lp1, lm1, lp2, lm2;

			x[i] = (float)(save + h), lp1 = objective(g, r);
			x[i] = (float)(save - h), lm1 = objective(g, r);
			x[i] = (float)(save + 2 * h), lp2 = objective(g, r);
			x[i] = (float)(save - 2 * h), lm2 = objective(g, r);
			x[i] = save;
			num[i] = (8 * (lp1 - lm1) - (lp2 - lm2)) / (12 * h);
		}
		scale = fmax(max_abs(num, g->n[k]), 1e-2);
		for (size_t i = 0; i < g->n[k]; i++) {
			double e = fabs(dx[k][i] - num[i]) / scale;
			if (e > err)
				err = e, worst_i = i;
			/* accumulation: acc = pre + dx up to float rounding */
			acc_err = fmax(acc_err, fabs((double)acc[k][i] - pre[k][i] -
			                             dx[k][i]) /
			                            (fabs(pre[k][i]) + fabs(dx[k][i]) + 1e-30));
		}
		if (report && !ok(err <= g->tol,
		                  "%s: d%s matches finite differences (err %.1e, tol %.0e)",
		                  g->name, g->tname[k], err, g->tol))
			printf("#   element %zu: analytic %.8g, numeric %.8g\n", worst_i,
			       dx[k][worst_i], num[worst_i]);
		worst = fmax(worst, err);
		free(num);
	}
	if (report)
		ok(acc_err < 1e-6, "%s: backward accumulates into gradients (err %.1e)",
		   g->name, acc_err);
	g->forward(g); /* leave the caches of the unperturbed input */
	for (int k = 0; k < g->nt; k++)
		free(dx[k]), free(acc[k]), free(pre[k]);
	free(r);
	return worst;
}

/* ------------------------------------------------------------ the cases */

/* One context serves every case: sizes, parameters, caches. */
struct ctx {
	int B, C, OC, V, H, W, K, S;
	float *in, *w, *bias, *cache, *cache2, *target;
	int32_t *ids, *argmax;
	struct sl_conv2d conv;
	float p, delta;
	int scale_bug; /* the broken backward of the self-test */
};

#define CTX(g) ((struct ctx *)(g)->ctx)

static void linear_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	sl_linear_forward(g->y, c->in, c->w, c->bias, c->B, c->C, c->OC);
}

static void linear_bwd(const struct gcheck *g, float *const *dx, const float *dy)
{
	struct ctx *c = CTX(g);
	sl_linear_backward(dx[0], dx[1], dx[2], dy, c->in, c->w, c->B, c->C, c->OC);
}

static void test_linear(void)
{
	struct ctx c = {.B = 3, .C = 5, .OC = 4};
	struct gcheck g = {.name = "linear", .forward = linear_fwd,
	                   .backward = linear_bwd, .ctx = &c, .tol = 1e-3};
	float *y;
	double err = 0;

	c.in = fvec(15), c.w = fvec(20), c.bias = fvec(4);
	fill_normal(c.in, 15, 1), fill_normal(c.w, 20, 1), fill_normal(c.bias, 4, 1);
	g.y = y = fvec(12), g.ny = 12;
	gc_add(&g, "in", c.in, 15);
	gc_add(&g, "w", c.w, 20);
	gc_add(&g, "bias", c.bias, 4);
	gradcheck(&g, 1);

	/* against the sum itself, with and without a bias */
	for (int with_bias = 0; with_bias < 2; with_bias++) {
		sl_linear_forward(y, c.in, c.w, with_bias ? c.bias : NULL, 3, 5, 4);
		for (int b = 0; b < 3; b++)
			for (int o = 0; o < 4; o++) {
				double s = with_bias ? c.bias[o] : 0;
				for (int i = 0; i < 5; i++)
					s += (double)c.in[b * 5 + i] * c.w[o * 5 + i];
				err = fmax(err, fabs(y[b * 4 + o] - s));
			}
	}
	ok(err < 1e-5, "linear forward equals the naive sum (err %.1e)", err);
	free(c.in), free(c.w), free(c.bias), free(y);
}

/* Element-wise ops share one pair of callbacks, told apart by name. */
static void act_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	size_t n = g->ny;

	if (!strcmp(g->name, "relu"))
		sl_relu_forward(g->y, c->in, n);
	else if (!strcmp(g->name, "gelu"))
		sl_gelu_forward(g->y, c->in, n);
	else if (!strcmp(g->name, "tanh"))
		sl_tanh_forward(g->y, c->in, n);
	else if (!strcmp(g->name, "sigmoid") || !strcmp(g->name, "broken sigmoid"))
		sl_sigmoid_forward(g->y, c->in, n);
	else if (!strcmp(g->name, "dropout"))
		sl_dropout_forward(g->y, c->cache, c->in, c->p, 42, n);
	else if (!strcmp(g->name, "flatten"))
		sl_flatten_forward(g->y, c->in, n);
	else
		SL_ASSERT(!"unknown activation");
}

static void act_bwd(const struct gcheck *g, float *const *dx, const float *dy)
{
	struct ctx *c = CTX(g);
	size_t n = g->ny;

	if (!strcmp(g->name, "relu"))
		sl_relu_backward(dx[0], dy, c->in, n);
	else if (!strcmp(g->name, "gelu"))
		sl_gelu_backward(dx[0], dy, c->in, n);
	else if (!strcmp(g->name, "tanh"))
		sl_tanh_backward(dx[0], dy, g->y, n);
	else if (!strcmp(g->name, "sigmoid"))
		sl_sigmoid_backward(dx[0], dy, g->y, n);
	else if (!strcmp(g->name, "broken sigmoid")) {
		/* 1% too large: the checker must notice */
		float *d = fvec(n);
		sl_sigmoid_backward(d, dy, g->y, n);
		for (size_t i = 0; i < n; i++)
			dx[0][i] += 1.01f * d[i];
		free(d);
	} else if (!strcmp(g->name, "dropout"))
		sl_dropout_backward(dx[0], dy, c->cache, n);
	else if (!strcmp(g->name, "flatten"))
		sl_flatten_backward(dx[0], dy, n);
}

static double check_act(const char *name, int report)
{
	enum { N = 24 };
	const float kink = 0;
	struct ctx c = {.p = 0.3f};
	struct gcheck g = {.name = name, .forward = act_fwd, .backward = act_bwd,
	                   .ctx = &c, .tol = 1e-3};
	double err;

	c.in = fvec(N), c.cache = fvec(N);
	fill_away(c.in, N, 1.5, &kink, 1, 0.05f);
	g.y = fvec(N), g.ny = N;
	gc_add(&g, "in", c.in, N);
	err = gradcheck(&g, report);
	free(c.in), free(c.cache), free(g.y);
	return err;
}

static void test_activations(void)
{
	const char *names[] = {"relu", "gelu", "tanh", "sigmoid", "dropout",
	                       "flatten"};
	float x[] = {-3, -1, -0.5f, 0, 0.5f, 1, 3, -20, 20};
	float y[9], in_out[4] = {1, 2, 3, 4}, d[4] = {1, 1, 1, 1};
	double err;

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		check_act(names[i], 1);
	err = check_act("broken sigmoid", 0);
	ok(err > 1e-3, "the checker catches a backward that is 1%% off (err %.1e)",
	   err);

	/* GELU is the exact erf form (PyTorch's default), not the tanh
	 * approximation: values from x * Phi(x) in double. */
	sl_gelu_forward(y, x, 9);
	err = 0;
	for (int i = 0; i < 9; i++)
		err = fmax(err, fabs(y[i] - 0.5 * x[i] * (1 + erf(x[i] / sqrt(2)))));
	ok(err < 1e-6, "gelu is x * Phi(x) (err %.1e)", err);
	sl_sigmoid_forward(y, x, 9);
	ok(y[7] > 0 && y[7] < 1e-8 && y[8] == 1.0f && y[3] == 0.5f,
	   "sigmoid is stable at +-20 and exact at 0");

	/* flatten as a view: both calls leave the shared buffer alone */
	sl_flatten_forward(in_out, in_out, 4);
	sl_flatten_backward(d, d, 4);
	ok(in_out[3] == 4 && d[3] == 1, "flatten on a view changes nothing");
}

static void test_dropout(void)
{
	enum { N = 100000 };
	float *in = fvec(N), *out = fvec(N), *m1 = fvec(N), *m2 = fvec(N);
	size_t kept = 0, same = 0, scaled = 1, equal = 1;
	float p = 0.3f;

	for (size_t i = 0; i < N; i++)
		in[i] = 1.0f + (float)(i % 7);
	sl_dropout_forward(out, m1, in, p, 1234, N);
	sl_dropout_forward(out, m2, in, p, 1234, N);
	ok(memcmp(m1, m2, N * sizeof(float)) == 0, "dropout: same seed, same mask");
	for (size_t i = 0; i < N; i++) {
		kept += m1[i] != 0;
		scaled &= m1[i] == 0 || m1[i] == 1 / (1 - p);
		scaled &= out[i] == in[i] * m1[i];
	}
	/* the kept fraction is binomial: sd sqrt(p(1-p)/N) = 0.0014 */
	ok(fabs((double)kept / N - (1 - p)) < 0.01,
	   "dropout keeps 1-p of the values (%.4f)", (double)kept / N);
	ok(scaled, "dropout scales kept values by 1/(1-p)");
	sl_dropout_forward(out, m2, in, p, 1235, N);
	for (size_t i = 0; i < N; i++)
		same += (m1[i] != 0) == (m2[i] != 0);
	/* two independent masks agree on p^2 + (1-p)^2 = 58% of the values */
	ok(fabs((double)same / N - 0.58) < 0.01,
	   "dropout: another seed, an independent mask (%.4f agree)",
	   (double)same / N);
	/* the mask of element i depends on (seed, i) alone */
	sl_dropout_forward(out, m2, in, p, 1234, 1000);
	ok(memcmp(m1, m2, 1000 * sizeof(float)) == 0,
	   "dropout: a shorter call draws the same leading mask");
	sl_dropout_forward(out, m2, in, 0.0f, 99, N);
	for (size_t i = 0; i < N; i++)
		equal &= out[i] == in[i];
	ok(equal, "dropout with p = 0 is the identity");
	free(in), free(out), free(m1), free(m2);
}

static void layernorm_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	sl_layernorm_forward(g->y, c->cache, c->cache2, c->in, c->w, c->bias, c->B,
	                     c->C);
}

static void layernorm_bwd(const struct gcheck *g, float *const *dx,
                          const float *dy)
{
	struct ctx *c = CTX(g);
	sl_layernorm_backward(dx[0], dx[1], dx[2], dy, c->in, c->w, c->cache,
	                      c->cache2, c->B, c->C);
}

/* B rows of C: C = 7 takes the loops; a multiple of 16 takes the AVX-512
 * build where the CPU has it, B = 6 its 4-row step and 2 rows after */
static void test_layernorm(int B, int C)
{
	struct ctx c = {.B = B, .C = C};
	struct gcheck g = {.name = "layernorm", .forward = layernorm_fwd,
	                   .backward = layernorm_bwd, .ctx = &c, .tol = 1e-3};
	int n = B * C;
	double m = 0, v = 0;

	c.in = fvec(n), c.w = fvec(C), c.bias = fvec(C);
	c.cache = fvec(B), c.cache2 = fvec(B);
	fill_normal(c.in, n, 2), fill_normal(c.w, C, 1), fill_normal(c.bias, C, 1);
	for (int i = 0; i < n; i++)
		c.in[i] += 3; /* a mean to remove */
	g.y = fvec(n), g.ny = n;
	gc_add(&g, "in", c.in, n);
	gc_add(&g, "weight", c.w, C);
	gc_add(&g, "bias", c.bias, C);
	gradcheck(&g, 1);
	{
		/* din NULL: the weight gradients alone, the same values */
		float *dw1 = fvec(C), *db1 = fvec(C), *dw2 = fvec(C), *db2 = fvec(C);
		float *din = fvec(n), *dy = fvec(n);
		fill_normal(dy, n, 1);
		layernorm_fwd(&g);
		sl_layernorm_backward(din, dw1, db1, dy, c.in, c.w, c.cache, c.cache2, B, C);
		sl_layernorm_backward(NULL, dw2, db2, dy, c.in, c.w, c.cache, c.cache2, B, C);
		ok(!memcmp(dw1, dw2, C * sizeof *dw1) && !memcmp(db1, db2, C * sizeof *db1),
		   "layernorm %dx%d: backward with din NULL", B, C);
		free(din), free(dy), free(dw1), free(db1), free(dw2), free(db2);
	}

	/* with unit gain and no bias a row comes out with mean 0, variance 1 */
	for (int i = 0; i < C; i++)
		c.w[i] = 1, c.bias[i] = 0;
	sl_layernorm_forward(g.y, c.cache, c.cache2, c.in, c.w, c.bias, B, C);
	for (int r = 0; r < B; r++) {
		m = v = 0;
		for (int i = 0; i < C; i++)
			m += g.y[r * C + i];
		for (int i = 0; i < C; i++)
			v += (g.y[r * C + i] - m / C) * (g.y[r * C + i] - m / C);
		if (!(fabs(m / C) < 1e-6 && fabs(v / C - 1) < 1e-3))
			break;
	}
	ok(fabs(m / C) < 1e-6 && fabs(v / C - 1) < 1e-3,
	   "layernorm %dx%d: every row has mean 0 and variance 1 (last checked %.1e, %.6f)",
	   B, C, m / C, v / C);
	free(c.in), free(c.w), free(c.bias), free(c.cache), free(c.cache2),
	    free(g.y);
}

static void embedding_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	sl_embedding_forward(g->y, c->ids, c->w, c->B, c->C, c->V);
}

static void embedding_bwd(const struct gcheck *g, float *const *dx,
                          const float *dy)
{
	struct ctx *c = CTX(g);
	sl_embedding_backward(dx[0], dy, c->ids, c->B, c->C);
}

static void test_embedding(void)
{
	int32_t ids[6] = {3, 0, 3, 4, 1, 3}; /* repeats accumulate; 2 unused */
	struct ctx c = {.B = 6, .C = 3, .V = 5, .ids = ids};
	struct gcheck g = {.name = "embedding", .forward = embedding_fwd,
	                   .backward = embedding_bwd, .ctx = &c, .tol = 1e-3};

	c.w = fvec(15);
	fill_normal(c.w, 15, 1);
	g.y = fvec(18), g.ny = 18;
	gc_add(&g, "table", c.w, 15);
	gradcheck(&g, 1);
	ok(g.y[2 * 3 + 1] == c.w[3 * 3 + 1], "embedding copies the table row");
	free(c.w), free(g.y);
}

static void softmax_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	sl_softmax_forward(g->y, c->in, c->B, c->V);
}

static void softmax_bwd(const struct gcheck *g, float *const *dx,
                        const float *dy)
{
	struct ctx *c = CTX(g);
	sl_softmax_backward(dx[0], dy, g->y, c->B, c->V);
}

static void test_softmax(void)
{
	struct ctx c = {.B = 3, .V = 5};
	struct gcheck g = {.name = "softmax", .forward = softmax_fwd,
	                   .backward = softmax_bwd, .ctx = &c, .tol = 1e-3};

	c.in = fvec(15);
	fill_normal(c.in, 15, 2);
	g.y = fvec(15), g.ny = 15;
	gc_add(&g, "logits", c.in, 15);
	gradcheck(&g, 1);
	free(c.in), free(g.y);
}

/* ---------------------------------------------------------------- conv2d */

static void conv_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	sl_conv2d_forward(g->y, c->cache, c->in, c->w, c->bias, &c->conv, c->B);
}

static void conv_bwd(const struct gcheck *g, float *const *dx, const float *dy)
{
	struct ctx *c = CTX(g);
	sl_conv2d_backward(dx[0], dx[1], dx[2], dy, c->w, c->cache, &c->conv, c->B);
}

/* Direct convolution, in double: out[b][o][y][x] = bias[o] +
 * sum over i, kh, kw of w[o][i][kh][kw] * in[b][i][y*S-P+kh][x*S-P+kw]. */
#define AT4(p, d1, d2, d3, a, b, c, d) \
	(p)[(((size_t)(a) * (d1) + (b)) * (d2) + (c)) * (d3) + (d)]

static void conv_naive(double *out, double *din, double *dw, double *dbias,
                       const float *dout, const float *in, const float *w,
                       const float *bias, const struct sl_conv2d *cv, int B)
{
	for (int b = 0; b < B; b++)
		for (int o = 0; o < cv->OC; o++)
			for (int y = 0; y < cv->OH; y++)
				for (int x = 0; x < cv->OW; x++) {
					double s = bias[o];
					float d = AT4(dout, cv->OC, cv->OH, cv->OW, b, o, y, x);
					dbias[o] += d;
					for (int i = 0; i < cv->IC; i++)
						for (int kh = 0; kh < cv->KH; kh++)
							for (int kw = 0; kw < cv->KW; kw++) {
								int ih = y * cv->stride - cv->pad + kh;
								int iw = x * cv->stride - cv->pad + kw;
								if (ih < 0 || ih >= cv->H || iw < 0 || iw >= cv->W)
									continue;
								s += (double)AT4(w, cv->IC, cv->KH, cv->KW, o, i, kh, kw) *
								     AT4(in, cv->IC, cv->H, cv->W, b, i, ih, iw);
								AT4(dw, cv->IC, cv->KH, cv->KW, o, i, kh, kw) +=
								    (double)d * AT4(in, cv->IC, cv->H, cv->W, b, i, ih, iw);
								AT4(din, cv->IC, cv->H, cv->W, b, i, ih, iw) +=
								    (double)d * AT4(w, cv->IC, cv->KH, cv->KW, o, i, kh, kw);
							}
					AT4(out, cv->OC, cv->OH, cv->OW, b, o, y, x) = s;
				}
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const double *b, size_t n)
{
	double e = 0, m = 1e-30;
	for (size_t i = 0; i < n; i++)
		e = fmax(e, fabs(a[i] - b[i])), m = fmax(m, fabs(b[i]));
	return e / m;
}

static void test_conv2d(void)
{
	/* IC, H, W, OC, KH, KW, stride, pad */
	static const int shapes[][8] = {
		{2, 5, 6, 3, 3, 3, 1, 1}, /* "same" padding */
		{2, 6, 5, 2, 3, 2, 2, 1}, /* stride 2, a non-square kernel */
		{1, 4, 4, 2, 2, 2, 2, 0}, /* no padding */
	};
	static const int big[][8] = {
		{3, 11, 9, 5, 3, 3, 1, 1},
		{4, 12, 13, 6, 5, 3, 2, 2},
	};
	struct sl_conv2d bad;

	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		const int *d = shapes[s];
		struct ctx c = {.B = 2};
		struct gcheck g = {.forward = conv_fwd, .backward = conv_bwd,
		                   .ctx = &c, .tol = 1e-3};
		char name[64];
		size_t nin, nw, nout;

		SL_ASSERT(sl_conv2d_init(&c.conv, d[0], d[1], d[2], d[3], d[4], d[5],
		                         d[6], d[7]) == 0);
		snprintf(name, sizeof name, "conv2d %dx%d stride %d pad %d", d[4], d[5],
		         d[6], d[7]);
		g.name = name;
		nin = (size_t)c.B * d[0] * d[1] * d[2];
		nw = (size_t)d[3] * d[0] * d[4] * d[5];
		nout = (size_t)c.B * d[3] * c.conv.OH * c.conv.OW;
		c.in = fvec(nin), c.w = fvec(nw), c.bias = fvec(d[3]);
		c.cache = fvec(sl_conv2d_col_size(&c.conv, c.B));
		fill_normal(c.in, nin, 1), fill_normal(c.w, nw, 1);
		fill_normal(c.bias, d[3], 1);
		g.y = fvec(nout), g.ny = nout;
		gc_add(&g, "in", c.in, nin);
		gc_add(&g, "w", c.w, nw);
		gc_add(&g, "bias", c.bias, d[3]);
		gradcheck(&g, 1);
		free(c.in), free(c.w), free(c.bias), free(c.cache), free(g.y);
	}

	/* im2col + sgemm against direct convolution, forward and backward */
	for (size_t s = 0; s < sizeof big / sizeof *big; s++) {
		const int *d = big[s], B = 3;
		struct sl_conv2d cv;
		size_t nin, nw, nout;
		float *in, *w, *bias, *col, *out, *dout, *din, *dw, *dbias;
		double *rout, *rdin, *rdw, *rdbias, e1, e2, e3, e4;

		SL_ASSERT(sl_conv2d_init(&cv, d[0], d[1], d[2], d[3], d[4], d[5], d[6],
		                         d[7]) == 0);
		nin = (size_t)B * d[0] * d[1] * d[2];
		nw = (size_t)d[3] * d[0] * d[4] * d[5];
		nout = (size_t)B * d[3] * cv.OH * cv.OW;
		in = fvec(nin), w = fvec(nw), bias = fvec(d[3]), out = fvec(nout);
		dout = fvec(nout), din = fvec(nin), dw = fvec(nw), dbias = fvec(d[3]);
		col = fvec(sl_conv2d_col_size(&cv, B));
		rout = sl_xcalloc(nout, sizeof(double));
		rdin = sl_xcalloc(nin, sizeof(double));
		rdw = sl_xcalloc(nw, sizeof(double));
		rdbias = sl_xcalloc(d[3], sizeof(double));
		fill_normal(in, nin, 1), fill_normal(w, nw, 1);
		fill_normal(bias, d[3], 1), fill_normal(dout, nout, 1);
		sl_conv2d_forward(out, col, in, w, bias, &cv, B);
		sl_conv2d_backward(din, dw, dbias, dout, w, col, &cv, B);
		conv_naive(rout, rdin, rdw, rdbias, dout, in, w, bias, &cv, B);
		e1 = rel_err(out, rout, nout), e2 = rel_err(din, rdin, nin);
		e3 = rel_err(dw, rdw, nw), e4 = rel_err(dbias, rdbias, d[3]);
		ok(fmax(fmax(e1, e2), fmax(e3, e4)) < 1e-5,
		   "conv2d %dx%d stride %d pad %d on %dx%d equals direct convolution "
		   "(out %.1e, din %.1e, dw %.1e, dbias %.1e)",
		   d[4], d[5], d[6], d[7], d[1], d[2], e1, e2, e3, e4);
		/* without din and dbias, dw comes out the same (twice: it adds) */
		sl_conv2d_backward(NULL, dw, NULL, dout, w, col, &cv, B);
		for (size_t i = 0; i < nw; i++)
			rdw[i] *= 2;
		e3 = rel_err(dw, rdw, nw);
		ok(e3 < 1e-5, "conv2d backward with din and dbias NULL (dw %.1e)", e3);
		free(in), free(w), free(bias), free(out), free(dout), free(din);
		free(dw), free(dbias), free(col);
		free(rout), free(rdin), free(rdw), free(rdbias);
	}
	ok(sl_conv2d_init(&bad, 1, 2, 2, 1, 5, 5, 1, 1) < 0 &&
	       sl_conv2d_init(&bad, 1, 4, 4, 1, 3, 3, 0, 0) < 0,
	   "conv2d_init refuses a kernel larger than the padded image, stride 0");
}

/* --------------------------------------------------------------- maxpool */

static void pool_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	sl_maxpool2d_forward(g->y, c->argmax, c->in, c->B, c->C, c->H, c->W, c->K,
	                     c->S);
}

static void pool_bwd(const struct gcheck *g, float *const *dx, const float *dy)
{
	struct ctx *c = CTX(g);
	sl_maxpool2d_backward(dx[0], dy, c->argmax, c->B, c->C, c->H, c->W, c->K,
	                      c->S);
}

/* Distinct values 0.05 apart in random order, so no perturbation of 2h
 * changes a window's winner. */
static void fill_spread(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = 0.05f * (float)i - 1.0f;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = sl_rng_below(&rng, i + 1);
		float t = x[i];
		x[i] = x[j], x[j] = t;
	}
}

static void test_maxpool(void)
{
	/* H, W, K, S */
	static const int shapes[][4] = {{5, 5, 2, 2}, {5, 6, 3, 2}, {4, 4, 3, 1}};
	float nan_in[4] = {1, NAN, 2, 3}, tie_in[4] = {2, 1, 2, 0}, y;
	int32_t am;
	int right = 1;

	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		const int *d = shapes[s];
		struct ctx c = {.B = 2, .C = 2, .H = d[0], .W = d[1], .K = d[2],
		                .S = d[3]};
		struct gcheck g = {.forward = pool_fwd, .backward = pool_bwd,
		                   .ctx = &c, .tol = 1e-3};
		int OH = (d[0] - d[2]) / d[3] + 1, OW = (d[1] - d[2]) / d[3] + 1;
		size_t nin = (size_t)4 * d[0] * d[1], nout = (size_t)4 * OH * OW;
		char name[64];

		snprintf(name, sizeof name, "maxpool %dx%d stride %d on %dx%d", d[2],
		         d[2], d[3], d[0], d[1]);
		g.name = name;
		c.in = fvec(nin), c.argmax = sl_xcalloc(nout, sizeof(int32_t));
		fill_spread(c.in, nin);
		g.y = fvec(nout), g.ny = nout;
		gc_add(&g, "in", c.in, nin);
		gradcheck(&g, 1);

		/* against a naive scan of each window */
		pool_fwd(&g);
		for (int p = 0; p < 4; p++)
			for (int oh = 0; oh < OH; oh++)
				for (int ow = 0; ow < OW; ow++) {
					float m = -INFINITY;
					for (int kh = 0; kh < d[2]; kh++)
						for (int kw = 0; kw < d[2]; kw++)
							m = fmaxf(m, c.in[(size_t)p * d[0] * d[1] +
							                  (oh * d[3] + kh) * d[1] +
							                  ow * d[3] + kw]);
					right &= g.y[(size_t)p * OH * OW + oh * OW + ow] == m;
				}
		free(c.in), free(c.argmax), free(g.y);
	}
	ok(right, "maxpool equals a naive scan of every window");
	sl_maxpool2d_forward(&y, &am, nan_in, 1, 1, 2, 2, 2, 2);
	ok(isnan(y) && am == 1, "maxpool: a NaN wins its window");
	sl_maxpool2d_forward(&y, &am, tie_in, 1, 1, 2, 2, 2, 2);
	ok(y == 2 && am == 0, "maxpool: a tie goes to the first");
}

/* ----------------------------------------------------------------- losses */

static void loss_fwd(const struct gcheck *g)
{
	struct ctx *c = CTX(g);
	size_t n = (size_t)c->B * c->V;

	if (!strcmp(g->name, "softmax_xent"))
		g->y[0] = sl_softmax_xent_forward(c->cache, c->in, c->ids, c->B, c->V);
	else if (!strcmp(g->name, "hinge"))
		g->y[0] = sl_hinge_forward(c->in, c->ids, c->B, c->V);
	else if (!strcmp(g->name, "mse"))
		g->y[0] = sl_mse_forward(c->in, c->target, n);
	else if (!strcmp(g->name, "mae"))
		g->y[0] = sl_mae_forward(c->in, c->target, n);
	else if (!strcmp(g->name, "huber"))
		g->y[0] = sl_huber_forward(c->in, c->target, c->delta, n);
	else if (!strcmp(g->name, "bce_logits"))
		g->y[0] = sl_bce_logits_forward(c->in, c->target, n);
	else
		SL_ASSERT(!"unknown loss");
}

static void loss_bwd(const struct gcheck *g, float *const *dx, const float *dy)
{
	struct ctx *c = CTX(g);
	size_t n = (size_t)c->B * c->V;

	if (!strcmp(g->name, "softmax_xent"))
		sl_softmax_xent_backward(dx[0], dy[0], c->cache, c->ids, c->B, c->V);
	else if (!strcmp(g->name, "hinge"))
		sl_hinge_backward(dx[0], dy[0], c->in, c->ids, c->B, c->V);
	else if (!strcmp(g->name, "mse"))
		sl_mse_backward(dx[0], dy[0], c->in, c->target, n);
	else if (!strcmp(g->name, "mae"))
		sl_mae_backward(dx[0], dy[0], c->in, c->target, n);
	else if (!strcmp(g->name, "huber"))
		sl_huber_backward(dx[0], dy[0], c->in, c->target, c->delta, n);
	else if (!strcmp(g->name, "bce_logits"))
		sl_bce_logits_backward(dx[0], dy[0], c->in, c->target, n);
}

/* Every margin 1 - s_y + s_j at least 0.1 (> 2h) from the hinge's kink. */
static void fill_hinge(float *s, const int32_t *ids, int B, int V)
{
	for (int b = 0; b < B; b++) {
		int near;
		do {
			fill_normal(s + b * V, V, 1);
			near = 0;
			for (int j = 0; j < V; j++)
				near |= j != ids[b] &&
				        fabsf(1 - s[b * V + ids[b]] + s[b * V + j]) < 0.1f;
		} while (near);
	}
}

static void check_loss(const char *name)
{
	int32_t ids[4] = {2, 0, 4, 2};
	struct ctx c = {.B = 4, .V = 5, .ids = ids, .delta = 1.0f};
	struct gcheck g = {.name = name, .forward = loss_fwd, .backward = loss_bwd,
	                   .ctx = &c, .tol = 1e-3, .h = 1.0 / 32};
	float y;
	size_t n = 20;

	c.in = fvec(n), c.target = fvec(n), c.cache = fvec(n);
	fill_normal(c.target, n, 1);
	if (!strcmp(name, "hinge"))
		fill_hinge(c.in, ids, c.B, c.V);
	else if (!strcmp(name, "mae") || !strcmp(name, "huber")) {
		/* the error pred - target away from 0 and from +-delta */
		float kinks[3] = {0, 1, -1};
		fill_away(c.in, n, 1.5, kinks, 3, 0.1f);
		for (size_t i = 0; i < n; i++)
			c.in[i] += c.target[i];
	} else if (!strcmp(name, "bce_logits")) {
		fill_normal(c.in, n, 2);
		for (size_t i = 0; i < n; i++) /* soft labels in [0, 1] */
			c.target[i] = (float)sl_rng_uniform(&rng);
	} else
		fill_normal(c.in, n, 1.5);
	g.y = &y, g.ny = 1;
	gc_add(&g, "in", c.in, n);
	gradcheck(&g, 1);
	free(c.in), free(c.target), free(c.cache);
}

/* log-softmax in double, written independently of the library. */
static double xent_reference(const float *logits, const int32_t *t, int B,
                             int V)
{
	double total = 0;

	for (int b = 0; b < B; b++) {
		double max = -INFINITY, sum = 0;
		for (int i = 0; i < V; i++)
			max = fmax(max, logits[b * V + i]);
		for (int i = 0; i < V; i++)
			sum += exp(logits[b * V + i] - max);
		total -= logits[b * V + t[b]] - max - log(sum);
	}
	return total / B;
}

static void test_losses(void)
{
	const char *names[] = {"softmax_xent", "hinge", "mse", "mae", "huber",
	                       "bce_logits"};
	enum { B = 6, V = 7 };
	float logits[B * V], probs[B * V], big[B * V], loss, ref, sum;
	float p[4] = {0.5f, -2, 3, 1}, t[4] = {1, 1, 1, 1};
	float x[4] = {100, -100, 0, 3}, yt[4] = {0, 0, 1, 0};
	int32_t tg[B] = {0, 6, 3, 3, 1, 5}, two[2] = {1, 0};
	float sc[4] = {0.2f, 0.5f, -1.0f, 1.5f};
	double e = 0;

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		check_loss(names[i]);

	fill_normal(logits, B * V, 3);
	loss = sl_softmax_xent_forward(probs, logits, tg, B, V);
	ref = (float)xent_reference(logits, tg, B, V);
	ok(fabs(loss - ref) < 1e-6 * fabs(ref),
	   "softmax_xent equals an independent log-softmax (%.8f, %.8f)", loss, ref);
	for (int b = 0; b < B; b++) {
		sum = 0;
		for (int i = 0; i < V; i++)
			sum += probs[b * V + i];
		e = fmax(e, fabs(sum - 1));
	}
	ok(e < 1e-6, "softmax_xent: each row of probs sums to 1 (err %.1e)", e);
	/* logits of 1e4 overflow exp() unless the maximum is taken out */
	for (int i = 0; i < B * V; i++)
		big[i] = logits[i] * 3000;
	loss = sl_softmax_xent_forward(probs, big, tg, B, V);
	ref = (float)xent_reference(big, tg, B, V);
	ok(isfinite(loss) && fabs(loss - ref) <= 1e-5 * fabs(ref),
	   "softmax_xent is stable for logits of 1e4 (%.3f, %.3f)", loss, ref);

	ok(fabs(sl_mse_forward(p, t, 4) - (0.25 + 9 + 4 + 0) / 4) < 1e-6 &&
	       fabs(sl_mae_forward(p, t, 4) - (0.5 + 3 + 2 + 0) / 4) < 1e-6 &&
	       fabs(sl_huber_forward(p, t, 1.0f, 4) - (0.125 + 2.5 + 1.5 + 0) / 4) <
	           1e-6,
	   "mse, mae and huber on hand-computed values");
	/* BCE at x = +-100: log1p(exp(-100)) ~ 3.7e-44 */
	loss = sl_bce_logits_forward(x, yt, 4);
	ref = (float)((100 + 0 + log(2) + 3 + log1p(exp(-3))) / 4);
	ok(fabs(loss - ref) < 1e-6 * ref, "bce_logits is stable at +-100 (%.6f, %.6f)",
	   loss, ref);
	/* two classes: (1 - (s1 - s0))+ / 2 and (1 - (s0 - s1))+ / 2 */
	loss = sl_hinge_forward(sc, two, 2, 2);
	ok(fabs(loss - (0.7 / 2 + 3.5 / 2) / 2) < 1e-6,
	   "hinge with two classes is the halved binary hinge (%.6f)", loss);
}

/* softmax_xent's probs against softmax in double, at widths that run the
 * vector loops and their tails, with V = 1, logits 30 apart (exponents far
 * below -87), -inf and NaN logits. */
static void test_xent_wide(void)
{
	const int widths[] = {1, 16, 65, 1000};
	double e = 0, le = 0;

	for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
		int V = widths[w], B = 3;
		float *x = malloc((size_t)B * V * sizeof *x), *pr = malloc((size_t)B * V * sizeof *pr);
		int32_t tg[3] = {0, V - 1, V / 2};
		float loss;
		fill_normal(x, (size_t)B * V, 30); /* rows 1, 2: spreads of 100s */
		for (int i = 0; i < V; i++)
			x[i] /= 30;
		loss = sl_softmax_xent_forward(pr, x, tg, B, V);
		le = fmax(le, fabs(loss - xent_reference(x, tg, B, V)) /
		                  fmax(1, fabs(xent_reference(x, tg, B, V))));
		for (int b = 0; b < B; b++) {
			const float *r = x + (size_t)b * V;
			double mx = -INFINITY, sum = 0;
			for (int i = 0; i < V; i++)
				mx = fmax(mx, r[i]);
			for (int i = 0; i < V; i++)
				sum += exp(r[i] - mx);
			for (int i = 0; i < V; i++)
				e = fmax(e, fabs(pr[(size_t)b * V + i] - exp(r[i] - mx) / sum));
		}
		free(x);
		free(pr);
	}
	ok(e < 1e-6 && le < 1e-6, "softmax_xent, V = 1 to 1000, spreads to 100s: probs within "
	   "%.2g of softmax in double, loss within %.2g relative", e, le);
	{
		float x[20], pr[20], loss;
		int32_t t0 = 3, t1 = 0;
		for (int i = 0; i < 20; i++)
			x[i] = (float)i / 10;
		x[0] = -INFINITY;
		loss = sl_softmax_xent_forward(pr, x, &t0, 1, 20);
		ok(pr[0] < 1e-37 && isfinite(loss) &&
		   fabs(loss - xent_reference(x + 1, (int32_t[]){2}, 1, 19)) < 1e-6,
		   "softmax_xent: a -inf logit has probability ~0 (%g), the rest as without it",
		   pr[0]);
		x[5] = NAN;
		loss = sl_softmax_xent_forward(pr, x, &t1, 1, 20);
		ok(isnan(loss) && isnan(pr[7]), "softmax_xent: a NaN logit makes the row NaN");
	}
}

int main(void)
{
	sl_rng_seed(&rng, 2024);
	sl_blas_threads(1);
	test_linear();
	test_activations();
	test_dropout();
	test_layernorm(3, 7);
	test_layernorm(6, 32);
	test_embedding();
	test_softmax();
	test_conv2d();
	test_maxpool();
	test_losses();
	test_xent_wide();
	return done_testing();
}
