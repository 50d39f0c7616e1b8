/*
 * hash.c - a fast 128-bit hash of bytes, for telling records apart.
 *
 * Deduplication keeps one 128-bit hash per distinct record instead of the
 * record itself, so the hash must be well mixed and fast on long inputs.
 * Each 16-byte block is folded into the state with a 64x64->128-bit
 * multiply (the low and high halves xored: the "mum" step that wyhash and
 * others build on); two lanes with different seeds give the two halves.
 * Stable across runs and machines (little-endian reads via memcpy).
 */
#include "sluice.h"

#include <string.h>

static const uint64_t P0 = 0xa0761d6478bd642fULL, P1 = 0xe7037ed1a0b428dbULL,
                      P2 = 0x8ebc6af09c88c6e3ULL, P3 = 0x589965cc75374cc3ULL;

static inline uint64_t mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t lane(const unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ mum(seed ^ P0, (uint64_t)n ^ P1), a, b;
	size_t i = 0;
	unsigned char tail[16];

	for (; i + 16 <= n; i += 16) {
		memcpy(&a, p + i, 8);
		memcpy(&b, p + i + 8, 8);
		h = mum(a ^ P1 ^ h, b ^ P2 ^ seed);
	}
	memset(tail, 0, sizeof tail);
	memcpy(tail, p + i, n - i);
	memcpy(&a, tail, 8);
	memcpy(&b, tail + 8, 8);
	h = mum(a ^ P1 ^ h, b ^ P2 ^ (uint64_t)(n - i));
	return mum(h ^ P3, h ^ P0 ^ seed);
}

void sl_hash128(const void *p, size_t n, uint64_t seed, uint64_t out[2])
{
	out[0] = lane(p, n, seed ^ 0x243f6a8885a308d3ULL);
	out[1] = lane(p, n, seed ^ 0x13198a2e03707344ULL);
}
