/*
 * model.c - the model file: a trained model as one record stream.
 *
 * A model is what a later program needs to apply it to raw records: the
 * architecture, the training configuration, the preprocessing state, the
 * final metrics and the weights.  Everything but the weights is header
 * metadata (sl_val maps, written in the order given); the weights follow,
 * one record per tensor:
 *
 *   {"sluice": 1, "state": "sluice-model", ...caller's keys...,
 *    "fields": [["name","str"], ["dtype","str"], ["shape","i32[]"],
 *               ["data","f32[]"], ["crc32","int"]], "lineage": [...]}
 *   ["fc1.w", "f32", <i32 256, 784>, <f32 x 200704>, 3735928559]
 *   ...
 *
 * data holds the tensor's values row-major, little-endian; crc32 is zlib's
 * CRC-32 of exactly those bytes (Python: zlib.crc32(data)).  sluice-model(5)
 * is the format's page.  The same tensors and header give the same bytes.
 *
 * Saving goes through the stream writer, so a named file is written to a
 * temporary file and renamed into place only when complete: a crash never
 * leaves half a model under the real name.  After the rename the file is
 * read back and compared with what was meant, tensor by tensor (name,
 * shape, values, checksum), so a model that saved is a model that loads.
 * Loading checks that every record is well formed, that each shape's
 * product matches its data and that each checksum matches; every message
 * names the file and the tensor.
 *
 * Ownership: a struct sl_model owns its header and copies of its tensors'
 * names and values.  Checkpoints are model files too, with more tensors
 * (optimizer moments, best weights) under prefixed names.
 */
#include "sluice.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { F_NAME, F_DTYPE, F_SHAPE, F_DATA, F_CRC, NFIELDS };
static const char *const field_names[NFIELDS] = {"name", "dtype", "shape",
                                                 "data", "crc32"};

static void model_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void model_err(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

uint32_t sl_model_crc32(const float *data, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	const unsigned char *p = (const unsigned char *)data;
	size_t bytes = n * sizeof *data;

	/* zlib takes lengths as uInt: feed large tensors in pieces. */
	while (bytes) {
		uInt k = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
		crc = crc32(crc, p, k);
		p += k;
		bytes -= k;
	}
	return (uint32_t)crc;
}

void sl_model_init(struct sl_model *m)
{
	memset(m, 0, sizeof *m);
	m->h = sl_header_new();
}

void sl_model_free(struct sl_model *m)
{
	for (int i = 0; i < m->count; i++) {
		free(m->t[i].name);
		free(m->t[i].data);
	}
	free(m->t);
	sl_header_free(m->h);
	memset(m, 0, sizeof *m);
}

void sl_model_add(struct sl_model *m, const char *name, int ndim,
                  const int *shape, const float *data)
{
	struct sl_model_tensor *t;

	SL_ASSERT(ndim >= 1 && ndim <= SL_PARAM_DIMS_MAX);
	SL_ASSERT(!sl_model_find(m, name));
	m->t = sl_xrealloc(m->t, (size_t)(m->count + 1) * sizeof *m->t);
	t = &m->t[m->count++];
	memset(t, 0, sizeof *t);
	t->name = sl_xstrdup(name);
	t->ndim = ndim;
	t->n = 1;
	for (int i = 0; i < ndim; i++) {
		SL_ASSERT(shape[i] >= 1);
		t->shape[i] = shape[i];
		t->n *= (size_t)shape[i];
	}
	t->data = sl_xmalloc(t->n * sizeof *t->data);
	memcpy(t->data, data, t->n * sizeof *t->data);
}

void sl_model_add_params(struct sl_model *m, const struct sl_params *P,
                         const float *block, const char *prefix)
{
	char name[256];

	for (int i = 0; i < P->count; i++) {
		const struct sl_param *p = &P->t[i];
		snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", p->name);
		sl_model_add(m, name, p->ndim, p->shape, block + p->off);
	}
}

const struct sl_model_tensor *sl_model_find(const struct sl_model *m,
                                            const char *name)
{
	for (int i = 0; i < m->count; i++)
		if (strcmp(m->t[i].name, name) == 0)
			return &m->t[i];
	return NULL;
}

static void shape_str(char *out, size_t cap, int ndim, const int *shape)
{
	size_t k = 0;

	k += (size_t)snprintf(out + k, cap - k, "(");
	for (int i = 0; i < ndim && k < cap; i++)
		k += (size_t)snprintf(out + k, cap - k, "%s%d", i ? "," : "", shape[i]);
	if (k < cap)
		snprintf(out + k, cap - k, ")");
}

int sl_model_get_params(const struct sl_model *m, const struct sl_params *P,
                        float *block, const char *prefix, const char *path,
                        char *err, size_t errcap)
{
	char name[256], want[64], got[64];

	for (int i = 0; i < P->count; i++) {
		const struct sl_param *p = &P->t[i];
		const struct sl_model_tensor *t;
		int same;

		snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", p->name);
		if (!(t = sl_model_find(m, name))) {
			model_err(err, errcap, "%s: tensor \"%s\" is missing", path, name);
			return -1;
		}
		same = t->ndim == p->ndim;
		for (int d = 0; same && d < p->ndim; d++)
			same = t->shape[d] == p->shape[d];
		if (!same) {
			shape_str(got, sizeof got, t->ndim, t->shape);
			shape_str(want, sizeof want, p->ndim, p->shape);
			model_err(err, errcap,
			          "%s: tensor \"%s\" has shape %s, the model needs %s", path,
			          name, got, want);
			return -1;
		}
		memcpy(block + p->off, t->data, p->n * sizeof *block);
	}
	return 0;
}

/* The header as written: the caller's metadata after "state", our fields. */
static struct sl_header *file_header(const struct sl_header *h)
{
	struct sl_header *f = sl_header_new();
	static const struct sl_type types[NFIELDS] = {
	    {SL_STR, 0, 0},
	    {SL_STR, 0, 0},
	    {SL_VEC, SL_ELEM_I32, 0},
	    {SL_VEC, SL_ELEM_F32, 0},
	    {SL_INT, 0, 0},
	};

	for (int i = 0; i < NFIELDS; i++)
		sl_header_add(f, field_names[i], types[i]);
	sl_val_set(&f->meta, "state", sl_val_str("sluice-model"));
	for (size_t i = 0; i < h->meta.n; i++) {
		const struct sl_val *k = &h->meta.u.kv[2 * i];
		if (k->tag == SL_V_STR && strcmp(k->u.s, "state") != 0)
			sl_val_set(&f->meta, k->u.s, sl_val_copy(&h->meta.u.kv[2 * i + 1]));
	}
	sl_val_free(&f->lineage);
	f->lineage = sl_val_copy(&h->lineage);
	return f;
}

/* Writes the header and one record per tensor; 0, or -1 (writer error). */
static int emit(const struct sl_model *m, struct sl_writer *w)
{
	struct sl_header *h = file_header(m->h);
	int rc = sl_write_header(w, h) < 0 ? -1 : 0;

	for (int i = 0; i < m->count && !rc; i++) {
		const struct sl_model_tensor *t = &m->t[i];
		int32_t shape[SL_PARAM_DIMS_MAX];
		struct sl_value v[NFIELDS];

		for (int d = 0; d < t->ndim; d++)
			shape[d] = t->shape[d]; /* little-endian hosts only, as the codec */
		v[F_NAME].kind = SL_STR;
		v[F_NAME].u.s.p = t->name;
		v[F_NAME].u.s.n = strlen(t->name);
		v[F_DTYPE].kind = SL_STR;
		v[F_DTYPE].u.s.p = "f32";
		v[F_DTYPE].u.s.n = 3;
		v[F_SHAPE].kind = SL_VEC;
		v[F_SHAPE].u.s.p = (const char *)shape;
		v[F_SHAPE].u.s.n = (size_t)t->ndim * sizeof *shape;
		v[F_DATA].kind = SL_VEC;
		v[F_DATA].u.s.p = (const char *)t->data;
		v[F_DATA].u.s.n = t->n * sizeof *t->data;
		v[F_CRC].kind = SL_INT;
		v[F_CRC].u.i = sl_model_crc32(t->data, t->n);
		rc = sl_write_record(w, v, NFIELDS);
	}
	sl_header_free(h);
	return rc;
}

/* Reads back what r holds and compares it with m tensor by tensor. */
static int verify(const struct sl_model *m, struct sl_reader *r, const char *name,
                  char *err, size_t errcap)
{
	struct sl_model back;
	int rc = 0;

	if (sl_model_read_from(&back, r, err, errcap) < 0)
		return -1;
	if (back.count != m->count) {
		model_err(err, errcap, "%s: read back %d tensors, wrote %d", name,
		          back.count, m->count);
		rc = -1;
	}
	for (int i = 0; i < m->count && !rc; i++) {
		const struct sl_model_tensor *a = &m->t[i], *b = &back.t[i];
		int same = strcmp(a->name, b->name) == 0 && a->ndim == b->ndim &&
		           a->n == b->n;
		for (int d = 0; same && d < a->ndim; d++)
			same = a->shape[d] == b->shape[d];
		if (!same || memcmp(a->data, b->data, a->n * sizeof *a->data) != 0) {
			model_err(err, errcap,
			          "%s: tensor \"%s\": read back differs from what was written",
			          name, a->name);
			rc = -1;
		}
	}
	sl_model_free(&back);
	return rc;
}

int sl_model_write(const struct sl_model *m, const char *path,
                   const struct sl_wopts *o, char *err, size_t errcap)
{
	int to_stdout = !path || strcmp(path, "-") == 0;
	struct sl_writer *w;
	struct sl_buf mem = {0};
	char *werr = NULL;
	int rc;

	if (to_stdout) {
		/* Nothing to read back from a pipe: check the encoding in memory,
		 * then send the same records out. */
		w = sl_writer_mem(&mem);
		emit(m, w);
		sl_writer_close(w, NULL);
		rc = verify(m, sl_reader_mem(mem.p, mem.n, "(stdout)"), "(stdout)", err,
		            errcap);
		sl_buf_free(&mem);
		if (rc < 0)
			return -1;
	}
	w = sl_writer_open(to_stdout ? NULL : path, o);
	if (sl_writer_error(w) || emit(m, w) < 0) {
		model_err(err, errcap, "%s", sl_writer_error(w) ? sl_writer_error(w) : path);
		sl_writer_abort(w);
		return -1;
	}
	if (sl_writer_close(w, &werr) < 0) {
		model_err(err, errcap, "%s", werr);
		free(werr);
		return -1;
	}
	if (to_stdout)
		return 0;
	/* Read the file back: what loads must be what we meant to save. */
	return verify(m, sl_reader_open(path), path, err, errcap);
}

/* One tensor record into m; -1 with a message naming the tensor. */
static int read_tensor(struct sl_model *m, const struct sl_value *v,
                       const int *fi, const char *where, char *err,
                       size_t errcap)
{
	char name[256];
	int shape[SL_PARAM_DIMS_MAX], ndim;
	size_t n = 1;
	struct sl_model_tensor *t;
	uint32_t crc;

	if (v[fi[F_NAME]].kind != SL_STR || !v[fi[F_NAME]].u.s.n ||
	    v[fi[F_NAME]].u.s.n >= sizeof name) {
		model_err(err, errcap, "%s: a tensor without a name", where);
		return -1;
	}
	memcpy(name, v[fi[F_NAME]].u.s.p, v[fi[F_NAME]].u.s.n);
	name[v[fi[F_NAME]].u.s.n] = 0;
	if (sl_model_find(m, name)) {
		model_err(err, errcap, "%s: tensor \"%s\" appears twice", where, name);
		return -1;
	}
	if (v[fi[F_DTYPE]].kind != SL_STR || v[fi[F_DTYPE]].u.s.n != 3 ||
	    memcmp(v[fi[F_DTYPE]].u.s.p, "f32", 3) != 0) {
		model_err(err, errcap, "%s: tensor \"%s\": dtype is not f32", where,
		          name);
		return -1;
	}
	if (v[fi[F_SHAPE]].kind != SL_VEC || v[fi[F_SHAPE]].u.s.n == 0 ||
	    v[fi[F_SHAPE]].u.s.n > sizeof(int32_t) * SL_PARAM_DIMS_MAX) {
		model_err(err, errcap, "%s: tensor \"%s\": shape must have 1 to %d "
		          "dimensions", where, name, SL_PARAM_DIMS_MAX);
		return -1;
	}
	ndim = (int)(v[fi[F_SHAPE]].u.s.n / sizeof(int32_t));
	for (int d = 0; d < ndim; d++) {
		int32_t s;
		memcpy(&s, v[fi[F_SHAPE]].u.s.p + d * sizeof s, sizeof s);
		if (s < 1 || n > ((size_t)1 << 40) / (size_t)s) {
			model_err(err, errcap, "%s: tensor \"%s\": bad dimension %d", where,
			          name, (int)s);
			return -1;
		}
		shape[d] = s;
		n *= (size_t)s;
	}
	if (v[fi[F_DATA]].kind != SL_VEC || v[fi[F_DATA]].u.s.n != n * sizeof(float)) {
		model_err(err, errcap, "%s: tensor \"%s\": its shape holds %zu values, "
		          "its data %zu", where, name, n,
		          v[fi[F_DATA]].kind == SL_VEC ? v[fi[F_DATA]].u.s.n / sizeof(float) : 0);
		return -1;
	}
	m->t = sl_xrealloc(m->t, (size_t)(m->count + 1) * sizeof *m->t);
	t = &m->t[m->count];
	memset(t, 0, sizeof *t);
	t->ndim = ndim;
	memcpy(t->shape, shape, sizeof shape);
	t->n = n;
	t->data = sl_xmalloc(n * sizeof *t->data);
	memcpy(t->data, v[fi[F_DATA]].u.s.p, n * sizeof *t->data);
	crc = sl_model_crc32(t->data, n);
	if (v[fi[F_CRC]].kind != SL_INT || v[fi[F_CRC]].u.i != (int64_t)crc) {
		model_err(err, errcap, "%s: tensor \"%s\": checksum mismatch (stored "
		          "%lld, data has %lu)", where, name,
		          v[fi[F_CRC]].kind == SL_INT ? (long long)v[fi[F_CRC]].u.i : -1LL,
		          (unsigned long)crc);
		free(t->data);
		return -1;
	}
	t->name = sl_xstrdup(name);
	m->count++;
	return 0;
}

int sl_model_read(struct sl_model *m, const char *path, char *err,
                  size_t errcap)
{
	return sl_model_read_from(m, sl_reader_open(path), err, errcap);
}

int sl_model_read_from(struct sl_model *m, struct sl_reader *r, char *err,
                       size_t errcap)
{
	int ev, fi[NFIELDS], rc = 0;
	char where[512];

	sl_model_init(m);
	while ((ev = sl_read(r)) > 0) {
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			const struct sl_val *st = sl_val_get(&h->meta, "state");
			if (sl_reader_segments(r) > 1) {
				model_err(err, errcap, "%s: a model file has one header, this "
				          "one has more", sl_reader_name(r));
				rc = -1;
				break;
			}
			if (!st || st->tag != SL_V_STR || strcmp(st->u.s, "sluice-model")) {
				model_err(err, errcap, "%s: not a sluice model (no \"state\": "
				          "\"sluice-model\" in its header)", sl_reader_name(r));
				rc = -1;
				break;
			}
			for (int k = 0; k < NFIELDS && !rc; k++) {
				fi[k] = sl_header_find(h, field_names[k]);
				if (fi[k] < 0) {
					model_err(err, errcap, "%s: model has no field \"%s\"",
					          sl_reader_name(r), field_names[k]);
					rc = -1;
				}
			}
			if (rc)
				break;
			sl_header_free(m->h);
			m->h = sl_header_copy(h);
			continue;
		}
		snprintf(where, sizeof where, "%s: record %llu", sl_reader_name(r),
		         (unsigned long long)sl_reader_recno(r));
		if ((rc = read_tensor(m, sl_reader_values(r), fi, where, err, errcap)))
			break;
	}
	if (ev == SL_ERROR) {
		model_err(err, errcap, "%s", sl_reader_error(r));
		rc = -1;
	} else if (!rc && sl_reader_segments(r) == 0) {
		model_err(err, errcap, "%s: empty: no model header", sl_reader_name(r));
		rc = -1;
	}
	sl_reader_close(r);
	if (rc) {
		sl_model_free(m);
		m->h = NULL;
	}
	return rc;
}
