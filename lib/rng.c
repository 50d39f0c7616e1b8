/*
 * rng.c - the library's own pseudo-random numbers.
 *
 * Everything random in sluice (weight init, shuffling, dropout, sampling)
 * draws from here, never from libc's rand(), so a seed means the same
 * numbers on every machine and libc.  The generator is xoshiro256**
 * (Blackman and Vigna): 256 bits of state, period 2^256 - 1, fast, and
 * good enough for everything short of cryptography.  A 64-bit seed is
 * spread over the state by splitmix64, which never yields the all-zero
 * state xoshiro must avoid (its outputs are a bijection of a counter that
 * takes four distinct values).
 *
 * The state is plain data (struct sl_rng), copied to save or restore it.
 * sl_mix64, the splitmix64 finaliser, also serves as a counter-based
 * generator: hashing (seed, index) gives the index-th value directly, with
 * no state to carry, which is what dropout uses.
 */
#include "sluice.h"

#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

uint64_t sl_mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void sl_rng_seed(struct sl_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		seed += GOLDEN;
		r->s[i] = sl_mix64(seed);
	}
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t sl_rng_next(struct sl_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double sl_rng_uniform(struct sl_rng *r)
{
	return (double)(sl_rng_next(r) >> 11) * 0x1.0p-53;
}

double sl_rng_normal(struct sl_rng *r)
{
	/* Box-Muller.  u1 in (0, 1] keeps the logarithm finite. */
	double u1 = 1.0 - sl_rng_uniform(r), u2 = sl_rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t sl_rng_below(struct sl_rng *r, uint64_t n)
{
	/* Lemire's multiply-shift with rejection of the biased low zone. */
	unsigned __int128 m;
	uint64_t lo, floor;

	SL_ASSERT(n > 0);
	m = (unsigned __int128)sl_rng_next(r) * n;
	lo = (uint64_t)m;
	if (lo < n) {
		floor = -n % n;
		while (lo < floor) {
			m = (unsigned __int128)sl_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

void sl_rng_fork(struct sl_rng *parent, struct sl_rng *child)
{
	sl_rng_seed(child, sl_rng_next(parent));
}

uint64_t sl_hash64(const void *p, size_t n, uint64_t seed)
{
	/* FNV-1a over the bytes, finished with sl_mix64: stable across runs
	 * and machines, for hash-based splits and sampling. */
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return sl_mix64(h + GOLDEN);
}
