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
 *            not depend on the records around it.
 *
 * Generation (run below): the prompt is encoded with the model's
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
 * Memory: the model, its cache, and one record and its completion.
 */
#include "sluice.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	struct sl_cli cli;
	const char *prompt; /* NULL: none given */
	const char *field, *out_field;
	long long max_tokens, seed;
	struct sl_sample_opts s;
	int stop_at_eot, echo, bin;
};

/* A generator: the model, its cache and sampler, and the tokens so far. */
struct gen {
	struct sl_lm lm;
	int ctx;
	struct sl_gpt_kv *kv;
	struct sl_sampler *smp;
	int32_t *win;  /* the window fed to the model (ctx) */
	uint32_t *ids; /* prompt and continuation */
	size_t n, cap;
	struct sl_buf out; /* the continuation's bytes */
	/* called after each token (text mode on a terminal), or NULL */
	int (*emit)(struct gen *g, void *arg);
	void *arg;
	uint64_t tokens; /* made in all */
};

static void usage(int status);

static void push(struct gen *g, uint32_t id)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->ids = sl_xrealloc(g->ids, g->cap * sizeof *g->ids);
	}
	g->ids[g->n++] = id;
}

/*
 * Generates the continuation of prompt[0..len) into g->out, drawing from a
 * generator seeded by seed.  Returns 0, or -1 with a message in err (an
 * unknown character in the prompt, a non-finite logit) or when g->emit
 * fails (its own message).
 */
static int run(struct gen *g, const struct opts *o, const char *prompt, size_t len,
               uint64_t seed, char *err, size_t errcap)
{
	struct sl_rng rng;
	size_t bad, start;
	int32_t *win = g->win;
	const float *logits;

	g->n = 0;
	g->out.n = 0;
	if (sl_tok_encode(g->lm.tok, prompt, len, &g->ids, &g->n, &g->cap, &bad) < 0) {
		snprintf(err, errcap, "the model's vocabulary has no character at byte %zu of the "
		         "prompt", bad);
		return -1;
	}
	if (!g->n) {
		if (g->lm.eot < 0) {
			snprintf(err, errcap, "an empty prompt, and the model's vocabulary has no "
			         "end-of-text token to start from");
			return -1;
		}
		push(g, (uint32_t)g->lm.eot);
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->ids[i] >= (uint32_t)g->lm.gpt.cfg.V) {
			snprintf(err, errcap, "the prompt's token %u is beyond the model's %d", g->ids[i],
			         g->lm.gpt.cfg.V);
			return -1;
		}
	if (!o->max_tokens)
		return 0;
	sl_rng_seed(&rng, seed);
	start = g->n > (size_t)g->ctx ? g->n - (size_t)g->ctx : 0;
	for (size_t i = start; i < g->n; i++)
		win[i - start] = (int32_t)g->ids[i];
	sl_gpt_kv_reset(g->kv);
	logits = sl_gpt_kv_feed(g->kv, win, (int)(g->n - start));
	for (long long k = 0; k < o->max_tokens; k++) {
		int ibad;
		int32_t t = sl_sampler_draw(g->smp, logits, &rng, &ibad);
		const char *p;
		size_t pn;
		if (t < 0) {
			snprintf(err, errcap, "the model's score for token %d is not finite (after %lld "
			         "tokens)", ibad, k);
			return -1;
		}
		if (o->stop_at_eot && t == g->lm.eot)
			break;
		g->tokens++;
		sl_tok_bytes(g->lm.tok, (uint32_t)t, &p, &pn);
		sl_buf_put(&g->out, p, pn);
		if (g->emit && g->emit(g, g->arg) < 0)
			return -1;
		push(g, (uint32_t)t);
		if (k + 1 == o->max_tokens)
			break;
		if (sl_gpt_kv_len(g->kv) < g->ctx) {
			logits = sl_gpt_kv_feed(g->kv, &t, 1);
		} else {
			/* slide: the last ctx tokens again, at positions 0..ctx-1 */
			start = g->n - (size_t)g->ctx;
			for (size_t i = start; i < g->n; i++)
				win[i - start] = (int32_t)g->ids[i];
			sl_gpt_kv_reset(g->kv);
			logits = sl_gpt_kv_feed(g->kv, win, g->ctx);
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
	size_t shown; /* bytes of g->out written so far */
	int tty;      /* a terminal: flush every token */
};

static int emit_text(struct gen *g, void *arg)
{
	struct text *t = arg;
	size_t upto = whole(g->out.p, g->out.n);

	if (upto > t->shown) {
		fwrite(g->out.p + t->shown, 1, upto - t->shown, t->f);
		t->shown = upto;
	}
	if (t->tty && fflush(t->f) == EOF)
		return -1;
	return 0;
}

static int text_mode(struct gen *g, const struct opts *o)
{
	struct text t = {stdout, 0, 0};
	const char *prompt = o->prompt ? o->prompt : "";
	const char *name = o->cli.output ? o->cli.output : "stdout";
	char err[300] = "", *tmp = NULL;
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
	g->emit = emit_text;
	g->arg = &t;
	if (o->echo)
		fputs(prompt, t.f);
	rc = run(g, o, prompt, strlen(prompt), (uint64_t)o->seed, err, sizeof err) < 0;
	if (rc && *err)
		sl_warn("%s", err);
	if (!rc) {
		if (g->out.n > t.shown)
			fwrite(g->out.p + t.shown, 1, g->out.n - t.shown, t.f);
		/* the shell's prompt should not land after the text */
		if (t.tty && g->out.n && g->out.p[g->out.n - 1] != '\n')
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
	return rc;
}

/* -------------------------------------------------------- filter mode */

/* The completion as a value: the exact bytes for --bin, else UTF-8 (an
 * unfinished last character dropped, bad bytes as U+FFFD; *fixed is
 * set when that changed anything). */
static struct sl_value completion(struct gen *g, const struct opts *o, struct sl_buf *tmp,
                                  int *fixed)
{
	struct sl_value v = {.kind = o->bin ? SL_BIN : SL_STR};
	size_t keep = o->bin ? g->out.n : whole(g->out.p, g->out.n);

	v.u.s.p = g->out.p;
	v.u.s.n = keep;
	*fixed = keep != g->out.n;
	if (!o->bin && sl_utf8_valid(g->out.p, keep) != keep) {
		tmp->n = 0;
		sl_utf8_repair(tmp, g->out.p, keep);
		v.u.s.p = tmp->p;
		v.u.s.n = tmp->n;
		*fixed = 1;
	}
	return v;
}

/* The output header for input header h: its fields and the completion;
 * NULL with a message when the prompt field is missing or unusable. */
static struct sl_header *out_header(const struct opts *o, const struct sl_header *h,
                                    const char *input, int *idx, int argc, char **argv)
{
	struct sl_header *out;
	struct sl_type t = {.kind = o->bin ? SL_BIN : SL_STR};
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

static int filter_mode(struct gen *g, const struct opts *o, int argc, char **argv, int nin,
                       char **inputs)
{
	struct sl_writer *w = NULL;
	struct sl_header *in = NULL, *out = NULL;
	struct sl_buf tmp = {0};
	struct sl_progress prog;
	uint64_t nrec = 0, nfixed = 0;
	int idx = -1, rc = 0;
	char err[600];

	sl_progress_start(&prog, "records", 0, 0);
	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? inputs[a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			struct sl_value c;
			const void *raw;
			size_t rawn;
			int fixed;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (in && sl_header_same_fields(in, h))
					continue;
				sl_header_free(in);
				sl_header_free(out);
				in = sl_header_copy(h);
				if (!(out = out_header(o, h, sl_reader_name(r), &idx, argc, argv))) {
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
			if (v->kind != SL_STR && v->kind != SL_BIN) {
				sl_warn("%s: record %llu: field \"%s\": no prompt (a missing value)",
				        sl_reader_name(r), (unsigned long long)sl_reader_recno(r), o->field);
				rc = 1;
				break;
			}
			if (run(g, o, v->u.s.p, v->u.s.n, (uint64_t)o->seed + nrec, err, sizeof err) < 0) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), o->field, err);
				rc = 1;
				break;
			}
			c = completion(g, o, &tmp, &fixed);
			nfixed += fixed;
			sl_reader_raw(r, &raw, &rawn);
			if (sl_write_raw_append(w, raw, rawn, &c, 1) < 0) {
				rc = 1;
				break;
			}
			sl_progress_update(&prog, ++nrec);
		}
		if (ev == SL_ERROR) {
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
		        (unsigned long long)g->tokens);
	if (!rc && nfixed)
		sl_warn("%llu completions were cut at an unfinished character or had invalid "
		        "UTF-8 replaced (--bin keeps the bytes)", (unsigned long long)nfixed);
	sl_header_free(in);
	sl_header_free(out);
	sl_buf_free(&tmp);
	return rc;
}


int main(int argc, char **argv)
{
	enum {
		O_PROMPT = SL_OPT_FIRST_FREE, O_FIELD, O_OUTFIELD, O_MAX, O_TEMP, O_TOPK, O_TOPP,
		O_SEED, O_EOT, O_ECHO, O_BIN
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
	    {0, 0, 0, 0},
	};
	struct opts o = {.field = "prompt", .out_field = "completion", .max_tokens = 256,
	                 .s = {.temperature = 1, .top_k = 0, .top_p = 1}};
	struct gen g = {0};
	char err[600];
	const char *why;
	int ch, rc = 0, nin, filter;

	sl_init(argv[0]);
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
	if (sl_lm_load(&g.lm, argv[optind], err, sizeof err) < 0) {
		sl_warn("%s", err);
		return 1;
	}
	optind++;
	sl_blas_threads(1);
	g.ctx = g.lm.ctx < g.lm.gpt.cfg.maxT ? g.lm.ctx : g.lm.gpt.cfg.maxT;
	SL_ASSERT(g.ctx >= 1);
	g.win = sl_xmalloc((size_t)g.ctx * sizeof *g.win);
	g.kv = sl_gpt_kv_new(&g.lm.gpt);
	g.smp = sl_sampler_new(g.lm.gpt.cfg.V, &o.s);
	if (!filter) {
		rc = text_mode(&g, &o);
		goto out;
	}
	rc = filter_mode(&g, &o, argc, argv, nin, argv + optind);
out:
	sl_gpt_kv_free(g.kv);
	sl_sampler_free(g.smp);
	sl_lm_free(&g.lm);
	free(g.ids);
	free(g.win);
	sl_buf_free(&g.out);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-generate [-f] [-o FILE] [--zstd[=LEVEL]] [--prompt TEXT] [--echo]\n"
	        "           [--max-tokens N] [--temperature X] [--top-k N] [--top-p X]\n"
	        "           [--seed N] [--stop-at-eot] [--field F] [--out-field F] [--bin]\n"
	        "           MODEL [FILE ...]\n");
}
