/*
 * sched.c - learning-rate schedules.
 *
 * A schedule maps a step number to a learning rate; the training loop asks
 * for each step's rate and hands it to the optimizer (o->lr).  Four kinds
 * are pure functions of the step, so resuming at step s needs nothing but
 * s.  Reduce-on-plateau depends on the validation history instead; its
 * state (current rate, best metric, observations without improvement)
 * lives in the struct, which a checkpoint saves as it is.
 *
 * Every kind may start with a linear warmup from lr / (warmup + 1) to lr,
 * the form nanoGPT uses (and ../shared/bench/torch_charlm.py, our anchor
 * for the GPT), so "cosine with warmup" is exactly theirs:
 *
 *   step < warmup            lr * (step + 1) / (warmup + 1)
 *   k = step - warmup        the kind's own clock after it
 *   cosine, step >= total    min_lr
 */
#include "sluice.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {
	[SL_SCHED_CONSTANT] = "constant", [SL_SCHED_STEP] = "step",
	[SL_SCHED_EXP] = "exp",           [SL_SCHED_COSINE] = "cosine",
	[SL_SCHED_PLATEAU] = "plateau",
};

void sl_sched_init(struct sl_sched *s, enum sl_sched_kind kind, float lr)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->lr = lr;
	s->every = 1;
	s->gamma = 0.1f;
	s->total = 1;
	s->factor = 0.1f;
	s->threshold = 1e-4f;
	s->patience = 10;
	s->cur = lr;
	s->best = INFINITY;
}

int sl_sched_parse(enum sl_sched_kind *kind, const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(names[i], name) == 0) {
			*kind = (enum sl_sched_kind)i;
			return 0;
		}
	return -1;
}

float sl_sched_lr(const struct sl_sched *s, int64_t step)
{
	double lr = s->kind == SL_SCHED_PLATEAU ? s->cur : s->lr, k, frac;

	SL_ASSERT(step >= 0);
	if (step < s->warmup)
		return (float)(lr * (double)(step + 1) / (double)(s->warmup + 1));
	k = (double)(step - s->warmup);
	switch (s->kind) {
	case SL_SCHED_CONSTANT:
	case SL_SCHED_PLATEAU:
		return (float)lr;
	case SL_SCHED_STEP:
		SL_ASSERT(s->every > 0);
		return (float)(lr * pow(s->gamma, (double)((step - s->warmup) /
		                                           s->every)));
	case SL_SCHED_EXP:
		return (float)(lr * pow(s->gamma, k));
	case SL_SCHED_COSINE:
		if (step >= s->total)
			return s->min_lr;
		frac = k / (double)(s->total - s->warmup);
		return (float)(s->min_lr +
		               0.5 * (1.0 + cos(M_PI * frac)) * (lr - s->min_lr));
	}
	SL_ASSERT(!"unknown schedule kind");
	return 0.0f;
}

int sl_sched_observe(struct sl_sched *s, float metric)
{
	float x = s->maximize ? -metric : metric;
	/* Relative improvement, as ReduceLROnPlateau's threshold_mode "rel". */
	float bar = s->best > 0.0f ? s->best * (1.0f - s->threshold)
	                           : s->best * (1.0f + s->threshold);

	if (s->kind != SL_SCHED_PLATEAU)
		return 0;
	if (x < bar || isinf(s->best)) {
		s->best = x;
		s->bad = 0;
		return 0;
	}
	if (++s->bad <= s->patience)
		return 0;
	s->bad = 0;
	s->cur = fmaxf(s->cur * s->factor, s->min_lr);
	return 1;
}
