/*
 * reader.c - libFuzzer harness for the stream reader.
 *
 * The input is a stream in memory (plain or zstd).  Everything the reader
 * accepts is touched the way a filter would touch it: headers copied and
 * their types and metadata printed, every record copied out with
 * sl_rec_set, strings escaped as JSON, floats printed, vector elements
 * read.  What it hands out must agree with its header (a value is nil or
 * of its field's kind, strings are valid UTF-8, vectors a whole number of
 * elements), and an error must come as one message naming the input.
 *
 * Then the writer: what was read is written again, and that output read
 * and written once more must give the same bytes.  So writing is
 * canonical (one encoding per value), and whatever the reader accepts the
 * writer can write and the reader read back.
 *
 * Last, the same bytes go through a pipe, written in small pieces by a
 * thread, so the reader meets objects cut at every point and must refill
 * and decode again: it must read the same objects and end the same way
 * as from memory, where it gets everything in one piece.
 */
#include "sluice.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "check failed: %s\n", what);
		abort();
	}
}

static void touch_header(const struct sl_header *h, struct sl_buf *scratch)
{
	struct sl_header *c = sl_header_copy(h);
	char tn[32];

	check(sl_header_same_fields(h, c), "a header copy has the same fields");
	for (size_t i = 0; i < h->nfields; i++) {
		struct sl_type t;
		check(h->fields[i].name[0] != 0, "field names are not empty");
		check(sl_header_find(h, h->fields[i].name) == (int)i,
		      "field names are unique");
		sl_type_format(h->fields[i].type, tn, sizeof tn);
		check(sl_type_parse(tn, &t) == 0 && t.kind == h->fields[i].type.kind &&
		          t.elem == h->fields[i].type.elem &&
		          t.len == h->fields[i].type.len,
		      "a field type formats and parses back");
		sl_json_str(scratch, h->fields[i].name, strlen(h->fields[i].name));
	}
	sl_val_json(scratch, &h->meta);
	sl_val_json(scratch, &h->lineage);
	check(sl_utf8_valid(scratch->p, scratch->n) == scratch->n,
	      "JSON text is valid UTF-8");
	scratch->n = 0;
	sl_header_free(c);
}

static void touch_values(const struct sl_header *h, const struct sl_value *v,
                         struct sl_rec *rec, struct sl_buf *scratch)
{
	char num[32];

	sl_rec_set(rec, v, h->nfields);
	for (size_t i = 0; i < h->nfields; i++) {
		const struct sl_value *x = &rec->v[i];
		const struct sl_type *t = &h->fields[i].type;
		check(x->kind == v[i].kind, "sl_rec_set keeps kinds");
		check(x->kind == SL_NIL || x->kind == t->kind,
		      "a value is nil or of its field's kind");
		switch (x->kind) {
		case SL_NIL: break;
		case SL_BOOL: check(x->u.b == 0 || x->u.b == 1, "bools are 0/1"); break;
		case SL_INT: sl_fmt_int(num, x->u.i); break;
		case SL_FLOAT:
			check(sl_fmt_float(num, x->u.f) < 32, "a float prints in 32 bytes");
			sl_buf_puts(scratch, num);
			break;
		case SL_STR:
			check(x->u.s.n == v[i].u.s.n &&
			          memcmp(x->u.s.p, v[i].u.s.p, x->u.s.n) == 0,
			      "sl_rec_set copies strings");
			check(sl_utf8_valid(x->u.s.p, x->u.s.n) == x->u.s.n,
			      "strings are valid UTF-8");
			sl_json_str(scratch, x->u.s.p, x->u.s.n);
			break;
		case SL_BIN:
			sl_base64(scratch, x->u.s.p, x->u.s.n);
			break;
		case SL_VEC: {
			size_t es = sl_elem_size(t->elem), n = x->u.s.n / es;
			double sum = 0;
			check(x->u.s.n % es == 0, "vectors hold whole elements");
			check(!t->len || n == t->len, "fixed vectors have their length");
			for (size_t k = 0; k < n; k++)
				sum += sl_vec_get(t->elem, x->u.s.p, k);
			sl_fmt_float(num, sum);
			break;
		}
		}
	}
	check(sl_utf8_valid(scratch->p, scratch->n) == scratch->n,
	      "JSON text is valid UTF-8");
	scratch->n = 0;
}

/* Reads all of r touching everything; writes what it read to *out.
 * Returns the reader's final status; *err gets a copy of its message. */
static int read_write(struct sl_reader *r, struct sl_buf *out,
                      uint64_t *objects, char **err)
{
	struct sl_writer *w = sl_writer_mem(out);
	struct sl_rec rec = {0};
	struct sl_buf scratch = {0};
	int rc;

	*objects = 0;
	while ((rc = sl_read(r)) > 0) {
		const struct sl_header *h = sl_reader_header(r);
		++*objects;
		if (rc == SL_HEADER) {
			touch_header(h, &scratch);
			check(sl_write_header(w, h) == 0, "the writer takes a header");
		} else {
			touch_values(h, sl_reader_values(r), &rec, &scratch);
			check(sl_write_record(w, rec.v, rec.n) == 0,
			      "the writer takes a record");
		}
	}
	if (rc == SL_ERROR) {
		const char *e = sl_reader_error(r);
		check(e && strncmp(e, "fuzz: ", 6) == 0,
		      "an error message names the input");
		check(sl_read(r) == SL_ERROR, "errors are sticky");
	}
	if (err)
		*err = rc == SL_ERROR ? sl_xstrdup(sl_reader_error(r)) : NULL;
	check(sl_writer_close(w, NULL) == 0, "the memory writer closes");
	sl_rec_free(&rec);
	sl_buf_free(&scratch);
	sl_reader_close(r);
	return rc;
}

static int read_mem(const void *p, size_t n, struct sl_buf *out,
                    uint64_t *objects, char **err)
{
	return read_write(sl_reader_mem(p, n, "fuzz"), out, objects, err);
}

struct feed {
	int fd;
	const uint8_t *p;
	size_t n;
};

/* Writes the input into the pipe in pieces of 1 to 8 bytes. */
static void *feeder(void *arg)
{
	struct feed *f = arg;
	uint32_t x = (uint32_t)f->n * 2654435761u;

	for (size_t i = 0; i < f->n;) {
		size_t k = 1 + (x >> 29);
		ssize_t got;
		if (k > f->n - i)
			k = f->n - i;
		got = write(f->fd, f->p + i, k);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) /* EPIPE: the reader stopped early */
			break;
		i += (size_t)got;
		x = x * 1664525u + 1013904223u;
	}
	close(f->fd);
	return NULL;
}

static int read_pipe(const uint8_t *p, size_t n, struct sl_buf *out,
                     uint64_t *objects, char **err)
{
	int fds[2], rc;
	pthread_t t;
	struct feed f;

	check(pipe(fds) == 0, "pipe");
	f.fd = fds[1];
	f.p = p;
	f.n = n;
	check(pthread_create(&t, NULL, feeder, &f) == 0, "pthread_create");
	rc = read_write(sl_reader_fdopen(fds[0], "fuzz"), out, objects, err);
	close(fds[0]);
	pthread_join(t, NULL);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_buf once = {0}, twice = {0}, piped = {0};
	uint64_t n1, n2, n3;
	char *e1, *e3;
	int rc1, rc3, zstd = size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0;

	rc1 = read_mem(data, size, &once, &n1, &e1);
	if (n1) {
		check(read_mem(once.p, once.n, &twice, &n2, NULL) == SL_EOF,
		      "what the writer wrote reads back");
		check(n2 == n1, "as many objects come back");
		check(twice.n == once.n && memcmp(twice.p, once.p, once.n) == 0,
		      "writing what was read is canonical: same bytes again");
	}
	rc3 = read_pipe(data, size, &piped, &n3, &e3);
	check(rc3 == rc1, "through a pipe: the same end");
	/* A corrupt zstd frame (bad checksum, bad block) is always an error,
	 * but how much of it was decompressed, and so how many records came
	 * before the error (or whether corrupt records show first), depends
	 * on how the compressed bytes arrived.
	 * Otherwise the objects and values must be the same. */
	if (!(zstd && rc1 == SL_ERROR && ((e1 && strstr(e1, ": zstd: ")) || (e3 && strstr(e3, ": zstd: "))))) {
		check(n3 == n1, "through a pipe: the same objects");
		check(piped.n == once.n && (!once.n || memcmp(piped.p, once.p, once.n) == 0),
		      "through a pipe: the same values");
		check(!e1 || strcmp(e1, e3) == 0, "through a pipe: the same error message");
	}
	free(e1);
	free(e3);
	sl_buf_free(&once);
	sl_buf_free(&twice);
	sl_buf_free(&piped);
	return 0;
}
