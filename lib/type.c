/*
 * type.c - field types and their spelling in a header.
 *
 * A field type is a scalar kind (bool, int, float, str, bin) or a typed
 * vector: an element type and an optional fixed length, written
 * "f32[784]" or "i32[]".  Vectors travel as msgpack bin holding the
 * little-endian elements, so any msgpack reader can get at them.
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

/* Vectors are read and written with memcpy, which needs a little-endian
 * host; a big-endian port would swap bytes here. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "sluice's vector code assumes a little-endian host");

static const struct {
	const char *name;
	enum sl_elem elem;
	size_t size;
} elems[] = {
	{"u8", SL_ELEM_U8, 1},   {"i8", SL_ELEM_I8, 1},   {"u16", SL_ELEM_U16, 2},
	{"i16", SL_ELEM_I16, 2}, {"u32", SL_ELEM_U32, 4}, {"i32", SL_ELEM_I32, 4},
	{"u64", SL_ELEM_U64, 8}, {"i64", SL_ELEM_I64, 8}, {"f32", SL_ELEM_F32, 4},
	{"f64", SL_ELEM_F64, 8},
};

static const char *const kinds[] = {"nil", "bool", "int", "float",
                                    "str", "bin",  "vec"};

const char *sl_kind_name(enum sl_kind k)
{
	return (unsigned)k < sizeof kinds / sizeof *kinds ? kinds[k] : "?";
}

size_t sl_elem_size(enum sl_elem e)
{
	for (size_t i = 0; i < sizeof elems / sizeof *elems; i++)
		if (elems[i].elem == e)
			return elems[i].size;
	return 0;
}

int sl_type_parse(const char *s, struct sl_type *t)
{
	const char *br;
	size_t n;
	unsigned long len = 0;

	memset(t, 0, sizeof *t);
	for (int k = SL_BOOL; k <= SL_BIN; k++)
		if (strcmp(s, kinds[k]) == 0) {
			t->kind = (enum sl_kind)k;
			return 0;
		}
	br = strchr(s, '[');
	if (!br)
		return -1;
	n = (size_t)(br - s);
	for (size_t i = 0; i < sizeof elems / sizeof *elems; i++)
		if (strlen(elems[i].name) == n && memcmp(s, elems[i].name, n) == 0)
			t->elem = elems[i].elem;
	if (!t->elem)
		return -1;
	br++;
	if (*br != ']') {
		if (*br < '1' || *br > '9')
			return -1;
		for (; *br >= '0' && *br <= '9'; br++) {
			len = len * 10 + (unsigned long)(*br - '0');
			if (len > UINT32_MAX)
				return -1;
		}
		if (*br != ']')
			return -1;
	}
	if (br[1])
		return -1;
	t->kind = SL_VEC;
	t->len = (uint32_t)len;
	return 0;
}

int sl_type_format(struct sl_type t, char *out, size_t cap)
{
	if (t.kind != SL_VEC)
		return snprintf(out, cap, "%s", sl_kind_name(t.kind));
	for (size_t i = 0; i < sizeof elems / sizeof *elems; i++)
		if (elems[i].elem == t.elem) {
			if (t.len)
				return snprintf(out, cap, "%s[%u]", elems[i].name, t.len);
			return snprintf(out, cap, "%s[]", elems[i].name);
		}
	return snprintf(out, cap, "?");
}

double sl_vec_get(enum sl_elem e, const void *data, size_t i)
{
	const unsigned char *p = (const unsigned char *)data + i * sl_elem_size(e);
	union {
		uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32;
		int32_t i32; uint64_t u64; int64_t i64; float f32; double f64;
	} x;

	/* Little-endian on the wire, and on the host (checked when this file
	 * is compiled). */
	memcpy(&x, p, sl_elem_size(e));
	switch (e) {
	case SL_ELEM_U8: return x.u8;
	case SL_ELEM_I8: return x.i8;
	case SL_ELEM_U16: return x.u16;
	case SL_ELEM_I16: return x.i16;
	case SL_ELEM_U32: return x.u32;
	case SL_ELEM_I32: return x.i32;
	case SL_ELEM_U64: return (double)x.u64;
	case SL_ELEM_I64: return (double)x.i64;
	case SL_ELEM_F32: return x.f32;
	case SL_ELEM_F64: return x.f64;
	default: SL_ASSERT(!"vector element type");
	}
	return 0;
}
