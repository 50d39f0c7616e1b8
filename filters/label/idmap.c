/*
 * idmap.c - a map from byte strings to entries, for ids and record numbers.
 *
 * Keys are copied back to back into one buffer; entries are numbered in
 * the order their keys were first put, so walking 0..n-1 is deterministic.
 * Lookup is open addressing (linear probing, load at most 1/2) over a
 * 64-bit hash, each candidate confirmed by comparing bytes.  Per key it
 * keeps the bytes plus about 40 bytes of index.
 *
 * A value's key is its kind as one byte followed by its bytes, so the int
 * 7 and the string "7" are different ids.
 */
#include "label.h"

#include <stdlib.h>
#include <string.h>

void key_bytes(struct sl_buf *b, const struct sl_value *v)
{
	b->n = 0;
	sl_buf_putc(b, (int)v->kind);
	switch (v->kind) {
	case SL_NIL:
		break;
	case SL_BOOL:
		sl_buf_putc(b, v->u.b != 0);
		break;
	case SL_INT:
		sl_buf_put(b, &v->u.i, sizeof v->u.i);
		break;
	case SL_FLOAT:
		sl_buf_put(b, &v->u.f, sizeof v->u.f);
		break;
	default:
		sl_buf_put(b, v->u.s.p, v->u.s.n);
	}
}

struct sl_value key_value(const char *k, size_t n)
{
	struct sl_value v;

	memset(&v, 0, sizeof v);
	v.kind = (enum sl_kind)k[0];
	if (v.kind == SL_INT) {
		memcpy(&v.u.i, k + 1, sizeof v.u.i);
	} else if (v.kind == SL_STR) {
		v.u.s.p = k + 1;
		v.u.s.n = n - 1;
	} else {
		v.kind = SL_NIL;
	}
	return v;
}

void key_text(struct sl_buf *out, const char *k, size_t n)
{
	struct sl_value v = key_value(k, n);
	char num[32];

	if (v.kind == SL_INT)
		sl_buf_put(out, num, (size_t)sl_fmt_int(num, v.u.i));
	else if (v.kind == SL_STR)
		sl_json_str(out, v.u.s.p, v.u.s.n);
	else
		sl_buf_puts(out, "(missing)");
}

long idmap_find(const struct idmap *m, const void *k, size_t n)
{
	uint64_t h;

	if (!m->nslot)
		return -1;
	h = sl_hash64(k, n, 0);
	for (size_t i = h & (m->nslot - 1); m->slot[i]; i = (i + 1) & (m->nslot - 1)) {
		size_t e = m->slot[i] - 1;
		if (m->len[e] == n && memcmp(m->bytes.p + m->off[e], k, n) == 0)
			return (long)e;
	}
	return -1;
}

size_t idmap_put(struct idmap *m, const void *k, size_t n, int *isnew)
{
	long found = idmap_find(m, k, n);
	size_t i;

	if (found >= 0) {
		*isnew = 0;
		return (size_t)found;
	}
	*isnew = 1;
	if (2 * (m->n + 1) > m->nslot) { /* grow and rehash */
		size_t ns = m->nslot ? 2 * m->nslot : 1024;
		uint32_t *slot = sl_xcalloc(ns, sizeof *slot);
		for (size_t e = 0; e < m->n; e++) {
			uint64_t he = sl_hash64(m->bytes.p + m->off[e], m->len[e], 0);
			for (i = he & (ns - 1); slot[i]; i = (i + 1) & (ns - 1))
				;
			slot[i] = (uint32_t)e + 1;
		}
		free(m->slot);
		m->slot = slot;
		m->nslot = ns;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->off = sl_xrealloc(m->off, m->cap * sizeof *m->off);
		m->len = sl_xrealloc(m->len, m->cap * sizeof *m->len);
		m->val = sl_xrealloc(m->val, m->cap * sizeof *m->val);
		m->aux = sl_xrealloc(m->aux, m->cap * sizeof *m->aux);
	}
	for (i = sl_hash64(k, n, 0) & (m->nslot - 1); m->slot[i]; i = (i + 1) & (m->nslot - 1))
		;
	m->off[m->n] = m->bytes.n;
	m->len[m->n] = n;
	m->val[m->n] = -1;
	m->aux[m->n] = 0;
	sl_buf_put(&m->bytes, k, n);
	m->slot[i] = (uint32_t)m->n + 1;
	return m->n++;
}

void idmap_free(struct idmap *m)
{
	sl_buf_free(&m->bytes);
	free(m->off);
	free(m->len);
	free(m->val);
	free(m->aux);
	free(m->slot);
	memset(m, 0, sizeof *m);
}
