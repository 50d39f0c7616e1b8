/*
 * rng.c - the one source of randomness: xoshiro256** seeded through
 * splitmix64.
 *
 * Every random choice in sluice (sampling, splitting, shuffling, weight
 * initialisation, dropout) draws from an sl_rng seeded by --seed, never
 * from libc's rand(), so the same seed gives the same bytes on every
 * machine.  Independent streams for workers come from sl_rng_fork(), which
 * seeds a child from the parent's next output.
 */
#include "sluice.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void sl_rng_seed(struct sl_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
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

uint64_t sl_rng_below(struct sl_rng *r, uint64_t n)
{
	/* Lemire's nearly divisionless method, with the rejection step that
	 * makes it exactly uniform. */
	unsigned __int128 m;
	uint64_t lo, t;

	SL_ASSERT(n > 0);
	m = (unsigned __int128)sl_rng_next(r) * n;
	lo = (uint64_t)m;
	if (lo < n) {
		t = (0 - n) % n;
		while (lo < t) {
			m = (unsigned __int128)sl_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double sl_rng_normal(struct sl_rng *r)
{
	/* Box-Muller; the second value is dropped to keep the state simple. */
	double u1, u2;

	do
		u1 = sl_rng_uniform(r);
	while (u1 <= 0);
	u2 = sl_rng_uniform(r);
	return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

void sl_rng_fork(struct sl_rng *parent, struct sl_rng *child)
{
	sl_rng_seed(child, sl_rng_next(parent));
}

uint64_t sl_hash64(const void *p, size_t n, uint64_t seed)
{
	/* A 64-bit FNV-1a variant finished with splitmix64's mixer: stable
	 * across runs and machines, for hash-based splits and sampling. */
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return splitmix64(&h);
}
