/*
 * train.c - sluice-train: fit a model to a labelled stream and write it as
 * a model file.
 *
 * Models (each a stack of lib/net.c layers under a loss):
 *
 *   linear     linear regression                 linear -> mse (mae, huber)
 *   logistic   binary logistic regression        linear(1) -> bce
 *   softmax    multinomial logistic regression   linear(K) -> xent
 *   svm        linear SVM                        linear(K) -> hinge
 *   mlp        --hidden N,... --activation --dropout, then linear -> xent|mse
 *   cnn        --conv N,...: conv3x3 pad 1 + ReLU + max-pool 2 each, then
 *              the mlp's layers
 *
 * and gpt, a GPT-style language model (lib/gpt.c) on token ids: the
 * --field ids of every record (what sluice-tokenize --apply writes),
 * joined into one stream with the end-of-text token between documents;
 * --vocab names the vocabulary they were made with, which the model file
 * keeps (lib/lm.c).  Each step draws --batch windows of --context + 1
 * tokens at random positions (seeded by --seed and the step): the first
 * --context are the input, the last --context the targets.
 *
 * The features are every numeric and fixed-length vector field but the
 * target (or --features), as one row of floats per record (lib/feat.c);
 * --scale or --standardize adds preprocessing that the model file keeps,
 * so predict and evaluate apply the model to raw records.  The task is
 * classification for a str or bool target, or an int one with at most 32
 * distinct values, else regression (or --task).
 *
 * Training is mini-batch: each epoch visits the records in an order drawn
 * from (--seed, epoch), in batches split over --threads workers (lib/net.c).
 * Every random choice derives from the seed and the step number, so a run
 * that resumes from a checkpoint (--resume) replays the interrupted run
 * bit for bit and writes the same model bytes.  --val is evaluated every
 * epoch (or --eval-every N steps); --patience stops early and keeps the
 * best weights.
 *
 * One loop trains every model (loop() below): what differs between the
 * feed-forward nets and the GPT (a step, the update, the validation
 * evaluation) goes through a struct kind, and the model file's header
 * keys are a list the loop writes and --resume compares.
 *
 * Memory: the training stream may come from a pipe, so it is held, once,
 * as one float matrix: 4 bytes per feature value plus 4 (class) or 4 * O
 * (regression) bytes per record, plus its label text while loading.  The
 * same for --val.  Per worker, the activations of its share of a batch.
 * A GPT holds its token streams as 4 bytes per token.
 */
#include "sluice.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL
#define MAX_INT_CLASSES 32

enum model { M_LINEAR, M_LOGISTIC, M_SOFTMAX, M_SVM, M_MLP, M_CNN, M_GPT, NMODELS };
static const char *const model_names[] = {"linear", "logistic", "softmax", "svm",
                                          "mlp",    "cnn",      "gpt"};

enum metric { MT_LOSS, MT_ACCURACY, MT_F1, MT_AUC, MT_MSE, MT_RMSE, MT_MAE, MT_R2 };
static const char *const metric_names[] = {"loss", "accuracy", "f1",  "auc",
                                           "mse",  "rmse",     "mae", "r2"};

struct opts {
	struct sl_cli cli;
	int model; /* -1: by task */
	const char *target, *features, *task;
	const char *hidden, *conv, *shape, *activation, *loss;
	const char *auto_shape; /* from the input header's image_shape */
	double dropout;
	/* gpt */
	const char *vocab, *field;
	long long layers, heads, embd, context, eval_windows;
	const char *scale; /* text as given */
	double scale_factor;
	int standardize;
	/* < 0 (NULL): not given, the model's default */
	long long epochs, steps, batch;
	double lr;
	const char *optim;
	double momentum, beta1, beta2, weight_decay, l1, l2, clip;
	const char *schedule;
	long long warmup, step_every;
	double gamma, min_lr;
	const char *init, *bias_init;
	long long seed, threads;
	const char *val;
	long long eval_every, patience;
	const char *metric;
	const char *log;
	long long log_every;
	const char *checkpoint, *resume;
	long long checkpoint_every;
	int progress;
};

/* A data set in memory: N rows of D floats and their targets. */
struct data {
	int64_t N;
	size_t D;
	float *X;
	int32_t *cls;  /* classification */
	float *vals;   /* regression (N,O) */
	/* labels while loading: text forms, back to back */
	struct sl_buf text;
	size_t *textoff;
	const char *name;
	struct sl_val lineage;
};

/* A token stream in memory: the documents' ids joined by end-of-text. */
struct tokens {
	int32_t *ids;
	size_t n, cap;
	int64_t docs;
	const char *name;
	struct sl_val lineage;
};

/* Everything the loop changes, which a checkpoint saves. */
struct state {
	int64_t step;
	double ep_loss;  /* sum of batch loss * rows, this epoch */
	int64_t ep_rows;
	double last_loss; /* mean training loss of the last finished epoch */
	double best;      /* best validation metric so far */
	int64_t best_step;
	int64_t bad;      /* evaluations since the best */
	int have_best, stopped;
	double val_loss, val_metric; /* the latest evaluation */
};

struct trainer;

/* The model-specific parts of the loop.  step runs forward and backward
 * over step's batch, leaving the gradient of its mean loss for update (and
 * for grad, which sums it into P->grad when clipping needs it whole; NULL
 * when step leaves it there, or when clip_update clips without it: the GPT
 * runner never writes the summed gradient); *rows gets the batch's rows.
 * evaluate measures the validation data: its loss and the chosen metric. */
struct kind {
	float (*step)(struct trainer *T, int64_t step, uint64_t seed, int *rows);
	void (*grad)(struct trainer *T);
	void (*update)(struct trainer *T);
	/* clipping to max_norm and the update in one (or NULL: grad, then
	 * sl_clip_grad_norm, then update) */
	void (*clip_update)(struct trainer *T, float max_norm);
	void (*evaluate)(struct trainer *T, double *loss, double *metric);
	const char *unit; /* what a row is, for the rate: "rec", "tok" */
};

#define MAX_KEYS 6

struct trainer {
	struct opts *o;
	const struct kind *k;
	struct sl_params *P; /* the parameters the loop trains */
	int64_t per_step;    /* units (records, tokens) per full batch */
	/* the model file's header keys, in order (written, and compared on
	 * --resume), before "metrics" */
	int nkeys;
	const char *keyname[MAX_KEYS];
	const struct sl_val *keyval[MAX_KEYS];
	/* feed-forward nets */
	struct sl_feat feat;
	struct sl_net net;
	struct sl_net_run *run;
	struct sl_optim optim;
	struct sl_sched sched;
	struct data train, val;
	enum metric metric;
	int maximize;
	int64_t spe, total; /* steps per epoch, in all */
	int64_t *perm;
	int64_t perm_epoch;
	float *best;      /* best weights (with --patience) */
	float *vout;      /* validation outputs (Nv, O) */
	struct state st;
	struct sl_val desc, trainval, featval, targetval, preval;
	/* gpt */
	struct sl_gpt gpt;
	struct sl_gpt_run *grun;
	struct sl_tok *tok;
	int32_t eot;
	int ctx;
	struct tokens ttrain, tval;
	int32_t *bx, *by; /* a batch's inputs and targets */
	struct sl_val vocabval;
	struct sl_writer *log;
	struct sl_header *loghdr;
	uint32_t data_crc;
	double t0, tlast, tepoch;
	int64_t start_step;
};

static void usage(int status);

static int has_val(const struct trainer *T)
{
	return T->val.N > 0 || T->tval.n > 0;
}

/* --------------------------------------------------------------- options */

static double num_arg(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(s, &end);
	if (end == s || *end || errno || !(x >= lo && x <= hi))
		sl_die(2, "--%s: a number from %g to %g, not '%s'", opt, lo, hi, s);
	return x;
}

static long long count_arg(const char *opt, const char *s, long long lo)
{
	long long n = sl_parse_count(s);

	if (n < lo)
		sl_die(2, "--%s: a whole number >= %lld, not '%s'", opt, lo, s);
	return n;
}

/* "0.5" or "1/255" */
static double scale_arg(const char *s)
{
	const char *slash = strchr(s, '/');
	double a, b;

	if (!slash)
		return num_arg("scale", s, -1e30, 1e30);
	{
		char *num = sl_xstrndup(s, (size_t)(slash - s));
		a = num_arg("scale", num, -1e30, 1e30);
		free(num);
	}
	b = num_arg("scale", slash + 1, -1e30, 1e30);
	if (b == 0)
		sl_die(2, "--scale: division by zero in '%s'", s);
	return a / b;
}

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* Parses "16,32" into a malloc'd array of positive ints. */
static int *int_list(const char *opt, const char *s, int *n)
{
	char *copy = sl_xstrdup(s), *p = copy, *tok;
	int *v = NULL;

	*n = 0;
	while ((tok = strsep(&p, ","))) {
		long long x = sl_parse_count(tok);
		if (x < 1 || x > (1 << 20))
			sl_die(2, "--%s: positive whole numbers separated by commas, not '%s'",
			       opt, s);
		v = sl_xrealloc(v, (size_t)(*n + 1) * sizeof *v);
		v[(*n)++] = (int)x;
	}
	free(copy);
	return v;
}

/* ---------------------------------------------------------------- data */

static void data_free(struct data *d)
{
	free(d->X);
	free(d->cls);
	free(d->vals);
	sl_buf_free(&d->text);
	free(d->textoff);
	sl_val_free(&d->lineage);
	memset(d, 0, sizeof *d);
}

/* Reads every record of files (stdin when none) into d.  On the first
 * header of the training data (f->nf == 0) the features are chosen; labels
 * are kept as text until the task is known.  Returns 0, or an exit status
 * after a message. */
static int load(struct trainer *T, struct data *d, char **files, int nfiles,
                int training)
{
	struct sl_feat *f = &T->feat;
	struct sl_header *first = NULL;
	struct sl_buf tmp = {0};
	char err[512];
	int64_t cap = 0;
	int rc = 0;

	d->lineage = sl_val_arr();
	for (int a = 0; a < (nfiles ? nfiles : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nfiles ? files[a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			const char *field, *why;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (sl_reader_fields_differ(r, first, h, NULL)) {
					rc = 1;
					break;
				}
				if (first)
					continue;
				first = sl_header_copy(h);
				sl_val_free(&d->lineage);
				d->lineage = sl_val_copy(&h->lineage);
				if (training && !f->nf) {
					int k = sl_feat_select(f, h, T->o->features, T->o->target, err,
					                       sizeof err);
					if (k < 0) {
						sl_warn("%s: %s", sl_reader_name(r), err);
						rc = k == -2 ? 2 : 1;
						break;
					}
					d->D = f->D;
					/* The image shape ingest records, for --model cnn. */
					if (!T->o->shape && f->nf == 1 && f->f[0].type.kind == SL_VEC) {
						const struct sl_val *is = sl_val_get(&h->meta, "image_shape");
						if (is && is->tag == SL_V_ARR && is->n == 2 &&
						    is->u.a[0].tag == SL_V_INT && is->u.a[1].tag == SL_V_INT &&
						    is->u.a[0].u.i * is->u.a[1].u.i == (int64_t)f->D) {
							static char buf[64];
							snprintf(buf, sizeof buf, "1,%lld,%lld",
							         (long long)is->u.a[0].u.i, (long long)is->u.a[1].u.i);
							T->o->auto_shape = buf;
						}
					}
				} else if (sl_feat_bind(f, h, 1, err, sizeof err) < 0) {
					sl_warn("%s: %s", sl_reader_name(r), err);
					rc = 1;
					break;
				}
				d->D = f->D;
				continue;
			}
			v = sl_reader_values(r);
			if (d->N == cap) {
				cap = cap ? 2 * cap : 1024;
				d->X = sl_xrealloc(d->X, (size_t)cap * d->D * sizeof *d->X);
				if (training)
					d->textoff = sl_xrealloc(d->textoff, (size_t)cap * sizeof *d->textoff);
				else if (f->task == SL_TASK_CLASSIFY)
					d->cls = sl_xrealloc(d->cls, (size_t)cap * sizeof *d->cls);
				else
					d->vals = sl_xrealloc(d->vals, (size_t)cap * f->O * sizeof *d->vals);
			}
			if (sl_feat_row(f, v, d->X + (size_t)d->N * d->D, &field, &why) < 0) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), field, why);
				rc = 1;
				break;
			}
			if (training) {
				/* the label's text; the task is decided after loading */
				const struct sl_value *y = &v[f->tidx];
				d->textoff[d->N] = d->text.n;
				if (y->kind == SL_NIL) {
					sl_warn("%s: record %llu: field \"%s\": a missing target "
					        "(impute or drop it first)", sl_reader_name(r),
					        (unsigned long long)sl_reader_recno(r), f->target);
					rc = 1;
					break;
				}
				if (y->kind == SL_STR || y->kind == SL_INT || y->kind == SL_BOOL) {
					sl_feat_label(y, &tmp);
					if (strlen(tmp.p) != tmp.n) {
						sl_warn("%s: record %llu: field \"%s\": a label with a NUL "
						        "byte", sl_reader_name(r),
						        (unsigned long long)sl_reader_recno(r), f->target);
						rc = 1;
						break;
					}
					sl_buf_put(&d->text, tmp.p, tmp.n + 1);
				} else {
					/* a number or vector: keep its floats as bytes */
					size_t O = y->kind == SL_VEC ? f->ttype.len : 1;
					for (size_t j = 0; j < O; j++) {
						double x = y->kind == SL_VEC ? sl_vec_get(f->ttype.elem, y->u.s.p, j)
						                             : y->u.f;
						float fx = (float)x;
						if (!isfinite(fx)) {
							sl_warn("%s: record %llu: field \"%s\": a NaN or "
							        "infinite target", sl_reader_name(r),
							        (unsigned long long)sl_reader_recno(r), f->target);
							rc = 1;
							break;
						}
						sl_buf_put(&d->text, &fx, sizeof fx);
					}
					if (rc)
						break;
				}
			} else if (sl_feat_target(f, v, &tmp, d->cls ? d->cls + d->N : NULL,
			                          d->vals ? d->vals + (size_t)d->N * f->O : NULL,
			                          &why) < 0) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), f->target, why);
				rc = 1;
				break;
			}
			d->N++;
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		if (a == 0) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &d->lineage);
		sl_reader_close(r);
	}
	if (!rc && !first) {
		sl_warn("%s: no input header", d->name);
		rc = 1;
	} else if (!rc && d->N == 0) {
		sl_warn("%s: no records", d->name);
		rc = 1;
	}
	sl_header_free(first);
	sl_buf_free(&tmp);
	return rc;
}

/* Decides the task from the loaded labels and turns them into targets. */
static int settle_task(struct trainer *T)
{
	struct sl_feat *f = &T->feat;
	struct data *d = &T->train;
	enum sl_kind k = f->ttype.kind;
	int labels = k == SL_STR || k == SL_INT || k == SL_BOOL;

	if (T->o->task) {
		if (strcmp(T->o->task, "classification") == 0)
			f->task = SL_TASK_CLASSIFY;
		else if (strcmp(T->o->task, "regression") == 0)
			f->task = SL_TASK_REGRESS;
		else
			sl_die(2, "--task: classification or regression, not '%s'", T->o->task);
		if (f->task == SL_TASK_CLASSIFY && !labels)
			sl_die(2, "--task classification: the target \"%s\" is %s, not a str, "
			       "int or bool field", f->target, sl_kind_name(k));
		if (f->task == SL_TASK_REGRESS && (k == SL_STR))
			sl_die(2, "--task regression: the target \"%s\" is a str field", f->target);
	}
	if (labels) {
		char **l = sl_xmalloc((size_t)d->N * sizeof *l);
		for (int64_t i = 0; i < d->N; i++)
			l[i] = d->text.p + d->textoff[i];
		sl_feat_set_classes(f, l, (size_t)d->N);
		free(l);
		if (!f->task)
			f->task = k == SL_INT && f->K > MAX_INT_CLASSES ? SL_TASK_REGRESS
			                                               : SL_TASK_CLASSIFY;
	} else {
		f->task = SL_TASK_REGRESS;
	}
	if (f->task == SL_TASK_CLASSIFY) {
		if (f->K < 2) {
			sl_warn("%s: the target \"%s\" has only one class", d->name, f->target);
			return 1;
		}
		d->cls = sl_xmalloc((size_t)d->N * sizeof *d->cls);
		for (int64_t i = 0; i < d->N; i++)
			d->cls[i] = sl_feat_class_of(f, d->text.p + d->textoff[i]);
	} else {
		f->O = k == SL_VEC ? (int)f->ttype.len : 1;
		d->vals = sl_xmalloc((size_t)d->N * f->O * sizeof *d->vals);
		if (labels) { /* an int (or bool) target used for regression */
			for (int64_t i = 0; i < d->N; i++) {
				const char *t = d->text.p + d->textoff[i];
				d->vals[i] = strcmp(t, "true") == 0 ? 1.0f
				             : strcmp(t, "false") == 0 ? 0.0f
				                                       : (float)strtod(t, NULL);
			}
			for (int k2 = 0; k2 < f->K; k2++)
				free(f->classes[k2]);
			free(f->classes);
			f->classes = NULL;
			f->K = 0;
		} else {
			memcpy(d->vals, d->text.p, (size_t)d->N * f->O * sizeof *d->vals);
		}
	}
	sl_buf_free(&d->text);
	free(d->textoff);
	d->textoff = NULL;
	return 0;
}

/* --scale and --standardize: the per-column affine map, applied to the
 * rows already loaded (validation rows are loaded after, through feat). */
static void preprocess(struct trainer *T)
{
	struct sl_feat *f = &T->feat;
	struct data *d = &T->train;
	size_t D = f->D;

	T->preval = sl_val_map();
	if (!T->o->scale && !T->o->standardize) {
		sl_val_set(&T->preval, "method", sl_val_str("none"));
		return;
	}
	f->scale = sl_xmalloc(D * sizeof *f->scale);
	f->shift = sl_xmalloc(D * sizeof *f->shift);
	if (T->o->scale) {
		for (size_t j = 0; j < D; j++) {
			f->scale[j] = (float)T->o->scale_factor;
			f->shift[j] = 0.0f;
		}
		sl_val_set(&T->preval, "method", sl_val_str("scale"));
		sl_val_set(&T->preval, "factor", sl_val_float(T->o->scale_factor));
	} else {
		/* z-scores with the population std, in double, row order */
		double *mean = sl_xcalloc(D, sizeof *mean), *ss = sl_xcalloc(D, sizeof *ss);
		for (int64_t i = 0; i < d->N; i++)
			for (size_t j = 0; j < D; j++)
				mean[j] += d->X[(size_t)i * D + j];
		for (size_t j = 0; j < D; j++)
			mean[j] /= (double)d->N;
		for (int64_t i = 0; i < d->N; i++)
			for (size_t j = 0; j < D; j++) {
				double e = d->X[(size_t)i * D + j] - mean[j];
				ss[j] += e * e;
			}
		for (size_t j = 0; j < D; j++) {
			double sd = sqrt(ss[j] / (double)d->N);
			if (!(sd > 0))
				sd = 1;
			f->scale[j] = (float)(1.0 / sd);
			f->shift[j] = (float)(-mean[j] / sd);
		}
		free(mean);
		free(ss);
		sl_val_set(&T->preval, "method", sl_val_str("standardize"));
	}
	sl_val_set(&T->preval, "tensors", sl_val_arr());
	sl_val_push((struct sl_val *)sl_val_get(&T->preval, "tensors"), sl_val_str("pre.scale"));
	sl_val_push((struct sl_val *)sl_val_get(&T->preval, "tensors"), sl_val_str("pre.shift"));
	for (int64_t i = 0; i < d->N; i++)
		for (size_t j = 0; j < D; j++)
			d->X[(size_t)i * D + j] = d->X[(size_t)i * D + j] * f->scale[j] + f->shift[j];
}

/* ------------------------------------------------------------ token data */

static void tokens_free(struct tokens *d)
{
	free(d->ids);
	sl_val_free(&d->lineage);
	memset(d, 0, sizeof *d);
}

static void tokens_push(struct tokens *d, int32_t id)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 65536;
		d->ids = sl_xrealloc(d->ids, d->cap * sizeof *d->ids);
	}
	d->ids[d->n++] = id;
}

/* Reads the ids field of every record of files (stdin when none) into one
 * stream, the end-of-text token between documents.  Every id must be a
 * token of the vocabulary.  0, or an exit status after a message. */
static int load_tokens(struct trainer *T, struct tokens *d, char **files, int nfiles)
{
	const char *fname = T->o->field ? T->o->field : "ids";
	uint32_t V = sl_tok_size(T->tok);
	int rc = 0, fi = -1, have = 0;
	enum sl_elem elem = SL_ELEM_NONE;

	d->lineage = sl_val_arr();
	for (int a = 0; a < (nfiles ? nfiles : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nfiles ? files[a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			size_t k;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				char tn[32];
				if ((fi = sl_header_find(h, fname)) < 0) {
					sl_warn("%s: no field \"%s\" (token ids from sluice-tokenize; "
					        "--field names another)", sl_reader_name(r), fname);
					rc = 1;
					break;
				}
				elem = h->fields[fi].type.elem;
				if (h->fields[fi].type.kind != SL_VEC ||
				    (elem != SL_ELEM_U16 && elem != SL_ELEM_I32)) {
					sl_type_format(h->fields[fi].type, tn, sizeof tn);
					sl_warn("%s: field \"%s\" is %s, not token ids (u16[] or i32[])",
					        sl_reader_name(r), fname, tn);
					rc = 1;
					break;
				}
				if (!have) {
					sl_val_free(&d->lineage);
					d->lineage = sl_val_copy(&h->lineage);
				}
				have = 1;
				continue;
			}
			v = sl_reader_values(r) + fi;
			if (v->kind != SL_VEC) {
				sl_warn("%s: record %llu: field \"%s\": missing", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), fname);
				rc = 1;
				break;
			}
			if (d->docs++ && T->eot >= 0)
				tokens_push(d, T->eot);
			for (k = 0; k < v->u.s.n / sl_elem_size(elem); k++) {
				int64_t id = (int64_t)sl_vec_get(elem, v->u.s.p, k); /* u16 or i32: exact */
				if (id < 0 || id >= (int64_t)V) {
					sl_warn("%s: record %llu: field \"%s\": id %lld at %zu is not in "
					        "the vocabulary (%u tokens)", sl_reader_name(r),
					        (unsigned long long)sl_reader_recno(r), fname,
					        (long long)id, k, V);
					rc = 1;
					break;
				}
				tokens_push(d, (int32_t)id);
			}
			if (rc)
				break;
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		if (a == 0) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &d->lineage);
		sl_reader_close(r);
	}
	if (!rc && !have) {
		sl_warn("%s: no input header", d->name);
		rc = 1;
	} else if (!rc && d->n < 2) {
		sl_warn("%s: %zu tokens: nothing to predict", d->name, d->n);
		rc = 1;
	}
	return rc;
}

/* Reads --vocab: the tokenizer the ids were made with. */
static int load_vocab(struct trainer *T)
{
	struct sl_reader *r = sl_reader_open(T->o->vocab);
	char err[512];

	T->tok = sl_tok_read(r, err, sizeof err);
	if (!T->tok) {
		if (strstr(err, T->o->vocab))
			sl_warn("%s", err);
		else
			sl_warn("%s: %s", T->o->vocab, err);
		sl_reader_close(r);
		return 1;
	}
	T->eot = sl_lm_eot(T->tok);
	T->vocabval = sl_lm_vocab_val(T->tok, &sl_reader_header(r)->lineage);
	sl_reader_close(r);
	if (T->eot < 0)
		sl_warn("note: %s has no <|endoftext|>: documents are joined with nothing "
		        "between them", T->o->vocab);
	return 0;
}

/* ---------------------------------------------------------------- model */

/* Builds the network the options describe.  0, or exit status 2. */
static int build(struct trainer *T)
{
	struct opts *o = T->o;
	struct sl_feat *f = &T->feat;
	struct sl_net *net = &T->net;
	int classify = f->task == SL_TASK_CLASSIFY, model = o->model, nh = 0, nc = 0;
	int *hidden = NULL, *conv = NULL, out;
	enum sl_loss_kind loss;
	enum sl_layer_kind act = SL_LAYER_RELU;

	if (model < 0)
		model = classify ? M_SOFTMAX : M_LINEAR;
	o->model = model;
	if (model == M_LINEAR && classify)
		sl_die(2, "--model linear is regression, and \"%s\" holds classes (use "
		       "--model softmax or logistic, or --task regression)", f->target);
	if ((model == M_LOGISTIC || model == M_SOFTMAX || model == M_SVM) && !classify)
		sl_die(2, "--model %s classifies, and \"%s\" is a regression target",
		       model_names[model], f->target);
	if (model == M_LOGISTIC && f->K != 2)
		sl_die(2, "--model logistic is binary, and \"%s\" has %d classes (use "
		       "--model softmax)", f->target, f->K);
	if ((o->hidden || o->activation || o->dropout > 0) && model != M_MLP && model != M_CNN)
		sl_die(2, "--hidden, --activation and --dropout belong to --model mlp or cnn");
	if (o->conv && model != M_CNN)
		sl_die(2, "--conv belongs to --model cnn");

	loss = model == M_LOGISTIC ? SL_LOSS_BCE
	       : model == M_SVM    ? SL_LOSS_HINGE
	       : classify          ? SL_LOSS_XENT
	                           : SL_LOSS_MSE;
	if (o->loss) {
		if (sl_loss_parse(&loss, o->loss) < 0)
			sl_die(2, "--loss: xent, bce, hinge, mse, mae or huber, not '%s'", o->loss);
		if (classify != (loss == SL_LOSS_XENT || loss == SL_LOSS_BCE || loss == SL_LOSS_HINGE))
			sl_die(2, "--loss %s does not suit a %s target", o->loss,
			       classify ? "classification" : "regression");
		if (loss == SL_LOSS_BCE && f->K != 2)
			sl_die(2, "--loss bce needs two classes, \"%s\" has %d", f->target, f->K);
	}
	out = classify ? (loss == SL_LOSS_BCE ? 1 : f->K) : f->O;
	if (o->activation && sl_activation_parse(&act, o->activation) < 0)
		sl_die(2, "--activation: relu, gelu, tanh or sigmoid, not '%s'", o->activation);
	if (model == M_MLP)
		hidden = int_list("hidden", o->hidden ? o->hidden : "256,128", &nh);
	else if (o->hidden)
		hidden = int_list("hidden", o->hidden, &nh);
	if (model == M_CNN) {
		int *shape, ns;
		conv = int_list("conv", o->conv ? o->conv : "16,32", &nc);
		if (!o->shape)
			o->shape = o->auto_shape;
		if (!o->shape)
			sl_die(2, "--model cnn needs --shape C,H,W (the input has %zu values)", f->D);
		shape = int_list("shape", o->shape, &ns);
		if (ns != 3 || (size_t)shape[0] * shape[1] * shape[2] != f->D)
			sl_die(2, "--shape %s: three numbers whose product is %zu, the features' "
			       "length", o->shape, f->D);
		sl_net_init(net, shape[0], shape[1], shape[2]);
		free(shape);
		for (int i = 0; i < nc; i++) {
			if (sl_net_conv2d(net, conv[i], 3, 1, 1) < 0 ||
			    (sl_net_activation(net, SL_LAYER_RELU), sl_net_maxpool2d(net, 2, 2)) < 0)
				sl_die(2, "--conv %s: the image is too small for %d blocks", o->conv, nc);
		}
	} else {
		if (o->shape)
			sl_die(2, "--shape belongs to --model cnn");
		sl_net_init(net, (int)f->D, 1, 1);
	}
	for (int i = 0; i < nh; i++) {
		sl_net_linear(net, hidden[i]);
		sl_net_activation(net, act);
		if (o->dropout > 0)
			sl_net_dropout(net, (float)o->dropout);
	}
	sl_net_linear(net, out);
	sl_net_finish(net, loss);
	free(hidden);
	free(conv);
	return 0;
}

/* The training configuration as recorded in the model (and compared on
 * --resume): everything that shapes the weights, nothing operational. */
static struct sl_val train_config(const struct trainer *T)
{
	const struct opts *o = T->o;
	struct sl_val m = sl_val_map();

	sl_val_set(&m, "model", sl_val_str(model_names[o->model]));
	if (o->steps > 0)
		sl_val_set(&m, "steps", sl_val_int(o->steps));
	else
		sl_val_set(&m, "epochs", sl_val_int(o->epochs));
	sl_val_set(&m, "batch", sl_val_int(o->batch));
	if (o->model == M_GPT) {
		sl_val_set(&m, "context", sl_val_int(T->ctx));
		sl_val_set(&m, "field", sl_val_str(o->field ? o->field : "ids"));
	}
	sl_val_set(&m, "optim", sl_val_str(sl_optim_name(T->optim.kind)));
	sl_val_set(&m, "lr", sl_val_float(o->lr));
	if (o->model == M_GPT || o->beta1 >= 0 || o->beta2 >= 0) {
		sl_val_set(&m, "beta1", sl_val_float(o->beta1 >= 0 ? o->beta1 : 0.9));
		sl_val_set(&m, "beta2", sl_val_float(o->beta2 >= 0 ? o->beta2 : 0.999));
	}
	sl_val_set(&m, "momentum", sl_val_float(o->momentum));
	sl_val_set(&m, "weight_decay", sl_val_float(o->weight_decay));
	sl_val_set(&m, "l1", sl_val_float(o->l1));
	sl_val_set(&m, "l2", sl_val_float(o->l2));
	sl_val_set(&m, "clip", sl_val_float(o->clip));
	sl_val_set(&m, "schedule", sl_val_str(o->schedule));
	sl_val_set(&m, "warmup", sl_val_int(o->warmup));
	sl_val_set(&m, "gamma", sl_val_float(o->gamma));
	sl_val_set(&m, "step_every", sl_val_int(o->step_every));
	sl_val_set(&m, "min_lr", sl_val_float(o->min_lr));
	sl_val_set(&m, "dropout", sl_val_float(o->dropout));
	if (o->model != M_GPT) {
		sl_val_set(&m, "init", sl_val_str(o->init ? o->init : "torch"));
		sl_val_set(&m, "bias_init", sl_val_str(o->bias_init ? o->bias_init : "torch"));
	}
	sl_val_set(&m, "seed", sl_val_int(o->seed));
	sl_val_set(&m, "threads", sl_val_int(o->threads));
	sl_val_set(&m, "metric", sl_val_str(metric_names[T->metric]));
	sl_val_set(&m, "eval_every", sl_val_int(o->eval_every));
	sl_val_set(&m, "patience", sl_val_int(o->patience));
	if (o->model == M_GPT) {
		sl_val_set(&m, "eval_windows", sl_val_int(o->eval_windows));
		sl_val_set(&m, "train_documents", sl_val_int(T->ttrain.docs));
		sl_val_set(&m, "train_tokens", sl_val_int((int64_t)T->ttrain.n));
		sl_val_set(&m, "val_documents", sl_val_int(T->tval.docs));
		sl_val_set(&m, "val_tokens", sl_val_int((int64_t)T->tval.n));
	} else {
		sl_val_set(&m, "train_records", sl_val_int(T->train.N));
		sl_val_set(&m, "val_records", sl_val_int(T->val.N));
	}
	return m;
}

/* The model file's header and tensors; with ckpt, the checkpoint's. */
static void make_model(struct trainer *T, struct sl_model *m, int ckpt,
                       int argc, char **argv)
{
	struct sl_val metrics = sl_val_map();
	const struct state *s = &T->st;
	int shape[1] = {(int)T->feat.D};

	sl_model_init(m);
	for (int k = 0; k < T->nkeys; k++)
		sl_val_set(&m->h->meta, T->keyname[k], sl_val_copy(T->keyval[k]));
	sl_val_set(&metrics, "steps", sl_val_int(s->step));
	sl_val_set(&metrics, "epochs", sl_val_float((double)s->step / (double)T->spe));
	sl_val_set(&metrics, "train_loss",
	           s->ep_rows ? sl_val_float(s->ep_loss / (double)s->ep_rows)
	                      : sl_val_float(s->last_loss));
	if (has_val(T)) {
		sl_val_set(&metrics, "val_loss", sl_val_float(s->val_loss));
		if (T->metric != MT_LOSS) {
			char key[32];
			snprintf(key, sizeof key, "val_%s", metric_names[T->metric]);
			sl_val_set(&metrics, key, sl_val_float(s->val_metric));
		}
		if (s->have_best && T->best)
			sl_val_set(&metrics, "best_step", sl_val_int(s->best_step));
		sl_val_set(&metrics, "stopped_early", sl_val_bool(s->stopped));
	}
	sl_val_set(&m->h->meta, "metrics", metrics);
	sl_val_free(&m->h->lineage);
	m->h->lineage = sl_val_copy(T->o->model == M_GPT ? &T->ttrain.lineage : &T->train.lineage);
	sl_header_lineage(m->h, argc, argv);
	sl_model_add_params(m, T->P, T->P->data, NULL);
	if (T->feat.scale) {
		sl_model_add(m, "pre.scale", 1, shape, T->feat.scale);
		sl_model_add(m, "pre.shift", 1, shape, T->feat.shift);
	}
	if (ckpt) {
		struct sl_val c = sl_val_map();
		sl_val_set(&c, "step", sl_val_int(s->step));
		sl_val_set(&c, "optim_t", sl_val_int(T->optim.t));
		sl_val_set(&c, "sched_cur", sl_val_float(T->sched.cur));
		sl_val_set(&c, "sched_best", sl_val_float(T->sched.best));
		sl_val_set(&c, "sched_bad", sl_val_int(T->sched.bad));
		sl_val_set(&c, "ep_loss", sl_val_float(s->ep_loss));
		sl_val_set(&c, "ep_rows", sl_val_int(s->ep_rows));
		sl_val_set(&c, "last_loss", sl_val_float(s->last_loss));
		sl_val_set(&c, "best", sl_val_float(s->best));
		sl_val_set(&c, "best_step", sl_val_int(s->best_step));
		sl_val_set(&c, "bad", sl_val_int(s->bad));
		sl_val_set(&c, "have_best", sl_val_bool(s->have_best));
		sl_val_set(&c, "val_loss", sl_val_float(s->val_loss));
		sl_val_set(&c, "val_metric", sl_val_float(s->val_metric));
		sl_val_set(&c, "data_crc32", sl_val_int(T->data_crc));
		sl_val_set(&m->h->meta, "checkpoint", c);
		sl_model_add_params(m, T->P, T->P->m, "opt.m.");
		sl_model_add_params(m, T->P, T->P->v, "opt.v.");
		if (s->have_best && T->best)
			sl_model_add_params(m, T->P, T->best, "best.");
	}
}

/* Lineage arguments: everything but the options that do not shape the
 * model (where checkpoints and logs go, resuming, progress), so a resumed
 * run records what an uninterrupted one does. */
static char **model_args(int argc, char **argv, int *n)
{
	static const char *const skip_arg[] = {"--checkpoint", "--checkpoint-every",
	                                       "--resume", "--log", "--log-every"};
	char **v = sl_xmalloc((size_t)(argc + 1) * sizeof *v);

	*n = 0;
	for (int i = 0; i < argc; i++) {
		int skip = 0;
		if (strcmp(argv[i], "--progress") == 0)
			continue;
		for (size_t k = 0; k < sizeof skip_arg / sizeof *skip_arg; k++) {
			size_t len = strlen(skip_arg[k]);
			if (strncmp(argv[i], skip_arg[k], len) == 0) {
				if (argv[i][len] == '=')
					skip = 1;
				else if (!argv[i][len])
					skip = 2;
			}
		}
		if (skip == 2 && i + 1 < argc)
			i++;
		if (!skip)
			v[(*n)++] = argv[i];
	}
	v[*n] = NULL;
	return v;
}

static int write_model(struct trainer *T, const char *path, int ckpt, int argc,
                       char **argv)
{
	struct sl_model m;
	char err[600];
	int n, rc;
	char **args = model_args(argc, argv, &n);
	struct sl_wopts wo = {0, 1};

	make_model(T, &m, ckpt, n, args);
	rc = sl_model_write(&m, path, ckpt ? &wo : &T->o->cli.w, err, sizeof err);
	if (rc < 0)
		sl_warn("%s", err);
	sl_model_free(&m);
	free(args);
	return rc;
}

/* Restores the loop's state from a checkpoint made with the same settings. */
static int resume(struct trainer *T, const char *path)
{
	struct sl_model m;
	char err[600];
	const struct sl_val *c, *x;
	struct sl_params *P = T->P;

	if (sl_model_read(&m, path, err, sizeof err) < 0) {
		sl_warn("%s", err);
		return 1;
	}
	if (!(c = sl_val_get(&m.h->meta, "checkpoint")) || c->tag != SL_V_MAP) {
		sl_warn("%s: a model file but not a checkpoint", path);
		sl_model_free(&m);
		return 1;
	}
	for (int k = 0; k < T->nkeys; k++) {
		struct sl_buf a = {0}, b = {0};
		const struct sl_val *theirs = sl_val_get(&m.h->meta, T->keyname[k]);
		int same;
		if (theirs)
			sl_val_json(&a, theirs);
		sl_val_json(&b, T->keyval[k]);
		same = theirs && a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
		sl_buf_free(&a);
		sl_buf_free(&b);
		if (!same) {
			sl_warn("%s: the checkpoint was made with other settings or data "
			        "(its \"%s\" differs); resume with the same arguments", path,
			        T->keyname[k]);
			sl_model_free(&m);
			return 2;
		}
	}
#define CK_INT(key, dst)                                                       \
	((x = sl_val_get(c, key)) && x->tag == SL_V_INT ? ((dst) = x->u.i, 0) : -1)
#define CK_FLT(key, dst)                                                       \
	((x = sl_val_get(c, key)) && x->tag == SL_V_FLOAT ? ((dst) = x->u.f, 0) : -1)
	{
		int64_t step, t, bad, eprows, bstep, crc;
		double cur, best, eploss, lastloss, b, vl, vm;
		int hb;
		if (CK_INT("step", step) || CK_INT("optim_t", t) || CK_FLT("sched_cur", cur) ||
		    CK_FLT("sched_best", best) || CK_INT("sched_bad", bad) ||
		    CK_FLT("ep_loss", eploss) || CK_INT("ep_rows", eprows) ||
		    CK_FLT("last_loss", lastloss) || CK_FLT("best", b) ||
		    CK_INT("best_step", bstep) || CK_INT("bad", T->st.bad) ||
		    CK_FLT("val_loss", vl) || CK_FLT("val_metric", vm) ||
		    CK_INT("data_crc32", crc) || !(x = sl_val_get(c, "have_best")) ||
		    x->tag != SL_V_BOOL || step < 0 || step > T->total) {
			sl_warn("%s: the checkpoint's state is incomplete", path);
			sl_model_free(&m);
			return 1;
		}
		hb = x->u.b;
		if ((uint32_t)crc != T->data_crc) {
			sl_warn("%s: the checkpoint was made on other training data", path);
			sl_model_free(&m);
			return 2;
		}
		T->st.step = step;
		T->optim.t = t;
		T->sched.cur = (float)cur;
		T->sched.best = (float)best;
		T->sched.bad = (int)bad;
		T->st.ep_loss = eploss;
		T->st.ep_rows = eprows;
		T->st.last_loss = lastloss;
		T->st.best = b;
		T->st.best_step = bstep;
		T->st.have_best = hb;
		T->st.val_loss = vl;
		T->st.val_metric = vm;
	}
#undef CK_INT
#undef CK_FLT
	if (sl_model_get_params(&m, P, P->data, NULL, path, err, sizeof err) < 0 ||
	    sl_model_get_params(&m, P, P->m, "opt.m.", path, err, sizeof err) < 0 ||
	    sl_model_get_params(&m, P, P->v, "opt.v.", path, err, sizeof err) < 0 ||
	    (T->st.have_best && T->best &&
	     sl_model_get_params(&m, P, T->best, "best.", path, err, sizeof err) < 0)) {
		sl_warn("%s", err);
		sl_model_free(&m);
		return 1;
	}
	sl_model_free(&m);
	return 0;
}

/* ----------------------------------------------------------- evaluation */

/* Evaluates the validation set: its loss and the chosen metric. */
static void net_evaluate(struct trainer *T, double *loss, double *metric)
{
	struct data *v = &T->val;
	struct sl_net *net = &T->net;

	sl_net_run_predict(T->run, v->X, v->N, T->vout);
	*loss = sl_net_loss(net, T->vout, v->cls, v->vals, v->N);
	if (T->feat.task == SL_TASK_CLASSIFY && T->metric != MT_LOSS) {
		int K = sl_net_classes(net);
		float *scores = sl_xmalloc((size_t)v->N * K * sizeof *scores);
		struct sl_cls_metrics m;
		sl_net_scores(net, T->vout, scores, v->N);
		sl_metrics_classify(&m, v->cls, scores, K, v->N, net->loss != SL_LOSS_HINGE);
		*metric = T->metric == MT_ACCURACY ? m.accuracy
		          : T->metric == MT_F1     ? m.macro_f1
		                                   : m.auc_macro;
		sl_cls_metrics_free(&m);
		free(scores);
	} else if (T->feat.task == SL_TASK_REGRESS && T->metric != MT_LOSS) {
		struct sl_reg_metrics m;
		sl_metrics_regress(&m, v->vals, T->vout, v->N, T->feat.O);
		*metric = T->metric == MT_MSE    ? m.mse
		          : T->metric == MT_RMSE ? m.rmse
		          : T->metric == MT_MAE  ? m.mae
		                                 : m.r2;
	} else {
		*metric = *loss;
	}
}

/* The validation stream's mean next-token loss, in non-overlapping windows
 * (--eval-windows of them, evenly spaced, when given). */
static void gpt_evaluate(struct trainer *T, double *loss, double *metric)
{
	size_t scored;
	double nats = sl_lm_nll(T->grun, (int)T->o->batch, T->ctx, T->tval.ids, T->tval.n,
	                        (size_t)T->o->eval_windows, &scored);

	*loss = *metric = nats / (double)scored;
}

/* ------------------------------------------------------------- progress */

static void fmt_time(char *out, size_t cap, double s)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

/* The line a terminal sees between epochs, at most five times a second. */
static void status_line(struct trainer *T, double loss)
{
	double now = sl_now(), el = now - T->t0;
	int64_t done = T->st.step - T->start_step;
	char eta[32];

	if (now - T->tlast < 0.2)
		return;
	T->tlast = now;
	fmt_time(eta, sizeof eta, done > 0 ? (double)(T->total - T->st.step) * el / (double)done : 0);
	fprintf(stderr, "\r\033[Kepoch %lld/%lld  step %lld/%lld  loss %.4f",
	        (long long)((T->st.step - 1) / T->spe + 1),
	        (long long)((T->total + T->spe - 1) / T->spe), (long long)T->st.step,
	        (long long)T->total, loss);
	if (has_val(T) && !isnan(T->st.val_metric))
		fprintf(stderr, "  val %s %.4f", metric_names[T->metric], T->st.val_metric);
	fprintf(stderr, "  %.0f %s/s  ETA %s",
	        el > 0 ? (double)done * (double)T->per_step / el : 0.0, T->k->unit, eta);
}

/* ------------------------------------------------------------------ log */

enum { LG_EVENT, LG_EPOCH, LG_STEP, LG_LR, LG_LOSS, LG_VAL_LOSS, LG_VAL_METRIC, LG_N };

static int open_log(struct trainer *T, int argc, char **argv)
{
	struct sl_type ts = {SL_STR, 0, 0}, ti = {SL_INT, 0, 0}, tf = {SL_FLOAT, 0, 0};
	struct sl_wopts wo = {0, 1};

	T->loghdr = sl_header_new();
	sl_header_add(T->loghdr, "event", ts);
	sl_header_add(T->loghdr, "epoch", ti);
	sl_header_add(T->loghdr, "step", ti);
	sl_header_add(T->loghdr, "lr", tf);
	sl_header_add(T->loghdr, "loss", tf);
	sl_header_add(T->loghdr, "val_loss", tf);
	sl_header_add(T->loghdr, "val_metric", tf);
	sl_val_set(&T->loghdr->meta, "metric", sl_val_str(metric_names[T->metric]));
	sl_header_lineage(T->loghdr, argc, argv);
	T->log = sl_writer_open(T->o->log, &wo);
	if (sl_writer_error(T->log) || sl_write_header(T->log, T->loghdr) < 0) {
		sl_warn("%s", sl_writer_error(T->log));
		return 1;
	}
	return 0;
}

static void log_event(struct trainer *T, const char *event, double lr, double loss,
                      int with_val)
{
	struct sl_value v[LG_N];

	if (!T->log)
		return;
	v[LG_EVENT].kind = SL_STR;
	v[LG_EVENT].u.s.p = event;
	v[LG_EVENT].u.s.n = strlen(event);
	v[LG_EPOCH].kind = SL_INT;
	v[LG_EPOCH].u.i = (T->st.step - 1) / T->spe + 1;
	v[LG_STEP].kind = SL_INT;
	v[LG_STEP].u.i = T->st.step;
	v[LG_LR].kind = SL_FLOAT;
	v[LG_LR].u.f = lr;
	v[LG_LOSS].kind = SL_FLOAT;
	v[LG_LOSS].u.f = loss;
	v[LG_VAL_LOSS].kind = with_val ? SL_FLOAT : SL_NIL;
	v[LG_VAL_LOSS].u.f = T->st.val_loss;
	v[LG_VAL_METRIC].kind = with_val ? SL_FLOAT : SL_NIL;
	v[LG_VAL_METRIC].u.f = T->st.val_metric;
	sl_write_record(T->log, v, LG_N);
}

/* ------------------------------------------------------------ the kinds */

/* The order of epoch e's records: a shuffle seeded by (seed, e) alone. */
static void shuffle(struct trainer *T, int64_t e)
{
	struct sl_rng r;
	int64_t N = T->train.N;

	sl_rng_seed(&r, sl_mix64((uint64_t)T->o->seed + GOLDEN * (uint64_t)(e + 1)));
	for (int64_t i = 0; i < N; i++)
		T->perm[i] = i;
	for (int64_t i = N - 1; i > 0; i--) {
		int64_t j = (int64_t)sl_rng_below(&r, (uint64_t)i + 1), t = T->perm[i];
		T->perm[i] = T->perm[j];
		T->perm[j] = t;
	}
	T->perm_epoch = e;
}

/* A net's step: batch i of epoch e in that epoch's order. */
static float net_step(struct trainer *T, int64_t step, uint64_t seed, int *rows)
{
	int64_t B = T->o->batch, N = T->train.N, e = step / T->spe, b0 = step % T->spe * B;
	int b = (int)(N - b0 < B ? N - b0 : B);

	if (T->perm_epoch != e)
		shuffle(T, e);
	*rows = b;
	return sl_net_run_step(T->run, T->train.X, T->perm + b0, T->train.cls, T->train.vals,
	                       b, seed);
}

static void net_grad(struct trainer *T)
{
	sl_net_run_grad(T->run);
}

static void net_update(struct trainer *T)
{
	sl_net_run_update(T->run, &T->optim);
}

/* A GPT's step: windows at positions drawn from (seed, step) alone, so a
 * resumed run draws what the interrupted one would have. */
static float gpt_step(struct trainer *T, int64_t step, uint64_t seed, int *rows)
{
	int B = (int)T->o->batch, C = T->ctx;
	struct sl_rng r;

	sl_rng_seed(&r, sl_mix64((uint64_t)T->o->seed + GOLDEN * (uint64_t)(step + 1)) ^ 0x57494e44ULL);
	for (int b = 0; b < B; b++) {
		size_t s = (size_t)sl_rng_below(&r, T->ttrain.n - (size_t)C);
		memcpy(T->bx + (size_t)b * C, T->ttrain.ids + s, (size_t)C * sizeof *T->bx);
		memcpy(T->by + (size_t)b * C, T->ttrain.ids + s + 1, (size_t)C * sizeof *T->by);
	}
	*rows = B;
	return sl_gpt_run_step(T->grun, T->bx, T->by, B, seed);
}

/* Clipping and the optimizer step run on the runner's workers. */
static void gpt_clip_update(struct trainer *T, float max_norm)
{
	sl_gpt_run_update(T->grun, &T->optim, max_norm);
}

static void gpt_update(struct trainer *T)
{
	gpt_clip_update(T, 0);
}

static const struct kind net_kind = {net_step, net_grad, net_update, NULL, net_evaluate,
                                     "rec"};
static const struct kind gpt_kind = {gpt_step, NULL, gpt_update, gpt_clip_update,
                                     gpt_evaluate, "tok"};

/* ------------------------------------------------------------------ loop */

static int better(const struct trainer *T, double a, double b)
{
	return T->maximize ? a > b : a < b;
}

/* Runs from T->st.step to the end (or an early stop).  0, or exit 1. */
static int loop(struct trainer *T, int show, int argc, char **argv)
{
	struct opts *o = T->o;
	struct state *s = &T->st;
	struct sl_params *P = T->P;

	T->t0 = T->tepoch = sl_now();
	T->start_step = s->step;
	while (s->step < T->total && !s->stopped) {
		int b, end_epoch, evaluated = 0;
		float lr, loss;

		lr = sl_sched_lr(&T->sched, s->step);
		T->optim.lr = lr;
		loss = T->k->step(T, s->step,
		                  sl_mix64((uint64_t)o->seed ^ (GOLDEN * (uint64_t)(s->step + 1))), &b);
		if (!isfinite(loss)) {
			if (show)
				fputc('\n', stderr);
			sl_warn("the loss is %g at step %lld: training diverged (try a smaller "
			        "--lr, or --clip)", loss, (long long)s->step + 1);
			return 1;
		}
		if (o->clip > 0 && T->k->clip_update) {
			T->k->clip_update(T, (float)o->clip);
		} else {
			if (o->clip > 0) {
				if (T->k->grad)
					T->k->grad(T);
				sl_clip_grad_norm(P->grad, P->n, (float)o->clip);
			}
			T->k->update(T);
		}
		s->ep_loss += (double)loss * b;
		s->ep_rows += b;
		s->step++;
		end_epoch = s->step % T->spe == 0 || s->step == T->total;
		if (o->log_every && s->step % o->log_every == 0)
			log_event(T, "step", lr, loss, 0);
		if (end_epoch) {
			s->last_loss = s->ep_loss / (double)s->ep_rows;
		}
		if (has_val(T) && (o->eval_every ? s->step % o->eval_every == 0 || s->step == T->total
		                                 : end_epoch)) {
			double vl, vm;
			T->k->evaluate(T, &vl, &vm);
			s->val_loss = vl;
			s->val_metric = vm;
			evaluated = 1;
			if (!s->have_best || better(T, vm, s->best)) {
				s->best = vm;
				s->best_step = s->step;
				s->have_best = 1;
				s->bad = 0;
				if (T->best)
					memcpy(T->best, P->data, P->n * sizeof *P->data);
			} else if (o->patience && ++s->bad >= o->patience) {
				s->stopped = 1;
			}
			if (T->sched.kind == SL_SCHED_PLATEAU)
				sl_sched_observe(&T->sched, (float)(T->maximize ? -vm : vm));
			log_event(T, "eval", lr, s->ep_loss / (double)s->ep_rows, 1);
		} else if (end_epoch && T->sched.kind == SL_SCHED_PLATEAU) {
			sl_sched_observe(&T->sched, (float)s->last_loss);
		}
		if (show && (end_epoch || evaluated)) {
			double now = sl_now();
			fprintf(stderr, "%sepoch %lld step %lld  train loss %.4f",
			        isatty(2) ? "\r\033[K" : "", (long long)((s->step - 1) / T->spe + 1),
			        (long long)s->step, s->ep_loss / (double)s->ep_rows);
			if (evaluated)
				fprintf(stderr, "  val loss %.4f", s->val_loss);
			if (evaluated && T->metric != MT_LOSS)
				fprintf(stderr, "  val %s %.4f", metric_names[T->metric], s->val_metric);
			fprintf(stderr, "  (%.2f s)%s\n", now - T->tepoch, s->stopped ? "  stopping early" : "");
			T->tepoch = now;
		} else if (show && isatty(2)) {
			status_line(T, loss);
		}
		if (end_epoch && s->step < T->total)
			s->ep_loss = 0, s->ep_rows = 0;
		if (o->checkpoint && s->step % o->checkpoint_every == 0 && s->step < T->total &&
		    !s->stopped && write_model(T, o->checkpoint, 1, argc, argv) < 0)
			return 1;
	}
	return 0;
}

/* ----------------------------------------------------------------- setup */

/* A feed-forward net: its data, task, metric, preprocessing and layers.
 * 0, or an exit status. */
static int setup_net(struct trainer *T, char **files, int nfiles,
                     const struct sl_init_spec *wspec, const struct sl_init_spec *bspec)
{
	struct opts *o = T->o;
	int rc;

	if ((rc = load(T, &T->train, files, nfiles, 1)) || (rc = settle_task(T)))
		return rc;
	if (T->feat.task == SL_TASK_CLASSIFY) {
		static const int cm[] = {MT_LOSS, MT_ACCURACY, MT_F1, MT_AUC};
		int m = lookup(metric_names, 8, o->metric ? o->metric : "accuracy"), okm = 0;
		for (size_t k = 0; k < 4; k++)
			okm |= m == cm[k];
		if (!okm)
			sl_die(2, "--metric for classification: loss, accuracy, f1 or auc, not '%s'",
			       o->metric);
		T->metric = (enum metric)m;
	} else {
		static const int rm[] = {MT_LOSS, MT_MSE, MT_RMSE, MT_MAE, MT_R2};
		int m = lookup(metric_names, 8, o->metric ? o->metric : "rmse"), okm = 0;
		for (size_t k = 0; k < 5; k++)
			okm |= m == rm[k];
		if (!okm)
			sl_die(2, "--metric for regression: loss, mse, rmse, mae or r2, not '%s'",
			       o->metric);
		T->metric = (enum metric)m;
	}
	T->maximize = T->metric == MT_ACCURACY || T->metric == MT_F1 ||
	              T->metric == MT_AUC || T->metric == MT_R2;
	preprocess(T);
	if (!o->scale && !o->standardize)
		for (int i = 0; i < T->feat.nf; i++)
			if (T->feat.f[i].type.kind == SL_VEC && T->feat.f[i].type.elem == SL_ELEM_U8)
				sl_warn("note: feature \"%s\" is u8, used as 0..255 (--scale 1/255 "
				        "maps it to [0, 1])", T->feat.f[i].name);
	if (o->val && (rc = load(T, &T->val, (char **)&o->val, 1, 0)))
		return rc;
	T->data_crc = sl_model_crc32(T->train.X, (size_t)T->train.N * T->train.D);
	if ((rc = build(T)))
		return rc;
	sl_net_init_weights(&T->net, wspec, bspec, (uint64_t)o->seed);
	T->spe = (T->train.N + o->batch - 1) / o->batch;
	T->k = &net_kind;
	T->P = &T->net.P;
	T->per_step = o->batch;
	T->run = sl_net_run_new(&T->net, (int)o->threads, (int)(o->batch > 256 ? o->batch : 256));
	T->perm = sl_xmalloc((size_t)T->train.N * sizeof *T->perm);
	if (T->val.N)
		T->vout = sl_xmalloc((size_t)T->val.N * T->net.O * sizeof *T->vout);
	T->desc = sl_net_describe(&T->net);
	sl_val_set(&T->desc, "kind", sl_val_str(model_names[o->model]));
	T->featval = sl_feat_describe_features(&T->feat);
	T->targetval = sl_feat_describe_target(&T->feat);
	T->keyname[0] = "model", T->keyval[0] = &T->desc;
	T->keyname[1] = "features", T->keyval[1] = &T->featval;
	T->keyname[2] = "target", T->keyval[2] = &T->targetval;
	T->keyname[3] = "preprocess", T->keyval[3] = &T->preval;
	T->nkeys = 4;
	return 0;
}

/* A GPT: the vocabulary, the token streams and the transformer.  0, or an
 * exit status. */
static int setup_gpt(struct trainer *T, char **files, int nfiles)
{
	struct opts *o = T->o;
	struct sl_gpt_config cfg;
	int rc;

	if (o->metric && strcmp(o->metric, "loss") != 0)
		sl_die(2, "--metric for --model gpt: loss, not '%s'", o->metric);
	T->metric = MT_LOSS;
	T->ctx = (int)o->context;
	if ((rc = load_vocab(T)) || (rc = load_tokens(T, &T->ttrain, files, nfiles)))
		return rc;
	if (T->ttrain.n < (size_t)T->ctx + 1) {
		sl_warn("%s: %zu tokens, and a window of --context %d needs %d", T->ttrain.name,
		        T->ttrain.n, T->ctx, T->ctx + 1);
		return 1;
	}
	if (o->val && (rc = load_tokens(T, &T->tval, (char **)&o->val, 1)))
		return rc;
	T->data_crc = sl_model_crc32((const float *)(const void *)T->ttrain.ids, T->ttrain.n);
	memset(&cfg, 0, sizeof cfg);
	cfg.V = (int)sl_tok_size(T->tok);
	cfg.maxT = T->ctx;
	cfg.L = (int)o->layers;
	cfg.NH = (int)o->heads;
	cfg.C = (int)o->embd;
	cfg.dropout = (float)o->dropout;
	sl_gpt_init(&T->gpt, &cfg);
	sl_gpt_init_weights(&T->gpt, (uint64_t)o->seed);
	/* an epoch: as many windows' tokens as the stream has */
	T->spe = (int64_t)((T->ttrain.n - 1 + (size_t)(o->batch * T->ctx) - 1) /
	                   (size_t)(o->batch * T->ctx));
	T->k = &gpt_kind;
	T->P = &T->gpt.P;
	T->per_step = o->batch * T->ctx;
	T->grun = sl_gpt_run_new(&T->gpt, (int)o->batch, T->ctx, (int)o->threads);
	T->bx = sl_xmalloc((size_t)o->batch * T->ctx * sizeof *T->bx);
	T->by = sl_xmalloc((size_t)o->batch * T->ctx * sizeof *T->by);
	T->desc = sl_lm_describe(&T->gpt);
	T->keyname[0] = "model", T->keyval[0] = &T->desc;
	T->keyname[1] = "vocab", T->keyval[1] = &T->vocabval;
	T->nkeys = 2;
	return 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	enum {
		O_TARGET = SL_OPT_FIRST_FREE, O_FEATURES, O_TASK, O_MODEL, O_HIDDEN, O_ACT,
		O_DROPOUT, O_CONV, O_SHAPE, O_SCALE, O_STD, O_LOSS, O_EPOCHS, O_BATCH, O_LR,
		O_OPTIM, O_MOMENTUM, O_WD, O_L1, O_L2, O_CLIP, O_SCHED, O_WARMUP, O_GAMMA,
		O_STEPEVERY, O_MINLR, O_INIT, O_BINIT, O_SEED, O_THREADS, O_VAL, O_EVALEVERY,
		O_METRIC, O_PATIENCE, O_LOG, O_LOGEVERY, O_CKPT, O_CKPTEVERY, O_RESUME,
		O_PROGRESS, O_STEPS, O_BETA1, O_BETA2, O_VOCAB, O_FIELD, O_LAYERS, O_HEADS,
		O_EMBD, O_CONTEXT, O_EVALWIN,
	};
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"target", required_argument, 0, O_TARGET},
	    {"features", required_argument, 0, O_FEATURES},
	    {"task", required_argument, 0, O_TASK},
	    {"model", required_argument, 0, O_MODEL},
	    {"hidden", required_argument, 0, O_HIDDEN},
	    {"activation", required_argument, 0, O_ACT},
	    {"dropout", required_argument, 0, O_DROPOUT},
	    {"conv", required_argument, 0, O_CONV},
	    {"shape", required_argument, 0, O_SHAPE},
	    {"scale", required_argument, 0, O_SCALE},
	    {"standardize", no_argument, 0, O_STD},
	    {"loss", required_argument, 0, O_LOSS},
	    {"epochs", required_argument, 0, O_EPOCHS},
	    {"batch", required_argument, 0, O_BATCH},
	    {"lr", required_argument, 0, O_LR},
	    {"optim", required_argument, 0, O_OPTIM},
	    {"momentum", required_argument, 0, O_MOMENTUM},
	    {"weight-decay", required_argument, 0, O_WD},
	    {"l1", required_argument, 0, O_L1},
	    {"l2", required_argument, 0, O_L2},
	    {"clip", required_argument, 0, O_CLIP},
	    {"schedule", required_argument, 0, O_SCHED},
	    {"warmup", required_argument, 0, O_WARMUP},
	    {"gamma", required_argument, 0, O_GAMMA},
	    {"step-every", required_argument, 0, O_STEPEVERY},
	    {"min-lr", required_argument, 0, O_MINLR},
	    {"init", required_argument, 0, O_INIT},
	    {"bias-init", required_argument, 0, O_BINIT},
	    {"seed", required_argument, 0, O_SEED},
	    {"threads", required_argument, 0, O_THREADS},
	    {"val", required_argument, 0, O_VAL},
	    {"eval-every", required_argument, 0, O_EVALEVERY},
	    {"metric", required_argument, 0, O_METRIC},
	    {"patience", required_argument, 0, O_PATIENCE},
	    {"log", required_argument, 0, O_LOG},
	    {"log-every", required_argument, 0, O_LOGEVERY},
	    {"checkpoint", required_argument, 0, O_CKPT},
	    {"checkpoint-every", required_argument, 0, O_CKPTEVERY},
	    {"resume", required_argument, 0, O_RESUME},
	    {"progress", no_argument, 0, O_PROGRESS},
	    {"steps", required_argument, 0, O_STEPS},
	    {"beta1", required_argument, 0, O_BETA1},
	    {"beta2", required_argument, 0, O_BETA2},
	    {"vocab", required_argument, 0, O_VOCAB},
	    {"field", required_argument, 0, O_FIELD},
	    {"layers", required_argument, 0, O_LAYERS},
	    {"heads", required_argument, 0, O_HEADS},
	    {"embd", required_argument, 0, O_EMBD},
	    {"context", required_argument, 0, O_CONTEXT},
	    {"eval-windows", required_argument, 0, O_EVALWIN},
	    {0, 0, 0, 0},
	};
	/* -1 and NULL: not given; the defaults depend on the model */
	struct opts o = {
	    .model = -1, .epochs = -1, .steps = -1, .batch = -1, .lr = -1,
	    .momentum = -1, .beta1 = -1, .beta2 = -1, .weight_decay = -1, .clip = -1,
	    .warmup = -1, .min_lr = -1, .gamma = 0.1, .step_every = 1, .log_every = 1,
	    .checkpoint_every = 0, .layers = -1, .heads = -1, .embd = -1, .context = -1,
	};
	struct trainer T;
	struct sl_init_spec wspec, bspec;
	enum sl_optim_kind ok;
	enum sl_sched_kind sk;
	int c, rc = 0, show;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	sl_init(argv[0]);
	o.threads = ncpu > 0 ? ncpu : 1;
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case O_TARGET: o.target = optarg; break;
		case O_FEATURES: o.features = optarg; break;
		case O_TASK: o.task = optarg; break;
		case O_MODEL:
			if ((o.model = lookup(model_names, NMODELS, optarg)) < 0)
				sl_die(2, "--model: linear, logistic, softmax, svm, mlp, cnn or gpt, "
				       "not '%s'", optarg);
			break;
		case O_HIDDEN: o.hidden = optarg; break;
		case O_ACT: o.activation = optarg; break;
		case O_DROPOUT: o.dropout = num_arg("dropout", optarg, 0, 0.99); break;
		case O_CONV: o.conv = optarg; break;
		case O_SHAPE: o.shape = optarg; break;
		case O_SCALE: o.scale = optarg; o.scale_factor = scale_arg(optarg); break;
		case O_STD: o.standardize = 1; break;
		case O_LOSS: o.loss = optarg; break;
		case O_EPOCHS: o.epochs = count_arg("epochs", optarg, 1); break;
		case O_BATCH: o.batch = count_arg("batch", optarg, 1); break;
		case O_LR: o.lr = num_arg("lr", optarg, 0, 1e6); break;
		case O_OPTIM: o.optim = optarg; break;
		case O_MOMENTUM: o.momentum = num_arg("momentum", optarg, 0, 1); break;
		case O_WD: o.weight_decay = num_arg("weight-decay", optarg, 0, 1e6); break;
		case O_L1: o.l1 = num_arg("l1", optarg, 0, 1e6); break;
		case O_L2: o.l2 = num_arg("l2", optarg, 0, 1e6); break;
		case O_CLIP: o.clip = num_arg("clip", optarg, 0, 1e30); break;
		case O_SCHED: o.schedule = optarg; break;
		case O_WARMUP: o.warmup = count_arg("warmup", optarg, 0); break;
		case O_GAMMA: o.gamma = num_arg("gamma", optarg, 0, 1); break;
		case O_STEPEVERY: o.step_every = count_arg("step-every", optarg, 1); break;
		case O_MINLR: o.min_lr = num_arg("min-lr", optarg, 0, 1e6); break;
		case O_INIT: o.init = optarg; break;
		case O_BINIT: o.bias_init = optarg; break;
		case O_SEED: o.seed = count_arg("seed", optarg, 0); break;
		case O_THREADS: o.threads = count_arg("threads", optarg, 1); break;
		case O_VAL: o.val = optarg; break;
		case O_EVALEVERY: o.eval_every = count_arg("eval-every", optarg, 1); break;
		case O_METRIC: o.metric = optarg; break;
		case O_PATIENCE: o.patience = count_arg("patience", optarg, 1); break;
		case O_LOG: o.log = optarg; break;
		case O_LOGEVERY: o.log_every = count_arg("log-every", optarg, 0); break;
		case O_CKPT: o.checkpoint = optarg; break;
		case O_CKPTEVERY: o.checkpoint_every = count_arg("checkpoint-every", optarg, 1); break;
		case O_RESUME: o.resume = optarg; break;
		case O_PROGRESS: o.progress = 1; break;
		case O_STEPS: o.steps = count_arg("steps", optarg, 1); break;
		case O_BETA1: o.beta1 = num_arg("beta1", optarg, 0, 0.999999); break;
		case O_BETA2: o.beta2 = num_arg("beta2", optarg, 0, 0.999999); break;
		case O_VOCAB: o.vocab = optarg; break;
		case O_FIELD: o.field = optarg; break;
		case O_LAYERS: o.layers = count_arg("layers", optarg, 1); break;
		case O_HEADS: o.heads = count_arg("heads", optarg, 1); break;
		case O_EMBD: o.embd = count_arg("embd", optarg, 1); break;
		case O_CONTEXT: o.context = count_arg("context", optarg, 1); break;
		case O_EVALWIN: o.eval_windows = count_arg("eval-windows", optarg, 1); break;
		default:
			usage(2);
			return 2;
		}
	}
	if (o.model == M_GPT) {
		static const char *const notgpt[] = {"target", "features", "task", "hidden",
		                                     "activation", "conv", "shape", "scale",
		                                     "loss", "init", "bias-init"};
		const char *given[] = {o.target, o.features, o.task, o.hidden, o.activation,
		                       o.conv, o.shape, o.scale, o.loss, o.init, o.bias_init};
		for (size_t k = 0; k < sizeof given / sizeof *given; k++)
			if (given[k])
				sl_die(2, "--%s does not apply to --model gpt", notgpt[k]);
		if (o.standardize)
			sl_die(2, "--standardize does not apply to --model gpt");
		if (!o.vocab)
			sl_die(2, "--model gpt needs --vocab VOCAB (the vocabulary the ids were "
			       "made with)");
		/* nanoGPT's Shakespeare-on-a-CPU configuration */
		if (o.layers < 0)
			o.layers = 4;
		if (o.heads < 0)
			o.heads = 4;
		if (o.embd < 0)
			o.embd = 128;
		if (o.context < 0)
			o.context = 64;
		if (o.embd % o.heads)
			sl_die(2, "--embd %lld is not a multiple of --heads %lld", o.embd, o.heads);
		if (o.layers > 1024 || o.heads > 4096 || o.embd > 65536 || o.context > 1 << 20)
			sl_die(2, "--layers, --heads, --embd or --context is too large");
		if (o.batch < 0)
			o.batch = 12;
		if (o.steps < 0 && o.epochs < 0)
			o.steps = 2000;
		if (!o.optim)
			o.optim = "adamw";
		if (o.beta1 < 0)
			o.beta1 = 0.9;
		if (o.beta2 < 0)
			o.beta2 = 0.99;
		if (!o.schedule)
			o.schedule = "cosine";
		if (o.warmup < 0)
			o.warmup = 100;
		if (o.min_lr < 0)
			o.min_lr = 1e-4;
		if (o.clip < 0)
			o.clip = 1.0;
	} else {
		if (o.vocab || o.field || o.layers >= 0 || o.heads >= 0 || o.embd >= 0 ||
		    o.context >= 0 || o.eval_windows)
			sl_die(2, "--vocab, --field, --layers, --heads, --embd, --context and "
			       "--eval-windows belong to --model gpt");
		if (!o.target)
			sl_die(2, "--target FIELD is required");
		if (o.batch < 0)
			o.batch = 128;
		if (o.steps < 0 && o.epochs < 0)
			o.epochs = 10;
		if (!o.optim)
			o.optim = "adam";
		if (!o.schedule)
			o.schedule = "constant";
		if (o.warmup < 0)
			o.warmup = 0;
		if (o.min_lr < 0)
			o.min_lr = 0;
		if (o.clip < 0)
			o.clip = 0;
	}
	if (o.steps > 0 && o.epochs > 0)
		sl_die(2, "--steps and --epochs: give one");
	if (o.scale && o.standardize)
		sl_die(2, "--scale and --standardize are two preprocessings; pick one");
	if (o.checkpoint && !o.checkpoint_every)
		sl_die(2, "--checkpoint needs --checkpoint-every N");
	if (o.checkpoint_every && !o.checkpoint)
		sl_die(2, "--checkpoint-every needs --checkpoint FILE");
	if (o.patience && !o.val)
		sl_die(2, "--patience needs --val");
	if (o.threads > 256)
		sl_die(2, "--threads: at most 256");
	if (sl_optim_parse(&ok, o.optim) < 0)
		sl_die(2, "--optim: sgd, momentum, nesterov, adam, adamw or rmsprop, not '%s'",
		       o.optim);
	if (sl_sched_parse(&sk, o.schedule) < 0)
		sl_die(2, "--schedule: constant, step, exp, cosine or plateau, not '%s'",
		       o.schedule);
	if (o.init && sl_init_parse(&wspec, o.init) < 0)
		sl_die(2, "--init: zeros, const:C, uniform:A, normal:SIGMA, xavier_uniform, "
		       "xavier_normal, he_uniform or he_normal[:GAIN], not '%s'", o.init);
	if (o.bias_init && sl_init_parse(&bspec, o.bias_init) < 0)
		sl_die(2, "--bias-init: a scheme as for --init, not '%s'", o.bias_init);
	if (!o.cli.output && isatty(1) && !o.cli.w.force)
		sl_die(2, "the model is a binary stream: give -o FILE or pipe it (-f to "
		       "force a terminal)");

	memset(&T, 0, sizeof T);
	T.o = &o;
	T.perm_epoch = -1;
	T.eot = -1;
	T.train.name = T.ttrain.name = optind < argc ? argv[optind] : "(stdin)";
	T.val.name = T.tval.name = o.val;
	sl_blas_threads(1);

	/* data and model */
	if ((rc = o.model == M_GPT ? setup_gpt(&T, argv + optind, argc - optind)
	                           : setup_net(&T, argv + optind, argc - optind,
	                                       o.init ? &wspec : NULL,
	                                       o.bias_init ? &bspec : NULL)))
		goto out;

	/* optimizer, schedule */
	sl_optim_init(&T.optim, ok);
	/* the defaults as doubles, so the model records 0.9, not 0.8999999761 */
	if (o.momentum < 0)
		o.momentum = 0.9;
	if (o.weight_decay < 0)
		o.weight_decay = ok != SL_OPTIM_ADAMW ? 0.0 : o.model == M_GPT ? 0.1 : 0.01;
	T.optim.momentum = (float)o.momentum;
	T.optim.weight_decay = (float)o.weight_decay;
	T.optim.l1 = (float)o.l1;
	T.optim.l2 = (float)o.l2;
	if (o.beta1 >= 0)
		T.optim.beta1 = (float)o.beta1;
	if (o.beta2 >= 0)
		T.optim.beta2 = (float)o.beta2;
	if (o.lr < 0)
		o.lr = ok == SL_OPTIM_ADAM || ok == SL_OPTIM_ADAMW ? 1e-3 : 1e-2;
	T.total = o.steps > 0 ? o.steps : T.spe * o.epochs;
	sl_sched_init(&T.sched, sk, (float)o.lr);
	T.sched.warmup = o.warmup;
	T.sched.every = o.step_every;
	T.sched.gamma = (float)o.gamma;
	T.sched.total = T.total;
	T.sched.min_lr = (float)o.min_lr;
	if (T.metric != MT_LOSS && T.maximize)
		T.sched.best = INFINITY; /* observe() is given -metric */
	if (o.patience)
		T.best = sl_xmalloc(T.P->n * sizeof *T.best);
	T.st.val_loss = T.st.val_metric = NAN;
	T.trainval = train_config(&T);
	T.keyname[T.nkeys] = "train";
	T.keyval[T.nkeys++] = &T.trainval;
	if (o.resume && (rc = resume(&T, o.resume)))
		goto out;
	if (o.log && (rc = open_log(&T, argc, argv)))
		goto out;

	show = o.progress || isatty(2);
	if (show && o.model == M_GPT)
		sl_warn("%zu tokens in %lld documents, vocabulary %u, gpt %lld layers, %lld "
		        "heads, %lld dims, context %d: %zu parameters, %lld steps",
		        T.ttrain.n, (long long)T.ttrain.docs, sl_tok_size(T.tok), o.layers,
		        o.heads, o.embd, T.ctx, T.P->n, (long long)T.total);
	else if (show)
		sl_warn("%lld records, %zu features, %s, %s: %zu parameters, %lld steps",
		        (long long)T.train.N, T.feat.D,
		        T.feat.task == SL_TASK_CLASSIFY ? "classification" : "regression",
		        model_names[o.model], T.P->n, (long long)T.total);
	if ((rc = loop(&T, show, argc, argv)))
		goto out;
	if (show && isatty(2) && !o.progress)
		fputs("\r\033[K", stderr);

	/* the model: the best weights when stopping early, evaluated again */
	if (T.best && T.st.have_best)
		memcpy(T.P->data, T.best, T.P->n * sizeof *T.best);
	if (has_val(&T)) {
		double vl, vm;
		T.k->evaluate(&T, &vl, &vm);
		T.st.val_loss = vl;
		T.st.val_metric = vm;
	}
	if (write_model(&T, o.cli.output, 0, argc, argv) < 0) {
		rc = 1;
		goto out;
	}
	if (T.log) {
		char *err = NULL;
		if (sl_writer_close(T.log, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
		T.log = NULL;
	}
	if (o.checkpoint)
		unlink(o.checkpoint); /* finished: nothing left to resume */
	{
		char vbuf[96] = "", what[64];
		if (has_val(&T))
			snprintf(vbuf, sizeof vbuf, ", val %s %.4f", metric_names[T.metric],
			         T.st.val_metric);
		if (o.model == M_GPT)
			snprintf(what, sizeof what, "%zu tokens", T.ttrain.n);
		else
			snprintf(what, sizeof what, "%lld records", (long long)T.train.N);
		sl_warn("%s, %lld steps%s, train loss %.4f%s", what, (long long)T.st.step,
		        T.st.stopped ? " (stopped early)" : "",
		        T.st.ep_rows ? T.st.ep_loss / (double)T.st.ep_rows : T.st.last_loss, vbuf);
	}
out:
	if (T.log)
		sl_writer_abort(T.log);
	sl_header_free(T.loghdr);
	sl_net_run_free(T.run);
	if (T.net.P.data)
		sl_net_free(&T.net);
	sl_gpt_run_free(T.grun);
	if (T.gpt.P.data)
		sl_gpt_free(&T.gpt);
	sl_tok_free(T.tok);
	sl_feat_free(&T.feat);
	data_free(&T.train);
	data_free(&T.val);
	tokens_free(&T.ttrain);
	tokens_free(&T.tval);
	free(T.bx);
	free(T.by);
	sl_val_free(&T.desc);
	sl_val_free(&T.featval);
	sl_val_free(&T.targetval);
	sl_val_free(&T.preval);
	sl_val_free(&T.trainval);
	sl_val_free(&T.vocabval);
	free(T.perm);
	free(T.best);
	free(T.vout);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-train [-f] [-o MODEL] [--zstd[=LEVEL]] --target FIELD\n"
	        "           [--features F,...] [--task classification|regression]\n"
	        "           [--model linear|logistic|softmax|svm|mlp|cnn]\n"
	        "           [--hidden N,...] [--activation relu|gelu|tanh|sigmoid]\n"
	        "           [--dropout P] [--conv N,...] [--shape C,H,W]\n"
	        "           [--scale X | --standardize] [--loss NAME]\n"
	        "           [--epochs N | --steps N] [--batch N] [--lr X] [--optim NAME]\n"
	        "           [--momentum X] [--beta1 X] [--beta2 X] [--weight-decay X]\n"
	        "           [--l1 X] [--l2 X] [--clip X]\n"
	        "           [--schedule constant|step|exp|cosine|plateau] [--warmup N]\n"
	        "           [--gamma X] [--step-every N] [--min-lr X]\n"
	        "           [--init SCHEME] [--bias-init SCHEME] [--seed N] [--threads N]\n"
	        "           [--val FILE [--eval-every N] [--metric NAME] [--patience N]]\n"
	        "           [--log FILE [--log-every N]]\n"
	        "           [--checkpoint FILE --checkpoint-every N] [--resume FILE]\n"
	        "           [--progress] [FILE ...]\n"
	        "       sluice-train [-f] [-o MODEL] [--zstd[=LEVEL]] --model gpt --vocab VOCAB\n"
	        "           [--field F] [--layers N] [--heads N] [--embd N] [--context N]\n"
	        "           [--dropout P] [--epochs N | --steps N] [--batch N]\n"
	        "           [optimizer and schedule options as above] [--seed N] [--threads N]\n"
	        "           [--val FILE [--eval-every N] [--eval-windows N] [--patience N]]\n"
	        "           [--log FILE [--log-every N]]\n"
	        "           [--checkpoint FILE --checkpoint-every N] [--resume FILE]\n"
	        "           [--progress] [FILE ...]\n");
}
