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
 * count); encoding and decoding stream, one record at a time, with a cache
 * of up to a million encoded words.  --fit without --fit-only also encodes
 * its input, which it then keeps in memory (the encoded records' bytes).
 */
#include "sluice.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
 * source field when --drop, plus the new field. */
static struct sl_header *out_header(const struct sl_header *in, const struct opts *o,
                                    int src, struct sl_type t, int argc, char **argv,
                                    const char *inname)
{
	struct sl_header *h = sl_header_new();

	for (size_t f = 0; f < in->nfields; f++)
		if (!(o->drop && (int)f == src))
			sl_header_add(h, in->fields[f].name, in->fields[f].type);
	if (sl_header_add(h, o->out_field, t) < 0) {
		sl_warn("%s: output field \"%s\" exists; pick another with --out-field "
		        "or --drop the source",
		        inname, o->out_field);
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

/* Learns a vocabulary from the --field text of every input record. */
static struct sl_tok *learn(const struct opts *o, int nin, char **files,
                            struct sl_buf *keep)
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
				if (w && sl_reader_segments(r) == 1 && a == 0)
					sl_write_header(w, h);
				else if (w) {
					sl_warn("%s: --fit encodes one segment; use --fit-only, then "
					        "--apply", sl_reader_name(r));
					ok = 0;
					break;
				}
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

static int save_vocab(const struct sl_tok *t, const char *path, int argc, char **argv)
{
	struct sl_wopts wo = {0, 1};
	struct sl_writer *w = sl_writer_open(path, &wo);
	struct sl_header *h = sl_header_new();
	char *err = NULL;
	int rc = 0;

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

/* Encodes or decodes every record of one input. */
static int convert(struct sl_tok *t, const struct opts *o, struct sl_reader *r,
                   struct sl_writer **w, int argc, char **argv)
{
	int ev, fi = -1, decoding = o->decode != NULL, wide = sl_tok_size(t) > 65536;
	struct sl_value *out = NULL;
	uint32_t *ids = NULL;
	size_t cap = 0, nout = 0;
	struct sl_buf bytes = {0}, text = {0};
	struct sl_type tout = {SL_VEC, wide ? SL_ELEM_I32 : SL_ELEM_U16, 0};
	enum sl_elem in_elem = SL_ELEM_NONE;
	int rc = 0;

	if (decoding) {
		tout.kind = o->as_bin ? SL_BIN : SL_STR;
		tout.elem = SL_ELEM_NONE;
	}
	while ((ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		size_t nids = 0, bad, k = 0;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			struct sl_header *oh;
			fi = sl_header_find(h, o->field);
			if (fi < 0 ||
			    (!decoding && h->fields[fi].type.kind != SL_STR &&
			     h->fields[fi].type.kind != SL_BIN) ||
			    (decoding && (h->fields[fi].type.kind != SL_VEC ||
			                  h->fields[fi].type.elem == SL_ELEM_F32 ||
			                  h->fields[fi].type.elem == SL_ELEM_F64))) {
				sl_warn("%s: no %s field \"%s\" (choose one with --field)",
				        sl_reader_name(r), decoding ? "integer vector" : "str or bin",
				        o->field);
				rc = 2;
				break;
			}
			in_elem = h->fields[fi].type.elem;
			if (!(oh = out_header(h, o, fi, tout, argc, argv, sl_reader_name(r)))) {
				rc = 2;
				break;
			}
			if (!*w) {
				*w = sl_writer_open(o->cli.output, &o->cli.w);
				if (sl_writer_error(*w)) {
					sl_warn("%s", sl_writer_error(*w));
					sl_header_free(oh);
					rc = 1;
					break;
				}
			}
			if (sl_write_header(*w, oh) < 0)
				rc = 1;
			nout = oh->nfields;
			out = sl_xrealloc(out, (nout + 1) * sizeof *out);
			sl_header_free(oh);
			if (rc)
				break;
			continue;
		}
		v = sl_reader_values(r);
		for (size_t f = 0; f < sl_reader_header(r)->nfields; f++)
			if (!(o->drop && (int)f == fi))
				out[k++] = v[f];
		if (v[fi].kind == SL_NIL) {
			out[k].kind = SL_NIL;
		} else if (!decoding) {
			if (sl_tok_encode(t, v[fi].u.s.p, v[fi].u.s.n, &ids, &nids, &cap, &bad) < 0) {
				sl_warn("%s: record %llu: field \"%s\": byte %zu: a character not in "
				        "the vocabulary",
				        sl_reader_name(r), (unsigned long long)sl_reader_recno(r),
				        o->field, bad);
				rc = 1;
				break;
			}
			bytes.n = 0;
			for (size_t i = 0; i < nids; i++) {
				if (wide) {
					int32_t x = (int32_t)ids[i];
					sl_buf_put(&bytes, &x, 4);
				} else {
					uint16_t x = (uint16_t)ids[i];
					sl_buf_put(&bytes, &x, 2);
				}
			}
			out[k].kind = SL_VEC;
			out[k].u.s.p = bytes.p ? bytes.p : "";
			out[k].u.s.n = bytes.n;
		} else {
			size_t n = v[fi].u.s.n / sl_elem_size(in_elem);
			if (n > cap) {
				cap = n;
				ids = sl_xrealloc(ids, cap * sizeof *ids);
			}
			for (size_t i = 0; i < n; i++) {
				double x = sl_vec_get(in_elem, v[fi].u.s.p, i);
				ids[i] = x < 0 || x >= 4294967296.0 ? UINT32_MAX : (uint32_t)x;
			}
			text.n = 0;
			if (sl_tok_decode(t, ids, n, &text, &bad) < 0) {
				sl_warn("%s: record %llu: field \"%s\": id %.0f at position %zu is "
				        "not in the vocabulary",
				        sl_reader_name(r), (unsigned long long)sl_reader_recno(r),
				        o->field, sl_vec_get(in_elem, v[fi].u.s.p, bad), bad);
				rc = 1;
				break;
			}
			if (!o->as_bin && sl_utf8_valid(text.p, text.n) != text.n) {
				sl_warn("%s: record %llu: field \"%s\": the decoded bytes are not "
				        "valid UTF-8 at byte %zu (--bin writes them as bin)",
				        sl_reader_name(r), (unsigned long long)sl_reader_recno(r),
				        o->field, sl_utf8_valid(text.p, text.n));
				rc = 1;
				break;
			}
			out[k].kind = o->as_bin ? SL_BIN : SL_STR;
			out[k].u.s.p = text.p ? text.p : "";
			out[k].u.s.n = text.n;
		}
		if (sl_write_record(*w, out, nout) < 0) {
			rc = 1;
			break;
		}
	}
	if (ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		rc = 1;
	}
	free(out);
	free(ids);
	sl_buf_free(&bytes);
	sl_buf_free(&text);
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
	    {0, 0, 0, 0},
	};
	struct opts o = {.mode = SL_TOK_BPE, .vocab_size = 4096,
	                 .specials = "<|endoftext|>,<|pad|>"};
	struct sl_tok *t = NULL;
	struct sl_writer *w = NULL;
	struct sl_buf kept = {0};
	int c, nin, rc = 0, modes;

	sl_init(argv[0]);
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
	if (o.fit) {
		t = learn(&o, nin, argv + optind, o.fit_only ? NULL : &kept);
		if (!t)
			rc = 1;
		else if (save_vocab(t, o.fit, argc, argv) < 0)
			rc = 1;
		if (!rc && !o.fit_only) {
			struct sl_reader *r = sl_reader_mem(kept.p, kept.n,
			                                    nin ? argv[optind] : "(stdin)");
			rc = convert(t, &o, r, &w, argc, argv);
			sl_reader_close(r);
		}
	} else {
		t = load_vocab(o.apply ? o.apply : o.decode);
		if (!t)
			rc = 1;
		for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
			struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
			rc = convert(t, &o, r, &w, argc, argv);
			sl_reader_close(r);
		}
	}
	if (w) {
		char *err = NULL;
		if (rc) {
			sl_writer_abort(w);
		} else if (sl_writer_close(w, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
	}
	sl_tok_free(t);
	sl_buf_free(&kept);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-tokenize [-f] [-o FILE] [--zstd[=LEVEL]]\n"
	        "           --fit VOCAB | --fit-only VOCAB | --apply VOCAB | --decode VOCAB\n"
	        "           [--char] [--vocab-size N] [--special TOK,...] [--field F]\n"
	        "           [--out-field F] [--drop] [--bin] [FILE ...]\n"
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
	        "  --bin             decode into a bin field (for bytes that are not UTF-8)\n");
}
