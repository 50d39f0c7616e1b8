/*
 * interop.c - the reference stream of sluice-stream(5)'s EXAMPLES, made
 * and checked by the library, so that tests/python.t can hold the Python
 * examples of that page against it.
 *
 *   interop              unit test: the reference stream written to memory
 *                        reads back value for value, header keys in order
 *   interop write FILE   writes the reference stream to FILE
 *   interop read FILE    checks that FILE holds the reference stream (once,
 *                        or several times as segments) and that writing
 *                        what was read gives the library's own bytes
 *
 * The Python writer example must give the same bytes as `interop write`;
 * python.t compares them.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NFIELDS = 5, NRECS = 3 };

static const float emb[2][3] = {{0.25f, -1, 2}, {1.5f, 0, -0.125f}};

static struct sl_header *ref_header(void)
{
	static const char *spec[NFIELDS][2] = {{"id", "int"},
	                                       {"name", "str"},
	                                       {"score", "float"},
	                                       {"ok", "bool"},
	                                       {"emb", "f32[3]"}};
	struct sl_header *h = sl_header_new();
	struct sl_val e = sl_val_map();
	struct sl_type t;

	for (int i = 0; i < NFIELDS; i++) {
		sl_type_parse(spec[i][1], &t);
		sl_header_add(h, spec[i][0], t);
	}
	sl_val_set(&h->meta, "source", sl_val_str("example"));
	sl_val_set(&e, "program", sl_val_str("write.py"));
	sl_val_set(&e, "version", sl_val_str("1"));
	sl_val_set(&e, "args", sl_val_arr());
	sl_val_push(&h->lineage, e);
	return h;
}

/* The values of record k. */
static void ref_record(int k, struct sl_value *v)
{
	static const int64_t ids[NRECS] = {1, 300, -40};
	static const char *names[NRECS] = {"ada", "Zo\xc3\xab", NULL};
	static const double scores[NRECS] = {0.5, 0.1, 0};

	memset(v, 0, NFIELDS * sizeof *v);
	v[0].kind = SL_INT;
	v[0].u.i = ids[k];
	if (k == 2)
		return; /* the last record is all missing but its id */
	v[1].kind = SL_STR;
	v[1].u.s.p = names[k];
	v[1].u.s.n = strlen(names[k]);
	v[2].kind = SL_FLOAT;
	v[2].u.f = scores[k];
	v[3].kind = SL_BOOL;
	v[3].u.b = k == 0;
	v[4].kind = SL_VEC;
	v[4].u.s.p = (const char *)emb[k];
	v[4].u.s.n = sizeof emb[k];
}

static int write_ref(struct sl_writer *w, char **err)
{
	struct sl_header *h = ref_header();
	struct sl_value v[NFIELDS];

	sl_write_header(w, h);
	for (int k = 0; k < NRECS; k++) {
		ref_record(k, v);
		sl_write_record(w, v, NFIELDS);
	}
	sl_header_free(h);
	return sl_writer_close(w, err);
}

/* The string value of key in map, or "". */
static const char *str_of(const struct sl_val *map, const char *key)
{
	const struct sl_val *v = sl_val_get(map, key);

	return v && v->tag == SL_V_STR ? v->u.s : "";
}

static int same_value(const struct sl_value *a, const struct sl_value *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case SL_NIL: return 1;
	case SL_BOOL: return a->u.b == b->u.b;
	case SL_INT: return a->u.i == b->u.i;
	case SL_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0;
	default:
		return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
	}
}

/* Reads the reference stream, repeated as segments, from r; re-encodes
 * what it read into *again.  Returns the number of segments. */
static int check_stream(struct sl_reader *r, struct sl_buf *again)
{
	struct sl_header *ref = ref_header();
	struct sl_writer *w = sl_writer_mem(again);
	struct sl_value want[NFIELDS];
	int rc, segs = 0, k = 0, values_ok = 1, headers_ok = 1;

	while ((rc = sl_read(r)) > 0) {
		const struct sl_header *h = sl_reader_header(r);
		if (rc == SL_HEADER) {
			const struct sl_val *l = &h->lineage;
			if (!sl_header_same_fields(h, ref) || h->meta.n != 1 ||
			    strcmp(str_of(&h->meta, "source"), "example") != 0 ||
			    l->n != 1 || strcmp(str_of(&l->u.a[0], "program"), "write.py"))
				headers_ok = 0;
			if (k != NRECS * segs)
				values_ok = 0;
			segs++;
			sl_write_header(w, h);
			continue;
		}
		ref_record(k++ % NRECS, want);
		for (int i = 0; i < NFIELDS; i++)
			if (!same_value(&sl_reader_values(r)[i], &want[i])) {
				values_ok = 0;
				printf("# record %d, field %s differs\n", k, h->fields[i].name);
			}
		sl_write_record(w, sl_reader_values(r), NFIELDS);
	}
	ok(rc == SL_EOF, "the stream reads to its end%s%s",
	   rc == SL_ERROR ? ": " : "", rc == SL_ERROR ? sl_reader_error(r) : "");
	ok(headers_ok, "every header has the fields, metadata and lineage");
	ok(values_ok && k == NRECS * segs, "every record has its values (%d records)",
	   k);
	ok(sl_writer_close(w, NULL) == 0, "what was read writes again");
	sl_header_free(ref);
	return segs;
}

int main(int argc, char **argv)
{
	struct sl_buf mine = {0}, again = {0};
	struct sl_reader *r;
	int segs;

	sl_init("interop");
	if (argc == 3 && strcmp(argv[1], "write") == 0) {
		char *err = NULL;
		if (write_ref(sl_writer_open(argv[2], NULL), &err) < 0)
			sl_die(1, "%s", err);
		return 0;
	}
	if (argc != 1 && !(argc == 3 && strcmp(argv[1], "read") == 0)) {
		fprintf(stderr, "usage: interop [write FILE | read FILE]\n");
		return 2;
	}
	ok(write_ref(sl_writer_mem(&mine), NULL) == 0, "the reference stream is written");
	ok(mine.n > 16 && memcmp(mine.p, "\x84\xa6sluice\x01\xa6" "fields", 16) == 0,
	   "the header starts with sluice: 1, then fields");
	r = argc == 3 ? sl_reader_open(argv[2]) : sl_reader_mem(mine.p, mine.n, "mem");
	segs = check_stream(r, &again);
	sl_reader_close(r);
	ok(segs >= 1, "%d segment(s)", segs);
	{ /* what was read, written again: the library's bytes, each segment */
		int same = again.n == mine.n * (size_t)segs;
		for (int s = 0; same && s < segs; s++)
			same = memcmp(again.p + mine.n * (size_t)s, mine.p, mine.n) == 0;
		ok(same, "written again, it is byte for byte the library's encoding");
	}
	sl_buf_free(&mine);
	sl_buf_free(&again);
	return done_testing();
}
