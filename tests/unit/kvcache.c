/*
 * kvcache.c - the generation cache against the training forward: a GPT
 * fed through sl_gpt_kv_feed, a prompt at once then a token at a time,
 * must give the logits sl_gpt_forward gives at the same positions (to
 * float rounding), and feeding the same tokens again after a reset must
 * give the same bits.  C = 20 is not a multiple of the dot product's eight
 * lanes, so its tail is run too; C = 64 in two heads of 32 is a shape the
 * training forward runs through lib/attention.c's causal kernel (the
 * cache's own attention is sgemm and expf either way).
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest |a - b| over V values, relative to the largest |b| (>= 1). */
static double diff(const float *a, const float *b, int V)
{
	double d = 0, m = 1;

	for (int v = 0; v < V; v++) {
		d = fmax(d, fabs((double)a[v] - b[v]));
		m = fmax(m, fabs((double)b[v]));
	}
	return d / m;
}

static void run(int NH, int C)
{
	struct sl_gpt_config cfg = {.V = 37, .maxT = 16, .L = 2, .NH = NH, .C = C};
	struct sl_gpt g;
	struct sl_gpt_acts *a;
	struct sl_gpt_kv *c;
	struct sl_rng r;
	int32_t ids[16];
	const int T = 16, V = 37;
	float *want, *first;
	double worst = 0;
	const float *got;

	sl_gpt_init(&g, &cfg);
	sl_gpt_init_weights(&g, 11);
	/* larger weights than the init, so that differences would show */
	sl_rng_seed(&r, 2);
	for (size_t i = 0; i < g.P.n; i++)
		g.P.data[i] += (float)(0.2 * sl_rng_normal(&r));
	for (int t = 0; t < T; t++)
		ids[t] = (int32_t)sl_rng_below(&r, (uint64_t)V);
	a = sl_gpt_acts_new(&g, 1, T);
	sl_gpt_forward(&g, a, ids, NULL, 0, 0);
	want = a->logits;

	c = sl_gpt_kv_new(&g);
	got = sl_gpt_kv_feed(c, ids, 5);
	worst = diff(got, want + 4 * V, V);
	first = malloc((size_t)V * sizeof *first);
	memcpy(first, got, (size_t)V * sizeof *first);
	ok(sl_gpt_kv_len(c) == 5, "C=%d NH=%d: a prompt of 5 tokens is cached", C, NH);
	for (int t = 5; t < 12; t++)
		worst = fmax(worst, diff(sl_gpt_kv_feed(c, ids + t, 1), want + (size_t)t * V, V));
	got = sl_gpt_kv_feed(c, ids + 12, 4);
	worst = fmax(worst, diff(got, want + 15 * V, V));
	ok(sl_gpt_kv_len(c) == 16, "C=%d NH=%d: the cache is full at maxT", C, NH);
	ok(worst < 1e-5, "C=%d NH=%d: logits equal the full forward's at every position (%.2g)",
	   C, NH, worst);
	sl_gpt_kv_reset(c);
	got = sl_gpt_kv_feed(c, ids, 5);
	ok(memcmp(got, first, (size_t)V * sizeof *first) == 0,
	   "C=%d NH=%d: after a reset the same tokens give the same bits", C, NH);
	sl_gpt_kv_reset(c);
	for (int t = 0; t < T; t++)
		got = sl_gpt_kv_feed(c, ids + t, 1);
	ok(diff(got, want + 15 * V, V) < 1e-5, "C=%d NH=%d: one token at a time from the start",
	   C, NH);

	free(first);
	sl_gpt_kv_free(c);
	sl_gpt_acts_free(a);
	sl_gpt_free(&g);
}

int main(void)
{
	run(4, 20);
	run(2, 64);
	return done_testing();
}
