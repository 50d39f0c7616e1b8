/*
 * init.c - unit tests of weight initialisation: the flag syntax, and the
 * statistics of every scheme on 200,000 draws.
 *
 * Tolerances follow from the sample size n: a sample mean is within
 * 5 sigma / sqrt(n) of the truth (sigma the scheme's standard deviation),
 * a sample standard deviation within 1% (its relative error is about
 * 1/sqrt(2n) = 0.16%, so 1% is six of those); uniform draws must lie
 * inside their bound and reach within 1% of it; normal draws must put
 * 68.27% +- 0.5% of their mass within one sigma, which a uniform of the
 * same variance (57.7%) fails.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 200000 };

static void stats(const float *w, size_t n, double *mean, double *sd,
                  double *lo, double *hi)
{
	double s = 0, s2 = 0;

	*lo = INFINITY, *hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		s += w[i];
		*lo = fmin(*lo, w[i]), *hi = fmax(*hi, w[i]);
	}
	*mean = s / n;
	for (size_t i = 0; i < n; i++)
		s2 += (w[i] - *mean) * (w[i] - *mean);
	*sd = sqrt(s2 / (n - 1));
}

/* Checks draws of spec: uniform in (-bound, bound) when bound > 0, else
 * normal with standard deviation sigma. */
static void check(const char *flag, int fan_in, int fan_out, double bound,
                  double sigma)
{
	struct sl_init_spec spec;
	struct sl_rng r;
	float *w = sl_xmalloc(N * sizeof *w);
	double mean, sd, lo, hi, want_sd = bound > 0 ? bound / sqrt(3) : sigma;
	size_t within = 0;

	if (!ok(sl_init_parse(&spec, flag) == 0, "init %s parses", flag)) {
		free(w);
		return;
	}
	sl_rng_seed(&r, 11);
	sl_init_fill(w, &r, spec, N, fan_in, fan_out);
	stats(w, N, &mean, &sd, &lo, &hi);
	ok(fabs(mean) < 5 * want_sd / sqrt(N), "init %s: mean %.2e near 0", flag,
	   mean);
	ok(fabs(sd / want_sd - 1) < 0.01, "init %s: sd %.5f, want %.5f", flag, sd,
	   want_sd);
	if (bound > 0) {
		ok(lo >= -bound && hi <= bound && lo < -0.99 * bound && hi > 0.99 * bound,
		   "init %s: values fill (-%.4f, %.4f): [%.4f, %.4f]", flag, bound,
		   bound, lo, hi);
	} else {
		for (size_t i = 0; i < N; i++)
			within += fabs(w[i]) < sigma;
		ok(fabs((double)within / N - 0.6827) < 0.005,
		   "init %s: %.4f of the mass within one sigma", flag,
		   (double)within / N);
	}
	free(w);
}

static void test_parse(void)
{
	const char *bad[] = {"", "bogus", "normal", "uniform", "const",
	                     "zeros:1", "uniform:-1", "normal:abc", "he_normal:",
	                     "normal:0.1x", "xavier_uniform:nan", "he_uniform:-2",
	                     "Normal:1"};
	struct sl_init_spec s;
	int all = 1;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (sl_init_parse(&s, bad[i]) == 0)
			all = 0, printf("#   accepted \"%s\"\n", bad[i]);
	ok(all, "init flags: malformed ones are refused");
	ok(sl_init_parse(&s, "he_normal") == 0 && s.kind == SL_INIT_HE_NORMAL &&
	       fabsf(s.arg - sqrtf(2)) < 1e-7f,
	   "he_normal defaults to gain sqrt(2)");
	ok(sl_init_parse(&s, "xavier_normal") == 0 &&
	       s.kind == SL_INIT_XAVIER_NORMAL && s.arg == 1,
	   "xavier_normal defaults to gain 1");
	ok(sl_init_parse(&s, "const:-0.5") == 0 && s.kind == SL_INIT_CONST &&
	       s.arg == -0.5f,
	   "const takes a negative value");
}

static void test_fixed(void)
{
	struct sl_init_spec zeros = {SL_INIT_ZEROS, 0}, c = {SL_INIT_CONST, 0.1f};
	struct sl_init_spec nrm = {SL_INIT_NORMAL, 1};
	struct sl_rng r1, r2;
	float w[64], v[64];
	int all = 1;

	sl_rng_seed(&r1, 5);
	memset(w, 0xff, sizeof w);
	sl_init_fill(w, &r1, zeros, 64, 0, 0);
	for (int i = 0; i < 64; i++)
		all &= w[i] == 0;
	sl_init_fill(v, &r1, c, 64, 0, 0);
	for (int i = 0; i < 64; i++)
		all &= v[i] == 0.1f;
	ok(all, "zeros and const fill exactly");

	sl_rng_seed(&r1, 5), sl_rng_seed(&r2, 5);
	sl_init_fill(w, &r1, nrm, 64, 0, 0);
	sl_init_fill(v, &r2, nrm, 64, 0, 0);
	ok(!memcmp(w, v, sizeof w), "same seed, same weights");
	sl_rng_seed(&r2, 6);
	sl_init_fill(v, &r2, nrm, 64, 0, 0);
	ok(memcmp(w, v, sizeof w) != 0, "another seed, other weights");
}

int main(void)
{
	test_parse();
	test_fixed();
	check("uniform:0.1", 0, 0, 0.1, 0);
	check("normal:0.02", 0, 0, 0, 0.02);
	/* a (100, 300) linear layer: fan_in 300, fan_out 100 */
	check("xavier_uniform", 300, 100, sqrt(6.0 / 400), 0);
	check("xavier_normal", 300, 100, 0, sqrt(2.0 / 400));
	check("xavier_uniform:2", 300, 100, 2 * sqrt(6.0 / 400), 0);
	check("he_uniform", 300, 100, sqrt(6.0 / 300), 0);
	check("he_normal", 300, 100, 0, sqrt(2.0 / 300));
	/* gain 1/sqrt(3): PyTorch's default Linear init, U(-1/sqrt(fan_in), ..) */
	check("he_uniform:0.5773502691896258", 300, 100, 1 / sqrt(300.0), 0);
	return done_testing();
}
