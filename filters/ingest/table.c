/*
 * table.c - CSV, TSV and JSON records into a typed stream.
 *
 * Values arrive as cells: CSV text, or JSON scalars that keep their JSON
 * kind.  A field's type is decided on a sample, the first --infer-rows
 * records, kept in memory (cells copied into one arena): a field gets the
 * narrowest type that every non-missing sample value spells exactly --
 * int, else float, else bool, else str -- or the type --types gives it.
 * Then the header is written, the sample converted and written, and the
 * records after it converted as they come.
 *
 * A later value that does not fit its field's type is an error naming the
 * input, line, field and value, and the way out (--types FIELD:str, or a
 * larger --infer-rows).  No value is rounded, cut or dropped to make it
 * fit; the one thing ingest decides is what is missing (an unquoted empty
 * CSV field, an --na token, a JSON null or absent key).
 *
 * CSV fields are named by the header row (or c1..cN with --no-header, and
 * cN for an empty name); every input must have the same names in the same
 * order.  JSON fields are the keys of the sample in the order first seen;
 * a key first met after the sample is an error.
 *
 * Memory: the sample; otherwise one record's cells and values and the
 * input buffer, whatever the number of records.
 */
#include "ingest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What a sample value can be read as. */
enum { FITS_INT = 1, FITS_FLOAT = 2, FITS_BOOL = 4 };

struct col {
	char *key; /* CSV: the name; JSON: the key (may be empty) */
	size_t keyn;
	char *name; /* in the header (see name_cols) */
	struct sl_type type;
	int forced;    /* the type came from --types */
	int seen;      /* the sample has a value here */
	unsigned fits; /* FITS_* true of every sample value */
};

struct srow {
	size_t first, n; /* cells[first..first+n) */
	int ascii;
	uint64_t line, off;
	const char *input;
};

/* The kept records: their cells, whose bytes are at offsets into bytes
 * (turned into pointers once sampling is over). */
struct sample {
	struct sl_buf bytes;
	struct cell *cells;
	size_t *offs;
	size_t ncells, capcells;
	struct srow *rows;
	size_t nrows, caprows;
};

struct table {
	struct ingest *g;
	const struct opts *o;
	int json;
	char **paths;
	int npaths, next; /* the next input to open */
	int open;         /* in is open */
	struct input in;
	struct csv csv;
	struct json js;
	const char *first;   /* the input that named the fields */
	int have_cols;       /* the fields are known (CSV) */
	struct col *cols;
	size_t ncols, capcols;
	uint32_t *slots;     /* JSON: key -> field + 1, open addressing */
	size_t nslots;
	uint64_t *stamp;     /* JSON: the record that last set each field */
	uint64_t recno;
	int sampling;
	struct row row;
	struct sample s;
	struct sl_header *h;
	struct sl_value *vals;
	struct sl_buf scratch; /* repaired text and vectors of one record */
	size_t *fix;           /* values whose bytes are in scratch */
	size_t nfix;
};

/* ------------------------------------------------------------- numbers */

int float_text(const char *p, size_t n, double *out)
{
	size_t i = 0, k;
	int64_t v;

	if (sl_parse_float(p, n, out) < 0)
		return -1;
	if (p[0] == '-' || p[0] == '+')
		i = 1;
	if (n - i >= 2 && p[i] == '0' && p[i + 1] >= '0' && p[i + 1] <= '9')
		return -1; /* "007": a code, not a number */
	for (k = i; k < n && p[k] >= '0' && p[k] <= '9'; k++)
		;
	if (k == n && k - i > 18 && sl_parse_int(p, n, &v) < 0)
		return -1; /* too long for int64: an identifier */
	if (!isfinite(*out) && k > i)
		return -1; /* 1e999 */
	return 0;
}

static unsigned cell_fits(const struct cell *c)
{
	int64_t i;
	double f;

	switch (c->kind) {
	case CELL_TEXT:
		if (sl_parse_bool(c->p, c->n) >= 0)
			return FITS_BOOL;
		/* fall through */
	case CELL_JNUM:
		if (sl_parse_int(c->p, c->n, &i) == 0)
			return FITS_INT | FITS_FLOAT;
		if (float_text(c->p, c->n, &f) == 0)
			return FITS_FLOAT;
		return 0;
	case CELL_JBOOL:
		return FITS_BOOL;
	}
	return 0;
}

/* -------------------------------------------------------------- fields */

static size_t slot_of(const struct table *t, const char *k, size_t kn)
{
	size_t m = t->nslots - 1, i = (size_t)sl_hash64(k, kn, 0) & m;

	while (t->slots[i]) {
		const struct col *c = &t->cols[t->slots[i] - 1];
		if (c->keyn == kn && memcmp(c->key, k, kn) == 0)
			break;
		i = (i + 1) & m;
	}
	return i;
}

static void add_col(struct table *t, const char *k, size_t kn)
{
	struct col *c;

	if (t->ncols == t->capcols) {
		t->capcols = t->capcols ? 2 * t->capcols : 16;
		t->cols = sl_xrealloc(t->cols, t->capcols * sizeof *t->cols);
		t->stamp = sl_xrealloc(t->stamp, t->capcols * sizeof *t->stamp);
	}
	c = &t->cols[t->ncols];
	memset(c, 0, sizeof *c);
	c->key = sl_xstrndup(k, kn);
	c->keyn = kn;
	c->fits = FITS_INT | FITS_FLOAT | FITS_BOOL;
	t->stamp[t->ncols] = 0;
	t->ncols++;
	if (!t->json)
		return;
	if (2 * t->ncols > t->nslots) { /* keep the table at most half full */
		t->nslots = t->nslots ? 2 * t->nslots : 64;
		free(t->slots);
		t->slots = sl_xcalloc(t->nslots, sizeof *t->slots);
		for (size_t i = 0; i < t->ncols; i++)
			t->slots[slot_of(t, t->cols[i].key, t->cols[i].keyn)] = (uint32_t)i + 1;
	} else {
		t->slots[slot_of(t, k, kn)] = (uint32_t)t->ncols;
	}
}

/* Gives each field its name in the header: its key, or cN for an empty
 * one.  Names may not hold control characters (sluice-stream(5)), so
 * those become spaces, with a warning. */
static void name_cols(struct table *t)
{
	char tmp[32];

	for (size_t i = 0; i < t->ncols; i++) {
		struct col *c = &t->cols[i];
		int changed = 0;

		if (!c->keyn) {
			snprintf(tmp, sizeof tmp, "c%zu", i + 1);
			c->name = sl_xstrdup(tmp);
			continue;
		}
		c->name = sl_xstrndup(c->key, c->keyn);
		for (size_t k = 0; k < c->keyn; k++)
			if ((unsigned char)c->name[k] < 0x20 || c->name[k] == 0x7f) {
				c->name[k] = ' ';
				changed = 1;
			}
		if (changed) {
			struct sl_buf q = {0};
			ing_quote(&q, c->key, c->keyn);
			sl_warn("%s: field %zu: the name %s holds control characters; "
			        "they are spaces in the header",
			        t->first ? t->first : t->paths[0], i + 1, sl_buf_cstr(&q));
			sl_buf_free(&q);
		}
	}
}

/* The names of a CSV input's header row, as keys (repaired or checked). */
static int csv_header(struct table *t, struct row *r)
{
	struct ingest *g = t->g;
	struct sl_buf fix = {0};
	char what[64];
	size_t i;

	if (t->have_cols && r->n != t->ncols)
		return ing_fail(g, "%s: line %llu: %zu fields in the header row, but "
		                   "%s has %zu",
		                t->in.name, (unsigned long long)r->line, r->n, t->first,
		                t->ncols);
	for (i = 0; i < r->n; i++) {
		const struct cell *c = &r->c[i];
		const char *p = c->p;
		size_t n = c->n;
		int rc;

		snprintf(what, sizeof what, "line %llu: header field %zu",
		         (unsigned long long)r->line, i + 1);
		fix.n = 0;
		rc = ing_utf8(g, p, n, &fix, t->in.name, r->off + c->at, c->esc, what);
		if (rc < 0)
			break;
		if (rc > 0) {
			p = fix.p;
			n = fix.n;
		}
		if (!t->have_cols) {
			add_col(t, p, n);
		} else if (t->cols[i].keyn != n || memcmp(t->cols[i].key, p, n) != 0) {
			struct sl_buf a = {0};
			ing_quote(&a, p, n);
			rc = ing_fail(g, "%s: line %llu: header field %zu is %s, but in "
			                 "%s it is \"%s\"; all inputs need the same fields",
			              t->in.name, (unsigned long long)r->line, i + 1,
			              sl_buf_cstr(&a), t->first, t->cols[i].key);
			sl_buf_free(&a);
			break;
		}
	}
	sl_buf_free(&fix);
	if (i < r->n)
		return -1;
	if (!t->have_cols)
		t->first = t->in.name;
	t->have_cols = 1;
	return 0;
}

/* -------------------------------------------------------------- inputs */

static int open_next(struct table *t)
{
	struct ingest *g = t->g;
	const char *path = t->paths[t->next++];
	int rc;

	if (input_open(&t->in, path, g) < 0 || input_skip_bom(&t->in, g) < 0)
		return -1;
	t->open = 1;
	if (t->json) {
		json_init(&t->js, &t->in, g);
		if (!t->first)
			t->first = t->in.name;
		return 0;
	}
	csv_init(&t->csv, &t->in, t->o->format == FMT_TSV ? '\t' : ',', t->o);
	if (t->o->no_header)
		return 0;
	t->csv.na_on = 0;
	rc = csv_next(&t->csv, &t->row, g);
	t->csv.na_on = 1;
	if (rc <= 0) /* an empty input has no header row and no records */
		return rc;
	return csv_header(t, &t->row);
}

static int csv_row(struct table *t)
{
	struct ingest *g = t->g;
	struct row *r = &t->row;
	int rc;

	for (;;) {
		rc = csv_next(&t->csv, r, g);
		if (rc <= 0)
			return rc;
		/* An empty line is a record only when there is one field: with
		 * more, it cannot be one (it has no delimiters). */
		if (r->blank && t->ncols > 1)
			continue;
		if (!t->have_cols) { /* --no-header: the first record counts */
			char name[32];
			for (size_t i = 0; i < r->n; i++) {
				snprintf(name, sizeof name, "c%zu", i + 1);
				add_col(t, name, strlen(name));
			}
			t->have_cols = 1;
			t->first = t->in.name;
		}
		if (r->n == t->ncols)
			return 1;
		if (r->n < t->ncols && t->o->pad) {
			while (r->n < t->ncols)
				row_add(r)->kind = CELL_MISSING;
			return 1;
		}
		return ing_fail(g, "%s: line %llu: %zu field%s, but %s %zu%s",
		                t->in.name, (unsigned long long)r->line, r->n,
		                r->n == 1 ? "" : "s",
		                t->o->no_header ? "the first record has" : "the header has",
		                t->ncols,
		                r->n < t->ncols ? " (--pad fills short records with "
		                                  "missing values)"
		                                : "");
	}
}

static int json_row(struct table *t)
{
	struct ingest *g = t->g;
	struct json *j = &t->js;
	struct row *r = &t->row;
	int rc;

	rc = json_next(j, g);
	if (rc <= 0)
		return rc;
	t->recno++;
	r->line = j->line;
	r->off = j->off;
	r->blank = r->ascii = 0;
	r->n = 0;
	for (size_t i = 0; i < t->ncols; i++)
		row_add(r)->kind = CELL_MISSING;
	for (size_t i = 0; i < j->npairs; i++) {
		const struct jpair *m = &j->pairs[i];
		uint32_t f = t->nslots ? t->slots[slot_of(t, m->k, m->kn)] : 0;

		if (!f) {
			if (!t->sampling) {
				struct sl_buf a = {0};
				ing_quote(&a, m->k, m->kn);
				ing_fail(g, "%s: line %llu: field %s is not in the first %zu "
				            "record%s (a larger --infer-rows takes it in)",
				         t->in.name, (unsigned long long)r->line,
				         sl_buf_cstr(&a), t->s.nrows, t->s.nrows == 1 ? "" : "s");
				sl_buf_free(&a);
				return -1;
			}
			add_col(t, m->k, m->kn);
			row_add(r)->kind = CELL_MISSING;
			f = (uint32_t)t->ncols;
		}
		if (t->stamp[f - 1] == t->recno) {
			struct sl_buf a = {0};
			ing_quote(&a, m->k, m->kn);
			ing_fail(g, "%s: line %llu: the key %s appears twice in one object",
			         t->in.name, (unsigned long long)r->line, sl_buf_cstr(&a));
			sl_buf_free(&a);
			return -1;
		}
		t->stamp[f - 1] = t->recno;
		r->c[f - 1] = m->v;
	}
	return 1;
}

/* The next record of all inputs into t->row.  1, 0 at the end, -1. */
static int next_row(struct table *t)
{
	int rc;

	for (;;) {
		if (!t->open) {
			if (t->next == t->npaths)
				return 0;
			if (open_next(t) < 0)
				return -1;
		}
		rc = t->json ? json_row(t) : csv_row(t);
		if (rc != 0)
			return rc;
		input_close(&t->in);
		t->open = 0;
	}
}

/* -------------------------------------------------------------- sample */

static void sample_add(struct table *t)
{
	struct sample *s = &t->s;
	const struct row *r = &t->row;
	struct srow *sr;

	if (s->nrows == s->caprows) {
		s->caprows = s->caprows ? 2 * s->caprows : 256;
		s->rows = sl_xrealloc(s->rows, s->caprows * sizeof *s->rows);
	}
	sr = &s->rows[s->nrows++];
	sr->first = s->ncells;
	sr->n = r->n;
	sr->line = r->line;
	sr->off = r->off;
	sr->ascii = r->ascii;
	sr->input = t->in.name;
	while (s->ncells + r->n > s->capcells) {
		s->capcells = s->capcells ? 2 * s->capcells : 1024;
		s->cells = sl_xrealloc(s->cells, s->capcells * sizeof *s->cells);
		s->offs = sl_xrealloc(s->offs, s->capcells * sizeof *s->offs);
	}
	for (size_t i = 0; i < r->n; i++) {
		s->cells[s->ncells] = r->c[i];
		s->offs[s->ncells] = s->bytes.n;
		if (r->c[i].kind != CELL_MISSING)
			sl_buf_put(&s->bytes, r->c[i].p, r->c[i].n);
		s->ncells++;
	}
}

/* Decides every field's type from the sample and --types, and makes the
 * header.  0 or -1. */
static int decide(struct table *t)
{
	struct ingest *g = t->g;
	struct sample *s = &t->s;

	sl_buf_cstr(&s->bytes); /* never NULL, even with no bytes kept */
	for (size_t k = 0; k < s->nrows; k++) {
		const struct srow *sr = &s->rows[k];
		for (size_t i = 0; i < sr->n; i++) {
			struct cell *c = &s->cells[sr->first + i];
			c->p = s->bytes.p + s->offs[sr->first + i];
			if (c->kind == CELL_MISSING)
				continue;
			t->cols[i].seen = 1;
			t->cols[i].fits &= cell_fits(c);
		}
	}
	for (size_t i = 0; i < t->ncols; i++) {
		struct col *c = &t->cols[i];
		c->type.kind = !c->seen                  ? SL_STR
		               : c->fits & FITS_INT   ? SL_INT
		               : c->fits & FITS_FLOAT ? SL_FLOAT
		               : c->fits & FITS_BOOL  ? SL_BOOL
		                                      : SL_STR;
	}
	name_cols(t);
	for (size_t k = 0; k < t->o->ntypes; k++) {
		struct typespec *ts = &t->o->types[k];
		size_t i;
		for (i = 0; i < t->ncols; i++)
			if (strcmp(t->cols[i].name, ts->name) == 0)
				break;
		if (i == t->ncols) {
			g->status = 2;
			return ing_fail(g, "--types: there is no field \"%s\"", ts->name);
		}
		t->cols[i].type = ts->type;
		t->cols[i].forced = 1;
	}
	t->h = sl_header_new();
	for (size_t i = 0; i < t->ncols; i++) {
		const char *name = t->cols[i].name;
		if (sl_header_add(t->h, name, t->cols[i].type) < 0)
			return ing_fail(g, "%s: the field name \"%s\" appears twice",
			                t->first ? t->first : t->paths[0], name);
	}
	t->vals = sl_xcalloc(t->ncols ? t->ncols : 1, sizeof *t->vals);
	t->fix = sl_xcalloc(t->ncols ? t->ncols : 1, sizeof *t->fix);
	return 0;
}

/* ---------------------------------------------------------- conversion */

static const char *jkind(int kind)
{
	switch (kind) {
	case CELL_JSTR: return " (a JSON string)";
	case CELL_JNUM: return " (a JSON number)";
	case CELL_JBOOL: return " (a JSON boolean)";
	case CELL_JNEST: return " (a JSON object or array)";
	}
	return "";
}

/* The error for a value that is not of its field's type. */
static int misfit(struct table *t, size_t i, const struct cell *c,
                  const struct row *r, const char *input, const char *why)
{
	struct sl_buf v = {0};
	char tn[32];
	const char *name = t->h->fields[i].name;
	int rc;

	sl_type_format(t->cols[i].type, tn, sizeof tn);
	if (c->kind == CELL_TEXT || c->kind == CELL_JSTR)
		ing_quote(&v, c->p, c->n);
	else
		sl_buf_put(&v, c->p, c->n < 60 ? c->n : 60);
	if (t->cols[i].forced)
		rc = ing_fail(t->g, "%s: line %llu: field \"%s\": %s%s is not a valid "
		                    "%s (--types %s:%s)%s%s",
		              input, (unsigned long long)r->line, name, sl_buf_cstr(&v),
		              jkind(c->kind), tn, name, tn, why ? ": " : "", why ? why : "");
	else
		rc = ing_fail(t->g, "%s: line %llu: field \"%s\": %s%s does not fit the "
		                    "type %s inferred from the first %zu record%s; use "
		                    "--types %s:str or a larger --infer-rows",
		              input, (unsigned long long)r->line, name, sl_buf_cstr(&v),
		              jkind(c->kind), tn, t->s.nrows, t->s.nrows == 1 ? "" : "s",
		              name);
	sl_buf_free(&v);
	return rc;
}

/* Whether a JSON value of this kind may become a value of type k: numbers
 * are int, float or their text; true/false are bool or text; objects and
 * arrays are their text or a vector.  A JSON string is text, and is read
 * as another type only when --types asks for it. */
static int json_fits(int kind, enum sl_kind k, int forced)
{
	switch (kind) {
	case CELL_JNUM: return k == SL_INT || k == SL_FLOAT || k == SL_STR;
	case CELL_JBOOL: return k == SL_BOOL || k == SL_STR;
	case CELL_JNEST: return k == SL_STR || k == SL_VEC;
	case CELL_JSTR: return k == SL_STR || forced;
	}
	return 1;
}

static void put_elem(unsigned char *o, size_t size, uint64_t bits)
{
	for (size_t b = 0; b < size; b++)
		o[b] = (unsigned char)(bits >> (8 * b));
}

/* One vector element from text into o; NULL or why not. */
static const char *vec_elem(enum sl_elem e, const char *p, size_t n,
                            unsigned char *o)
{
	static const struct {
		enum sl_elem e;
		int64_t lo, hi;
	} lim[] = {
		{SL_ELEM_U8, 0, 255},
		{SL_ELEM_I8, -128, 127},
		{SL_ELEM_U16, 0, 65535},
		{SL_ELEM_I16, -32768, 32767},
		{SL_ELEM_U32, 0, 4294967295LL},
		{SL_ELEM_I32, -2147483648LL, 2147483647LL},
		{SL_ELEM_U64, 0, INT64_MAX},
		{SL_ELEM_I64, INT64_MIN, INT64_MAX},
	};
	double d;
	int64_t v;

	if (e == SL_ELEM_F32 || e == SL_ELEM_F64) {
		if (float_text(p, n, &d) < 0)
			return "an element is not a number";
		if (e == SL_ELEM_F64) {
			uint64_t bits;
			memcpy(&bits, &d, 8);
			put_elem(o, 8, bits);
		} else {
			float f = (float)d;
			uint32_t bits;
			if (isfinite(d) && !isfinite(f))
				return "an element is out of the range of f32";
			memcpy(&bits, &f, 4);
			put_elem(o, 4, bits);
		}
		return NULL;
	}
	if (sl_parse_int(p, n, &v) < 0)
		return "an element is not an integer";
	for (size_t k = 0; k < sizeof lim / sizeof *lim; k++)
		if (lim[k].e == e) {
			if (v < lim[k].lo || v > lim[k].hi)
				return "an element is out of the range of its type";
			put_elem(o, sl_elem_size(e), (uint64_t)v);
		}
	return NULL;
}

/* Reads "[1, 2, 3]", "1 2 3" or "1,2,3" as a vector of type ty into
 * t->scratch; returns NULL (with *len the byte count) or why not. */
static const char *vec_text(struct table *t, struct sl_type ty, const char *p,
                            size_t n, size_t *len)
{
	const char *e = p + n, *why;
	size_t size = sl_elem_size(ty.elem), count = 0, start = t->scratch.n;
	static char msg[80];

#define VEC_WS(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')
	while (p < e && VEC_WS(*p))
		p++;
	while (e > p && VEC_WS(e[-1]))
		e--;
	if (p < e && *p == '[') {
		if (e[-1] != ']')
			return "a '[' without its ']'";
		p++;
		e--;
	}
	for (;;) {
		const char *q;
		while (p < e && VEC_WS(*p))
			p++;
		if (p == e)
			break;
		for (q = p; q < e && *q != ',' && !VEC_WS(*q); q++)
			;
		sl_buf_reserve(&t->scratch, size);
		why = vec_elem(ty.elem, p, (size_t)(q - p),
		               (unsigned char *)t->scratch.p + t->scratch.n);
		if (why)
			return why;
		t->scratch.n += size;
		count++;
		p = q;
		while (p < e && VEC_WS(*p))
			p++;
		if (p < e && *p == ',') {
			p++;
			while (p < e && VEC_WS(*p))
				p++;
			if (p == e)
				return "a ',' at the end";
		}
	}
#undef VEC_WS
	if (ty.len && count != ty.len) {
		snprintf(msg, sizeof msg, "%zu elements, not %u", count, ty.len);
		return msg;
	}
	*len = t->scratch.n - start;
	return NULL;
}

/* The bytes of value i were put in scratch at offset off. */
static void in_scratch(struct table *t, size_t i, size_t off, size_t n)
{
	t->vals[i].u.s.p = (const char *)(uintptr_t)off;
	t->vals[i].u.s.n = n;
	t->fix[t->nfix++] = i;
}

/* A CSV text value with invalid UTF-8: an error, or repaired. */
static int bad_text(struct table *t, size_t i, const struct cell *c,
                    const struct row *r, const char *input)
{
	char what[300];
	size_t off = t->scratch.n;

	snprintf(what, sizeof what, "line %llu: field \"%s\"",
	         (unsigned long long)r->line, t->h->fields[i].name);
	if (ing_utf8(t->g, c->p, c->n, &t->scratch, input, r->off + c->at, c->esc,
	             what) < 0)
		return -1;
	in_scratch(t, i, off, t->scratch.n - off);
	return 0;
}

/* The values of record r in t->vals.  0 or -1. */
static int convert(struct table *t, const struct row *r, const char *input)
{
	struct sl_value *v = t->vals;
	int b;

	t->scratch.n = 0;
	t->nfix = 0;
	for (size_t i = 0; i < t->ncols; i++, v++) {
		const struct col *col = &t->cols[i];
		const struct cell *c = i < r->n ? &r->c[i] : NULL;

		if (!c || c->kind == CELL_MISSING) {
			v->kind = SL_NIL;
			continue;
		}
		if (c->kind != CELL_TEXT && !json_fits(c->kind, col->type.kind, col->forced))
			return misfit(t, i, c, r, input, NULL);
		v->kind = col->type.kind;
		switch (col->type.kind) {
		case SL_INT:
			if (sl_parse_int(c->p, c->n, &v->u.i) < 0)
				return misfit(t, i, c, r, input, NULL);
			break;
		case SL_FLOAT:
			if (float_text(c->p, c->n, &v->u.f) < 0)
				return misfit(t, i, c, r, input, NULL);
			break;
		case SL_BOOL:
			if ((b = sl_parse_bool(c->p, c->n)) < 0)
				return misfit(t, i, c, r, input, NULL);
			v->u.b = b;
			break;
		case SL_STR:
			v->u.s.p = c->p;
			v->u.s.n = c->n;
			if (c->kind == CELL_TEXT && !r->ascii &&
			    sl_utf8_valid(c->p, c->n) != c->n &&
			    bad_text(t, i, c, r, input) < 0)
				return -1;
			break;
		case SL_BIN:
			v->u.s.p = c->p;
			v->u.s.n = c->n;
			break;
		case SL_VEC: {
			size_t off = t->scratch.n, len;
			const char *why = vec_text(t, col->type, c->p, c->n, &len);
			if (why)
				return misfit(t, i, c, r, input, why);
			in_scratch(t, i, off, len);
			break;
		}
		default:
			SL_ASSERT(!"field type");
		}
	}
	for (size_t k = 0; k < t->nfix; k++) {
		v = &t->vals[t->fix[k]];
		v->u.s.p = t->scratch.p + (uintptr_t)v->u.s.p;
	}
	return 0;
}

/* ---------------------------------------------------------------- main */

static int run(struct table *t)
{
	struct ingest *g = t->g;
	struct row view = {0};
	int rc = 1;

	t->sampling = 1;
	while (t->s.nrows < t->o->infer_rows && (rc = next_row(t)) > 0)
		sample_add(t);
	if (rc < 0 || decide(t) < 0 || ing_begin(g, t->h) < 0)
		return -1;
	t->sampling = 0;
	for (size_t k = 0; k < t->s.nrows; k++) {
		const struct srow *sr = &t->s.rows[k];
		view.c = t->s.cells + sr->first;
		view.n = sr->n;
		view.line = sr->line;
		view.off = sr->off;
		view.ascii = sr->ascii;
		if (convert(t, &view, sr->input) < 0 ||
		    ing_put(g, t->vals, t->ncols) < 0)
			return -1;
	}
	if (rc == 0) /* the sample took every record */
		return 0;
	while ((rc = next_row(t)) > 0)
		if (convert(t, &t->row, t->in.name) < 0 ||
		    ing_put(g, t->vals, t->ncols) < 0)
			return -1;
	return rc;
}

int ingest_table(struct ingest *g, char **paths, int n)
{
	static char *stdin_only[] = {"-"};
	struct table t;
	int rc;

	memset(&t, 0, sizeof t);
	t.g = g;
	t.o = g->o;
	t.json = g->o->format == FMT_JSON || g->o->format == FMT_JSONL;
	t.paths = n ? paths : stdin_only;
	t.npaths = n ? n : 1;
	rc = run(&t);
	if (t.open)
		input_close(&t.in);
	json_free(&t.js);
	for (size_t i = 0; i < t.ncols; i++) {
		free(t.cols[i].key);
		free(t.cols[i].name);
	}
	free(t.cols);
	free(t.slots);
	free(t.stamp);
	free(t.row.c);
	sl_buf_free(&t.s.bytes);
	free(t.s.cells);
	free(t.s.offs);
	free(t.s.rows);
	sl_header_free(t.h);
	free(t.vals);
	free(t.fix);
	sl_buf_free(&t.scratch);
	return rc < 0 ? -1 : 0;
}
