/*
 * header.c - the schema of a segment, and records copied out of a reader.
 *
 * A header names and types the fields of the records that follow it, and
 * carries lineage: one entry per program that touched the stream, with its
 * version and arguments (never times or host names, so the same inputs
 * and arguments give the same bytes).  Other keys are kept in `meta` in
 * the order they came, and written back in that order.
 *
 * A trailer is the output header written once more at the end of a stream,
 * with no records after it: the way a streaming program, whose header went
 * out before it had seen a record, still records its counts in lineage.
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

struct sl_header *sl_header_new(void)
{
	struct sl_header *h = sl_xcalloc(1, sizeof *h);

	h->meta = sl_val_map();
	h->lineage = sl_val_arr();
	return h;
}

void sl_header_free(struct sl_header *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nfields; i++)
		free(h->fields[i].name);
	free(h->fields);
	sl_val_free(&h->meta);
	sl_val_free(&h->lineage);
	free(h);
}

struct sl_header *sl_header_copy(const struct sl_header *h)
{
	struct sl_header *c = sl_xcalloc(1, sizeof *c);

	c->nfields = h->nfields;
	c->fields = sl_xmalloc((h->nfields ? h->nfields : 1) * sizeof *c->fields);
	for (size_t i = 0; i < h->nfields; i++) {
		c->fields[i].name = sl_xstrdup(h->fields[i].name);
		c->fields[i].type = h->fields[i].type;
	}
	c->meta = sl_val_copy(&h->meta);
	c->lineage = sl_val_copy(&h->lineage);
	return c;
}

int sl_header_find(const struct sl_header *h, const char *name)
{
	for (size_t i = 0; i < h->nfields; i++)
		if (strcmp(h->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

int sl_header_add(struct sl_header *h, const char *name, struct sl_type t)
{
	if (!*name || sl_header_find(h, name) >= 0)
		return -1;
	h->fields = sl_xrealloc(h->fields, (h->nfields + 1) * sizeof *h->fields);
	h->fields[h->nfields].name = sl_xstrdup(name);
	h->fields[h->nfields].type = t;
	return (int)h->nfields++;
}

void sl_header_lineage(struct sl_header *h, int argc, char **argv)
{
	struct sl_val e = sl_val_map(), args = sl_val_arr();

	for (int i = 1, opts = 1; i < argc; i++) {
		/* where the output goes is no part of it: -o FILE and -oFILE
		 * are left out (every program's -o is its output; a value of
		 * another option spelt "-o..." would be dropped too) */
		if (opts && strncmp(argv[i], "-o", 2) == 0) {
			if (!argv[i][2])
				i++;
			continue;
		}
		if (strcmp(argv[i], "--") == 0)
			opts = 0;
		sl_val_push(&args, sl_val_str(argv[i]));
	}
	sl_val_set(&e, "program", sl_val_str(sl_progname));
	sl_val_set(&e, "version", sl_val_str(SL_VERSION));
	sl_val_set(&e, "args", args);
	if (h->lineage.tag != SL_V_ARR) {
		sl_val_free(&h->lineage);
		h->lineage = sl_val_arr();
	}
	sl_val_push(&h->lineage, e);
}

int sl_write_trailer(struct sl_writer *w, const struct sl_header *outh,
                     const struct sl_val *lastlin, struct sl_val counts)
{
	struct sl_header *t = sl_header_copy(outh);
	struct sl_val entry;
	int rc;

	/* this run's entry is the last of its header's lineage */
	SL_ASSERT(outh->lineage.tag == SL_V_ARR && outh->lineage.n > 0);
	entry = sl_val_copy(&outh->lineage.u.a[outh->lineage.n - 1]);
	sl_val_set(&entry, "counts", counts);
	sl_val_free(&t->lineage);
	t->lineage = lastlin && lastlin->tag == SL_V_ARR ? sl_val_copy(lastlin) : sl_val_arr();
	sl_val_push(&t->lineage, entry);
	rc = sl_write_header(w, t);
	sl_header_free(t);
	return rc;
}

/* Whether lineage entries a and b have the same value under key. */
static int same_key(const struct sl_val *a, const struct sl_val *b, const char *key)
{
	const struct sl_val *x = sl_val_get(a, key), *y = sl_val_get(b, key);
	struct sl_buf bx = {0}, by = {0};
	int same;

	if (!x || !y)
		return !x && !y;
	sl_val_json(&bx, x);
	sl_val_json(&by, y);
	same = bx.n == by.n && memcmp(bx.p, by.p, bx.n) == 0;
	sl_buf_free(&bx);
	sl_buf_free(&by);
	return same;
}

int sl_lineage_extends(const struct sl_val *b, const struct sl_val *a)
{
	if (a->tag != SL_V_ARR || b->tag != SL_V_ARR || b->n < a->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct sl_val *x = &a->u.a[i], *y = &b->u.a[i];
		if (x->tag != SL_V_MAP || y->tag != SL_V_MAP || !same_key(x, y, "program") ||
		    !same_key(x, y, "version") || !same_key(x, y, "args"))
			return 0;
	}
	return 1;
}

void sl_lineage_rebase(struct sl_header *h, const struct sl_val *lin)
{
	struct sl_val l;

	SL_ASSERT(h->lineage.tag == SL_V_ARR && h->lineage.n > 0);
	l = lin->tag == SL_V_ARR ? sl_val_copy(lin) : sl_val_arr();
	sl_val_push(&l, sl_val_copy(&h->lineage.u.a[h->lineage.n - 1]));
	sl_val_free(&h->lineage);
	h->lineage = l;
}

char **sl_args_without(int argc, char **argv, const char *opt, size_t minlen, int *n)
{
	char **a = sl_xcalloc((size_t)argc + 1, sizeof *a);
	size_t len = strlen(opt);
	int opts = 1;

	*n = 0;
	for (int i = 0; i < argc; i++) {
		size_t k = strcspn(argv[i], "=");
		if (i > 0 && opts && k >= minlen && k <= len && strncmp(argv[i], opt, k) == 0) {
			if (!argv[i][k])
				i++; /* the value is the next argument */
			continue;
		}
		if (strcmp(argv[i], "--") == 0)
			opts = 0;
		a[(*n)++] = argv[i];
	}
	return a;
}

int sl_header_same_fields(const struct sl_header *a, const struct sl_header *b)
{
	if (a->nfields != b->nfields)
		return 0;
	for (size_t i = 0; i < a->nfields; i++) {
		const struct sl_type *x = &a->fields[i].type, *y = &b->fields[i].type;
		if (strcmp(a->fields[i].name, b->fields[i].name) != 0 ||
		    x->kind != y->kind || x->elem != y->elem || x->len != y->len)
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------- records */

void sl_rec_set(struct sl_rec *dst, const struct sl_value *v, size_t n)
{
	size_t bytes = 0, off = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].kind == SL_STR || v[i].kind == SL_BIN || v[i].kind == SL_VEC)
			bytes += v[i].u.s.n;
	if (n > dst->n || !dst->v)
		dst->v = sl_xrealloc(dst->v, (n ? n : 1) * sizeof *dst->v);
	if (bytes > dst->datalen || !dst->data) {
		dst->data = sl_xrealloc(dst->data, bytes ? bytes : 1);
		dst->datalen = bytes;
	}
	dst->n = n;
	for (size_t i = 0; i < n; i++) {
		dst->v[i] = v[i];
		if (v[i].kind == SL_STR || v[i].kind == SL_BIN || v[i].kind == SL_VEC) {
			if (v[i].u.s.n)
				memcpy(dst->data + off, v[i].u.s.p, v[i].u.s.n);
			dst->v[i].u.s.p = dst->data + off;
			off += v[i].u.s.n;
		}
	}
}

void sl_rec_free(struct sl_rec *r)
{
	free(r->v);
	free(r->data);
	memset(r, 0, sizeof *r);
}
