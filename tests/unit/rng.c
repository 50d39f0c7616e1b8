/*
 * rng.c - the random number generator against the reference outputs of
 * xoshiro256** and splitmix64, plus uniformity of sl_rng_below and the
 * moments of sl_rng_normal.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>

int main(void)
{
	struct sl_rng r = {{1, 2, 3, 4}}, a, b;
	uint64_t want[] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};
	int counts[10] = {0}, same = 1;
	double chi = 0, sum = 0, sum2 = 0;
	const int N = 200000;

	for (int i = 0; i < 4; i++) {
		uint64_t got = sl_rng_next(&r);
		ok(got == want[i], "xoshiro256** reference output %d", i + 1);
	}
	sl_rng_seed(&r, 0);
	ok(r.s[0] == 0xe220a8397b1dcdafULL, "splitmix64 seeding: first word for seed 0");
	sl_rng_seed(&a, 42);
	sl_rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		same &= sl_rng_next(&a) == sl_rng_next(&b);
	ok(same, "same seed, same sequence");
	sl_rng_seed(&r, 7);
	for (int i = 0; i < N; i++)
		counts[sl_rng_below(&r, 10)]++;
	for (int i = 0; i < 10; i++)
		chi += (counts[i] - N / 10.0) * (counts[i] - N / 10.0) / (N / 10.0);
	ok(chi < 27.88, "sl_rng_below(10) is uniform (chi-square %.2f < 27.88, p=0.001)", chi);
	for (int i = 0; i < N; i++) {
		double x = sl_rng_normal(&r);
		sum += x;
		sum2 += x * x;
	}
	ok(fabs(sum / N) < 0.01, "normal mean %.4f near 0", sum / N);
	ok(fabs(sum2 / N - 1) < 0.02, "normal variance %.4f near 1", sum2 / N);
	ok(sl_hash64("abc", 3, 0) == sl_hash64("abc", 3, 0) &&
	       sl_hash64("abc", 3, 0) != sl_hash64("abd", 3, 0) &&
	       sl_hash64("abc", 3, 0) != sl_hash64("abc", 3, 1),
	   "hash is stable and depends on bytes and seed");
	return done_testing();
}
