/*
 * ingest.h - the parts of sluice-ingest, shared between its files.
 *
 *   input.c   a block reader over a file or stdin (gzip or plain)
 *   csv.c     RFC 4180 records (comma or tab) cut into cells
 *   json.c    a strict JSON reader: objects one after another, or an array
 *   table.c   cells -> typed records: the inference sample, type rules,
 *             conversion, field names; drives CSV, TSV and JSON
 *   text.c    lines, paragraphs, fortune entries, whole files, directories
 *   idx.c     IDX (MNIST) image and label files
 *
 * Every function that can meet bad data returns -1 after putting a message
 * in the run's error buffer (ing_fail); only main prints it and exits 1.
 */
#ifndef INGEST_H
#define INGEST_H

#include "sluice.h"

#include <zlib.h>

enum format {
	FMT_AUTO = 0,
	FMT_CSV,
	FMT_TSV,
	FMT_JSONL,
	FMT_JSON,
	FMT_LINES,
	FMT_PARAGRAPHS,
	FMT_FILE,
	FMT_FORTUNE,
	FMT_DIR,
	FMT_IDX,
};

/* A --types entry: a field name and the type it must get. */
struct typespec {
	char *name;
	struct sl_type type;
};

struct opts {
	enum format format;
	int no_header, pad, replace_invalid;
	int no_provenance; /* text formats: the text field only */
	uint64_t infer_rows;
	char **na; /* --na tokens */
	size_t nna;
	struct typespec *types;
	size_t ntypes;
	const char *labels; /* --labels FILE (idx) */
};

/* One run: its options, its output and the message of the last error. */
struct ingest {
	const struct opts *o;
	struct sl_writer *w;
	int argc;
	char **argv;        /* as given, for the lineage */
	struct sl_buf err;  /* set by ing_fail() */
	int status;         /* the exit status for err: 1, or 2 (bad arguments) */
	uint64_t replaced;  /* invalid UTF-8 sequences replaced by U+FFFD */
	struct sl_progress progress;
};

/* Puts "<fmt>" in g->err; returns -1. */
int ing_fail(struct ingest *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds the lineage to h and writes it.  0 or -1. */
int ing_begin(struct ingest *g, struct sl_header *h);
/* Writes one record.  0 or -1. */
int ing_put(struct ingest *g, const struct sl_value *v, size_t n);
/* Appends p[0..n) to b as a quoted, escaped string, cut short when long. */
void ing_quote(struct sl_buf *b, const char *p, size_t n);
/* Checks that p[0..n) is UTF-8.  If not: with --replace-invalid appends a
 * repaired copy to fix and returns 1 (the caller takes the bytes from
 * there), else fails naming where (at: the input offset of p, doubled: p
 * is a CSV field whose quotes were doubled in the input, what: "line 3:
 * field \"x\"").  Returns 0 when valid. */
int ing_utf8(struct ingest *g, const char *p, size_t n, struct sl_buf *fix,
             const char *input, uint64_t at, int doubled, const char *what);

/* ---------------------------------------------------------------- input */

/* A file read in large blocks.  The unread bytes are buf[pos..end);
 * input_fill() moves them to the front and reads more after them, growing
 * the buffer when one record fills it, so a record being parsed can be
 * kept whole.  base is the input offset of buf[0] and line the number of
 * the line that starts at buf[pos] (the parsers keep it).  The buffer has
 * 16 more bytes than cap, so that an 8-byte load starting before end is
 * always inside it. */
struct input {
	gzFile gz;
	const char *path; /* as given ("-" for stdin) */
	const char *name; /* for messages ("(stdin)" for stdin) */
	char *buf;
	size_t cap, pos, end;
	uint64_t base, line;
	int eof;
};

/* Opens path ("-": stdin); gzip is decompressed.  0 or -1. */
int input_open(struct input *in, const char *path, struct ingest *g);
/* Reads more.  Returns the bytes added, 0 at the end of the input, -1 on
 * an error.  Pointers into buf are invalid afterwards; offsets from pos
 * stay valid. */
long input_fill(struct input *in, struct ingest *g);
/* Skips a UTF-8 byte order mark at the start.  0 or -1. */
int input_skip_bom(struct input *in, struct ingest *g);
void input_close(struct input *in);

/* ---------------------------------------------------------------- cells */

/* One value as read, before it gets its field's type. */
enum cell_kind {
	CELL_MISSING = 0, /* unquoted empty CSV field, NA token, JSON null */
	CELL_TEXT,        /* CSV field text (quotes removed) */
	CELL_JSTR,        /* JSON string (unescaped, valid UTF-8) */
	CELL_JNUM,        /* JSON number, as written */
	CELL_JBOOL,       /* JSON true or false, as written */
	CELL_JNEST,       /* JSON object or array, as compact JSON text */
};

struct cell {
	const char *p;
	size_t n;
	uint32_t at;   /* byte offset of p from the record's start */
	uint8_t kind;  /* enum cell_kind */
	uint8_t esc;   /* CSV: doubled quotes still to undo */
};

/* A record's cells.  Storage is reused from record to record. */
struct row {
	struct cell *c;
	size_t n, cap;
	uint64_t line; /* where the record starts */
	uint64_t off;  /* its byte offset in the input */
	int blank;     /* CSV: an empty line */
	int ascii;     /* CSV: every byte < 0x80, so every cell is UTF-8 */
};

/* A new cell at the end of r (contents unset). */
static inline struct cell *row_add(struct row *r)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->c = sl_xrealloc(r->c, r->cap * sizeof *r->c);
	}
	return &r->c[r->n++];
}

/* ------------------------------------------------------------------ csv */

struct csv {
	struct input *in;
	char delim;
	int na_on;          /* match NA tokens (off for the header row) */
	const struct opts *o;
	size_t na_max;      /* length of the longest NA token */
};

void csv_init(struct csv *c, struct input *in, char delim, const struct opts *o);
/* The next record into r; its cells point into the input buffer until the
 * next call.  1, 0 at the end, -1 on an error. */
int csv_next(struct csv *c, struct row *r, struct ingest *g);

/* ----------------------------------------------------------------- json */

/* One member of an object: key and value. */
struct jpair {
	const char *k;
	size_t kn;
	struct cell v;
	uint8_t kstr, vstr; /* while parsing: k or v.p is an offset into str */
};

struct json {
	struct input *in;
	int state;
	int replace_invalid;
	uint64_t *replaced;
	struct sl_buf str; /* unescaped strings and compact nested values */
	struct jpair *pairs;
	size_t npairs, cap;
	uint64_t line, off; /* of the current object */
	uint64_t col;       /* the column of the input's next byte, from 0 */
};

void json_init(struct json *j, struct input *in, struct ingest *g);
/* The next object into j->pairs (valid until the next call).  1, 0 at the
 * end, -1 on an error. */
int json_next(struct json *j, struct ingest *g);
void json_free(struct json *j);

/* ------------------------------------------------------------- formats */

/* Each writes the header and the records of the inputs paths[0..n)
 * (standard input when n is 0) in g->o->format.  0 or -1. */
int ingest_table(struct ingest *g, char **paths, int n);
int ingest_text(struct ingest *g, char **paths, int n);
int ingest_idx(struct ingest *g, char **paths, int n);

/* A float from text: sl_parse_float, but not with a leading zero
 * ("007.5"), not a digit string too long for int64 and not an infinity
 * from digits (1e999), so that codes and identifiers that look like
 * numbers stay text.  0 or -1. */
int float_text(const char *p, size_t n, double *out);

#endif
