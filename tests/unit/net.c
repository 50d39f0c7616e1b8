/*
 * net.c - unit tests of the feed-forward stack and its batch-parallel
 * runner.
 *
 * The layers are checked one by one in layers.c; here the composition is:
 * the gradient a step leaves in P.grad, for an MLP with every activation
 * and dropout, a CNN and each loss, against finite differences of the
 * loss the step returns, on a sample of parameters, relative tolerance
 * 2e-2 (float).  ReLU and max-pool have kinks: when a nudge of 1e-3 moves
 * some unit across one, the central difference mixes two slopes, so the
 * analytic gradient may match the one-sided difference on its own side
 * instead, or, past two kinks, only a smaller nudge (2.5e-4) avoids them;
 * any of these differences is accepted.  Then the runner:
 * the same step on 1, 2 and 3 workers gives the same loss and gradient up
 * to float rounding (dropout masks included, which do not depend on the
 * thread count), repeating a step gives the same bits, the parallel
 * optimizer step equals one sl_optim_step, predictions equal the training
 * forward without dropout, and a description rebuilds the same network.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 12 };

static float X[N * 72];
static int32_t cls[N];
static float vals_[N * 2];
static int64_t rows[N] = {3, 0, 7, 1, 11, 5, 2, 9, 4, 10, 6, 8};

static void data(int D, int K)
{
	struct sl_rng r;

	sl_rng_seed(&r, 7);
	for (int i = 0; i < N * D; i++)
		X[i] = (float)sl_rng_normal(&r);
	for (int i = 0; i < N; i++) {
		cls[i] = K ? (int32_t)sl_rng_below(&r, (uint64_t)K) : 0;
		vals_[2 * i] = (float)sl_rng_normal(&r);
		vals_[2 * i + 1] = (float)sl_rng_normal(&r);
	}
}

/* Finite differences on up to 40 parameters spread over the block. */
static void gradcheck(struct sl_net *net, const char *what, int B, int dropout)
{
	struct sl_net_run *r = sl_net_run_new(net, 1, B);
	struct sl_params *P = &net->P;
	float *g = sl_xmalloc(P->n * sizeof *g);
	double worst = 0.0;
	size_t stride = P->n / 40 + 1;
	uint64_t seed = dropout ? 99 : 0;
	const float *vals = net->loss >= SL_LOSS_MSE ? vals_ : NULL;

	sl_net_run_step(r, X, rows, cls, vals, B, seed);
	sl_net_run_grad(r);
	memcpy(g, P->grad, P->n * sizeof *g);
	for (size_t i = 0; i < P->n; i += stride) {
		float keep = P->data[i];
		double l0, lp, lm, err = INFINITY;
		l0 = sl_net_run_step(r, X, rows, cls, vals, B, seed);
		for (float h = 1e-3f; h > 1e-4f; h /= 4) {
			double num[3];
			P->data[i] = keep + h;
			lp = sl_net_run_step(r, X, rows, cls, vals, B, seed);
			P->data[i] = keep - h;
			lm = sl_net_run_step(r, X, rows, cls, vals, B, seed);
			P->data[i] = keep;
			num[0] = (lp - lm) / (2.0 * h);
			num[1] = (lp - l0) / h;
			num[2] = (l0 - lm) / h;
			for (int k = 0; k < 3; k++) {
				double e = fabs(num[k] - g[i]) / fmax(1e-2, fabs(num[k]) + fabs(g[i]));
				if (e < err)
					err = e;
			}
		}
		if (err > worst)
			worst = err;
	}
	ok(worst < 2e-2, "%s: gradient matches finite differences (worst %.2g)", what,
	   worst);
	free(g);
	sl_net_run_free(r);
}

static void mlp(struct sl_net *net, enum sl_layer_kind act, float p,
                enum sl_loss_kind loss, int O)
{
	sl_net_init(net, 5, 1, 1);
	sl_net_linear(net, 8);
	sl_net_activation(net, act);
	if (p > 0)
		sl_net_dropout(net, p);
	sl_net_linear(net, 6);
	sl_net_activation(net, SL_LAYER_TANH);
	sl_net_linear(net, O);
	sl_net_finish(net, loss);
	sl_net_init_weights(net, NULL, NULL, 1);
}

static void cnn(struct sl_net *net, enum sl_layer_kind act)
{
	sl_net_init(net, 2, 6, 6);
	SL_ASSERT(sl_net_conv2d(net, 3, 3, 1, 1) == 0);
	sl_net_activation(net, act);
	SL_ASSERT(sl_net_maxpool2d(net, 2, 2) == 0);
	SL_ASSERT(sl_net_conv2d(net, 4, 3, 1, 0) == 0);
	sl_net_linear(net, 3);
	sl_net_finish(net, SL_LOSS_XENT);
	sl_net_init_weights(net, NULL, NULL, 2);
}

static void test_gradients(void)
{
	struct sl_net net;
	static const struct {
		enum sl_layer_kind act;
		enum sl_loss_kind loss;
		int O;
		const char *name;
	} cases[] = {
	    {SL_LAYER_RELU, SL_LOSS_XENT, 4, "mlp relu xent"},
	    {SL_LAYER_GELU, SL_LOSS_HINGE, 4, "mlp gelu hinge"},
	    {SL_LAYER_SIGMOID, SL_LOSS_BCE, 1, "mlp sigmoid bce"},
	    {SL_LAYER_TANH, SL_LOSS_MSE, 2, "mlp tanh mse"},
	    {SL_LAYER_RELU, SL_LOSS_HUBER, 2, "mlp relu huber"},
	};

	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		data(5, cases[c].loss == SL_LOSS_BCE ? 2 : 4);
		mlp(&net, cases[c].act, 0, cases[c].loss, cases[c].O);
		gradcheck(&net, cases[c].name, N, 0);
		sl_net_free(&net);
	}
	data(5, 4);
	mlp(&net, SL_LAYER_RELU, 0.3f, SL_LOSS_XENT, 4);
	gradcheck(&net, "mlp with dropout (fixed mask)", 10, 1);
	sl_net_free(&net);
	data(72, 3);
	/* tanh: ReLU before max-pool puts too many kinks within reach of a
	 * nudge for a clean check; conv + ReLU alone is checked next. */
	cnn(&net, SL_LAYER_TANH);
	gradcheck(&net, "cnn conv-tanh-pool-conv-linear", N, 0);
	is_int(net.P.n, 2 * 3 * 9 + 3 + 3 * 4 * 9 + 4 + 4 * 3 + 3, "cnn parameter count");
	sl_net_free(&net);
	sl_net_init(&net, 2, 6, 6);
	sl_net_conv2d(&net, 3, 3, 1, 1);
	sl_net_activation(&net, SL_LAYER_RELU);
	sl_net_linear(&net, 3);
	sl_net_finish(&net, SL_LOSS_XENT);
	sl_net_init_weights(&net, NULL, NULL, 2);
	gradcheck(&net, "cnn conv-relu-linear", N, 0);
	sl_net_free(&net);
}

static double maxdiff(const float *a, const float *b, size_t n)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++)
		if (fabs((double)a[i] - b[i]) > m)
			m = fabs((double)a[i] - b[i]);
	return m;
}

static void test_threads(void)
{
	struct sl_net net;
	float *g1, loss1, loss;
	struct sl_optim o1, o2;
	float *p1;

	data(5, 4);
	mlp(&net, SL_LAYER_RELU, 0.25f, SL_LOSS_XENT, 4);
	g1 = sl_xmalloc(net.P.n * sizeof *g1);
	p1 = sl_xmalloc(net.P.n * sizeof *p1);
	{
		struct sl_net_run *r = sl_net_run_new(&net, 1, N);
		loss1 = sl_net_run_step(r, X, rows, cls, NULL, 11, 5);
		sl_net_run_grad(r);
		memcpy(g1, net.P.grad, net.P.n * sizeof *g1);
		sl_net_run_free(r);
	}
	for (int t = 2; t <= 3; t++) {
		struct sl_net_run *r = sl_net_run_new(&net, t, N);
		float *ga = sl_xmalloc(net.P.n * sizeof *ga);
		loss = sl_net_run_step(r, X, rows, cls, NULL, 11, 5);
		sl_net_run_grad(r);
		ok(fabs(loss - loss1) < 1e-5, "%d workers: same loss as one (%g, %g)", t,
		   loss, loss1);
		ok(maxdiff(net.P.grad, g1, net.P.n) < 1e-5,
		   "%d workers: same gradient as one, dropout included", t);
		memcpy(ga, net.P.grad, net.P.n * sizeof *ga);
		sl_net_run_step(r, X, rows, cls, NULL, 11, 5);
		sl_net_run_grad(r);
		ok(memcmp(ga, net.P.grad, net.P.n * sizeof *ga) == 0,
		   "%d workers: a repeated step gives the same bits", t);
		free(ga);
		sl_net_run_free(r);
	}
	/* a batch smaller than the workers */
	{
		struct sl_net_run *r = sl_net_run_new(&net, 3, N);
		struct sl_net_run *r1 = sl_net_run_new(&net, 1, N);
		float l3 = sl_net_run_step(r, X, rows, cls, NULL, 2, 5);
		sl_net_run_grad(r);
		memcpy(g1, net.P.grad, net.P.n * sizeof *g1);
		ok(fabs(l3 - sl_net_run_step(r1, X, rows, cls, NULL, 2, 5)) < 1e-6 &&
		   maxdiff(net.P.grad, g1, net.P.n) < 1e-6,
		   "a batch of 2 on 3 workers (one idle)");
		sl_net_run_free(r1);
		sl_net_run_free(r);
	}

	/* the parallel update equals one optimizer step */
	sl_optim_init(&o1, SL_OPTIM_ADAMW);
	o1.l2 = 0.01f;
	o2 = o1;
	memcpy(p1, net.P.data, net.P.n * sizeof *p1);
	{
		float *m = sl_xcalloc(net.P.n, sizeof *m), *v = sl_xcalloc(net.P.n, sizeof *v);
		struct sl_net_run *r = sl_net_run_new(&net, 3, N);
		sl_optim_step(&o1, p1, m, v, net.P.grad, net.P.n, net.P.ndecay);
		sl_net_run_update(r, &o2);
		ok(memcmp(p1, net.P.data, net.P.n * sizeof *p1) == 0 &&
		   memcmp(m, net.P.m, net.P.n * sizeof *m) == 0 && o1.t == o2.t,
		   "parallel update == sl_optim_step, bit for bit");
		free(m);
		free(v);
		sl_net_run_free(r);
	}
	/* subnormal moments are flushed to zero, leaving the weights as the
	 * plain step leaves them */
	{
		struct sl_net_run *r = sl_net_run_new(&net, 2, N);
		float *m = sl_xmalloc(net.P.n * sizeof *m), *v = sl_xmalloc(net.P.n * sizeof *v);
		sl_optim_init(&o1, SL_OPTIM_ADAM);
		o2 = o1;
		for (size_t i = 0; i < net.P.n; i++) {
			net.P.grad[i] = i % 3 ? 0.01f : 0.0f;
			net.P.m[i] = m[i] = i % 3 ? 1e-3f : 1e-39f;
			net.P.v[i] = v[i] = 1e-6f;
		}
		memcpy(p1, net.P.data, net.P.n * sizeof *p1);
		sl_optim_step(&o1, p1, m, v, net.P.grad, net.P.n, net.P.ndecay);
		sl_net_run_update(r, &o2);
		ok(memcmp(p1, net.P.data, net.P.n * sizeof *p1) == 0,
		   "weights as sl_optim_step leaves them");
		ok(m[0] != 0.0f && net.P.m[0] == 0.0f && net.P.m[1] == m[1],
		   "a subnormal moment is flushed to zero, normal ones kept");
		free(m);
		free(v);
		sl_net_run_free(r);
	}
	free(g1);
	free(p1);
	sl_net_free(&net);
}

static void test_predict_and_describe(void)
{
	struct sl_net net, back;
	struct sl_val d;
	char err[256] = "";
	float out1[N * 3], out2[N * 3];

	data(72, 3);
	cnn(&net, SL_LAYER_RELU);
	{
		struct sl_net_run *r = sl_net_run_new(&net, 2, 5);
		struct sl_net_run *r1 = sl_net_run_new(&net, 1, N);
		sl_net_run_predict(r, X, N, out1);
		sl_net_run_predict(r1, X, N, out2);
		ok(maxdiff(out1, out2, N * 3) < 1e-6, "predict in chunks on 2 workers");
		sl_net_run_free(r);
		sl_net_run_free(r1);
	}
	d = sl_net_describe(&net);
	ok(sl_net_from_val(&back, &d, err, sizeof err) == 0, "rebuilt: %s", err);
	ok(back.P.n == net.P.n && back.P.count == net.P.count && back.O == 3 &&
	   back.loss == SL_LOSS_XENT, "same parameters, outputs and loss");
	{
		int same = 1;
		for (int i = 0; i < net.P.count; i++)
			same &= strcmp(back.P.t[i].name, net.P.t[i].name) == 0 &&
			        back.P.t[i].off == net.P.t[i].off;
		ok(same, "same tensor names and offsets");
	}
	memcpy(back.P.data, net.P.data, net.P.n * sizeof(float));
	{
		struct sl_net_run *r = sl_net_run_new(&back, 1, N);
		sl_net_run_predict(r, X, N, out2);
		ok(memcmp(out1, out2, sizeof out1) == 0 || maxdiff(out1, out2, N * 3) < 1e-6,
		   "the rebuilt net predicts the same");
		sl_net_run_free(r);
	}
	{
		float sc[N * 3];
		ok(sl_net_scores(&net, out1, sc, N) == 3 &&
		   fabs(sc[0] + sc[1] + sc[2] - 1.0f) < 1e-6, "xent scores are probabilities");
	}
	sl_net_free(&back);
	sl_val_set(&d, "loss", sl_val_str("nope"));
	ok(sl_net_from_val(&back, &d, err, sizeof err) < 0 && strstr(err, "loss"),
	   "unknown loss refused: %s", err);
	sl_val_free(&d);
	sl_net_free(&back);
	sl_net_free(&net);
}

int main(void)
{
	sl_init("net-test");
	sl_blas_threads(1);
	test_gradients();
	test_threads();
	test_predict_and_describe();
	return done_testing();
}
