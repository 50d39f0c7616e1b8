/*
 * net.c - a feed-forward network: a stack of the tensor core's layers with
 * a loss on top, trained batch-parallel.
 *
 * Every model sluice-train builds is such a stack.  Linear, logistic and
 * softmax regression and the linear SVM are one linear layer under
 * different losses; an MLP alternates linear layers and activations (with
 * dropout); a CNN starts with conv2d + ReLU + max-pool blocks over NCHW
 * images and ends like an MLP (flattening is free: a (C,H,W) plane stack
 * is already a row).  The stack is built by calls (sl_net_linear, ...),
 * described as an sl_val for the model file, and rebuilt from that
 * description by sl_net_from_val, so a model file alone recreates the
 * network with the same parameter names and shapes.
 *
 * Parameters live in one sl_params block: fc<k>.w (OC,C), fc<k>.b (OC),
 * conv<k>.w (OC,IC,KH,KW), conv<k>.b (OC), numbered from 1 in order.
 *
 * Threads.  A batch of B rows is cut into one contiguous share per worker
 * (sl_pool_share).  Each worker runs forward and backward on its share
 * with single-threaded BLAS, into its own gradient block (worker 0 into
 * P.grad), with dloss = b / B so that the sum of the workers' gradients is
 * the gradient of the batch mean.  The blocks are then summed element by
 * element, worker 0 first, each worker summing one range of elements:
 * the order of every sum is fixed by the thread count, so training is
 * bit-reproducible for a given --threads.  A linear first layer is split
 * by output units instead (see splits_first): it holds most of an MLP's
 * weights, and this keeps them on one core.  Dropout masks are drawn per
 * element of the whole batch (the layer's seed advanced by the share's
 * first element), so they do not depend on the thread count at all.
 *
 * Memory per worker: for each layer its output, plus its cache (dropout
 * mask, im2col columns, max-pool winners), for cap rows; two gradient
 * buffers of the widest layer; and, for workers after the first, a
 * gradient block as large as the parameters.
 */
#include "sluice.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Loops built for AVX-512, AVX2 and plain SSE2, one picked at load time
 * (as in layers.c). */
static const char *const layer_names[] = {
    [SL_LAYER_LINEAR] = "linear",   [SL_LAYER_RELU] = "relu",
    [SL_LAYER_GELU] = "gelu",       [SL_LAYER_TANH] = "tanh",
    [SL_LAYER_SIGMOID] = "sigmoid", [SL_LAYER_DROPOUT] = "dropout",
    [SL_LAYER_CONV2D] = "conv2d",   [SL_LAYER_MAXPOOL2D] = "maxpool2d",
};

static const char *const loss_names[] = {
    [SL_LOSS_XENT] = "xent", [SL_LOSS_BCE] = "bce",     [SL_LOSS_HINGE] = "hinge",
    [SL_LOSS_MSE] = "mse",   [SL_LOSS_MAE] = "mae",     [SL_LOSS_HUBER] = "huber",
};

#define NKINDS ((int)(sizeof layer_names / sizeof *layer_names))
#define NLOSSES ((int)(sizeof loss_names / sizeof *loss_names))

const char *sl_loss_name(enum sl_loss_kind k)
{
	SL_ASSERT((int)k >= 0 && (int)k < NLOSSES);
	return loss_names[k];
}

int sl_loss_parse(enum sl_loss_kind *k, const char *name)
{
	for (int i = 0; i < NLOSSES; i++)
		if (strcmp(loss_names[i], name) == 0) {
			*k = (enum sl_loss_kind)i;
			return 0;
		}
	return -1;
}

int sl_activation_parse(enum sl_layer_kind *k, const char *name)
{
	for (int i = SL_LAYER_RELU; i <= SL_LAYER_SIGMOID; i++)
		if (strcmp(layer_names[i], name) == 0) {
			*k = (enum sl_layer_kind)i;
			return 0;
		}
	return -1;
}

/* ------------------------------------------------------------ building */

void sl_net_init(struct sl_net *net, int C, int H, int W)
{
	SL_ASSERT(C >= 1 && H >= 1 && W >= 1);
	memset(net, 0, sizeof *net);
	net->C = net->IC = C;
	net->H = net->IH = H;
	net->W = net->IW = W;
	net->D = net->O = C * H * W;
	net->huber_delta = 1.0f;
}

static struct sl_layer *push(struct sl_net *net, enum sl_layer_kind kind)
{
	struct sl_layer *l;

	SL_ASSERT(!net->P.data);
	net->L = sl_xrealloc(net->L, (size_t)(net->n + 1) * sizeof *net->L);
	l = &net->L[net->n++];
	memset(l, 0, sizeof *l);
	l->kind = kind;
	l->in = l->out = net->O;
	l->C = net->C, l->H = net->H, l->W = net->W;
	l->w = l->b = -1;
	return l;
}

void sl_net_linear(struct sl_net *net, int OC)
{
	struct sl_layer *l = push(net, SL_LAYER_LINEAR);
	char name[SL_PARAM_NAME_MAX];
	int ws[2] = {OC, l->in}, bs[1] = {OC};

	SL_ASSERT(OC >= 1);
	net->nlinear++;
	snprintf(name, sizeof name, "fc%d.w", net->nlinear);
	l->w = sl_params_add(&net->P, name, 1, 2, ws);
	snprintf(name, sizeof name, "fc%d.b", net->nlinear);
	l->b = sl_params_add(&net->P, name, 0, 1, bs);
	l->out = net->O = net->C = OC;
	net->H = net->W = 1;
}

void sl_net_activation(struct sl_net *net, enum sl_layer_kind kind)
{
	SL_ASSERT(kind >= SL_LAYER_RELU && kind <= SL_LAYER_SIGMOID);
	push(net, kind);
}

void sl_net_dropout(struct sl_net *net, float p)
{
	SL_ASSERT(p >= 0.0f && p < 1.0f);
	push(net, SL_LAYER_DROPOUT)->p = p;
}

int sl_net_conv2d(struct sl_net *net, int OC, int K, int stride, int pad)
{
	struct sl_conv2d c;
	struct sl_layer *l;
	char name[SL_PARAM_NAME_MAX];
	int ws[4], bs[1] = {OC};

	if (sl_conv2d_init(&c, net->C, net->H, net->W, OC, K, K, stride, pad) < 0)
		return -1;
	l = push(net, SL_LAYER_CONV2D);
	l->conv = c;
	ws[0] = OC, ws[1] = net->C, ws[2] = K, ws[3] = K;
	net->nconv++;
	snprintf(name, sizeof name, "conv%d.w", net->nconv);
	l->w = sl_params_add(&net->P, name, 1, 4, ws);
	snprintf(name, sizeof name, "conv%d.b", net->nconv);
	l->b = sl_params_add(&net->P, name, 0, 1, bs);
	net->C = OC, net->H = c.OH, net->W = c.OW;
	l->out = net->O = OC * c.OH * c.OW;
	return 0;
}

int sl_net_maxpool2d(struct sl_net *net, int K, int S)
{
	struct sl_layer *l;

	if (K < 1 || S < 1 || net->H < K || net->W < K)
		return -1;
	l = push(net, SL_LAYER_MAXPOOL2D);
	l->K = K, l->S = S;
	net->H = (net->H - K) / S + 1;
	net->W = (net->W - K) / S + 1;
	l->out = net->O = net->C * net->H * net->W;
	return 0;
}

void sl_net_finish(struct sl_net *net, enum sl_loss_kind loss)
{
	net->loss = loss;
	for (int i = 0; i + 2 < net->n; i++)
		net->L[i].block = net->L[i].kind == SL_LAYER_CONV2D &&
		                  net->L[i].conv.OH >= 2 && net->L[i].conv.OW >= 2 &&
		                  net->L[i + 1].kind == SL_LAYER_RELU &&
		                  net->L[i + 2].kind == SL_LAYER_MAXPOOL2D &&
		                  net->L[i + 2].K == 2 && net->L[i + 2].S == 2;
	sl_params_alloc(&net->P);
}

int sl_net_classes(const struct sl_net *net)
{
	switch (net->loss) {
	case SL_LOSS_XENT:
	case SL_LOSS_HINGE:
		return net->O;
	case SL_LOSS_BCE:
		return 2;
	default:
		return 0;
	}
}

/* PyTorch's default for Linear and Conv2d: weights and biases uniform in
 * +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt 5). */
void sl_net_init_weights(struct sl_net *net, const struct sl_init_spec *w,
                         const struct sl_init_spec *b, uint64_t seed)
{
	struct sl_rng r;

	sl_rng_seed(&r, seed);
	for (int i = 0; i < net->n; i++) {
		const struct sl_layer *l = &net->L[i];
		const struct sl_param *pw, *pb;
		int fan_in, fan_out;
		struct sl_init_spec dflt;

		if (l->w < 0)
			continue;
		pw = &net->P.t[l->w];
		pb = &net->P.t[l->b];
		fan_in = (int)(pw->n / (size_t)pw->shape[0]);
		fan_out = (int)(pw->n / (size_t)pw->shape[1]);
		dflt.kind = SL_INIT_UNIFORM;
		dflt.arg = (float)(1.0 / sqrt((double)fan_in));
		sl_init_fill(net->P.data + pw->off, &r, w ? *w : dflt, pw->n, fan_in,
		             fan_out);
		sl_init_fill(net->P.data + pb->off, &r, b ? *b : dflt, pb->n, fan_in,
		             fan_out);
	}
}

void sl_net_free(struct sl_net *net)
{
	free(net->L);
	sl_params_free(&net->P);
	memset(net, 0, sizeof *net);
}

/* --------------------------------------------------------- description */

static struct sl_val ints3(int a, int b, int c)
{
	struct sl_val v = sl_val_arr();

	sl_val_push(&v, sl_val_int(a));
	sl_val_push(&v, sl_val_int(b));
	sl_val_push(&v, sl_val_int(c));
	return v;
}

struct sl_val sl_net_describe(const struct sl_net *net)
{
	struct sl_val d = sl_val_map(), layers = sl_val_arr();

	for (int i = 0; i < net->n; i++) {
		const struct sl_layer *l = &net->L[i];
		struct sl_val m = sl_val_map();
		sl_val_set(&m, "type", sl_val_str(layer_names[l->kind]));
		switch (l->kind) {
		case SL_LAYER_LINEAR:
			sl_val_set(&m, "out", sl_val_int(l->out));
			break;
		case SL_LAYER_DROPOUT:
			sl_val_set(&m, "p", sl_val_float(l->p));
			break;
		case SL_LAYER_CONV2D:
			sl_val_set(&m, "out", sl_val_int(l->conv.OC));
			sl_val_set(&m, "kernel", sl_val_int(l->conv.KH));
			sl_val_set(&m, "stride", sl_val_int(l->conv.stride));
			sl_val_set(&m, "pad", sl_val_int(l->conv.pad));
			break;
		case SL_LAYER_MAXPOOL2D:
			sl_val_set(&m, "kernel", sl_val_int(l->K));
			sl_val_set(&m, "stride", sl_val_int(l->S));
			break;
		default:
			break;
		}
		sl_val_push(&layers, m);
	}
	sl_val_set(&d, "input", ints3(net->IC, net->IH, net->IW));
	sl_val_set(&d, "layers", layers);
	sl_val_set(&d, "loss", sl_val_str(loss_names[net->loss]));
	if (net->loss == SL_LOSS_HUBER)
		sl_val_set(&d, "huber_delta", sl_val_float(net->huber_delta));
	sl_val_set(&d, "outputs", sl_val_int(net->O));
	sl_val_set(&d, "parameters", sl_val_int((int64_t)net->P.n));
	return d;
}

static int get_int(const struct sl_val *m, const char *key, int lo, int *out)
{
	const struct sl_val *v = sl_val_get(m, key);

	if (!v || v->tag != SL_V_INT || v->u.i < lo || v->u.i > (1 << 24))
		return -1;
	*out = (int)v->u.i;
	return 0;
}

int sl_net_from_val(struct sl_net *net, const struct sl_val *d, char *err,
                    size_t errcap)
{
	const struct sl_val *in, *layers, *loss, *v;
	enum sl_loss_kind lk;
	int C, H, W;

	memset(net, 0, sizeof *net);
	in = sl_val_get(d, "input");
	if (!in || in->tag != SL_V_ARR || in->n != 3 || in->u.a[0].tag != SL_V_INT ||
	    in->u.a[1].tag != SL_V_INT || in->u.a[2].tag != SL_V_INT ||
	    (C = (int)in->u.a[0].u.i) < 1 || (H = (int)in->u.a[1].u.i) < 1 ||
	    (W = (int)in->u.a[2].u.i) < 1 || (int64_t)C * H * W > (1 << 28)) {
		snprintf(err, errcap, "model: \"input\" is not [C, H, W]");
		return -1;
	}
	loss = sl_val_get(d, "loss");
	if (!loss || loss->tag != SL_V_STR || sl_loss_parse(&lk, loss->u.s) < 0) {
		snprintf(err, errcap, "model: unknown or missing \"loss\"");
		return -1;
	}
	layers = sl_val_get(d, "layers");
	if (!layers || layers->tag != SL_V_ARR || layers->n == 0) {
		snprintf(err, errcap, "model: no \"layers\"");
		return -1;
	}
	sl_net_init(net, C, H, W);
	for (size_t i = 0; i < layers->n; i++) {
		const struct sl_val *m = &layers->u.a[i], *t = sl_val_get(m, "type");
		int k = -1, a, b, c, bad = 0;
		for (int j = 0; t && t->tag == SL_V_STR && j < NKINDS; j++)
			if (strcmp(layer_names[j], t->u.s) == 0)
				k = j;
		switch (k) {
		case SL_LAYER_LINEAR:
			if (!(bad = get_int(m, "out", 1, &a) < 0))
				sl_net_linear(net, a);
			break;
		case SL_LAYER_RELU:
		case SL_LAYER_GELU:
		case SL_LAYER_TANH:
		case SL_LAYER_SIGMOID:
			sl_net_activation(net, (enum sl_layer_kind)k);
			break;
		case SL_LAYER_DROPOUT:
			v = sl_val_get(m, "p");
			if (!(bad = !v || v->tag != SL_V_FLOAT || !(v->u.f >= 0 && v->u.f < 1)))
				sl_net_dropout(net, (float)v->u.f);
			break;
		case SL_LAYER_CONV2D:
			bad = get_int(m, "out", 1, &a) < 0 || get_int(m, "kernel", 1, &b) < 0 ||
			      get_int(m, "stride", 1, &c) < 0 || !sl_val_get(m, "pad") ||
			      sl_val_get(m, "pad")->tag != SL_V_INT ||
			      sl_net_conv2d(net, a, b, c, (int)sl_val_get(m, "pad")->u.i) < 0;
			break;
		case SL_LAYER_MAXPOOL2D:
			bad = get_int(m, "kernel", 1, &a) < 0 || get_int(m, "stride", 1, &b) < 0 ||
			      sl_net_maxpool2d(net, a, b) < 0;
			break;
		default:
			bad = 1;
		}
		if (bad) {
			snprintf(err, errcap, "model: layer %zu is not a layer sluice knows "
			         "or does not fit its input", i + 1);
			sl_net_free(net);
			return -1;
		}
	}
	if ((v = sl_val_get(d, "huber_delta")) && v->tag == SL_V_FLOAT)
		net->huber_delta = (float)v->u.f;
	if ((lk == SL_LOSS_BCE && net->O != 1) ||
	    ((lk == SL_LOSS_XENT || lk == SL_LOSS_HINGE) && net->O < 2)) {
		snprintf(err, errcap, "model: %d outputs do not suit the %s loss", net->O,
		         loss_names[lk]);
		sl_net_free(net);
		return -1;
	}
	sl_net_finish(net, lk);
	return 0;
}

/* -------------------------------------------------------- one worker */

/* One worker's buffers for up to cap rows. */
struct ws {
	int cap;
	float **a;        /* a[i]: output of layer i (cap, L[i].out) */
	float **cache;    /* dropout mask, im2col columns */
	int32_t **argmax; /* max-pool winners */
	float *x;         /* gathered input rows (cap, D) */
	float *d0, *d1;   /* gradients flowing down, (cap, widest) */
	float *probs;     /* loss cache (cap, O) */
	float *scratch;   /* conv blocks' backward */
	float *tgt;       /* gathered float targets (cap, O) */
	int32_t *cls;     /* gathered class targets (cap) */
	float *grad;      /* gradient block: P.grad for worker 0 */
	double loss;      /* this worker's share of the batch loss */
};

static void ws_init(struct ws *w, const struct sl_net *net, int cap, int first)
{
	size_t widest = (size_t)net->D;

	memset(w, 0, sizeof *w);
	w->cap = cap;
	w->a = sl_xcalloc((size_t)net->n + 1, sizeof *w->a);
	w->cache = sl_xcalloc((size_t)net->n + 1, sizeof *w->cache);
	w->argmax = sl_xcalloc((size_t)net->n + 1, sizeof *w->argmax);
	for (int i = 0; i < net->n; i++) {
		const struct sl_layer *l = &net->L[i];
		/* a conv block keeps only its pooled output (layer i + 2's) */
		int inblock = net->L[i].block || (i >= 1 && net->L[i - 1].block);
		if (inblock) {
			w->a[i] = NULL;
			continue;
		}
		w->a[i] = sl_xmalloc((size_t)cap * l->out * sizeof(float));
		if ((size_t)l->out > widest)
			widest = (size_t)l->out;
		if (l->kind == SL_LAYER_DROPOUT)
			w->cache[i] = sl_xmalloc((size_t)cap * l->out * sizeof(float));
		if (l->kind == SL_LAYER_CONV2D)
			w->cache[i] = sl_xmalloc(sl_conv2d_col_size(&l->conv, cap) * sizeof(float));
		if (l->kind == SL_LAYER_MAXPOOL2D)
			w->argmax[i] = sl_xmalloc((size_t)cap * l->out * sizeof(int32_t));
	}
	{
		size_t sc = 1;
		for (int i = 0; i < net->n; i++)
			if (net->L[i].block && sl_convblock_scratch_size(&net->L[i].conv) > sc)
				sc = sl_convblock_scratch_size(&net->L[i].conv);
		w->scratch = sl_xmalloc(sc * sizeof(float));
	}
	w->x = sl_xmalloc((size_t)cap * net->D * sizeof(float));
	w->d0 = sl_xmalloc((size_t)cap * widest * sizeof(float));
	w->d1 = sl_xmalloc((size_t)cap * widest * sizeof(float));
	w->probs = sl_xmalloc((size_t)cap * net->O * sizeof(float));
	w->tgt = sl_xmalloc((size_t)cap * net->O * sizeof(float));
	w->cls = sl_xmalloc((size_t)cap * sizeof(int32_t));
	w->grad = first ? net->P.grad : sl_xcalloc(net->P.n ? net->P.n : 1, sizeof(float));
}

static void ws_free(struct ws *w, const struct sl_net *net, int first)
{
	for (int i = 0; i < net->n; i++) {
		free(w->a[i]);
		free(w->cache[i]);
		free(w->argmax[i]);
	}
	free(w->a);
	free(w->cache);
	free(w->argmax);
	free(w->x);
	free(w->scratch);
	free(w->d0);
	free(w->d1);
	free(w->probs);
	free(w->tgt);
	free(w->cls);
	if (!first)
		free(w->grad);
}

#define PARAM(net, i) ((i) >= 0 ? (net)->P.data + (net)->P.t[i].off : NULL)
#define GRAD(net, w, i) ((i) >= 0 ? (w)->grad + (net)->P.t[i].off : NULL)
#define GOLDEN 0x9e3779b97f4a7c15ULL

/* sl_linear_forward with lib/gemm.c's products (the same for the split
 * first layer, the other layers and inference): out (B,OC) = in (B,C)
 * w (OC,C)^T + bias. */
static void linear_forward(float *out, const float *in, const float *w,
                           const float *bias, int B, int C, int OC)
{
	for (int b = 0; b < B; b++)
		if (bias)
			memcpy(out + (size_t)b * OC, bias, (size_t)OC * sizeof *out);
		else
			memset(out + (size_t)b * OC, 0, (size_t)OC * sizeof *out);
	sl_gemm_nt_add(out, OC, in, C, w, C, B, OC, C);
}

/* Runs layers first.. of the stack on B rows x, the input of layer first;
 * returns the output (B,O).  Dropout is on when train is set; its masks
 * are those of elements row0*width + i of the whole batch. */
static const float *forward(const struct sl_net *net, struct ws *w,
                            const float *x, int B, int train, uint64_t seed,
                            int64_t row0, int first)
{
	const float *in = x;

	for (int i = first; i < net->n; i++) {
		const struct sl_layer *l = &net->L[i];
		float *out = w->a[i];
		size_t n = (size_t)B * l->out;

		switch (l->kind) {
		case SL_LAYER_LINEAR:
			linear_forward(out, in, PARAM(net, l->w), PARAM(net, l->b), B, l->in,
			               l->out);
			break;
		case SL_LAYER_RELU:
			sl_relu_forward(out, in, n);
			break;
		case SL_LAYER_GELU:
			sl_gelu_forward(out, in, n);
			break;
		case SL_LAYER_TANH:
			sl_tanh_forward(out, in, n);
			break;
		case SL_LAYER_SIGMOID:
			sl_sigmoid_forward(out, in, n);
			break;
		case SL_LAYER_DROPOUT:
			if (train && l->p > 0.0f) {
				uint64_t s = sl_mix64(seed + GOLDEN * (uint64_t)(i + 1)) +
				             (uint64_t)row0 * (uint64_t)l->out * GOLDEN;
				sl_dropout_forward(out, w->cache[i], in, l->p, s, n);
			} else {
				memcpy(out, in, n * sizeof *out);
			}
			break;
		case SL_LAYER_CONV2D:
			if (l->block) { /* with the ReLU and the pool after it */
				sl_convblock_forward(w->a[i + 2], w->argmax[i + 2], w->scratch, in,
				                     PARAM(net, l->w), PARAM(net, l->b), &l->conv, B);
				i += 2;
				out = w->a[i];
				break;
			}
			sl_conv2d_forward(out, w->cache[i], in, PARAM(net, l->w),
			                  PARAM(net, l->b), &l->conv, B);
			break;
		case SL_LAYER_MAXPOOL2D:
			sl_maxpool2d_forward(out, w->argmax[i], in, B, l->C, l->H, l->W, l->K,
			                     l->S);
			break;
		}
		in = out;
	}
	return in;
}

/* The loss of B rows' outputs y against the gathered targets, and its
 * gradient (times dloss) into dy, which the caller has zeroed. */
static float loss_forward_backward(const struct sl_net *net, struct ws *w,
                                   const float *y, float *dy, int B, float dloss)
{
	size_t n = (size_t)B * net->O;
	float loss = 0.0f;

	switch (net->loss) {
	case SL_LOSS_XENT:
		loss = sl_softmax_xent_forward(w->probs, y, w->cls, B, net->O);
		sl_softmax_xent_backward(dy, dloss, w->probs, w->cls, B, net->O);
		break;
	case SL_LOSS_BCE:
		for (int b = 0; b < B; b++)
			w->tgt[b] = (float)w->cls[b];
		loss = sl_bce_logits_forward(y, w->tgt, n);
		sl_bce_logits_backward(dy, dloss, y, w->tgt, n);
		break;
	case SL_LOSS_HINGE:
		loss = sl_hinge_forward(y, w->cls, B, net->O);
		sl_hinge_backward(dy, dloss, y, w->cls, B, net->O);
		break;
	case SL_LOSS_MSE:
		loss = sl_mse_forward(y, w->tgt, n);
		sl_mse_backward(dy, dloss, y, w->tgt, n);
		break;
	case SL_LOSS_MAE:
		loss = sl_mae_forward(y, w->tgt, n);
		sl_mae_backward(dy, dloss, y, w->tgt, n);
		break;
	case SL_LOSS_HUBER:
		loss = sl_huber_forward(y, w->tgt, net->huber_delta, n);
		sl_huber_backward(dy, dloss, y, w->tgt, net->huber_delta, n);
		break;
	}
	return loss;
}

/* ReLU's backward into a fresh buffer: din = 0 + (in > 0 ? d : 0), what
 * sl_relu_backward adds to a zeroed din, without the zeroing and with the
 * select as a bit mask, which GCC vectorises (a float comparison under
 * -ftrapping-math it will not if-convert). */
static void relu_backward_set(float *restrict din, const float *restrict d,
                              const float *restrict in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t bits, m = 0u - (uint32_t)(in[i] > 0.0f);
		float keep;
		memcpy(&bits, &d[i], sizeof bits);
		bits &= m;
		memcpy(&keep, &bits, sizeof keep);
		din[i] = 0.0f + keep;
	}
}

/* sl_linear_backward for a worker's fresh step: din, dw and dbias are
 * written rather than added to (beta 0), so neither the input gradient
 * nor the weight gradients need zeroing first.  Each weight serves once
 * per step, so what is written is its whole gradient; the sums are those
 * of the layer, in its order. */
static void linear_backward_set(float *din, float *dw, float *dbias,
                                const float *dout, const float *in, const float *w,
                                int B, int C, int OC)
{
	if (din)
		sl_gemm_nn(din, C, dout, OC, SL_TRANS_N, w, C, B, C, OC, 0);
	sl_gemm_nn(dw, C, dout, OC, SL_TRANS_T, in, C, OC, C, B, 0);
	memset(dbias, 0, (size_t)OC * sizeof *dbias);
	for (int b = 0; b < B; b++) {
		const float *d = dout + (size_t)b * OC;
		for (int o = 0; o < OC; o++)
			dbias[o] += d[o];
	}
}

/* Backward through layers n-1 .. first from dy (B,O) in w->d0, x being
 * the input of layer first.  The gradient of x goes to dx when given
 * (B rows of layer first's width), else nowhere. */
static void backward(const struct sl_net *net, struct ws *w, const float *x,
                     int B, int first, float *dx)
{
	float *d = w->d0, *din = w->d1;

	for (int i = net->n - 1; i >= first; i--) {
		const struct sl_layer *l = &net->L[i];
		const float *in;
		size_t n;
		int need;

		if (i >= 2 && net->L[i - 2].block) { /* a conv block ends here */
			i -= 2;
			l = &net->L[i];
		}
		in = i > first ? w->a[i - 1] : x;
		n = (size_t)B * l->out;
		need = i > first || dx; /* the input itself needs no gradient */
		if (i == first && dx)
			din = dx;
		if (need && l->kind != SL_LAYER_RELU && l->kind != SL_LAYER_LINEAR)
			memset(din, 0, (size_t)B * l->in * sizeof *din);
		switch (l->kind) {
		case SL_LAYER_LINEAR:
			linear_backward_set(need ? din : NULL, GRAD(net, w, l->w),
			                    GRAD(net, w, l->b), d, in, PARAM(net, l->w), B, l->in,
			                    l->out);
			break;
		case SL_LAYER_RELU:
			if (need)
				relu_backward_set(din, d, in, n);
			break;
		case SL_LAYER_GELU:
			if (need)
				sl_gelu_backward(din, d, in, n);
			break;
		case SL_LAYER_TANH:
			if (need)
				sl_tanh_backward(din, d, w->a[i], n);
			break;
		case SL_LAYER_SIGMOID:
			if (need)
				sl_sigmoid_backward(din, d, w->a[i], n);
			break;
		case SL_LAYER_DROPOUT:
			if (need)
				sl_dropout_backward(din, d, w->cache[i], n);
			break;
		case SL_LAYER_CONV2D:
			if (l->block)
				sl_convblock_backward(need ? din : NULL, GRAD(net, w, l->w),
				                      GRAD(net, w, l->b), d, w->a[i + 2],
				                      w->argmax[i + 2], in, PARAM(net, l->w),
				                      w->scratch, &l->conv, B);
			else
				sl_conv2d_backward(need ? din : NULL, GRAD(net, w, l->w),
				                   GRAD(net, w, l->b), d, PARAM(net, l->w), w->cache[i],
				                   &l->conv, B);
			break;
		case SL_LAYER_MAXPOOL2D:
			if (need)
				sl_maxpool2d_backward(din, d, w->argmax[i], B, l->C, l->H, l->W, l->K,
				                      l->S);
			break;
		}
		if (need) {
			float *t = d;
			d = din;
			din = t;
		}
	}
}

/* ------------------------------------------------------------- runner */

struct sl_net_run {
	struct sl_net *net;
	struct sl_pool *pool;
	int nw, cap;
	struct ws *ws;
	/* the job in flight */
	const float *X;
	const int64_t *rows;
	const int32_t *cls;
	const float *vals;
	float *out;
	int B;
	int64_t N;
	uint64_t seed;
	struct sl_optim *optim;
	int unreduced; /* P.grad holds worker 0's part alone */
	/* The first layer split by output columns (see sl_net_run_new). */
	int split, pending; /* pending: its weight gradient is not computed yet */
	float *z0, *dz0;    /* its output and that output's gradient (B, OC) */
	float *xb;          /* the batch's inputs (B, D), gathered by all workers */
};

/* With several workers and a linear first layer (every MLP), training
 * splits that layer by its outputs instead of by rows: worker w computes
 * output columns [c0, c1) for the whole batch, later the gradient of the
 * weight rows [c0, c1) from the whole batch, and updates those rows.  The
 * first layer holds most of an MLP's weights, and this way its weights,
 * their gradients and their moments never leave the core that owns them;
 * only the layer's output and its gradient (B x OC floats each way) are
 * shared.  Splitting rows instead made each step move the weights and a
 * gradient block between the cores, which on the two-core machine we
 * measured cost as much as the arithmetic it saved.  The sums and their
 * order depend on the thread count alone, as before. */
static int splits_first(const struct sl_net *net, int nthreads)
{
	return nthreads > 1 && net->n > 1 && net->L[0].kind == SL_LAYER_LINEAR &&
	       net->L[0].out >= nthreads;
}

struct sl_net_run *sl_net_run_new(struct sl_net *net, int nthreads, int maxbatch)
{
	struct sl_net_run *r = sl_xcalloc(1, sizeof *r);

	SL_ASSERT(nthreads >= 1 && maxbatch >= 1);
	r->net = net;
	r->nw = nthreads;
	r->cap = (maxbatch + nthreads - 1) / nthreads;
	r->pool = sl_pool_new(nthreads);
	r->ws = sl_xcalloc((size_t)nthreads, sizeof *r->ws);
	for (int w = 0; w < nthreads; w++)
		ws_init(&r->ws[w], net, r->cap, w == 0);
	if ((r->split = splits_first(net, nthreads))) {
		size_t B = (size_t)r->cap * nthreads, OC = (size_t)net->L[0].out;
		r->z0 = sl_xmalloc(B * OC * sizeof *r->z0);
		r->dz0 = sl_xmalloc(B * OC * sizeof *r->dz0);
		r->xb = sl_xmalloc(B * (size_t)net->D * sizeof *r->xb);
	}
	if (nthreads > 1)
		sl_blas_threads(1);
	return r;
}

void sl_net_run_free(struct sl_net_run *r)
{
	if (!r)
		return;
	sl_pool_free(r->pool);
	for (int w = 0; w < r->nw; w++)
		ws_free(&r->ws[w], r->net, w == 0);
	if (r->split) {
		free(r->xb);
		free(r->z0);
		free(r->dz0);
	}
	free(r->ws);
	free(r);
}

/* Gathers rows [b0, b1) of the batch (their inputs only when x is set)
 * into the worker's buffers. */
static const float *gather(struct sl_net_run *r, struct ws *w, size_t b0,
                           size_t b1, int x)
{
	const struct sl_net *net = r->net;
	size_t D = (size_t)net->D, O = (size_t)net->O;

	for (size_t b = b0; b < b1; b++) {
		int64_t row = r->rows ? r->rows[b] : (int64_t)b;
		if (x)
			memcpy(w->x + (b - b0) * D, r->X + (size_t)row * D, D * sizeof(float));
		if (r->cls)
			w->cls[b - b0] = r->cls[row];
		if (r->vals)
			memcpy(w->tgt + (b - b0) * O, r->vals + (size_t)row * O, O * sizeof(float));
	}
	return w->x;
}

/* Split first layer: the batch's inputs into the shared buffer, each
 * worker gathering its share of the rows.  (Each worker used to gather
 * the whole batch into a copy of its own: a sixteenth of an MLP step in
 * memmove.)  A job of its own, because every worker's GEMM reads them
 * all. */
static void first_gather_job(void *arg, int wi, int nw)
{
	struct sl_net_run *r = arg;
	size_t b0, b1, D = (size_t)r->net->D;

	sl_pool_share(wi, nw, (size_t)r->B, &b0, &b1);
	for (size_t b = b0; b < b1; b++) {
		int64_t row = r->rows ? r->rows[b] : (int64_t)b;
		memcpy(r->xb + b * D, r->X + (size_t)row * D, D * sizeof *r->xb);
	}
}

/* Split first layer, forward: output columns [c0, c1) for the whole
 * batch, z0[:, c0:c1] = x . w[c0:c1]^T + b. */
static void first_forward_job(void *arg, int wi, int nw)
{
	struct sl_net_run *r = arg;
	const struct sl_net *net = r->net;
	const struct sl_layer *l = &net->L[0];
	size_t c0, c1, D = (size_t)net->D, OC = (size_t)l->out;
	const float *x = r->xb;
	const float *bias = PARAM(net, l->b);

	sl_pool_share(wi, nw, OC, &c0, &c1);
	for (int b = 0; b < r->B; b++)
		memcpy(r->z0 + (size_t)b * OC + c0, bias + c0, (c1 - c0) * sizeof *bias);
	sl_gemm_nt_add(r->z0 + c0, (int)OC, x, (int)D, PARAM(net, l->w) + c0 * D, (int)D,
	               r->B, (int)(c1 - c0), (int)D);
}

/* Split first layer, backward: the gradients of weight rows and biases
 * [c0, c1) from the whole batch, written into P.grad (the layer's sums,
 * in its order: over the batch in one GEMM, the biases row by row). */
static void first_backward(struct sl_net_run *r, int wi, int nw)
{
	const struct sl_net *net = r->net;
	const struct sl_layer *l = &net->L[0];
	size_t c0, c1, D = (size_t)net->D, OC = (size_t)l->out;
	float *db = net->P.grad + net->P.t[l->b].off;

	sl_pool_share(wi, nw, OC, &c0, &c1);
	sl_gemm_nn(net->P.grad + net->P.t[l->w].off + c0 * D, (int)D, r->dz0 + c0, (int)OC,
	           SL_TRANS_T, r->xb, (int)D, (int)(c1 - c0), (int)D, r->B, 0);
	memset(db + c0, 0, (c1 - c0) * sizeof *db);
	for (int b = 0; b < r->B; b++) {
		const float *d = r->dz0 + (size_t)b * OC;
		for (size_t c = c0; c < c1; c++)
			db[c] += d[c];
	}
}

/* The ranges of the parameter block worker wi of nw updates (and, when
 * the gradients are unreduced, sums): [a, b) with sum set when the
 * workers' blocks must be added.  Without the split, one share of the
 * block.  With it, the first layer's weight rows and biases the worker
 * owns (their gradient is whole in P.grad), and a share of the rest. */
struct range {
	size_t a, b;
	int sum;
};

static int my_ranges(const struct sl_net_run *r, int wi, int nw, struct range *out)
{
	const struct sl_params *P = &r->net->P;
	size_t c0, c1, s0, s1, D = (size_t)r->net->D, pos = 0;
	const struct sl_param *pw, *pb;
	size_t cut[2][2];
	int n = 0;

	if (!r->split) {
		sl_pool_share(wi, nw, P->n, &out[0].a, &out[0].b);
		out[0].sum = 1;
		return 1;
	}
	pw = &P->t[r->net->L[0].w];
	pb = &P->t[r->net->L[0].b];
	sl_pool_share(wi, nw, (size_t)r->net->L[0].out, &c0, &c1);
	out[n++] = (struct range){pw->off + c0 * D, pw->off + c1 * D, 0};
	out[n++] = (struct range){pb->off + c0, pb->off + c1, 0};
	/* the rest: [0, P->n) without the two tensors, in index order */
	cut[0][0] = pw->off < pb->off ? pw->off : pb->off;
	cut[0][1] = cut[0][0] + (pw->off < pb->off ? pw->n : pb->n);
	cut[1][0] = pw->off < pb->off ? pb->off : pw->off;
	cut[1][1] = cut[1][0] + (pw->off < pb->off ? pb->n : pw->n);
	sl_pool_share(wi, nw, P->n - pw->n - pb->n, &s0, &s1);
	for (int i = 0; i <= 2; i++) { /* the three gaps around the cuts */
		size_t ga = i == 0 ? 0 : cut[i - 1][1], gb = i == 2 ? P->n : cut[i][0];
		size_t len = gb - ga, lo = s0 > pos ? s0 - pos : 0, hi = s1 - pos;
		if (s1 > pos && lo < len)
			out[n++] = (struct range){ga + lo, ga + (hi < len ? hi : len), 1};
		pos += len;
	}
	return n;
}

static void step_job(void *arg, int wi, int nw)
{
	struct sl_net_run *r = arg;
	const struct sl_net *net = r->net;
	struct ws *w = &r->ws[wi];
	size_t b0, b1;
	int b;
	const float *x, *y;

	sl_pool_share(wi, nw, (size_t)r->B, &b0, &b1);
	b = (int)(b1 - b0);
	w->loss = 0.0;
	if (b == 0) { /* an idle worker adds nothing */
		memset(w->grad, 0, net->P.n * sizeof *w->grad);
		return;
	}
	/* Linear layers write their gradients whole; the others add to them. */
	for (int i = 0; i < net->n; i++)
		if (net->L[i].kind == SL_LAYER_CONV2D) {
			const struct sl_param *pw = &net->P.t[net->L[i].w], *pb = &net->P.t[net->L[i].b];
			memset(w->grad + pw->off, 0, pw->n * sizeof *w->grad);
			memset(w->grad + pb->off, 0, pb->n * sizeof *w->grad);
		}
	x = gather(r, w, b0, b1, !r->split);
	if (r->split) /* layer 0 ran column by column; start from its output */
		x = r->z0 + b0 * (size_t)net->L[0].out;
	y = forward(net, w, x, b, 1, r->seed, (int64_t)b0, r->split);
	memset(w->d0, 0, (size_t)b * net->O * sizeof *w->d0);
	w->loss = loss_forward_backward(net, w, y, w->d0, b, (float)b / (float)r->B);
	backward(net, w, x, b, r->split, r->split ? r->dz0 + b0 * (size_t)net->L[0].out : NULL);
}

/* Adds the other workers' gradient blocks into P.grad over [e0, e1),
 * each element in the order of the workers. */
static void reduce_range(struct sl_net_run *r, size_t e0, size_t e1)
{
	float *g = r->net->P.grad;

	for (int k = 1; k < r->nw; k++) {
		const float *gk = r->ws[k].grad;
		for (size_t e = e0; e < e1; e++)
			g[e] += gk[e];
	}
}

static void reduce_job(void *arg, int wi, int nw)
{
	struct sl_net_run *r = arg;
	struct range rg[5];
	int n;

	if (r->pending)
		first_backward(r, wi, nw);
	n = my_ranges(r, wi, nw, rg);
	for (int i = 0; i < n; i++)
		if (rg[i].sum && r->unreduced)
			reduce_range(r, rg[i].a, rg[i].b);
}

void sl_net_run_grad(struct sl_net_run *r)
{
	if (r->unreduced || r->pending)
		sl_pool_run(r->pool, reduce_job, r);
	r->unreduced = r->pending = 0;
}

float sl_net_run_step(struct sl_net_run *r, const float *X, const int64_t *rows,
                      const int32_t *cls, const float *vals, int B, uint64_t seed)
{
	double loss = 0.0;

	SL_ASSERT(B >= 1 && B <= r->cap * r->nw);
	r->X = X, r->rows = rows, r->cls = cls, r->vals = vals;
	r->B = B, r->seed = seed;
	if (r->split) {
		sl_pool_run(r->pool, first_gather_job, r);
		sl_pool_run(r->pool, first_forward_job, r);
	}
	sl_pool_run(r->pool, step_job, r);
	r->unreduced = r->nw > 1;
	r->pending = r->split;
	for (int w = 0; w < r->nw; w++) {
		size_t b0, b1;
		sl_pool_share(w, r->nw, (size_t)B, &b0, &b1);
		loss += r->ws[w].loss * (double)(b1 - b0) / B;
	}
	return (float)loss;
}

/* Flushes subnormal values (below FLT_MIN in magnitude) to zero, with
 * integer bit tests that vectorise.  Adam's first moment decays by beta1
 * each step a weight's gradient is zero (a pixel that is almost always
 * blank, a dead ReLU) and soon falls below FLT_MIN; subnormal arithmetic
 * costs x86 a microcode assist per operation, and with 12% of the moments
 * subnormal (Fashion-MNIST's MLP after four epochs) the update ran 4.6
 * times slower.  The flush is what the FPU's flush-to-zero mode would do,
 * confined to the optimizer's arrays; the step a subnormal moment would
 * have taken (lr * 1e-38 / eps) moves no weight of ordinary size.
 * Integer work, built for AVX-512, AVX2 and SSE2 (the same bits). */
VECTOR_CLONES
static void flush_subnormals(float *restrict a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t bits;
		memcpy(&bits, &a[i], sizeof bits);
		bits &= 0u - (uint32_t)((bits & 0x7f800000u) != 0);
		memcpy(&a[i], &bits, sizeof bits);
	}
}

/* The optimizer over one range of the block, in pieces that stay in
 * cache.  When the workers' gradients are not yet summed, a piece's sum
 * g0 + g1 + ... (in that order) goes to a buffer on this worker's stack,
 * so no worker writes into memory that another core holds; then the
 * update, with a private copy of the optimizer so that every piece sees
 * the same step count, and the moments' subnormals flushed.  Element-wise,
 * so the split changes no result. */
#define PIECE 4096
static void update_job(void *arg, int wi, int nw)
{
	struct sl_net_run *r = arg;
	struct sl_params *P = &r->net->P;
	float sum[PIECE];
	struct range rg[5];
	int nr;

	if (r->pending)
		first_backward(r, wi, nw);
	nr = my_ranges(r, wi, nw, rg);
	for (int i = 0; i < nr; i++)
		for (size_t a = rg[i].a; a < rg[i].b; a += PIECE) {
			size_t b = a + PIECE < rg[i].b ? a + PIECE : rg[i].b, n = b - a;
			size_t nd = P->ndecay > a ? (P->ndecay < b ? P->ndecay : b) - a : 0;
			struct sl_optim o = *r->optim;
			const float *g = P->grad + a;
			if (rg[i].sum && r->unreduced) {
				const float *g1 = r->ws[1].grad + a;
				for (size_t e = 0; e < n; e++)
					sum[e] = g[e] + g1[e];
				for (int k = 2; k < r->nw; k++) {
					const float *gk = r->ws[k].grad + a;
					for (size_t e = 0; e < n; e++)
						sum[e] += gk[e];
				}
				g = sum;
			}
			sl_optim_step(&o, P->data + a, P->m + a, P->v + a, g, n, nd);
			flush_subnormals(P->m + a, n);
			flush_subnormals(P->v + a, n);
		}
}

void sl_net_run_update(struct sl_net_run *r, struct sl_optim *o)
{
	r->optim = o;
	sl_pool_run(r->pool, update_job, r);
	r->unreduced = r->pending = 0;
	o->t++;
}

static void predict_job(void *arg, int wi, int nw)
{
	struct sl_net_run *r = arg;
	const struct sl_net *net = r->net;
	struct ws *w = &r->ws[wi];
	size_t b0, b1;

	sl_pool_share(wi, nw, (size_t)r->B, &b0, &b1);
	if (b1 > b0) {
		const float *y = forward(net, w, r->X + b0 * (size_t)net->D, (int)(b1 - b0),
		                         0, 0, 0, 0);
		memcpy(r->out + b0 * (size_t)net->O, y, (b1 - b0) * net->O * sizeof *y);
	}
}

void sl_net_run_predict(struct sl_net_run *r, const float *X, int64_t N,
                        float *out)
{
	const struct sl_net *net = r->net;
	int64_t chunk = (int64_t)r->cap * r->nw;

	for (int64_t i = 0; i < N; i += chunk) {
		r->X = X + (size_t)i * net->D;
		r->out = out + (size_t)i * net->O;
		r->B = (int)(N - i < chunk ? N - i : chunk);
		sl_pool_run(r->pool, predict_job, r);
	}
}

/* --------------------------------------------------------- outputs */

double sl_net_loss(const struct sl_net *net, const float *out,
                   const int32_t *cls, const float *vals, int64_t N)
{
	size_t n = (size_t)N * net->O;
	double total = 0.0;
	float *scratch;

	if (N == 0)
		return 0.0;
	switch (net->loss) {
	case SL_LOSS_XENT:
		scratch = sl_xmalloc(n * sizeof *scratch);
		total = sl_softmax_xent_forward(scratch, out, cls, (int)N, net->O);
		free(scratch);
		return total;
	case SL_LOSS_BCE:
		scratch = sl_xmalloc(n * sizeof *scratch);
		for (size_t i = 0; i < n; i++)
			scratch[i] = (float)cls[i];
		total = sl_bce_logits_forward(out, scratch, n);
		free(scratch);
		return total;
	case SL_LOSS_HINGE:
		return sl_hinge_forward(out, cls, (int)N, net->O);
	case SL_LOSS_MSE:
		return sl_mse_forward(out, vals, n);
	case SL_LOSS_MAE:
		return sl_mae_forward(out, vals, n);
	case SL_LOSS_HUBER:
		return sl_huber_forward(out, vals, net->huber_delta, n);
	}
	return NAN;
}

int sl_net_scores(const struct sl_net *net, const float *out, float *probs,
                 int64_t N)
{
	if (net->loss == SL_LOSS_XENT) {
		sl_softmax_forward(probs, out, (int)N, net->O);
		return net->O;
	}
	if (net->loss == SL_LOSS_BCE) {
		for (int64_t i = 0; i < N; i++) {
			float p;
			sl_sigmoid_forward(&p, &out[i], 1);
			probs[2 * i] = 1.0f - p;
			probs[2 * i + 1] = p;
		}
		return 2;
	}
	if (net->loss == SL_LOSS_HINGE) {
		memcpy(probs, out, (size_t)N * net->O * sizeof *probs);
		return net->O;
	}
	return 0;
}
