/*
 * gpt_train.c - the GPT training benchmark's own driver: nanoGPT's CPU
 * Shakespeare recipe on the library's GPT runner, the same loop
 * ../shared/bench/torch_charlm.py runs in PyTorch.
 *
 *   text -> characters (the sorted set of bytes) -> first 90% train, last
 *   10% val; 4 layers, 4 heads, 128 channels, context 64, batch 12, dropout
 *   0; AdamW lr 1e-3, betas 0.9 / 0.99, weight decay 0.1 on the matrices
 *   and tables; warmup 100, cosine to 1e-4 at the last step; gradient
 *   clipping at 1.0; random windows drawn by seed.
 *
 * Times every step (batch, forward, backward, clip, update: everything
 * but evaluation) and prints the median ms/iter, tokens/s, GFLOP/s by
 * sl_gpt_flops, and the full validation loss over non-overlapping windows
 * of the context (as torch_charlm.py's full_val_loss), then a line
 * "RESULT {json}", which also holds a hash of the trained parameters'
 * bytes (FNV-1a, 64 bits), to tell whether a change kept the arithmetic.  bench/gpt.sh builds and runs it beside PyTorch.
 *
 *   gpt_train DATA [--iters N] [--threads N] [--seed N] [--no-eval]
 */
#include "sluice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int iters = 2000, nthreads = 1, eval = 1, B = 12, T = 64;
	uint64_t seed = 1337;
	FILE *f;
	unsigned char *text;
	long len;
	int map[256], V = 0;
	int32_t *ids, *bx, *by;
	size_t ntrain, nval;
	struct sl_gpt g;
	struct sl_gpt_run *run;
	struct sl_optim opt;
	struct sl_sched sch;
	struct sl_rng rng;
	double *ms, t0, flops, med, val = 0, last = 0, train_s = 0, eval_s = 0;

	sl_init(argv[0]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--no-eval"))
			eval = 0;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: gpt_train DATA [--iters N] [--threads N] "
			                "[--seed N] [--no-eval]\n");
			return 2;
		}
	}
	if (!path || iters < 1 || nthreads < 1) {
		fprintf(stderr, "gpt_train: need a text file, iters >= 1, threads >= 1\n");
		return 2;
	}
	if (!(f = fopen(path, "rb")))
		sl_die(1, "%s: cannot open", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = sl_xmalloc((size_t)len + 1);
	if (fread(text, 1, (size_t)len, f) != (size_t)len)
		sl_die(1, "%s: cannot read", path);
	fclose(f);

	/* characters: the sorted set of bytes (tinyshakespeare is ASCII) */
	memset(map, -1, sizeof map);
	for (long i = 0; i < len; i++)
		map[text[i]] = 0;
	for (int c = 0; c < 256; c++)
		if (map[c] == 0)
			map[c] = V++;
	ids = sl_xmalloc((size_t)len * sizeof *ids);
	for (long i = 0; i < len; i++)
		ids[i] = map[text[i]];
	ntrain = (size_t)(0.9 * (double)len);
	nval = (size_t)len - ntrain;

	struct sl_gpt_config cfg = {V, T, 4, 4, 128, 0};
	sl_gpt_init(&g, &cfg);
	sl_gpt_init_weights(&g, seed);
	run = sl_gpt_run_new(&g, B, T, nthreads);
	sl_optim_init(&opt, SL_OPTIM_ADAMW);
	opt.lr = 1e-3f;
	opt.beta2 = 0.99f;
	opt.weight_decay = 0.1f;
	sl_sched_init(&sch, SL_SCHED_COSINE, 1e-3f);
	sch.warmup = 100;
	sch.total = 2000;
	sch.min_lr = 1e-4f;
	sl_rng_seed(&rng, seed);
	bx = sl_xmalloc((size_t)B * T * sizeof *bx);
	by = sl_xmalloc((size_t)B * T * sizeof *by);
	ms = sl_xmalloc((size_t)iters * sizeof *ms);
	printf("gpt_train: %s  vocab %d  train %zu  val %zu  params %zu  threads %d\n",
	       path, V, ntrain, nval, g.P.n, nthreads);
	fflush(stdout);

	for (int it = 0; it < iters; it++) {
		float loss;
		t0 = now();
		for (int b = 0; b < B; b++) {
			size_t s = (size_t)sl_rng_below(&rng, ntrain - (size_t)T);
			memcpy(bx + (size_t)b * T, ids + s, (size_t)T * sizeof *bx);
			memcpy(by + (size_t)b * T, ids + s + 1, (size_t)T * sizeof *by);
		}
		loss = sl_gpt_run_step(run, bx, by, B, seed + (uint64_t)it);
		opt.lr = sl_sched_lr(&sch, it);
		sl_gpt_run_update(run, &opt, 1.0f); /* clipping and AdamW */
		ms[it] = (now() - t0) * 1e3;
		train_s += ms[it] / 1e3;
		last = loss;
		if (it % 250 == 0 || it == iters - 1) {
			printf("iter %5d: loss %.4f  lr %.2e  %.2f ms\n", it, loss, opt.lr, ms[it]);
			fflush(stdout);
		}
	}

	if (eval) {
		/* non-overlapping windows of the val split, B at a time */
		const int32_t *v = ids + ntrain;
		size_t nwin = (nval - 1) / (size_t)T, done = 0;
		double sum = 0;
		t0 = now();
		while (done < nwin) {
			int b = nwin - done < (size_t)B ? (int)(nwin - done) : B;
			sum += sl_gpt_run_loss(run, v + done * T, v + done * T + 1, b, NULL);
			done += (size_t)b;
		}
		val = sum / ((double)nwin * T);
		eval_s = now() - t0;
	}
	qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
	med = ms[iters / 2];
	flops = sl_gpt_flops(&g, B, T);
	printf("ms/iter median %.2f  min %.2f  tokens/s %.0f  GFLOP/s %.1f  "
	       "train %.1f s", med, ms[0], B * T / (med / 1e3), flops / (med / 1e3) / 1e9,
	       train_s);
	if (eval)
		printf("  full val loss %.4f (%.1f s)", val, eval_s);
	printf("\n");
	printf("RESULT {\"threads\": %d, \"iters\": %d, \"ms_per_iter_median\": %.3f, "
	       "\"ms_per_iter_min\": %.3f, \"tokens_per_s_median\": %.1f, "
	       "\"flops_per_iter\": %.0f, \"gflops_achieved_median\": %.2f, "
	       "\"train_wall_s\": %.2f, \"last_batch_loss\": %.4f",
	       nthreads, iters, med, ms[0], B * T / (med / 1e3), flops,
	       flops / (med / 1e3) / 1e9, train_s, last);
	if (eval)
		printf(", \"full_val_loss\": %.4f, \"full_val_seconds\": %.2f", val, eval_s);
	{
		const unsigned char *pb = (const unsigned char *)g.P.data;
		uint64_t h = 0xcbf29ce484222325ULL;
		for (size_t i = 0; i < g.P.n * sizeof *g.P.data; i++)
			h = (h ^ pb[i]) * 0x100000001b3ULL;
		printf(", \"params_fnv1a\": \"%016llx\"", (unsigned long long)h);
	}
	printf("}\n");
	sl_gpt_run_free(run);
	sl_gpt_free(&g);
	free(ms);
	free(bx);
	free(by);
	free(ids);
	free(text);
	return 0;
}
