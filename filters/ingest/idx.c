/*
 * idx.c - IDX files, the format of MNIST and Fashion-MNIST, into records.
 *
 * An IDX file is four bytes of magic -- 0, 0, the element type, the number
 * of dimensions -- then each dimension as a big-endian uint32, then the
 * elements, big-endian, in row-major order.  Element types: 0x08 u8,
 * 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64.
 *
 * The first dimension counts the items.  Each item of a file with two or
 * more dimensions (an image) becomes a record with a vector field `image`
 * of the remaining dimensions' elements (u8[784] for 28x28 bytes); the
 * header's `image_shape` keeps those dimensions.  With --labels, item i of
 * a one-dimensional, integer labels file becomes the int field `label` of
 * record i; both files must count the same items.  A one-dimensional file
 * read on its own gives records of `label` alone.
 *
 * Bad magic, a dimension of 0 where items need elements, counts that do
 * not match, a file that ends early or has bytes after its last item are
 * errors.  Files may be gzip-compressed (the usual .gz downloads).
 *
 * Memory: one item, plus one block of each input.
 */
#include "ingest.h"

#include <string.h>

struct idx {
	struct input in;
	enum sl_elem elem;
	size_t esize;
	unsigned ndims;
	uint32_t dims[255];
	uint64_t count;  /* items */
	size_t item;     /* elements per item */
};

/* Makes n bytes available at in->pos.  1, 0 if the input ends first, -1. */
static int have(struct input *in, size_t n, struct ingest *g)
{
	while (in->end - in->pos < n) {
		if (in->eof)
			return 0;
		if (input_fill(in, g) < 0)
			return -1;
	}
	return 1;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int idx_open(struct idx *x, const char *path, struct ingest *g)
{
	static const struct {
		unsigned char code;
		enum sl_elem elem;
	} types[] = {
		{0x08, SL_ELEM_U8},  {0x09, SL_ELEM_I8},  {0x0b, SL_ELEM_I16},
		{0x0c, SL_ELEM_I32}, {0x0d, SL_ELEM_F32}, {0x0e, SL_ELEM_F64},
	};
	struct input *in = &x->in;
	const unsigned char *p;
	int rc;

	if (input_open(in, path, g) < 0)
		return -1;
	if ((rc = have(in, 4, g)) <= 0)
		return rc < 0 ? -1 : ing_fail(g, "%s: too short for an IDX file", in->name);
	p = (const unsigned char *)in->buf + in->pos;
	x->elem = SL_ELEM_NONE;
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (p[2] == types[i].code)
			x->elem = types[i].elem;
	if (p[0] || p[1] || !x->elem || !p[3])
		return ing_fail(g, "%s: not an IDX file (bad magic %02x %02x %02x %02x)",
		                in->name, p[0], p[1], p[2], p[3]);
	x->esize = sl_elem_size(x->elem);
	x->ndims = p[3];
	if ((rc = have(in, 4 + 4 * (size_t)x->ndims, g)) <= 0)
		return rc < 0 ? -1 : ing_fail(g, "%s: the IDX header is truncated", in->name);
	p = (const unsigned char *)in->buf + in->pos;
	x->item = 1;
	for (unsigned i = 0; i < x->ndims; i++) {
		x->dims[i] = be32(p + 4 + 4 * i);
		if (i == 0)
			continue;
		if (x->dims[i] == 0)
			return ing_fail(g, "%s: dimension %u is 0", in->name, i + 1);
		if (x->item > SL_MAX_OBJECT / x->esize / x->dims[i])
			return ing_fail(g, "%s: an item of more than %zu bytes", in->name,
			                (size_t)SL_MAX_OBJECT);
		x->item *= x->dims[i];
	}
	x->count = x->dims[0];
	in->pos += 4 + 4 * (size_t)x->ndims;
	return 0;
}

/* n big-endian elements of size es at s to little-endian at d. */
static void swap(unsigned char *d, const unsigned char *s, size_t n, size_t es)
{
	for (size_t i = 0; i < n; i++, s += es, d += es)
		for (size_t b = 0; b < es; b++)
			d[b] = s[es - 1 - b];
}

/* Item k's element as a scalar value (int, or float for f32 and f64). */
static struct sl_value scalar(const struct idx *x, const unsigned char *p)
{
	struct sl_value v = {.kind = SL_INT};
	unsigned char le[8];

	swap(le, p, 1, x->esize);
	switch (x->elem) {
	case SL_ELEM_F32:
	case SL_ELEM_F64:
		v.kind = SL_FLOAT;
		v.u.f = sl_vec_get(x->elem, le, 0);
		break;
	default:
		v.u.i = (int64_t)sl_vec_get(x->elem, le, 0);
	}
	return v;
}

/* After the last item: nothing may follow. */
static int check_end(struct idx *x, struct ingest *g)
{
	int rc = have(&x->in, 1, g);

	if (rc > 0)
		return ing_fail(g, "%s: bytes after the last of its %llu items",
		                x->in.name, (unsigned long long)x->count);
	return rc;
}

static int run(struct ingest *g, struct idx *im, struct idx *lb, const char *labels,
               struct sl_buf *tmp)
{
	struct sl_header *h = sl_header_new();
	struct sl_value v[2];
	size_t nv = 0, bytes = im->item * im->esize;
	int rc;

	if (im->ndims >= 2) {
		struct sl_val shape = sl_val_arr();
		for (unsigned i = 1; i < im->ndims; i++)
			sl_val_push(&shape, sl_val_int(im->dims[i]));
		sl_val_set(&h->meta, "image_shape", shape);
		sl_header_add(h, "image", (struct sl_type){.kind = SL_VEC,
		                                           .elem = im->elem,
		                                           .len = (uint32_t)im->item});
	}
	if (labels && im->ndims == 1) {
		sl_header_free(h);
		return ing_fail(g, "%s is one-dimensional: labels, not images", im->in.name);
	}
	if (labels || im->ndims == 1) {
		struct idx *l = labels ? lb : im;
		if (l->ndims != 1 || (labels && (l->elem == SL_ELEM_F32 || l->elem == SL_ELEM_F64))) {
			sl_header_free(h);
			return ing_fail(g, "%s: %s", l->in.name,
			                l->ndims != 1 ? "labels must be one-dimensional"
			                              : "labels must be integers");
		}
		sl_header_add(h, "label", (struct sl_type){
		    .kind = l->elem == SL_ELEM_F32 || l->elem == SL_ELEM_F64 ? SL_FLOAT : SL_INT});
	}
	if (labels && lb->count != im->count) {
		sl_header_free(h);
		return ing_fail(g, "%s has %llu labels but %s has %llu items", lb->in.name,
		                (unsigned long long)lb->count, im->in.name,
		                (unsigned long long)im->count);
	}
	rc = ing_begin(g, h);
	sl_header_free(h);
	if (rc < 0)
		return -1;
	if (im->ndims >= 2 && im->esize > 1)
		sl_buf_reserve(tmp, bytes);
	for (uint64_t k = 0; k < im->count; k++) {
		const unsigned char *p;
		if ((rc = have(&im->in, bytes, g)) <= 0)
			return rc < 0 ? -1 : ing_fail(g, "%s: truncated: item %llu of %llu is cut short",
			                              im->in.name, (unsigned long long)k + 1,
			                              (unsigned long long)im->count);
		p = (const unsigned char *)im->in.buf + im->in.pos;
		nv = 0;
		if (im->ndims >= 2) {
			v[0].kind = SL_VEC;
			v[0].u.s.n = bytes;
			v[0].u.s.p = (const char *)p;
			if (im->esize > 1) {
				swap((unsigned char *)tmp->p, p, im->item, im->esize);
				v[0].u.s.p = tmp->p;
			}
			nv = 1;
		} else {
			v[nv++] = scalar(im, p);
		}
		im->in.pos += bytes;
		if (labels) {
			if ((rc = have(&lb->in, lb->esize, g)) <= 0)
				return rc < 0 ? -1 : ing_fail(g, "%s: truncated: label %llu of %llu is missing",
				                              lb->in.name, (unsigned long long)k + 1,
				                              (unsigned long long)lb->count);
			v[nv++] = scalar(lb, (const unsigned char *)lb->in.buf + lb->in.pos);
			lb->in.pos += lb->esize;
		}
		if (ing_put(g, v, nv) < 0)
			return -1;
	}
	if (check_end(im, g) < 0 || (labels && check_end(lb, g) < 0))
		return -1;
	return 0;
}

int ingest_idx(struct ingest *g, char **paths, int n)
{
	struct idx im, lb;
	struct sl_buf tmp = {0};
	const char *labels = g->o->labels;
	int rc;

	memset(&im, 0, sizeof im);
	memset(&lb, 0, sizeof lb);
	if (n > 1) {
		g->status = 2;
		return ing_fail(g, "--format idx reads one images file (and --labels FILE)");
	}
	rc = idx_open(&im, n ? paths[0] : "-", g);
	if (rc == 0 && labels)
		rc = idx_open(&lb, labels, g);
	if (rc == 0)
		rc = run(g, &im, &lb, labels, &tmp);
	input_close(&im.in);
	input_close(&lb.in);
	sl_buf_free(&tmp);
	return rc;
}
