/*
 * evaluate.c - sluice-evaluate: score a model on a labelled stream.
 *
 * The model predicts every record (as sluice-predict would) and the
 * predictions are held against the target field:
 *
 *   classification   accuracy; precision, recall, F1, support and ROC AUC
 *                    (one-vs-rest) per class, with macro and weighted
 *                    averages; log loss (not for an SVM's margins); the
 *                    confusion matrix
 *   regression       MSE, RMSE, MAE, R^2
 *   language model   the mean next-token loss (nats per token), perplexity
 *                    and bits per byte, over non-overlapping windows of
 *                    the model's context (lib/lm.c)
 *
 * with scikit-learn's definitions (lib/metrics.c).  The result is a
 * metrics stream, one record per number: {metric, class, predicted,
 * value}, class and predicted naming the labels of per-class numbers and
 * of confusion-matrix cells.  On a terminal, or with --report, a readable
 * report is printed instead (and the stream still goes to -o FILE).
 *
 * A language model reads token ids (--field, default "ids": what
 * sluice-tokenize --apply writes with the model's vocabulary) or raw text
 * (a str field, default "text" when there are no ids), which it encodes
 * with the vocabulary the model file keeps.  Documents are joined with the
 * end-of-text token between them, as in training.
 *
 * Memory: the true class and the K class scores of every record (4 + 4K
 * bytes), or its O target and O predicted values; plus one batch.  For a
 * language model, 4 bytes per token.
 */
#include "sluice.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evaluate/svg.h"

struct opts {
	struct sl_cli cli;
	long long batch, threads;
	int batch_given, progress;
	const char *field; /* language models */
	int report;
	const char *svg_confusion, *svg_roc, *svg_curves, *log;
};

/* Everything gathered from the input. */
struct results {
	int64_t n, cap;
	int32_t *y;     /* classification: true classes */
	float *scores;  /* (n,K) */
	float *vals;    /* regression: targets (n,O) */
	float *pred;    /* regression: predictions (n,O) */
};

static void usage(int status);

static void grow(struct results *R, int K, int O)
{
	if (R->n < R->cap)
		return;
	R->cap = R->cap ? 2 * R->cap : 4096;
	if (K) {
		R->y = sl_xrealloc(R->y, (size_t)R->cap * sizeof *R->y);
		R->scores = sl_xrealloc(R->scores, (size_t)R->cap * K * sizeof *R->scores);
	} else {
		R->vals = sl_xrealloc(R->vals, (size_t)R->cap * O * sizeof *R->vals);
		R->pred = sl_xrealloc(R->pred, (size_t)R->cap * O * sizeof *R->pred);
	}
}

/* --------------------------------------------------------- the stream */

enum { F_METRIC, F_CLASS, F_PREDICTED, F_VALUE, NF };

static int put(struct sl_writer *w, const char *metric, const char *cls,
               const char *pred, double value)
{
	struct sl_value v[NF];

	v[F_METRIC].kind = SL_STR;
	v[F_METRIC].u.s.p = metric;
	v[F_METRIC].u.s.n = strlen(metric);
	v[F_CLASS].kind = cls ? SL_STR : SL_NIL;
	v[F_CLASS].u.s.p = cls;
	v[F_CLASS].u.s.n = cls ? strlen(cls) : 0;
	v[F_PREDICTED].kind = pred ? SL_STR : SL_NIL;
	v[F_PREDICTED].u.s.p = pred;
	v[F_PREDICTED].u.s.n = pred ? strlen(pred) : 0;
	v[F_VALUE].kind = SL_FLOAT;
	v[F_VALUE].u.f = value;
	return sl_write_record(w, v, NF);
}

static int write_classify(struct sl_writer *w, const struct sl_cls_metrics *m,
                          char **labels)
{
	int K = m->K, rc = 0;

	rc |= put(w, "records", NULL, NULL, (double)m->n);
	rc |= put(w, "accuracy", NULL, NULL, m->accuracy);
	if (!isnan(m->log_loss))
		rc |= put(w, "log_loss", NULL, NULL, m->log_loss);
	rc |= put(w, "precision_macro", NULL, NULL, m->macro_precision);
	rc |= put(w, "recall_macro", NULL, NULL, m->macro_recall);
	rc |= put(w, "f1_macro", NULL, NULL, m->macro_f1);
	rc |= put(w, "precision_weighted", NULL, NULL, m->weighted_precision);
	rc |= put(w, "recall_weighted", NULL, NULL, m->weighted_recall);
	rc |= put(w, "f1_weighted", NULL, NULL, m->weighted_f1);
	if (K == 2) {
		rc |= put(w, "auc", NULL, NULL, m->auc_macro);
	} else {
		rc |= put(w, "auc_macro", NULL, NULL, m->auc_macro);
		rc |= put(w, "auc_weighted", NULL, NULL, m->auc_weighted);
	}
	for (int k = 0; k < K; k++) {
		rc |= put(w, "precision", labels[k], NULL, m->precision[k]);
		rc |= put(w, "recall", labels[k], NULL, m->recall[k]);
		rc |= put(w, "f1", labels[k], NULL, m->f1[k]);
		rc |= put(w, "support", labels[k], NULL, (double)m->support[k]);
		rc |= put(w, "auc", labels[k], NULL, m->auc[k]);
	}
	for (int t = 0; t < K; t++)
		for (int p = 0; p < K; p++)
			rc |= put(w, "confusion", labels[t], labels[p],
			          (double)m->confusion[(size_t)t * K + p]);
	return rc ? -1 : 0;
}

static int write_regress(struct sl_writer *w, const struct sl_reg_metrics *m,
                         int64_t n)
{
	int rc = 0;

	rc |= put(w, "records", NULL, NULL, (double)n);
	rc |= put(w, "mse", NULL, NULL, m->mse);
	rc |= put(w, "rmse", NULL, NULL, m->rmse);
	rc |= put(w, "mae", NULL, NULL, m->mae);
	rc |= put(w, "r2", NULL, NULL, m->r2);
	return rc ? -1 : 0;
}

/* --------------------------------------------------------- the report */

static void report_classify(FILE *f, const struct sl_cls_metrics *m, char **labels)
{
	int K = m->K, wl = 12, wc = 6;

	for (int k = 0; k < K; k++) {
		int len = (int)strlen(labels[k]);
		if (len > wl)
			wl = len > 24 ? 24 : len;
		if (len + 1 > wc)
			wc = len + 1 > 12 ? 12 : len + 1;
	}
	for (int k = 0; k < K; k++)
		for (int j = 0; j < K; j++) {
			char num[32];
			int len = snprintf(num, sizeof num, "%lld",
			                   (long long)m->confusion[(size_t)k * K + j]);
			if (len + 1 > wc)
				wc = len + 1;
		}
	fprintf(f, "%-*s %9s %9s %9s %9s %9s\n", wl, "class", "precision", "recall",
	        "f1-score", "support", "auc");
	for (int k = 0; k < K; k++) {
		fprintf(f, "%-*.*s %9.4f %9.4f %9.4f %9lld", wl, wl, labels[k], m->precision[k],
		        m->recall[k], m->f1[k], (long long)m->support[k]);
		if (isnan(m->auc[k]))
			fprintf(f, " %9s\n", "-");
		else
			fprintf(f, " %9.4f\n", m->auc[k]);
	}
	fputc('\n', f);
	fprintf(f, "%-*s %9s %9s %9.4f %9lld\n", wl, "accuracy", "", "", m->accuracy,
	        (long long)m->n);
	fprintf(f, "%-*s %9.4f %9.4f %9.4f %9lld", wl, "macro avg", m->macro_precision,
	        m->macro_recall, m->macro_f1, (long long)m->n);
	if (isnan(m->auc_macro))
		fprintf(f, " %9s\n", "-");
	else
		fprintf(f, " %9.4f\n", m->auc_macro);
	fprintf(f, "%-*s %9.4f %9.4f %9.4f %9lld", wl, "weighted avg",
	        m->weighted_precision, m->weighted_recall, m->weighted_f1, (long long)m->n);
	if (isnan(m->auc_weighted))
		fprintf(f, " %9s\n", "-");
	else
		fprintf(f, " %9.4f\n", m->auc_weighted);
	if (!isnan(m->log_loss))
		fprintf(f, "\nlog loss %.4f\n", m->log_loss);
	fprintf(f, "\nconfusion matrix (rows: true class, columns: predicted)\n");
	fprintf(f, "%-*s", wl, "");
	for (int j = 0; j < K; j++)
		fprintf(f, "%*.*s", wc, wc - 1, labels[j]);
	fputc('\n', f);
	for (int k = 0; k < K; k++) {
		fprintf(f, "%-*.*s", wl, wl, labels[k]);
		for (int j = 0; j < K; j++)
			fprintf(f, "%*lld", wc, (long long)m->confusion[(size_t)k * K + j]);
		fputc('\n', f);
	}
}

static void report_regress(FILE *f, const struct sl_reg_metrics *m, int64_t n)
{
	fprintf(f, "records %lld\nmse     %.6g\nrmse    %.6g\nmae     %.6g\nr2      %.6f\n",
	        (long long)n, m->mse, m->rmse, m->mae, m->r2);
}

/* ------------------------------------------------------ language models */

/* A language model's input: every record's token ids (or text, encoded
 * with the model's vocabulary) joined by end-of-text. */
struct lmtext {
	int32_t *ids;
	size_t n, cap;
	int64_t docs;
	uint32_t *enc; /* encoding scratch */
	size_t nenc, capenc;
};

static void lm_push(struct lmtext *t, int32_t id)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 65536;
		t->ids = sl_xrealloc(t->ids, t->cap * sizeof *t->ids);
	}
	t->ids[t->n++] = id;
}

/* One record's field v (ids or text) onto t; -1 with the reason in why. */
static int lm_record(struct sl_lm *lm, struct lmtext *t, const struct sl_value *v,
                     enum sl_elem elem, char *why, size_t cap)
{
	uint32_t V = sl_tok_size(lm->tok);

	if (v->kind == SL_NIL) {
		snprintf(why, cap, "missing");
		return -1;
	}
	if (t->docs++ && lm->eot >= 0)
		lm_push(t, lm->eot);
	if (v->kind == SL_STR) {
		size_t bad;
		t->nenc = 0;
		if (sl_tok_encode(lm->tok, v->u.s.p, v->u.s.n, &t->enc, &t->nenc, &t->capenc,
		                  &bad) < 0) {
			snprintf(why, cap, "byte %zu: a character the model's vocabulary lacks", bad);
			return -1;
		}
		for (size_t k = 0; k < t->nenc; k++)
			lm_push(t, (int32_t)t->enc[k]);
		return 0;
	}
	for (size_t k = 0; k < v->u.s.n / sl_elem_size(elem); k++) {
		int64_t id = (int64_t)sl_vec_get(elem, v->u.s.p, k); /* u16 or i32: exact */
		if (id < 0 || id >= (int64_t)V) {
			snprintf(why, cap, "id %lld at %zu is not in the model's vocabulary (%u "
			         "tokens)", (long long)id, k, V);
			return -1;
		}
		lm_push(t, (int32_t)id);
	}
	return 0;
}

/* Which field a header offers: --field, else "ids", else "text".  Its
 * index, with its element type in *elem (SL_ELEM_NONE for text); -1 with a
 * message. */
static int lm_field(const struct sl_header *h, const char *want, enum sl_elem *elem,
                    const char *name)
{
	int fi = want ? sl_header_find(h, want) : sl_header_find(h, "ids");
	const char *fname;
	char tn[32];
	struct sl_type t;

	if (!want && fi < 0)
		fi = sl_header_find(h, "text");
	if (fi < 0) {
		if (want)
			sl_warn("%s: no field \"%s\"", name, want);
		else
			sl_warn("%s: neither \"ids\" nor \"text\" (--field names the field)", name);
		return -1;
	}
	t = h->fields[fi].type;
	fname = h->fields[fi].name;
	*elem = t.kind == SL_VEC ? t.elem : SL_ELEM_NONE;
	if (t.kind == SL_STR || (t.kind == SL_VEC && (t.elem == SL_ELEM_U16 || t.elem == SL_ELEM_I32)))
		return fi;
	sl_type_format(t, tn, sizeof tn);
	sl_warn("%s: field \"%s\" is %s, not text (str) or token ids (u16[], i32[])", name,
	        fname, tn);
	return -1;
}

/* The bytes ids decode to, the end-of-text markers left out. */
static int64_t lm_bytes(const struct sl_lm *lm, const int32_t *ids, size_t n)
{
	int64_t bytes = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p;
		size_t len;
		if (ids[i] == lm->eot)
			continue;
		sl_tok_bytes(lm->tok, (uint32_t)ids[i], &p, &len);
		bytes += (int64_t)len;
	}
	return bytes;
}

/* Evaluates a language model on the inputs: the mean next-token loss,
 * perplexity and bits per byte over non-overlapping windows of its
 * context.  Returns the exit status. */
static int lm_main(const struct opts *o, struct sl_lm *lm, const char *model_path,
                   char **files, int nin, int argc, char **argv)
{
	struct lmtext t = {0};
	struct sl_gpt_run *run;
	char why[256];
	int rc = 0, have_header = 0;
	int B = o->batch_given ? (int)(o->batch < 4096 ? o->batch : 4096) : 16;
	size_t scored = 0;
	double nats, loss, ppl, bpb;
	int64_t bytes;
	const char *in = nin ? files[0] : "(stdin)";

	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? files[a] : NULL);
		enum sl_elem elem = SL_ELEM_NONE;
		int ev, fi = -1;
		while ((ev = sl_read(r)) > 0) {
			if (ev == SL_HEADER) {
				if ((fi = lm_field(sl_reader_header(r), o->field, &elem,
				                   sl_reader_name(r))) < 0) {
					rc = 1;
					break;
				}
				have_header = 1;
				continue;
			}
			if (lm_record(lm, &t, sl_reader_values(r) + fi, elem, why, sizeof why) < 0) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r),
				        sl_reader_header(r)->fields[fi].name, why);
				rc = 1;
				break;
			}
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	free(t.enc);
	if (!rc && !have_header) {
		sl_warn("%s: no input header", in);
		rc = 1;
	} else if (!rc && t.n < 2) {
		sl_warn("%s: %zu tokens: nothing to predict", in, t.n);
		rc = 1;
	}
	if (rc) {
		free(t.ids);
		return rc;
	}

	sl_blas_threads(1);
	run = sl_gpt_run_new(&lm->gpt, B, lm->ctx, (int)o->threads);
	{
		/* in pieces of 16 batches of windows, for the progress line: a
		 * piece starts on a window's first token, so the windows are the
		 * same as in one go */
		size_t piece = (size_t)16 * B * lm->ctx;
		struct sl_progress prog;
		nats = 0;
		sl_progress_start(&prog, "tokens", t.n - 1, o->progress);
		for (size_t at = 0; at + 1 < t.n; at += piece) {
			size_t m = t.n - at < piece + 1 ? t.n - at : piece + 1, k;
			nats += sl_lm_nll(run, B, lm->ctx, t.ids + at, m, 0, &k);
			scored += k;
			sl_progress_update(&prog, scored);
		}
		sl_progress_end(&prog, scored);
	}
	sl_gpt_run_free(run);
	bytes = lm_bytes(lm, t.ids + 1, t.n - 1);
	loss = nats / (double)scored;
	ppl = exp(loss);
	bpb = bytes ? nats / log(2.0) / (double)bytes : NAN;

	if (o->report) {
		printf("%s on %s: %lld documents, %zu tokens, language model (context %d)\n\n",
		       model_path, in, (long long)t.docs, t.n, lm->ctx);
		printf("tokens scored  %zu\nbytes          %lld\nloss           %.6f nats/token\n"
		       "perplexity     %.6g\nbits per byte  %.6f\n",
		       scored, (long long)bytes, loss, ppl, bpb);
	}
	if (!o->report || o->cli.output) {
		struct sl_header *h = sl_header_new();
		struct sl_type ts = {SL_STR, 0, 0}, tf = {SL_FLOAT, 0, 0};
		struct sl_writer *w;
		char *werr = NULL;
		int wrc = 0;
		sl_header_add(h, "metric", ts);
		sl_header_add(h, "class", ts);
		sl_header_add(h, "predicted", ts);
		sl_header_add(h, "value", tf);
		sl_val_set(&h->meta, "model", sl_val_str(model_path));
		sl_val_set(&h->meta, "task", sl_val_str("language-model"));
		sl_header_lineage(h, argc, argv);
		w = sl_writer_open(o->cli.output, &o->cli.w);
		if (!sl_writer_error(w) && sl_write_header(w, h) == 0) {
			wrc |= put(w, "documents", NULL, NULL, (double)t.docs);
			wrc |= put(w, "tokens", NULL, NULL, (double)scored);
			wrc |= put(w, "bytes", NULL, NULL, (double)bytes);
			wrc |= put(w, "loss", NULL, NULL, loss);
			wrc |= put(w, "perplexity", NULL, NULL, ppl);
			wrc |= put(w, "bits_per_byte", NULL, NULL, bpb);
		}
		if (sl_writer_error(w) || wrc) {
			sl_warn("%s", sl_writer_error(w));
			sl_writer_abort(w);
			rc = 1;
		} else if (sl_writer_close(w, &werr) < 0) {
			sl_warn("%s", werr);
			free(werr);
			rc = 1;
		}
		sl_header_free(h);
	}
	if (o->svg_confusion || o->svg_roc)
		sl_warn("note: --svg-confusion and --svg-roc are for classifiers");
	free(t.ids);
	if (fflush(stdout) == EOF) {
		sl_warn("write error on stdout");
		rc = 1;
	}
	return rc;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	enum {
		O_BATCH = SL_OPT_FIRST_FREE, O_THREADS, O_REPORT, O_SVGCONF, O_SVGROC,
		O_SVGCURVES, O_LOG, O_FIELD, O_PROGRESS,
	};
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"batch", required_argument, 0, O_BATCH},
	    {"threads", required_argument, 0, O_THREADS},
	    {"report", no_argument, 0, O_REPORT},
	    {"svg-confusion", required_argument, 0, O_SVGCONF},
	    {"svg-roc", required_argument, 0, O_SVGROC},
	    {"svg-curves", required_argument, 0, O_SVGCURVES},
	    {"log", required_argument, 0, O_LOG},
	    {"field", required_argument, 0, O_FIELD},
	    {"progress", no_argument, 0, O_PROGRESS},
	    {0, 0, 0, 0},
	};
	struct opts o = {.batch = 1024};
	struct sl_loaded L;
	struct sl_net_run *run;
	struct results R = {0};
	float *X, *out;
	struct sl_buf tmp = {0};
	char err[600];
	int c, rc = 0, nin, K, O, nb = 0, have_header = 0;
	int32_t *ycls;
	float *yval;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const char *model_path;

	sl_init(argv[0]);
	o.threads = ncpu > 0 ? ncpu : 1;
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case O_BATCH:
			if ((o.batch = sl_parse_count(optarg)) < 1 || o.batch > (1 << 20))
				sl_die(2, "--batch: 1 to 1048576 records, not '%s'", optarg);
			o.batch_given = 1;
			break;
		case O_THREADS:
			if ((o.threads = sl_parse_count(optarg)) < 1 || o.threads > 256)
				sl_die(2, "--threads: 1 to 256, not '%s'", optarg);
			break;
		case O_REPORT: o.report = 1; break;
		case O_SVGCONF: o.svg_confusion = optarg; break;
		case O_SVGROC: o.svg_roc = optarg; break;
		case O_SVGCURVES: o.svg_curves = optarg; break;
		case O_LOG: o.log = optarg; break;
		case O_FIELD: o.field = optarg; break;
		case O_PROGRESS: o.progress = 1; break;
		default:
			usage(2);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(2);
		return 2;
	}
	if (!!o.svg_curves != !!o.log)
		sl_die(2, "--svg-curves FILE and --log LOG go together");
	if (o.log) { /* training curves need no model or data */
		if (svg_curves(o.svg_curves, o.log, err, sizeof err) < 0) {
			sl_warn("%s", err);
			return 1;
		}
	}
	if (!o.report && !o.cli.output && isatty(1))
		o.report = 1;
	model_path = argv[optind++];
	nin = argc - optind;
	{
		struct sl_lm lm;
		int k = sl_lm_load(&lm, model_path, err, sizeof err);
		if (k == 0) {
			rc = lm_main(&o, &lm, model_path, argv + optind, nin, argc, argv);
			sl_lm_free(&lm);
			return rc;
		}
		if (k == -1) {
			sl_warn("%s", err);
			return 1;
		}
	}
	if (o.field)
		sl_die(2, "--field is for language models; %s reads its features by name",
		       model_path);
	if (sl_loaded_open(&L, model_path, err, sizeof err) < 0) {
		sl_warn("%s", err);
		return 1;
	}
	K = L.feat.task == SL_TASK_CLASSIFY ? sl_net_classes(&L.net) : 0;
	O = L.net.O;
	sl_blas_threads(1);
	run = sl_net_run_new(&L.net, (int)o.threads, (int)o.batch);
	X = sl_xmalloc((size_t)o.batch * L.feat.D * sizeof *X);
	out = sl_xmalloc((size_t)o.batch * O * sizeof *out);
	ycls = sl_xmalloc((size_t)o.batch * sizeof *ycls);
	yval = sl_xmalloc((size_t)o.batch * L.feat.O * sizeof *yval + 1);

	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
		int ev;
		for (;;) {
			const char *field, *why;
			const struct sl_value *v;
			ev = sl_read(r);
			if (ev == SL_RECORD) {
				v = sl_reader_values(r);
				if (sl_feat_row(&L.feat, v, X + (size_t)nb * L.feat.D, &field, &why) < 0 ||
				    (field = L.feat.target,
				     sl_feat_target(&L.feat, v, &tmp, ycls + nb,
				                    yval + (size_t)nb * (L.feat.O ? L.feat.O : 1),
				                    &why) < 0)) {
					sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
					        (unsigned long long)sl_reader_recno(r), field, why);
					rc = 1;
					break;
				}
				nb++;
			}
			if (nb && (nb == o.batch || ev != SL_RECORD)) {
				/* predict the batch, keep what the metrics need */
				sl_net_run_predict(run, X, nb, out);
				for (int i = 0; i < nb; i++) {
					grow(&R, K, O);
					if (K) {
						R.y[R.n] = ycls[i];
						sl_net_scores(&L.net, out + (size_t)i * O,
						              R.scores + (size_t)R.n * K, 1);
					} else {
						memcpy(R.vals + (size_t)R.n * O, yval + (size_t)i * O,
						       (size_t)O * sizeof *yval);
						memcpy(R.pred + (size_t)R.n * O, out + (size_t)i * O,
						       (size_t)O * sizeof *out);
					}
					R.n++;
				}
				nb = 0;
			}
			if (ev == SL_HEADER) {
				if (sl_feat_bind(&L.feat, sl_reader_header(r), 1, err, sizeof err) < 0) {
					sl_warn("%s: %s", sl_reader_name(r), err);
					rc = 1;
					break;
				}
				have_header = 1;
			}
			if (ev != SL_RECORD && ev != SL_HEADER)
				break;
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	if (!rc && !have_header) {
		sl_warn("%s: no input header", nin ? argv[optind] : "(stdin)");
		rc = 1;
	} else if (!rc && R.n == 0) {
		sl_warn("%s: no records to evaluate on", nin ? argv[optind] : "(stdin)");
		rc = 1;
	}

	if (!rc) {
		struct sl_cls_metrics cm;
		struct sl_reg_metrics rm;
		struct sl_writer *w = NULL;
		if (K)
			sl_metrics_classify(&cm, R.y, R.scores, K, R.n, L.net.loss != SL_LOSS_HINGE);
		else
			sl_metrics_regress(&rm, R.vals, R.pred, R.n, O);
		if (o.report) {
			printf("%s on %s: %lld records, %s\n\n", model_path,
			       nin ? argv[optind] : "(stdin)", (long long)R.n,
			       K ? "classification" : "regression");
			if (K)
				report_classify(stdout, &cm, L.feat.classes);
			else
				report_regress(stdout, &rm, R.n);
		}
		if (!o.report || o.cli.output) {
			struct sl_header *h = sl_header_new();
			struct sl_type ts = {SL_STR, 0, 0}, tf = {SL_FLOAT, 0, 0};
			char *werr = NULL;
			sl_header_add(h, "metric", ts);
			sl_header_add(h, "class", ts);
			sl_header_add(h, "predicted", ts);
			sl_header_add(h, "value", tf);
			sl_val_set(&h->meta, "model", sl_val_str(model_path));
			sl_val_set(&h->meta, "task", sl_val_str(K ? "classification" : "regression"));
			sl_header_lineage(h, argc, argv);
			w = sl_writer_open(o.cli.output, &o.cli.w);
			if (sl_writer_error(w) || sl_write_header(w, h) < 0 ||
			    (K ? write_classify(w, &cm, L.feat.classes) : write_regress(w, &rm, R.n)) < 0) {
				sl_warn("%s", sl_writer_error(w));
				sl_writer_abort(w);
				rc = 1;
			} else if (sl_writer_close(w, &werr) < 0) {
				sl_warn("%s", werr);
				free(werr);
				rc = 1;
			}
			sl_header_free(h);
		}
		if (!rc && K && o.svg_confusion &&
		    svg_confusion(o.svg_confusion, &cm, L.feat.classes, err, sizeof err) < 0) {
			sl_warn("%s", err);
			rc = 1;
		}
		if (!rc && K && o.svg_roc &&
		    svg_roc(o.svg_roc, R.y, R.scores, K, R.n, &cm, L.feat.classes, err,
		            sizeof err) < 0) {
			sl_warn("%s", err);
			rc = 1;
		}
		if (!rc && !K && (o.svg_confusion || o.svg_roc))
			sl_warn("note: --svg-confusion and --svg-roc are for classifiers");
		if (K)
			sl_cls_metrics_free(&cm);
	}
	if (!o.report && fflush(stdout) == EOF)
		rc = 1;
	sl_net_run_free(run);
	sl_loaded_free(&L);
	free(X);
	free(out);
	free(ycls);
	free(yval);
	free(R.y);
	free(R.scores);
	free(R.vals);
	free(R.pred);
	sl_buf_free(&tmp);
	if (o.report && fflush(stdout) == EOF) {
		sl_warn("write error on stdout");
		rc = 1;
	}
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-evaluate [-f] [-o FILE] [--zstd[=LEVEL]] [--report]\n"
	        "           [--batch N] [--threads N] [--svg-confusion FILE]\n"
	        "           [--svg-roc FILE] [--svg-curves FILE --log LOG] [--field F]\n"
	        "           [--progress]\n"
	        "           MODEL [FILE ...]\n");
}
