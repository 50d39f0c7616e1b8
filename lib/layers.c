/*
 * layers.c - the dense layers: linear, the element-wise activations,
 * dropout, layer norm, embedding and softmax, each as a forward/backward
 * pair side by side.
 *
 * Conventions (see the tensor-core section of sluice.h): plain row-major
 * float arrays with explicit sizes; arguments ordered outputs, inputs,
 * weights, caches, sizes; a backward accumulates (+=) into its gradients;
 * linear and layer norm skip an input gradient given as NULL (the first
 * layer of a model needs none).  GEMMs go to sl_matmul (or lib/gemm.c's
 * kernels, see sl_linear_gemm); every
 * other loop walks memory contiguously so the compiler can vectorise it,
 * and every reduction runs in a fixed order, so results are bit-identical
 * across runs.  Nothing here allocates or keeps state: whatever a backward
 * needs is a cache its forward wrote (or the forward's input or output,
 * named in each comment).
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- linear */

// in (B,C), w (OC,C), bias (OC) -> out (B,OC)
/* The linear layer's three products: out (+)= in w^T, din (+)= dout w,
 * dw (+)= dout^T in.  Where sl_gemm_beats_blas (OpenBLAS held to kernels
 * narrower than the CPU's), lib/gemm.c's; else sgemm.  The forward takes
 * the transposed panels from 32 rows on: a generator's one token at a
 * time would pay more for the copy than it saves. */
void sl_linear_gemm(float *out, const float *in, const float *w, int B, int C, int OC,
                    int acc)
{
	if (B >= 32 && sl_gemm_beats_blas())
		sl_gemm_nt_panels(out, OC, in, C, w, C, B, OC, C, acc);
	else
		sl_matmul(out, in, w, SL_TRANS_N, SL_TRANS_T, B, OC, C, 1.0f, acc ? 1.0f : 0.0f);
}

void sl_linear_gemm_din(float *din, const float *dout, const float *w, int B, int C,
                        int OC, int acc)
{
	if (sl_gemm_beats_blas()) {
		sl_gemm_nn(din, C, dout, OC, SL_TRANS_N, w, C, B, C, OC, acc);
		return;
	}
	/* sgemm with beta 0 zeroes the block itself, more slowly than memset
	 * (measured on the GPT backward) */
	if (!acc)
		memset(din, 0, (size_t)B * C * sizeof *din);
	sl_matmul(din, dout, w, SL_TRANS_N, SL_TRANS_N, B, C, OC, 1.0f, 1.0f);
}

void sl_linear_gemm_dw(float *dw, const float *dout, const float *in, int B, int C, int OC,
                       int acc)
{
	if (sl_gemm_beats_blas())
		sl_gemm_nn(dw, C, dout, OC, SL_TRANS_T, in, C, OC, C, B, acc);
	else
		sl_matmul(dw, dout, in, SL_TRANS_T, SL_TRANS_N, OC, C, B, 1.0f, acc ? 1.0f : 0.0f);
}

void sl_linear_forward(float *out, const float *in, const float *w,
                       const float *bias, int B, int C, int OC)
{
	if (bias)
		for (int b = 0; b < B; b++)
			memcpy(out + (size_t)b * OC, bias, (size_t)OC * sizeof *out);
	sl_linear_gemm(out, in, w, B, C, OC, bias != NULL);
}

// dout (B,OC) -> din (B,C), dw (OC,C), dbias (OC)
void sl_linear_backward(float *din, float *dw, float *dbias, const float *dout,
                        const float *in, const float *w, int B, int C, int OC)
{
	if (din)
		sl_linear_gemm_din(din, dout, w, B, C, OC, 1);
	sl_linear_gemm_dw(dw, dout, in, B, C, OC, 1);
	if (dbias)
		for (int b = 0; b < B; b++) {
			const float *d = dout + (size_t)b * OC;
			for (int o = 0; o < OC; o++)
				dbias[o] += d[o];
		}
}

/* ----------------------------------------------------------- activations */

// in (n) -> out (n)
void sl_relu_forward(float *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void sl_relu_backward(float *din, const float *dout, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
}

/* GELU, exact: x * Phi(x), Phi the standard normal CDF.  Its derivative
 * is Phi(x) + x * phi(x), phi the standard normal density.
 *
 * libm's erff is a call per element that no compiler vectorises, and it
 * made GELU a fifth of a GPT's training step.  Phi is written here with
 * Numerical Recipes' substitution for erfc instead:
 *
 *     z = |x| / sqrt(2),  t = 1 / (1 + z/2),  e = exp(-z^2) = exp(-x^2/2)
 *     erfc(z) = t e G(t)
 *     Phi(x) = erfc(z) / 2 for x < 0,  1 - erfc(z) / 2 otherwise
 *
 * G (erfc(z) e^(z^2) / t, smooth in t) is a degree-10 polynomial fitted for
 * sluice: weighted least squares against scipy's erfcx in double over the
 * t of |x| <= 13 (numpy: Polynomial.fit(t, Q, 10, w=1/Q) on 400001 points
 * of [0.1787, 1], Q = erfcx(2/t - 2) / t; coefficients halved below),
 * relative error 2e-8 with exact arithmetic and 2.5e-7 as evaluated in
 * float (NR's exp-of-polynomial form: 3.2e-7, and a second exp).  The tail x < 0, where GELU is tiny, keeps its relative accuracy,
 * and e is the one exp per element, shared with phi = e / sqrt(2 pi) in
 * the derivative; exp is vm_exp (lib/vmath.h; relative error under
 * 1e-7).  There is no branch and no float comparison, so the loops
 * vectorise; each is built for AVX-512, AVX2 with FMA and plain SSE2
 * (VM_KERNEL), the polynomial in fused multiply-adds where the CPU has
 * them.  Inputs beyond |x| = 13 are taken as 13 (where Phi is 1 or below
 * 1e-38); a NaN stays NaN in both directions.  Against erf in double,
 * GELU is within 4e-7 absolute for |x| <= 14 and its derivative within
 * 3e-7, fused or not (tests/unit/gpt.c checks the build the CPU picks; a
 * sanitizer build runs the plain one).
 *
 * A GPT's training forward calls sl_gelu_forward_grad, which also writes
 * the derivative (two more multiply-adds per element), so its backward is
 * a product: cheaper than sl_gelu_backward, which computes it again. */
#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

/* x with its magnitude clamped to 13 (Phi(-13) is 6e-39), by integer
 * compares on the bits: the order of non-negative floats is that of their
 * bits, and a NaN becomes 13 (the caller's product with x keeps it NaN). */
VM_INLINE float clamp13(float x)
{
	uint32_t b, a;

	memcpy(&b, &x, sizeof b);
	a = b & 0x7fffffffu;
	a = a < 0x41500000u ? a : 0x41500000u; /* 13.0f */
	b = (b & 0x80000000u) | a;
	memcpy(&x, &b, sizeof x);
	return x;
}

/* r, or x when x is a NaN (integer selects, as above). */
VM_INLINE float keep_nan(float r, float x)
{
	uint32_t rb, xb, m;

	memcpy(&rb, &r, sizeof rb);
	memcpy(&xb, &x, sizeof xb);
	m = 0u - (uint32_t)((xb & 0x7fffffffu) > 0x7f800000u);
	rb = (rb & ~m) | (xb & m);
	memcpy(&r, &rb, sizeof r);
	return r;
}

/* Phi(x), the standard normal CDF, for |x| <= 13, given e = exp(-x^2/2). */
VM_INLINE float normal_cdf(float x, float e, int fused)
{
	float z = fabsf(x) * INV_SQRT2, t = 1.0f / vm_madd(0.5f, z, 1.0f, fused), g, h,
	      neg;
	uint32_t b;

	memcpy(&b, &x, sizeof b);
	neg = (float)(b >> 31); /* 1 or 0: the select below is exact */
	g = vm_madd(t, 0.0169657301f, -0.0896870568f, fused); /* G / 2 */
	g = vm_madd(t, g, 0.174539313f, fused);
	g = vm_madd(t, g, -0.119045690f, fused);
	g = vm_madd(t, g, -0.0369976759f, fused);
	g = vm_madd(t, g, 0.0350934379f, fused);
	g = vm_madd(t, g, 0.0196688324f, fused);
	g = vm_madd(t, g, 0.0950837955f, fused);
	g = vm_madd(t, g, 0.122166485f, fused);
	g = vm_madd(t, g, 0.141170591f, fused);
	g = vm_madd(t, g, 0.141042262f, fused);
	h = t * e * g; /* erfc(z) / 2 */
	return neg * h + (1.0f - neg) * (1.0f - h);
}

/* GELU'(x) = Phi(x) + x phi(x) for x = clamp13(in), given Phi(x) and
 * e = exp(-x^2/2); NaN for a NaN in. */
VM_INLINE float gelu_slope(float x, float cdf, float e, float in, int fused)
{
	return keep_nan(vm_madd(x, INV_SQRT_2PI * e, cdf, fused), in);
}

VM_INLINE void gelu_fwd_body(int fused, float *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = clamp13(in[i]), e = vm_exp(-0.5f * x * x, fused);
		out[i] = in[i] * normal_cdf(x, e, fused);
	}
}

/* dgelu may be in (the derivative then replaces the input). */
VM_INLINE void gelu_fwd_grad_body(int fused, float *out, float *dgelu,
                                  const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v = in[i], x = clamp13(v), e = vm_exp(-0.5f * x * x, fused),
		      cdf = normal_cdf(x, e, fused);
		out[i] = v * cdf;
		dgelu[i] = gelu_slope(x, cdf, e, v, fused);
	}
}

VM_INLINE void gelu_bwd_body(int fused, float *din, const float *dout,
                             const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = clamp13(in[i]), e = vm_exp(-0.5f * x * x, fused);
		din[i] += dout[i] * gelu_slope(x, normal_cdf(x, e, fused), e, in[i], fused);
	}
}

VM_KERNEL(gelu_fwd, (float *out, const float *in, size_t n), out, in, n)
VM_KERNEL(gelu_fwd_grad, (float *out, float *dgelu, const float *in, size_t n), out,
          dgelu, in, n)
VM_KERNEL(gelu_bwd, (float *din, const float *dout, const float *in, size_t n), din,
          dout, in, n)

// in (n) -> out (n)
void sl_gelu_forward(float *out, const float *in, size_t n)
{
	gelu_fwd(out, in, n);
}

// in (n) -> out (n), dgelu (n) = GELU'(in); dgelu may be in
void sl_gelu_forward_grad(float *out, float *dgelu, const float *in, size_t n)
{
	gelu_fwd_grad(out, dgelu, in, n);
}

void sl_gelu_backward(float *din, const float *dout, const float *in, size_t n)
{
	gelu_bwd(din, dout, in, n);
}

// in (n) -> out (n); the backward reads out
void sl_tanh_forward(float *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = tanhf(in[i]);
}

void sl_tanh_backward(float *din, const float *dout, const float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		din[i] += dout[i] * (1.0f - out[i] * out[i]);
}

/* exp of a non-positive number only, so neither branch overflows. */
static float sigmoid(float x)
{
	float e;

	if (x >= 0.0f)
		return 1.0f / (1.0f + expf(-x));
	e = expf(x);
	return e / (1.0f + e);
}

// in (n) -> out (n); the backward reads out
void sl_sigmoid_forward(float *out, const float *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = sigmoid(in[i]);
}

void sl_sigmoid_backward(float *din, const float *dout, const float *out,
                         size_t n)
{
	for (size_t i = 0; i < n; i++)
		din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

/* --------------------------------------------------------------- dropout */

/* Element i is kept when the top 24 bits of mix(seed + (i+1) * golden),
 * read as a fraction of 2^24, are >= p.  That is splitmix64's i-th output
 * from seed: stateless, so any range of elements can be drawn alone. */
// in (n) -> out (n); mask (n) cache
void sl_dropout_forward(float *out, float *mask, const float *in, float p,
                        uint64_t seed, size_t n)
{
	float scale = 1.0f / (1.0f - p);
	uint32_t cut = (uint32_t)((double)p * 16777216.0);

	SL_ASSERT(p >= 0.0f && p < 1.0f);
	for (size_t i = 0; i < n; i++) {
		uint64_t h = sl_mix64(seed + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL);
		mask[i] = (uint32_t)(h >> 40) >= cut ? scale : 0.0f;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] * mask[i];
}

void sl_dropout_backward(float *din, const float *dout, const float *mask,
                         size_t n)
{
	for (size_t i = 0; i < n; i++)
		din[i] += dout[i] * mask[i];
}

/* ------------------------------------------------------------ layer norm */

#define LN_EPS 1e-5f

/* The row sums of layer norm run in VM_LANES interleaved lanes, added
 * pairwise at the end (vm_lanes_total, lib/vmath.h): a fixed order, so
 * the same bits every run, and one the compiler vectorises.  The loops are
 * built for AVX-512, AVX2 and plain SSE2 (no multiply-adds here, so all
 * three give the same bits), one picked at load time. */

// in (B,C), weight (C), bias (C) -> out (B,C); caches mean (B), rstd (B)
VECTOR_CLONES
void sl_layernorm_forward(float *out, float *mean, float *rstd,
                          const float *in, const float *weight,
                          const float *bias, int B, int C)
{
	for (int b = 0; b < B; b++) {
		const float *x = in + (size_t)b * C;
		float *y = out + (size_t)b * C;
		float acc[VM_LANES] = {0}, m, v, s;
		int i;

		for (i = 0; i + VM_LANES <= C; i += VM_LANES)
			for (int k = 0; k < VM_LANES; k++)
				acc[k] += x[i + k];
		for (; i < C; i++)
			acc[i % VM_LANES] += x[i];
		m = vm_lanes_total(acc) / C;
		memset(acc, 0, sizeof acc);
		for (i = 0; i + VM_LANES <= C; i += VM_LANES)
			for (int k = 0; k < VM_LANES; k++)
				acc[k] += (x[i + k] - m) * (x[i + k] - m);
		for (; i < C; i++)
			acc[i % VM_LANES] += (x[i] - m) * (x[i] - m);
		v = vm_lanes_total(acc) / C;
		s = 1.0f / sqrtf(v + LN_EPS);
		for (i = 0; i < C; i++)
			y[i] = (x[i] - m) * s * weight[i] + bias[i];
		mean[b] = m;
		rstd[b] = s;
	}
}

/* With xhat = (x - mean) * rstd and g = weight * dout, the input gradient
 * is rstd * (g - mean(g) - xhat * mean(g * xhat)). */
// dout (B,C) -> din (B,C), dweight (C), dbias (C)
VECTOR_CLONES
void sl_layernorm_backward(float *din, float *dweight, float *dbias,
                           const float *dout, const float *in,
                           const float *weight, const float *mean,
                           const float *rstd, int B, int C)
{
	for (int b = 0; b < B; b++) {
		const float *x = in + (size_t)b * C, *dy = dout + (size_t)b * C;
		float m = mean[b], s = rstd[b], gmean, gxmean;
		float ag[VM_LANES] = {0}, agx[VM_LANES] = {0};
		int i;

		for (i = 0; i + VM_LANES <= C; i += VM_LANES)
			for (int k = 0; k < VM_LANES; k++) {
				float g = weight[i + k] * dy[i + k];
				ag[k] += g;
				agx[k] += g * ((x[i + k] - m) * s);
			}
		for (; i < C; i++) {
			float g = weight[i] * dy[i];
			ag[i % VM_LANES] += g;
			agx[i % VM_LANES] += g * ((x[i] - m) * s);
		}
		gmean = vm_lanes_total(ag) / C;
		gxmean = vm_lanes_total(agx) / C;
		for (i = 0; i < C; i++) {
			float xhat = (x[i] - m) * s;
			dbias[i] += dy[i];
			dweight[i] += xhat * dy[i];
		}
		if (din) {
			float *dx = din + (size_t)b * C;
			for (i = 0; i < C; i++) {
				float xhat = (x[i] - m) * s;
				dx[i] += s * (weight[i] * dy[i] - gmean - xhat * gxmean);
			}
		}
	}
}

/* ------------------------------------------------------------- embedding */

// ids (B), table (V,C) -> out (B,C)
void sl_embedding_forward(float *out, const int32_t *ids, const float *table,
                          int B, int C, int V)
{
	for (int b = 0; b < B; b++) {
		SL_ASSERT(ids[b] >= 0 && ids[b] < V);
		memcpy(out + (size_t)b * C, table + (size_t)ids[b] * C,
		       (size_t)C * sizeof *out);
	}
}

// dout (B,C) -> dtable (V,C)
void sl_embedding_backward(float *dtable, const float *dout,
                           const int32_t *ids, int B, int C)
{
	for (int b = 0; b < B; b++) {
		float *d = dtable + (size_t)ids[b] * C;
		const float *g = dout + (size_t)b * C;
		for (int i = 0; i < C; i++)
			d[i] += g[i];
	}
}

/* --------------------------------------------------------------- softmax */

// logits (B,V) -> probs (B,V)
void sl_softmax_forward(float *probs, const float *logits, int B, int V)
{
	for (int b = 0; b < B; b++) {
		const float *x = logits + (size_t)b * V;
		float *p = probs + (size_t)b * V, max = -INFINITY, sum = 0.0f;

		for (int i = 0; i < V; i++)
			max = x[i] > max ? x[i] : max;
		for (int i = 0; i < V; i++) {
			p[i] = expf(x[i] - max);
			sum += p[i];
		}
		for (int i = 0; i < V; i++)
			p[i] /= sum;
	}
}

/* dlogits = probs * (dprobs - sum(dprobs * probs)) row by row. */
// dprobs (B,V) -> dlogits (B,V)
void sl_softmax_backward(float *dlogits, const float *dprobs,
                         const float *probs, int B, int V)
{
	for (int b = 0; b < B; b++) {
		const float *p = probs + (size_t)b * V, *dp = dprobs + (size_t)b * V;
		float *dx = dlogits + (size_t)b * V, dot = 0.0f;

		for (int i = 0; i < V; i++)
			dot += dp[i] * p[i];
		for (int i = 0; i < V; i++)
			dx[i] += p[i] * (dp[i] - dot);
	}
}
