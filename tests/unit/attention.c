/*
 * attention.c - unit tests of lib/attention.c against a plain
 * double-precision reference: the output, the cached att and the gradient
 * dqkv (added to what dqkv held) for T = 1, 7, 16, 33, 64, 130 (tiles of
 * 8 rows and blocks of 16 keys, whole and cut short) and head sizes 8,
 * 16, 32, 64 (16 and 32 take the causal kernel, 8 and 64 the GEMM path),
 * with queries of ordinary size and scaled by 30 (most of a row's
 * exponents then fall below the -87 clamp); a NaN in one query makes NaN
 * exactly what it reaches causally (its token's row of out and att, its
 * dq row, dk and dv of the tokens up to it) and nothing else, but for dk
 * of later tokens, which the GEMM path also makes NaN; two calls give the
 * same bits; sl_attention_backward_set over garbage gives the bits of
 * sl_attention_backward into a cleared array, NaN included.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Forward and backward in double, the plain way: per (b, h, t) the
 * scores over j <= t, the softmax, the mix; then the backward from the
 * same att. */
static void reference(double *out, double *att, double *dqkv, const float *qkv,
                      const float *dout, int B, int T, int C, int NH)
{
	int hs = C / NH;
	double scale = 1 / sqrt((double)hs), *dp = malloc((size_t)T * sizeof *dp);

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
#define Q(t, i) ((double)qkv[((size_t)b * T + (t)) * 3 * C + h * hs + (i)])
#define K(t, i) ((double)qkv[((size_t)b * T + (t)) * 3 * C + C + h * hs + (i)])
#define V(t, i) ((double)qkv[((size_t)b * T + (t)) * 3 * C + 2 * C + h * hs + (i)])
#define DY(t, i) ((double)dout[((size_t)b * T + (t)) * C + h * hs + (i)])
#define DQ(t, i) dqkv[((size_t)b * T + (t)) * 3 * C + h * hs + (i)]
#define DK(t, i) dqkv[((size_t)b * T + (t)) * 3 * C + C + h * hs + (i)]
#define DV(t, i) dqkv[((size_t)b * T + (t)) * 3 * C + 2 * C + h * hs + (i)]
			double *a = att + ((size_t)b * NH + h) * T * T;
			for (int t = 0; t < T; t++) {
				double *row = a + (size_t)t * T, mx = -INFINITY, sum = 0;
				for (int j = 0; j < T; j++) {
					double d = 0;
					if (j > t) {
						row[j] = 0;
						continue;
					}
					for (int i = 0; i < hs; i++)
						d += Q(t, i) * K(j, i);
					row[j] = d * scale;
					if (row[j] > mx)
						mx = row[j];
				}
				for (int j = 0; j <= t; j++)
					sum += row[j] = exp(row[j] - mx);
				for (int j = 0; j <= t; j++)
					row[j] /= sum;
				for (int i = 0; i < hs; i++) {
					double acc = 0;
					for (int j = 0; j <= t; j++)
						acc += row[j] * V(j, i);
					out[((size_t)b * T + t) * C + h * hs + i] = acc;
				}
			}
			for (int t = 0; t < T; t++) {
				const double *row = a + (size_t)t * T;
				double dot = 0;
				for (int j = 0; j <= t; j++) {
					double d = 0;
					for (int i = 0; i < hs; i++)
						d += DY(t, i) * V(j, i);
					dp[j] = d;
					dot += row[j] * d;
				}
				for (int j = 0; j <= t; j++) {
					dp[j] = row[j] * (dp[j] - dot);
					for (int i = 0; i < hs; i++) {
						DV(j, i) += row[j] * DY(t, i);
						DQ(t, i) += scale * dp[j] * K(j, i);
						DK(j, i) += scale * dp[j] * Q(t, i);
					}
				}
			}
#undef Q
#undef K
#undef V
#undef DY
#undef DQ
#undef DK
#undef DV
		}
	free(dp);
}

/* max |got - want| / max(1, max |want|) over the values both have; NaN
 * where want has a NaN that got has not, or (unless dk_more) got has one
 * that want has not.  dk_more: got may have more NaN in the dk columns
 * (C..2C of each 3C row), as the GEMM path gives. */
static double relerr(const float *got, const double *want, size_t n, int C, int dk_more)
{
	double err = 0, big = 1;

	for (size_t i = 0; i < n; i++) {
		int more = dk_more && i % (3 * (size_t)C) >= (size_t)C &&
		           i % (3 * (size_t)C) < 2 * (size_t)C;
		if (isnan(want[i]) && !isnan(got[i]))
			return NAN;
		if (isnan(got[i]) && !isnan(want[i]) && !more)
			return NAN;
		if (isnan(want[i]) || isnan(got[i]))
			continue;
		if (fabs(want[i]) > big)
			big = fabs(want[i]);
		if (fabs(got[i] - want[i]) > err)
			err = fabs(got[i] - want[i]);
	}
	return err / big;
}

static size_t count_nan(const float *x, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += isnan(x[i]) != 0;
	return k;
}

static void check(int B, int T, int hs, float qamp, int nan_at)
{
	int NH = 2, C = NH * hs;
	size_t n = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
	float *qkv = malloc(n * sizeof *qkv), *out = malloc(no * sizeof *out),
	      *att = malloc(na * sizeof *att), *dqkv = malloc(n * sizeof *dqkv),
	      *dout = malloc(no * sizeof *dout), *scratch = malloc((size_t)T * T * sizeof *scratch),
	      *out2 = malloc(no * sizeof *out2), *att2 = malloc(na * sizeof *att2),
	      *dqkv2 = malloc(n * sizeof *dqkv2);
	double *wout = malloc(no * sizeof *wout), *watt = malloc(na * sizeof *watt),
	       *wd = malloc(n * sizeof *wd), eo, ea, ed;
	struct sl_rng r;

	sl_rng_seed(&r, (uint64_t)(T * 131 + hs));
	for (size_t i = 0; i < n; i++)
		qkv[i] = (float)sl_rng_normal(&r) * (i % (3 * (size_t)C) < (size_t)C ? qamp : 1);
	for (size_t i = 0; i < no; i++)
		dout[i] = (float)sl_rng_normal(&r);
	if (nan_at >= 0) /* query of token nan_at, head 1, sequence B - 1 */
		qkv[((size_t)(B - 1) * T + nan_at) * 3 * C + hs + 1] = NAN;
	for (size_t i = 0; i < n; i++) {
		dqkv[i] = dqkv2[i] = (float)(i % 7) - 3;
		wd[i] = dqkv[i];
	}
	sl_attention_forward(out, att, qkv, B, T, C, NH);
	sl_attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
	reference(wout, watt, wd, qkv, dout, B, T, C, NH);
	eo = relerr(out, wout, no, C, 0);
	ea = relerr(att, watt, na, C, 0);
	ed = relerr(dqkv, wd, n, C, 1);
	if (nan_at < 0)
		ok(eo < 1e-5 && ea < 1e-5 && ed < 1e-5,
		   "attention T=%d hs=%d, queries x%g: out, att and dqkv equal the double "
		   "reference (errors %.2g %.2g %.2g)", T, hs, qamp, eo, ea, ed);
	else
		ok(eo < 1e-5 && ea < 1e-5 && ed < 1e-5 && count_nan(out, no) == (size_t)hs &&
		   count_nan(att, na) == (size_t)nan_at + 1,
		   "attention T=%d hs=%d, a NaN query at token %d: NaN where the reference "
		   "has it, nowhere else but dk (%zu in out, %zu in att, %zu in dqkv), the rest equal "
		   "(%.2g %.2g %.2g)", T, hs, nan_at, count_nan(out, no), count_nan(att, na),
		   count_nan(dqkv, n), eo, ea, ed);
	/* the same bits again */
	sl_attention_forward(out2, att2, qkv, B, T, C, NH);
	sl_attention_backward(dqkv2, scratch, dout, qkv, att2, B, T, C, NH);
	if (nan_at < 0 && T == 64)
		ok(!memcmp(out, out2, no * sizeof *out) && !memcmp(att, att2, na * sizeof *att) &&
		   !memcmp(dqkv, dqkv2, n * sizeof *dqkv),
		   "attention T=%d hs=%d: a second call gives the same bits", T, hs);
	/* written, not added: over garbage (NaN and infinities among it), the
	 * bits of adding into zeros */
	if (qamp == 1) {
		memset(dqkv, 0, n * sizeof *dqkv);
		sl_attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
		for (size_t i = 0; i < n; i++)
			dqkv2[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -INFINITY : 1e30f;
		sl_attention_backward_set(dqkv2, scratch, dout, qkv, att, B, T, C, NH);
		ok(!memcmp(dqkv, dqkv2, n * sizeof *dqkv),
		   "attention T=%d hs=%d%s: the set backward writes the bits of adding into "
		   "zeros (%zu NaN)", T, hs, nan_at >= 0 ? ", a NaN query" : "",
		   count_nan(dqkv2, n));
	}
	free(qkv);
	free(out);
	free(att);
	free(dqkv);
	free(dout);
	free(scratch);
	free(out2);
	free(att2);
	free(dqkv2);
	free(wout);
	free(watt);
	free(wd);
}

int main(void)
{
	static const int Ts[] = {1, 7, 16, 33, 64, 130}, hss[] = {8, 16, 32, 64};

	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 4; b++) {
			check(2, Ts[a], hss[b], 1, -1);
			check(2, Ts[a], hss[b], 30, -1);
		}
	check(2, 64, 32, 1, 20);
	check(2, 7, 16, 1, 0);
	check(2, 130, 32, 30, 129);
	check(1, 130, 16, 30, 77);
	return done_testing();
}
