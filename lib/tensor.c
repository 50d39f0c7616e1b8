/*
 * tensor.c - matrix multiplication, the one place the library meets BLAS.
 *
 * Tensors in sluice are plain float arrays, row-major and contiguous, with
 * their dimensions passed explicitly (see the tensor-core section of
 * sluice.h).  Almost all of the arithmetic of training is GEMM: linear
 * layers, convolutions after im2col, attention.  This file hands those to
 * OpenBLAS's cblas_sgemm and is the only file that includes cblas.h, so a
 * different BLAS (or none) is a change here alone.
 *
 * Convention: BLAS's, row-major, with explicit transpose flags: c (M,N) =
 * alpha * op(a) (M,K) * op(b) (K,N) + beta * c.  No hidden transposes (the
 * ggml mul_mat convention is deliberately not followed).
 *
 * Threads: OpenBLAS may split one call over its own threads.  Measured on
 * our 2-core target that is erratic for this project's shapes, so callers
 * that parallelise over the batch set sl_blas_threads(1) and keep BLAS
 * single-threaded in each worker.  Results of one call with a given thread
 * count are deterministic.
 */
#include "sluice.h"

#include <cblas.h>
#include <pthread.h>
#include <strings.h>

void sl_matmul_ld(float *c, int ldc, const float *a, int lda, const float *b,
                  int ldb, enum sl_trans ta, enum sl_trans tb, int M, int N,
                  int K, float alpha, float beta)
{
	SL_ASSERT(M >= 0 && N >= 0 && K >= 0);
	SL_ASSERT(lda >= (ta == SL_TRANS_T ? M : K) && lda >= 1);
	SL_ASSERT(ldb >= (tb == SL_TRANS_T ? K : N) && ldb >= 1);
	SL_ASSERT(ldc >= N && ldc >= 1);
	if (M == 0 || N == 0)
		return;
	cblas_sgemm(CblasRowMajor, ta == SL_TRANS_T ? CblasTrans : CblasNoTrans,
	            tb == SL_TRANS_T ? CblasTrans : CblasNoTrans, M, N, K, alpha,
	            a, lda, b, ldb, beta, c, ldc);
}

void sl_matmul(float *c, const float *a, const float *b, enum sl_trans ta,
               enum sl_trans tb, int M, int N, int K, float alpha, float beta)
{
	int lda = ta == SL_TRANS_T ? M : K, ldb = tb == SL_TRANS_T ? K : N;

	sl_matmul_ld(c, N > 0 ? N : 1, a, lda > 0 ? lda : 1, b, ldb > 0 ? ldb : 1,
	             ta, tb, M, N, K, alpha, beta);
}

void sl_blas_threads(int n)
{
	SL_ASSERT(n >= 1);
	openblas_set_num_threads(n);
}

/* Whether OpenBLAS runs AVX-512 kernels: its core names for those are
 * SkylakeX, Cooperlake and SapphireRapids (0.3.21).  OPENBLAS_CORETYPE
 * picks the core when set, so this follows the user's choice. */
static int wide;
static pthread_once_t wide_once = PTHREAD_ONCE_INIT;

static void wide_init(void)
{
	const char *n = openblas_get_corename();
	static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};

	for (size_t i = 0; n && i < sizeof avx512 / sizeof *avx512; i++)
		if (strcasecmp(n, avx512[i]) == 0)
			wide = 1;
}

int sl_blas_wide(void)
{
	pthread_once(&wide_once, wide_init);
	return wide;
}
