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
void *sl_xalloc64(size_t n); /* 64-byte aligned, uninitialised; free() frees */
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

/* When fd is a pipe, asks for a 1 MiB pipe buffer (best effort). */
void sl_pipe_grow(int fd);

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

/* A big growable buffer (lib/big.c) for what a filter must hold whole, such
 * as a stream it reads twice or a column of a million values: mapped on
 * its own with transparent huge pages and grown with mremap, so memory is
 * faulted in 2 MiB at a time and never copied when it grows.  New bytes
 * are not cleared.  p stays NULL until the first reserve. */
struct sl_big {
	char *p;
	size_t n, cap;
};
/* Makes room for extra more bytes after n; returns p + n. */
void *sl_big_reserve(struct sl_big *b, size_t extra);
void sl_big_put(struct sl_big *b, const void *p, size_t n);
void sl_big_free(struct sl_big *b);

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
/* Appends {program: sl_progname, version, args: argv[1..argc-1]}, the
 * arguments without -o FILE: one output written to two places is the same
 * bytes. */
void sl_header_lineage(struct sl_header *h, int argc, char **argv);
/* The command line without the long option opt (e.g. "--threads") and its
 * value, nor any abbreviation of it at least minlen characters long (the
 * ones getopt_long takes for it), for a lineage that an option changing
 * nothing in the output must not mark.  Options end at "--".  Returns an
 * array of *n pointers into argv (free the array only). */
char **sl_args_without(int argc, char **argv, const char *opt, size_t minlen, int *n);
/* 1 if both declare the same field names and types in the same order. */
int sl_header_same_fields(const struct sl_header *a, const struct sl_header *b);
/* 1 if lineage b tells of the stages a does, the same programs, versions
 * and arguments in the same order (counts aside), perhaps more after. */
int sl_lineage_extends(const struct sl_val *b, const struct sl_val *a);
/* h's lineage becomes lin's entries followed by h's last one (this run's):
 * for a fit that writes its output from a copy of the input it gathered,
 * whose header is the first one read. */
void sl_lineage_rebase(struct sl_header *h, const struct sl_val *lin);

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
/* Once sl_read has returned SL_EOF: when the input was one segment of
 * records and then its trailer (a second header with the same fields,
 * nothing after it, whose lineage sl_lineage_extends the first's; see
 * sl_write_trailer), the trailer's lineage, with the counts known only at
 * the stream's end; else NULL.  Another input's lineage, or a stream of
 * several segments (cat a b), is never taken for it. */
const struct sl_val *sl_reader_trailer(const struct sl_reader *r);
/* *lin = a copy of sl_reader_trailer(r), where there is one: for a program
 * that reads a whole input before writing (a fit), whose output's lineage
 * is its first input's. */
void sl_reader_take_trailer(const struct sl_reader *r, struct sl_val *lin);
const char *sl_reader_name(const struct sl_reader *r);
/* For a stage that takes one schema: 1, after a warning naming the input
 * and the segment ("...has other fields than the first" and tail, which
 * may be NULL), when first is given and header h has other fields; else 0. */
int sl_reader_fields_differ(const struct sl_reader *r, const struct sl_header *first,
                            const struct sl_header *h, const char *tail);
/* "input: record N: field "x": what went wrong", or NULL. */
const char *sl_reader_error(const struct sl_reader *r);

/* Records of floats held as columns (lib/cols.c), for a filter that must
 * hold its whole input: 8 bytes per value and a byte saying it is not nil,
 * and nothing to decode when read again. */
struct sl_cols;
/* Columns for records of header h; NULL unless every field is a float. */
struct sl_cols *sl_cols_new(const struct sl_header *h);
void sl_cols_add(struct sl_cols *c, const struct sl_value *v);
uint64_t sl_cols_count(const struct sl_cols *c);
const struct sl_header *sl_cols_header(const struct sl_cols *c);
/* Record i's values, of the kinds the header declares. */
void sl_cols_get(const struct sl_cols *c, uint64_t i, struct sl_value *v);
/* Field f's values (8 bytes each, doubles) and, in *has, a byte per
 * record that is 0 where the value is nil. */
const char *sl_cols_field(const struct sl_cols *c, size_t f, const unsigned char **has);
void sl_cols_free(struct sl_cols *c);
/* Reads c back (not copied; it must outlive the reader): its header, then
 * its records.  sl_reader_raw() gives no bytes for them. */
struct sl_reader *sl_reader_cols(const struct sl_cols *c, const char *name);

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
/* A trailer (lib/header.c): outh once more, for the end of a stream, with
 * no records after it (an empty segment of the same fields, which readers
 * take as more of the same stream).  Its lineage is lastlin (the last input
 * header's lineage, so a trailer in the input keeps an earlier stage's
 * counts; NULL or not an array: none) plus this run's entry, the last of
 * outh's lineage, with "counts" set to counts (taken over).  For a
 * streaming program whose header went out before anything was counted. */
int sl_write_trailer(struct sl_writer *w, const struct sl_header *outh,
                     const struct sl_val *lastlin, struct sl_val counts);
/* n values; n must equal the header's field count. */
int sl_write_record(struct sl_writer *w, const struct sl_value *v, size_t n);
/* An already-encoded record (from sl_reader_raw) under the same header. */
int sl_write_raw(struct sl_writer *w, const void *p, size_t n);
/* An encoded record followed by nextra more values: for a header that is
 * the record's header plus nextra fields at the end. */
int sl_write_raw_append(struct sl_writer *w, const void *p, size_t n,
                        const struct sl_value *extra, size_t nextra);
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
/* x with exactly digits (0..17) decimals, rounded as printf("%.*f")
 * rounds; NaN and infinities as sl_fmt_float.  out >= 40 bytes. */
int sl_fmt_fixed(char *out, double x, int digits);
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
/* A fast, stable 128-bit hash of bytes (two 64-bit lanes). */
void sl_hash128(const void *p, size_t n, uint64_t seed, uint64_t out[2]);

/* ----------------------------------------------------------------- cli */

/* Options every program shares, parsed by sl_cli_common(). */
struct sl_cli {
	const char *output; /* -o FILE */
	struct sl_wopts w;  /* -z/--zstd[=LEVEL], -f/--force */
};

/* getopt_long entries for the shared options; put SL_CLI_LONGOPTS first
 * in a program's table and "o:fz" in its short-option string
 * (-z is --zstd at level 3; never use 'z' as another option's value). */
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


/* =========================================================== tensor core
 *
 * float32 arrays with explicit dimensions, in the manner of llm.c: a
 * tensor is a plain float * plus the sizes its function is given, row-major
 * and contiguous.  Dimension letters: B rows of a batch (for sequences the
 * caller passes B*T), C channels or features in, OC out, V classes or
 * vocabulary, H x W image planes.
 *
 * Each layer is a pair sl_<layer>_forward / sl_<layer>_backward.  Arguments
 * are ordered outputs, inputs, weights, caches, sizes.  A backward
 * ACCUMULATES (+=) into every gradient it is given, so the caller zeroes
 * gradients once per step.  The layers with weights (linear, layer norm,
 * conv2d) skip an input gradient given as NULL, as the first layer needs
 * none.  Caches are written by the forward and read by the backward;
 * their sizes are stated beside each function.  Reductions run in a fixed
 * order, so results are bit-identical from run to run.
 *
 *   tensor   sl_matmul over OpenBLAS sgemm, BLAS thread control
 *   gemm     small products as AVX-512 register tiles (where the CPU has
 *            them), for the convolutions and the nets' linear layers
 *   rng      sl_mix64 below; the seeded generator (struct sl_rng) is
 *            declared with the other shared helpers above
 *   init     weight initialisation schemes
 *   layers   linear, activations, dropout, layer norm, embedding, softmax
 *   conv     conv2d (im2col + gemm's products), max-pool 2d, flatten
 *   loss     softmax cross-entropy, MSE, MAE, Huber, hinge, BCE with logits
 *   params   parameters, gradients and optimizer moments: one block each,
 *            with named views
 *   optim    SGD, momentum, Nesterov, Adam, AdamW, RMSprop; penalties,
 *            clipping by global norm
 *   sched    learning-rate schedules
 */

/* -------------------------------------------------------------- tensor */

enum sl_trans { SL_TRANS_N = 0, SL_TRANS_T = 1 };

/* c = alpha * op(a) * op(b) + beta * c, row-major, BLAS convention:
 * op(a) is (M,K), op(b) is (K,N), c is (M,N).  a is stored (M,K), or (K,M)
 * when ta is SL_TRANS_T; b is stored (K,N), or (N,K) when tb is SL_TRANS_T.
 * With beta == 0, c is overwritten (NaNs in it are not propagated). */
void sl_matmul(float *c, const float *a, const float *b, enum sl_trans ta,
               enum sl_trans tb, int M, int N, int K, float alpha, float beta);
/* The same with explicit leading dimensions (row strides, in elements), for
 * operating on a sub-matrix such as one attention head. */
void sl_matmul_ld(float *c, int ldc, const float *a, int lda, const float *b,
                  int ldb, enum sl_trans ta, enum sl_trans tb, int M, int N,
                  int K, float alpha, float beta);
/* Threads OpenBLAS may use for one call.  Programs that split a batch over
 * their own workers set this to 1 so the two never oversubscribe. */
void sl_blas_threads(int n);
/* 1 when OpenBLAS runs AVX-512 kernels (by its core name). */
int sl_blas_wide(void);

/* ------------------------------------------------------------ rng (more) */

/* The splitmix64 finaliser: a bijective mix of 64 bits.  Counter-based
 * randomness (dropout masks) hashes (seed, index) with it. */
uint64_t sl_mix64(uint64_t x);

/* ---------------------------------------------------------------- init */

enum sl_init_kind {
	SL_INIT_ZEROS,
	SL_INIT_CONST,          /* arg: the value */
	SL_INIT_UNIFORM,        /* arg: a, values in U(-a, a) */
	SL_INIT_NORMAL,         /* arg: sigma, values in N(0, sigma^2) */
	SL_INIT_XAVIER_UNIFORM, /* U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) */
	SL_INIT_XAVIER_NORMAL,  /* sigma = gain * sqrt(2 / (fan_in + fan_out)) */
	SL_INIT_HE_UNIFORM,     /* U(-a, a), a = gain * sqrt(3 / fan_in) */
	SL_INIT_HE_NORMAL,      /* sigma = gain / sqrt(fan_in) */
};

/* A scheme and its argument; for Xavier and He the argument is the gain
 * (PyTorch's meaning: 1 for Xavier, sqrt(2) for He with ReLU). */
struct sl_init_spec {
	enum sl_init_kind kind;
	float arg;
};

/* Parses a flag value: "zeros", "const:C", "uniform:A", "normal:SIGMA",
 * "xavier_uniform[:GAIN]", "xavier_normal[:GAIN]", "he_uniform[:GAIN]",
 * "he_normal[:GAIN]" (default gains 1 and sqrt(2)).  0, or -1 if malformed. */
int sl_init_parse(struct sl_init_spec *spec, const char *s);
/* Fills w[0..n) by spec, drawing from r.  fan_in and fan_out are the
 * weight's: (OC,C) linear -> C and OC; (OC,IC,KH,KW) conv -> IC*KH*KW and
 * OC*KH*KW.  Only the Xavier and He kinds read them. */
void sl_init_fill(float *w, struct sl_rng *r, struct sl_init_spec spec,
                  size_t n, int fan_in, int fan_out);

/* -------------------------------------------------------------- layers */
/* The linear layer's products (lib/layers.c): out (B,OC) = in (B,C)
 * w (OC,C)^T, din (B,C) = dout (B,OC) w, dw (OC,C) = dout^T in, each
 * plus the old values when acc; by lib/gemm.c's kernels where
 * sl_gemm_beats_blas, else sgemm. */
void sl_linear_gemm(float *out, const float *in, const float *w, int B, int C, int OC,
                    int acc);
void sl_linear_gemm_din(float *din, const float *dout, const float *w, int B, int C,
                        int OC, int acc);
void sl_linear_gemm_dw(float *dw, const float *dout, const float *in, int B, int C, int OC,
                       int acc);

/* linear: out = in . w^T + bias, PyTorch's layout (so a (V,C) embedding
 * table can serve as a tied output layer).  bias may be NULL.
 * in (B,C) -> out (B,OC); w (OC,C); bias (OC) */
void sl_linear_forward(float *out, const float *in, const float *w,
                       const float *bias, int B, int C, int OC);
/* din (B,C) += dout . w; dw (OC,C) += dout^T . in; dbias (OC) += column
 * sums of dout.  din, dbias may be NULL. */
void sl_linear_backward(float *din, float *dw, float *dbias, const float *dout,
                        const float *in, const float *w, int B, int C, int OC);

/* Element-wise activations over n values.  ReLU and GELU's backward read
 * the input; tanh's and sigmoid's read the output (their cache).
 * GELU is the exact form x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)). */
void sl_relu_forward(float *out, const float *in, size_t n);
void sl_relu_backward(float *din, const float *dout, const float *in, size_t n);
void sl_gelu_forward(float *out, const float *in, size_t n);
/* GELU, and its derivative into dgelu (which may be in), so a backward
 * can be dout * dgelu. */
void sl_gelu_forward_grad(float *out, float *dgelu, const float *in, size_t n);
void sl_gelu_backward(float *din, const float *dout, const float *in, size_t n);
void sl_tanh_forward(float *out, const float *in, size_t n);
void sl_tanh_backward(float *din, const float *dout, const float *out, size_t n);
void sl_sigmoid_forward(float *out, const float *in, size_t n);
void sl_sigmoid_backward(float *din, const float *dout, const float *out,
                         size_t n);

/* Inverted dropout: each value is kept with probability 1 - p and scaled by
 * 1 / (1 - p), so evaluation needs no rescaling (there, skip the layer).
 * The mask of element i is a pure function of (seed, i): the same seed
 * gives the same mask, and a resumed run redraws exactly what it lost.
 * mask (n) is the cache: 0 or 1 / (1 - p).  0 <= p < 1. */
void sl_dropout_forward(float *out, float *mask, const float *in, float p,
                        uint64_t seed, size_t n);
void sl_dropout_backward(float *din, const float *dout, const float *mask,
                         size_t n);

/* Layer norm over the last dimension, eps 1e-5 (PyTorch's default).
 * in (B,C) -> out (B,C); weight, bias (C); caches mean, rstd (B) */
void sl_layernorm_forward(float *out, float *mean, float *rstd,
                          const float *in, const float *weight,
                          const float *bias, int B, int C);
/* din may be NULL. */
void sl_layernorm_backward(float *din, float *dweight, float *dbias,
                           const float *dout, const float *in,
                           const float *weight, const float *mean,
                           const float *rstd, int B, int C);

/* Embedding lookup: out row b = table row ids[b]; 0 <= ids[b] < V.
 * ids (B) -> out (B,C); table (V,C).  The backward adds each dout row into
 * its table row, in order of b (ids may repeat). */
void sl_embedding_forward(float *out, const int32_t *ids, const float *table,
                          int B, int C, int V);
void sl_embedding_backward(float *dtable, const float *dout,
                           const int32_t *ids, int B, int C);

/* Softmax over the last dimension, max-subtracted.
 * logits (B,V) -> probs (B,V) */
void sl_softmax_forward(float *probs, const float *logits, int B, int V);
void sl_softmax_backward(float *dlogits, const float *dprobs,
                         const float *probs, int B, int V);

/* ---------------------------------------------------------------- conv */

/* The geometry of a 2-d convolution over NCHW images: (OC,IC,KH,KW)
 * kernels, one stride and zero padding for both axes.  The batch size is
 * passed per call, so a short last batch needs no new struct. */
struct sl_conv2d {
	int IC, H, W;     /* input planes */
	int OC, KH, KW;   /* kernels */
	int stride, pad;
	int OH, OW;       /* output planes, set by sl_conv2d_init */
};

/* Fills c; 0, or -1 when a size is not positive or the output is empty. */
int sl_conv2d_init(struct sl_conv2d *c, int IC, int H, int W, int OC, int KH,
                   int KW, int stride, int pad);
/* Floats in the im2col cache for B images: B * IC*KH*KW * OH*OW. */
size_t sl_conv2d_col_size(const struct sl_conv2d *c, int B);
/* in (B,IC,H,W) -> out (B,OC,OH,OW); w (OC,IC,KH,KW); bias (OC) or NULL;
 * col: the im2col cache, sl_conv2d_col_size() floats, read by the
 * backward. */
void sl_conv2d_forward(float *out, float *col, const float *in, const float *w,
                       const float *bias, const struct sl_conv2d *c, int B);
/* din (B,IC,H,W) += ...; dw (OC,IC,KH,KW) += ...; dbias (OC) += ...
 * din, dbias may be NULL.  Allocates one image's scratch per call. */
void sl_conv2d_backward(float *din, float *dw, float *dbias, const float *dout,
                        const float *w, const float *col,
                        const struct sl_conv2d *c, int B);

/* Max-pooling of K x K windows every S pixels, no padding, floor mode;
 * OH = (H - K) / S + 1.  A NaN in a window wins it; ties go to the first.
 * in (B,C,H,W) -> out (B,C,OH,OW); argmax cache (B,C,OH,OW): the index of
 * the winner within its H*W plane. */
void sl_maxpool2d_forward(float *out, int32_t *argmax, const float *in, int B,
                          int C, int H, int W, int K, int S);
void sl_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                           int B, int C, int H, int W, int K, int S);

/* Flatten (B,C,H,W) -> (B,C*H*W) is the identity on contiguous memory, so
 * it is usually a view (out == in, din == dout), when both calls do
 * nothing.  Given separate buffers, the forward copies and the backward
 * accumulates, like any other layer. */
void sl_flatten_forward(float *out, const float *in, size_t n);
void sl_flatten_backward(float *din, const float *dout, size_t n);

/* ---------------------------------------------------------------- loss */

/* Each loss forward returns the mean over its rows (or elements) as a
 * scalar; the backward takes dloss, the gradient of the total objective
 * with respect to that mean (1 for a plain loss; b / B for a worker that
 * holds b of a batch's B rows), and accumulates into the input gradient. */

/* Softmax cross-entropy, fused and stable (log-sum-exp): the mean over B of
 * -log softmax(logits)[target].  probs (B,V) is the cache.
 * logits (B,V), targets (B) in [0, V) -> scalar */
float sl_softmax_xent_forward(float *probs, const float *logits,
                              const int32_t *targets, int B, int V);
/* dlogits += dloss / B * (probs - onehot(target)) */
void sl_softmax_xent_backward(float *dlogits, float dloss, const float *probs,
                              const int32_t *targets, int B, int V);

/* Regression losses over n = B*D elements, mean over all of them (as
 * PyTorch's reduction="mean").  MSE: (p - t)^2.  MAE: |p - t| (gradient 0
 * where p == t).  Huber with threshold delta > 0: (p - t)^2 / 2 inside
 * delta, delta * (|p - t| - delta / 2) outside (PyTorch's HuberLoss). */
float sl_mse_forward(const float *pred, const float *target, size_t n);
void sl_mse_backward(float *dpred, float dloss, const float *pred,
                     const float *target, size_t n);
float sl_mae_forward(const float *pred, const float *target, size_t n);
void sl_mae_backward(float *dpred, float dloss, const float *pred,
                     const float *target, size_t n);
float sl_huber_forward(const float *pred, const float *target, float delta,
                       size_t n);
void sl_huber_backward(float *dpred, float dloss, const float *pred,
                       const float *target, float delta, size_t n);

/* Multiclass hinge (the linear SVM's loss; PyTorch's MultiMarginLoss):
 * per row, sum over j != y of max(0, 1 - s_y + s_j), divided by V; mean
 * over B.  For two classes this is the binary hinge max(0, 1 - y*d) on the
 * score difference d = s_1 - s_0 (y = +-1), halved.
 * scores (B,V), targets (B) in [0, V) -> scalar */
float sl_hinge_forward(const float *scores, const int32_t *targets, int B,
                       int V);
void sl_hinge_backward(float *dscores, float dloss, const float *scores,
                       const int32_t *targets, int B, int V);

/* Binary cross-entropy on logits x with targets y in [0, 1], stable form
 * max(x, 0) - x*y + log(1 + exp(-|x|)); mean over n.  Gradient
 * sigmoid(x) - y. */
float sl_bce_logits_forward(const float *logits, const float *targets,
                            size_t n);
void sl_bce_logits_backward(float *dlogits, float dloss, const float *logits,
                            const float *targets, size_t n);

/* -------------------------------------------------------------- params */

/* A model's parameters live in one float block, their gradients in a second
 * of the same layout and the optimizer's moments in two more, so the
 * optimizer is one flat loop and a checkpoint is one write per block.
 * Each tensor is a named view: an offset and a shape.
 *
 * Tensors marked decay (weights) are laid out first, the rest (biases, norm
 * gains) after, each group in the order added; ndecay is where the first
 * group ends.  Weight decay and L1/L2 penalties apply to [0, ndecay). */
#define SL_PARAM_NAME_MAX 48
#define SL_PARAM_DIMS_MAX 4

struct sl_param {
	char name[SL_PARAM_NAME_MAX];
	int ndim;
	int shape[SL_PARAM_DIMS_MAX];
	size_t n;   /* elements: the product of the shape */
	size_t off; /* offset in each block, set by sl_params_alloc */
	int decay;
};

struct sl_params {
	struct sl_param *t;
	int count, cap;
	size_t n, ndecay;
	float *data, *grad, *m, *v; /* n floats each, zeroed by the alloc */
};

/* Adds a tensor before sl_params_alloc.  ndim in 1..4; the name unique and
 * shorter than SL_PARAM_NAME_MAX.  Returns its index. */
int sl_params_add(struct sl_params *P, const char *name, int decay, int ndim,
                  const int *shape);
/* Lays the tensors out and allocates the four blocks. */
void sl_params_alloc(struct sl_params *P);
/* Index of the tensor called name, or -1. */
int sl_params_find(const struct sl_params *P, const char *name);
float *sl_params_data(const struct sl_params *P, int i);
float *sl_params_grad(const struct sl_params *P, int i);
void sl_params_zero_grad(struct sl_params *P);
void sl_params_free(struct sl_params *P);

/* --------------------------------------------------------------- optim */

enum sl_optim_kind {
	SL_OPTIM_SGD,
	SL_OPTIM_MOMENTUM, /* heavy ball: m = mu*m + g; p -= lr*m */
	SL_OPTIM_NESTEROV, /* m = mu*m + g; p -= lr*(g + mu*m) */
	SL_OPTIM_ADAM,
	SL_OPTIM_ADAMW, /* Adam with decoupled weight decay (default 0.01) */
	SL_OPTIM_RMSPROP,
};

/* Hyperparameters and the step count.  The update rules are PyTorch's
 * (torch.optim, default dampening 0, RMSprop uncentred).
 *
 * Penalties: l2 adds l2 * p to the gradient (the gradient of l2/2 * |p|^2,
 * what torch's SGD and Adam call weight_decay), l1 adds l1 * sign(p).
 * weight_decay is decoupled, p -= lr * weight_decay * p before the update,
 * whatever the kind (AdamW's rule; SGD's equals l2 there).  All three
 * apply to the first ndecay elements only. */
struct sl_optim {
	enum sl_optim_kind kind;
	float lr;
	float momentum;     /* MOMENTUM, NESTEROV */
	float beta1, beta2; /* ADAM, ADAMW */
	float alpha;        /* RMSPROP: smoothing of the squared gradient */
	float eps;          /* ADAM, ADAMW, RMSPROP */
	float weight_decay;
	float l1, l2;
	int64_t t; /* steps taken; Adam's bias correction uses it */
};

/* PyTorch's defaults for kind: lr 0.01 (SGD family, RMSprop) or 0.001
 * (Adam), momentum 0.9, betas 0.9 / 0.999, alpha 0.99, eps 1e-8,
 * weight_decay 0.01 for AdamW and 0 otherwise, no penalties, t = 0. */
void sl_optim_init(struct sl_optim *o, enum sl_optim_kind kind);
/* "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop": 0, or -1. */
int sl_optim_parse(enum sl_optim_kind *kind, const char *name);
const char *sl_optim_name(enum sl_optim_kind kind);
/* One step over n parameters: updates param and the moments m (momentum
 * buffer, Adam's first moment) and v (Adam's second moment, RMSprop's
 * mean square); m, v may be NULL for kinds that do not use them.  grad is
 * read, not changed.  Increments o->t. */
void sl_optim_step(struct sl_optim *o, float *param, float *m, float *v,
                   const float *grad, size_t n, size_t ndecay);
/* Scales grad so its global L2 norm is at most max_norm (PyTorch's
 * clip_grad_norm_: factor max_norm / (norm + 1e-6) when norm > max_norm).
 * Returns the norm before clipping, its square from sl_sum_squares. */
float sl_clip_grad_norm(float *grad, size_t n, float max_norm);
/* The sum of x[i]^2 in double, in a fixed order: element i in lane i % 16,
 * the 16 lanes added pairwise (8 + 8, 4 + 4, 2 + 2, 1 + 1). */
double sl_sum_squares(const float *x, size_t n);
/* The same in parts: sl_sum_squares_add adds x[i]^2 into acc[i % 16]
 * (a sum over pieces keeps its lanes when every piece but the last is a
 * multiple of 16 long); sl_sum_squares_total adds the lanes pairwise (acc
 * is used up).  acc holds SL_SQ_LANES doubles, zeroed to start. */
#define SL_SQ_LANES 16
void sl_sum_squares_add(double *acc, const float *x, size_t n);
double sl_sum_squares_total(double *acc);

/* --------------------------------------------------------------- sched */

enum sl_sched_kind {
	SL_SCHED_CONSTANT,
	SL_SCHED_STEP,    /* lr * gamma^floor(k / every) */
	SL_SCHED_EXP,     /* lr * gamma^k */
	SL_SCHED_COSINE,  /* min_lr + (lr - min_lr) * (1 + cos(pi k / (total - warmup))) / 2 */
	SL_SCHED_PLATEAU, /* lr * factor^(reductions), lowered by sl_sched_observe */
};

/* A learning-rate schedule.  Every kind starts with an optional linear
 * warmup: for step < warmup, lr * (step + 1) / (warmup + 1) (nanoGPT's);
 * after it, k = step - warmup.  Cosine holds min_lr once step >= total.
 * Reduce-on-plateau keeps its state here (cur, best, bad), so saving the
 * struct saves the schedule. */
struct sl_sched {
	enum sl_sched_kind kind;
	float lr;      /* base rate */
	int64_t warmup;
	int64_t every; /* STEP */
	float gamma;   /* STEP, EXP */
	int64_t total; /* COSINE: the step where min_lr is reached */
	float min_lr;  /* COSINE, PLATEAU: the floor */
	/* PLATEAU: after more than patience observations without an
	 * improvement (relative, by threshold), cur *= factor. */
	float factor, threshold;
	int patience, maximize;
	float cur, best;
	int bad;
};

/* Defaults: warmup 0, every 1, gamma 0.1, total 1, min_lr 0, factor 0.1,
 * threshold 1e-4, patience 10, minimise (PyTorch's ReduceLROnPlateau). */
void sl_sched_init(struct sl_sched *s, enum sl_sched_kind kind, float lr);
/* "constant", "step", "exp", "cosine", "plateau": 0, or -1. */
int sl_sched_parse(enum sl_sched_kind *kind, const char *name);
/* The rate for step (0-based). */
float sl_sched_lr(const struct sl_sched *s, int64_t step);
/* Reports a validation metric (PLATEAU; ignored by the others).  Returns 1
 * when it lowered the rate. */
int sl_sched_observe(struct sl_sched *s, float metric);

/* ---------------------------------------------------------- attention */

/* Causal multi-head self-attention (lib/attention.c).
 * qkv (B,T,3C) -> out (B,T,C); att (B,NH,T,T) is the cache (softmaxed
 * scores, zero above the diagonal). */
void sl_attention_forward(float *out, float *att, const float *qkv, int B, int T,
                          int C, int NH);
/* dqkv (B,T,3C) += ...; scratch holds T*T floats. */
void sl_attention_backward(float *dqkv, float *scratch, const float *dout,
                           const float *qkv, const float *att, int B, int T, int C,
                           int NH);
/* The same, with dqkv written rather than added to (no need to clear it). */
void sl_attention_backward_set(float *dqkv, float *scratch, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C,
                               int NH);
/* out = a + b over n values; the backward adds dout into da and db. */
void sl_residual_forward(float *out, const float *a, const float *b, size_t n);
void sl_residual_backward(float *da, float *db, const float *dout, size_t n);

/* ---------------------------------------------------------------- gpt */

/* A GPT-style language model (lib/gpt.c). */
struct sl_gpt_config {
	int V;    /* vocabulary */
	int maxT; /* context length (position table rows) */
	int L;    /* blocks */
	int NH;   /* heads */
	int C;    /* channels; C % NH == 0 */
	float dropout;
};

struct sl_gpt {
	struct sl_gpt_config cfg;
	struct sl_params P; /* wte, wpe, h.<l>.*, lnf.w, lnf.b */
};

/* Everything one forward/backward over (B,T) tokens needs. */
struct sl_gpt_acts {
	int B, T;
	int32_t *pos;
	float *enc, *encmask, *ln1, *ln1m, *ln1r, *qkv, *atty, *att, *proj, *projmask,
	    *res2, *ln2, *ln2m, *ln2r, *fch, *fchg, *fc2, *fc2mask, *res3, *lnf, *lnfm,
	    *lnfr, *logits, *probs;
	float *dres, *dx, *dx2, *dqkv, *dfchg, *dlogits, *datt; /* scratch */
	/* The blocks' weights packed for sl_gemm_packed (sl_gpt_pack), where
	 * it runs and B*T >= 32: the forward packs them into wpack_own unless
	 * wpack_shared is set (a runner's, packed for the step); wpack is the
	 * one the last forward used, which its backward reads. */
	float *wpack_own;
	const float *wpack_shared, *wpack;
	/* Set by a runner whose blocks' decayed part (the weight matrices and
	 * embedding tables, [0, ndecay)) holds last step's values: the
	 * backward writes those gradients instead of adding to them. */
	int dw_set;
	float *dwpack; /* the weight gradients' packed B, B*T x 4C */
};

/* Floats of the packed block weights (0 where sl_gemm_prepacks is 0),
 * and the packing of share part of nparts of them into dst (a runner's
 * workers each pack one). */
size_t sl_gpt_pack_size(const struct sl_gpt *g);
void sl_gpt_pack(const struct sl_gpt *g, float *dst, int part, int nparts);
/* Lays out and allocates the parameters (zeroed). */
void sl_gpt_init(struct sl_gpt *g, const struct sl_gpt_config *cfg);
/* normal(0, 0.02); residual projections 0.02/sqrt(2L); biases 0; LN 1. */
void sl_gpt_init_weights(struct sl_gpt *g, uint64_t seed);
void sl_gpt_free(struct sl_gpt *g);
struct sl_gpt_acts *sl_gpt_acts_new(const struct sl_gpt *g, int B, int T);
void sl_gpt_acts_free(struct sl_gpt_acts *a);
/* ids, targets (B*T); targets may be NULL (then only a->logits is made).
 * Returns the mean loss.  Dropout is on when train is nonzero, its masks
 * drawn from seed. */
float sl_gpt_forward(const struct sl_gpt *g, struct sl_gpt_acts *a,
                     const int32_t *ids, const int32_t *targets, uint64_t seed,
                     int train);
/* The same for sequences first, first + 1, ... of a larger batch (a
 * runner's worker): element i draws the dropout mask of element
 * first * T * C + i of the whole batch, so a split batch drops the same
 * activations as the batch in one piece. */
float sl_gpt_forward_part(const struct sl_gpt *g, struct sl_gpt_acts *a,
                          const int32_t *ids, const int32_t *targets, uint64_t seed,
                          int train, int first);
/* Accumulates d(dloss * loss)/d(params) into grad (laid out like g->P).
 * Call after sl_gpt_forward with targets and train set. */
void sl_gpt_backward(const struct sl_gpt *g, struct sl_gpt_acts *a, float *grad,
                     const int32_t *ids, const int32_t *targets, float dloss);
/* Floating-point operations of one training step over B*T tokens. */
double sl_gpt_flops(const struct sl_gpt *g, int B, int T);

/* A runner for training and evaluating a GPT over batches of up to maxB
 * sequences of T tokens with nthreads workers (lib/gptrun.c).  Workers own
 * their activations and call single-threaded BLAS; their gradients are
 * summed in a fixed order, so results are bit-reproducible for a given
 * nthreads.  The model's parameters are read, never written. */
struct sl_gpt_run;
struct sl_gpt_run *sl_gpt_run_new(struct sl_gpt *g, int maxB, int T, int nthreads);
void sl_gpt_run_free(struct sl_gpt_run *r);
/* Forward and backward over b <= maxB sequences: ids and targets hold b*T
 * tokens each.  Returns the mean loss; its gradient is left in the
 * workers' blocks (overwritten, not accumulated), summed into g->P.grad by
 * sl_gpt_run_grad, or used as it is by sl_gpt_run_update.  seed draws the
 * dropout masks. */
float sl_gpt_run_step(struct sl_gpt_run *r, const int32_t *ids, const int32_t *targets,
                      int b, uint64_t seed);
/* Right after sl_gpt_run_step: the gradient of its mean loss into
 * g->P.grad (with one worker it is there already). */
void sl_gpt_run_grad(struct sl_gpt_run *r);
/* The summed loss (nats) over b <= maxB sequences, without dropout or
 * gradients.  With nll, the loss of each of the b*T positions. */
double sl_gpt_run_loss(struct sl_gpt_run *r, const int32_t *ids, const int32_t *targets,
                       int b, float *nll);
/* Right after sl_gpt_run_step (and sl_gpt_run_grad, if called; the
 * gradient untouched): clips the gradient to global norm max_norm (none
 * when max_norm <= 0) and takes one optimizer step over the block, on the
 * workers; the same as sl_gpt_run_grad, sl_clip_grad_norm and
 * sl_optim_step (with one worker, bit for bit).  Returns the norm before
 * clipping.  g->P.grad is left zero, as are the workers' blocks, and the
 * runner's next step counts on that rather than clearing them again. */
float sl_gpt_run_update(struct sl_gpt_run *r, struct sl_optim *o, float max_norm);

/* A key/value cache for generating with a GPT a token at a time
 * (lib/kvcache.c): up to maxT tokens; the model is read, never written. */
struct sl_gpt_kv;
struct sl_gpt_kv *sl_gpt_kv_new(const struct sl_gpt *g);
void sl_gpt_kv_free(struct sl_gpt_kv *c);
/* Forgets the cached tokens (to slide a window, reset and feed again). */
void sl_gpt_kv_reset(struct sl_gpt_kv *c);
int sl_gpt_kv_len(const struct sl_gpt_kv *c);
/* Feeds m >= 1 tokens at the next positions (len + m <= maxT) and returns
 * the logits (V) that follow the last one, valid until the next feed. */
const float *sl_gpt_kv_feed(struct sl_gpt_kv *c, const int32_t *ids, int m);

/* ------------------------------------------------------------- sample */

/* Choosing the next token from logits (lib/sample.c). */
struct sl_sample_opts {
	double temperature; /* >= 0, finite; 0: greedy (the arg max) */
	int top_k;          /* >= 0; 0: no limit */
	double top_p;       /* (0, 1]; 1: no limit */
};

/* NULL when the options are valid, else what is wrong with them. */
const char *sl_sample_check(const struct sl_sample_opts *o);
/* A sampler over V tokens with valid options. */
struct sl_sampler;
struct sl_sampler *sl_sampler_new(int V, const struct sl_sample_opts *o);
void sl_sampler_free(struct sl_sampler *s);
/* The distribution drawn from: n >= 1 kept tokens in walk order, *ids and
 * *probs (summing to 1), valid until the next call.  Returns n, or -1 with
 * the index of a NaN or infinite logit in *bad. */
int sl_sampler_dist(struct sl_sampler *s, const float *logits, const int32_t **ids,
                    const double **probs, int *bad);
/* The next token, drawn with one sl_rng_uniform when more than one token
 * remains (none otherwise); -1 with *bad as sl_sampler_dist. */
int32_t sl_sampler_draw(struct sl_sampler *s, const float *logits, struct sl_rng *r,
                        int *bad);

/* ---------------------------------------------------------- tokenizer */

/* Byte-level BPE or character tokenizers (lib/tok.c). */
enum { SL_TOK_BPE = 1, SL_TOK_CHAR = 2 };

struct sl_tok;
struct sl_tok_trainer;

struct sl_tok_trainer *sl_tok_trainer_new(int mode);
/* Counts the words (BPE) or characters (CHAR) of one text. */
void sl_tok_trainer_add(struct sl_tok_trainer *tr, const char *text, size_t n);
/* Learns up to vocab_size tokens, the specials included (BPE stops early
 * when no pair occurs twice).  *learnt gets the merges (BPE) or characters
 * (CHAR) learnt.  The trainer is spent afterwards: free it. */
struct sl_tok *sl_tok_train(struct sl_tok_trainer *tr, uint32_t vocab_size,
                            const char *const *specials, uint32_t nspecial,
                            uint32_t *learnt);
void sl_tok_trainer_free(struct sl_tok_trainer *tr);
void sl_tok_free(struct sl_tok *t);
uint32_t sl_tok_size(const struct sl_tok *t);
int sl_tok_mode(const struct sl_tok *t);
/* The id of a special token by its text, or UINT32_MAX. */
uint32_t sl_tok_special(const struct sl_tok *t, const char *name);
/* The bytes of token id. */
void sl_tok_bytes(const struct sl_tok *t, uint32_t id, const char **p, size_t *n);
/* Appends the ids of text to *ids (growing *cap).  CHAR mode: -1 with the
 * byte offset of an unknown character in *bad. */
int sl_tok_encode(struct sl_tok *t, const char *text, size_t n, uint32_t **ids,
                  size_t *nids, size_t *cap, size_t *bad);
/* Appends the bytes of ids; -1 with the index of an unknown id in *bad. */
int sl_tok_decode(const struct sl_tok *t, const uint32_t *ids, size_t n,
                  struct sl_buf *out, size_t *bad);
/* Writes the vocabulary as a stream under header h (fields are added). */
int sl_tok_write(const struct sl_tok *t, struct sl_writer *w, struct sl_header *h);
/* Reads a vocabulary stream; NULL with a message in err. */
struct sl_tok *sl_tok_read(struct sl_reader *r, char *err, size_t errcap);

/* =============================================================== model
 *
 * The model file (lib/model.c, sluice-model(5)): a stream whose header
 * holds the caller's metadata (architecture, training configuration,
 * preprocessing, metrics) under "state": "sluice-model", then one record
 * per tensor: name str, dtype str ("f32"), shape i32[], data f32[], crc32
 * int (zlib's CRC-32 of the data bytes).  Checkpoints use the same format.
 */
struct sl_model_tensor {
	char *name;
	int ndim;
	int shape[SL_PARAM_DIMS_MAX];
	size_t n;
	float *data;
};

struct sl_model {
	struct sl_header *h; /* metadata in h->meta, lineage in h->lineage */
	int count;
	struct sl_model_tensor *t;
};

/* An empty model with an empty header. */
void sl_model_init(struct sl_model *m);
void sl_model_free(struct sl_model *m);
/* Appends a copy of a tensor; the name must be new. */
void sl_model_add(struct sl_model *m, const char *name, int ndim,
                  const int *shape, const float *data);
/* Appends every tensor of P, its values taken from block (P->data, or a
 * block of the same layout such as P->m), named prefix + tensor name. */
void sl_model_add_params(struct sl_model *m, const struct sl_params *P,
                         const float *block, const char *prefix);
const struct sl_model_tensor *sl_model_find(const struct sl_model *m,
                                            const char *name);
/* Copies tensors prefix + name into block (laid out as P), checking that
 * each is present with P's shape.  0, or -1 with a message naming path and
 * the tensor in err. */
int sl_model_get_params(const struct sl_model *m, const struct sl_params *P,
                        float *block, const char *prefix, const char *path,
                        char *err, size_t errcap);
/* Writes m to path atomically (temporary file, rename; NULL or "-":
 * stdout, refused on a terminal unless o->force), then reads it back and
 * compares every tensor.  0, or -1 with a message in err. */
int sl_model_write(const struct sl_model *m, const char *path,
                   const struct sl_wopts *o, char *err, size_t errcap);
/* Reads a model file, verifying each record and checksum.  0, or -1 with a
 * message naming the file, record and tensor in err (m is then empty). */
int sl_model_read(struct sl_model *m, const char *path, char *err,
                  size_t errcap);
/* The same from an open reader, which it closes. */
int sl_model_read_from(struct sl_model *m, struct sl_reader *r, char *err,
                       size_t errcap);
/* zlib's CRC-32 of n floats' bytes. */
uint32_t sl_model_crc32(const float *data, size_t n);

/* ================================================================ pool
 *
 * A fixed set of worker threads running one job together (lib/pool.c).
 * The caller is worker 0; sl_pool_run returns when every worker is done.
 */
struct sl_pool;

struct sl_pool *sl_pool_new(int nthreads);
void sl_pool_free(struct sl_pool *p);
int sl_pool_size(const struct sl_pool *p);
/* Runs fn(arg, w, n) on every worker w of n. */
void sl_pool_run(struct sl_pool *p, void (*fn)(void *arg, int w, int n),
                 void *arg);
/* Worker w's contiguous share [begin, end) of total items: the first
 * total % n workers take one more. */
void sl_pool_share(int w, int n, size_t total, size_t *begin, size_t *end);

/* ================================================================= net
 *
 * A feed-forward stack of layers with a loss on top (lib/net.c): every
 * model sluice-train builds.  Built by calls, described as an sl_val for
 * the model file and rebuilt from it; trained batch-parallel by a runner
 * whose workers each take one contiguous share of a batch.
 */
enum sl_layer_kind {
	SL_LAYER_LINEAR,
	SL_LAYER_RELU,
	SL_LAYER_GELU,
	SL_LAYER_TANH,
	SL_LAYER_SIGMOID,
	SL_LAYER_DROPOUT,
	SL_LAYER_CONV2D,
	SL_LAYER_MAXPOOL2D,
};

/* xent: softmax cross-entropy over O >= 2 classes; bce: one logit for two
 * classes; hinge: multiclass hinge (linear SVM); mse, mae, huber:
 * regression of O values. */
enum sl_loss_kind {
	SL_LOSS_XENT,
	SL_LOSS_BCE,
	SL_LOSS_HINGE,
	SL_LOSS_MSE,
	SL_LOSS_MAE,
	SL_LOSS_HUBER,
};

struct sl_layer {
	enum sl_layer_kind kind;
	int in, out;   /* floats per row */
	int C, H, W;   /* the input's planes (C = in, H = W = 1 when flat) */
	struct sl_conv2d conv;
	int K, S;      /* max-pool window and stride */
	float p;       /* dropout probability */
	int w, b;      /* parameter indices, -1 when none */
	int block;     /* conv2d followed by relu and a 2x2/2 max-pool: the three
	                * run as one sl_convblock (set by sl_net_finish) */
};

struct sl_net {
	int n;
	struct sl_layer *L;
	int IC, IH, IW;     /* input shape */
	int D, O;           /* floats per row in and out */
	int C, H, W;        /* the shape the next layer added receives */
	enum sl_loss_kind loss;
	float huber_delta;  /* default 1 */
	int nlinear, nconv; /* layers with weights so far, for their names */
	struct sl_params P;
};

const char *sl_loss_name(enum sl_loss_kind k);
/* "xent", "bce", "hinge", "mse", "mae", "huber": 0, or -1. */
int sl_loss_parse(enum sl_loss_kind *k, const char *name);
/* "relu", "gelu", "tanh", "sigmoid": 0, or -1. */
int sl_activation_parse(enum sl_layer_kind *k, const char *name);

/* An empty stack over inputs of C planes of H x W (flat input: D,1,1). */
void sl_net_init(struct sl_net *net, int C, int H, int W);
void sl_net_linear(struct sl_net *net, int OC);
void sl_net_activation(struct sl_net *net, enum sl_layer_kind kind);
void sl_net_dropout(struct sl_net *net, float p);
/* K x K kernels; -1 when the geometry leaves no output. */
int sl_net_conv2d(struct sl_net *net, int OC, int K, int stride, int pad);
int sl_net_maxpool2d(struct sl_net *net, int K, int S);
/* Sets the loss and allocates the parameters (zeroed). */
void sl_net_finish(struct sl_net *net, enum sl_loss_kind loss);
/* Classes the outputs score (2 for bce), or 0 for regression. */
int sl_net_classes(const struct sl_net *net);
/* Fills weights by w and biases by b, layer by layer from one generator
 * seeded by seed; NULL means PyTorch's default, U(+-1/sqrt(fan_in)). */
void sl_net_init_weights(struct sl_net *net, const struct sl_init_spec *w,
                         const struct sl_init_spec *b, uint64_t seed);
void sl_net_free(struct sl_net *net);
/* {input: [C,H,W], layers: [{type, ...}], loss, outputs, parameters} */
struct sl_val sl_net_describe(const struct sl_net *net);
/* Rebuilds (and finishes) a net from its description; 0, or -1 with a
 * message in err. */
int sl_net_from_val(struct sl_net *net, const struct sl_val *d, char *err,
                    size_t errcap);

/* The workers, their buffers and their gradient blocks for batches of up
 * to maxbatch rows.  With nthreads > 1 it sets BLAS to one thread. */
struct sl_net_run;
struct sl_net_run *sl_net_run_new(struct sl_net *net, int nthreads,
                                  int maxbatch);
void sl_net_run_free(struct sl_net_run *r);
/* Forward and backward over B rows of X (N,D): rows[0..B) index X, cls
 * (class targets) or vals (N,O) (regression targets); rows may be NULL for
 * X's first B rows.  Returns the batch mean loss; its gradient is left in
 * the workers' blocks, summed into P.grad by sl_net_run_grad or by the
 * next sl_net_run_update.  seed draws the dropout masks. */
float sl_net_run_step(struct sl_net_run *r, const float *X, const int64_t *rows,
                      const int32_t *cls, const float *vals, int B,
                      uint64_t seed);
/* Sums the last step's gradient into P.grad (clipping needs it whole). */
void sl_net_run_grad(struct sl_net_run *r);
/* One optimizer step over the parameters, the gradient summed first when
 * it is not yet, split over the workers: the same result as sl_net_run_grad
 * and one sl_optim_step over the block, except that moments (P.m, P.v)
 * below FLT_MIN are then flushed to zero (subnormals are slow). */
void sl_net_run_update(struct sl_net_run *r, struct sl_optim *o);
/* Outputs (N,O) for N rows of X, without dropout. */
void sl_net_run_predict(struct sl_net_run *r, const float *X, int64_t N,
                        float *out);
/* The mean loss of outputs out (N,O) against the targets. */
double sl_net_loss(const struct sl_net *net, const float *out,
                   const int32_t *cls, const float *vals, int64_t N);
/* Class scores (N,K) from outputs: probabilities for xent and bce (K = 2,
 * column 1 the positive class), the raw margins for hinge.  Returns K, or
 * 0 for regression (nothing written). */
int sl_net_scores(const struct sl_net *net, const float *out, float *scores,
                  int64_t N);

/* ================================================================ feat
 *
 * Features and target (lib/feat.c): which fields of a record a model reads,
 * how they become a row of D floats (scalars one each, fixed-length
 * vectors as many, in feature order, then row = x * scale + shift per
 * column when scale is set), and how the target becomes a class number
 * (labels in sorted order) or O regression values.
 */
enum sl_task { SL_TASK_NONE, SL_TASK_CLASSIFY, SL_TASK_REGRESS };

struct sl_feat_field {
	char *name;
	struct sl_type type;
	size_t off, len; /* columns [off, off + len) of the row */
	int idx;         /* field index in the bound header */
};

struct sl_feat {
	int nf;
	struct sl_feat_field *f;
	size_t D;
	float *scale, *shift; /* D each, or NULL: no preprocessing */
	char *target;         /* NULL: no target */
	struct sl_type ttype;
	int tidx;             /* target's field index in the bound header, or -1 */
	enum sl_task task;
	int K;                /* classification: classes */
	char **classes;       /* their labels' text forms, sorted */
	int O;                /* regression: values per record */
};

/* Picks the features of header h: the comma-separated list, or every int,
 * float, bool and fixed-length vector field but the target (which may be
 * NULL), and binds them.  0; -1 with a message in err when a field is
 * missing; -2 when one cannot serve (a str feature, a bin target). */
int sl_feat_select(struct sl_feat *f, const struct sl_header *h,
                   const char *features, const char *target, char *err,
                   size_t errcap);
/* Finds the features (and, with need_target, the target) in h and checks
 * their types.  0, or -1 with a message in err. */
int sl_feat_bind(struct sl_feat *f, const struct sl_header *h, int need_target,
                 char *err, size_t errcap);
/* A record's row (D floats), preprocessed.  -1 with the feature in *field
 * and the reason in *why for a missing, NaN or infinite value. */
int sl_feat_row(const struct sl_feat *f, const struct sl_value *v, float *row,
                const char **field, const char **why);
/* A label's text form ("3", "true", "cat") into out, NUL-terminated. */
void sl_feat_label(const struct sl_value *v, struct sl_buf *out);
/* Sets the classes to the distinct labels among labels[0..n) (sorted in
 * place), numbered in order: numerically for an int target. */
void sl_feat_set_classes(struct sl_feat *f, char **labels, size_t n);
/* The class number of a label's text, or -1. */
int sl_feat_class_of(const struct sl_feat *f, const char *label);
/* The record's target as a class (*cls) or O values (vals).  -1 with the
 * reason in *why for a missing or unknown one.  tmp is scratch. */
int sl_feat_target(const struct sl_feat *f, const struct sl_value *v,
                   struct sl_buf *tmp, int32_t *cls, float *vals,
                   const char **why);
/* [{name, type}] and {name, type, task, classes | outputs}. */
struct sl_val sl_feat_describe_features(const struct sl_feat *f);
struct sl_val sl_feat_describe_target(const struct sl_feat *f);
/* Rebuilds the features and target (target may be NULL); unbound, no
 * preprocessing.  0, or -1 with a message in err. */
int sl_feat_from_val(struct sl_feat *f, const struct sl_val *features,
                     const struct sl_val *target, char *err, size_t errcap);
void sl_feat_free(struct sl_feat *f);

/* ============================================================= metrics
 *
 * Classification and regression metrics with scikit-learn's definitions
 * (lib/metrics.c).
 */
struct sl_cls_metrics {
	int K;
	int64_t n;
	int64_t *confusion;          /* (K,K): row the true class, column the predicted */
	int64_t *support, *predicted; /* K: true and predicted counts */
	double *precision, *recall, *f1, *auc; /* K; auc NaN where undefined */
	double accuracy;
	double macro_precision, macro_recall, macro_f1;
	double weighted_precision, weighted_recall, weighted_f1;
	double auc_macro, auc_weighted; /* two classes: both the AUC of class 1 */
	double log_loss;                /* NaN unless the scores are probabilities */
};

/* Metrics of n records' true classes y and scores (n,K); probs says the
 * scores are probabilities (for the log loss). */
void sl_metrics_classify(struct sl_cls_metrics *m, const int32_t *y,
                         const float *scores, int K, int64_t n, int probs);
void sl_cls_metrics_free(struct sl_cls_metrics *m);

struct sl_reg_metrics {
	double mse, rmse, mae, r2;
};

/* Metrics of n records' targets y (n,O) against predictions pred (n,O). */
void sl_metrics_regress(struct sl_reg_metrics *m, const float *y,
                        const float *pred, int64_t n, int O);

/* =============================================================== apply
 *
 * A model file loaded to be applied (lib/apply.c): its net with the
 * weights in, its features (with their preprocessing) and target.
 */
struct sl_loaded {
	struct sl_model m;
	struct sl_net net;
	struct sl_feat feat; /* unbound: sl_feat_bind it to each input header */
};

/* Loads and cross-checks a model file.  0, or -1 with a message in err. */
int sl_loaded_open(struct sl_loaded *L, const char *path, char *err,
                   size_t errcap);
void sl_loaded_free(struct sl_loaded *L);

/* ================================================================ gemm
 * Small products as AVX-512 register tiles read straight from the
 * operands (lib/gemm.c), where the CPU has it; sl_matmul_ld elsewhere.
 * Row-major, with row strides:
 *   sl_gemm_nn:     C (M,N) = op(A) (M,K) B (K,N), plus C's old values
 *                   when acc (op(A) = A, or A^T with ta = SL_TRANS_T)
 *   sl_gemm_nt_add: C (M,N) += A (M,K) B (N,K)^T
 * The sums run in an order fixed by the shapes, not sgemm's: callers that
 * must agree with each other bit for bit use the same one.
 */
void sl_gemm_nn(float *c, int ldc, const float *a, int lda, enum sl_trans ta,
                const float *b, int ldb, int M, int N, int K, int acc);
void sl_gemm_nt_add(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                    int M, int N, int K);
/* C (M,N) = A (M,K) B (N,K)^T, plus C's old values when acc, by
 * sl_gemm_nn's tiles on transposed panels of B: faster than
 * sl_gemm_nt_add for short K and many rows (a linear layer's forward on a
 * batch), with a different order of sums. */
void sl_gemm_nt_panels(float *c, int ldc, const float *a, int lda, const float *b,
                       int ldb, int M, int N, int K, int acc);
/* Products whose B is used many times (a layer's weights, by every
 * worker and row block of a step) can take it packed once, in the order
 * sl_gemm_nn's tiles read it: panels of 32 columns, k-major, zero past N.
 * B's element (k,n) is at b[k*ldb + n], or b[n*ldb + k] with tb =
 * SL_TRANS_T (a linear layer's w for its forward).  bp holds
 * sl_gemm_pack_b_size(K, N) floats, 64-byte aligned.  Only where
 * sl_gemm_prepacks (AVX-512 builds on AVX-512 CPUs).
 *
 * sl_gemm_packed: C (M,N) = A (M,K) B from the packed B, K > 0, the sums
 * in sl_gemm_nn's order and so its bits; e (may be NULL) folds in the
 * passes a layer would make over C before and after, with the same
 * roundings: the sums start at x + bias (instead of C filled with them;
 * either may be NULL), the results are multiplied by mul, and colsum (N)
 * gains their column sums, row by row in order. */
struct sl_gemm_epi {
	const float *bias; /* (N) */
	const float *x;    /* (M,N), row stride ldx */
	const float *mul;  /* (M,N), row stride ldm */
	float *colsum;     /* (N) */
	int ldx, ldm;
};
int sl_gemm_prepacks(void);
/* C (M,N) (+)= A^T B, A (K,M) and B (K,N) row-major: B packed into bp
 * (sl_gemm_pack_b_size(K, N) floats, 64-byte aligned) first. */
void sl_gemm_tn_packing(float *c, int ldc, const float *a, int lda, const float *b, int ldb,
                        int M, int N, int K, int acc, float *bp);
/* off = 1 makes sl_gemm_prepacks 0 from then on (tests and benchmarks
 * compare the paths); not thread-safe against products in flight. */
void sl_gemm_prepack_off(int off);
size_t sl_gemm_pack_b_size(int K, int N);
void sl_gemm_pack_b(float *bp, const float *b, int ldb, enum sl_trans tb, int K, int N);
void sl_gemm_packed(float *c, int ldc, const float *a, int lda, const float *bp, int M,
                    int N, int K, const struct sl_gemm_epi *e);
/* 1 where these kernels run and OpenBLAS's do not use AVX-512
 * (OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU, say): there they are the
 * faster for a transformer's products too, which elsewhere stay sgemm's
 * (measured: within 10% either way at those sizes). */
int sl_gemm_beats_blas(void);

/* =========================================================== convblock
 *
 * conv2d -> ReLU -> 2x2 max-pool (stride 2) over NCHW images as one pair
 * (lib/convblock.c), bit-identical to the three core layers in a row but
 * arranged for speed.  in (B,IC,H,W) -> out (B,OC,OH/2,OW/2); argmax
 * (B,OC,OH/2,OW/2) is kept for the backward, which reads in and out again
 * (nothing else of the batch is kept).  scratch holds
 * sl_convblock_scratch_size(c) floats, one image's worth.  OH, OW >= 2.
 */
void sl_convblock_forward(float *out, int32_t *argmax, float *scratch, const float *in,
                          const float *w, const float *bias, const struct sl_conv2d *c,
                          int B);
/* din (B,IC,H,W) += ...; dw += ...; dbias += ...; din, dbias may be NULL. */
void sl_convblock_backward(float *din, float *dw, float *dbias, const float *dout,
                           const float *out, const int32_t *argmax, const float *in,
                           const float *w, float *scratch, const struct sl_conv2d *c,
                           int B);
size_t sl_convblock_scratch_size(const struct sl_conv2d *c);

/* ================================================================== lm
 *
 * A language model as the model file keeps it (lib/lm.c, sluice-model(5)):
 * a GPT, the vocabulary it was trained with (so it applies to raw text)
 * and its context length.  Header keys "model" {kind: "gpt", vocab_size,
 * context, layers, heads, embd, dropout, parameters} and "vocab" {mode,
 * size, end_of_text, stream: the vocabulary stream as a bin}.
 */
struct sl_lm {
	struct sl_gpt gpt;  /* architecture + weights */
	struct sl_tok *tok; /* the vocabulary it was trained with */
	int32_t eot;        /* end-of-text id, or -1 */
	int ctx;            /* context length used in training */
};

/* Loads a language model: the file read and verified (lib/model.c), the GPT
 * rebuilt, its tensors copied in, the vocabulary read back and checked
 * against it.  0; -1 with a message naming the file in err; -2 when the
 * file is a model of another kind (err says so). */
int sl_lm_load(struct sl_lm *lm, const char *path, char *err, size_t cap);
/* The same from a model already read (path for messages). */
int sl_lm_from_model(struct sl_lm *lm, const struct sl_model *m, const char *path,
                     char *err, size_t cap);
void sl_lm_free(struct sl_lm *lm);
/* 1 when m's "model" is a GPT. */
int sl_lm_is(const struct sl_model *m);
/* The end-of-text special's id ("<|endoftext|>"), or -1. */
int32_t sl_lm_eot(const struct sl_tok *tok);
/* The "model" description of g. */
struct sl_val sl_lm_describe(const struct sl_gpt *g);
/* The "vocab" value for tok: its stream written under lineage (may be
 * NULL), with mode, size and end_of_text beside it. */
struct sl_val sl_lm_vocab_val(const struct sl_tok *tok, const struct sl_val *lineage);
/* Sets "model" (g described) and "vocab" (a copy) in m's header and appends
 * g's tensors; the caller adds "train", "metrics" and the lineage. */
void sl_lm_model_add(struct sl_model *m, const struct sl_gpt *g, const struct sl_val *vocab);
/* The summed next-token loss (nats) of ids[0..n) in non-overlapping windows
 * of T tokens run maxB at a time through r: window k predicts
 * ids[kT+1 .. kT+T] from ids[kT .. kT+T-1], the last window as many as
 * remain, so every id but the first is scored once.  maxwin > 0 keeps
 * that many windows, evenly spaced.  *scored (may be NULL) gets the number
 * of tokens scored. */
double sl_lm_nll(struct sl_gpt_run *r, int maxB, int T, const int32_t *ids, size_t n,
                 size_t maxwin, size_t *scored);

#endif
