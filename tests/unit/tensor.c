/*
 * tensor.c - unit tests of sl_matmul: the sgemm wrapper against a triple
 * loop in double, for every combination of transpose flags, with alpha
 * and beta, on sub-matrices given by leading dimensions, and at the empty
 * edges (M, N or K zero).
 *
 * Tolerance: the classic bound for a float dot product of length K,
 * |computed - exact| <= (K + 2) * FLT_EPSILON * (|alpha| sum |a_ik b_kj| +
 * |beta c_ij|), per element.  Any wrong flag, stride or scale misses it by
 * orders of magnitude.
 */
#include "sluice.h"
#include "tap.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct sl_rng rng;

static float *randv(size_t n)
{
	float *x = sl_xmalloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(2 * sl_rng_uniform(&rng) - 1);
	return x;
}

/* Element (i, j) of op(x) where x is stored with leading dimension ld. */
static double at(const float *x, int ld, enum sl_trans t, int i, int j)
{
	return t == SL_TRANS_T ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* Worst ratio of the error to its bound; <= 1 passes. */
static double check(const float *c, int ldc, const float *c0, const float *a,
                    int lda, const float *b, int ldb, enum sl_trans ta,
                    enum sl_trans tb, int M, int N, int K, float alpha,
                    float beta)
{
	double worst = 0;

	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = 0, mag = 0, want, bound;
			for (int k = 0; k < K; k++) {
				double p = at(a, lda, ta, i, k) * at(b, ldb, tb, k, j);
				s += p;
				mag += fabs(p);
			}
			want = alpha * s + (beta != 0 ? beta * c0[(size_t)i * ldc + j] : 0);
			bound = (K + 2) * FLT_EPSILON *
			        (fabs(alpha) * mag + fabs(beta * c0[(size_t)i * ldc + j])) +
			        1e-30;
			worst = fmax(worst, fabs(c[(size_t)i * ldc + j] - want) / bound);
		}
	return worst;
}

static void test_flags(void)
{
	static const int shapes[][3] = {{7, 5, 9}, {64, 48, 33}, {1, 17, 3}};
	static const float ab[][2] = {{1, 0}, {1.5f, 0.5f}, {-0.25f, 1}};

	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
		for (int f = 0; f < 4; f++)
			for (size_t k = 0; k < sizeof ab / sizeof *ab; k++) {
				int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
				enum sl_trans ta = f & 1 ? SL_TRANS_T : SL_TRANS_N;
				enum sl_trans tb = f & 2 ? SL_TRANS_T : SL_TRANS_N;
				float *a = randv((size_t)M * K), *b = randv((size_t)K * N);
				float *c = randv((size_t)M * N), *c0 = sl_xmalloc(
				                                      (size_t)M * N * sizeof *c0);
				double r;

				memcpy(c0, c, (size_t)M * N * sizeof *c);
				sl_matmul(c, a, b, ta, tb, M, N, K, ab[k][0], ab[k][1]);
				r = check(c, N, c0, a, ta == SL_TRANS_T ? M : K, b,
				          tb == SL_TRANS_T ? K : N, ta, tb, M, N, K, ab[k][0],
				          ab[k][1]);
				ok(r <= 1, "matmul %dx%dx%d op(a)%s op(b)%s alpha %g beta %g "
				           "equals the triple loop (error %.2f of bound)",
				   M, N, K, ta == SL_TRANS_T ? "^T" : "", tb == SL_TRANS_T ? "^T" : "",
				   ab[k][0], ab[k][1], r);
				free(a), free(b), free(c), free(c0);
			}
}

static void test_strided(void)
{
	/* c[2:7, 1:5] of a 9x8 buffer = a[:, 3:9] of a 5x12 buffer, transposed
	 * b as columns 2:8 of a 4x10 buffer; everything else untouched. */
	enum { M = 5, N = 4, K = 6, LDA = 12, LDB = 10, LDC = 8 };
	float *a = randv(M * LDA), *b = randv(N * LDB), *c = randv(9 * LDC);
	float *c0 = sl_xmalloc(9 * LDC * sizeof *c0);
	int outside = 1;
	double r;

	memcpy(c0, c, 9 * LDC * sizeof *c);
	sl_matmul_ld(c + 2 * LDC + 1, LDC, a + 3, LDA, b + 2, LDB, SL_TRANS_N,
	             SL_TRANS_T, M, N, K, 1, 1);
	r = check(c + 2 * LDC + 1, LDC, c0 + 2 * LDC + 1, a + 3, LDA, b + 2, LDB,
	          SL_TRANS_N, SL_TRANS_T, M, N, K, 1, 1);
	for (int i = 0; i < 9; i++)
		for (int j = 0; j < LDC; j++)
			if (i < 2 || i >= 2 + M || j < 1 || j >= 1 + N)
				outside &= c[i * LDC + j] == c0[i * LDC + j];
	ok(r <= 1, "matmul_ld on sub-matrices equals the triple loop (%.2f of bound)",
	   r);
	ok(outside, "matmul_ld leaves the rest of c alone");
	free(a), free(b), free(c), free(c0);
}

static void test_edges(void)
{
	float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
	float c[4] = {NAN, NAN, NAN, NAN}, d[4] = {1, 2, 3, 4};
	float want[4] = {1 + 3, 2 + 3, 4 + 6, 5 + 6}; /* a (2,3) . b (3,2) */

	sl_matmul(c, a, b, SL_TRANS_N, SL_TRANS_N, 2, 2, 3, 1, 0);
	ok(!memcmp(c, want, sizeof c), "beta 0 overwrites c, NaNs included");
	sl_matmul(d, a, b, SL_TRANS_N, SL_TRANS_N, 2, 2, 0, 1, 0.5f);
	ok(d[0] == 0.5f && d[3] == 2, "K = 0 leaves beta * c");
	sl_matmul(d, a, b, SL_TRANS_N, SL_TRANS_N, 0, 2, 3, 1, 0);
	sl_matmul(d, a, b, SL_TRANS_N, SL_TRANS_N, 2, 0, 3, 1, 0);
	ok(d[0] == 0.5f && d[3] == 2, "M = 0 and N = 0 touch nothing");
}

int main(void)
{
	sl_rng_seed(&rng, 7);
	sl_blas_threads(1);
	test_flags();
	test_strided();
	test_edges();
	return done_testing();
}
