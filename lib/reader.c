/*
 * reader.c - the strict stream reader.
 *
 * Input comes through one buffer: bytes are read (and, when the input
 * starts with the zstd frame magic, decompressed) into it, and each
 * msgpack object is decoded in place.  Record values point into the
 * buffer (no copies), so they live until the next sl_read().
 *
 * Decoding is a pure function of the bytes already buffered: when an
 * object runs past them it reports "need more", the buffer is refilled
 * (growing only once it is full of real bytes) and the object is decoded
 * again from its start.  So a declared length never allocates anything by
 * itself: a str32 claiming 4 GiB costs what the input actually holds, then
 * is reported as truncated.  Array and map counts are checked against the
 * bytes present too (every item needs at least one byte).
 *
 * A large input in memory (a filter's own buffered stream, read again)
 * is decoded where it lies: the buffer is borrowed, nothing is copied.
 * Records held as columns (cols.c) are read back through a reader too,
 * with nothing to decode.
 *
 * Every record is checked against its header: value count, each value's
 * type, UTF-8 in strings, vector lengths.  The first error sticks and
 * names the input, the record number and the field.
 */
#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define INITIAL_CAP (1 << 20)
#define MAX_DEPTH 64

enum { NEED_MORE = -2, BAD = -1 };

struct sl_reader {
	char *name;
	int fd, own_fd;
	const unsigned char *mem; /* memory source */
	size_t memlen, mempos;
	int src_eof; /* the source (file or memory) is exhausted */

	unsigned char *buf; /* decoded stream bytes: [pos, end) unread */
	size_t cap, pos, end;
	int borrowed;       /* buf is the memory source itself */
	const struct sl_cols *cols; /* the source is columns: record ci next */
	uint64_t ci;
	uint64_t offset; /* stream offset of buf[0] */
	int sniffed;

	ZSTD_DStream *zd; /* set when the input is zstd */
	unsigned char *zin;
	size_t zcap, zpos, zend;
	int zframe_open; /* a frame has started and not yet ended */
	size_t zerr;     /* a zstd error to report once its output is used */

	struct sl_header *hdr;
	struct sl_value *vals;
	size_t valcap;
	const unsigned char *raw;
	size_t rawn;
	uint64_t recno, segs;
	struct sl_header *h1; /* the first header, for sl_reader_trailer */
	uint64_t rec_at_hdr;  /* recno when the last header came */
	int at_end;           /* sl_read has returned SL_EOF */

	int failed;
	char *err;
	/* where decoding stopped, for messages */
	long fail_field;
	const char *why;
	char whybuf[160];
};

static void fail(struct sl_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct sl_reader *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t len;

	if (r->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	len = strlen(r->name) + strlen(msg) + 3;
	r->err = sl_xmalloc(len);
	snprintf(r->err, len, "%s: %s", r->name, msg);
	r->failed = 1;
}

static struct sl_reader *reader_new(const char *name)
{
	struct sl_reader *r = sl_xcalloc(1, sizeof *r);

	r->name = sl_xstrdup(name);
	r->fd = -1;
	r->cap = INITIAL_CAP;
	r->buf = sl_xmalloc(r->cap);
	return r;
}

struct sl_reader *sl_reader_open(const char *path)
{
	struct sl_reader *r;

	if (!path || strcmp(path, "-") == 0)
		return sl_reader_fdopen(0, "(stdin)");
	r = reader_new(path);
	r->fd = open(path, O_RDONLY);
	if (r->fd < 0)
		fail(r, "cannot open: %s", strerror(errno));
	else
		r->own_fd = 1;
	return r;
}

struct sl_reader *sl_reader_fdopen(int fd, const char *name)
{
	struct sl_reader *r = reader_new(name);

	r->fd = fd;
	sl_pipe_grow(fd);
	return r;
}

struct sl_reader *sl_reader_mem(const void *p, size_t n, const char *name)
{
	struct sl_reader *r = reader_new(name);

	/* small inputs (tests, fuzzing) get a small buffer, which also lets
	 * them exercise its growth */
	if (n < INITIAL_CAP) {
		r->cap = n < 64 ? 64 : n;
		r->buf = sl_xrealloc(r->buf, r->cap);
	}

	r->mem = p;
	r->memlen = n;
	/* a large plain stream is read in place (zstd goes through the
	 * buffer; so do small inputs, which tests the buffer's growth) */
	if (n >= INITIAL_CAP && memcmp(p, "\x28\xb5\x2f\xfd", 4) != 0) {
		free(r->buf);
		r->buf = (unsigned char *)p;
		r->cap = r->end = n;
		r->mempos = n;
		r->src_eof = 1;
		r->sniffed = 1;
		r->borrowed = 1;
	}
	return r;
}

struct sl_reader *sl_reader_cols(const struct sl_cols *c, const char *name)
{
	struct sl_reader *r = reader_new(name);

	r->cols = c;
	return r;
}

/* sl_read() of a column source: the header, then the records. */
static int read_cols(struct sl_reader *r)
{
	const struct sl_header *h = sl_cols_header(r->cols);

	if (!r->hdr) {
		r->hdr = sl_header_copy(h);
		r->valcap = h->nfields;
		r->vals = sl_xcalloc(r->valcap + 1, sizeof *r->vals);
		r->segs++;
		return SL_HEADER;
	}
	if (r->ci == sl_cols_count(r->cols))
		return SL_EOF;
	sl_cols_get(r->cols, r->ci++, r->vals);
	r->raw = NULL;
	r->rawn = 0;
	r->recno++;
	return SL_RECORD;
}

void sl_reader_close(struct sl_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	if (r->zd)
		ZSTD_freeDStream(r->zd);
	free(r->zin);
	if (!r->borrowed)
		free(r->buf);
	free(r->vals);
	free(r->err);
	free(r->name);
	sl_header_free(r->hdr);
	sl_header_free(r->h1);
	free(r);
}

/* Reads up to n bytes from the source; 0 at its end, -1 on error. */
static ssize_t src_read(struct sl_reader *r, void *dst, size_t n)
{
	ssize_t got;

	if (r->src_eof)
		return 0;
	if (!r->mem && r->fd < 0)
		return -1;
	if (r->mem) {
		size_t left = r->memlen - r->mempos;
		if (n > left)
			n = left;
		memcpy(dst, r->mem + r->mempos, n);
		r->mempos += n;
		if (!n)
			r->src_eof = 1;
		return (ssize_t)n;
	}
	do
		got = read(r->fd, dst, n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		fail(r, "read error: %s", strerror(errno));
		return -1;
	}
	if (got == 0)
		r->src_eof = 1;
	return got;
}

/* Decompresses into buf[end..cap).  Returns bytes produced, 0 at end. */
static ssize_t zstd_fill(struct sl_reader *r)
{
	ZSTD_outBuffer out = {r->buf + r->end, r->cap - r->end, 0};

	while (out.pos == 0) {
		ZSTD_inBuffer in;
		size_t ret;

		if (r->zpos == r->zend) {
			ssize_t got = src_read(r, r->zin, r->zcap);
			if (got < 0)
				return -1;
			if (got == 0) {
				if (r->zframe_open) {
					fail(r, "truncated zstd frame (the compressed input "
					        "ends inside a frame)");
					return -1;
				}
				return 0;
			}
			r->zpos = 0;
			r->zend = (size_t)got;
		}
		in.src = r->zin;
		in.size = r->zend;
		in.pos = r->zpos;
		if (r->zerr) { /* an error held back until its output was read */
			fail(r, "zstd: %s", ZSTD_getErrorName(r->zerr));
			return -1;
		}
		ret = ZSTD_decompressStream(r->zd, &out, &in);
		r->zpos = in.pos;
		if (ZSTD_isError(ret)) {
			/* Hand over what was decompressed before the error first,
			 * so the records read do not depend on how the input
			 * arrived (all at once, or in pieces through a pipe). */
			if (out.pos) {
				r->zerr = ret;
				return (ssize_t)out.pos;
			}
			fail(r, "zstd: %s", ZSTD_getErrorName(ret));
			return -1;
		}
		r->zframe_open = ret != 0;
	}
	return (ssize_t)out.pos;
}

/* Makes room and reads more bytes into the buffer.  Returns 1 if bytes
 * were added, 0 at the end of input, -1 on error. */
static int fill(struct sl_reader *r)
{
	ssize_t got;

	if (r->borrowed) /* the whole input is there already */
		return 0;
	if (r->pos > 0) { /* keep only the unread bytes */
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->offset += r->pos;
		r->end -= r->pos;
		r->pos = 0;
		r->raw = NULL;
	}
	if (r->end == r->cap) { /* full of real bytes: now it may grow */
		if (r->cap >= SL_MAX_OBJECT + (size_t)INITIAL_CAP) {
			fail(r, "an object at byte %llu is larger than %zu bytes",
			     (unsigned long long)r->offset, (size_t)SL_MAX_OBJECT);
			return -1;
		}
		r->cap *= 2;
		r->buf = sl_xrealloc(r->buf, r->cap);
	}
	if (r->zd) {
		got = zstd_fill(r);
	} else {
		got = src_read(r, r->buf + r->end, r->cap - r->end);
		if (got > 0 && !r->sniffed) {
			/* A msgpack stream starts with a map, never with the zstd
			 * frame magic 28 b5 2f fd, so the first 4 bytes decide. */
			r->end += (size_t)got;
			while (r->end < 4 && !r->src_eof) {
				got = src_read(r, r->buf + r->end, r->cap - r->end);
				if (got < 0)
					return -1;
				r->end += (size_t)got;
			}
			r->sniffed = 1;
			if (r->end >= 4 && memcmp(r->buf, "\x28\xb5\x2f\xfd", 4) == 0) {
				r->zd = ZSTD_createDStream();
				SL_ASSERT(r->zd);
				r->zcap = ZSTD_DStreamInSize();
				if (r->zcap < r->end)
					r->zcap = r->end;
				r->zin = sl_xmalloc(r->zcap);
				memcpy(r->zin, r->buf, r->end);
				r->zpos = 0;
				r->zend = r->end;
				r->end = 0;
				got = zstd_fill(r);
			} else {
				return 1;
			}
		}
	}
	if (got < 0)
		return -1;
	r->end += (size_t)got;
	return got > 0;
}

/* ------------------------------------------------------------ decoding */

/* A cursor over [p, end). */
struct cur {
	const unsigned char *p, *end;
};

#define NEED(c, k)                                                             \
	do {                                                                       \
		if ((size_t)((c)->end - (c)->p) < (size_t)(k))                         \
			return NEED_MORE;                                                  \
	} while (0)

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static const char *tag_name(unsigned t)
{
	if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3))
		return "int";
	if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb))
		return "str";
	if ((t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd)
		return "array";
	if ((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf)
		return "map";
	switch (t) {
	case 0xc0: return "nil";
	case 0xc2: case 0xc3: return "bool";
	case 0xc4: case 0xc5: case 0xc6: return "bin";
	case 0xca: case 0xcb: return "float";
	case 0xc1: return "the reserved byte 0xc1";
	default: return "ext";
	}
}

/* Length header of a str/bin at c->p: sets *len and advances past it.
 * Returns 0, NEED_MORE, or BAD if the tag is not str/bin. */
static int strbin_head(struct cur *c, size_t *len, int *is_str)
{
	unsigned t;
	int w;

	NEED(c, 1);
	t = c->p[0];
	*is_str = 1;
	if (t >= 0xa0 && t <= 0xbf) {
		*len = t & 0x1f;
		c->p++;
		return 0;
	}
	switch (t) {
	case 0xd9: w = 1; break;
	case 0xda: w = 2; break;
	case 0xdb: w = 4; break;
	case 0xc4: w = 1; *is_str = 0; break;
	case 0xc5: w = 2; *is_str = 0; break;
	case 0xc6: w = 4; *is_str = 0; break;
	default: return BAD;
	}
	NEED(c, 1 + w);
	*len = (size_t)be(c->p + 1, w);
	c->p += 1 + w;
	return 0;
}

/* Count of an array/map at c->p (maps: pairs).  0, NEED_MORE or BAD. */
static int container_head(struct cur *c, size_t *n, int *is_map)
{
	unsigned t;
	int w;

	NEED(c, 1);
	t = c->p[0];
	if (t >= 0x90 && t <= 0x9f) {
		*n = t & 0xf;
		*is_map = 0;
		c->p++;
		return 0;
	}
	if (t >= 0x80 && t <= 0x8f) {
		*n = t & 0xf;
		*is_map = 1;
		c->p++;
		return 0;
	}
	switch (t) {
	case 0xdc: w = 2; *is_map = 0; break;
	case 0xdd: w = 4; *is_map = 0; break;
	case 0xde: w = 2; *is_map = 1; break;
	case 0xdf: w = 4; *is_map = 1; break;
	default: return BAD;
	}
	NEED(c, 1 + w);
	*n = (size_t)be(c->p + 1, w);
	c->p += 1 + w;
	return 0;
}

/* Decodes any value into a tree (header parts).  On BAD, r->why says why. */
static int decode_val(struct sl_reader *r, struct cur *c, struct sl_val *v,
                      int depth)
{
	unsigned t;
	size_t n, items;
	int is_map, is_str, rc;

	*v = sl_val_nil();
	if (depth > MAX_DEPTH) {
		r->why = "nested deeper than 64 levels";
		return BAD;
	}
	NEED(c, 1);
	t = c->p[0];
	if (t <= 0x7f) {
		*v = sl_val_int(t);
		c->p++;
		return 0;
	}
	if (t >= 0xe0) {
		*v = sl_val_int((int8_t)t);
		c->p++;
		return 0;
	}
	switch (t) {
	case 0xc0: c->p++; return 0;
	case 0xc2: case 0xc3: *v = sl_val_bool(t == 0xc3); c->p++; return 0;
	case 0xcc: case 0xcd: case 0xce: case 0xcf: {
		int w = 1 << (t - 0xcc);
		uint64_t u;
		NEED(c, 1 + w);
		u = be(c->p + 1, w);
		if (u > (uint64_t)INT64_MAX) {
			r->why = "integer beyond the int64 range";
			return BAD;
		}
		*v = sl_val_int((int64_t)u);
		c->p += 1 + w;
		return 0;
	}
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
		int w = 1 << (t - 0xd0);
		uint64_t u;
		NEED(c, 1 + w);
		u = be(c->p + 1, w);
		if (w < 8 && (u >> (8 * w - 1)) & 1) /* sign-extend */
			u |= ~0ULL << (8 * w);
		*v = sl_val_int((int64_t)u);
		c->p += 1 + w;
		return 0;
	}
	case 0xca: {
		uint32_t u;
		float f;
		NEED(c, 5);
		u = (uint32_t)be(c->p + 1, 4);
		memcpy(&f, &u, 4);
		*v = sl_val_float(f);
		c->p += 5;
		return 0;
	}
	case 0xcb: {
		uint64_t u;
		double d;
		NEED(c, 9);
		u = be(c->p + 1, 8);
		memcpy(&d, &u, 8);
		*v = sl_val_float(d);
		c->p += 9;
		return 0;
	}
	}
	rc = strbin_head(c, &n, &is_str);
	if (rc == NEED_MORE)
		return rc;
	if (rc == 0) {
		NEED(c, n);
		if (is_str && sl_utf8_valid((const char *)c->p, n) != n) {
			r->why = "invalid UTF-8 in a string";
			return BAD;
		}
		*v = sl_val_strn((const char *)c->p, n);
		if (!is_str)
			v->tag = SL_V_BIN;
		c->p += n;
		return 0;
	}
	rc = container_head(c, &n, &is_map);
	if (rc == NEED_MORE)
		return rc;
	if (rc == BAD) {
		snprintf(r->whybuf, sizeof r->whybuf, "unsupported msgpack type (%s)",
		         tag_name(t));
		r->why = r->whybuf;
		return BAD;
	}
	items = is_map ? 2 * n : n;
	NEED(c, items); /* every item takes at least one byte */
	*v = is_map ? sl_val_map() : sl_val_arr();
	v->u.a = items ? sl_xmalloc(items * sizeof *v->u.a) : NULL;
	for (size_t i = 0; i < items; i++) {
		rc = decode_val(r, c, &v->u.a[i], depth + 1);
		if (rc) {
			v->n = is_map ? i / 2 : i;
			if (is_map && (i & 1)) /* free the dangling key too */
				sl_val_free(&v->u.a[i - 1]);
			sl_val_free(v);
			return rc;
		}
	}
	v->n = n;
	return 0;
}

static int str_is(const struct sl_val *v, const char *s)
{
	return v->tag == SL_V_STR && strlen(s) == v->n && memcmp(v->u.s, s, v->n) == 0;
}

/* Turns a decoded map into a header, or says what is wrong with it. */
static struct sl_header *make_header(struct sl_reader *r, struct sl_val *m)
{
	struct sl_header *h = sl_header_new();
	int have_version = 0, have_fields = 0;

	int have_lineage = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct sl_val *k = &m->u.kv[2 * i], *v = &m->u.kv[2 * i + 1];
		if (k->tag == SL_V_STR && memchr(k->u.s, 0, k->n)) {
			r->why = "a header key holds a NUL byte";
			goto bad;
		}
		if ((str_is(k, "sluice") && have_version) || (str_is(k, "fields") && have_fields) ||
		    (str_is(k, "lineage") && have_lineage)) {
			r->why = "a header key is repeated";
			goto bad;
		}
		if (str_is(k, "sluice")) {
			if (v->tag != SL_V_INT || v->u.i < 1) {
				r->why = "\"sluice\" must be a positive integer";
				goto bad;
			}
			if (v->u.i > SL_FORMAT_VERSION) {
				snprintf(r->whybuf, sizeof r->whybuf,
				         "format version %lld is newer than this program "
				         "reads (%d)",
				         (long long)v->u.i, SL_FORMAT_VERSION);
				r->why = r->whybuf;
				goto bad;
			}
			have_version = 1;
		} else if (str_is(k, "fields")) {
			if (v->tag != SL_V_ARR) {
				r->why = "\"fields\" must be an array";
				goto bad;
			}
			for (size_t j = 0; j < v->n; j++) {
				struct sl_val *f = &v->u.a[j];
				struct sl_type t;
				if (f->tag != SL_V_ARR || f->n != 2 ||
				    f->u.a[0].tag != SL_V_STR || f->u.a[1].tag != SL_V_STR ||
				    memchr(f->u.a[0].u.s, 0, f->u.a[0].n)) {
					snprintf(r->whybuf, sizeof r->whybuf,
					         "field %zu must be [name, type] strings", j + 1);
					r->why = r->whybuf;
					goto bad;
				}
				for (size_t c = 0; c < f->u.a[0].n; c++) {
					unsigned char ch = (unsigned char)f->u.a[0].u.s[c];
					if (ch < 0x20 || ch == 0x7f) {
						snprintf(r->whybuf, sizeof r->whybuf,
						         "field %zu: its name holds a control "
						         "character", j + 1);
						r->why = r->whybuf;
						goto bad;
					}
				}
				if (sl_type_parse(f->u.a[1].u.s, &t) < 0) {
					snprintf(r->whybuf, sizeof r->whybuf,
					         "field \"%.60s\": unknown type \"%.40s\"",
					         f->u.a[0].u.s, f->u.a[1].u.s);
					r->why = r->whybuf;
					goto bad;
				}
				if (sl_header_add(h, f->u.a[0].u.s, t) < 0) {
					snprintf(r->whybuf, sizeof r->whybuf,
					         "field name \"%.60s\" is empty or repeated",
					         f->u.a[0].u.s);
					r->why = r->whybuf;
					goto bad;
				}
			}
			have_fields = 1;
		} else if (str_is(k, "lineage")) {
			if (v->tag != SL_V_ARR) {
				r->why = "\"lineage\" must be an array";
				goto bad;
			}
			sl_val_free(&h->lineage);
			h->lineage = *v;
			*v = sl_val_nil();
			have_lineage = 1;
		} else {
			if (k->tag != SL_V_STR) {
				r->why = "header keys must be strings";
				goto bad;
			}
			if (sl_val_get(&h->meta, k->u.s)) {
				r->why = "a header key is repeated";
				goto bad;
			}
			sl_val_set(&h->meta, k->u.s, *v);
			*v = sl_val_nil();
		}
	}
	if (!have_version) {
		r->why = "no \"sluice\" version key (is this a sluice stream?)";
		goto bad;
	}
	if (!have_fields) {
		r->why = "no \"fields\" list";
		goto bad;
	}
	return h;
bad:
	sl_header_free(h);
	return NULL;
}

/* Decodes one record value for field f.  0, NEED_MORE or BAD (r->why). */
static int decode_field(struct sl_reader *r, struct cur *c,
                        const struct sl_field *f, struct sl_value *v)
{
	unsigned t;
	size_t n;
	int rc, is_str;
	const struct sl_type *ty = &f->type;

	NEED(c, 1);
	t = c->p[0];
	if (t == 0xc0) {
		v->kind = SL_NIL;
		c->p++;
		return 0;
	}
	switch (ty->kind) {
	case SL_BOOL:
		if (t != 0xc2 && t != 0xc3)
			break;
		v->kind = SL_BOOL;
		v->u.b = t == 0xc3;
		c->p++;
		return 0;
	case SL_INT:
	case SL_FLOAT: {
		int64_t i;
		if (t <= 0x7f || t >= 0xe0) {
			i = t <= 0x7f ? (int64_t)t : (int8_t)t;
			c->p++;
		} else if (t >= 0xcc && t <= 0xcf) {
			int w = 1 << (t - 0xcc);
			uint64_t u;
			NEED(c, 1 + w);
			u = be(c->p + 1, w);
			if (u > (uint64_t)INT64_MAX) {
				r->why = "integer beyond the int64 range";
				return BAD;
			}
			i = (int64_t)u;
			c->p += 1 + w;
		} else if (t >= 0xd0 && t <= 0xd3) {
			int w = 1 << (t - 0xd0);
			uint64_t u;
			NEED(c, 1 + w);
			u = be(c->p + 1, w);
			if (w < 8 && (u >> (8 * w - 1)) & 1)
				u |= ~0ULL << (8 * w);
			i = (int64_t)u;
			c->p += 1 + w;
		} else if (ty->kind == SL_FLOAT && (t == 0xca || t == 0xcb)) {
			if (t == 0xcb) {
				uint64_t u;
				NEED(c, 9);
				u = be(c->p + 1, 8);
				memcpy(&v->u.f, &u, 8);
				c->p += 9;
			} else {
				uint32_t u;
				float fl;
				NEED(c, 5);
				u = (uint32_t)be(c->p + 1, 4);
				memcpy(&fl, &u, 4);
				v->u.f = fl;
				c->p += 5;
			}
			v->kind = SL_FLOAT;
			return 0;
		} else {
			break;
		}
		if (ty->kind == SL_INT) {
			v->kind = SL_INT;
			v->u.i = i;
		} else { /* an int in a float field: other writers do this */
			v->kind = SL_FLOAT;
			v->u.f = (double)i;
		}
		return 0;
	}
	case SL_STR:
	case SL_BIN:
	case SL_VEC:
		rc = strbin_head(c, &n, &is_str);
		if (rc == NEED_MORE)
			return rc;
		if (rc == BAD || is_str != (ty->kind == SL_STR))
			break;
		NEED(c, n);
		v->kind = ty->kind;
		v->u.s.p = (const char *)c->p;
		v->u.s.n = n;
		if (ty->kind == SL_STR) {
			size_t ok = sl_utf8_valid(v->u.s.p, n);
			if (ok != n) {
				snprintf(r->whybuf, sizeof r->whybuf,
				         "invalid UTF-8 at byte %zu of the string", ok);
				r->why = r->whybuf;
				return BAD;
			}
		} else if (ty->kind == SL_VEC) {
			size_t es = sl_elem_size(ty->elem);
			char tn[32];
			if (n % es || (ty->len && n != (size_t)ty->len * es)) {
				sl_type_format(*ty, tn, sizeof tn);
				snprintf(r->whybuf, sizeof r->whybuf,
				         "%zu bytes do not make a %s vector", n, tn);
				r->why = r->whybuf;
				return BAD;
			}
		}
		c->p += n;
		return 0;
	default:
		SL_ASSERT(!"field kind");
	}
	{
		char tn[32];
		sl_type_format(*ty, tn, sizeof tn);
		snprintf(r->whybuf, sizeof r->whybuf, "expected %s, got %s", tn,
		         tag_name(t));
		r->why = r->whybuf;
	}
	return BAD;
}

static int decode_record(struct sl_reader *r, struct cur *c)
{
	size_t n;
	int is_map, rc;
	const struct sl_header *h = r->hdr;

	r->fail_field = -1;
	rc = container_head(c, &n, &is_map);
	if (rc)
		return rc;
	if (n != h->nfields) {
		snprintf(r->whybuf, sizeof r->whybuf,
		         "has %zu value%s but the header declares %zu field%s", n,
		         n == 1 ? "" : "s", h->nfields, h->nfields == 1 ? "" : "s");
		r->why = r->whybuf;
		return BAD;
	}
	for (size_t i = 0; i < n; i++) {
		r->fail_field = (long)i;
		rc = decode_field(r, c, &h->fields[i], &r->vals[i]);
		if (rc)
			return rc;
	}
	r->fail_field = -1;
	return 0;
}

static void fail_record(struct sl_reader *r, const char *why)
{
	unsigned long long no = (unsigned long long)r->recno + 1;

	if (r->fail_field >= 0)
		fail(r, "record %llu: field \"%s\": %s", no,
		     r->hdr->fields[r->fail_field].name, why);
	else
		fail(r, "record %llu: %s", no, why);
}

static int read_next(struct sl_reader *r);

int sl_read(struct sl_reader *r)
{
	int ev = read_next(r);

	if (ev == SL_HEADER) {
		if (!r->h1)
			r->h1 = sl_header_copy(r->hdr);
		r->rec_at_hdr = r->recno;
	}
	r->at_end = ev == SL_EOF;
	return ev;
}

const struct sl_val *sl_reader_trailer(const struct sl_reader *r)
{
	if (!r->at_end || r->segs != 2 || r->rec_at_hdr != r->recno ||
	    !sl_header_same_fields(r->h1, r->hdr) ||
	    !sl_lineage_extends(&r->hdr->lineage, &r->h1->lineage))
		return NULL;
	return &r->hdr->lineage;
}

void sl_reader_take_trailer(const struct sl_reader *r, struct sl_val *lin)
{
	const struct sl_val *t = sl_reader_trailer(r);

	if (t) {
		sl_val_free(lin);
		*lin = sl_val_copy(t);
	}
}

static int read_next(struct sl_reader *r)
{
	struct cur c;
	unsigned t;
	int rc;

	if (r->failed)
		return SL_ERROR;
	if (r->cols)
		return read_cols(r);
	for (;;) {
		if (r->pos == r->end) {
			rc = fill(r);
			if (rc < 0)
				return SL_ERROR;
			if (rc == 0) {
				if (r->segs == 0) {
					fail(r, "empty input: no stream header");
					return SL_ERROR;
				}
				return SL_EOF;
			}
		}
		c.p = r->buf + r->pos;
		c.end = r->buf + r->end;
		t = c.p[0];
		r->why = NULL;
		if ((t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd) {
			if (!r->hdr) {
				fail(r, "record 1 comes before any header (is this a sluice "
				        "stream?)");
				return SL_ERROR;
			}
			rc = decode_record(r, &c);
			if (rc == 0) {
				r->raw = r->buf + r->pos;
				r->rawn = (size_t)(c.p - r->raw);
				r->pos += r->rawn;
				r->recno++;
				return SL_RECORD;
			}
			if (rc == BAD) {
				fail_record(r, r->why);
				return SL_ERROR;
			}
		} else if ((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf) {
			struct sl_val m;
			rc = decode_val(r, &c, &m, 0);
			if (rc == 0) {
				struct sl_header *h = make_header(r, &m);
				sl_val_free(&m);
				if (!h) {
					fail(r, "header %llu (after record %llu): %s",
					     (unsigned long long)r->segs + 1,
					     (unsigned long long)r->recno, r->why);
					return SL_ERROR;
				}
				sl_header_free(r->hdr);
				r->hdr = h;
				if (h->nfields > r->valcap) {
					r->valcap = h->nfields;
					r->vals = sl_xrealloc(r->vals, r->valcap * sizeof *r->vals);
				}
				r->pos = (size_t)(c.p - r->buf);
				r->segs++;
				return SL_HEADER;
			}
			if (rc == BAD) {
				fail(r, "header %llu (after record %llu): %s",
				     (unsigned long long)r->segs + 1,
				     (unsigned long long)r->recno, r->why);
				return SL_ERROR;
			}
		} else {
			fail(r, "byte %llu: expected a header (map) or a record "
			        "(array), got %s%s",
			     (unsigned long long)(r->offset + r->pos), tag_name(t),
			     r->segs == 0 ? " (is this a sluice stream?)" : "");
			return SL_ERROR;
		}
		/* NEED_MORE: read more and decode the object again.  A pipe
		 * hands over a few KiB per read, so a large object keeps
		 * reading until what is buffered has doubled: decoding it
		 * again then costs linear time overall, not quadratic. */
		{
			size_t had = r->end - r->pos, want = had < 65536 ? had + 1 : 2 * had;
			do
				rc = fill(r);
			while (rc > 0 && r->end - r->pos < want);
			if (rc == 0 && r->end - r->pos > had)
				rc = 1; /* the end came after new bytes: try them */
		}
		if (rc < 0)
			return SL_ERROR;
		if (rc == 0) {
			unsigned long long got = (unsigned long long)(r->end - r->pos);
			if ((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf)
				fail(r, "header %llu: truncated (input ends %llu bytes into it)",
				     (unsigned long long)r->segs + 1, got);
			else {
				snprintf(r->whybuf, sizeof r->whybuf,
				         "truncated (input ends %llu bytes into the record)",
				         got);
				fail_record(r, r->whybuf);
			}
			return SL_ERROR;
		}
	}
}

const struct sl_header *sl_reader_header(const struct sl_reader *r)
{
	return r->hdr;
}

const struct sl_value *sl_reader_values(const struct sl_reader *r)
{
	return r->vals;
}

void sl_reader_raw(const struct sl_reader *r, const void **p, size_t *n)
{
	*p = r->raw;
	*n = r->rawn;
}

uint64_t sl_reader_recno(const struct sl_reader *r)
{
	return r->recno;
}

uint64_t sl_reader_segments(const struct sl_reader *r)
{
	return r->segs;
}

const char *sl_reader_name(const struct sl_reader *r)
{
	return r->name;
}

int sl_reader_fields_differ(const struct sl_reader *r, const struct sl_header *first,
                            const struct sl_header *h, const char *tail)
{
	if (!first || sl_header_same_fields(first, h))
		return 0;
	sl_warn("%s: segment %llu has other fields than the first%s", sl_reader_name(r),
	        (unsigned long long)sl_reader_segments(r), tail ? tail : "");
	return 1;
}

const char *sl_reader_error(const struct sl_reader *r)
{
	return r->err;
}
