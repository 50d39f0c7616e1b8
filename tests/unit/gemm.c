/*
 * gemm.c - unit tests of lib/gemm.c against products computed in double:
 * sl_gemm_nn with A as is and transposed, written and added to what C
 * held, sl_gemm_nt_add, and sl_gemm_nt_panels written and added, for shapes on and off the tile sizes (rows
 * 1..9 around the 8- and 4-row tiles, columns 1..33 around the 16-lane
 * vectors, an inner size of 1 and 0), the Fashion-MNIST convolutions and
 * MLP layer, and a 5x5 kernel's.  Every matrix has a row stride beyond
 * its width, filled with guard values that must stay untouched (as must
 * the words after C).  Each result is checked to a relative tolerance of
 * the sum of absolute products (float rounding, whatever the order); two
 * calls give the same bits; a NaN in one input reaches exactly the
 * outputs that read it.  Products from 2^21 multiply-adds on go through
 * packed strips and panels, blocked in rows and in the inner dimension:
 * with AVX-512 they must give the bits of the same product taken 8 rows
 * at a time (each slice read in place), for every entry point.  Products
 * from B packed beforehand (sl_gemm_pack_b), with and without the passes
 * a layer folds into them, give the bits of the unfused sequence.
 */
#include "sluice.h"
#include "tap.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAD 3 /* row stride = width + PAD */
#define GUARD_V 12345.0f

/* rows x cols with row stride cols + PAD, the padding and PAD words after
 * the end set to GUARD_V */
static float *mat(struct sl_rng *r, int rows, int cols)
{
	size_t ld = (size_t)cols + PAD, n = (size_t)rows * ld + PAD;
	float *p = sl_xmalloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = i % ld < (size_t)cols && i < (size_t)rows * ld ? (float)sl_rng_normal(r)
		                                                     : GUARD_V;
	return p;
}

static int guards(const float *p, int rows, int cols)
{
	size_t ld = (size_t)cols + PAD, n = (size_t)rows * ld + PAD;
	for (size_t i = 0; i < n; i++)
		if ((i % ld >= (size_t)cols || i >= (size_t)rows * ld) && p[i] != GUARD_V)
			return 0;
	return 1;
}

#define AT(p, cols, i, j) (p)[(size_t)(i) * ((size_t)(cols) + PAD) + (size_t)(j)]

/* got (rows, cols) against want (dense), to 1e-5 of the sum of |terms| */
static int close_to(const float *got, int rows, int cols, const double *want,
                    const double *mag)
{
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++) {
			double g = AT(got, cols, i, j), w = want[(size_t)i * cols + j];
			if (!(fabs(g - w) <= 1e-5 * mag[(size_t)i * cols + j] + 1e-6)) {
				printf("#   (%d,%d): got %.9g, want %.9g\n", i, j, g, w);
				return 0;
			}
		}
	return 1;
}

/* want (M,N) = base + A B in double, mag the sum of the terms' sizes;
 * base (M,N, strided like the matrices) may be NULL */
static void reference(double *want, double *mag, const float *base, const float *a,
                      const float *b, int M, int N, int K)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = base ? AT(base, N, i, j) : 0, m = fabs(s);
			for (int k = 0; k < K; k++) {
				double p = (double)AT(a, K, i, k) * AT(b, N, k, j);
				s += p, m += fabs(p);
			}
			want[(size_t)i * N + j] = s, mag[(size_t)i * N + j] = m;
		}
}

static void check(int M, int N, int K, const char *what)
{
	struct sl_rng r;
	float *a, *at, *b, *bt, *c, *c2;
	double *want, *mag;
	size_t big = (size_t)M * N + 1;

	sl_rng_seed(&r, (uint64_t)(M * 10007 + N * 101 + K));
	a = mat(&r, M, K);  /* A (M,K) */
	at = mat(&r, K, M); /* A^T stored (K,M) */
	b = mat(&r, K, N);  /* B (K,N) */
	bt = mat(&r, N, K); /* B^T stored (N,K) */
	c = mat(&r, M, N);
	c2 = mat(&r, M, N);
	want = sl_xmalloc(big * sizeof *want);
	mag = sl_xmalloc(big * sizeof *mag);

	/* C = C + A B */
	reference(want, mag, c, a, b, M, N, K);
	sl_gemm_nn(c, N + PAD, a, K + PAD, SL_TRANS_N, b, N + PAD, M, N, K, 1);
	ok(close_to(c, M, N, want, mag) && guards(c, M, N),
	   "%s M=%d N=%d K=%d: nn, added to C", what, M, N, K);

	/* C = A B, twice: the same bits; and C = (A^T)^T B */
	reference(want, mag, NULL, a, b, M, N, K);
	sl_gemm_nn(c2, N + PAD, a, K + PAD, SL_TRANS_N, b, N + PAD, M, N, K, 0);
	ok(close_to(c2, M, N, want, mag) && guards(c2, M, N),
	   "%s M=%d N=%d K=%d: nn, written", what, M, N, K);
	sl_gemm_nn(c, N + PAD, a, K + PAD, SL_TRANS_N, b, N + PAD, M, N, K, 0);
	ok(memcmp(c, c2, ((size_t)M * (N + PAD) + PAD) * sizeof *c) == 0,
	   "%s: nn twice, the same bits", what);
	for (int k = 0; k < K; k++)
		for (int i = 0; i < M; i++)
			AT(at, M, k, i) = AT(a, K, i, k);
	sl_gemm_nn(c2, N + PAD, at, M + PAD, SL_TRANS_T, b, N + PAD, M, N, K, 0);
	ok(close_to(c2, M, N, want, mag) && guards(c2, M, N),
	   "%s M=%d N=%d K=%d: nn, A transposed", what, M, N, K);

	/* C = C + A (B^T)^T, from the old C */
	memcpy(c2, c, ((size_t)M * (N + PAD) + PAD) * sizeof *c);
	for (int j = 0; j < N; j++)
		for (int k = 0; k < K; k++)
			AT(bt, K, j, k) = AT(b, N, k, j);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			want[(size_t)i * N + j] += AT(c, N, i, j);
			mag[(size_t)i * N + j] += fabs(AT(c, N, i, j));
		}
	sl_gemm_nt_add(c, N + PAD, a, K + PAD, bt, K + PAD, M, N, K);
	ok(close_to(c, M, N, want, mag) && guards(c, M, N),
	   "%s M=%d N=%d K=%d: nt, added", what, M, N, K);
	sl_gemm_nt_add(c2, N + PAD, a, K + PAD, bt, K + PAD, M, N, K);
	ok(memcmp(c, c2, ((size_t)M * (N + PAD) + PAD) * sizeof *c) == 0,
	   "%s: nt twice, the same bits", what);

	/* the same through transposed panels: added to the old C (c2 holds
	 * old C + A B^T now, so want is checked from c's copy), then written */
	memcpy(c2, c, ((size_t)M * (N + PAD) + PAD) * sizeof *c);
	reference(want, mag, c, a, b, M, N, K); /* bt holds B transposed */
	sl_gemm_nt_panels(c, N + PAD, a, K + PAD, bt, K + PAD, M, N, K, 1);
	ok(close_to(c, M, N, want, mag) && guards(c, M, N),
	   "%s M=%d N=%d K=%d: nt by panels, added", what, M, N, K);
	reference(want, mag, NULL, a, b, M, N, K);
	sl_gemm_nt_panels(c2, N + PAD, a, K + PAD, bt, K + PAD, M, N, K, 0);
	ok(close_to(c2, M, N, want, mag) && guards(c2, M, N),
	   "%s M=%d N=%d K=%d: nt by panels, written", what, M, N, K);

	free(a), free(at), free(b), free(bt), free(c), free(c2), free(want), free(mag);
}

/* A NaN in B (k0, n0): nn makes column n0 of C NaN and nothing else; in
 * B^T's row n0, nt makes column n0 NaN and nothing else. */
static void check_nan(int M, int N, int K)
{
	struct sl_rng r;
	float *a, *b, *c;
	int k0 = K / 2, n0 = N - 1, bad = 0;

	sl_rng_seed(&r, 7);
	a = mat(&r, M, K);
	b = mat(&r, K, N);
	c = mat(&r, M, N);
	AT(b, N, k0, n0) = NAN;
	sl_gemm_nn(c, N + PAD, a, K + PAD, SL_TRANS_N, b, N + PAD, M, N, K, 0);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
			bad += isnan(AT(c, N, i, j)) != (j == n0);
	ok(bad == 0, "M=%d N=%d K=%d: a NaN in B reaches its column of C only", M, N, K);
	free(b);
	b = mat(&r, N, K);
	AT(b, K, n0, k0) = NAN;
	bad = 0;
	sl_gemm_nt_add(c, N + PAD, a, K + PAD, b, K + PAD, M, N, K);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
			bad += isnan(AT(c, N, i, j)) != (j == n0);
	ok(bad == 0, "M=%d N=%d K=%d: nt, a NaN reaches its column of C only", M, N, K);
	free(a), free(b), free(c);
}

#if VM_X86 /* the packed path exists only there */
/* The packed path against 8-row slices read in place: nn (A as is and
 * transposed) and nt by panels, written and added to C, all the same bits
 * (each element is one chain of multiply-adds in k order either way). */
static void check_packed_bits(int M, int N, int K)
{
	struct sl_rng r;
	size_t cn = (size_t)M * (N + PAD) + PAD;
	float *a, *at, *b, *bt, *c0, *full, *part;
	int bad[4] = {0};

	sl_rng_seed(&r, (uint64_t)(M + N + K));
	a = mat(&r, M, K);
	at = mat(&r, K, M);
	b = mat(&r, K, N);
	bt = mat(&r, N, K);
	c0 = mat(&r, M, N);
	full = sl_xmalloc(cn * sizeof *full);
	part = sl_xmalloc(cn * sizeof *part);
	for (int k = 0; k < K; k++)
		for (int i = 0; i < M; i++)
			AT(at, M, k, i) = AT(a, K, i, k);
	for (int j = 0; j < N; j++)
		for (int k = 0; k < K; k++)
			AT(bt, K, j, k) = AT(b, N, k, j);
	for (int acc = 0; acc < 2; acc++) {
		memcpy(full, c0, cn * sizeof *full);
		sl_gemm_nn(full, N + PAD, a, K + PAD, SL_TRANS_N, b, N + PAD, M, N, K, acc);
		/* slices: A as is, A transposed, B^T by panels */
		for (int way = 0; way < 3; way++) {
			memcpy(part, c0, cn * sizeof *part);
			for (int m0 = 0; m0 < M; m0 += 8) {
				int m = M - m0 < 8 ? M - m0 : 8;
				float *c = &AT(part, N, m0, 0);
				if (way == 0)
					sl_gemm_nn(c, N + PAD, &AT(a, K, m0, 0), K + PAD, SL_TRANS_N, b,
					           N + PAD, m, N, K, acc);
				else if (way == 1)
					sl_gemm_nn(c, N + PAD, &AT(at, M, 0, m0), M + PAD, SL_TRANS_T, b,
					           N + PAD, m, N, K, acc);
				else
					sl_gemm_nt_panels(c, N + PAD, &AT(a, K, m0, 0), K + PAD, bt, K + PAD,
					                  m, N, K, acc);
			}
			bad[way] += memcmp(full, part, cn * sizeof *full) != 0;
		}
		/* and the whole product through the other entry points */
		memcpy(part, c0, cn * sizeof *part);
		sl_gemm_nn(part, N + PAD, at, M + PAD, SL_TRANS_T, b, N + PAD, M, N, K, acc);
		bad[3] += memcmp(full, part, cn * sizeof *full) != 0;
		memcpy(part, c0, cn * sizeof *part);
		sl_gemm_nt_panels(part, N + PAD, a, K + PAD, bt, K + PAD, M, N, K, acc);
		bad[3] += memcmp(full, part, cn * sizeof *full) != 0;
	}
	ok(bad[0] == 0, "M=%d N=%d K=%d: packed nn, the bits of 8-row slices", M, N, K);
	ok(bad[1] == 0, "M=%d N=%d K=%d: packed, A transposed: the same bits", M, N, K);
	ok(bad[2] == 0, "M=%d N=%d K=%d: packed nt by panels: the same bits", M, N, K);
	ok(bad[3] == 0, "M=%d N=%d K=%d: all three entry points agree to the bit", M, N, K);
	free(a), free(at), free(b), free(bt), free(c0), free(full), free(part);
}
#endif

/* sl_gemm_packed from B packed as is and from B^T, with each of e's
 * passes, against what a layer did without them: C filled with x + bias,
 * sl_gemm_nn adding to it, then C *= mul and colsum += C row by row; the
 * same bits, C's padding untouched, colsum past N untouched, and the sums
 * within float rounding of double (what sl_gemm_nn's tests check). */
static void check_prepacked(int M, int N, int K)
{
	struct sl_rng r;
	size_t cn = (size_t)M * (N + PAD) + PAD;
	float *a, *b, *bt, *x, *mul, *want, *got, *bp, *bpt, bias[400], cs0[400], cs1[400];
	int bad[3] = {0};

	SL_ASSERT(N + 4 <= 400);
	sl_rng_seed(&r, (uint64_t)(3 * M + 5 * N + 7 * K));
	a = mat(&r, M, K);
	b = mat(&r, K, N);
	bt = mat(&r, N, K);
	x = mat(&r, M, N);
	mul = mat(&r, M, N);
	want = sl_xmalloc(cn * sizeof *want);
	got = sl_xmalloc(cn * sizeof *got);
	bp = sl_xalloc64(sl_gemm_pack_b_size(K, N) * sizeof *bp);
	bpt = sl_xalloc64(sl_gemm_pack_b_size(K, N) * sizeof *bpt);
	for (int j = 0; j < N; j++) {
		bias[j] = (float)sl_rng_normal(&r);
		for (int k = 0; k < K; k++)
			AT(bt, K, j, k) = AT(b, N, k, j);
	}
	sl_gemm_pack_b(bp, b, N + PAD, SL_TRANS_N, K, N);
	sl_gemm_pack_b(bpt, bt, K + PAD, SL_TRANS_T, K, N);
	/* passes: bit 0 bias, 1 x, 2 mul, 3 colsum */
	for (int use = 0; use < 16; use++) {
		struct sl_gemm_epi e = {use & 1 ? bias : NULL, use & 2 ? x : NULL,
		                        use & 4 ? mul : NULL, use & 8 ? cs1 : NULL, N + PAD,
		                        N + PAD};
		for (int j = 0; j < 400; j++)
			cs0[j] = cs1[j] = j < N ? (float)j / 8 : GUARD_V;
		for (size_t i = 0; i < cn; i++)
			want[i] = got[i] = i % (size_t)(N + PAD) < (size_t)N && i < (size_t)M * (N + PAD)
			                       ? NAN /* every element is written */
			                       : GUARD_V;
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++)
				AT(want, N, i, j) = use & 2 ? (use & 1 ? AT(x, N, i, j) + bias[j] : AT(x, N, i, j))
				                            : (use & 1 ? bias[j] : 0.0f);
		sl_gemm_nn(want, N + PAD, a, K + PAD, SL_TRANS_N, b, N + PAD, M, N, K, 1);
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				if (use & 4)
					AT(want, N, i, j) *= AT(mul, N, i, j);
				if (use & 8)
					cs0[j] += AT(want, N, i, j);
			}
		sl_gemm_packed(got, N + PAD, a, K + PAD, bp, M, N, K, use ? &e : NULL);
		bad[0] += memcmp(want, got, cn * sizeof *got) != 0 || memcmp(cs0, cs1, sizeof cs0);
		for (int j = 0; j < 400; j++)
			cs1[j] = j < N ? (float)j / 8 : GUARD_V;
		sl_gemm_packed(got, N + PAD, a, K + PAD, bpt, M, N, K, use ? &e : NULL);
		bad[1] += memcmp(want, got, cn * sizeof *got) != 0 || memcmp(cs0, cs1, sizeof cs0);
		if (use == 0) {
			double *w = sl_xmalloc(((size_t)M * N + 1) * sizeof *w),
			       *mag = sl_xmalloc(((size_t)M * N + 1) * sizeof *mag);
			reference(w, mag, NULL, a, b, M, N, K);
			bad[2] += !close_to(got, M, N, w, mag) || !guards(got, M, N);
			free(w), free(mag);
		}
	}
	ok(bad[0] == 0, "M=%d N=%d K=%d: prepacked B, every pass: the bits of fill, nn, passes",
	   M, N, K);
	ok(bad[1] == 0, "M=%d N=%d K=%d: prepacked from B^T: the same bits", M, N, K);
	ok(bad[2] == 0, "M=%d N=%d K=%d: prepacked, against double, padding untouched", M, N,
	   K);
	/* C (+)= A^T B, A (K,M) read in place and B packed on the way (a
	 * weight gradient): sl_gemm_nn's bits, written and added */
	{
		float *at = mat(&r, K, M), *bk = mat(&r, K, N), *tbp;
		tbp = sl_xalloc64(sl_gemm_pack_b_size(K, N) * sizeof *tbp);
		for (int k = 0; k < K; k++)
			for (int i = 0; i < M; i++)
				AT(at, M, k, i) = AT(a, K, i, k);
		for (int acc = 0; acc < 2; acc++) {
			memcpy(got, x, cn * sizeof *got);
			memcpy(want, x, cn * sizeof *want);
			sl_gemm_nn(want, N + PAD, at, M + PAD, SL_TRANS_T, bk, N + PAD, M, N, K, acc);
			sl_gemm_tn_packing(got, N + PAD, at, M + PAD, bk, N + PAD, M, N, K, acc, tbp);
			ok(!memcmp(want, got, cn * sizeof *got),
			   "M=%d N=%d K=%d: A^T B, B packed on the way, %s: sl_gemm_nn's bits", M, N, K,
			   acc ? "added" : "written");
		}
		free(at), free(bk), free(tbp);
	}
	free(a), free(b), free(bt), free(x), free(mul), free(want), free(got), free(bp),
	    free(bpt);
}

int main(void)
{
	static const int rows[] = {1, 3, 4, 5, 7, 8, 9};
	static const int cols[] = {1, 15, 16, 17, 31, 32, 33};
	static const struct {
		int M, N, K;
		const char *what;
	} shapes[] = {
		{5, 20, 1, "inner 1"},
		{6, 9, 0, "inner 0"},
		{16, 784, 9, "fmnist conv1"},
		{32, 196, 144, "fmnist conv2"},
		{144, 196, 32, "fmnist conv2 columns"},
		{64, 128, 784, "fmnist MLP first layer"},
		{40, 65, 128, "GPT head"},
		{9, 20, 1500, "panels past their K"},
		{6, 576, 25, "5x5 kernel"},
		{384, 128, 128, "packed: a GPT worker's attention projection"},
		{300, 100, 700, "packed: two row blocks, three inner blocks"},
		{520, 50, 90, "packed: three row blocks, a masked second panel"},
	};

	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		for (size_t j = 0; j < sizeof cols / sizeof *cols; j++)
			check(rows[i], cols[j], rows[(i + j) % 7] + 2, "edges");
	for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
		check(shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].what);
	check_nan(9, 33, 7);
	check_nan(257, 40, 300);
#if VM_X86
	/* packed products against 8-row slices; the last has K past 1024 */
	static const int packed[][3] = {
		{384, 128, 128}, {300, 100, 700}, {520, 50, 90}, {203, 65, 600}, {64, 40, 1100},
	};
	if (vm_avx512())
		for (size_t i = 0; i < sizeof packed / sizeof *packed; i++)
			check_packed_bits(packed[i][0], packed[i][1], packed[i][2]);
	else
		ok(1, "# SKIP packed-path bits: this CPU has no AVX-512");
#endif
	if (sl_gemm_prepacks()) {
		static const int pp[][3] = {
			{1, 1, 1},    {7, 15, 3},  {8, 16, 8},     {9, 17, 33},  {13, 33, 257},
			{16, 32, 64}, {40, 65, 5}, {3, 70, 600}, {384, 32, 128}, {70, 48, 300},
			{19, 300, 400}, /* B past 256 KiB: column groups */
		};
		for (size_t i = 0; i < sizeof pp / sizeof *pp; i++)
			check_prepacked(pp[i][0], pp[i][1], pp[i][2]);
	} else {
		ok(1, "# SKIP prepacked products: not in this build or on this CPU");
	}
	return done_testing();
}
