/*
 * predict.c - sluice-predict: apply a model to a stream, adding its
 * predictions to every record.
 *
 * Each record passes through unchanged, followed by new fields:
 *
 *   classification   NAME       the predicted class, in the target's type
 *                    NAME_prob  f32[K], the class probabilities (softmax,
 *                               or 1 - p, p for a logistic model), or
 *                    NAME_score f32[K], the margins of a linear SVM
 *   regression       NAME       float, or f32[O] for a vector target
 *
 * NAME is "pred" unless --name says otherwise.  The model reads its
 * features by name, so the input may carry other fields in any order; the
 * target need not be there.  Records are read in batches of --batch, run
 * through the network on --threads workers, and written in input order.
 *
 * Memory: one batch of records (their encoded bytes and feature rows) and
 * the model.
 */
#include "sluice.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	struct sl_cli cli;
	const char *name;
	long long batch, threads;
	int no_probs;
};

/* One batch: the records' bytes and rows, and the class labels as values. */
struct batch {
	struct sl_buf raw;
	size_t *off, *len;
	float *X, *out, *scores;
	int n, cap;
};

struct ctx {
	struct opts *o;
	struct sl_loaded L;
	struct sl_net_run *run;
	struct sl_writer *w;
	struct sl_header *in, *out;
	struct sl_value *labels; /* K class labels as values of the target's type */
	int64_t *ilabels;
	int K, nextra;
	int64_t nrec;
};

static void usage(int status);

/* Adds the prediction fields to a copy of the input header. */
static int out_header(struct ctx *c, const struct sl_header *h, int argc,
                      char **argv)
{
	const struct sl_feat *f = &c->L.feat;
	const struct sl_net *net = &c->L.net;
	char name[512];
	struct sl_type t;
	int bad;

	sl_header_free(c->out);
	c->out = sl_header_copy(h);
	if (f->task == SL_TASK_CLASSIFY) {
		t = f->ttype;
		bad = sl_header_add(c->out, c->o->name, t) < 0;
		c->nextra = 1;
		if (!c->o->no_probs && !bad) {
			snprintf(name, sizeof name, "%s_%s", c->o->name,
			         net->loss == SL_LOSS_HINGE ? "score" : "prob");
			t.kind = SL_VEC, t.elem = SL_ELEM_F32, t.len = (uint32_t)c->K;
			bad = sl_header_add(c->out, name, t) < 0;
			c->nextra = 2;
		}
	} else {
		t.kind = f->O > 1 ? SL_VEC : SL_FLOAT;
		t.elem = f->O > 1 ? SL_ELEM_F32 : SL_ELEM_NONE;
		t.len = f->O > 1 ? (uint32_t)f->O : 0;
		bad = sl_header_add(c->out, c->o->name, t) < 0;
		c->nextra = 1;
	}
	if (bad) {
		sl_warn("the input already has a field \"%s\" (or \"%s_...\"): choose "
		        "another --name", c->o->name, c->o->name);
		return 1;
	}
	sl_header_lineage(c->out, argc, argv);
	return 0;
}

/* Runs the batch and writes its records with their predictions. */
static int flush(struct ctx *c, struct batch *b)
{
	const struct sl_net *net = &c->L.net;
	const struct sl_feat *f = &c->L.feat;
	struct sl_value extra[2];

	if (!b->n)
		return 0;
	sl_net_run_predict(c->run, b->X, b->n, b->out);
	if (f->task == SL_TASK_CLASSIFY)
		sl_net_scores(net, b->out, b->scores, b->n);
	for (int i = 0; i < b->n; i++) {
		if (f->task == SL_TASK_CLASSIFY) {
			const float *s = b->scores + (size_t)i * c->K;
			int best = 0;
			for (int k = 1; k < c->K; k++)
				if (s[k] > s[best])
					best = k;
			extra[0] = c->labels[best];
			extra[1].kind = SL_VEC;
			extra[1].u.s.p = (const char *)s;
			extra[1].u.s.n = (size_t)c->K * sizeof *s;
		} else if (f->O == 1) {
			extra[0].kind = SL_FLOAT;
			extra[0].u.f = b->out[i];
		} else {
			extra[0].kind = SL_VEC;
			extra[0].u.s.p = (const char *)(b->out + (size_t)i * f->O);
			extra[0].u.s.n = (size_t)f->O * sizeof(float);
		}
		if (sl_write_raw_append(c->w, b->raw.p + b->off[i], b->len[i], extra,
		                        (size_t)c->nextra) < 0)
			return 1;
	}
	b->n = 0;
	b->raw.n = 0;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_NAME = SL_OPT_FIRST_FREE, O_BATCH, O_THREADS, O_NOPROBS };
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"name", required_argument, 0, O_NAME},
	    {"batch", required_argument, 0, O_BATCH},
	    {"threads", required_argument, 0, O_THREADS},
	    {"no-probs", no_argument, 0, O_NOPROBS},
	    {0, 0, 0, 0},
	};
	struct opts o = {.name = "pred", .batch = 256};
	struct ctx c;
	struct batch b = {0};
	char err[600];
	int ch, rc = 0, nin;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	sl_init(argv[0]);
	o.threads = ncpu > 0 ? ncpu : 1;
	while ((ch = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, ch, optarg, usage))
			continue;
		switch (ch) {
		case O_NAME:
			if (!*optarg)
				sl_die(2, "--name: an empty name");
			o.name = optarg;
			break;
		case O_BATCH:
			if ((o.batch = sl_parse_count(optarg)) < 1 || o.batch > (1 << 20))
				sl_die(2, "--batch: 1 to 1048576 records, not '%s'", optarg);
			break;
		case O_THREADS:
			if ((o.threads = sl_parse_count(optarg)) < 1 || o.threads > 256)
				sl_die(2, "--threads: 1 to 256, not '%s'", optarg);
			break;
		case O_NOPROBS: o.no_probs = 1; break;
		default:
			usage(2);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(2);
		return 2;
	}
	memset(&c, 0, sizeof c);
	c.o = &o;
	if (sl_loaded_open(&c.L, argv[optind], err, sizeof err) < 0) {
		struct sl_lm lm;
		char lmerr[600];
		if (sl_lm_load(&lm, argv[optind], lmerr, sizeof lmerr) == 0) {
			sl_lm_free(&lm);
			sl_warn("%s: a language model: sluice-generate continues text with it, "
			        "sluice-evaluate scores it", argv[optind]);
		} else {
			sl_warn("%s", err);
		}
		return 1;
	}
	optind++;
	nin = argc - optind;
	sl_blas_threads(1);
	c.run = sl_net_run_new(&c.L.net, (int)o.threads, (int)o.batch);
	c.K = sl_net_classes(&c.L.net);
	if (c.L.feat.task == SL_TASK_CLASSIFY) {
		c.labels = sl_xcalloc((size_t)c.K, sizeof *c.labels);
		for (int k = 0; k < c.K; k++) {
			const char *t = c.L.feat.classes[k];
			switch (c.L.feat.ttype.kind) {
			case SL_INT:
				c.labels[k].kind = SL_INT;
				c.labels[k].u.i = strtoll(t, NULL, 10);
				break;
			case SL_BOOL:
				c.labels[k].kind = SL_BOOL;
				c.labels[k].u.b = strcmp(t, "true") == 0;
				break;
			default:
				c.labels[k].kind = SL_STR;
				c.labels[k].u.s.p = t;
				c.labels[k].u.s.n = strlen(t);
			}
		}
	}
	b.cap = (int)o.batch;
	b.off = sl_xmalloc((size_t)b.cap * sizeof *b.off);
	b.len = sl_xmalloc((size_t)b.cap * sizeof *b.len);
	b.X = sl_xmalloc((size_t)b.cap * c.L.feat.D * sizeof *b.X);
	b.out = sl_xmalloc((size_t)b.cap * c.L.net.O * sizeof *b.out);
	b.scores = sl_xmalloc((size_t)b.cap * (c.K ? c.K : 1) * sizeof *b.scores);

	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const char *field, *why;
			const void *raw;
			size_t rawn;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if ((rc = flush(&c, &b)))
					break;
				if (c.in && sl_header_same_fields(c.in, h))
					continue;
				if (sl_feat_bind(&c.L.feat, h, 0, err, sizeof err) < 0) {
					sl_warn("%s: %s", sl_reader_name(r), err);
					rc = 1;
					break;
				}
				sl_header_free(c.in);
				c.in = sl_header_copy(h);
				if ((rc = out_header(&c, h, argc, argv)))
					break;
				if (!c.w) {
					c.w = sl_writer_open(o.cli.output, &o.cli.w);
					if (sl_writer_error(c.w)) {
						rc = 1;
						break;
					}
				}
				if (sl_write_header(c.w, c.out) < 0) {
					rc = 1;
					break;
				}
				continue;
			}
			if (sl_feat_row(&c.L.feat, sl_reader_values(r),
			                b.X + (size_t)b.n * c.L.feat.D, &field, &why) < 0) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), field, why);
				rc = 1;
				break;
			}
			sl_reader_raw(r, &raw, &rawn);
			b.off[b.n] = b.raw.n;
			b.len[b.n] = rawn;
			sl_buf_put(&b.raw, raw, rawn);
			b.n++;
			c.nrec++;
			if (b.n == b.cap && (rc = flush(&c, &b)))
				break;
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	if (!rc && c.w)
		rc = flush(&c, &b);
	if (c.w) {
		char *werr = NULL;
		if (rc) {
			if (sl_writer_error(c.w))
				sl_warn("%s", sl_writer_error(c.w));
			sl_writer_abort(c.w);
		} else if (sl_writer_close(c.w, &werr) < 0) {
			sl_warn("%s", werr);
			free(werr);
			rc = 1;
		}
	} else if (!rc) {
		sl_warn("%s: no input header", nin ? argv[optind] : "(stdin)");
		rc = 1;
	}
	if (!rc)
		sl_warn("%lld records predicted", (long long)c.nrec);
	sl_net_run_free(c.run);
	sl_loaded_free(&c.L);
	sl_header_free(c.in);
	sl_header_free(c.out);
	free(c.labels);
	sl_buf_free(&b.raw);
	free(b.off);
	free(b.len);
	free(b.X);
	free(b.out);
	free(b.scores);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-predict [-f] [-o FILE] [--zstd[=LEVEL]] [--name NAME]\n"
	        "           [--no-probs] [--batch N] [--threads N] MODEL [FILE ...]\n");
}
