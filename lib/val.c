/*
 * val.c - a small tree of msgpack values for header metadata and lineage.
 *
 * Records never use this: they are flat arrays of sl_value read straight
 * from the input buffer.  Headers are rare and free-form (a program may
 * add its own keys), so they get a general tree that owns its strings.
 * Maps keep insertion order, which keeps encoded headers byte-identical.
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

struct sl_val sl_val_nil(void)
{
	struct sl_val v = {SL_V_NIL, 0, {0}};
	return v;
}

struct sl_val sl_val_bool(int b)
{
	struct sl_val v = {SL_V_BOOL, 0, {.b = !!b}};
	return v;
}

struct sl_val sl_val_int(int64_t i)
{
	struct sl_val v = {SL_V_INT, 0, {.i = i}};
	return v;
}

struct sl_val sl_val_float(double f)
{
	struct sl_val v = {SL_V_FLOAT, 0, {.f = f}};
	return v;
}

struct sl_val sl_val_strn(const char *s, size_t n)
{
	struct sl_val v = {SL_V_STR, n, {.s = sl_xstrndup(s, n)}};
	return v;
}

struct sl_val sl_val_str(const char *s)
{
	return sl_val_strn(s, strlen(s));
}

struct sl_val sl_val_arr(void)
{
	struct sl_val v = {SL_V_ARR, 0, {.a = NULL}};
	return v;
}

struct sl_val sl_val_map(void)
{
	struct sl_val v = {SL_V_MAP, 0, {.kv = NULL}};
	return v;
}

void sl_val_push(struct sl_val *arr, struct sl_val item)
{
	SL_ASSERT(arr->tag == SL_V_ARR);
	arr->u.a = sl_xrealloc(arr->u.a, (arr->n + 1) * sizeof *arr->u.a);
	arr->u.a[arr->n++] = item;
}

const struct sl_val *sl_val_get(const struct sl_val *map, const char *key)
{
	size_t len = strlen(key);

	if (!map || map->tag != SL_V_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct sl_val *k = &map->u.kv[2 * i];
		if (k->tag == SL_V_STR && k->n == len && memcmp(k->u.s, key, len) == 0)
			return &map->u.kv[2 * i + 1];
	}
	return NULL;
}

void sl_val_set(struct sl_val *map, const char *key, struct sl_val v)
{
	struct sl_val *old;

	SL_ASSERT(map->tag == SL_V_MAP);
	old = (struct sl_val *)sl_val_get(map, key);
	if (old) {
		sl_val_free(old);
		*old = v;
		return;
	}
	map->u.kv = sl_xrealloc(map->u.kv, (map->n + 1) * 2 * sizeof *map->u.kv);
	map->u.kv[2 * map->n] = sl_val_str(key);
	map->u.kv[2 * map->n + 1] = v;
	map->n++;
}

struct sl_val sl_val_copy(const struct sl_val *v)
{
	struct sl_val c = *v;
	size_t items;

	switch (v->tag) {
	case SL_V_STR:
	case SL_V_BIN:
		c.u.s = sl_xstrndup(v->u.s, v->n);
		break;
	case SL_V_ARR:
	case SL_V_MAP:
		items = v->tag == SL_V_MAP ? 2 * v->n : v->n;
		c.u.a = items ? sl_xmalloc(items * sizeof *c.u.a) : NULL;
		for (size_t i = 0; i < items; i++)
			c.u.a[i] = sl_val_copy(&v->u.a[i]);
		break;
	default:
		break;
	}
	return c;
}

void sl_val_free(struct sl_val *v)
{
	size_t items;

	switch (v->tag) {
	case SL_V_STR:
	case SL_V_BIN:
		free(v->u.s);
		break;
	case SL_V_ARR:
	case SL_V_MAP:
		items = v->tag == SL_V_MAP ? 2 * v->n : v->n;
		for (size_t i = 0; i < items; i++)
			sl_val_free(&v->u.a[i]);
		free(v->u.a);
		break;
	default:
		break;
	}
	*v = sl_val_nil();
}

/* in_key: v is, or is inside, a map key that is not a string; its JSON
 * text becomes one JSON string.  Inside such a key, keys that are not
 * strings are written as they are, not quoted again: quoting at every
 * level doubles the backslashes per level, and a key nested 64 deep
 * would take 2^64 bytes. */
static void val_json(struct sl_buf *out, const struct sl_val *v, int in_key)
{
	char num[32];

	switch (v->tag) {
	case SL_V_NIL:
		sl_buf_puts(out, "null");
		break;
	case SL_V_BOOL:
		sl_buf_puts(out, v->u.b ? "true" : "false");
		break;
	case SL_V_INT:
		sl_buf_put(out, num, (size_t)sl_fmt_int(num, v->u.i));
		break;
	case SL_V_FLOAT:
		sl_buf_put(out, num, (size_t)sl_fmt_float(num, v->u.f));
		break;
	case SL_V_STR:
		sl_json_str(out, v->u.s, v->n);
		break;
	case SL_V_BIN:
		sl_buf_putc(out, '"');
		sl_base64(out, v->u.s, v->n);
		sl_buf_putc(out, '"');
		break;
	case SL_V_ARR:
		sl_buf_putc(out, '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				sl_buf_putc(out, ',');
			val_json(out, &v->u.a[i], in_key);
		}
		sl_buf_putc(out, ']');
		break;
	case SL_V_MAP:
		sl_buf_putc(out, '{');
		for (size_t i = 0; i < v->n; i++) {
			const struct sl_val *k = &v->u.kv[2 * i];
			if (i)
				sl_buf_putc(out, ',');
			if (k->tag == SL_V_STR) {
				sl_json_str(out, k->u.s, k->n);
			} else if (in_key) {
				val_json(out, k, 1);
			} else { /* JSON keys are strings: quote the key's JSON */
				struct sl_buf kb = {0};
				val_json(&kb, k, 1);
				sl_json_str(out, kb.p, kb.n);
				sl_buf_free(&kb);
			}
			sl_buf_putc(out, ':');
			val_json(out, &v->u.kv[2 * i + 1], in_key);
		}
		sl_buf_putc(out, '}');
		break;
	}
}

void sl_val_json(struct sl_buf *out, const struct sl_val *v)
{
	val_json(out, v, 0);
}
