/*
 * init.c - weight initialisation.
 *
 * A scheme is a distribution and its scale.  The fixed ones take the scale
 * from their argument (a constant, a uniform bound, a normal's sigma); the
 * Xavier/Glorot and He/Kaiming schemes derive it from the weight's fan-in
 * and fan-out so that activations (Xavier: and gradients) keep their
 * variance from layer to layer:
 *
 *   Xavier   Var = gain^2 * 2 / (fan_in + fan_out)     (tanh, sigmoid, linear)
 *   He       Var = gain^2 / fan_in, gain sqrt(2)       (ReLU)
 *
 * A uniform U(-a, a) has variance a^2 / 3, hence the bounds in sluice.h.
 * The formulas and default gains are PyTorch's (torch.nn.init), so a model
 * described in PyTorch terms starts from the same distribution here.  The
 * numbers come from the caller's sl_rng, one or two draws per weight in
 * index order, so a seed fixes every weight.
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum sl_init_kind kind;
	int needs_arg;       /* the argument is required */
	double default_arg;  /* else this is the default */
} schemes[] = {
	{"zeros", SL_INIT_ZEROS, 0, 0},
	{"const", SL_INIT_CONST, 1, 0},
	{"uniform", SL_INIT_UNIFORM, 1, 0},
	{"normal", SL_INIT_NORMAL, 1, 0},
	{"xavier_uniform", SL_INIT_XAVIER_UNIFORM, 0, 1},
	{"xavier_normal", SL_INIT_XAVIER_NORMAL, 0, 1},
	{"he_uniform", SL_INIT_HE_UNIFORM, 0, M_SQRT2},
	{"he_normal", SL_INIT_HE_NORMAL, 0, M_SQRT2},
};

int sl_init_parse(struct sl_init_spec *spec, const char *s)
{
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);
	double arg;

	for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
		if (strlen(schemes[i].name) != len ||
		    strncmp(schemes[i].name, s, len) != 0)
			continue;
		if (!colon) {
			if (schemes[i].needs_arg)
				return -1;
			arg = schemes[i].default_arg;
		} else {
			if (schemes[i].kind == SL_INIT_ZEROS ||
			    sl_parse_float(colon + 1, strlen(colon + 1), &arg) < 0 ||
			    !isfinite(arg))
				return -1;
			/* A bound, a sigma or a gain below zero means nothing. */
			if (schemes[i].kind != SL_INIT_CONST && arg < 0)
				return -1;
		}
		spec->kind = schemes[i].kind;
		spec->arg = (float)arg;
		return 0;
	}
	return -1;
}

static void fill_uniform(float *w, struct sl_rng *r, double a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(a * (2.0 * sl_rng_uniform(r) - 1.0));
}

static void fill_normal(float *w, struct sl_rng *r, double sigma, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(sigma * sl_rng_normal(r));
}

void sl_init_fill(float *w, struct sl_rng *r, struct sl_init_spec spec,
                  size_t n, int fan_in, int fan_out)
{
	double gain = spec.arg;

	switch (spec.kind) {
	case SL_INIT_ZEROS:
		memset(w, 0, n * sizeof *w);
		return;
	case SL_INIT_CONST:
		for (size_t i = 0; i < n; i++)
			w[i] = spec.arg;
		return;
	case SL_INIT_UNIFORM:
		fill_uniform(w, r, spec.arg, n);
		return;
	case SL_INIT_NORMAL:
		fill_normal(w, r, spec.arg, n);
		return;
	case SL_INIT_XAVIER_UNIFORM:
	case SL_INIT_XAVIER_NORMAL:
		SL_ASSERT(fan_in > 0 && fan_out > 0);
		if (spec.kind == SL_INIT_XAVIER_UNIFORM)
			fill_uniform(w, r, gain * sqrt(6.0 / (fan_in + fan_out)), n);
		else
			fill_normal(w, r, gain * sqrt(2.0 / (fan_in + fan_out)), n);
		return;
	case SL_INIT_HE_UNIFORM:
	case SL_INIT_HE_NORMAL:
		SL_ASSERT(fan_in > 0);
		if (spec.kind == SL_INIT_HE_UNIFORM)
			fill_uniform(w, r, gain * sqrt(3.0 / fan_in), n);
		else
			fill_normal(w, r, gain / sqrt((double)fan_in), n);
		return;
	}
	SL_ASSERT(!"unknown init kind");
}
