/*
 * optim.c - optimizers: one update step over a flat block of parameters.
 *
 * The parameters, their gradients and the optimizer's moments are four
 * arrays of the same layout (see params.c), so a step is one loop over
 * the elements.  The rules are torch.optim's, so that hyperparameters
 * carry over from PyTorch recipes; per element, with g the gradient:
 *
 *   penalties   g += l2 * p + l1 * sign(p)               (i < ndecay)
 *   decay       p -= lr * weight_decay * p                (i < ndecay)
 *   SGD         p -= lr * g
 *   momentum    m = mu * m + g;  p -= lr * m
 *   Nesterov    m = mu * m + g;  p -= lr * (g + mu * m)
 *   Adam(W)     m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2
 *               p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *   RMSprop     v = alpha * v + (1 - alpha) * g^2;  p -= lr * g / (sqrt(v) + eps)
 *
 * Penalties act only on the prefix [0, ndecay) of the block, where
 * sl_params puts the weights, and not on biases or norm gains.  The bias
 * corrections are computed once per step in double.  Each element's update
 * depends on that element alone, so the loop has no reduction; gradient
 * clipping, which does, sums squares in double in a fixed order
 * (sl_sum_squares).
 *
 * Speed.  Without an L1 penalty (whose sign(p) is a float comparison that
 * GCC will not vectorise while FP traps are in force) each kind runs a
 * loop of its own over restrict-qualified arrays, which GCC builds for
 * AVX-512, AVX2 and plain SSE2 and picks one at load time, as layers.c
 * does.  ISO C contracts no multiply-add and the vector sqrt and divide
 * are IEEE's, so every build gives the same bits as the scalar loop.
 * (Adam was a tenth of an MLP step on Fashion-MNIST in plain SSE.)
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {
	[SL_OPTIM_SGD] = "sgd",       [SL_OPTIM_MOMENTUM] = "momentum",
	[SL_OPTIM_NESTEROV] = "nesterov", [SL_OPTIM_ADAM] = "adam",
	[SL_OPTIM_ADAMW] = "adamw",   [SL_OPTIM_RMSPROP] = "rmsprop",
};

void sl_optim_init(struct sl_optim *o, enum sl_optim_kind kind)
{
	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->lr = kind == SL_OPTIM_ADAM || kind == SL_OPTIM_ADAMW ? 1e-3f : 1e-2f;
	o->momentum = 0.9f;
	o->beta1 = 0.9f;
	o->beta2 = 0.999f;
	o->alpha = 0.99f;
	o->eps = 1e-8f;
	o->weight_decay = kind == SL_OPTIM_ADAMW ? 0.01f : 0.0f;
}

int sl_optim_parse(enum sl_optim_kind *kind, const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(names[i], name) == 0) {
			*kind = (enum sl_optim_kind)i;
			return 0;
		}
	return -1;
}

const char *sl_optim_name(enum sl_optim_kind kind)
{
	SL_ASSERT((size_t)kind < sizeof names / sizeof *names);
	return names[kind];
}

/* The loops without L1: g = grad + l2 * p, the rest as in update() below,
 * term for term (dropping update()'s zero L1 term can change only the sign
 * of a zero g). */
VECTOR_CLONES
static void sgd_vec(float *restrict p, const float *restrict grad, size_t n,
                    float l2, float shrink, float lr)
{
	for (size_t i = 0; i < n; i++) {
		float g = grad[i] + l2 * p[i];
		p[i] = p[i] * shrink - lr * g;
	}
}

VECTOR_CLONES
static void momentum_vec(float *restrict p, float *restrict m,
                         const float *restrict grad, size_t n, float l2,
                         float shrink, float lr, float mu, int nesterov)
{
	if (nesterov)
		for (size_t i = 0; i < n; i++) {
			float g = grad[i] + l2 * p[i];
			m[i] = mu * m[i] + g;
			p[i] = p[i] * shrink - lr * (g + mu * m[i]);
		}
	else
		for (size_t i = 0; i < n; i++) {
			float g = grad[i] + l2 * p[i];
			m[i] = mu * m[i] + g;
			p[i] = p[i] * shrink - lr * m[i];
		}
}

VECTOR_CLONES
static void adam_vec(float *restrict p, float *restrict m, float *restrict v,
                     const float *restrict grad, size_t n, float l2,
                     float shrink, float lr, float b1, float b2, float c1,
                     float c2, float eps)
{
	for (size_t i = 0; i < n; i++) {
		float g = grad[i] + l2 * p[i];
		m[i] = b1 * m[i] + (1.0f - b1) * g;
		v[i] = b2 * v[i] + (1.0f - b2) * g * g;
		p[i] = p[i] * shrink - lr * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
	}
}

VECTOR_CLONES
static void rmsprop_vec(float *restrict p, float *restrict v,
                        const float *restrict grad, size_t n, float l2,
                        float shrink, float lr, float a, float eps)
{
	for (size_t i = 0; i < n; i++) {
		float g = grad[i] + l2 * p[i];
		v[i] = a * v[i] + (1.0f - a) * g * g;
		p[i] = p[i] * shrink - lr * g / (sqrtf(v[i]) + eps);
	}
}

/* One kind's update over n elements with the given penalties; the
 * decoupled decay multiplies p by shrink first, the penalties read p
 * before it (torch's order). */
static void update(const struct sl_optim *o, float *param, float *m, float *v,
                   const float *grad, size_t n, float l1, float l2,
                   float shrink)
{
	float lr = o->lr, mu = o->momentum, eps = o->eps;
	float b1 = o->beta1, b2 = o->beta2, a = o->alpha, c1, c2;

	if (l1 == 0.0f)
		switch (o->kind) {
		case SL_OPTIM_SGD:
			sgd_vec(param, grad, n, l2, shrink, lr);
			return;
		case SL_OPTIM_MOMENTUM:
		case SL_OPTIM_NESTEROV:
			SL_ASSERT(m || !n);
			momentum_vec(param, m, grad, n, l2, shrink, lr, mu,
			             o->kind == SL_OPTIM_NESTEROV);
			return;
		case SL_OPTIM_ADAM:
		case SL_OPTIM_ADAMW:
			SL_ASSERT((m && v) || !n);
			c1 = (float)(1.0 / (1.0 - pow(b1, (double)o->t)));
			c2 = (float)(1.0 / (1.0 - pow(b2, (double)o->t)));
			adam_vec(param, m, v, grad, n, l2, shrink, lr, b1, b2, c1, c2, eps);
			return;
		case SL_OPTIM_RMSPROP:
			SL_ASSERT(v || !n);
			rmsprop_vec(param, v, grad, n, l2, shrink, lr, a, eps);
			return;
		}

#define GRAD(i)                                                                \
	(grad[i] + l2 * param[i] +                                                 \
	 l1 * (float)((param[i] > 0.0f) - (param[i] < 0.0f)))
	switch (o->kind) {
	case SL_OPTIM_SGD:
		for (size_t i = 0; i < n; i++) {
			float g = GRAD(i);
			param[i] = param[i] * shrink - lr * g;
		}
		return;
	case SL_OPTIM_MOMENTUM:
	case SL_OPTIM_NESTEROV:
		SL_ASSERT(m || !n);
		for (size_t i = 0; i < n; i++) {
			float g = GRAD(i);
			m[i] = mu * m[i] + g;
			param[i] = param[i] * shrink -
			           lr * (o->kind == SL_OPTIM_NESTEROV ? g + mu * m[i] : m[i]);
		}
		return;
	case SL_OPTIM_ADAM:
	case SL_OPTIM_ADAMW:
		SL_ASSERT((m && v) || !n);
		/* The bias corrections 1 / (1 - beta^t), once per step. */
		c1 = (float)(1.0 / (1.0 - pow(b1, (double)o->t)));
		c2 = (float)(1.0 / (1.0 - pow(b2, (double)o->t)));
		for (size_t i = 0; i < n; i++) {
			float g = GRAD(i);
			m[i] = b1 * m[i] + (1.0f - b1) * g;
			v[i] = b2 * v[i] + (1.0f - b2) * g * g;
			param[i] = param[i] * shrink -
			           lr * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
		}
		return;
	case SL_OPTIM_RMSPROP:
		SL_ASSERT(v || !n);
		for (size_t i = 0; i < n; i++) {
			float g = GRAD(i);
			v[i] = a * v[i] + (1.0f - a) * g * g;
			param[i] = param[i] * shrink - lr * g / (sqrtf(v[i]) + eps);
		}
		return;
	}
#undef GRAD
	SL_ASSERT(!"unknown optimizer kind");
}

void sl_optim_step(struct sl_optim *o, float *param, float *m, float *v,
                   const float *grad, size_t n, size_t ndecay)
{
	SL_ASSERT(ndecay <= n);
	o->t++;
	update(o, param, m, v, grad, ndecay, o->l1, o->l2,
	       1.0f - o->lr * o->weight_decay);
	update(o, param + ndecay, m ? m + ndecay : NULL, v ? v + ndecay : NULL,
	       grad + ndecay, n - ndecay, 0.0f, 0.0f, 1.0f);
}

/* The squares in SL_SQ_LANES double lanes (element i in lane i % 16),
 * added pairwise at the end: a fixed order that vectorises, where one
 * running sum is a chain of dependent adds (4 cycles an element, a few
 * percent of a GPT step).  A float's square is exact in double. */
VECTOR_CLONES
void sl_sum_squares_add(double *restrict acc, const float *restrict x, size_t n)
{
	size_t i;

	for (i = 0; i + SL_SQ_LANES <= n; i += SL_SQ_LANES)
		for (int k = 0; k < SL_SQ_LANES; k++)
			acc[k] += (double)x[i + k] * x[i + k];
	for (; i < n; i++)
		acc[i % SL_SQ_LANES] += (double)x[i] * x[i];
}

double sl_sum_squares_total(double *acc)
{
	for (int w = SL_SQ_LANES / 2; w >= 1; w /= 2)
		for (int k = 0; k < w; k++)
			acc[k] += acc[k + w];
	return acc[0];
}

double sl_sum_squares(const float *x, size_t n)
{
	double acc[SL_SQ_LANES] = {0};

	sl_sum_squares_add(acc, x, n);
	return sl_sum_squares_total(acc);
}

float sl_clip_grad_norm(float *grad, size_t n, float max_norm)
{
	double norm = sqrt(sl_sum_squares(grad, n));
	float scale;

	if (norm > max_norm) {
		scale = (float)(max_norm / (norm + 1e-6));
		for (size_t i = 0; i < n; i++)
			grad[i] *= scale;
	}
	return (float)norm;
}
