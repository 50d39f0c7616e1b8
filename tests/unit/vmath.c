/*
 * vmath.c - unit tests of lib/vmath.h: vm_exp, fused and plain, against
 * exp in double over its whole range (every float near the ends, a dense
 * grid between) and on NaN; the float-ordered keys against float
 * comparisons, through a round trip and on the specials; the lane sum
 * against the sum in double.
 */
#include "sluice.h"
#include "tap.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Worst relative error of vm_exp(x, fused) over the test points. */
static double exp_error(int fused, float *worst_at)
{
	double worst = 0;

	for (long i = 0; i <= 2000000; i++) {
		float x = (float)(-87.0 + 175.0 * (double)i / 2e6);
		double want = exp((double)x), e = fabs(vm_exp(x, fused) - want) / want;
		if (e > worst) {
			worst = e;
			*worst_at = x;
		}
	}
	/* every float in the last steps before the ends and around 0 */
	for (int end = 0; end < 3; end++) {
		float x = end == 0 ? -87.0f : end == 1 ? 88.0f : -1e-3f;
		for (int k = 0; k < 100000; k++) {
			double want = exp((double)x), e = fabs(vm_exp(x, fused) - want) / want;
			if (e > worst) {
				worst = e;
				*worst_at = x;
			}
			x = end == 1 ? nextafterf(x, 0) : nextafterf(x, INFINITY);
		}
	}
	return worst;
}

static void test_exp(void)
{
	for (int fused = 0; fused < 2; fused++) {
		float at = 0;
		double e = exp_error(fused, &at);
		ok(e < 1e-7, "vm_exp (%s) within %.3g relative of exp on [-87, 88] (worst at %g)",
		   fused ? "fused" : "plain", e, at);
		ok(isnan(vm_exp(NAN, fused)) && isnan(vm_exp(-NAN, fused)) &&
		   vm_exp(0, fused) == 1 && vm_exp(-0.0f, fused) == 1,
		   "vm_exp (%s): NaN gives NaN, e^0 = 1", fused ? "fused" : "plain");
	}
}

static void test_keys(void)
{
	float v[] = {-INFINITY, -3e38f, -1.5f, -1e-40f, -0.0f, 0.0f, 1e-45f, 1e-40f,
	             1.0f, 2.5f, 3e38f, INFINITY};
	int n = (int)(sizeof v / sizeof *v), order = 1, back = 1;
	float nan = NAN;
	uint32_t nb;
	struct sl_rng r;

	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if ((v[i] < v[j]) != (vm_key(v[i]) < vm_key(v[j])) && !(v[i] == 0 && v[j] == 0))
				order = 0;
	sl_rng_seed(&r, 5);
	for (int i = 0; i < 100000; i++) {
		uint32_t b = (uint32_t)sl_rng_next(&r);
		float x, y;
		memcpy(&x, &b, sizeof x);
		y = vm_unkey(vm_key(x));
		back &= !memcmp(&x, &y, sizeof x);
	}
	memcpy(&nb, &nan, sizeof nb);
	nb &= 0x7fffffffu;
	memcpy(&nan, &nb, sizeof nan);
	ok(order && back && vm_key(-0.0f) < vm_key(0.0f) && vm_key(nan) > vm_key(INFINITY),
	   "float keys: the float order, -0 below +0, a NaN above inf, and back to the same bits");
}

static void test_lanes(void)
{
	float acc[VM_LANES];
	double want = 0;

	for (int k = 0; k < VM_LANES; k++) {
		acc[k] = (float)(k + 1) * 0.1f;
		want += acc[k];
	}
	ok(fabs(vm_lanes_total(acc) - want) < 1e-5, "lane sum %.6f of 16 lanes (%.6f)",
	   vm_lanes_total(acc), want);
}

int main(void)
{
	sl_init("vmath-test");
	test_exp();
	test_keys();
	test_lanes();
	return done_testing();
}
