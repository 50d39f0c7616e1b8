/*
 * stream.c - unit tests of the stream codec: every type and its boundary
 * encodings round-trip; headers keep their metadata; the reader rejects
 * truncation at every byte, wrong types, wrong counts, invalid UTF-8 and
 * huge declared lengths with a message naming record and field; zstd
 * input is detected and decoded.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

static struct sl_header *sample_header(void)
{
	struct sl_header *h = sl_header_new();
	struct sl_type t;
	const char *spec[][2] = {{"b", "bool"}, {"i", "int"},   {"f", "float"},
	                         {"s", "str"},  {"x", "bin"},   {"v", "f32[3]"},
	                         {"w", "i32[]"}};

	for (size_t i = 0; i < sizeof spec / sizeof *spec; i++) {
		sl_type_parse(spec[i][1], &t);
		sl_header_add(h, spec[i][0], t);
	}
	sl_val_set(&h->meta, "note", sl_val_str("kept"));
	return h;
}

static void encode(struct sl_buf *out, const struct sl_header *h,
                   const struct sl_value *recs, size_t nrec)
{
	struct sl_writer *w = sl_writer_mem(out);

	sl_write_header(w, h);
	for (size_t i = 0; i < nrec; i++)
		sl_write_record(w, recs + i * h->nfields, h->nfields);
	ok(sl_writer_close(w, NULL) == 0, "writer closes cleanly");
}

static int read_all(const void *p, size_t n, char **err)
{
	struct sl_reader *r = sl_reader_mem(p, n, "in");
	int rc, recs = 0;

	while ((rc = sl_read(r)) > 0)
		recs += rc == SL_RECORD;
	*err = sl_reader_error(r) ? sl_xstrdup(sl_reader_error(r)) : NULL;
	sl_reader_close(r);
	return rc == SL_ERROR ? -1 : recs;
}

static void test_types(void)
{
	const char *good[] = {"bool", "int", "float", "str",     "bin",
	                      "u8[784]", "f32[]", "i64[1]", "f64[4294967295]"};
	const char *bad[] = {"", "integer", "f32", "f32[0]", "f32[-1]", "q8[2]",
	                     "f32[2]x", "f32[4294967296]", "u8[01]"};
	struct sl_type t;
	char buf[32];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ok(sl_type_parse(good[i], &t) == 0, "type %s parses", good[i]);
		sl_type_format(t, buf, sizeof buf);
		is_str(buf, good[i], "type %s formats back", good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(sl_type_parse(bad[i], &t) < 0, "type '%s' is rejected", bad[i]);
}

static void test_roundtrip(void)
{
	struct sl_header *h = sample_header();
	float vec[3] = {1.5f, -2.0f, 0.25f};
	int32_t iv[2] = {-7, 1 << 30};
	int64_t ints[] = {0, 127, 128, 255, 256, 65535, 65536, -1, -32, -33,
	                  -128, -129, -32768, -32769, 2147483647LL, -2147483648LL,
	                  4294967296LL, INT64_MAX, INT64_MIN};
	size_t nint = sizeof ints / sizeof *ints;
	struct sl_value *recs = calloc(nint * h->nfields, sizeof *recs);
	struct sl_buf out = {0};
	struct sl_reader *r;
	int rc, k = 0, same = 1;

	for (size_t i = 0; i < nint; i++) {
		struct sl_value *v = recs + i * h->nfields;
		v[0].kind = i % 3 ? SL_BOOL : SL_NIL;
		v[0].u.b = i % 2;
		v[1].kind = SL_INT;
		v[1].u.i = ints[i];
		v[2].kind = SL_FLOAT;
		v[2].u.f = i == 0 ? NAN : (double)ints[i] / 3.0;
		v[3].kind = SL_STR;
		v[3].u.s.p = i % 2 ? "h\xc3\xa9llo" : "";
		v[3].u.s.n = i % 2 ? 6 : 0;
		v[4].kind = SL_BIN;
		v[4].u.s.p = "\0\1\2";
		v[4].u.s.n = i % 4;
		v[5].kind = SL_VEC;
		v[5].u.s.p = (const char *)vec;
		v[5].u.s.n = sizeof vec;
		v[6].kind = i % 2 ? SL_VEC : SL_NIL;
		v[6].u.s.p = (const char *)iv;
		v[6].u.s.n = sizeof iv;
	}
	encode(&out, h, recs, nint);
	r = sl_reader_mem(out.p, out.n, "mem");
	is_int(sl_read(r), SL_HEADER, "header first");
	ok(sl_header_same_fields(sl_reader_header(r), h), "fields come back");
	is_str(sl_val_get(&sl_reader_header(r)->meta, "note")->u.s, "kept",
	       "header metadata comes back");
	while ((rc = sl_read(r)) == SL_RECORD) {
		const struct sl_value *a = sl_reader_values(r),
		                      *b = recs + (size_t)k * h->nfields;
		for (size_t j = 0; j < h->nfields; j++) {
			if (a[j].kind != b[j].kind)
				same = 0;
			else if (a[j].kind == SL_INT && a[j].u.i != b[j].u.i)
				same = 0;
			else if (a[j].kind == SL_BOOL && a[j].u.b != b[j].u.b)
				same = 0;
			else if (a[j].kind == SL_FLOAT &&
			         memcmp(&a[j].u.f, &b[j].u.f, sizeof(double)))
				same = 0;
			else if ((a[j].kind == SL_STR || a[j].kind == SL_BIN ||
			          a[j].kind == SL_VEC) &&
			         (a[j].u.s.n != b[j].u.s.n ||
			          memcmp(a[j].u.s.p, b[j].u.s.p, a[j].u.s.n)))
				same = 0;
		}
		k++;
	}
	is_int(rc, SL_EOF, "clean end of stream");
	is_int(k, nint, "every record read back");
	ok(same, "every value of every type and boundary is identical");
	sl_reader_close(r);

	/* Truncation at every byte: an error, never a crash or a short read
	 * passed off as complete (except exactly at record boundaries). */
	{
		int bad = 0, errs = 0;
		for (size_t cut = 0; cut < out.n; cut++) {
			char *err;
			int got = read_all(out.p, cut, &err);
			if (got < 0) {
				errs++;
				if (!err || !strstr(err, "in: "))
					bad++;
			}
			free(err);
		}
		ok(!bad, "truncated input: every error names the input");
		ok(errs > (int)out.n - (int)nint - 2,
		   "truncation is detected at (almost) every cut (%d of %zu)", errs,
		   out.n);
	}
	sl_buf_free(&out);
	free(recs);
	sl_header_free(h);
}

/* Builds a stream from raw msgpack pieces appended after a header. */
static struct sl_buf with_header(const char *fields_json_type,
                                 const void *rec, size_t n)
{
	struct sl_header *h = sl_header_new();
	struct sl_type t;
	struct sl_buf out = {0};
	struct sl_writer *w = sl_writer_mem(&out);

	sl_type_parse(fields_json_type, &t);
	sl_header_add(h, "x", t);
	sl_write_header(w, h);
	sl_writer_close(w, NULL);
	sl_header_free(h);
	sl_buf_put(&out, rec, n);
	return out;
}

static void expect_error(const char *type, const void *rec, size_t n,
                         const char *want, const char *what)
{
	struct sl_buf b = with_header(type, rec, n);
	char *err = NULL;
	int got = read_all(b.p, b.n, &err);

	if (!ok(got < 0 && err && strstr(err, want), "%s", what))
		printf("#   error: %s\n#   want: %s\n", err ? err : "(none)", want);
	free(err);
	sl_buf_free(&b);
}

static void test_bad(void)
{
	char *err;

	expect_error("int", "\x91\xa1x", 3, "record 1: field \"x\": expected int, got str",
	             "wrong type names record and field");
	expect_error("int", "\x92\x01\x02", 3, "record 1: has 2 values but the header declares 1",
	             "wrong value count");
	expect_error("str", "\x91\xa2\xc3\x28", 4, "field \"x\": invalid UTF-8 at byte 0",
	             "invalid UTF-8 in a str field");
	expect_error("str", "\x91\xdb\xff\xff\xff\xff" "abc", 9,
	             "record 1: field \"x\": truncated",
	             "str32 declaring 4 GiB: truncated, not allocated");
	expect_error("f32[2]", "\x91\xc4\x04\0\0\0\0", 7, "4 bytes do not make a f32[2] vector",
	             "vector of the wrong length");
	expect_error("int", "\x91\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 10,
	             "beyond the int64 range", "uint64 beyond int64");
	expect_error("int", "\x91\x01\xc1", 3, "byte", "the reserved byte 0xc1 between records");
	expect_error("int", "\xdd\xff\xff\xff\xff", 5, "has 4294967295 values",
	             "array32 with a huge count is refused before allocating");
	expect_error("int", "\x91\x91\x01", 3, "expected int, got array",
	             "nested array in a record");
	ok(read_all("", 0, &err) < 0 && strstr(err, "empty input"), "empty input is an error");
	free(err);
	ok(read_all("\x91\x01", 2, &err) < 0 && strstr(err, "before any header"),
	   "record before header");
	free(err);
	ok(read_all("\x81\xa1x\x01", 4, &err) < 0 && strstr(err, "no \"sluice\" version"),
	   "a map that is not a sluice header");
	free(err);
	ok(read_all("\x82\xa6sluice\x02\xa6" "fields\x90", 17, &err) < 0 &&
	       strstr(err, "newer"),
	   "a newer format version is refused");
	free(err);
	ok(read_all("\xdf\xff\xff\xff\xff", 5, &err) < 0 && strstr(err, "truncated"),
	   "map32 with a huge count in a header");
	free(err);
	{ /* a header nested 100 deep */
		char deep[120];
		memset(deep, 0x91, 100);
		deep[100] = 0x01;
		memmove(deep + 9, deep, 101);
		memcpy(deep, "\x81\xa6sluice", 8);
		deep[8] = (char)0x91;
		ok(read_all(deep, 110, &err) < 0 && strstr(err, "deeper"),
		   "deep nesting is refused");
		free(err);
	}
}

static void test_segments_zstd(void)
{
	struct sl_header *h = sample_header(), *h2 = sl_header_new();
	struct sl_type t;
	struct sl_buf plain = {0}, z = {0};
	struct sl_writer *w = sl_writer_mem(&plain);
	struct sl_value v[7] = {{0}}, one = {SL_INT, {.i = 42}};
	struct sl_reader *r;
	int kinds[8], n = 0, rc;
	size_t bound;

	sl_type_parse("int", &t);
	sl_header_add(h2, "only", t);
	sl_header_lineage(h2, 0, NULL);
	sl_write_header(w, h);
	sl_write_record(w, v, 7);
	sl_write_header(w, h2);
	sl_write_record(w, &one, 1);
	sl_writer_close(w, NULL);

	bound = ZSTD_compressBound(plain.n);
	sl_buf_reserve(&z, bound);
	z.n = ZSTD_compress(z.p, bound, plain.p, plain.n, 3);
	ok(!ZSTD_isError(z.n), "compressed the stream");
	r = sl_reader_mem(z.p, z.n, "z");
	while (n < 8 && (rc = sl_read(r)) > 0)
		kinds[n++] = rc;
	is_int(n, 4, "zstd input: 4 objects");
	ok(kinds[0] == SL_HEADER && kinds[1] == SL_RECORD && kinds[2] == SL_HEADER &&
	       kinds[3] == SL_RECORD,
	   "header, record, new header, record");
	is_int(sl_reader_header(r)->nfields, 1, "second segment has its own schema");
	is_int(sl_reader_values(r)[0].u.i, 42, "value of the second segment");
	is_int(sl_reader_segments(r), 2, "two segments counted");
	sl_reader_close(r);

	z.n -= 3; /* a truncated frame */
	r = sl_reader_mem(z.p, z.n, "z");
	while ((rc = sl_read(r)) > 0)
		;
	ok(rc == SL_ERROR && strstr(sl_reader_error(r), "zstd"),
	   "truncated zstd frame is an error (%s)", sl_reader_error(r));
	sl_reader_close(r);
	sl_buf_free(&plain);
	sl_buf_free(&z);
	sl_header_free(h);
	sl_header_free(h2);
}

static void test_numbers(void)
{
	const char *cases[][2] = {
	    {"0.1", "0.1"},     {"1", "1.0"},         {"-2.5", "-2.5"},
	    {"100", "100.0"},   {"1e22", "1e+22"},    {"1e-7", "1e-07"},
	    {"0.0001", "0.0001"}, {"123456.789", "123456.789"},
	    {"3.14159265358979", "3.14159265358979"},
	    {"0.30000000000000004", "0.30000000000000004"},
	    {"-0.0", "-0.0"},   {"1.7976931348623157e308", "1.7976931348623157e+308"},
	    {"5e-324", "5e-324"}, {"9007199254740993", "9007199254740992.0"},
	    {"NaN", "NaN"},     {"-inf", "-Infinity"}, {".5", "0.5"},
	    {"2.", "2.0"},      {"1.50", "1.5"},      {"0.00001", "1e-05"},
	    {"0.00009999999999999999", "9.999999999999999e-05"}, {"0.0001", "0.0001"},
	    {"0.09999999999999999", "0.09999999999999999"},      {"12345678901234567890", "1.2345678901234567e+19"},
	};
	const char *badf[] = {"", "-", ".", "1e", "1e+", "abc", "1.2.3", "0x10", " 1", "1 ", "nan1", "e5"};
	const char *badi[] = {"", "-", "007", "-0", "1.0", "9223372036854775808", "+1", "1e3", " 1"};
	char buf[32];
	double d;
	int64_t i;
	int allok = 1;

	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		ok(sl_parse_float(cases[k][0], strlen(cases[k][0]), &d) == 0,
		   "float '%s' parses", cases[k][0]);
		sl_fmt_float(buf, d);
		is_str(buf, cases[k][1], "float '%s' prints shortest", cases[k][0]);
	}
	for (size_t k = 0; k < sizeof badf / sizeof *badf; k++)
		ok(sl_parse_float(badf[k], strlen(badf[k]), &d) < 0, "'%s' is not a float",
		   badf[k]);
	for (size_t k = 0; k < sizeof badi / sizeof *badi; k++)
		ok(sl_parse_int(badi[k], strlen(badi[k]), &i) < 0, "'%s' is not an int",
		   badi[k]);
	ok(sl_parse_int("-9223372036854775808", 20, &i) == 0 && i == INT64_MIN,
	   "INT64_MIN parses");
	sl_fmt_int(buf, INT64_MIN);
	is_str(buf, "-9223372036854775808", "INT64_MIN prints");
	/* Random doubles: shortest output reads back exactly, and agrees with
	 * strtod on what it printed; the fast parser agrees with strtod. */
	srand(7);
	for (int k = 0; k < 200000; k++) {
		uint64_t u = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
		double x, back;
		if (k % 2)
			memcpy(&x, &u, 8);
		else
			x = (double)(rand() % 2000000 - 1000000) / pow(10, rand() % 7);
		if (isnan(x) || isinf(x))
			continue;
		sl_fmt_float(buf, x);
		if (sl_parse_float(buf, strlen(buf), &back) < 0 || back != x ||
		    strtod(buf, NULL) != x) {
			allok = 0;
			printf("# %.17g printed as %s\n", x, buf);
			break;
		}
	}
	ok(allok, "200000 random doubles: shortest text reads back exactly");
	{ /* shortest: no output longer than %.17g needs, and short ones stay short */
		sl_fmt_float(buf, 0.1 + 0.2);
		is_str(buf, "0.30000000000000004", "0.1+0.2 prints as Python does");
	}
	{ /* fixed decimals agree with printf, ties and near-ties included */
		struct sl_rng r;
		char a[64], b[64];
		long bad = 0;
		sl_rng_seed(&r, 5);
		for (int k = 0; k < 200000; k++) {
			double x = k % 3 == 0 ? sl_rng_normal(&r) * pow(10, (double)sl_rng_below(&r, 12) - 4)
			                      : (double)((int64_t)sl_rng_below(&r, 2000000) - 1000000) /
			                            pow(10, (double)sl_rng_below(&r, 9)) +
			                            (k % 5 == 0 ? 5e-7 : 0);
			for (int d = 0; d <= 8; d += 2) {
				sl_fmt_fixed(a, x, d);
				snprintf(b, sizeof b, "%.*f", d, x);
				bad += strcmp(a, b) != 0;
			}
		}
		ok(!bad, "sl_fmt_fixed equals printf %%.Nf on 1,000,000 cases (%ld differ)", bad);
	}
	is_int(sl_parse_bool("TRUE", 4), 1, "TRUE is a bool");
	is_int(sl_parse_bool("false", 5), 0, "false is a bool");
	is_int(sl_parse_bool("yes", 3), -1, "yes is not a bool");
}

static void test_utf8_json(void)
{
	struct sl_buf b = {0};

	is_int(sl_utf8_valid("h\xc3\xa9", 3), 3, "valid 2-byte sequence");
	is_int(sl_utf8_valid("ab\xc0\xaf", 4), 2, "overlong is invalid");
	is_int(sl_utf8_valid("\xed\xa0\x80", 3), 0, "surrogate is invalid");
	is_int(sl_utf8_valid("\xf4\x90\x80\x80", 4), 0, "beyond U+10FFFF is invalid");
	is_int(sl_utf8_valid("\xf0\x9f\x98\x80", 4), 4, "emoji is valid");
	is_int(sl_utf8_valid("abcdefghijklmno\xe2\x82", 17), 15, "cut sequence at the end");
	is_int(sl_utf8_repair(&b, "a\xffz", 3), 1, "one byte repaired");
	ok(b.n == 5 && memcmp(b.p, "a\xef\xbf\xbdz", 5) == 0, "repair puts U+FFFD");
	b.n = 0;
	sl_json_str(&b, "q\"\\\n\x01\xc3\xa9", 7);
	is_str(sl_buf_cstr(&b), "\"q\\\"\\\\\\n\\u0001\xc3\xa9\"", "JSON escaping");
	b.n = 0;
	sl_base64(&b, "hello", 5);
	is_str(sl_buf_cstr(&b), "aGVsbG8=", "base64");
	sl_buf_free(&b);
}

/* Header metadata as JSON: keys that are not strings become strings of
 * their JSON.  Found by tests/fuzz/reader.c: maps used as keys of maps
 * used as keys, and so on, were quoted again at every level, so the
 * output doubled with each level (a 370-byte header took 46 s and more
 * than 1 GB); now a key's JSON is quoted once however deep it is. */
static void test_json_keys(void)
{
	struct sl_buf b = {0}, in = {0};
	struct sl_val m = sl_val_map(), k = sl_val_map();
	struct sl_reader *r;
	int depth = 24;

	m.u.kv = sl_xmalloc(2 * sizeof *m.u.kv); /* {[1, "a"]: true} */
	m.n = 1;
	m.u.kv[0] = sl_val_arr();
	sl_val_push(&m.u.kv[0], sl_val_int(1));
	sl_val_push(&m.u.kv[0], sl_val_str("a"));
	m.u.kv[1] = sl_val_bool(1);
	sl_val_json(&b, &m);
	is_str(sl_buf_cstr(&b), "{\"[1,\\\"a\\\"]\":true}", "an array key is quoted JSON");
	sl_val_free(&m);
	k.u.kv = sl_xmalloc(2 * sizeof *k.u.kv); /* {{1: 2}: 3} */
	k.n = 1;
	k.u.kv[0] = sl_val_int(1);
	k.u.kv[1] = sl_val_int(2);
	m = sl_val_map();
	m.u.kv = sl_xmalloc(2 * sizeof *m.u.kv);
	m.n = 1;
	m.u.kv[0] = k;
	m.u.kv[1] = sl_val_int(3);
	b.n = 0;
	sl_val_json(&b, &m);
	is_str(sl_buf_cstr(&b), "{\"{1:2}\":3}", "a key inside a key is not quoted twice");
	sl_val_free(&m);

	/* A header whose "m" is {{{...{1: nil}...: nil}: nil}, 24 deep. */
	sl_buf_put(&in, "\x83\xa6sluice\x01\xa6" "fields\x90\xa1m", 19);
	for (int i = 0; i < depth; i++)
		sl_buf_putc(&in, 0x81);
	sl_buf_putc(&in, 0x01);
	for (int i = 0; i < depth; i++)
		sl_buf_putc(&in, 0xc0);
	r = sl_reader_mem(in.p, in.n, "deep");
	if (ok(sl_read(r) == SL_HEADER, "a header with keys nested 24 deep reads")) {
		b.n = 0;
		sl_val_json(&b, &sl_reader_header(r)->meta);
		ok(b.n < 300, "its JSON grows with the depth, not 2^depth (%zu bytes)",
		   b.n);
	}
	sl_reader_close(r);
	sl_buf_free(&in);
	sl_buf_free(&b);
}

/* A stream through a pipe in small pieces: a 3 MB string field and many
 * small records arrive intact (the reader reads on until it has enough). */
static void test_pipe(void)
{
	struct sl_buf b = {0};
	struct sl_header *h = sl_header_new();
	struct sl_type t = {SL_STR, 0, 0};
	struct sl_writer *w = sl_writer_mem(&b);
	struct sl_value v = {SL_STR, {.i = 0}};
	size_t big = 3u << 20;
	char *s = malloc(big);
	int fds[2], rc, n = 0, okv = 1;
	pid_t pid;
	struct sl_reader *r;

	memset(s, 'x', big);
	sl_header_add(h, "s", t);
	sl_write_header(w, h);
	v.u.s.p = s;
	v.u.s.n = big;
	sl_write_record(w, &v, 1);
	for (int i = 0; i < 1000; i++) {
		v.u.s.n = (size_t)i;
		sl_write_record(w, &v, 1);
	}
	sl_writer_close(w, NULL);
	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		ok(0, "pipe and fork");
		return;
	}
	if (pid == 0) { /* the child writes in 1000-byte pieces */
		close(fds[0]);
		for (size_t off = 0; off < b.n; off += 1000) {
			size_t k = b.n - off < 1000 ? b.n - off : 1000;
			if (write(fds[1], b.p + off, k) != (ssize_t)k)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	r = sl_reader_fdopen(fds[0], "pipe");
	while ((rc = sl_read(r)) > 0)
		if (rc == SL_RECORD) {
			const struct sl_value *x = sl_reader_values(r);
			size_t want = n == 0 ? big : (size_t)(n - 1);
			if (x[0].u.s.n != want || (want && x[0].u.s.p[want - 1] != 'x'))
				okv = 0;
			n++;
		}
	ok(rc == SL_EOF && n == 1001 && okv, "a 3 MB field and 1000 records through a pipe "
	   "in 1000-byte pieces (%d records)", n);
	sl_reader_close(r);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	free(s);
	sl_buf_free(&b);
	sl_header_free(h);
}

/* Columns (cols.c) and big buffers (big.c) against plain loops, and a
 * large stream read in place from memory. */
static void test_cols_big(void)
{
	struct sl_header *h = sl_header_new(), *hs = sl_header_new();
	struct sl_cols *c;
	struct sl_reader *r;
	struct sl_value v[2], *all = sl_xcalloc(2 * 10000, sizeof *all);
	struct sl_big b = {0};
	struct sl_buf out = {0};
	const unsigned char *has;
	const char *col;
	const void *raw;
	size_t rawn;
	long bad = 0;
	int ev, n = 0;

	sl_header_add(h, "i", (struct sl_type){.kind = SL_FLOAT});
	sl_header_add(h, "x", (struct sl_type){.kind = SL_FLOAT});
	sl_header_add(hs, "x", (struct sl_type){.kind = SL_FLOAT});
	sl_header_add(hs, "n", (struct sl_type){.kind = SL_INT});
	ok(sl_cols_new(hs) == NULL, "columns only for float fields");
	c = sl_cols_new(h);
	for (int i = 0; i < 10000; i++) { /* across chunks of 4096 */
		v[0].kind = i % 7 ? SL_FLOAT : SL_NIL;
		v[0].u.f = (double)i * 1000003 - 5e9;
		v[1].kind = i % 5 ? SL_FLOAT : SL_NIL;
		v[1].u.f = i % 11 ? i / 3.0 : -NAN;
		if (v[0].kind == SL_NIL)
			v[0].u.f = 0;
		if (v[1].kind == SL_NIL)
			v[1].u.f = 0;
		all[2 * i] = v[0];
		all[2 * i + 1] = v[1];
		sl_cols_add(c, v);
	}
	r = sl_reader_cols(c, "cols");
	is_int(sl_read(r), SL_HEADER, "columns read back: the header first");
	ok(sl_header_same_fields(sl_reader_header(r), h), "with the same fields");
	while ((ev = sl_read(r)) == SL_RECORD) {
		const struct sl_value *got = sl_reader_values(r);
		for (int f = 0; f < 2; f++)
			bad += got[f].kind != all[2 * n + f].kind ||
			       memcmp(&got[f].u.i, &all[2 * n + f].u.i, 8) != 0;
		n++;
	}
	is_int(ev, SL_EOF, "then the end");
	ok(n == 10000 && !bad, "10000 records, every value's kind and bits as added (%ld differ)", bad);
	sl_reader_raw(r, &raw, &rawn);
	ok(rawn == 0, "no encoded bytes for records from columns");
	sl_reader_close(r);
	col = sl_cols_field(c, 1, &has);
	bad = 0;
	for (int i = 0; i < 10000; i++)
		bad += has[i] != (all[2 * i + 1].kind != SL_NIL) ||
		       memcmp(col + 8 * i, &all[2 * i + 1].u.f, 8) != 0;
	ok(!bad, "a field's column and presence bytes");
	sl_cols_free(c);

	for (int i = 0; i < 3000; i++) /* 3 MiB in odd pieces, past malloc's 1 MiB */
		for (int k = 0; k < 1031; k++)
			((char *)sl_big_reserve(&b, 1))[0] = (char)(i * 31 + k), b.n++;
	bad = 0;
	for (size_t i = 0; i < b.n; i++)
		bad += b.p[i] != (char)((i / 1031) * 31 + i % 1031);
	ok(b.n == 3000 * 1031 && !bad, "a big buffer keeps its bytes as it grows");
	sl_big_free(&b);

	{ /* 150000 records, 2 MiB: more than a reader's buffer */
		struct sl_value *many = sl_xcalloc(2 * 150000, sizeof *many);
		for (int i = 0; i < 150000; i++) {
			many[2 * i] = all[2 * (i % 10000)];
			many[2 * i + 1] = all[2 * (i % 10000) + 1];
		}
		encode(&out, h, many, 150000);
		free(many);
	}
	{
		char *err;
		int recs = read_all(out.p, out.n, &err);
		ok(recs > 0 && !err, "a large stream in memory is read in place (%d records)", recs);
		free(err);
		recs = read_all(out.p, out.n - 3, &err);
		ok(recs < 0 && err && strstr(err, "truncated"), "and its truncation is reported: %s",
		   err ? err : "(none)");
		free(err);
	}
	sl_buf_free(&out);
	free(all);
	sl_header_free(h);
	sl_header_free(hs);
}

int main(void)
{
	sl_init("stream-test");
	test_types();
	test_roundtrip();
	test_bad();
	test_segments_zstd();
	test_numbers();
	test_utf8_json();
	test_pipe();
	test_json_keys();
	test_cols_big();
	return done_testing();
}
