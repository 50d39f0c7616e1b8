/*
 * gpt.c - unit tests of attention and the GPT model: attention against a
 * plain loop implementation (short rows, rows long enough for the vector
 * loops, T = 1, scores far apart, a NaN key) and its backward against
 * finite differences, every parameter's gradient against central
 * finite differences (with and without dropout, with batches small
 * enough for plain products and large enough for products from packed
 * weights), the packed products against the plain ones, a tiny model that
 * must learn to continue a fixed sequence, and the GELU (lib/layers.c
 * computes erf its own way) against x * Phi(x) in double on a dense grid,
 * with the training forward's GELU' the same bits as the backward's.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Attention the slow way: per query t, scores over j <= t, softmax, mix. */
static void naive_attention(double *out, const float *qkv, int B, int T, int C, int NH)
{
	int hs = C / NH;

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				double s[64], mx = -1e300, sum = 0;
				const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
				for (int j = 0; j <= t; j++) {
					const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
					double d = 0;
					for (int i = 0; i < hs; i++)
						d += (double)q[i] * k[i];
					s[j] = d / sqrt(hs);
					if (s[j] > mx)
						mx = s[j];
				}
				for (int j = 0; j <= t; j++)
					sum += s[j] = exp(s[j] - mx);
				for (int i = 0; i < hs; i++) {
					double acc = 0;
					for (int j = 0; j <= t; j++)
						acc += s[j] / sum *
						       qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + i];
					out[((size_t)b * T + t) * C + h * hs + i] = acc;
				}
			}
}

/* Attention against the plain loop, forward and (unless big) backward
 * against finite differences, for B sequences of T tokens; queries scaled
 * by qamp (30 puts most exponents of a row below -87). */
static void test_attention(int B, int T, int C, int NH, float qamp, int grad)
{
	size_t n = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
	float *qkv = malloc(n * sizeof *qkv), *out = malloc(no * sizeof *out),
	      *att = malloc((size_t)B * NH * T * T * sizeof *att),
	      *dqkv = malloc(n * sizeof *dqkv), *dout = malloc(no * sizeof *dout),
	      *scratch = malloc((size_t)T * T * sizeof *scratch);
	double *want = malloc(no * sizeof *want), err = 0, gerr = 0, gmax = 0, rowerr = 0;
	struct sl_rng r;

	sl_rng_seed(&r, 1);
	for (size_t i = 0; i < n; i++)
		qkv[i] = (float)sl_rng_normal(&r) * (i % (3 * (size_t)C) < (size_t)C ? qamp : 1);
	for (size_t i = 0; i < no; i++)
		dout[i] = (float)sl_rng_normal(&r);
	sl_attention_forward(out, att, qkv, B, T, C, NH);
	naive_attention(want, qkv, B, T, C, NH);
	for (size_t i = 0; i < no; i++)
		if (!(fabs(out[i] - want[i]) <= err))
			err = fabs(out[i] - want[i]);
	for (size_t i = 0; i < (size_t)B * NH * T; i++) {
		double sum = 0;
		for (int j = 0; j < T; j++) {
			sum += att[i * T + j];
			if (j > (int)(i % T) && att[i * T + j] != 0)
				sum = NAN;
		}
		if (!(fabs(sum - 1) <= rowerr))
			rowerr = fabs(sum - 1);
	}
	ok(err < 1e-5 && rowerr < 1e-6, "attention B=%d T=%d NH=%d, queries x%g: forward equals "
	   "the plain loop (max error %.2g), rows sum to 1 (%.2g), zero above the diagonal", B, T,
	   NH, qamp, err, rowerr);
	if (grad) {
		/* gradient of sum(out * dout) with respect to qkv, by central
		 * differences; dqkv starts as 1: the backward adds to it */
		for (size_t i = 0; i < n; i++)
			dqkv[i] = 1;
		sl_attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
		for (size_t i = 0; i < n; i++) {
			double f[2], num;
			float keep = qkv[i];
			for (int s = 0; s < 2; s++) {
				qkv[i] = keep + (s ? -1e-2f : 1e-2f);
				naive_attention(want, qkv, B, T, C, NH);
				f[s] = 0;
				for (size_t k = 0; k < no; k++)
					f[s] += want[k] * dout[k];
			}
			qkv[i] = keep;
			num = (f[0] - f[1]) / 2e-2;
			if (fabs(num) > gmax)
				gmax = fabs(num);
			if (!(fabs(num - (dqkv[i] - 1)) <= gerr))
				gerr = fabs(num - (dqkv[i] - 1));
		}
		ok(gerr / gmax < 1e-3, "attention B=%d T=%d: backward (added to 1) matches "
		   "finite differences (rel %.2g)", B, T, gerr / gmax);
	}
	free(qkv);
	free(out);
	free(att);
	free(dqkv);
	free(dout);
	free(scratch);
	free(want);
}

/* A NaN in one key: the rows that see it are NaN, the rows before it are
 * untouched (the plain loop's values). */
static void test_attention_nan(void)
{
	int T = 20, C = 4, at = 9;
	float qkv[20 * 12], out[20 * 4], att[20 * 20];
	double want[20 * 4];
	int good = 1;
	struct sl_rng r;

	sl_rng_seed(&r, 2);
	for (int i = 0; i < T * 3 * C; i++)
		qkv[i] = (float)sl_rng_normal(&r);
	naive_attention(want, qkv, 1, T, C, 1);
	qkv[at * 3 * C + C] = NAN; /* key of token 9 */
	sl_attention_forward(out, att, qkv, 1, T, C, 1);
	for (int t = 0; t < T; t++)
		for (int i = 0; i < C; i++)
			good &= t < at ? fabs(out[t * C + i] - want[t * C + i]) < 1e-5
			               : isnan(out[t * C + i]);
	ok(good, "attention: a NaN key makes NaN the rows from its token on, and only them");
}

/* B * T >= 32 takes the packed-weight products where the build has them
 * (sl_gemm_prepacks), with their folded passes. */
static void gradcheck(float dropout, int B, int T)
{
	struct sl_gpt_config cfg = {7, 8, 2, 2, 8, dropout};
	struct sl_gpt g;
	struct sl_gpt_acts *a;
	int32_t ids[64], tg[64];
	float *grad;
	double worst = 0, gmax = 0;
	size_t bad_at = 0;

	sl_gpt_init(&g, &cfg);
	sl_gpt_init_weights(&g, 3);
	/* larger weights than the init, so every path carries gradient */
	for (size_t i = 0; i < g.P.n; i++)
		g.P.data[i] += (float)(0.1 * sin((double)i));
	for (int i = 0; i < B * T; i++) {
		ids[i] = (i * 3) % 7;
		tg[i] = (i * 5 + 1) % 7;
	}
	a = sl_gpt_acts_new(&g, B, T);
	grad = calloc(g.P.n, sizeof *grad);
	sl_gpt_forward(&g, a, ids, tg, 99, 1);
	sl_gpt_backward(&g, a, grad, ids, tg, 1.0f);
	for (size_t i = 0; i < g.P.n; i++) {
		float keep = g.P.data[i];
		double f[4], h = 1e-2, num;
		const double step[4] = {2 * h, h, -h, -2 * h};
		for (int s = 0; s < 4; s++) {
			g.P.data[i] = keep + (float)step[s];
			f[s] = sl_gpt_forward(&g, a, ids, tg, 99, 1);
		}
		g.P.data[i] = keep;
		num = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
		if (fabs(num) > gmax)
			gmax = fabs(num);
		if (fabs(num - grad[i]) > worst) {
			worst = fabs(num - grad[i]);
			bad_at = i;
		}
	}
	if (!ok(worst / gmax < 1e-3, "GPT%s, %d x %d tokens: all %zu parameter gradients "
	        "match finite differences (worst %.3g of max %.3g)",
	        dropout > 0 ? " with dropout" : "", B, T, g.P.n, worst, gmax))
		printf("#   worst at parameter %zu\n", bad_at);
	free(grad);
	sl_gpt_acts_free(a);
	sl_gpt_free(&g);
}

/* The products from packed weights (sl_gemm_packed, a batch of 32 rows
 * or more) against the same model with them turned off: the same bits
 * where the unpacked products are lib/gemm.c's too (sl_gemm_beats_blas),
 * float rounding where they are sgemm's; loss, logits and every gradient,
 * with and without dropout. */
static void test_prepacked(float dropout)
{
	struct sl_gpt_config cfg = {11, 16, 2, 2, 32, dropout};
	struct sl_gpt g;
	struct sl_gpt_acts *a;
	int B = 3, T = 16;
	int32_t ids[48], tg[48];
	float loss[2], *grad[2], *logits[2];
	double e = 0, m = 0;

	sl_gpt_init(&g, &cfg);
	sl_gpt_init_weights(&g, 5);
	for (size_t i = 0; i < g.P.n; i++)
		g.P.data[i] += (float)(0.05 * cos((double)i));
	for (int i = 0; i < B * T; i++) {
		ids[i] = (i * 5 + 2) % 11;
		tg[i] = (i * 7 + 3) % 11;
	}
	a = sl_gpt_acts_new(&g, B, T);
	for (int off = 0; off < 2; off++) {
		sl_gemm_prepack_off(off);
		grad[off] = calloc(g.P.n, sizeof *grad[off]);
		logits[off] = malloc((size_t)B * T * 11 * sizeof *logits[off]);
		loss[off] = sl_gpt_forward(&g, a, ids, tg, 7, 1);
		memcpy(logits[off], a->logits, (size_t)B * T * 11 * sizeof *logits[off]);
		sl_gpt_backward(&g, a, grad[off], ids, tg, 1.0f);
		ok(!off == (a->wpack != NULL) || !sl_gemm_prepacks(),
		   "packed weights used exactly when turned on (%d)", !off);
	}
	sl_gemm_prepack_off(0);
	for (size_t i = 0; i < g.P.n; i++) {
		e = fmax(e, fabs((double)grad[0][i] - grad[1][i]));
		m = fmax(m, fabs((double)grad[1][i]));
	}
	if (sl_gemm_prepacks() && sl_gemm_beats_blas())
		ok(loss[0] == loss[1] &&
		       !memcmp(logits[0], logits[1], (size_t)B * T * 11 * sizeof *logits[0]) &&
		       !memcmp(grad[0], grad[1], g.P.n * sizeof *grad[0]),
		   "GPT%s: packed weights give the bits of the unpacked products",
		   dropout > 0 ? " with dropout" : "");
	else
		ok(fabsf(loss[0] - loss[1]) < 1e-5f && e / m < 1e-5,
		   "GPT%s: packed weights agree with sgemm's products (loss %.7g vs %.7g, "
		   "gradient %.2g)", dropout > 0 ? " with dropout" : "", loss[0], loss[1], e / m);
	for (int k = 0; k < 2; k++)
		free(grad[k]), free(logits[k]);
	sl_gpt_acts_free(a);
	sl_gpt_free(&g);
}

static void test_learns(void)
{
	struct sl_gpt_config cfg = {5, 8, 2, 2, 16, 0};
	struct sl_gpt g;
	struct sl_gpt_acts *a;
	struct sl_optim opt;
	int32_t ids[8], tg[8];
	float first = 0, last = 0;

	sl_gpt_init(&g, &cfg);
	sl_gpt_init_weights(&g, 1);
	sl_optim_init(&opt, SL_OPTIM_ADAMW);
	opt.lr = 1e-2f;
	for (int i = 0; i < 8; i++) {
		ids[i] = i % 5;
		tg[i] = (i + 1) % 5;
	}
	a = sl_gpt_acts_new(&g, 1, 8);
	for (int step = 1; step <= 100; step++) {
		float loss = sl_gpt_forward(&g, a, ids, tg, 0, 1);
		if (step == 1)
			first = loss;
		last = loss;
		sl_params_zero_grad(&g.P);
		sl_gpt_backward(&g, a, g.P.grad, ids, tg, 1.0f);
		sl_optim_step(&opt, g.P.data, g.P.m, g.P.v, g.P.grad, g.P.n, g.P.ndecay);
	}
	ok(first > 1.4 && last < 0.05, "a tiny GPT learns a cyclic sequence (loss %.3f -> %.4f)",
	   first, last);
	sl_gpt_acts_free(a);
	sl_gpt_free(&g);
}

/* GELU and its derivative against the exact forms in double, every 1e-4
 * over [-14, 14], with the tails and non-finite inputs. */
static void test_gelu(void)
{
	size_t n = 280001;
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y),
	      *d = calloc(n, sizeof *d), *one = malloc(n * sizeof *one);
	double ey = 0, ed = 0, erel = 0;
	float sp[4] = {INFINITY, -INFINITY, NAN, -1e30f}, spy[4], spd[4] = {0},
	      sp1[4] = {1, 1, 1, 1};

	for (size_t i = 0; i < n; i++) {
		x[i] = (float)(-14.0 + 28.0 * (double)i / (double)(n - 1));
		one[i] = 1;
	}
	sl_gelu_forward(y, x, n);
	sl_gelu_backward(d, one, x, n);
	for (size_t i = 0; i < n; i++) {
		double t = x[i], cdf = 0.5 * erfc(-t / sqrt(2.0)), g = t * cdf;
		double dg = cdf + t * exp(-0.5 * t * t) / sqrt(2 * M_PI);
		ey = fmax(ey, fabs(y[i] - g));
		ed = fmax(ed, fabs(d[i] - dg));
		if (t < 0 && t > -9)
			erel = fmax(erel, fabs(y[i] - g) / fabs(g));
	}
	ok(ey < 5e-7 && ed < 5e-7 && erel < 2e-5,
	   "GELU within %.2g of x Phi(x), its derivative within %.2g; relative %.2g in the "
	   "left tail", ey, ed, erel);
	sl_gelu_forward(spy, sp, 4);
	sl_gelu_backward(spd, sp1, sp, 4);
	ok(spy[0] == INFINITY && isnan(spy[2]) && spy[3] <= 0 && spy[3] > -1e-5 &&
	   spd[0] == 1 && isnan(spd[2]) && fabs(spd[3]) < 1e-5,
	   "GELU of inf is inf, of NaN NaN, of -1e30 ~0 (%g); slopes 1, NaN, ~0", spy[3]);
	/* the training forward: the same GELU bits, and the slope the backward
	 * computes (d = 0 + 1 * slope), also in place over its input */
	{
		float *y2 = malloc(n * sizeof *y2), *g2 = malloc(n * sizeof *g2);
		float spy2[4], spg[4];
		int same = 1, inplace = 1;
		sl_gelu_forward_grad(y2, g2, x, n);
		for (size_t i = 0; i < n; i++)
			same &= !memcmp(&y2[i], &y[i], sizeof *y) && !memcmp(&g2[i], &d[i], sizeof *d);
		memcpy(g2, x, n * sizeof *x);
		sl_gelu_forward_grad(y2, g2, g2, n);
		for (size_t i = 0; i < n; i++)
			inplace &= !memcmp(&y2[i], &y[i], sizeof *y) && !memcmp(&g2[i], &d[i], sizeof *d);
		ok(same && inplace, "GELU forward with its slope: the bits of forward and backward%s",
		   inplace ? ", in place too" : " (not in place)");
		sl_gelu_forward_grad(spy2, spg, sp, 4);
		ok(!memcmp(spy2, spy, sizeof spy) && spg[0] == 1 && isnan(spg[2]) &&
		   spg[3] == spd[3], "GELU forward with its slope: inf, NaN, -1e30 as above");
		free(y2);
		free(g2);
	}
	free(x);
	free(y);
	free(d);
	free(one);
}

int main(void)
{
	sl_init("gpt-test");
	test_attention(2, 7, 12, 3, 1, 1);
	test_attention(2, 40, 8, 2, 1, 1);
	test_attention(3, 1, 4, 2, 1, 1);
	test_attention(1, 64, 8, 2, 30, 0);
	test_attention_nan();
	gradcheck(0, 2, 5);
	gradcheck(0.2f, 2, 5);
	gradcheck(0, 4, 8);
	gradcheck(0.2f, 4, 8);
	test_prepacked(0);
	test_prepacked(0.1f);
	test_learns();
	test_gelu();
	return done_testing();
}
