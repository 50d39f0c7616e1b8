/*
 * generate.c - sluice-generate: text from a language model.
 *
 * Two ways to run:
 *
 *   text     with --prompt TEXT (or, without it, on a terminal): the
 *            continuation of TEXT is written to stdout as text.  On a
 *            terminal it appears as it is made, a token at a time, holding
 *            back only the first bytes of a character that is not yet
 *            whole; the bytes written in the end are exactly the tokens'.
 *   filter   otherwise: every record of the input streams gets a new field
 *            (--out-field, "completion") holding the continuation of its
 *            --field ("prompt"), str or bin.  Record i (from 0, across all
 *            inputs) draws from seed + i, so a record's completion does
 *            not depend on the records around it, and --threads workers
 *            can make a batch of them at once, written in input order.
 *
 * Generation (encode and generate below): the prompt is encoded with the model's
 * tokenizer (an empty prompt is the end-of-text token alone, the start of
 * a document in training), then each next token is drawn from the model's
 * logits by the sampler (lib/sample.c) until --max-tokens are made or,
 * with --stop-at-eot, the model ends the text.  The model sees the last
 * ctx tokens at most: the key/value cache (lib/kvcache.c) takes one token
 * per step until the window is full, and from then on the window slides,
 * recomputed in one pass per token.
 *
 * Byte-level BPE can encode any bytes, so a prompt that is not valid UTF-8
 * (from the command line, or in a bin field) is taken as it is; a
 * character-level vocabulary refuses characters it does not know.  Tokens
 * are bytes, so a continuation may end inside a character or, rarely,
 * hold bytes that are not UTF-8: in a str field the unfinished character
 * at the end is dropped and other bytes that start no character become
 * U+FFFD (the records so changed are counted on stderr); --bin keeps the
 * exact bytes.
 *
 * Memory: the model; per worker its cache; a batch of 64 records and
 * their completions.
 */
#include "sluice.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	struct sl_cli cli;
	const char *prompt; /* NULL: none given */
	const char *field, *out_field;
	long long max_tokens, seed, threads;
	struct sl_sample_opts s;
	int stop_at_eot, echo, bin;
};

/* What every worker reads: the model and the options. */
struct model {
	struct sl_lm lm;
	int ctx; /* tokens the model sees at most */
	int32_t pad; /* the padding special, never drawn; or -1 */
	const struct opts *o;
};

/* One text being made: its tokens and bytes. */
struct seq {
	uint32_t *ids; /* the prompt's, then the continuation's */
	size_t n, cap;
	struct sl_buf out; /* the continuation's bytes */
	uint64_t tokens;   /* made */
	char err[200];     /* why generation failed */
	/* called after each token, or NULL; a failure stops generation */
	int (*emit)(struct seq *s, void *arg);
	void *arg;
};

/* A worker's own cache, sampler and window. */
struct worker {
	struct sl_gpt_kv *kv;
	struct sl_sampler *smp;
	int32_t *win; /* (ctx) */
	float *masked; /* (V) the logits with padding ruled out */
};

static void usage(int status);

static void push(struct seq *s, uint32_t id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->ids = sl_xrealloc(s->ids, s->cap * sizeof *s->ids);
	}
	s->ids[s->n++] = id;
}

/*
 * The prompt prompt[0..len) as tokens in s->ids: an empty one as the
 * end-of-text token.  0, or -1 with a message in s->err.  The tokenizer
 * keeps a cache as it encodes, so only one thread may call this.
 */
static int encode(struct model *m, struct seq *s, const char *prompt, size_t len)
{
	size_t bad;

	s->n = 0;
	if (sl_tok_encode(m->lm.tok, prompt, len, &s->ids, &s->n, &s->cap, &bad) < 0) {
		snprintf(s->err, sizeof s->err, "the model's vocabulary has no character at byte "
		         "%zu of the prompt", bad);
		return -1;
	}
	if (!s->n) {
		if (m->lm.eot < 0) {
			snprintf(s->err, sizeof s->err, "an empty prompt, and the model's vocabulary "
			         "has no end-of-text token to start from");
			return -1;
		}
		push(s, (uint32_t)m->lm.eot);
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] >= (uint32_t)m->lm.gpt.cfg.V) {
			snprintf(s->err, sizeof s->err, "the prompt's token %u is beyond the model's %d",
			         s->ids[i], m->lm.gpt.cfg.V);
			return -1;
		}
	return 0;
}

/*
 * Continues the encoded prompt in s into s->out with worker w, drawing from
 * a generator seeded by seed.  Returns 0, or -1 with a message in s->err
 * (a non-finite score) or when s->emit fails (its own message).
 */
static int generate(const struct model *m, struct worker *w, struct seq *s, uint64_t seed)
{
	const struct opts *o = m->o;
	struct sl_rng rng;
	size_t start;
	int32_t *win = w->win;
	const float *logits;

	s->out.n = 0;
	s->tokens = 0;
	if (!o->max_tokens)
		return 0;
	sl_rng_seed(&rng, seed);
	start = s->n > (size_t)m->ctx ? s->n - (size_t)m->ctx : 0;
	for (size_t i = start; i < s->n; i++)
		win[i - start] = (int32_t)s->ids[i];
	sl_gpt_kv_reset(w->kv);
	logits = sl_gpt_kv_feed(w->kv, win, (int)(s->n - start));
	for (long long k = 0; k < o->max_tokens; k++) {
		int ibad;
		int32_t t;
		const char *p;
		size_t pn;

		if (m->pad >= 0) {
			/* Padding is never a training target, so its score means
			 * nothing: a finite score far below any other rules it out
			 * (the sampler refuses infinities). */
			memcpy(w->masked, logits, (size_t)m->lm.gpt.cfg.V * sizeof *w->masked);
			if (isfinite(w->masked[m->pad]))
				w->masked[m->pad] = -1e30f;
			logits = w->masked;
		}
		t = sl_sampler_draw(w->smp, logits, &rng, &ibad);
		if (t < 0) {
			snprintf(s->err, sizeof s->err, "the model's score for token %d is not finite "
			         "(after %lld tokens)", ibad, k);
			return -1;
		}
		if (o->stop_at_eot && t == m->lm.eot)
			break;
		s->tokens++;
		sl_tok_bytes(m->lm.tok, (uint32_t)t, &p, &pn);
		sl_buf_put(&s->out, p, pn);
		if (s->emit && s->emit(s, s->arg) < 0)
			return -1;
		push(s, (uint32_t)t);
		if (k + 1 == o->max_tokens)
			break;
		if (sl_gpt_kv_len(w->kv) < m->ctx) {
			logits = sl_gpt_kv_feed(w->kv, &t, 1);
		} else {
			/* slide: the last ctx tokens again, at positions 0..ctx-1 */
			start = s->n - (size_t)m->ctx;
			for (size_t i = start; i < s->n; i++)
				win[i - start] = (int32_t)s->ids[i];
			sl_gpt_kv_reset(w->kv);
			logits = sl_gpt_kv_feed(w->kv, win, m->ctx);
		}
	}
	return 0;
}

/* How many of p[0..n)'s bytes are safe to show: all but the start of a
 * character whose remaining bytes may still come. */
static size_t whole(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;

	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned c = s[n - back];
		size_t need;
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 1;
		return need > back ? n - back : n;
	}
	return n;
}

/* ---------------------------------------------------------- text mode */

struct text {
	FILE *f;
	size_t shown; /* bytes of the continuation written so far */
	int tty;      /* a terminal: flush every token */
};

static int emit_text(struct seq *s, void *arg)
{
	struct text *t = arg;
	size_t upto = whole(s->out.p, s->out.n);

	if (upto > t->shown) {
		fwrite(s->out.p + t->shown, 1, upto - t->shown, t->f);
		t->shown = upto;
	}
	if (t->tty && fflush(t->f) == EOF)
		return -1;
	return 0;
}

static int text_mode(struct model *m, struct worker *w)
{
	const struct opts *o = m->o;
	struct text t = {stdout, 0, 0};
	struct seq s = {.emit = emit_text, .arg = &t};
	const char *prompt = o->prompt ? o->prompt : "";
	const char *name = o->cli.output ? o->cli.output : "stdout";
	char *tmp = NULL;
	int rc;

	if (o->cli.output) {
		/* written beside the target, renamed into place when complete */
		size_t n = strlen(o->cli.output) + 16;
		int fd;
		tmp = sl_xmalloc(n);
		snprintf(tmp, n, "%s.tmpXXXXXX", o->cli.output);
		if ((fd = mkstemp(tmp)) < 0 || !(t.f = fdopen(fd, "w"))) {
			sl_warn("%s: %s", o->cli.output, strerror(errno));
			free(tmp);
			return 1;
		}
	}
	t.tty = isatty(fileno(t.f));
	if (o->echo)
		fputs(prompt, t.f);
	rc = encode(m, &s, prompt, strlen(prompt)) < 0 || generate(m, w, &s, (uint64_t)o->seed) < 0;
	if (rc && *s.err)
		sl_warn("%s", s.err);
	if (!rc) {
		if (s.out.n > t.shown)
			fwrite(s.out.p + t.shown, 1, s.out.n - t.shown, t.f);
		/* the shell's prompt should not land after the text */
		if (t.tty && s.out.n && s.out.p[s.out.n - 1] != '\n')
			fputc('\n', t.f);
	}
	if (fflush(t.f) == EOF || ferror(t.f)) {
		sl_warn("%s: write error: %s", name, strerror(errno));
		rc = 1;
	}
	if (tmp) {
		if (fclose(t.f) == EOF && !rc) {
			sl_warn("%s: %s", name, strerror(errno));
			rc = 1;
		}
		if (!rc && rename(tmp, o->cli.output) < 0) {
			sl_warn("%s: %s", name, strerror(errno));
			rc = 1;
		}
		if (rc)
			unlink(tmp);
		free(tmp);
	}
	free(s.ids);
	sl_buf_free(&s.out);
	return rc;
}

/* -------------------------------------------------------- filter mode */

/*
 * Records are read into a batch (their bytes, and their prompts encoded
 * by the reading thread), the batch's texts are made by the workers, each
 * taking the next record not yet taken, and the records are written in
 * input order.  A record's text depends only on its prompt and its seed,
 * so the output is the same for any number of threads.
 */
enum { BATCH = 64 };

struct job {
	size_t off, len; /* the record's bytes in the batch's raw */
	uint64_t seed;
	uint64_t recno;  /* in its input, for messages */
	int failed;
	struct seq s;
};

struct batch {
	struct model *m;
	struct worker *w;
	struct sl_buf raw;
	struct job jobs[BATCH];
	int n;
	atomic_int next;
};

static void work(void *arg, int w, int nw)
{
	struct batch *b = arg;
	int i;

	(void)nw;
	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		struct job *j = &b->jobs[i];
		j->failed = generate(b->m, &b->w[w], &j->s, j->seed) < 0;
	}
}

/* The completion as a value: the exact bytes for --bin, else UTF-8 (an
 * unfinished last character dropped, bad bytes as U+FFFD; *fixed is
 * set when that changed anything). */
static struct sl_value completion(const struct seq *s, const struct opts *o,
                                  struct sl_buf *tmp, int *fixed)
{
	struct sl_value v = {.kind = o->bin ? SL_BIN : SL_STR};
	size_t keep = o->bin ? s->out.n : whole(s->out.p, s->out.n);

	v.u.s.p = s->out.p ? s->out.p : ""; /* never NULL, even when empty */
	v.u.s.n = keep;
	*fixed = keep != s->out.n;
	if (!o->bin && sl_utf8_valid(s->out.p, keep) != keep) {
		tmp->n = 0;
		sl_utf8_repair(tmp, s->out.p, keep);
		v.u.s.p = tmp->p;
		v.u.s.n = tmp->n;
		*fixed = 1;
	}
	return v;
}

/* Makes the batch's texts and writes its records.  0, or 1 after a message
 * (the first record in input order that failed, named by input). */
static int flush(struct batch *b, struct sl_pool *pool, struct sl_writer *w,
                 const char *input, struct sl_buf *tmp, uint64_t *ntok, uint64_t *nfixed)
{
	const struct opts *o = b->m->o;

	if (!b->n)
		return 0;
	atomic_store(&b->next, 0);
	sl_pool_run(pool, work, b);
	for (int i = 0; i < b->n; i++) {
		struct job *j = &b->jobs[i];
		struct sl_value c;
		int fixed;
		if (j->failed) {
			sl_warn("%s: record %llu: field \"%s\": %s", input,
			        (unsigned long long)j->recno, o->field, j->s.err);
			return 1;
		}
		c = completion(&j->s, o, tmp, &fixed);
		*nfixed += fixed;
		*ntok += j->s.tokens;
		if (sl_write_raw_append(w, b->raw.p + j->off, j->len, &c, 1) < 0)
			return 1;
	}
	b->n = 0;
	b->raw.n = 0;
	return 0;
}

/* The output header for input header h: its fields and the completion;
 * NULL with a message when the prompt field is missing or unusable. */
static struct sl_header *out_header(const struct opts *o, const struct sl_header *h,
                                    const char *input, int *idx, int argc, char **argv)
{
	struct sl_header *out;
	struct sl_type t;
	char name[32];

	if ((*idx = sl_header_find(h, o->field)) < 0) {
		sl_warn("%s: no field \"%s\" to take prompts from (see --field)", input, o->field);
		return NULL;
	}
	t = h->fields[*idx].type;
	if (t.kind != SL_STR && t.kind != SL_BIN) {
		sl_type_format(t, name, sizeof name);
		sl_warn("%s: field \"%s\": the prompt must be str or bin, not %s", input, o->field,
		        name);
		return NULL;
	}
	out = sl_header_copy(h);
	t.kind = o->bin ? SL_BIN : SL_STR;
	if (sl_header_add(out, o->out_field, t) < 0) {
		sl_warn("%s: the input already has a field \"%s\": choose another --out-field",
		        input, o->out_field);
		sl_header_free(out);
		return NULL;
	}
	sl_header_lineage(out, argc, argv);
	return out;
}

static int filter_mode(struct model *m, struct worker *workers, struct sl_pool *pool,
                       int largc, char **largv, int nin, char **inputs)
{
	const struct opts *o = m->o;
	struct sl_writer *w = NULL;
	struct sl_header *in = NULL, *out = NULL;
	struct batch *b = sl_xcalloc(1, sizeof *b);
	struct sl_buf tmp = {0};
	struct sl_progress prog;
	uint64_t nrec = 0, ntok = 0, nfixed = 0;
	int idx = -1, rc = 0;
	char err[sizeof b->jobs[0].s.err];

	b->m = m;
	b->w = workers;
	sl_progress_start(&prog, "records", 0, 0);
	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? inputs[a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			const void *raw;
			size_t rawn;
			struct job *j;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if ((rc = flush(b, pool, w, sl_reader_name(r), &tmp, &ntok, &nfixed)))
					break;
				if (in && sl_header_same_fields(in, h))
					continue;
				sl_header_free(in);
				sl_header_free(out);
				in = sl_header_copy(h);
				if (!(out = out_header(o, h, sl_reader_name(r), &idx, largc, largv))) {
					rc = 1;
					break;
				}
				if (!w) {
					w = sl_writer_open(o->cli.output, &o->cli.w);
					if (sl_writer_error(w)) {
						rc = 1;
						break;
					}
				}
				if (sl_write_header(w, out) < 0) {
					rc = 1;
					break;
				}
				continue;
			}
			v = sl_reader_values(r) + idx;
			j = &b->jobs[b->n];
			if (v->kind != SL_STR && v->kind != SL_BIN) {
				snprintf(j->s.err, sizeof j->s.err, "no prompt (a missing value)");
			} else if (encode(m, &j->s, v->u.s.p, v->u.s.n) == 0) {
				sl_reader_raw(r, &raw, &rawn);
				j->off = b->raw.n;
				j->len = rawn;
				j->seed = (uint64_t)o->seed + nrec;
				j->recno = sl_reader_recno(r);
				sl_buf_put(&b->raw, raw, rawn);
				b->n++;
				nrec++;
				if (b->n == BATCH) {
					if ((rc = flush(b, pool, w, sl_reader_name(r), &tmp, &ntok, &nfixed)))
						break;
					sl_progress_update(&prog, nrec);
				}
				continue;
			}
			/* the records before this one go out first */
			snprintf(err, sizeof err, "%s", j->s.err);
			if (!(rc = flush(b, pool, w, sl_reader_name(r), &tmp, &ntok, &nfixed))) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), o->field, err);
				rc = 1;
			}
			break;
		}
		if (!rc)
			rc = flush(b, pool, w, sl_reader_name(r), &tmp, &ntok, &nfixed);
		if (!rc && ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	sl_progress_end(&prog, nrec);
	if (w) {
		char *werr = NULL;
		if (rc) {
			if (sl_writer_error(w))
				sl_warn("%s", sl_writer_error(w));
			sl_writer_abort(w);
		} else if (sl_writer_close(w, &werr) < 0) {
			sl_warn("%s", werr);
			free(werr);
			rc = 1;
		}
	} else if (!rc) {
		sl_warn("%s: no input header (to generate without a prompt, give --prompt '')",
		        nin ? inputs[0] : "(stdin)");
		rc = 1;
	}
	if (!rc)
		sl_warn("%llu records, %llu tokens generated", (unsigned long long)nrec,
		        (unsigned long long)ntok);
	if (!rc && nfixed)
		sl_warn("%llu completions were cut at an unfinished character or had invalid "
		        "UTF-8 replaced (--bin keeps the bytes)", (unsigned long long)nfixed);
	for (int i = 0; i < BATCH; i++) {
		free(b->jobs[i].s.ids);
		sl_buf_free(&b->jobs[i].s.out);
	}
	sl_buf_free(&b->raw);
	free(b);
	sl_header_free(in);
	sl_header_free(out);
	sl_buf_free(&tmp);
	return rc;
}

int main(int argc, char **argv)
{
	enum {
		O_PROMPT = SL_OPT_FIRST_FREE, O_FIELD, O_OUTFIELD, O_MAX, O_TEMP, O_TOPK, O_TOPP,
		O_SEED, O_EOT, O_ECHO, O_BIN, O_THREADS
	};
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"prompt", required_argument, 0, O_PROMPT},
	    {"field", required_argument, 0, O_FIELD},
	    {"out-field", required_argument, 0, O_OUTFIELD},
	    {"max-tokens", required_argument, 0, O_MAX},
	    {"temperature", required_argument, 0, O_TEMP},
	    {"top-k", required_argument, 0, O_TOPK},
	    {"top-p", required_argument, 0, O_TOPP},
	    {"seed", required_argument, 0, O_SEED},
	    {"stop-at-eot", no_argument, 0, O_EOT},
	    {"echo", no_argument, 0, O_ECHO},
	    {"bin", no_argument, 0, O_BIN},
	    {"threads", required_argument, 0, O_THREADS},
	    {0, 0, 0, 0},
	};
	struct opts o = {.field = "prompt", .out_field = "completion", .max_tokens = 256,
	                 .s = {.temperature = 1, .top_k = 0, .top_p = 1}};
	struct model m = {.o = &o};
	struct worker *workers;
	struct sl_pool *pool = NULL;
	char err[600], **largv;
	const char *why;
	int ch, rc = 0, nin, filter, nw, largc;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	sl_init(argv[0]);
	o.threads = ncpu > 0 ? (ncpu < 256 ? ncpu : 256) : 1;
	while ((ch = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		double x;
		long long n;
		if (sl_cli_common(&o.cli, ch, optarg, usage))
			continue;
		switch (ch) {
		case O_PROMPT: o.prompt = optarg; break;
		case O_FIELD:
		case O_OUTFIELD:
			if (!*optarg)
				sl_die(2, "--%s: an empty name", ch == O_FIELD ? "field" : "out-field");
			*(ch == O_FIELD ? &o.field : &o.out_field) = optarg;
			break;
		case O_MAX:
			if ((o.max_tokens = sl_parse_count(optarg)) < 0 || o.max_tokens > 1000000000)
				sl_die(2, "--max-tokens: 0 to 1000000000, not '%s'", optarg);
			break;
		case O_TEMP:
		case O_TOPP:
			if (sl_parse_float(optarg, strlen(optarg), &x) < 0)
				sl_die(2, "--%s: not a number: '%s'", ch == O_TEMP ? "temperature" : "top-p",
				       optarg);
			*(ch == O_TEMP ? &o.s.temperature : &o.s.top_p) = x;
			break;
		case O_TOPK:
			if ((n = sl_parse_count(optarg)) < 0 || n > 0x7fffffff)
				sl_die(2, "--top-k: a count (0: no limit), not '%s'", optarg);
			o.s.top_k = (int)n;
			break;
		case O_SEED:
			if ((o.seed = sl_parse_count(optarg)) < 0)
				sl_die(2, "--seed: a whole number >= 0, not '%s'", optarg);
			break;
		case O_EOT: o.stop_at_eot = 1; break;
		case O_ECHO: o.echo = 1; break;
		case O_BIN: o.bin = 1; break;
		case O_THREADS:
			if ((o.threads = sl_parse_count(optarg)) < 1 || o.threads > 256)
				sl_die(2, "--threads: 1 to 256, not '%s'", optarg);
			break;
		default:
			usage(2);
			return 2;
		}
	}
	if ((why = sl_sample_check(&o.s)))
		sl_die(2, "%s", why);
	if (optind >= argc) {
		usage(2);
		return 2;
	}
	nin = argc - optind - 1;
	filter = !o.prompt && (nin > 0 || !isatty(0));
	if (o.prompt && nin > 0)
		sl_die(2, "--prompt generates from one prompt: no input files");
	if (o.echo && filter)
		sl_die(2, "--echo is for text (with --prompt)");
	if (sl_lm_load(&m.lm, argv[optind], err, sizeof err) < 0) {
		sl_warn("%s", err);
		return 1;
	}
	sl_blas_threads(1);
	m.ctx = m.lm.ctx < m.lm.gpt.cfg.maxT ? m.lm.ctx : m.lm.gpt.cfg.maxT;
	{
		uint32_t pad = sl_tok_special(m.lm.tok, "<|pad|>");
		m.pad = pad < (uint32_t)m.lm.gpt.cfg.V && (int32_t)pad != m.lm.eot ? (int32_t)pad : -1;
	}
	SL_ASSERT(m.ctx >= 1);
	nw = filter ? (int)o.threads : 1;
	workers = sl_xcalloc((size_t)nw, sizeof *workers);
	for (int i = 0; i < nw; i++) {
		workers[i].kv = sl_gpt_kv_new(&m.lm.gpt);
		workers[i].smp = sl_sampler_new(m.lm.gpt.cfg.V, &o.s);
		workers[i].win = sl_xmalloc((size_t)m.ctx * sizeof *workers[i].win);
		workers[i].masked = sl_xmalloc((size_t)m.lm.gpt.cfg.V * sizeof *workers[i].masked);
	}
	if (filter) {
		pool = sl_pool_new(nw);
		largv = sl_args_without(argc, argv, "--threads", 4, &largc);
		rc = filter_mode(&m, workers, pool, largc, largv, nin, argv + optind + 1);
		free(largv);
		sl_pool_free(pool);
	} else {
		rc = text_mode(&m, workers);
	}
	for (int i = 0; i < nw; i++) {
		sl_gpt_kv_free(workers[i].kv);
		sl_sampler_free(workers[i].smp);
		free(workers[i].win);
		free(workers[i].masked);
	}
	free(workers);
	sl_lm_free(&m.lm);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-generate [-f] [-o FILE] [--zstd[=LEVEL]] [--prompt TEXT] [--echo]\n"
	        "           [--max-tokens N] [--temperature X] [--top-k N] [--top-p X]\n"
	        "           [--seed N] [--stop-at-eot] [--field F] [--out-field F] [--bin]\n"
	        "           [--threads N] MODEL [FILE ...]\n");
}
