/*
 * loss.c - the objectives: softmax cross-entropy for classification,
 * MSE, MAE and Huber for regression, the multiclass hinge for linear SVMs
 * and binary cross-entropy on logits.
 *
 * A forward returns the mean loss over its rows (classification) or
 * elements (regression, BCE) as one float, summed in double in index
 * order.  Its backward takes dloss, the gradient of the whole objective
 * with respect to that mean, and accumulates dloss * d(mean)/d(input) into
 * the input gradient.  dloss makes a loss compose: 1 for the usual case, a
 * weight when losses are mixed, b/B when a worker holds b rows of a batch
 * of B and the gradients of the workers are summed.
 *
 * The classification losses read integer targets in [0, V); a target out
 * of range is a bug in the caller (it checks its data), caught by an
 * assertion.  Every form here is the stable one: cross-entropy through
 * log-sum-exp, BCE through max(x, 0) + log1p(exp(-|x|)), so no logit is
 * too large.
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>

/* ---------------------------------------------------- softmax x-entropy */

/* p (V) = softmax(x), *max the largest x, *sum the sum of e^(x - max):
 * the max by integer keys, e^ by vm_exp (lib/vmath.h; relative error
 * under 1e-7) with exponents below -87 taken as -87 (e^-87 = 2e-38,
 * nothing beside the max's 1), the sum in lanes: vectorised, and the
 * same bits every run.  A NaN logit makes the row NaN. */
VM_INLINE void softmax_row_body(int fused, float *p, const float *x, int V, float *max,
                                float *sum)
{
	float acc[VM_LANES] = {0}, mx, total;
	uint32_t kmax = 0;
	int i;

	for (i = 0; i < V; i++) {
		uint32_t k = vm_key(x[i]);
		kmax = k > kmax ? k : kmax;
	}
	mx = vm_unkey(kmax);
	for (i = 0; i < V; i++) {
		float d = x[i] - mx;
		d = d < -87.0f ? -87.0f : d; /* a NaN stays */
		p[i] = vm_exp(d, fused);
	}
	for (i = 0; i + VM_LANES <= V; i += VM_LANES)
		for (int k = 0; k < VM_LANES; k++)
			acc[k] += p[i + k];
	for (; i < V; i++)
		acc[i % VM_LANES] += p[i];
	total = vm_lanes_total(acc);
	for (i = 0; i < V; i++)
		p[i] /= total;
	*max = mx;
	*sum = total;
}

VM_KERNEL(softmax_row, (float *p, const float *x, int V, float *max, float *sum), p, x, V,
          max, sum)

// logits (B,V), targets (B) -> loss; probs (B,V) cache
float sl_softmax_xent_forward(float *probs, const float *logits,
                              const int32_t *targets, int B, int V)
{
	double total = 0.0;

	for (int b = 0; b < B; b++) {
		const float *x = logits + (size_t)b * V;
		float max, sum;

		SL_ASSERT(targets[b] >= 0 && targets[b] < V);
		softmax_row(probs + (size_t)b * V, x, V, &max, &sum);
		/* -log p[t] = log(sum) - (x[t] - max), from the logits, so
		 * right even where p[t] is tiny or clamped. */
		total += (double)logf(sum) - (double)(x[targets[b]] - max);
	}
	return B > 0 ? (float)(total / B) : 0.0f;
}

// -> dlogits (B,V)
void sl_softmax_xent_backward(float *dlogits, float dloss, const float *probs,
                              const int32_t *targets, int B, int V)
{
	float s = dloss / (float)B;

	for (int b = 0; b < B; b++) {
		const float *p = probs + (size_t)b * V;
		float *d = dlogits + (size_t)b * V;

		for (int i = 0; i < V; i++)
			d[i] += s * p[i];
		d[targets[b]] -= s;
	}
}

/* ------------------------------------------------------------ regression */

// pred (n), target (n) -> loss
float sl_mse_forward(const float *pred, const float *target, size_t n)
{
	double total = 0.0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)pred[i] - target[i];
		total += d * d;
	}
	return n ? (float)(total / (double)n) : 0.0f;
}

void sl_mse_backward(float *dpred, float dloss, const float *pred,
                     const float *target, size_t n)
{
	float s = 2.0f * dloss / (float)n;

	for (size_t i = 0; i < n; i++)
		dpred[i] += s * (pred[i] - target[i]);
}

float sl_mae_forward(const float *pred, const float *target, size_t n)
{
	double total = 0.0;

	for (size_t i = 0; i < n; i++)
		total += fabs((double)pred[i] - target[i]);
	return n ? (float)(total / (double)n) : 0.0f;
}

void sl_mae_backward(float *dpred, float dloss, const float *pred,
                     const float *target, size_t n)
{
	float s = dloss / (float)n;

	for (size_t i = 0; i < n; i++)
		dpred[i] += pred[i] > target[i] ? s : pred[i] < target[i] ? -s : 0.0f;
}

float sl_huber_forward(const float *pred, const float *target, float delta,
                       size_t n)
{
	double total = 0.0;

	SL_ASSERT(delta > 0.0f);
	for (size_t i = 0; i < n; i++) {
		double a = fabs((double)pred[i] - target[i]);
		total += a <= delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
	}
	return n ? (float)(total / (double)n) : 0.0f;
}

/* The gradient is the error clamped to [-delta, delta]. */
void sl_huber_backward(float *dpred, float dloss, const float *pred,
                       const float *target, float delta, size_t n)
{
	float s = dloss / (float)n;

	for (size_t i = 0; i < n; i++) {
		float d = pred[i] - target[i];
		d = d > delta ? delta : d < -delta ? -delta : d;
		dpred[i] += s * d;
	}
}

/* ----------------------------------------------------------------- hinge */

// scores (B,V), targets (B) -> loss
float sl_hinge_forward(const float *scores, const int32_t *targets, int B,
                       int V)
{
	double total = 0.0;

	for (int b = 0; b < B; b++) {
		const float *s = scores + (size_t)b * V;
		int y = targets[b];
		double row = 0.0;

		SL_ASSERT(y >= 0 && y < V);
		for (int j = 0; j < V; j++) {
			float m = 1.0f - s[y] + s[j];
			if (j != y && m > 0.0f)
				row += m;
		}
		total += row / V;
	}
	return B > 0 ? (float)(total / B) : 0.0f;
}

/* Each violated margin j pushes s_j up and s_y down by 1 / (B*V). */
// -> dscores (B,V)
void sl_hinge_backward(float *dscores, float dloss, const float *scores,
                       const int32_t *targets, int B, int V)
{
	float g = dloss / ((float)B * (float)V);

	for (int b = 0; b < B; b++) {
		const float *s = scores + (size_t)b * V;
		float *d = dscores + (size_t)b * V;
		int y = targets[b], violated = 0;

		for (int j = 0; j < V; j++)
			if (j != y && 1.0f - s[y] + s[j] > 0.0f) {
				d[j] += g;
				violated++;
			}
		d[y] -= g * (float)violated;
	}
}

/* ------------------------------------------------------------------- BCE */

// logits (n), targets (n) -> loss
float sl_bce_logits_forward(const float *logits, const float *targets,
                            size_t n)
{
	double total = 0.0;

	for (size_t i = 0; i < n; i++) {
		double x = logits[i];
		total += (x > 0 ? x : 0) - x * targets[i] + log1p(exp(-fabs(x)));
	}
	return n ? (float)(total / (double)n) : 0.0f;
}

void sl_bce_logits_backward(float *dlogits, float dloss, const float *logits,
                            const float *targets, size_t n)
{
	float s = dloss / (float)n;

	for (size_t i = 0; i < n; i++) {
		float x = logits[i], e, sig;
		/* sigmoid without overflow: exp of -|x| only. */
		e = expf(-fabsf(x));
		sig = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
		dlogits[i] += s * (sig - targets[i]);
	}
}
