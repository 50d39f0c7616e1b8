/*
 * cols.c - records of numbers held as columns.
 *
 * A fit-and-apply filter (impute, outliers, normalize) must hold its
 * whole input before it writes the first record.  When every field is a
 * float it can hold the records as columns instead of as encoded bytes:
 * 8 bytes per value plus one byte saying the value is there (not nil),
 * what a stream of float64s takes, but nothing is decoded or checked a
 * second time when they are read again, and a field's values lie
 * together for fitting.  Int fields are left to the stream, where a small
 * int takes one byte, not nine.
 *
 * sl_reader_cols() reads the columns back as a stream reader would: the
 * header, then each record's values (no encoded bytes: sl_reader_raw()
 * gives none).  Columns grow in chunks in big buffers (big.c).
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 4096 /* records added between two reserves */

struct sl_cols {
	struct sl_header *h;
	size_t nf;
	uint64_t n;
	struct sl_big *val; /* per field: n int64 or double */
	struct sl_big *has; /* per field: n bytes, 1 unless nil */
};

struct sl_cols *sl_cols_new(const struct sl_header *h)
{
	struct sl_cols *c;

	for (size_t f = 0; f < h->nfields; f++)
		if (h->fields[f].type.kind != SL_FLOAT)
			return NULL;
	c = sl_xcalloc(1, sizeof *c);
	c->h = sl_header_copy(h);
	c->nf = h->nfields;
	c->val = sl_xcalloc(c->nf + 1, sizeof *c->val);
	c->has = sl_xcalloc(c->nf + 1, sizeof *c->has);
	return c;
}

void sl_cols_add(struct sl_cols *c, const struct sl_value *v)
{
	if (c->n % CHUNK == 0)
		for (size_t f = 0; f < c->nf; f++) {
			sl_big_reserve(&c->val[f], CHUNK * 8);
			sl_big_reserve(&c->has[f], CHUNK);
		}
	for (size_t f = 0; f < c->nf; f++) {
		/* the union's 8 bytes: an int64 or a double */
		memcpy(c->val[f].p + c->val[f].n, &v[f].u.i, 8);
		c->val[f].n += 8;
		c->has[f].p[c->has[f].n++] = v[f].kind != SL_NIL;
	}
	c->n++;
}

uint64_t sl_cols_count(const struct sl_cols *c)
{
	return c->n;
}

const struct sl_header *sl_cols_header(const struct sl_cols *c)
{
	return c->h;
}

void sl_cols_get(const struct sl_cols *c, uint64_t i, struct sl_value *v)
{
	SL_ASSERT(i < c->n);
	for (size_t f = 0; f < c->nf; f++) {
		v[f].kind = c->has[f].p[i] ? c->h->fields[f].type.kind : SL_NIL;
		memcpy(&v[f].u.i, c->val[f].p + 8 * i, 8);
	}
}

const char *sl_cols_field(const struct sl_cols *c, size_t f, const unsigned char **has)
{
	SL_ASSERT(f < c->nf);
	*has = (const unsigned char *)c->has[f].p;
	return c->val[f].p;
}

void sl_cols_free(struct sl_cols *c)
{
	if (!c)
		return;
	for (size_t f = 0; f < c->nf; f++) {
		sl_big_free(&c->val[f]);
		sl_big_free(&c->has[f]);
	}
	free(c->val);
	free(c->has);
	sl_header_free(c->h);
	free(c);
}
