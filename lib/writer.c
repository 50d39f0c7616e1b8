/*
 * writer.c - the stream writer.
 *
 * Objects are encoded with msgpack-c's packer into one output buffer that
 * goes out with write(2) when full, through zstd when asked.  The same
 * values always give the same bytes: integers take their smallest
 * encoding, floats are always float64, header keys keep their order.
 *
 * A named output is written to a temporary file in the same directory and
 * renamed over the target only when everything was written, so a failed
 * run never leaves half a file under the real name.  A write error is
 * sticky and reported by every later call; a reader that closes the pipe
 * ends the program through the default SIGPIPE, as for any filter.
 */
#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define OUTBUF (1 << 20)

struct sl_writer {
	int fd;
	char *name; /* for messages */
	char *path, *tmp;
	struct sl_buf *mem;
	int direct; /* a named non-regular file, written in place */

	unsigned char *buf;
	size_t n;
	ZSTD_CCtx *zc;
	unsigned char *zout;
	size_t zcap;
	msgpack_packer pk;

	struct sl_type *types; /* of the current header, to catch bugs */
	size_t nfields;
	int have_header;
	uint64_t records;
	int failed;
	char *err;
};

static void wfail(struct sl_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void wfail(struct sl_writer *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t len;

	if (w->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	len = strlen(w->name) + strlen(msg) + 3;
	w->err = sl_xmalloc(len);
	snprintf(w->err, len, "%s: %s", w->name, msg);
	w->failed = 1;
}

static int write_all(struct sl_writer *w, const void *p, size_t n)
{
	const char *s = p;

	if (w->mem) {
		sl_buf_put(w->mem, p, n);
		return 0;
	}
	while (n) {
		ssize_t k = write(w->fd, s, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			wfail(w, "write error: %s", strerror(errno));
			return -1;
		}
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends the buffer on, through zstd when on. mode: ZSTD_e_continue/_end */
static int drain(struct sl_writer *w, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {w->buf, w->n, 0};
	size_t left;

	if (w->failed)
		return -1;
	if (!w->zc) {
		if (w->n && write_all(w, w->buf, w->n) < 0)
			return -1;
		w->n = 0;
		return 0;
	}
	do {
		ZSTD_outBuffer out = {w->zout, w->zcap, 0};
		left = ZSTD_compressStream2(w->zc, &out, &in, mode);
		if (ZSTD_isError(left)) {
			wfail(w, "zstd: %s", ZSTD_getErrorName(left));
			return -1;
		}
		if (out.pos && write_all(w, w->zout, out.pos) < 0)
			return -1;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	w->n = 0;
	return 0;
}

/* The packer's sink: appends to the buffer, draining it when full.  Any
 * length is fine; large bodies go through in buffer-sized pieces. */
static int pk_write(void *data, const char *p, size_t len)
{
	struct sl_writer *w = data;

	while (len) {
		size_t k;
		if (w->n == OUTBUF && drain(w, ZSTD_e_continue) < 0)
			return -1;
		k = OUTBUF - w->n < len ? OUTBUF - w->n : len;
		memcpy(w->buf + w->n, p, k);
		w->n += k;
		p += k;
		len -= k;
	}
	return 0;
}

static void put(struct sl_writer *w, const void *p, size_t len)
{
	pk_write(w, p, len);
}

static struct sl_writer *writer_new(const char *name)
{
	struct sl_writer *w = sl_xcalloc(1, sizeof *w);

	w->fd = -1;
	w->name = sl_xstrdup(name);
	w->buf = sl_xmalloc(OUTBUF);
	msgpack_packer_init(&w->pk, w, pk_write);
	return w;
}

struct sl_writer *sl_writer_open(const char *path, const struct sl_wopts *o)
{
	struct sl_writer *w;
	static const struct sl_wopts none;
	struct stat st;

	if (!o)
		o = &none;
	if (!path || strcmp(path, "-") == 0) {
		w = writer_new("(stdout)");
		w->fd = 1;
		sl_pipe_grow(1);
		if (isatty(1) && !o->force)
			wfail(w, "refusing to write a binary stream to a terminal; "
			         "pipe it into 'sluice cat', or use -o FILE or -f");
	} else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device, a pipe: written in place.  Renaming over it would
		 * replace /dev/null with a file. */
		w = writer_new(path);
		w->fd = open(path, O_WRONLY | O_TRUNC);
		if (w->fd < 0)
			wfail(w, "cannot open: %s", strerror(errno));
		else
			w->direct = 1;
	} else {
		const char *slash;
		size_t dirlen;
		mode_t um;

		w = writer_new(path);
		w->path = sl_xstrdup(path);
		slash = strrchr(path, '/');
		dirlen = slash ? (size_t)(slash - path) + 1 : 0;
		w->tmp = sl_xmalloc(dirlen + strlen(slash ? slash + 1 : path) + 24);
		sprintf(w->tmp, "%.*s.%s.sluice-XXXXXX", (int)dirlen, path,
		        slash ? slash + 1 : path);
		w->fd = mkstemp(w->tmp);
		if (w->fd < 0) {
			wfail(w, "cannot create a temporary file beside it: %s",
			      strerror(errno));
			free(w->tmp);
			w->tmp = NULL;
		} else {
			um = umask(0);
			umask(um);
			fchmod(w->fd, 0666 & ~um);
		}
	}
	if (o->zstd > 0 && !w->failed) {
		w->zc = ZSTD_createCCtx();
		SL_ASSERT(w->zc);
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, o->zstd);
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
		w->zcap = ZSTD_CStreamOutSize();
		w->zout = sl_xmalloc(w->zcap);
	}
	return w;
}

struct sl_writer *sl_writer_mem(struct sl_buf *out)
{
	struct sl_writer *w = writer_new("(memory)");

	w->mem = out;
	return w;
}

static void pack_val(struct sl_writer *w, const struct sl_val *v)
{
	msgpack_packer *pk = &w->pk;

	switch (v->tag) {
	case SL_V_NIL: msgpack_pack_nil(pk); break;
	case SL_V_BOOL: v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
	case SL_V_INT: msgpack_pack_int64(pk, v->u.i); break;
	case SL_V_FLOAT: msgpack_pack_double(pk, v->u.f); break;
	case SL_V_STR:
		msgpack_pack_str(pk, v->n);
		put(w, v->u.s, v->n);
		break;
	case SL_V_BIN:
		msgpack_pack_bin(pk, v->n);
		put(w, v->u.s, v->n);
		break;
	case SL_V_ARR:
		msgpack_pack_array(pk, v->n);
		for (size_t i = 0; i < v->n; i++)
			pack_val(w, &v->u.a[i]);
		break;
	case SL_V_MAP:
		msgpack_pack_map(pk, v->n);
		for (size_t i = 0; i < 2 * v->n; i++)
			pack_val(w, &v->u.kv[i]);
		break;
	}
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int sl_write_header(struct sl_writer *w, const struct sl_header *h)
{
	msgpack_packer *pk = &w->pk;
	char tn[32];

	if (w->failed)
		return -1;
	msgpack_pack_map(pk, 3 + h->meta.n);
	pack_cstr(pk, "sluice");
	msgpack_pack_int(pk, SL_FORMAT_VERSION);
	pack_cstr(pk, "fields");
	msgpack_pack_array(pk, h->nfields);
	for (size_t i = 0; i < h->nfields; i++) {
		msgpack_pack_array(pk, 2);
		pack_cstr(pk, h->fields[i].name);
		sl_type_format(h->fields[i].type, tn, sizeof tn);
		pack_cstr(pk, tn);
	}
	for (size_t i = 0; i < 2 * h->meta.n; i++)
		pack_val(w, &h->meta.u.kv[i]);
	pack_cstr(pk, "lineage");
	if (h->lineage.tag == SL_V_ARR)
		pack_val(w, &h->lineage);
	else
		msgpack_pack_array(pk, 0);
	w->types = sl_xrealloc(w->types, (h->nfields + 1) * sizeof *w->types);
	for (size_t i = 0; i < h->nfields; i++)
		w->types[i] = h->fields[i].type;
	w->nfields = h->nfields;
	w->have_header = 1;
	return w->failed ? -1 : 0;
}

/* ----------------------------------------------------- direct encoding
 *
 * Records are most of a stream, so their values are encoded straight into
 * the output buffer when it has room, without the packer's callback per
 * token.  The bytes are exactly what msgpack-c's packer writes (smallest
 * integer form, float64, str8/bin8 and up); when the buffer is nearly
 * full the packer does it instead. */

static unsigned char *be16(unsigned char *p, uint32_t x)
{
	p[0] = (unsigned char)(x >> 8);
	p[1] = (unsigned char)x;
	return p + 2;
}

static unsigned char *be32(unsigned char *p, uint32_t x)
{
	p[0] = (unsigned char)(x >> 24);
	p[1] = (unsigned char)(x >> 16);
	p[2] = (unsigned char)(x >> 8);
	p[3] = (unsigned char)x;
	return p + 4;
}

static unsigned char *be64(unsigned char *p, uint64_t x)
{
	x = __builtin_bswap64(x);
	memcpy(p, &x, 8);
	return p + 8;
}

/* msgpack-c's msgpack_pack_int64, case by case */
static unsigned char *enc_int(unsigned char *p, int64_t d)
{
	if (d < -(1LL << 5)) {
		if (d < -(1LL << 15)) {
			if (d < -(1LL << 31)) {
				*p++ = 0xd3;
				return be64(p, (uint64_t)d);
			}
			*p++ = 0xd2;
			return be32(p, (uint32_t)d);
		}
		if (d < -(1 << 7)) {
			*p++ = 0xd1;
			return be16(p, (uint32_t)d & 0xffff);
		}
		*p++ = 0xd0;
		*p++ = (unsigned char)d;
		return p;
	}
	if (d < (1 << 7)) {
		*p++ = (unsigned char)d;
		return p;
	}
	if (d < (1LL << 16)) {
		if (d < (1 << 8)) {
			*p++ = 0xcc;
			*p++ = (unsigned char)d;
			return p;
		}
		*p++ = 0xcd;
		return be16(p, (uint32_t)d);
	}
	if (d < (1LL << 32)) {
		*p++ = 0xce;
		return be32(p, (uint32_t)d);
	}
	*p++ = 0xcf;
	return be64(p, (uint64_t)d);
}

/* the head of a str (str8 and up) or bin of n bytes */
static unsigned char *enc_strbin(unsigned char *p, size_t n, int str)
{
	if (str && n < 32) {
		*p++ = (unsigned char)(0xa0 | n);
	} else if (n < 256) {
		*p++ = str ? 0xd9 : 0xc4;
		*p++ = (unsigned char)n;
	} else if (n < 65536) {
		*p++ = str ? 0xda : 0xc5;
		p = be16(p, (uint32_t)n);
	} else {
		*p++ = str ? 0xdb : 0xc6;
		p = be32(p, (uint32_t)n);
	}
	return p;
}

static unsigned char *enc_array(unsigned char *p, size_t n)
{
	if (n < 16) {
		*p++ = (unsigned char)(0x90 | n);
	} else if (n < 65536) {
		*p++ = 0xdc;
		p = be16(p, (uint32_t)n);
	} else {
		*p++ = 0xdd;
		p = be32(p, (uint32_t)n);
	}
	return p;
}

/* Encodes v at p (room for it checked by the caller). */
static unsigned char *enc_value(unsigned char *p, const struct sl_value *v)
{
	uint64_t u;

	switch (v->kind) {
	case SL_NIL: *p++ = 0xc0; return p;
	case SL_BOOL: *p++ = v->u.b ? 0xc3 : 0xc2; return p;
	case SL_INT: return enc_int(p, v->u.i);
	case SL_FLOAT:
		*p++ = 0xcb;
		memcpy(&u, &v->u.f, 8);
		return be64(p, u);
	default:
		p = enc_strbin(p, v->u.s.n, v->kind == SL_STR);
		memcpy(p, v->u.s.p, v->u.s.n);
		return p + v->u.s.n;
	}
}

/* Encodes one value of the current header's field i. */
static void pack_value(struct sl_writer *w, const struct sl_value *v, size_t i)
{
	msgpack_packer *pk = &w->pk;

	/* A value of the wrong kind is a bug in the calling program. */
	SL_ASSERT(v->kind == SL_NIL || v->kind == w->types[i].kind);
	SL_ASSERT(v->kind != SL_VEC || v->u.s.n % sl_elem_size(w->types[i].elem) == 0);
	if (OUTBUF - w->n >= 9 + (v->kind >= SL_STR ? 5 + v->u.s.n : 0)) {
		unsigned char *p = enc_value(w->buf + w->n, v);
		w->n = (size_t)(p - w->buf);
		return;
	}
	switch (v->kind) {
	case SL_NIL: msgpack_pack_nil(pk); break;
	case SL_BOOL: v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
	case SL_INT: msgpack_pack_int64(pk, v->u.i); break;
	case SL_FLOAT: msgpack_pack_double(pk, v->u.f); break;
	case SL_STR:
		msgpack_pack_str(pk, v->u.s.n);
		put(w, v->u.s.p, v->u.s.n);
		break;
	case SL_BIN:
	case SL_VEC:
		msgpack_pack_bin(pk, v->u.s.n);
		put(w, v->u.s.p, v->u.s.n);
		break;
	}
}

int sl_write_record(struct sl_writer *w, const struct sl_value *v, size_t n)
{
	msgpack_packer *pk = &w->pk;

	if (w->failed)
		return -1;
	SL_ASSERT(w->have_header && n == w->nfields);
	if (OUTBUF - w->n >= 5) {
		unsigned char *p = enc_array(w->buf + w->n, n);
		w->n = (size_t)(p - w->buf);
	} else {
		msgpack_pack_array(pk, n);
	}
	for (size_t i = 0; i < n; i++)
		pack_value(w, &v[i], i);
	w->records++;
	return w->failed ? -1 : 0;
}

int sl_write_raw(struct sl_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	SL_ASSERT(w->have_header);
	put(w, p, n);
	w->records++;
	return w->failed ? -1 : 0;
}

int sl_write_raw_append(struct sl_writer *w, const void *p, size_t n,
                        const struct sl_value *extra, size_t nextra)
{
	const unsigned char *s = p;
	size_t skip, have;

	if (w->failed)
		return -1;
	SL_ASSERT(w->have_header && n > 0);
	/* The record's array header: fixarray, array16 or array32. */
	if ((s[0] & 0xf0) == 0x90) {
		have = s[0] & 0x0f;
		skip = 1;
	} else if (s[0] == 0xdc) {
		have = (size_t)s[1] << 8 | s[2];
		skip = 3;
	} else {
		SL_ASSERT(s[0] == 0xdd);
		have = (size_t)s[1] << 24 | (size_t)s[2] << 16 | (size_t)s[3] << 8 | s[4];
		skip = 5;
	}
	SL_ASSERT(have + nextra == w->nfields);
	msgpack_pack_array(&w->pk, w->nfields);
	put(w, s + skip, n - skip);
	for (size_t i = 0; i < nextra; i++)
		pack_value(w, &extra[i], have + i);
	w->records++;
	return w->failed ? -1 : 0;
}

int sl_writer_flush(struct sl_writer *w)
{
	if (drain(w, ZSTD_e_flush) < 0)
		return -1;
	return 0;
}

static void writer_free(struct sl_writer *w)
{
	if (w->zc)
		ZSTD_freeCCtx(w->zc);
	free(w->zout);
	free(w->buf);
	free(w->types);
	free(w->name);
	free(w->path);
	free(w->tmp);
	free(w->err);
	free(w);
}

int sl_writer_close(struct sl_writer *w, char **err)
{
	int rc = 0;

	if (!w->failed)
		drain(w, w->zc ? ZSTD_e_end : ZSTD_e_continue);
	if (w->direct) {
		if (close(w->fd) < 0)
			wfail(w, "write error: %s", strerror(errno));
	} else if (w->path && w->fd >= 0) {
		if (close(w->fd) < 0)
			wfail(w, "write error: %s", strerror(errno));
		if (!w->failed && rename(w->tmp, w->path) < 0)
			wfail(w, "cannot rename the temporary file into place: %s",
			      strerror(errno));
		if (w->failed)
			unlink(w->tmp);
	}
	if (w->failed) {
		rc = -1;
		if (err)
			*err = sl_xstrdup(w->err);
	}
	writer_free(w);
	return rc;
}

void sl_writer_abort(struct sl_writer *w)
{
	if (w->direct) {
		close(w->fd);
	} else if (w->path && w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp);
	}
	writer_free(w);
}

const char *sl_writer_error(const struct sl_writer *w)
{
	return w->err;
}

uint64_t sl_writer_records(const struct sl_writer *w)
{
	return w->records;
}
