/*
 * sluice.h - the one public header of libsluice.
 *
 * Filters include this and nothing else of the library.  It covers:
 *
 *   util     allocation that dies on exhaustion, program name, messages
 *   buf      a growable byte buffer
 *   type     field types: bool, int, float, str, bin and typed vectors
 *   val      a small tree of msgpack values, used for header metadata and lineage
 *   header   the schema of a segment: named, typed fields plus metadata
 *   reader   a strict, buffered stream reader (zstd detected by magic)
 *   writer   a buffered stream writer (optional zstd, atomic -o FILE)
 *   text     UTF-8 checks, number parsing and shortest float formatting,
 *            JSON string escaping
 *   cli      the options every program shares
 *
 * The wire format is documented in sluice-stream(5).  In short: a stream is
 * a sequence of msgpack objects; a map is a header, an array is a record
 * with one value per header field; nil is a missing value.
 *
 * Ownership: functions named _new/_open return objects the caller frees
 * with the matching _free/_close.  Values handed out by a reader point into
 * its buffer and stay valid only until the next sl_read().
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_VERSION "0.1.0"
#define SL_FORMAT_VERSION 1

/* ---------------------------------------------------------------- util */

/* The name used to prefix messages, e.g. "sluice-ingest".  Set once from
 * argv[0] by sl_init(). */
extern const char *sl_progname;
void sl_init(const char *argv0);

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t n, size_t size);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);

/* "<prog>: <message>\n" on stderr. */
void sl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sl_warn, then exit(code). */
_Noreturn void sl_die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A broken invariant: a bug, not bad data. */
#define SL_ASSERT(c)                                                           \
	((c) ? (void)0 : sl_assert_fail(#c, __FILE__, __LINE__))
_Noreturn void sl_assert_fail(const char *what, const char *file, int line);

/* ----------------------------------------------------------------- buf */

struct sl_buf {
	char *p;
	size_t n, cap;
};

void sl_buf_reserve(struct sl_buf *b, size_t extra);
void sl_buf_put(struct sl_buf *b, const void *p, size_t n);
void sl_buf_puts(struct sl_buf *b, const char *s);
void sl_buf_putc(struct sl_buf *b, int c);
void sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Keeps b->p NUL-terminated after the n bytes. */
const char *sl_buf_cstr(struct sl_buf *b);
void sl_buf_free(struct sl_buf *b);

/* ---------------------------------------------------------------- type */

enum sl_kind {
	SL_NIL = 0, /* a missing value (never a field type) */
	SL_BOOL,
	SL_INT,   /* int64 */
	SL_FLOAT, /* float64 */
	SL_STR,   /* UTF-8 */
	SL_BIN,
	SL_VEC, /* little-endian vector stored as msgpack bin */
};

enum sl_elem {
	SL_ELEM_NONE = 0,
	SL_ELEM_U8,
	SL_ELEM_I8,
	SL_ELEM_U16,
	SL_ELEM_I16,
	SL_ELEM_U32,
	SL_ELEM_I32,
	SL_ELEM_U64,
	SL_ELEM_I64,
	SL_ELEM_F32,
	SL_ELEM_F64,
};

struct sl_type {
	enum sl_kind kind;
	enum sl_elem elem; /* SL_VEC only */
	uint32_t len;      /* SL_VEC only: element count, 0 = any ("i32[]") */
};

/* Parses "int", "f32[784]", "u16[]", ...  Returns 0, or -1 if malformed. */
int sl_type_parse(const char *s, struct sl_type *t);
/* Writes the canonical spelling; returns its length.  cap >= 32 is enough. */
int sl_type_format(struct sl_type t, char *out, size_t cap);
size_t sl_elem_size(enum sl_elem e);
const char *sl_kind_name(enum sl_kind k);
/* Element i of a vector as a double. */
double sl_vec_get(enum sl_elem e, const void *data, size_t i);

/* ----------------------------------------------------------------- val */

/* A msgpack value tree for header metadata.  Strings and bins are owned,
 * NUL-terminated copies; arrays hold n items; maps hold n key/value pairs
 * in kv[2*i], kv[2*i+1] and keep insertion order. */
enum sl_vtag {
	SL_V_NIL = 0,
	SL_V_BOOL,
	SL_V_INT,
	SL_V_FLOAT,
	SL_V_STR,
	SL_V_BIN,
	SL_V_ARR,
	SL_V_MAP,
};

struct sl_val {
	enum sl_vtag tag;
	size_t n; /* bytes (str, bin), items (arr), pairs (map) */
	union {
		int b;
		int64_t i;
		double f;
		char *s;
		struct sl_val *a;  /* arr items */
		struct sl_val *kv; /* map pairs */
	} u;
};

struct sl_val sl_val_nil(void);
struct sl_val sl_val_bool(int b);
struct sl_val sl_val_int(int64_t i);
struct sl_val sl_val_float(double f);
struct sl_val sl_val_str(const char *s);
struct sl_val sl_val_strn(const char *s, size_t n);
struct sl_val sl_val_arr(void);
struct sl_val sl_val_map(void);
/* Takes ownership of item. */
void sl_val_push(struct sl_val *arr, struct sl_val item);
/* Sets key to v (replacing an existing key in place); takes ownership of v. */
void sl_val_set(struct sl_val *map, const char *key, struct sl_val v);
/* The value of key, or NULL. */
const struct sl_val *sl_val_get(const struct sl_val *map, const char *key);
struct sl_val sl_val_copy(const struct sl_val *v);
void sl_val_free(struct sl_val *v);
/* Appends v as JSON (bins as base64 strings, NaN as NaN). */
void sl_val_json(struct sl_buf *out, const struct sl_val *v);

/* -------------------------------------------------------------- header */

struct sl_field {
	char *name;
	struct sl_type type;
};

struct sl_header {
	size_t nfields;
	struct sl_field *fields;
	struct sl_val meta;    /* map: every header key but sluice/fields/lineage */
	struct sl_val lineage; /* array of maps {program, version, args} */
};

struct sl_header *sl_header_new(void);
void sl_header_free(struct sl_header *h);
struct sl_header *sl_header_copy(const struct sl_header *h);
/* Returns the new field's index, or -1 if the name is taken or empty. */
int sl_header_add(struct sl_header *h, const char *name, struct sl_type t);
/* Index of the field called name, or -1. */
int sl_header_find(const struct sl_header *h, const char *name);
/* Appends {program: sl_progname, version, args: argv[1..argc-1]}. */
void sl_header_lineage(struct sl_header *h, int argc, char **argv);
/* 1 if both declare the same field names and types in the same order. */
int sl_header_same_fields(const struct sl_header *a, const struct sl_header *b);

/* -------------------------------------------------------------- values */

/* One value of a record.  Strings, bins and vectors point at bytes they do
 * not own (s.p, s.n); for SL_VEC, s.n is the byte length. */
struct sl_value {
	enum sl_kind kind;
	union {
		int b;
		int64_t i;
		double f;
		struct {
			const char *p;
			size_t n;
		} s;
	} u;
};

/* A record copied out of a reader: values plus the bytes they point into. */
struct sl_rec {
	size_t n;
	struct sl_value *v;
	char *data;
	size_t datalen;
};

/* Deep copy of n values into *dst (reusing its storage). */
void sl_rec_set(struct sl_rec *dst, const struct sl_value *v, size_t n);
void sl_rec_free(struct sl_rec *r);

/* -------------------------------------------------------------- reader */

enum {
	SL_ERROR = -1,
	SL_EOF = 0,
	SL_RECORD = 1,
	SL_HEADER = 2, /* a (new) header was read; sl_reader_header() has it */
};

struct sl_reader;

/* Opens path ("-" or NULL: stdin).  Never returns NULL: a failure to open
 * is reported by the first sl_read() as SL_ERROR. */
struct sl_reader *sl_reader_open(const char *path);
/* Reads from an open descriptor; name is used in messages. */
struct sl_reader *sl_reader_fdopen(int fd, const char *name);
/* Reads from memory (not copied; must outlive the reader). */
struct sl_reader *sl_reader_mem(const void *p, size_t n, const char *name);
void sl_reader_close(struct sl_reader *r);

/* Advances to the next header or record.  Errors are sticky. */
int sl_read(struct sl_reader *r);
const struct sl_header *sl_reader_header(const struct sl_reader *r);
/* The current record's values, one per header field. */
const struct sl_value *sl_reader_values(const struct sl_reader *r);
/* The current record's encoded bytes. */
void sl_reader_raw(const struct sl_reader *r, const void **p, size_t *n);
/* Records read so far across all segments (the current one is number N). */
uint64_t sl_reader_recno(const struct sl_reader *r);
/* Number of headers read so far. */
uint64_t sl_reader_segments(const struct sl_reader *r);
const char *sl_reader_name(const struct sl_reader *r);
/* "input: record N: field "x": what went wrong", or NULL. */
const char *sl_reader_error(const struct sl_reader *r);

/* Upper bound on one encoded object (record or header). */
#define SL_MAX_OBJECT ((size_t)1 << 31)

/* -------------------------------------------------------------- writer */

struct sl_wopts {
	int zstd;  /* 0: plain; 1..19: zstd level */
	int force; /* write binary even when stdout is a terminal */
};

struct sl_writer;

/* Opens path for writing (NULL or "-": stdout).  A named file is written to
 * a temporary file beside it and renamed into place by sl_writer_close().
 * Never returns NULL; check sl_writer_error() after opening. */
struct sl_writer *sl_writer_open(const char *path, const struct sl_wopts *o);
/* Writes into memory instead (for tests); the bytes are in *out after close. */
struct sl_writer *sl_writer_mem(struct sl_buf *out);
/* Write functions return 0, or -1 once an error has happened (sticky). */
int sl_write_header(struct sl_writer *w, const struct sl_header *h);
/* n values; n must equal the header's field count. */
int sl_write_record(struct sl_writer *w, const struct sl_value *v, size_t n);
/* An already-encoded record (from sl_reader_raw) under the same header. */
int sl_write_raw(struct sl_writer *w, const void *p, size_t n);
int sl_writer_flush(struct sl_writer *w);
/* Flushes, finishes, renames.  Returns 0, or -1 (message in *err if given,
 * to be freed by the caller).  Frees w either way. */
int sl_writer_close(struct sl_writer *w, char **err);
/* Abandons the output: a temporary file is removed. */
void sl_writer_abort(struct sl_writer *w);
const char *sl_writer_error(const struct sl_writer *w);
uint64_t sl_writer_records(const struct sl_writer *w);

/* ---------------------------------------------------------------- text */

/* Length of the valid UTF-8 prefix of p[0..n).  == n when all valid. */
size_t sl_utf8_valid(const char *p, size_t n);
/* Appends p with invalid sequences replaced by U+FFFD; returns how many. */
size_t sl_utf8_repair(struct sl_buf *out, const char *p, size_t n);
/* Number of code points in valid UTF-8. */
size_t sl_utf8_len(const char *p, size_t n);

/* Strict decimal integer: -?(0|[1-9][0-9]*) in int64 range.  0 or -1. */
int sl_parse_int(const char *p, size_t n, int64_t *out);
/* A decimal number with optional fraction and exponent, or nan/inf words
 * ("NaN", "inf", "-Infinity", ...).  Exactly rounded.  0 or -1. */
int sl_parse_float(const char *p, size_t n, double *out);
/* true/false (any case) -> 1/0; else -1. */
int sl_parse_bool(const char *p, size_t n);
/* Shortest decimal that reads back as x, always with a '.' or exponent
 * ("2.0", "1e+300"), "NaN", "Infinity", "-Infinity".  out >= 32 bytes;
 * returns the length. */
int sl_fmt_float(char *out, double x);
/* Decimal int64; out >= 21 bytes; returns the length. */
int sl_fmt_int(char *out, int64_t x);
/* Appends a JSON string literal for p[0..n) (invalid UTF-8 as U+FFFD). */
void sl_json_str(struct sl_buf *out, const char *p, size_t n);
void sl_base64(struct sl_buf *out, const void *p, size_t n);

/* ----------------------------------------------------------------- rng */

/* xoshiro256** seeded by splitmix64: the only randomness in sluice. */
struct sl_rng {
	uint64_t s[4];
};

void sl_rng_seed(struct sl_rng *r, uint64_t seed);
uint64_t sl_rng_next(struct sl_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sl_rng_uniform(struct sl_rng *r);
/* Uniform integer in [0, n), exactly (n > 0). */
uint64_t sl_rng_below(struct sl_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double sl_rng_normal(struct sl_rng *r);
/* Seeds child from parent: independent streams for workers. */
void sl_rng_fork(struct sl_rng *parent, struct sl_rng *child);
/* A stable 64-bit hash of bytes (the same on every machine and run). */
uint64_t sl_hash64(const void *p, size_t n, uint64_t seed);

/* ----------------------------------------------------------------- cli */

/* Options every program shares, parsed by sl_cli_common(). */
struct sl_cli {
	const char *output; /* -o FILE */
	struct sl_wopts w;  /* -z/--zstd[=LEVEL], -f/--force */
};

/* getopt_long entries for the shared options; put SL_CLI_LONGOPTS first
 * in a program's table and "o:fz" in its short-option string. */
enum { SL_OPT_HELP = 0x1000, SL_OPT_VERSION, SL_OPT_ZSTD, SL_OPT_FIRST_FREE };
#define SL_CLI_LONGOPTS                                                        \
	{"help", no_argument, 0, SL_OPT_HELP},                                     \
	    {"version", no_argument, 0, SL_OPT_VERSION},                           \
	    {"output", required_argument, 0, 'o'},                                 \
	    {"force", no_argument, 0, 'f'},                                        \
	    {"zstd", optional_argument, 0, SL_OPT_ZSTD}

/* Handles a shared option c.  Returns 1 if it was one (--help calls usage
 * with status 0, --version prints and exits), 0 otherwise. */
int sl_cli_common(struct sl_cli *cli, int c, const char *arg,
                  void (*usage)(int status));

/* Parses a non-negative count ("10", "1k", "2M"); -1 if malformed. */
long long sl_parse_count(const char *s);

/* Progress on stderr when it is a terminal (or when forced). */
struct sl_progress {
	int on;
	double start, last, checked;
	uint32_t calls, every;
	uint64_t total; /* 0: unknown */
	const char *unit;
};
void sl_progress_start(struct sl_progress *p, const char *unit, uint64_t total,
                       int force);
void sl_progress_update(struct sl_progress *p, uint64_t done);
void sl_progress_end(struct sl_progress *p, uint64_t done);
double sl_now(void);

#endif
