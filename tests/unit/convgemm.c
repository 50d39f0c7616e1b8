/*
 * convgemm.c - unit tests of lib/convgemm.c against products computed in
 * double: sl_conv_gemm_fwd (written, and added to what o held),
 * sl_conv_gemm_dcol and sl_conv_gemm_dw (added to what dw held), for
 * shapes on and off the tile sizes (rows 1..9 around the 8- and 4-row
 * tiles, columns 1..33 around the 16-lane vectors, an inner size of 1),
 * the two Fashion-MNIST blocks, and a 5x5 kernel's.  Each result is
 * checked to a relative tolerance of the sum of absolute products (float
 * rounding, whatever the order); the guard words after each result stay
 * untouched; two calls give the same bits; a NaN in one input reaches
 * exactly the outputs that read it.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 8
#define GUARD_V 12345.0f

static float *rnd(struct sl_rng *r, size_t n)
{
	/* GUARD extra floats set to GUARD_V: a store past the end shows */
	float *p = sl_xmalloc((n + GUARD) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)sl_rng_normal(r);
	for (size_t i = n; i < n + GUARD; i++)
		p[i] = GUARD_V;
	return p;
}

static int guards(const float *p, size_t n)
{
	for (size_t i = n; i < n + GUARD; i++)
		if (p[i] != GUARD_V)
			return 0;
	return 1;
}

/* got (R,C) against want + base (base may be NULL), to 1e-5 of the sum
 * of |products| + |base| plus a little absolute slack */
static int close_to(const float *got, const double *want, const double *mag, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(fabs((double)got[i] - want[i]) <= 1e-5 * mag[i] + 1e-6)) {
			printf("#   element %zu: got %.9g, want %.9g\n", i, got[i], want[i]);
			return 0;
		}
	return 1;
}

static void check(int M, int N, int K, const char *what)
{
	struct sl_rng r;
	float *w, *col, *d, *o, *o2, *dcol, *dw, *dw0;
	double *want, *mag;
	size_t big = (size_t)(M > K ? M : K) * (N > K ? N : K);

	sl_rng_seed(&r, (uint64_t)(M * 10007 + N * 101 + K));
	w = rnd(&r, (size_t)M * K);
	col = rnd(&r, (size_t)K * N);
	d = rnd(&r, (size_t)M * N);
	o = rnd(&r, (size_t)M * N);
	o2 = rnd(&r, (size_t)M * N);
	dcol = rnd(&r, (size_t)K * N);
	dw = rnd(&r, (size_t)M * K);
	dw0 = sl_xmalloc((size_t)M * K * sizeof *dw0);
	memcpy(dw0, dw, (size_t)M * K * sizeof *dw0);
	want = sl_xmalloc(big * sizeof *want);
	mag = sl_xmalloc(big * sizeof *mag);

	/* forward, accumulating: o = o + w col */
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			double s = o[(size_t)m * N + n], a = fabs(s);
			for (int k = 0; k < K; k++) {
				double p = (double)w[(size_t)m * K + k] * col[(size_t)k * N + n];
				s += p, a += fabs(p);
			}
			want[(size_t)m * N + n] = s, mag[(size_t)m * N + n] = a;
		}
	sl_conv_gemm_fwd(o, w, col, M, N, K, 1);
	ok(close_to(o, want, mag, (size_t)M * N) && guards(o, (size_t)M * N),
	   "%s M=%d N=%d K=%d: fwd, added to o", what, M, N, K);

	/* forward, written: twice, the same bits, o2's old values ignored */
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			double s = 0, a = 0;
			for (int k = 0; k < K; k++) {
				double p = (double)w[(size_t)m * K + k] * col[(size_t)k * N + n];
				s += p, a += fabs(p);
			}
			want[(size_t)m * N + n] = s, mag[(size_t)m * N + n] = a;
		}
	sl_conv_gemm_fwd(o2, w, col, M, N, K, 0);
	ok(close_to(o2, want, mag, (size_t)M * N) && guards(o2, (size_t)M * N),
	   "%s M=%d N=%d K=%d: fwd, written", what, M, N, K);
	sl_conv_gemm_fwd(o, w, col, M, N, K, 0);
	ok(memcmp(o, o2, (size_t)M * N * sizeof *o) == 0, "%s: fwd twice, same bits", what);

	/* columns: dcol = w^T d */
	for (int k = 0; k < K; k++)
		for (int n = 0; n < N; n++) {
			double s = 0, a = 0;
			for (int m = 0; m < M; m++) {
				double p = (double)w[(size_t)m * K + k] * d[(size_t)m * N + n];
				s += p, a += fabs(p);
			}
			want[(size_t)k * N + n] = s, mag[(size_t)k * N + n] = a;
		}
	sl_conv_gemm_dcol(dcol, w, d, M, N, K);
	ok(close_to(dcol, want, mag, (size_t)K * N) && guards(dcol, (size_t)K * N),
	   "%s M=%d N=%d K=%d: dcol", what, M, N, K);

	/* weights: dw += d col^T */
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++) {
			double s = dw[(size_t)m * K + k], a = fabs(s);
			for (int n = 0; n < N; n++) {
				double p = (double)d[(size_t)m * N + n] * col[(size_t)k * N + n];
				s += p, a += fabs(p);
			}
			want[(size_t)m * K + k] = s, mag[(size_t)m * K + k] = a;
		}
	sl_conv_gemm_dw(dw, d, col, M, N, K);
	ok(close_to(dw, want, mag, (size_t)M * K) && guards(dw, (size_t)M * K),
	   "%s M=%d N=%d K=%d: dw, added", what, M, N, K);
	memcpy(want, dw, (size_t)M * K * sizeof *dw); /* the bits, as bytes */
	memcpy(dw, dw0, (size_t)M * K * sizeof *dw);
	sl_conv_gemm_dw(dw, d, col, M, N, K);
	ok(memcmp(dw, want, (size_t)M * K * sizeof *dw) == 0, "%s: dw twice, same bits", what);

	free(w), free(col), free(d), free(o), free(o2), free(dcol), free(dw), free(dw0);
	free(want), free(mag);
}

/* A NaN in col (k0, n0): fwd makes column n0 NaN and nothing else; dw
 * makes column k0 NaN and nothing else. */
static void check_nan(int M, int N, int K)
{
	struct sl_rng r;
	float *w, *col, *d, *o, *dw;
	int k0 = K / 2, n0 = N - 1, bad = 0;

	sl_rng_seed(&r, 7);
	w = rnd(&r, (size_t)M * K);
	col = rnd(&r, (size_t)K * N);
	d = rnd(&r, (size_t)M * N);
	o = rnd(&r, (size_t)M * N);
	dw = rnd(&r, (size_t)M * K);
	col[(size_t)k0 * N + n0] = NAN;
	sl_conv_gemm_fwd(o, w, col, M, N, K, 0);
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++)
			bad += isnan(o[(size_t)m * N + n]) != (n == n0);
	ok(bad == 0, "M=%d N=%d K=%d: a NaN in col reaches its output column only", M, N, K);
	bad = 0;
	sl_conv_gemm_dw(dw, d, col, M, N, K);
	for (int m = 0; m < M; m++)
		for (int k = 0; k < K; k++)
			bad += isnan(dw[(size_t)m * K + k]) != (k == k0);
	ok(bad == 0, "M=%d N=%d K=%d: a NaN in col reaches its dw column only", M, N, K);
	free(w), free(col), free(d), free(o), free(dw);
}

int main(void)
{
	static const int rows[] = {1, 3, 4, 5, 7, 8, 9};
	static const int cols[] = {1, 15, 16, 17, 31, 32, 33};

	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		for (size_t j = 0; j < sizeof cols / sizeof *cols; j++)
			check(rows[i], cols[j], rows[(i + j) % 7] + 2, "edges");
	check(5, 20, 1, "inner 1");
	check(16, 784, 9, "fmnist conv1");
	check(32, 196, 144, "fmnist conv2");
	check(6, 576, 25, "5x5 kernel");
	check_nan(9, 33, 7);
	return done_testing();
}
