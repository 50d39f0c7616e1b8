/*
 * json.c - a strict JSON reader for records.
 *
 * An input is either objects one after another (JSON Lines: one per line,
 * though any whitespace between them will do) or one top-level array of
 * objects, and nothing else.  Each object is a record; its members are
 * handed out as cells that keep their JSON kind: strings unescaped, numbers
 * and true/false as written, null as missing, and nested objects and arrays
 * as compact JSON text (insignificant whitespace dropped, everything else,
 * escapes included, as written).
 *
 * Strict means RFC 8259: no comments, no trailing commas, no single
 * quotes, no leading zeros, no control characters inside strings, strings
 * in valid UTF-8 and without lone surrogates (unless --replace-invalid).
 * An error names the line and column (in bytes, from 1).
 *
 * Like the CSV reader it parses straight out of the input buffer and does
 * not keep state across a buffer boundary: an object cut by the end of the
 * buffer is parsed again from its '{' after the next read.  Only strings
 * with escapes and nested values are copied (into one buffer, reset per
 * object).  Nesting deeper than MAX_DEPTH is refused, which bounds the
 * recursion.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512

enum { J_START, J_ARRAY_FIRST, J_ARRAY_NEXT, J_SEQ, J_DONE };
enum { JP_ERR = -1, JP_MORE = 0, JP_OK = 1, JP_END = 2 };

/* One parse attempt over the bytes [p, end) of the input. */
struct jp {
	struct json *j;
	const char *p, *end;
	int eof;
	int depth;
	const char *errp, *msg; /* where and what, after JP_ERR */
	int utf8;               /* the error is invalid UTF-8 */
	long key;               /* the member whose value is being read, or -1 */
};

void json_init(struct json *j, struct input *in, struct ingest *g)
{
	j->in = in;
	j->state = J_START;
	j->replace_invalid = g->o->replace_invalid;
	j->replaced = &g->replaced;
	j->npairs = 0;
	j->col = 0;
}

void json_free(struct json *j)
{
	sl_buf_free(&j->str);
	free(j->pairs);
	j->pairs = NULL;
	j->cap = j->npairs = 0;
}

static int jerr(struct jp *x, const char *at, const char *msg)
{
	x->errp = at;
	x->msg = msg;
	return JP_ERR;
}

/* At the end of the bytes: wait for more, or it is over. */
static int need(struct jp *x)
{
	return x->eof ? jerr(x, x->p, "the input ends inside an object") : JP_MORE;
}

static void ws(struct jp *x)
{
	while (x->p < x->end &&
	       (*x->p == ' ' || *x->p == '\n' || *x->p == '\t' || *x->p == '\r'))
		x->p++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Finds the closing quote of the string at x->p; checks escapes and
 * control characters.  *q: the closing quote, *esc: has backslashes. */
static int scan_string(struct jp *x, const char **q, int *esc)
{
	const char *p = x->p + 1;

	*esc = 0;
	for (;;) {
		while (p < x->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			p++;
		if (p == x->end) {
			x->p = p;
			return x->eof ? jerr(x, p, "the string is not closed") : JP_MORE;
		}
		if (*p == '"')
			break;
		if (*p != '\\')
			return jerr(x, p, "a control character inside a string (write it as \\u00XX)");
		*esc = 1;
		if (p + 1 == x->end || (p[1] == 'u' && x->end - p < 6)) {
			x->p = x->end;
			return need(x);
		}
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
		case 't':
			p += 2;
			break;
		case 'u':
			if (hex4(p + 2) < 0)
				return jerr(x, p, "\\u needs four hex digits");
			p += 6;
			break;
		default:
			return jerr(x, p, "an unknown escape");
		}
	}
	*q = p;
	return JP_OK;
}

/* Appends raw string bytes to j->str, checking (or repairing) UTF-8. */
static int put_raw(struct jp *x, const char *s, size_t n)
{
	size_t ok = sl_utf8_valid(s, n);

	if (ok == n) {
		sl_buf_put(&x->j->str, s, n);
		return JP_OK;
	}
	if (!x->j->replace_invalid) {
		x->utf8 = 1;
		return jerr(x, s + ok, "invalid UTF-8");
	}
	*x->j->replaced += sl_utf8_repair(&x->j->str, s, n);
	return JP_OK;
}

static void put_utf8(struct sl_buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sl_buf_put(b, u, n);
}

/* Unescapes the string body [s, q) into j->str. */
static int unescape(struct jp *x, const char *s, const char *q)
{
	struct sl_buf *b = &x->j->str;

	while (s < q) {
		const char *r = memchr(s, '\\', (size_t)(q - s));
		unsigned long cp;
		long lo;

		if (!r)
			r = q;
		if (put_raw(x, s, (size_t)(r - s)) < 0)
			return JP_ERR;
		if (r == q)
			break;
		switch (r[1]) {
		case 'b': sl_buf_putc(b, '\b'); break;
		case 'f': sl_buf_putc(b, '\f'); break;
		case 'n': sl_buf_putc(b, '\n'); break;
		case 'r': sl_buf_putc(b, '\r'); break;
		case 't': sl_buf_putc(b, '\t'); break;
		case 'u':
			cp = (unsigned long)hex4(r + 2);
			if (cp >= 0xd800 && cp <= 0xdbff && q - r >= 12 && r[6] == '\\' &&
			    r[7] == 'u' && (lo = hex4(r + 8)) >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
				r += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				if (!x->j->replace_invalid) {
					x->utf8 = 1;
					return jerr(x, r, "a lone UTF-16 surrogate");
				}
				(*x->j->replaced)++;
				cp = 0xfffd;
			}
			put_utf8(b, cp);
			r += 4;
			break;
		default: /* " \ / */
			sl_buf_putc(b, r[1]);
		}
		s = r + 2;
	}
	return JP_OK;
}

/* The string at x->p as text: *direct points into the input when nothing
 * needed changing, else the text is at j->str from *off. */
static int string_value(struct jp *x, const char **direct, size_t *off, size_t *n)
{
	const char *q;
	int esc, rc;

	if ((rc = scan_string(x, &q, &esc)) != JP_OK)
		return rc;
	if (!esc && sl_utf8_valid(x->p + 1, (size_t)(q - x->p - 1)) == (size_t)(q - x->p - 1)) {
		*direct = x->p + 1;
		*n = (size_t)(q - x->p - 1);
	} else {
		*direct = NULL;
		*off = x->j->str.n;
		if ((rc = unescape(x, x->p + 1, q)) != JP_OK)
			return rc;
		*n = x->j->str.n - *off;
	}
	x->p = q + 1;
	return JP_OK;
}

/* Validates the number at x->p and moves past it. */
static int number(struct jp *x)
{
	const char *p = x->p, *e = x->end;

#define DIGIT(c) ((c) >= '0' && (c) <= '9')
	if (*p == '-')
		p++;
	if (p == e)
		return need(x);
	if (*p == '0') {
		p++;
		if (p < e && DIGIT(*p))
			return jerr(x, x->p, "a number with a leading zero");
	} else if (DIGIT(*p)) {
		while (p < e && DIGIT(*p))
			p++;
	} else {
		return jerr(x, x->p, "a '-' without digits");
	}
	if (p < e && *p == '.') {
		p++;
		if (p < e && !DIGIT(*p))
			return jerr(x, p, "a '.' without digits after it");
		while (p < e && DIGIT(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p < e && !DIGIT(*p))
			return jerr(x, p, "an exponent without digits");
		while (p < e && DIGIT(*p))
			p++;
	}
#undef DIGIT
	if (p == e && !x->eof)
		return JP_MORE; /* it may go on */
	if (p[-1] < '0' || p[-1] > '9')
		return jerr(x, p, "the number ends early");
	x->p = p;
	return JP_OK;
}

static int literal(struct jp *x, const char *w, size_t n)
{
	size_t avail = (size_t)(x->end - x->p);

	if (avail < n) {
		if (memcmp(x->p, w, avail) == 0)
			return need(x);
		return jerr(x, x->p, "not a JSON value");
	}
	if (memcmp(x->p, w, n) != 0)
		return jerr(x, x->p, "not a JSON value");
	x->p += n;
	return JP_OK;
}

static int nested(struct jp *x);

/* A value inside a nested one, appended to j->str as compact JSON. */
static int compact_value(struct jp *x)
{
	const char *s = x->p, *q;
	struct sl_buf *b = &x->j->str;
	int rc, esc;

	if (x->p == x->end)
		return need(x);
	switch (*x->p) {
	case '{':
	case '[':
		return nested(x);
	case '"':
		if ((rc = scan_string(x, &q, &esc)) != JP_OK)
			return rc;
		sl_buf_putc(b, '"');
		if ((rc = put_raw(x, s + 1, (size_t)(q - s - 1))) != JP_OK)
			return rc;
		sl_buf_putc(b, '"');
		x->p = q + 1;
		return JP_OK;
	case 't': rc = literal(x, "true", 4); break;
	case 'f': rc = literal(x, "false", 5); break;
	case 'n': rc = literal(x, "null", 4); break;
	default:
		if (*x->p != '-' && (*x->p < '0' || *x->p > '9'))
			return jerr(x, x->p, "not a JSON value");
		rc = number(x);
	}
	if (rc == JP_OK)
		sl_buf_put(b, s, (size_t)(x->p - s));
	return rc;
}

/* The object or array at x->p, appended to j->str as compact JSON. */
static int nested(struct jp *x)
{
	struct sl_buf *b = &x->j->str;
	char close = *x->p == '{' ? '}' : ']';
	int rc;

	if (++x->depth > MAX_DEPTH)
		return jerr(x, x->p, "nested more than 512 deep");
	sl_buf_putc(b, *x->p);
	x->p++;
	ws(x);
	if (x->p == x->end)
		return need(x);
	if (*x->p == close) {
		sl_buf_putc(b, close);
		x->p++;
		x->depth--;
		return JP_OK;
	}
	for (;;) {
		if (close == '}') {
			ws(x);
			if (x->p == x->end)
				return need(x);
			if (*x->p != '"')
				return jerr(x, x->p, "expected a key (a string)");
			if ((rc = compact_value(x)) != JP_OK)
				return rc;
			ws(x);
			if (x->p == x->end)
				return need(x);
			if (*x->p != ':')
				return jerr(x, x->p, "expected ':'");
			sl_buf_putc(b, ':');
			x->p++;
		}
		ws(x);
		if ((rc = compact_value(x)) != JP_OK)
			return rc;
		ws(x);
		if (x->p == x->end)
			return need(x);
		if (*x->p == close)
			break;
		if (*x->p != ',')
			return jerr(x, x->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
		sl_buf_putc(b, ',');
		x->p++;
	}
	sl_buf_putc(b, close);
	x->p++;
	x->depth--;
	return JP_OK;
}

static struct jpair *add_pair(struct json *j)
{
	if (j->npairs == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 16;
		j->pairs = sl_xrealloc(j->pairs, j->cap * sizeof *j->pairs);
	}
	memset(&j->pairs[j->npairs], 0, sizeof *j->pairs);
	return &j->pairs[j->npairs++];
}

/* One member's value into m->v. */
static int member_value(struct jp *x, struct jpair *m)
{
	const char *s = x->p, *direct;
	size_t off = 0, n = 0;
	int rc;

	switch (*s) {
	case '"':
		if ((rc = string_value(x, &direct, &off, &n)) != JP_OK)
			return rc;
		m->v.kind = CELL_JSTR;
		m->v.n = n;
		m->v.p = direct;
		if (!direct) {
			m->vstr = 1;
			m->v.p = (const char *)(uintptr_t)off;
		}
		return JP_OK;
	case '{':
	case '[':
		off = x->j->str.n;
		if ((rc = nested(x)) != JP_OK)
			return rc;
		m->v.kind = CELL_JNEST;
		m->v.n = x->j->str.n - off;
		m->v.p = (const char *)(uintptr_t)off;
		m->vstr = 1;
		return JP_OK;
	case 't':
	case 'f':
		rc = *s == 't' ? literal(x, "true", 4) : literal(x, "false", 5);
		m->v.kind = CELL_JBOOL;
		break;
	case 'n':
		rc = literal(x, "null", 4);
		m->v.kind = CELL_MISSING;
		break;
	default:
		if (*s != '-' && (*s < '0' || *s > '9'))
			return jerr(x, s, "not a JSON value");
		rc = number(x);
		m->v.kind = CELL_JNUM;
	}
	m->v.p = s;
	m->v.n = (size_t)(x->p - s);
	return rc;
}

/* The top-level object at x->p into j->pairs. */
static int object(struct jp *x)
{
	struct json *j = x->j;
	int rc;

	j->npairs = 0;
	j->str.n = 0;
	x->p++;
	ws(x);
	if (x->p == x->end)
		return need(x);
	if (*x->p != '}') {
		for (;;) {
			struct jpair *m;
			const char *direct;
			size_t off = 0;

			ws(x);
			if (x->p == x->end)
				return need(x);
			if (*x->p != '"')
				return jerr(x, x->p, "expected a key (a string)");
			m = add_pair(j);
			if ((rc = string_value(x, &direct, &off, &m->kn)) != JP_OK)
				return rc;
			m->k = direct;
			if (!direct) {
				m->kstr = 1;
				m->k = (const char *)(uintptr_t)off;
			}
			ws(x);
			if (x->p == x->end)
				return need(x);
			if (*x->p != ':')
				return jerr(x, x->p, "expected ':'");
			x->p++;
			ws(x);
			if (x->p == x->end)
				return need(x);
			x->key = (long)j->npairs - 1;
			if ((rc = member_value(x, m)) != JP_OK)
				return rc;
			x->key = -1;
			ws(x);
			if (x->p == x->end)
				return need(x);
			if (*x->p == '}')
				break;
			if (*x->p != ',')
				return jerr(x, x->p, "expected ',' or '}'");
			x->p++;
		}
	}
	x->p++;
	for (size_t i = 0; i < j->npairs; i++) {
		struct jpair *m = &j->pairs[i];
		if (m->kstr)
			m->k = j->str.p + (uintptr_t)m->k;
		if (m->vstr)
			m->v.p = j->str.p + (uintptr_t)m->v.p;
	}
	return JP_OK;
}

/* The input position of `at` as line and column: line from in->line,
 * column from j->col. */
static void where(const struct json *j, const char *at, uint64_t *line, uint64_t *col)
{
	const struct input *in = j->in;
	const char *s = in->buf + in->pos, *nl = NULL;

	*line = in->line;
	for (const char *p = s; p < at; p++)
		if (*p == '\n') {
			(*line)++;
			nl = p;
		}
	*col = nl ? (uint64_t)(at - nl - 1) : j->col + (uint64_t)(at - s);
}

/* Moves the input past the bytes up to `to`. */
static void commit(struct json *j, const char *to)
{
	struct input *in = j->in;
	const char *s = in->buf + in->pos, *nl = NULL;

	for (const char *p = s; (p = memchr(p, '\n', (size_t)(to - p))); p++) {
		in->line++;
		nl = p;
	}
	j->col = nl ? (uint64_t)(to - nl - 1) : j->col + (uint64_t)(to - s);
	in->pos = (size_t)(to - in->buf);
}

static int fail(struct json *j, struct jp *x, struct ingest *g)
{
	uint64_t line, col;

	where(j, x->errp, &line, &col);
	if (x->utf8) {
		struct sl_buf k = {0};
		if (x->key >= 0) {
			const struct jpair *m = &j->pairs[x->key];
			sl_buf_puts(&k, "field ");
			ing_quote(&k, m->kstr ? j->str.p + (uintptr_t)m->k : m->k, m->kn);
			sl_buf_puts(&k, ": ");
		}
		ing_fail(g, "%s: line %llu, column %llu: %s%s at byte offset %llu (byte 0x%02x); "
		            "--replace-invalid replaces it with U+FFFD",
		         j->in->name, (unsigned long long)line,
		         (unsigned long long)col + 1, k.n ? sl_buf_cstr(&k) : "", x->msg,
		         (unsigned long long)(j->in->base + (uint64_t)(x->errp - j->in->buf)),
		         (unsigned char)*x->errp);
		sl_buf_free(&k);
		return -1;
	}
	return ing_fail(g, "%s: line %llu, column %llu: %s", j->in->name,
	                (unsigned long long)line, (unsigned long long)col + 1, x->msg);
}

/* One attempt at the next object from the input's position. */
static int step(struct json *j, struct ingest *g)
{
	struct input *in = j->in;
	struct jp x = {.j = j, .key = -1};
	const char *s;
	int state = j->state, rc;

	x.p = in->buf + in->pos;
	x.end = in->buf + in->end;
	x.eof = in->eof;
	for (;;) {
		ws(&x);
		if (x.p == x.end) {
			if (!x.eof)
				return JP_MORE;
			if (state == J_ARRAY_FIRST || state == J_ARRAY_NEXT) {
				jerr(&x, x.p, "the input ends before the array's ']'");
				return fail(j, &x, g);
			}
			commit(j, x.p);
			j->state = J_DONE;
			return JP_END;
		}
		if (state == J_START && *x.p == '[') {
			x.p++;
			state = J_ARRAY_FIRST;
			continue;
		}
		if (state == J_START) {
			state = J_SEQ;
		} else if (state == J_ARRAY_FIRST || state == J_ARRAY_NEXT) {
			if (*x.p == ']') {
				x.p++;
				state = J_DONE;
				continue;
			}
			if (state == J_ARRAY_NEXT) {
				if (*x.p != ',') {
					jerr(&x, x.p, "expected ',' or ']'");
					return fail(j, &x, g);
				}
				x.p++;
				ws(&x);
				if (x.p == x.end) {
					if (!x.eof)
						return JP_MORE;
					jerr(&x, x.p, "the input ends before the array's ']'");
					return fail(j, &x, g);
				}
			}
		} else if (state == J_DONE) {
			jerr(&x, x.p, "text after the top-level array");
			return fail(j, &x, g);
		}
		break;
	}
	if (*x.p != '{') {
		jerr(&x, x.p, state == J_SEQ ? "expected an object ('{') or an array of them"
		                             : "an array element that is not an object");
		return fail(j, &x, g);
	}
	s = x.p;
	rc = object(&x);
	if (rc == JP_MORE)
		return JP_MORE;
	if (rc == JP_ERR)
		return fail(j, &x, g);
	commit(j, s);
	j->line = in->line;
	j->off = in->base + in->pos;
	commit(j, x.p);
	j->state = state == J_SEQ ? J_SEQ : J_ARRAY_NEXT;
	return JP_OK;
}

int json_next(struct json *j, struct ingest *g)
{
	int rc;

	for (;;) {
		rc = step(j, g);
		if (rc == JP_OK)
			return 1;
		if (rc == JP_END)
			return 0;
		if (rc == JP_ERR)
			return -1;
		if (input_fill(j->in, g) < 0)
			return -1;
	}
}
