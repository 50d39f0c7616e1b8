/*
 * cat.c - sluice-cat: look at streams.
 *
 * Reads streams (the files named, or standard input) one after the other
 * and prints their records as JSON Lines, CSV, TSV or an aligned table, or
 * passes them on as a stream (--stream).  --fields keeps some fields, in
 * the order asked; --head, --tail and --sample keep some records.
 * --schema and --lineage print what the headers say instead of records.
 *
 * Each segment (a header and the records under it) gets a `struct seg`:
 * the header, the indices of the fields shown and, for JSON, the keys
 * already escaped, so a record is formatted with no lookups and no
 * printf: numbers go through sl_fmt_int / sl_fmt_float straight into one
 * output buffer that is written out a megabyte at a time.
 *
 * Memory: plain output keeps no record; each is formatted from the
 * reader's buffer.  --tail N and --sample N keep N records (a copy of
 * their shown values each) and the header of every segment one of them
 * came from; --table keeps up to TABLE_PAGE formatted rows at a time.
 */
#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_CHUNK (1 << 20) /* text leaves in writes of about this much */
#define TABLE_PAGE 1000     /* rows that set the column widths */
#define TABLE_MAXW 40       /* widest table cell, in code points */
#define VEC_SHOWN 3         /* vector elements a table cell shows */

enum fmt { FMT_AUTO, FMT_JSON, FMT_CSV, FMT_TSV, FMT_TABLE, FMT_STREAM };
enum show { SHOW_RECORDS, SHOW_SCHEMA, SHOW_LINEAGE };

struct opts {
	struct sl_cli cli;
	enum fmt fmt;
	enum show show;
	int no_header; /* CSV, TSV, table: no row of field names */
	long long head, tail, sample; /* -1: not asked for */
	uint64_t seed;
	char **fields; /* --fields, split at commas; NULL: every field */
	size_t nfields;
	int argc; /* for the lineage */
	char **argv;
};

/* A segment as it is shown: its header and the fields picked from it. */
struct seg {
	int refs;
	struct sl_header *h;   /* the input's header (a copy) */
	struct sl_header *out; /* --stream: the header written */
	size_t n;              /* fields shown */
	size_t *idx;           /* their indices in h */
	int all;               /* every field, in order: raw records pass */
	struct sl_buf keys;    /* JSON: {"a": ,"b": ... back to back */
	size_t *keyoff;        /* n + 1 offsets into keys */
};

/* A record kept by --tail or --sample: its shown values, copied. */
struct kept {
	struct sl_rec rec;
	struct seg *seg;
	uint64_t seq; /* position in the input, for --sample's order */
};

/* The aligned table: rows are formatted, then padded once the widths of
 * the first page of a segment are known. */
struct table {
	struct sl_buf cells; /* every buffered cell, back to back */
	size_t *off;         /* start of each cell, plus one past the last */
	size_t ncells, cap;
	size_t ncols;
	size_t *width; /* code points; set by the first page */
	int *right;    /* numbers are right-aligned */
	int fixed;     /* widths set: the header row is out */
	int printed;   /* a table was printed before this one */
	int no_header; /* --no-header */
};

struct out {
	enum fmt fmt;
	int no_header;
	const char *name; /* for messages */
	int fd;
	char *path, *tmp; /* -o FILE: written to tmp, renamed at the end */
	struct sl_buf b;
	struct sl_writer *w;
	struct seg *last; /* the segment whose field names were shown last */
	struct table t;
	struct sl_value *scratch; /* projected values */
	size_t scratchcap;
};

static void usage(int status);

/* ------------------------------------------------------------ numbers */

static int fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
	return n;
}

static const double pow10tab[18] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                    1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

/* The shortest decimal that reads back as the float32 x, laid out as
 * sl_fmt_float lays out doubles (as Python's repr does): "0.1", not
 * "0.10000000149011612"; "63834030.0"; "1e-05".
 *
 * Below 2^24, where floats are at most 1 apart, the shortest decimal has
 * the fewest decimals k such that round(|x| 10^k) / 10^k rounds to x, and
 * the double d that computes is the decimal rounded once: rounding d to
 * float gives what rounding the decimal would, unless d sits exactly
 * halfway between two floats.  Other values, and such ties, take the
 * slow way: printf with 1 to 9 significant digits until strtof agrees. */
static int fmt_f32(char *out, float x)
{
	double ax = fabs((double)x);
	char e[32], dig[16];
	int n = 0, nd = 0, ex;
	const char *q;

	if (isnan(x) || isinf(x) || ax == 0)
		return sl_fmt_float(out, (double)x);
	if (ax >= 1e-4 && ax < 16777216.0) {
		for (int k = 0; k < 18; k++) {
			double m = nearbyint(ax * pow10tab[k]), d = m / pow10tab[k];
			float f = (float)d;
			if (f != fabsf(x))
				continue;
			if ((double)f != d) {
				float g = nextafterf(f, d > (double)f ? INFINITY : 0);
				if (d == ((double)f + (double)g) / 2)
					break; /* a tie: let strtof decide */
			}
			return sl_fmt_float(out, signbit(x) ? -d : d);
		}
	}
	for (int prec = 1; prec <= 9; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, ax);
		if (strtof(e, NULL) == fabsf(x))
			break;
	}
	for (q = e; *q != 'e'; q++)
		if (*q != '.')
			dig[nd++] = *q;
	ex = atoi(q + 1);
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (signbit(x))
		out[n++] = '-';
	if (ex < -4 || ex >= 16) { /* d.ddde-XX */
		out[n++] = dig[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, dig + 1, (size_t)nd - 1);
			n += nd - 1;
		}
		return n + snprintf(out + n, 8, "e%c%02d", ex < 0 ? '-' : '+', abs(ex));
	}
	if (ex < 0) { /* 0.000ddd */
		memcpy(out + n, "0.", 2);
		n += 2;
		for (int z = 0; z < -ex - 1; z++)
			out[n++] = '0';
		memcpy(out + n, dig, (size_t)nd);
		n += nd;
	} else { /* ddd.ddd, ddd0.0 */
		for (int i = 0; i <= ex; i++)
			out[n++] = i < nd ? dig[i] : '0';
		out[n++] = '.';
		if (nd > ex + 1) {
			memcpy(out + n, dig + ex + 1, (size_t)(nd - ex - 1));
			n += nd - ex - 1;
		} else {
			out[n++] = '0';
		}
	}
	out[n] = 0;
	return n;
}

/* --digits N: floats (and float vector elements) with N decimals; -1 for
 * the shortest text that reads back exactly.  A file-scope setting
 * because every formatting path below consults it. */
static int digits = -1;

/* Element i of a vector, as a number a JSON reader takes back exactly. */
static int fmt_elem(char *out, enum sl_elem e, const char *data, size_t i)
{
	union {
		uint64_t u64;
		int64_t i64;
		float f32;
		double f64;
	} x;

	switch (e) {
	case SL_ELEM_U64:
		memcpy(&x.u64, data + 8 * i, 8);
		return fmt_u64(out, x.u64);
	case SL_ELEM_I64:
		memcpy(&x.i64, data + 8 * i, 8);
		return sl_fmt_int(out, x.i64);
	case SL_ELEM_F32:
		memcpy(&x.f32, data + 4 * i, 4);
		return digits >= 0 ? sl_fmt_fixed(out, x.f32, digits) : fmt_f32(out, x.f32);
	case SL_ELEM_F64:
		memcpy(&x.f64, data + 8 * i, 8);
		return digits >= 0 ? sl_fmt_fixed(out, x.f64, digits) : sl_fmt_float(out, x.f64);
	default: /* the smaller integers are exact as doubles */
		return sl_fmt_int(out, (int64_t)sl_vec_get(e, data, i));
	}
}

/* Appends the elements of a vector separated by sep, at most max of them
 * (then "…"); returns how many there are. */
static size_t put_vec(struct sl_buf *b, const struct sl_type *t,
                      const struct sl_value *v, const char *sep, size_t max)
{
	size_t es = sl_elem_size(t->elem), n = v->u.s.n / es;

	for (size_t i = 0; i < n; i++) {
		if (i == max) {
			sl_buf_puts(b, sep);
			sl_buf_puts(b, "\xe2\x80\xa6");
			break;
		}
		if (i)
			sl_buf_puts(b, sep);
		sl_buf_reserve(b, 48);
		b->n += (size_t)fmt_elem(b->p + b->n, t->elem, v->u.s.p, i);
	}
	return n;
}

/* Appends a scalar as text (ints, floats, bools); 0 if v is not one. */
static int put_scalar(struct sl_buf *b, const struct sl_value *v)
{
	sl_buf_reserve(b, 32);
	switch (v->kind) {
	case SL_BOOL:
		sl_buf_puts(b, v->u.b ? "true" : "false");
		return 1;
	case SL_INT:
		b->n += (size_t)sl_fmt_int(b->p + b->n, v->u.i);
		return 1;
	case SL_FLOAT:
		sl_buf_reserve(b, 48);
		b->n += (size_t)(digits >= 0 ? sl_fmt_fixed(b->p + b->n, v->u.f, digits)
		                             : sl_fmt_float(b->p + b->n, v->u.f));
		return 1;
	default:
		return 0;
	}
}

/* --------------------------------------------------------------- JSON */

/* One record as a JSON object, keys in field order: nil is null, a bin
 * a base64 string, a vector an array of numbers, NaN and the infinities
 * the bare words NaN, Infinity and -Infinity (as Python writes them). */
static void json_record(struct sl_buf *b, const struct seg *s,
                        const struct sl_value *v)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sl_type *t = &s->h->fields[s->idx[i]].type;
		sl_buf_put(b, s->keys.p + s->keyoff[i], s->keyoff[i + 1] - s->keyoff[i]);
		switch (v[i].kind) {
		case SL_NIL:
			sl_buf_put(b, "null", 4);
			break;
		case SL_STR:
			sl_json_str(b, v[i].u.s.p, v[i].u.s.n);
			break;
		case SL_BIN:
			sl_buf_putc(b, '"');
			sl_base64(b, v[i].u.s.p, v[i].u.s.n);
			sl_buf_putc(b, '"');
			break;
		case SL_VEC:
			sl_buf_putc(b, '[');
			put_vec(b, t, &v[i], ",", SIZE_MAX);
			sl_buf_putc(b, ']');
			break;
		default:
			put_scalar(b, &v[i]);
		}
	}
	if (s->n == 0)
		sl_buf_putc(b, '{');
	sl_buf_put(b, "}\n", 2);
}

/* ----------------------------------------------------------- CSV, TSV */

/* A text cell in RFC 4180 style with the given delimiter: quoted when it
 * holds the delimiter, a quote, CR or LF, and when it is empty, so that
 * an empty string ("") stays apart from a missing value (nothing). */
/* Nonzero when a byte of w is zero (the classic bit trick: exact for the
 * question "any zero byte?", which is all it is asked). */
#define HAS_ZERO(w) (((w) - 0x0101010101010101ULL) & ~(w) & 0x8080808080808080ULL)
#define BYTES(c) (0x0101010101010101ULL * (unsigned char)(c))

static void csv_text(struct sl_buf *b, const char *p, size_t n, char delim)
{
	size_t i = 0;
	uint64_t w, d = BYTES(delim);

	/* eight bytes at a time until one of them may need quoting */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		if (HAS_ZERO(w ^ d) | HAS_ZERO(w ^ BYTES('"')) |
		    HAS_ZERO(w ^ BYTES('\n')) | HAS_ZERO(w ^ BYTES('\r')))
			break;
	}
	for (; i < n; i++)
		if (p[i] == delim || p[i] == '"' || p[i] == '\n' || p[i] == '\r')
			break;
	if (i == n && n) {
		sl_buf_put(b, p, n);
		return;
	}
	sl_buf_putc(b, '"');
	for (size_t start = 0;;) {
		const char *q = memchr(p + start, '"', n - start);
		size_t end = q ? (size_t)(q - p) + 1 : n;
		sl_buf_put(b, p + start, end - start);
		if (!q)
			break;
		sl_buf_putc(b, '"'); /* the quote, doubled */
		start = end;
	}
	sl_buf_putc(b, '"');
}

/* One record as a CSV (delim ',') or TSV (delim '\t') line.  A vector is
 * its elements separated by spaces, all of them; a bin is base64. */
static void csv_record(struct sl_buf *b, const struct seg *s,
                       const struct sl_value *v, char delim)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			sl_buf_putc(b, delim);
		switch (v[i].kind) {
		case SL_NIL:
			break;
		case SL_STR:
			csv_text(b, v[i].u.s.p, v[i].u.s.n, delim);
			break;
		case SL_BIN:
			if (v[i].u.s.n)
				sl_base64(b, v[i].u.s.p, v[i].u.s.n);
			else
				sl_buf_put(b, "\"\"", 2);
			break;
		case SL_VEC:
			if (!put_vec(b, &s->h->fields[s->idx[i]].type, &v[i], " ", SIZE_MAX))
				sl_buf_put(b, "\"\"", 2);
			break;
		default:
			put_scalar(b, &v[i]);
		}
	}
	sl_buf_putc(b, '\n');
}

static void csv_names(struct sl_buf *b, const struct seg *s, char delim)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *name = s->h->fields[s->idx[i]].name;
		if (i)
			sl_buf_putc(b, delim);
		csv_text(b, name, strlen(name), delim);
	}
	sl_buf_putc(b, '\n');
}

/* -------------------------------------------------------------- table */

/* One table cell: a missing value is "-", text has its control characters
 * shown as escapes, a vector its type and first VEC_SHOWN elements. */
static void table_cell(struct sl_buf *b, const struct sl_type *t,
                       const struct sl_value *v)
{
	static const char hex[] = "0123456789abcdef";
	char tn[32];
	size_t start;

	switch (v->kind) {
	case SL_NIL:
		sl_buf_putc(b, '-');
		break;
	case SL_STR:
		start = 0;
		for (size_t i = 0; i < v->u.s.n; i++) {
			unsigned char c = (unsigned char)v->u.s.p[i];
			if (c >= 0x20 && c != 0x7f)
				continue;
			sl_buf_put(b, v->u.s.p + start, i - start);
			start = i + 1;
			sl_buf_putc(b, '\\');
			if (c == '\n' || c == '\t' || c == '\r') {
				sl_buf_putc(b, c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
			} else {
				sl_buf_putc(b, 'x');
				sl_buf_putc(b, hex[c >> 4]);
				sl_buf_putc(b, hex[c & 15]);
			}
		}
		sl_buf_put(b, v->u.s.p + start, v->u.s.n - start);
		break;
	case SL_BIN:
		/* base64 of a prefix: the cell is cut at TABLE_MAXW anyway */
		sl_base64(b, v->u.s.p, v->u.s.n < 3 * TABLE_MAXW ? v->u.s.n : 3 * TABLE_MAXW);
		break;
	case SL_VEC: {
		struct sl_type full = *t;
		full.len = (uint32_t)(v->u.s.n / sl_elem_size(t->elem));
		sl_type_format(full, tn, sizeof tn);
		sl_buf_puts(b, tn);
		if (full.len) {
			sl_buf_putc(b, ' ');
			put_vec(b, t, v, " ", VEC_SHOWN);
		}
		break;
	}
	default:
		put_scalar(b, v);
	}
}

/* Appends s padded or cut to width code points. */
static void table_pad(struct sl_buf *b, const char *s, size_t n, size_t width,
                      int right, int last)
{
	size_t len = sl_utf8_len(s, n);

	if (len > width) { /* keep width - 1 code points, then "…" */
		size_t keep = 0, cps = 0;
		while (keep < n) {
			if (((unsigned char)s[keep] & 0xc0) != 0x80 && cps++ == width - 1)
				break;
			keep++;
		}
		sl_buf_put(b, s, keep);
		sl_buf_puts(b, "\xe2\x80\xa6");
		return;
	}
	if (right)
		for (size_t i = len; i < width; i++)
			sl_buf_putc(b, ' ');
	sl_buf_put(b, s, n);
	if (!right && !last)
		for (size_t i = len; i < width; i++)
			sl_buf_putc(b, ' ');
}

static void table_row(struct sl_buf *b, const struct table *t, const char **cell,
                      const size_t *len)
{
	for (size_t c = 0; c < t->ncols; c++) {
		if (c)
			sl_buf_put(b, "  ", 2);
		table_pad(b, cell[c], len[c], t->width[c], t->right[c],
		          c + 1 == t->ncols);
	}
	sl_buf_putc(b, '\n');
}

/* Prints the buffered rows; the first page of a table sets the widths. */
static void table_flush(struct table *t, const struct seg *s, struct sl_buf *b)
{
	size_t rows = t->ncols ? t->ncells / t->ncols : 0;
	const char **cell = sl_xmalloc((t->ncols + 1) * sizeof *cell);
	size_t *len = sl_xmalloc((t->ncols + 1) * sizeof *len);

	if (!t->fixed) {
		for (size_t c = 0; c < t->ncols; c++) {
			cell[c] = s->h->fields[s->idx[c]].name;
			len[c] = strlen(cell[c]);
			t->width[c] = t->no_header ? 1 : sl_utf8_len(cell[c], len[c]);
			for (size_t r = 0; r < rows; r++) {
				size_t k = r * t->ncols + c;
				size_t w = sl_utf8_len(t->cells.p + t->off[k], t->off[k + 1] - t->off[k]);
				if (w > t->width[c])
					t->width[c] = w;
			}
			if (t->width[c] > TABLE_MAXW)
				t->width[c] = TABLE_MAXW;
		}
		if (t->printed)
			sl_buf_putc(b, '\n');
		if (!t->no_header)
			table_row(b, t, cell, len);
		t->fixed = t->printed = 1;
	}
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			size_t k = r * t->ncols + c;
			cell[c] = t->cells.p + t->off[k];
			len[c] = t->off[k + 1] - t->off[k];
		}
		table_row(b, t, cell, len);
	}
	t->ncells = 0;
	t->cells.n = 0;
	free(cell);
	free(len);
}

/* Starts a new table with the columns of s. */
static void table_start(struct table *t, const struct seg *s)
{
	t->ncols = s->n;
	t->width = sl_xrealloc(t->width, (s->n + 1) * sizeof *t->width);
	t->right = sl_xrealloc(t->right, (s->n + 1) * sizeof *t->right);
	for (size_t c = 0; c < s->n; c++) {
		enum sl_kind k = s->h->fields[s->idx[c]].type.kind;
		t->right[c] = k == SL_INT || k == SL_FLOAT;
	}
	t->fixed = 0;
}

static void table_add(struct table *t, const struct seg *s,
                      const struct sl_value *v)
{
	if (t->ncells + t->ncols + 1 > t->cap) {
		t->cap = 2 * t->cap + t->ncols + 1;
		t->off = sl_xrealloc(t->off, t->cap * sizeof *t->off);
	}
	for (size_t c = 0; c < t->ncols; c++) {
		t->off[t->ncells++] = t->cells.n;
		table_cell(&t->cells, &s->h->fields[s->idx[c]].type, &v[c]);
	}
	t->off[t->ncells] = t->cells.n;
}

/* ----------------------------------------------------------- segments */

static struct seg *seg_ref(struct seg *s)
{
	s->refs++;
	return s;
}

static void seg_unref(struct seg *s)
{
	if (!s || --s->refs > 0)
		return;
	sl_header_free(s->h);
	sl_header_free(s->out);
	free(s->idx);
	free(s->keyoff);
	sl_buf_free(&s->keys);
	free(s);
}

/* The segment for header h of input `in`: the fields to show (an unknown
 * --fields name is an error for the caller, in *err) and, for --stream,
 * the header to write. */
static struct seg *seg_new(const struct opts *o, const struct sl_header *h,
                           const char *in, uint64_t segno, char **err)
{
	struct seg *s = sl_xcalloc(1, sizeof *s);

	s->refs = 1;
	s->h = sl_header_copy(h);
	s->n = o->fields ? o->nfields : h->nfields;
	s->idx = sl_xmalloc((s->n + 1) * sizeof *s->idx);
	s->all = !o->fields;
	for (size_t i = 0; i < s->n; i++) {
		int k = o->fields ? sl_header_find(h, o->fields[i]) : (int)i;
		if (k < 0) {
			struct sl_buf m = {0};
			sl_buf_printf(&m, "%s: segment %llu has no field \"%s\" (it has:", in,
			              (unsigned long long)segno, o->fields[i]);
			for (size_t j = 0; j < h->nfields; j++)
				sl_buf_printf(&m, "%s %s", j ? "," : "", h->fields[j].name);
			sl_buf_puts(&m, ")");
			*err = sl_xstrdup(sl_buf_cstr(&m));
			sl_buf_free(&m);
			seg_unref(s);
			return NULL;
		}
		s->idx[i] = (size_t)k;
	}
	if (o->fmt == FMT_JSON) {
		s->keyoff = sl_xmalloc((s->n + 1) * sizeof *s->keyoff);
		for (size_t i = 0; i < s->n; i++) {
			const char *name = h->fields[s->idx[i]].name;
			s->keyoff[i] = s->keys.n;
			sl_buf_putc(&s->keys, i ? ',' : '{');
			sl_json_str(&s->keys, name, strlen(name));
			sl_buf_putc(&s->keys, ':');
		}
		s->keyoff[s->n] = s->keys.n;
	}
	if (o->fmt == FMT_STREAM) {
		s->out = sl_header_new();
		for (size_t i = 0; i < s->n; i++)
			sl_header_add(s->out, h->fields[s->idx[i]].name,
			              h->fields[s->idx[i]].type);
		sl_val_free(&s->out->meta);
		sl_val_free(&s->out->lineage);
		s->out->meta = sl_val_copy(&h->meta);
		s->out->lineage = sl_val_copy(&h->lineage);
		sl_header_lineage(s->out, o->argc, o->argv);
	}
	return s;
}

/* Do a and b show the same field names (what a CSV header row says)? */
static int seg_same_names(const struct seg *a, const struct seg *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->h->fields[a->idx[i]].name, b->h->fields[b->idx[i]].name))
			return 0;
	return 1;
}

/* ------------------------------------------------------------- output */

static void out_remove_tmp(struct out *o)
{
	if (o->tmp) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
}

static _Noreturn void out_write_failed(struct out *o, int errnum)
{
	out_remove_tmp(o);
	sl_die(1, "%s: write error: %s", o->name, strerror(errnum));
}

static void out_drain(struct out *o)
{
	const char *p = o->b.p;
	size_t n = o->b.n;

	while (n) {
		ssize_t k = write(o->fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			out_write_failed(o, errno);
		}
		p += k;
		n -= (size_t)k;
	}
	o->b.n = 0;
}

/* Is path a regular file, or nothing yet?  Only those are replaced by
 * renaming: renaming over /dev/null would replace the device. */
static int regular_or_new(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? errno == ENOENT : S_ISREG(st.st_mode);
}

static void out_open(struct out *o, const struct opts *opt)
{
	const char *path = opt->cli.output;

	memset(o, 0, sizeof *o);
	o->fmt = opt->fmt;
	o->no_header = o->t.no_header = opt->no_header;
	o->fd = 1;
	o->name = "(stdout)";
	if (path && strcmp(path, "-") == 0)
		path = NULL;
	if (o->fmt == FMT_STREAM) {
		o->w = sl_writer_open(path, &opt->cli.w);
		if (sl_writer_error(o->w))
			sl_die(1, "%s", sl_writer_error(o->w));
		return;
	}
	if (path && !regular_or_new(path)) { /* a device or a pipe: as it is */
		o->name = path;
		o->fd = open(path, O_WRONLY | O_TRUNC);
		if (o->fd < 0)
			sl_die(1, "%s: %s", path, strerror(errno));
	} else if (path) { /* written beside the target, renamed when complete */
		mode_t um = umask(0);
		umask(um);
		o->name = o->path = sl_xstrdup(path);
		o->tmp = sl_xmalloc(strlen(path) + 16);
		sprintf(o->tmp, "%s.XXXXXX", path);
		o->fd = mkstemp(o->tmp);
		if (o->fd < 0) {
			free(o->tmp);
			o->tmp = NULL;
			sl_die(1, "%s: cannot create a temporary file beside it: %s", path,
			       strerror(errno));
		}
		fchmod(o->fd, 0666 & ~um);
	}
	sl_buf_reserve(&o->b, OUT_CHUNK + 4096);
}

/* Shows the start of segment s (a CSV header row, a stream header, a new
 * table) where the names shown change, or always for a stream. */
static void out_segment(struct out *o, struct seg *s)
{
	int same = o->last && seg_same_names(o->last, s);

	switch (o->fmt) {
	case FMT_STREAM:
		sl_write_header(o->w, s->out);
		break;
	case FMT_CSV:
	case FMT_TSV:
		if (!same && !o->no_header)
			csv_names(&o->b, s, o->fmt == FMT_CSV ? ',' : '\t');
		break;
	case FMT_TABLE:
		if (!same) {
			if (o->last)
				table_flush(&o->t, o->last, &o->b);
			table_start(&o->t, s);
		}
		break;
	default:
		break;
	}
	if (!same || o->fmt == FMT_STREAM) {
		seg_unref(o->last);
		o->last = seg_ref(s);
	}
}

/* Shows one record: v holds the segment's shown values; raw, when not
 * NULL, is the record as read (used by --stream when every field goes). */
static void out_record(struct out *o, struct seg *s, const struct sl_value *v,
                       const void *raw, size_t rawn)
{
	switch (o->fmt) {
	case FMT_STREAM:
		if (raw && s->all)
			sl_write_raw(o->w, raw, rawn);
		else
			sl_write_record(o->w, v, s->n);
		return;
	case FMT_JSON:
		json_record(&o->b, s, v);
		break;
	case FMT_CSV:
		csv_record(&o->b, s, v, ',');
		break;
	case FMT_TSV:
		csv_record(&o->b, s, v, '\t');
		break;
	case FMT_TABLE:
		table_add(&o->t, o->last, v);
		if (o->t.ncols && o->t.ncells / o->t.ncols >= TABLE_PAGE)
			table_flush(&o->t, o->last, &o->b);
		break;
	default:
		SL_ASSERT(!"output format");
	}
	if (o->b.n >= OUT_CHUNK)
		out_drain(o);
}

/* The shown values of the reader's current record, in o->scratch. */
static const struct sl_value *out_project(struct out *o, const struct seg *s,
                                          const struct sl_value *v)
{
	if (s->all)
		return v;
	if (s->n > o->scratchcap) {
		o->scratchcap = s->n;
		o->scratch = sl_xrealloc(o->scratch, s->n * sizeof *o->scratch);
	}
	for (size_t i = 0; i < s->n; i++)
		o->scratch[i] = v[s->idx[i]];
	return o->scratch;
}

/* Ends the output: everything written, the file renamed into place.
 * Returns only on success. */
static void out_close(struct out *o)
{
	char *err = NULL;

	if (o->fmt == FMT_STREAM) {
		if (sl_writer_close(o->w, &err) < 0)
			sl_die(1, "%s", err);
		o->w = NULL;
	} else {
		if (o->fmt == FMT_TABLE && o->last)
			table_flush(&o->t, o->last, &o->b);
		out_drain(o);
		if (o->tmp) {
			if (close(o->fd) < 0)
				out_write_failed(o, errno);
			if (rename(o->tmp, o->path) < 0) {
				int e = errno;
				out_remove_tmp(o);
				sl_die(1, "%s: cannot rename the temporary file into place: %s",
				       o->path, strerror(e));
			}
			free(o->tmp);
			o->tmp = NULL;
		}
	}
	seg_unref(o->last);
	o->last = NULL;
	free(o->path);
	free(o->scratch);
	free(o->t.off);
	free(o->t.width);
	free(o->t.right);
	sl_buf_free(&o->t.cells);
	sl_buf_free(&o->b);
}

/* Stops on bad input: what was shown so far goes out (a file being
 * written is dropped), then the message. */
static _Noreturn void out_fail(struct out *o, const char *msg)
{
	char *m = sl_xstrdup(msg);

	if (o->fmt == FMT_STREAM) {
		sl_writer_flush(o->w); /* a named file is dropped by the abort */
		sl_writer_abort(o->w);
		o->w = NULL;
	} else if (o->tmp) {
		out_remove_tmp(o);
	} else {
		if (o->fmt == FMT_TABLE && o->last)
			table_flush(&o->t, o->last, &o->b);
		out_drain(o);
	}
	sl_die(1, "%s", m);
}

/* -------------------------------------------------------- --tail, --sample */

struct keep {
	struct kept *k;
	size_t n, cap;   /* slots used, allocated */
	uint64_t seen;   /* records offered */
	long long limit; /* N */
	int sample;      /* reservoir (else a ring of the last N) */
	struct sl_rng rng;
};

static void keep_store(struct kept *k, struct seg *s, const struct sl_value *v,
                       uint64_t seq)
{
	sl_rec_set(&k->rec, v, s->n);
	if (k->seg != s) {
		seg_unref(k->seg);
		k->seg = seg_ref(s);
	}
	k->seq = seq;
}

/* Offers one record.  --tail keeps the last N in a ring; --sample keeps a
 * uniform sample of N (reservoir sampling: the i-th record, from 0,
 * replaces a random slot with probability N / (i + 1)). */
static void keep_offer(struct keep *kp, struct seg *s, const struct sl_value *v)
{
	uint64_t i = kp->seen++;
	size_t slot;

	if (kp->limit == 0)
		return;
	if (i < (uint64_t)kp->limit) {
		if (kp->n == kp->cap) {
			kp->cap = kp->cap ? 2 * kp->cap : 64;
			if (kp->cap > (size_t)kp->limit)
				kp->cap = (size_t)kp->limit;
			kp->k = sl_xrealloc(kp->k, kp->cap * sizeof *kp->k);
			memset(kp->k + kp->n, 0, (kp->cap - kp->n) * sizeof *kp->k);
		}
		slot = kp->n++;
	} else if (kp->sample) {
		uint64_t j = sl_rng_below(&kp->rng, i + 1);
		if (j >= (uint64_t)kp->limit)
			return;
		slot = (size_t)j;
	} else {
		slot = (size_t)(i % (uint64_t)kp->limit);
	}
	keep_store(&kp->k[slot], s, v, i);
}

static int by_seq(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Shows the kept records in input order; first is the segment shown when
 * none was kept, so that the output still has its header. */
static void keep_flush(struct keep *kp, struct out *o, struct seg *first)
{
	struct seg *cur = NULL;

	if (kp->sample)
		qsort(kp->k, kp->n, sizeof *kp->k, by_seq);
	else if (kp->n && kp->seen > kp->n) { /* the ring's oldest slot first */
		size_t start = (size_t)(kp->seen % (uint64_t)kp->n);
		struct kept *tmp = sl_xmalloc(kp->n * sizeof *tmp);
		for (size_t i = 0; i < kp->n; i++)
			tmp[i] = kp->k[(start + i) % kp->n];
		memcpy(kp->k, tmp, kp->n * sizeof *tmp);
		free(tmp);
	}
	if (kp->n == 0 && first)
		out_segment(o, first);
	for (size_t i = 0; i < kp->n; i++) {
		if (kp->k[i].seg != cur) {
			cur = kp->k[i].seg;
			out_segment(o, cur);
		}
		out_record(o, cur, kp->k[i].rec.v, NULL, 0);
	}
	for (size_t i = 0; i < kp->n; i++) {
		sl_rec_free(&kp->k[i].rec);
		seg_unref(kp->k[i].seg);
	}
	free(kp->k);
}

/* ------------------------------------------------- --schema, --lineage */

/* Prints what a segment's header says: its fields and types (with the
 * number of records under it) and other keys, or its lineage. */
static void show_header(struct sl_buf *b, const struct opts *o,
                        const struct sl_header *h, const char *in,
                        uint64_t segno, uint64_t records)
{
	char tn[32];
	size_t w = 0;

	if (o->show == SHOW_LINEAGE) {
		sl_val_json(b, &h->lineage);
		sl_buf_putc(b, '\n');
		return;
	}
	if (o->fmt == FMT_JSON) {
		sl_buf_puts(b, "{\"input\":");
		sl_json_str(b, in, strlen(in));
		sl_buf_printf(b, ",\"segment\":%llu,\"records\":%llu,\"fields\":[",
		              (unsigned long long)segno, (unsigned long long)records);
		for (size_t i = 0; i < h->nfields; i++) {
			sl_buf_puts(b, i ? ",[" : "[");
			sl_json_str(b, h->fields[i].name, strlen(h->fields[i].name));
			sl_type_format(h->fields[i].type, tn, sizeof tn);
			sl_buf_putc(b, ',');
			sl_json_str(b, tn, strlen(tn));
			sl_buf_putc(b, ']');
		}
		sl_buf_puts(b, "],\"meta\":");
		sl_val_json(b, &h->meta);
		sl_buf_puts(b, "}\n");
		return;
	}
	sl_buf_printf(b, "%s: segment %llu: %zu field%s, %llu record%s\n", in,
	              (unsigned long long)segno, h->nfields, h->nfields == 1 ? "" : "s",
	              (unsigned long long)records, records == 1 ? "" : "s");
	for (size_t i = 0; i < h->nfields; i++) {
		size_t len = sl_utf8_len(h->fields[i].name, strlen(h->fields[i].name));
		if (len > w)
			w = len;
	}
	for (size_t i = 0; i < h->nfields; i++) {
		sl_type_format(h->fields[i].type, tn, sizeof tn);
		sl_buf_puts(b, "  ");
		table_pad(b, h->fields[i].name, strlen(h->fields[i].name), w, 0, 0);
		sl_buf_printf(b, "  %s\n", tn);
	}
	if (h->meta.n) {
		sl_buf_puts(b, "  meta: ");
		sl_val_json(b, &h->meta);
		sl_buf_putc(b, '\n');
	}
}

/* --schema and --lineage: every input read to its end, each segment shown
 * (--schema when it ends, to count its records). */
static void run_headers(const struct opts *o, char **inputs, int ninputs)
{
	struct out out;

	out_open(&out, o);
	for (int f = 0; f < ninputs; f++) {
		struct sl_reader *r = sl_reader_open(inputs[f]);
		const char *in = sl_reader_name(r);
		struct sl_header *h = NULL;
		uint64_t segno = 0, start = 0;
		int rc;

		while ((rc = sl_read(r)) > 0) {
			if (rc != SL_HEADER)
				continue;
			if (o->show == SHOW_LINEAGE) {
				show_header(&out.b, o, sl_reader_header(r), in, 0, 0);
			} else {
				if (h)
					show_header(&out.b, o, h, in, segno,
					            sl_reader_recno(r) - start);
				sl_header_free(h);
				h = sl_header_copy(sl_reader_header(r));
				segno = sl_reader_segments(r);
				start = sl_reader_recno(r);
			}
			if (out.b.n >= OUT_CHUNK)
				out_drain(&out);
		}
		if (rc == SL_ERROR) {
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", sl_reader_error(r));
			sl_header_free(h);
			sl_reader_close(r);
			out_fail(&out, msg);
		}
		if (h)
			show_header(&out.b, o, h, in, segno, sl_reader_recno(r) - start);
		sl_header_free(h);
		sl_reader_close(r);
	}
	out_close(&out);
}

/* --------------------------------------------------------------- records */

static void run_records(const struct opts *o, char **inputs, int ninputs)
{
	struct out out;
	struct keep kp;
	struct seg *seg = NULL, *first = NULL;
	uint64_t shown = 0;
	int keeping = o->tail >= 0 || o->sample >= 0, done = 0;

	memset(&kp, 0, sizeof kp);
	kp.sample = o->sample >= 0;
	kp.limit = kp.sample ? o->sample : o->tail;
	sl_rng_seed(&kp.rng, o->seed);
	out_open(&out, o);
	for (int f = 0; f < ninputs && !done; f++) {
		struct sl_reader *r = sl_reader_open(inputs[f]);
		int rc;

		while (!done && (rc = sl_read(r)) > 0) {
			if (rc == SL_HEADER) {
				char *err = NULL;
				if (first && o->head >= 0 && shown >= (uint64_t)o->head) {
					done = 1; /* no header for a segment of no records */
					break;
				}
				seg_unref(seg);
				seg = seg_new(o, sl_reader_header(r), sl_reader_name(r),
				              sl_reader_segments(r), &err);
				if (!seg) {
					char msg[1024];
					snprintf(msg, sizeof msg, "%s", err);
					free(err);
					sl_reader_close(r);
					out_fail(&out, msg);
				}
				if (!first)
					first = seg_ref(seg);
				if (!keeping)
					out_segment(&out, seg);
				continue;
			}
			if (o->head >= 0 && shown >= (uint64_t)o->head) {
				done = 1;
				break;
			}
			if (keeping) {
				keep_offer(&kp, seg, out_project(&out, seg, sl_reader_values(r)));
			} else {
				const void *raw;
				size_t rawn;
				sl_reader_raw(r, &raw, &rawn);
				out_record(&out, seg, out_project(&out, seg, sl_reader_values(r)),
				           raw, rawn);
				shown++;
			}
		}
		if (!done && rc == SL_ERROR)
			out_fail(&out, sl_reader_error(r));
		sl_reader_close(r);
		if (out.w && sl_writer_error(out.w))
			break;
	}
	if (keeping)
		keep_flush(&kp, &out, first);
	seg_unref(seg);
	seg_unref(first);
	out_close(&out);
}

/* ------------------------------------------------------------------ main */

enum {
	OPT_JSON = SL_OPT_FIRST_FREE,
	OPT_CSV,
	OPT_TSV,
	OPT_TABLE,
	OPT_HEAD,
	OPT_TAIL,
	OPT_SAMPLE,
	OPT_SEED,
	OPT_FIELDS,
	OPT_SCHEMA,
	OPT_LINEAGE,
	OPT_NO_HEADER,
	OPT_DIGITS,
};

static long long count_arg(const char *opt, const char *arg)
{
	long long n = sl_parse_count(arg);

	if (n < 0) {
		sl_warn("%s: '%s' is not a count", opt, arg);
		usage(2);
		exit(2);
	}
	return n;
}

/* Splits --fields a,b,c; an empty or repeated name is a usage error. */
static void split_fields(struct opts *o, const char *arg)
{
	char *copy = sl_xstrdup(arg), *p = copy, *tok;

	o->nfields = 0;
	o->fields = sl_xmalloc((strlen(arg) / 2 + 2) * sizeof *o->fields);
	while ((tok = strsep(&p, ","))) {
		if (!*tok) {
			sl_warn("--fields: an empty field name in '%s'", arg);
			usage(2);
			exit(2);
		}
		for (size_t i = 0; i < o->nfields; i++)
			if (strcmp(o->fields[i], tok) == 0) {
				sl_warn("--fields: '%s' is named twice", tok);
				usage(2);
				exit(2);
			}
		o->fields[o->nfields++] = tok;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"json", no_argument, 0, OPT_JSON},
	    {"csv", no_argument, 0, OPT_CSV},
	    {"tsv", no_argument, 0, OPT_TSV},
	    {"table", no_argument, 0, OPT_TABLE},
	    {"stream", no_argument, 0, 's'},
	    {"head", required_argument, 0, OPT_HEAD},
	    {"tail", required_argument, 0, OPT_TAIL},
	    {"sample", required_argument, 0, OPT_SAMPLE},
	    {"seed", required_argument, 0, OPT_SEED},
	    {"fields", required_argument, 0, OPT_FIELDS},
	    {"schema", no_argument, 0, OPT_SCHEMA},
	    {"lineage", no_argument, 0, OPT_LINEAGE},
	    {"no-header", no_argument, 0, OPT_NO_HEADER},
	    {"digits", required_argument, 0, OPT_DIGITS},
	    {0, 0, 0, 0},
	};
	struct opts o;
	char *stdin_only[] = {"-"}, *end;
	int c, picks;

	sl_init(argv[0]);
	memset(&o, 0, sizeof o);
	o.head = o.tail = o.sample = -1;
	o.argc = argc;
	o.argv = argv;
	while ((c = getopt_long(argc, argv, "o:fzs", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case OPT_JSON: o.fmt = FMT_JSON; break;
		case OPT_CSV: o.fmt = FMT_CSV; break;
		case OPT_TSV: o.fmt = FMT_TSV; break;
		case OPT_TABLE: o.fmt = FMT_TABLE; break;
		case 's': o.fmt = FMT_STREAM; break;
		case OPT_HEAD: o.head = count_arg("--head", optarg); break;
		case OPT_TAIL: o.tail = count_arg("--tail", optarg); break;
		case OPT_SAMPLE: o.sample = count_arg("--sample", optarg); break;
		case OPT_SEED:
			errno = 0;
			o.seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-') {
				sl_warn("--seed: '%s' is not a non-negative integer", optarg);
				usage(2);
				exit(2);
			}
			break;
		case OPT_FIELDS: split_fields(&o, optarg); break;
		case OPT_SCHEMA: o.show = SHOW_SCHEMA; break;
		case OPT_LINEAGE: o.show = SHOW_LINEAGE; break;
		case OPT_NO_HEADER: o.no_header = 1; break;
		case OPT_DIGITS: {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (*end || end == optarg || d < 0 || d > 17)
				sl_die(2, "--digits: 0 to 17, not '%s'", optarg);
			digits = (int)d;
			break;
		}
		default:
			usage(2);
			exit(2);
		}
	}
	picks = (o.head >= 0) + (o.tail >= 0) + (o.sample >= 0);
	if (picks > 1) {
		sl_warn("--head, --tail and --sample do not go together");
		usage(2);
		exit(2);
	}
	if (o.show != SHOW_RECORDS && (picks || o.fields || o.no_header ||
	                               (o.fmt != FMT_AUTO && o.fmt != FMT_JSON))) {
		sl_warn("--schema and --lineage take no record or format options "
		        "(but --json)");
		usage(2);
		exit(2);
	}
	if (o.fmt == FMT_AUTO) /* --schema is text unless --json */
		o.fmt = o.show == SHOW_SCHEMA || isatty(1) ? FMT_TABLE : FMT_JSON;
	if (o.cli.w.zstd && o.fmt != FMT_STREAM) {
		sl_warn("--zstd compresses a stream: it needs --stream");
		usage(2);
		exit(2);
	}
	if (optind == argc)
		argv = stdin_only, optind = 0, argc = 1;
	if (o.show != SHOW_RECORDS)
		run_headers(&o, argv + optind, argc - optind);
	else
		run_records(&o, argv + optind, argc - optind);
	free(o.fields ? o.fields[0] : NULL);
	free(o.fields);
	return 0;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-cat [--json | --csv | --tsv | --table | -s] "
	        "[--no-header] [--digits N]\n"
	        "                  [--fields LIST]"
	        " [--head N | --tail N | --sample N [--seed S]]\n"
	        "                  [-f] [-o FILE] [--zstd[=LEVEL]] [file ...]\n"
	        "       sluice-cat --schema [--json] [file ...]\n"
	        "       sluice-cat --lineage [file ...]\n");
}
