/*
 * csv.c - cutting RFC 4180 text (comma or tab separated) into records.
 *
 * A record is one line, unless a quoted field holds line breaks.  A field
 * that starts with a double quote runs to its closing quote, with "" for a
 * quote inside; after the closing quote comes the delimiter or the end of
 * the line, nothing else.  Any other field runs to the next delimiter or
 * the end of the line and is taken as it is, quotes inside included.  A
 * line ends with LF or CRLF; the last one may end without either.
 *
 * The one rule that makes `sluice cat --csv | sluice ingest` exact: an
 * empty field without quotes is a missing value, a quoted empty field ""
 * is the empty string.  NA tokens (--na) only match unquoted fields too.
 *
 * Speed is the point of this file.  The end of the line is found with
 * memchr, the fields within it with memchr on the delimiter, and nothing is
 * copied: cells point into the input buffer.  The one rewrite, undoing
 * doubled quotes, happens in place (the text only gets shorter) and only
 * after the whole record was seen, because a record cut by the end of the
 * buffer is parsed again from its start after the next read.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

enum { CSV_ERR = -1, CSV_MORE = 0, CSV_OK = 1 };

void csv_init(struct csv *c, struct input *in, char delim, const struct opts *o)
{
	memset(c, 0, sizeof *c);
	c->in = in;
	c->delim = delim;
	c->o = o;
	c->na_on = 1;
	for (size_t i = 0; i < o->nna; i++)
		if (strlen(o->na[i]) > c->na_max)
			c->na_max = strlen(o->na[i]);
}

static int is_na(const struct csv *c, const char *p, size_t n)
{
	if (!c->na_on)
		return 0;
	for (size_t i = 0; i < c->o->nna; i++)
		if (strlen(c->o->na[i]) == n && memcmp(c->o->na[i], p, n) == 0)
			return 1;
	return 0;
}

static void set_unquoted(const struct csv *c, struct cell *cl, const char *s,
                         const char *p, size_t n)
{
	cl->p = p;
	cl->n = n;
	cl->at = (uint32_t)(p - s);
	cl->esc = 0;
	cl->kind = n == 0 || (n <= c->na_max && is_na(c, p, n)) ? CELL_MISSING
	                                                        : CELL_TEXT;
}

/* Turns each "" of a quoted field into ", in place. */
static void undouble(struct cell *cl)
{
	char *w = memchr(cl->p, '"', cl->n), *r = w, *e = (char *)cl->p + cl->n;

	while (r < e) {
		char ch = *r++;
		*w++ = ch;
		if (ch == '"')
			r++;
	}
	cl->n = (size_t)(w - cl->p);
}

/* The first byte d in [q, e), or e.  Eight bytes at a time: a byte of
 * x = w ^ (d * 0x01..01) is zero where w has d, and the expression below
 * sets the top bit of exactly those bytes (no carry crosses a byte).
 * The loads may run up to 7 bytes past e: the input buffer has room. */
static inline char *find(char *q, char *e, char d)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, dd = 0x0101010101010101ULL * (unsigned char)d;
	uint64_t w, x, m;

	for (; q < e; q += 8) {
		memcpy(&w, q, 8);
		x = w ^ dd;
		m = ~(((x & lo7) + lo7) | x) & ~lo7;
		if (m) {
			q += __builtin_ctzll(m) >> 3;
			return q < e ? q : e;
		}
	}
	return e;
#else
	while (q < e && *q != d)
		q++;
	return q;
#endif
}

/* Whether p[0..n) is all ASCII, eight bytes at a time. */
static int ascii(const char *p, size_t n)
{
	uint64_t w, any = 0;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		any |= w;
	}
	for (; i < n; i++)
		any |= (unsigned char)p[i];
	return !(any & 0x8080808080808080ULL);
}

/* Parses the record at s (the input has bytes up to end, and no more when
 * eof).  Returns CSV_OK with the cells in r, *next at the next record and
 * *lines the line breaks it spans; CSV_MORE when it runs past end;
 * CSV_ERR on malformed quoting. */
static int parse(struct csv *c, struct row *r, char *s, char *end, int eof,
                 char **next, uint64_t *lines, struct ingest *g)
{
	const char d = c->delim;
	char *p = s, *eol, *q;
	uint64_t nl = 0;
	struct cell *cl;
	size_t n;

	r->n = 0;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol) {
		if (!eof)
			return CSV_MORE;
		eol = end;
	}
	r->blank = p == eol || (p + 1 == eol && *p == '\r');
	for (;;) {
		cl = row_add(r);
		if (p == end || *p != '"') {
			q = find(p, eol, d);
			if (q < eol) {
				set_unquoted(c, cl, s, p, (size_t)(q - p));
				p = q + 1;
				continue;
			}
			n = (size_t)(eol - p);
			if (n && p[n - 1] == '\r')
				n--;
			set_unquoted(c, cl, s, p, n);
			break;
		}
		cl->esc = 0;
		for (q = p + 1;; q += 2) {
			q = memchr(q, '"', (size_t)(end - q));
			if (!q) {
				if (!eof)
					return CSV_MORE;
				return ing_fail(g, "%s: line %llu: field %zu: the quoted field "
				                   "is not closed before the end of the input",
				                c->in->name, (unsigned long long)(c->in->line + nl),
				                r->n);
			}
			if (q + 1 == end && !eof)
				return CSV_MORE;
			if (q + 1 == end || q[1] != '"')
				break;
			cl->esc = 1;
		}
		cl->p = p + 1;
		cl->n = (size_t)(q - p - 1);
		cl->at = (uint32_t)(p + 1 - s);
		cl->kind = CELL_TEXT;
		if (q > eol) { /* the field holds line breaks */
			for (char *x = eol; x < q; x++)
				nl += *x == '\n';
			eol = memchr(q, '\n', (size_t)(end - q));
			if (!eol) {
				if (!eof)
					return CSV_MORE;
				eol = end;
			}
		}
		p = q + 1;
		if (p < eol && *p == d) {
			p++;
			continue;
		}
		if (p == eol || (*p == '\r' && p + 1 == eol))
			break;
		return ing_fail(g, "%s: line %llu: field %zu: text after the closing "
		                   "quote (a quote inside a quoted field is written \"\")",
		                c->in->name, (unsigned long long)(c->in->line + nl), r->n);
	}
	*next = eol < end ? eol + 1 : end;
	*lines = nl + (eol < end);
	r->ascii = ascii(s, (size_t)(eol - s));
	for (size_t i = 0; i < r->n; i++)
		if (r->c[i].esc)
			undouble(&r->c[i]);
	return CSV_OK;
}

int csv_next(struct csv *c, struct row *r, struct ingest *g)
{
	struct input *in = c->in;
	char *next = NULL;
	uint64_t lines = 0;
	int rc;

	for (;;) {
		if (in->pos < in->end) {
			rc = parse(c, r, in->buf + in->pos, in->buf + in->end, in->eof,
			           &next, &lines, g);
			if (rc == CSV_OK) {
				r->line = in->line;
				r->off = in->base + in->pos;
				in->line += lines;
				in->pos = (size_t)(next - in->buf);
				return 1;
			}
			if (rc == CSV_ERR)
				return -1;
		} else if (in->eof) {
			return 0;
		}
		if (input_fill(in, g) < 0)
			return -1;
	}
}
