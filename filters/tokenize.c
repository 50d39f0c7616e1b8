/*
 * tokenize.c - sluice-tokenize: learn a tokenizer, encode text to token
 * ids, decode ids back to text.
 *
 * --fit learns a byte-level BPE vocabulary (or, with --char, the set of
 * characters) from the text field of the input and writes it as a stream;
 * --apply encodes the text field of every record into a vector field of
 * token ids (u16[] when the vocabulary fits in 16 bits, else i32[]);
 * --decode turns ids back into text.  Byte-level BPE round-trips any
 * bytes exactly.
 *
 * Learning holds each distinct word once (its bytes as token ids and a
 * count); encoding and decoding stream in batches (two batches of up to
 * 4096 records or 4 MiB held at a time) on --threads workers, each with a
 * cache of up to a million encoded words.  --fit without --fit-only also
 * encodes its input, which it then keeps in memory (the encoded records'
 * bytes).
 */
#include "sluice.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	struct sl_cli cli;
	const char *fit, *apply, *decode;
	int fit_only;
	int mode;
	long vocab_size;
	const char *specials;
	const char *field, *out_field;
	int drop;
	int as_bin;
	long threads;
};

static void usage(int status);

/* Splits "a,b" into a NULL-terminated array (owned by the caller). */
static char **split_list(const char *s, uint32_t *n)
{
	char *copy = sl_xstrdup(s), *p = copy, *tok, **out = NULL;

	*n = 0;
	while ((tok = strsep(&p, ","))) {
		if (!*tok)
			continue;
		out = sl_xrealloc(out, (*n + 2) * sizeof *out);
		out[(*n)++] = sl_xstrdup(tok);
	}
	free(copy);
	return out;
}

/* Output header for encoding or decoding: the input's fields, without the
 * source field when --drop, plus the new field; NULL when that field
 * exists. */
static struct sl_header *out_header(const struct sl_header *in, const struct opts *o,
                                    int src, struct sl_type t, int argc, char **argv)
{
	struct sl_header *h = sl_header_new();

	for (size_t f = 0; f < in->nfields; f++)
		if (!(o->drop && (int)f == src))
			sl_header_add(h, in->fields[f].name, in->fields[f].type);
	if (sl_header_add(h, o->out_field, t) < 0) {
		sl_header_free(h);
		return NULL;
	}
	sl_val_free(&h->meta);
	sl_val_free(&h->lineage);
	h->meta = sl_val_copy(&in->meta);
	h->lineage = sl_val_copy(&in->lineage);
	sl_header_lineage(h, argc, argv);
	return h;
}

/* Learns a vocabulary from the --field text of every input record; *lin
 * gets the input's lineage (the first header's, or its trailer's: see
 * sl_reader_trailer), and keep, when given, the input itself. */
static struct sl_tok *learn(const struct opts *o, int nin, char **files,
                            struct sl_buf *keep, struct sl_val *lin)
{
	struct sl_tok_trainer *tr = sl_tok_trainer_new(o->mode);
	struct sl_writer *w = keep ? sl_writer_mem(keep) : NULL;
	struct sl_tok *t = NULL;
	char **specials;
	uint32_t nspecial, learnt;
	uint64_t nrec = 0;
	int ok = 1;

	for (int a = 0; a < (nin ? nin : 1) && ok; a++) {
		struct sl_reader *r = sl_reader_open(nin ? files[a] : NULL);
		int ev, fi = -1;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				fi = sl_header_find(h, o->field);
				if (fi < 0 || (h->fields[fi].type.kind != SL_STR &&
				               h->fields[fi].type.kind != SL_BIN)) {
					sl_warn("%s: no str or bin field \"%s\" (choose one with --field)",
					        sl_reader_name(r), o->field);
					ok = 0;
					break;
				}
				if (lin->tag != SL_V_ARR)
					*lin = sl_val_copy(&h->lineage);
				/* every segment is kept, and encoded as --apply would:
				 * a trailer's counts reach the output */
				if (w)
					sl_write_header(w, h);
				continue;
			}
			v = sl_reader_values(r);
			nrec++;
			if (v[fi].kind != SL_NIL)
				sl_tok_trainer_add(tr, v[fi].u.s.p, v[fi].u.s.n);
			if (w) {
				const void *raw;
				size_t rawn;
				sl_reader_raw(r, &raw, &rawn);
				sl_write_raw(w, raw, rawn);
			}
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			ok = 0;
		}
		if (a == 0 && lin->tag == SL_V_ARR) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, lin);
		sl_reader_close(r);
	}
	if (w)
		sl_writer_close(w, NULL);
	if (ok) {
		specials = split_list(o->specials, &nspecial);
		t = sl_tok_train(tr, (uint32_t)o->vocab_size, (const char *const *)specials,
		                 nspecial, &learnt);
		if (o->mode == SL_TOK_BPE && sl_tok_size(t) < (uint32_t)o->vocab_size)
			sl_warn("vocabulary of %u tokens, not %ld: no pair occurs twice any more",
			        sl_tok_size(t), o->vocab_size);
		sl_warn("%llu records, %u tokens (%u %s, %u special)", (unsigned long long)nrec,
		        sl_tok_size(t), learnt, o->mode == SL_TOK_BPE ? "merges" : "characters",
		        nspecial);
		for (uint32_t i = 0; i < nspecial; i++)
			free(specials[i]);
		free(specials);
	}
	sl_tok_trainer_free(tr);
	return t;
}

static int save_vocab(const struct sl_tok *t, const char *path, const struct sl_val *lin,
                      int argc, char **argv)
{
	struct sl_wopts wo = {0, 1};
	struct sl_writer *w = sl_writer_open(path, &wo);
	struct sl_header *h = sl_header_new();
	char *err = NULL;
	int rc = 0;

	if (lin->tag == SL_V_ARR) { /* what it was learnt from */
		sl_val_free(&h->lineage);
		h->lineage = sl_val_copy(lin);
	}
	sl_header_lineage(h, argc, argv);
	if (sl_writer_error(w) || sl_tok_write(t, w, h) < 0) {
		sl_warn("%s", sl_writer_error(w));
		sl_writer_abort(w);
		rc = -1;
	} else if (sl_writer_close(w, &err) < 0) {
		sl_warn("%s", err);
		free(err);
		rc = -1;
	}
	sl_header_free(h);
	return rc;
}

static struct sl_tok *load_vocab(const char *path)
{
	struct sl_reader *r = sl_reader_open(path);
	char err[512];
	struct sl_tok *t = sl_tok_read(r, err, sizeof err);

	if (!t)
		sl_warn("%s", err);
	sl_reader_close(r);
	return t;
}

/*
 * Encoding and decoding run over batches of records, in a pipeline.  In
 * every round the pool's workers convert the records of the current batch,
 * taking them a few at a time from a shared counter, each into its own
 * buffer; meanwhile worker 0 (the main thread) first writes the batch
 * before it, then reads the batch after it, and only then joins in.  So
 * reading and writing overlap with converting, and two batches are held
 * at a time.  A record's result depends on the record alone and batches
 * are written in input order, so the bytes written are the same for any
 * number of workers.  Each worker encodes with its own copy of the
 * tokenizer, because the word cache inside one is written while encoding.
 *
 * An error (a bad record, a bad header, a read error) is kept with the
 * batch where it happened and reported when that batch is written, so the
 * first error in input order is the one reported, as one record at a time
 * would have it.
 */
#define BATCH_RECORDS 4096
#define BATCH_BYTES   (4u << 20)
#define CHUNK         16

struct lane { /* one worker's tokenizer and scratch */
	struct sl_tok *t;
	uint32_t *ids;
	size_t cap;
};

enum { ERR_CHAR = 1, ERR_ID, ERR_UTF8 };

struct result {
	int lane;      /* whose out buffer holds the bytes */
	int err;       /* 0, or ERR_* */
	size_t off, n; /* the converted field in that buffer */
	size_t bad;    /* byte or id position of the error */
};

struct batch {
	struct sl_rec *rec;
	uint64_t *recno;
	struct result *res;
	size_t n, cap, bytes;
	struct sl_buf *out;     /* per worker: converted fields */
	struct sl_header *oh;   /* a header to write before the records */
	int fi, nout;           /* the field converted; output fields */
	enum sl_elem in_elem;
	int err;                /* after the records: an exit status, with */
	char *msg;              /* this message */
};

struct conv {
	const struct opts *o;
	int wide, nlane;
	struct lane *lane;
	struct batch bat[2], *cur, *prev;
	atomic_size_t next;
	/* worker 0's side */
	struct sl_reader *r;
	struct sl_writer *w;
	struct sl_progress prog;
	int fi, nout, eof, held, rc;
	enum sl_elem in_elem;
	struct sl_value *out;
	int argc;
	char **argv;
};

static void batch_fail(struct batch *b, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	b->msg = sl_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b->msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->err = status;
}

/* Takes the reader's current header: checks the field and makes the output
 * header, which the batch will write before its records. */
static int take_header(struct conv *c, struct batch *b)
{
	const struct opts *o = c->o;
	const struct sl_header *h = sl_reader_header(c->r);
	int decoding = o->decode != NULL, fi = sl_header_find(h, o->field);
	struct sl_type tout = {SL_VEC, c->wide ? SL_ELEM_I32 : SL_ELEM_U16, 0};
	const char *name = sl_reader_name(c->r);

	if (decoding) {
		tout.kind = o->as_bin ? SL_BIN : SL_STR;
		tout.elem = SL_ELEM_NONE;
	}
	if (fi < 0 ||
	    (!decoding && h->fields[fi].type.kind != SL_STR && h->fields[fi].type.kind != SL_BIN) ||
	    (decoding && (h->fields[fi].type.kind != SL_VEC || h->fields[fi].type.elem == SL_ELEM_F32 ||
	                  h->fields[fi].type.elem == SL_ELEM_F64))) {
		batch_fail(b, 2, "%s: no %s field \"%s\" (choose one with --field)", name,
		           decoding ? "integer vector" : "str or bin", o->field);
		return -1;
	}
	if (!(b->oh = out_header(h, o, fi, tout, c->argc, c->argv))) {
		batch_fail(b, 2, "%s: output field \"%s\" exists; pick another with --out-field "
		           "or --drop the source", name, o->out_field);
		return -1;
	}
	c->fi = b->fi = fi;
	c->in_elem = b->in_elem = h->fields[fi].type.elem;
	c->nout = b->nout = (int)b->oh->nfields;
	return 0;
}

/* Reads the next batch into b (empty): up to the next header, the batch's
 * limits, the end of the input or an error. */
static void read_batch(struct conv *c, struct batch *b)
{
	int ev;

	b->fi = c->fi;
	b->in_elem = c->in_elem;
	b->nout = c->nout;
	if (c->held) { /* a header that ended the last batch */
		c->held = 0;
		if (take_header(c, b) < 0) {
			c->eof = 1;
			return;
		}
	}
	while ((ev = sl_read(c->r)) > 0) {
		const void *raw;
		size_t rawn;
		if (ev == SL_HEADER) {
			if (b->n || b->oh) {
				c->held = 1;
				return;
			}
			if (take_header(c, b) < 0)
				break;
			continue;
		}
		if (b->n == b->cap) {
			b->cap = b->cap ? 2 * b->cap : 64;
			b->rec = sl_xrealloc(b->rec, b->cap * sizeof *b->rec);
			b->recno = sl_xrealloc(b->recno, b->cap * sizeof *b->recno);
			b->res = sl_xrealloc(b->res, b->cap * sizeof *b->res);
			memset(b->rec + b->n, 0, (b->cap - b->n) * sizeof *b->rec);
		}
		sl_rec_set(&b->rec[b->n], sl_reader_values(c->r), sl_reader_header(c->r)->nfields);
		b->recno[b->n++] = sl_reader_recno(c->r);
		sl_reader_raw(c->r, &raw, &rawn);
		b->bytes += rawn;
		sl_progress_update(&c->prog, sl_reader_recno(c->r));
		if (b->n == BATCH_RECORDS || b->bytes >= BATCH_BYTES)
			return;
	}
	if (ev == SL_ERROR)
		batch_fail(b, 1, "%s", sl_reader_error(c->r));
	c->eof = 1;
}

/* Writes a converted batch and empties it; 0, or an exit status after an
 * error message. */
static int write_batch(struct conv *c, struct batch *b)
{
	const struct opts *o = c->o;
	const char *name = sl_reader_name(c->r);
	int rc = 0;

	if (b->oh) {
		if (!c->w) {
			c->w = sl_writer_open(o->cli.output, &o->cli.w);
			if (sl_writer_error(c->w)) {
				sl_warn("%s", sl_writer_error(c->w));
				rc = 1;
			}
		}
		if (!rc && sl_write_header(c->w, b->oh) < 0)
			rc = 1;
		c->out = sl_xrealloc(c->out, ((size_t)b->nout + 1) * sizeof *c->out);
		sl_header_free(b->oh);
		b->oh = NULL;
	}
	for (size_t i = 0; i < b->n && !rc; i++) {
		const struct sl_rec *rec = &b->rec[i];
		const struct result *res = &b->res[i];
		const struct sl_value *v = &rec->v[b->fi];
		unsigned long long recno = (unsigned long long)b->recno[i];
		size_t k = 0;
		switch (res->err) {
		case ERR_CHAR:
			sl_warn("%s: record %llu: field \"%s\": byte %zu: a character not in "
			        "the vocabulary", name, recno, o->field, res->bad);
			rc = 1;
			continue;
		case ERR_ID:
			sl_warn("%s: record %llu: field \"%s\": id %.0f at position %zu is "
			        "not in the vocabulary", name, recno, o->field,
			        sl_vec_get(b->in_elem, v->u.s.p, res->bad), res->bad);
			rc = 1;
			continue;
		case ERR_UTF8:
			sl_warn("%s: record %llu: field \"%s\": the decoded bytes are not "
			        "valid UTF-8 at byte %zu (--bin writes them as bin)",
			        name, recno, o->field, res->bad);
			rc = 1;
			continue;
		}
		for (size_t f = 0; f < rec->n; f++)
			if (!(o->drop && (int)f == b->fi))
				c->out[k++] = rec->v[f];
		if (v->kind == SL_NIL) {
			c->out[k].kind = SL_NIL;
		} else {
			c->out[k].kind = o->decode ? (o->as_bin ? SL_BIN : SL_STR) : SL_VEC;
			c->out[k].u.s.p = res->n ? b->out[res->lane].p + res->off : "";
			c->out[k].u.s.n = res->n;
		}
		if (sl_write_record(c->w, c->out, (size_t)b->nout) < 0) {
			sl_warn("%s", sl_writer_error(c->w));
			rc = 1;
		}
	}
	if (!rc && b->err) {
		sl_warn("%s", b->msg);
		rc = b->err;
	}
	free(b->msg);
	b->msg = NULL;
	b->err = 0;
	b->n = b->bytes = 0;
	return rc;
}

/* Converts the --field value v into out, filling *res. */
static void convert_one(const struct conv *c, const struct batch *b, struct lane *l,
                        struct sl_buf *out, const struct sl_value *v, struct result *res)
{
	size_t nids = 0;

	res->err = 0;
	res->off = out->n;
	res->n = 0;
	if (v->kind == SL_NIL)
		return;
	if (!c->o->decode) {
		size_t sz = c->wide ? 4 : 2;
		if (sl_tok_encode(l->t, v->u.s.p, v->u.s.n, &l->ids, &nids, &l->cap, &res->bad) < 0) {
			res->err = ERR_CHAR;
			return;
		}
		sl_buf_reserve(out, nids * sz);
		for (size_t i = 0; i < nids; i++) {
			if (c->wide) {
				int32_t x = (int32_t)l->ids[i];
				memcpy(out->p + out->n + 4 * i, &x, 4);
			} else {
				uint16_t x = (uint16_t)l->ids[i];
				memcpy(out->p + out->n + 2 * i, &x, 2);
			}
		}
		out->n += nids * sz;
	} else {
		size_t n = v->u.s.n / sl_elem_size(b->in_elem), start = out->n;
		if (n > l->cap) {
			l->cap = n;
			l->ids = sl_xrealloc(l->ids, l->cap * sizeof *l->ids);
		}
		for (size_t i = 0; i < n; i++) {
			double x = sl_vec_get(b->in_elem, v->u.s.p, i);
			l->ids[i] = x < 0 || x >= 4294967296.0 ? UINT32_MAX : (uint32_t)x;
		}
		if (sl_tok_decode(l->t, l->ids, n, out, &res->bad) < 0) {
			out->n = start;
			res->err = ERR_ID;
			return;
		}
		if (!c->o->as_bin &&
		    (res->bad = sl_utf8_valid(out->p + start, out->n - start)) != out->n - start) {
			out->n = start;
			res->err = ERR_UTF8;
			return;
		}
	}
	res->n = out->n - res->off;
}

/* One round: worker 0 writes the previous batch and reads the next; all
 * convert the current one. */
static void round_work(void *arg, int w, int n)
{
	struct conv *c = arg;
	struct batch *b = c->cur;
	struct lane *l = &c->lane[w];
	struct sl_buf *out = &b->out[w];
	size_t i;

	(void)n;
	out->n = 0;
	if (w == 0) {
		if (!c->rc)
			c->rc = write_batch(c, c->prev);
		if (!c->rc && !c->eof)
			read_batch(c, c->prev);
	}
	while ((i = atomic_fetch_add(&c->next, CHUNK)) < b->n) {
		size_t e = i + CHUNK < b->n ? i + CHUNK : b->n;
		for (; i < e; i++) {
			b->res[i].lane = w;
			convert_one(c, b, l, out, &b->rec[i].v[b->fi], &b->res[i]);
		}
	}
}

/* Encodes or decodes every record of one input; 0, or an exit status
 * after an error message. */
static int convert(struct conv *c, struct sl_pool *pool, struct sl_reader *r)
{
	struct batch *t;

	c->r = r;
	c->eof = c->held = c->rc = 0;
	c->fi = -1;
	c->cur = &c->bat[0];
	c->prev = &c->bat[1];
	read_batch(c, c->cur);
	while (!c->rc && (c->cur->n || c->cur->oh || c->cur->err)) {
		atomic_store(&c->next, 0);
		sl_pool_run(pool, round_work, c);
		t = c->prev;
		c->prev = c->cur;
		c->cur = t;
	}
	if (!c->rc)
		c->rc = write_batch(c, c->prev);
	/* after an error, what was read but not written is dropped */
	for (int k = 0; k < 2; k++) {
		sl_header_free(c->bat[k].oh);
		c->bat[k].oh = NULL;
		free(c->bat[k].msg);
		c->bat[k].msg = NULL;
		c->bat[k].err = 0;
		c->bat[k].n = c->bat[k].bytes = 0;
	}
	return c->rc;
}

/* The workers' tokenizers: t for the first, for the others a copy made by
 * writing t to memory and reading it back. */
static void conv_init(struct conv *c, const struct opts *o, struct sl_tok *t, int n,
                      int argc, char **argv)
{
	struct sl_buf mem = {0};
	char err[512];

	memset(c, 0, sizeof *c);
	c->o = o;
	c->wide = sl_tok_size(t) > 65536;
	c->nlane = n;
	c->argc = argc;
	c->argv = argv;
	c->lane = sl_xcalloc((size_t)n, sizeof *c->lane);
	c->lane[0].t = t;
	if (n > 1) {
		struct sl_writer *w = sl_writer_mem(&mem);
		struct sl_header *h = sl_header_new();
		if (sl_tok_write(t, w, h) < 0 || sl_writer_close(w, NULL) < 0)
			sl_die(1, "cannot copy the vocabulary in memory");
		sl_header_free(h);
	}
	for (int i = 1; i < n; i++) {
		struct sl_reader *r = sl_reader_mem(mem.p, mem.n, "(vocabulary copy)");
		if (!(c->lane[i].t = sl_tok_read(r, err, sizeof err)))
			sl_die(1, "%s", err);
		sl_reader_close(r);
	}
	sl_buf_free(&mem);
	for (int k = 0; k < 2; k++)
		c->bat[k].out = sl_xcalloc((size_t)n, sizeof *c->bat[k].out);
	sl_progress_start(&c->prog, "records", 0, 0);
}

/* Closes the output (aborting it after an error); returns the exit status. */
static int conv_free(struct conv *c, int rc)
{
	char *err = NULL;

	sl_progress_end(&c->prog, c->w ? sl_writer_records(c->w) : 0);
	if (c->w && rc) {
		sl_writer_abort(c->w);
	} else if (c->w && sl_writer_close(c->w, &err) < 0) {
		sl_warn("%s", err);
		free(err);
		rc = 1;
	}
	for (int i = 0; i < c->nlane; i++) {
		if (i)
			sl_tok_free(c->lane[i].t);
		free(c->lane[i].ids);
	}
	free(c->lane);
	for (int k = 0; k < 2; k++) {
		struct batch *b = &c->bat[k];
		for (size_t i = 0; i < b->cap; i++)
			sl_rec_free(&b->rec[i]);
		for (int i = 0; i < c->nlane; i++)
			sl_buf_free(&b->out[i]);
		free(b->out);
		free(b->rec);
		free(b->recno);
		free(b->res);
	}
	free(c->out);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"fit", required_argument, 0, 'F'},
	    {"fit-only", required_argument, 0, 'O'},
	    {"apply", required_argument, 0, 'A'},
	    {"decode", required_argument, 0, 'D'},
	    {"char", no_argument, 0, 'c'},
	    {"vocab-size", required_argument, 0, 'V'},
	    {"special", required_argument, 0, 'S'},
	    {"field", required_argument, 0, 'i'},
	    {"out-field", required_argument, 0, 'n'},
	    {"drop", no_argument, 0, 'd'},
	    {"bin", no_argument, 0, 'b'},
	    {"threads", required_argument, 0, 'T'},
	    {0, 0, 0, 0},
	};
	struct opts o = {.mode = SL_TOK_BPE, .vocab_size = 4096,
	                 .specials = "<|endoftext|>,<|pad|>"};
	struct sl_tok *t = NULL;
	struct sl_buf kept = {0};
	struct sl_val lin = {0}; /* the input's lineage, for the vocabulary */
	struct sl_pool *pool;
	struct conv conv;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char **largv;
	int c, nin, rc = 0, modes, largc;

	sl_init(argv[0]);
	o.threads = ncpu > 0 ? (ncpu < 256 ? ncpu : 256) : 1;
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case 'F': o.fit = optarg; break;
		case 'O': o.fit = optarg; o.fit_only = 1; break;
		case 'A': o.apply = optarg; break;
		case 'D': o.decode = optarg; break;
		case 'c': o.mode = SL_TOK_CHAR; break;
		case 'V':
			o.vocab_size = (long)sl_parse_count(optarg);
			if (o.vocab_size < 1 || o.vocab_size > 1L << 31)
				sl_die(2, "--vocab-size: a count up to 2^31, not '%s'", optarg);
			break;
		case 'S': o.specials = optarg; break;
		case 'i': o.field = optarg; break;
		case 'n': o.out_field = optarg; break;
		case 'd': o.drop = 1; break;
		case 'b': o.as_bin = 1; break;
		case 'T':
			if ((o.threads = sl_parse_count(optarg)) < 1 || o.threads > 256)
				sl_die(2, "--threads: 1 to 256, not '%s'", optarg);
			break;
		default:
			usage(2);
			return 2;
		}
	}
	modes = !!o.fit + !!o.apply + !!o.decode;
	if (modes != 1)
		sl_die(2, "give one of --fit, --fit-only, --apply or --decode");
	if (o.mode == SL_TOK_BPE && o.fit && o.vocab_size < 256 + 2)
		sl_die(2, "--vocab-size: BPE needs at least the 256 bytes and the specials");
	if (!o.field)
		o.field = o.decode ? "ids" : "text";
	if (!o.out_field)
		o.out_field = o.decode ? "text" : "ids";
	nin = argc - optind;
	largv = sl_args_without(argc, argv, "--threads", 3, &largc);
	if (o.fit) {
		t = learn(&o, nin, argv + optind, o.fit_only ? NULL : &kept, &lin);
		if (!t)
			rc = 1;
		else if (save_vocab(t, o.fit, &lin, largc, largv) < 0)
			rc = 1;
	} else {
		t = load_vocab(o.apply ? o.apply : o.decode);
		if (!t)
			rc = 1;
	}
	if (!rc && !o.fit_only) {
		conv_init(&conv, &o, t, (int)o.threads, largc, largv);
		pool = sl_pool_new((int)o.threads);
		if (o.fit) {
			struct sl_reader *r = sl_reader_mem(kept.p, kept.n,
			                                    nin ? argv[optind] : "(stdin)");
			rc = convert(&conv, pool, r);
			sl_reader_close(r);
		}
		for (int a = 0; !o.fit && a < (nin ? nin : 1) && !rc; a++) {
			struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
			rc = convert(&conv, pool, r);
			sl_reader_close(r);
		}
		sl_pool_free(pool);
		rc = conv_free(&conv, rc);
	}
	sl_tok_free(t);
	sl_buf_free(&kept);
	sl_val_free(&lin);
	free(largv);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-tokenize [-f] [-o FILE] [--zstd[=LEVEL]]\n"
	        "           --fit VOCAB | --fit-only VOCAB | --apply VOCAB | --decode VOCAB\n"
	        "           [--char] [--vocab-size N] [--special TOK,...] [--field F]\n"
	        "           [--out-field F] [--drop] [--bin] [--threads N] [FILE ...]\n"
	        "  --fit VOCAB       learn a vocabulary from the input, write it, encode\n"
	        "  --fit-only VOCAB  learn and write the vocabulary only\n"
	        "  --apply VOCAB     encode the text field into token ids\n"
	        "  --decode VOCAB    decode token ids into text\n"
	        "  --char            characters instead of byte-level BPE\n"
	        "  --vocab-size N    BPE vocabulary size, specials included (default 4096)\n"
	        "  --special LIST    special tokens (default <|endoftext|>,<|pad|>)\n"
	        "  --field F         input field (default text, or ids with --decode)\n"
	        "  --out-field F     output field (default ids, or text with --decode)\n"
	        "  --drop            leave the input field out of the output\n"
	        "  --bin             decode into a bin field (for bytes that are not UTF-8)\n"
	        "  --threads N       encode or decode on N threads (default: the cores)\n");
}
