/*
 * convblock.c - the fused CNN block against the three core layers it
 * replaces (sl_conv2d, sl_relu, sl_maxpool2d with K = S = 2), run one
 * after the other: forward output, winners and every gradient must be the
 * same bits (the block keeps no columns: its backward lowers the images
 * again), for several geometries (odd sizes, stride 2, a 5x5 kernel,
 * no padding) and an input that holds exact ties and a NaN.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(struct sl_rng *r, size_t n)
{
	float *p = sl_xmalloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)sl_rng_normal(r);
	return p;
}

static int same(const float *a, const float *b, size_t n)
{
	return memcmp(a, b, n * sizeof *a) == 0;
}

static void check(int IC, int H, int W, int OC, int K, int stride, int pad, int B,
                  int nan)
{
	struct sl_conv2d c;
	struct sl_rng r;
	size_t nin, nconv, npool, ncol, nw;
	float *in, *w, *bias, *dout;
	float *conv1, *relu1, *pool1, *col1, *din1, *dw1, *db1, *dconv1, *drelu1;
	float *pool2, *din2, *dw2, *db2, *scratch;
	int32_t *am1, *am2;
	int PH, PW;

	SL_ASSERT(sl_conv2d_init(&c, IC, H, W, OC, K, K, stride, pad) == 0);
	PH = c.OH / 2, PW = c.OW / 2;
	nin = (size_t)B * IC * H * W;
	nconv = (size_t)B * OC * c.OH * c.OW;
	npool = (size_t)B * OC * PH * PW;
	ncol = sl_conv2d_col_size(&c, B);
	nw = (size_t)OC * IC * K * K;
	sl_rng_seed(&r, (uint64_t)(IC * 1000 + H * 10 + K));
	in = rnd(&r, nin);
	w = rnd(&r, nw);
	bias = rnd(&r, (size_t)OC);
	dout = rnd(&r, npool);
	in[1] = in[0]; /* exact ties among inputs */
	if (nan)
		in[nin / 2] = NAN;

	/* the core layers in a row */
	conv1 = sl_xmalloc(nconv * sizeof *conv1);
	relu1 = sl_xmalloc(nconv * sizeof *relu1);
	pool1 = sl_xmalloc(npool * sizeof *pool1);
	am1 = sl_xmalloc(npool * sizeof *am1);
	col1 = sl_xmalloc(ncol * sizeof *col1);
	sl_conv2d_forward(conv1, col1, in, w, bias, &c, B);
	sl_relu_forward(relu1, conv1, nconv);
	sl_maxpool2d_forward(pool1, am1, relu1, B, OC, c.OH, c.OW, 2, 2);
	din1 = sl_xcalloc(nin, sizeof *din1);
	dw1 = sl_xcalloc(nw, sizeof *dw1);
	db1 = sl_xcalloc((size_t)OC, sizeof *db1);
	drelu1 = sl_xcalloc(nconv, sizeof *drelu1);
	dconv1 = sl_xcalloc(nconv, sizeof *dconv1);
	sl_maxpool2d_backward(drelu1, dout, am1, B, OC, c.OH, c.OW, 2, 2);
	sl_relu_backward(dconv1, drelu1, conv1, nconv);
	sl_conv2d_backward(din1, dw1, db1, dconv1, w, col1, &c, B);

	/* the block */
	pool2 = sl_xmalloc(npool * sizeof *pool2);
	am2 = sl_xmalloc(npool * sizeof *am2);
	scratch = sl_xmalloc(sl_convblock_scratch_size(&c) * sizeof *scratch);
	sl_convblock_forward(pool2, am2, scratch, in, w, bias, &c, B);
	/* the scratch holds the last image's convolution, before the ReLU */
	ok(same(conv1 + (size_t)(B - 1) * OC * c.OH * c.OW, scratch,
	        (size_t)OC * c.OH * c.OW),
	   "%dx%dx%d k%d s%d p%d: last image's conv identical", IC, H, W, K, stride,
	   pad);
	for (size_t i = 0; i < sl_convblock_scratch_size(&c); i++)
		scratch[i] = NAN; /* the backward must not rely on what is left */
	din2 = sl_xcalloc(nin, sizeof *din2);
	dw2 = sl_xcalloc(nw, sizeof *dw2);
	db2 = sl_xcalloc((size_t)OC, sizeof *db2);
	sl_convblock_backward(din2, dw2, db2, dout, pool2, am2, in, w, scratch, &c, B);

	ok(same(pool1, pool2, npool) && memcmp(am1, am2, npool * sizeof *am1) == 0,
	   "%dx%dx%d k%d s%d p%d: pooled output and winners identical", IC, H, W, K, stride, pad);
	ok(same(din1, din2, nin) && same(dw1, dw2, nw) && same(db1, db2, (size_t)OC),
	   "%dx%dx%d k%d s%d p%d: input, weight and bias gradients identical", IC, H, W, K,
	   stride, pad);

	free(in), free(w), free(bias), free(dout);
	free(conv1), free(relu1), free(pool1), free(am1), free(col1);
	free(din1), free(dw1), free(db1), free(drelu1), free(dconv1);
	free(pool2), free(am2), free(scratch);
	free(din2), free(dw2), free(db2);
}

int main(void)
{
	sl_blas_threads(1);
	check(1, 28, 28, 16, 3, 1, 1, 3, 0); /* the Fashion-MNIST first block */
	check(16, 14, 14, 32, 3, 1, 1, 2, 0);
	check(3, 7, 9, 4, 3, 1, 1, 2, 1);    /* odd sizes, a NaN */
	check(2, 11, 10, 3, 3, 2, 1, 2, 0);  /* stride 2 */
	check(2, 9, 9, 3, 5, 1, 2, 2, 0);    /* 5x5 kernel */
	check(2, 8, 8, 3, 3, 1, 0, 2, 0);    /* no padding */
	check(3, 6, 5, 2, 1, 1, 0, 2, 1);    /* 1x1 kernel, a NaN */
	check(2, 5, 7, 3, 7, 1, 3, 2, 0);    /* 7x7 kernel wider than the image */
	check(2, 5, 67, 3, 3, 1, 1, 2, 1);   /* rows of 33 windows: three vectors */
	return done_testing();
}
