/*
 * feat.c - features and target: how a record becomes a row of floats and
 * a label.
 *
 * A model reads some fields of a record as its input: scalars (int, float,
 * bool) become one float each, fixed-length vectors (u8[784], f32[N], ...)
 * as many, concatenated in the order of the feature list into a row of D
 * floats.  The preprocessing a model carries is an affine map per column,
 * row[j] = x[j] * scale[j] + shift[j]: a constant factor (pixels / 255)
 * and a z-score (scale 1/std, shift -mean/std) are both of that form, so
 * one pair of vectors, saved with the weights, lets a model apply to raw
 * records.
 *
 * The target is one field.  For classification its values are labels: a
 * str, int or bool, compared by text form ("3", "true", "cat") and
 * numbered by their sorted order (ints numerically, strings bytewise), so
 * the class numbering is a function of the set of labels alone.  For
 * regression it is a number or a fixed-length vector of O numbers.
 *
 * Fields are matched by name, so a model applies to any stream that has
 * its features with compatible types, whatever other fields it carries and
 * in whatever order.  A missing value or a NaN in a feature is an error,
 * never a silently filled row.
 *
 * Ownership: a struct sl_feat owns its names, classes and vectors.
 */
#include "sluice.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void ferr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ferr(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

void sl_feat_free(struct sl_feat *f)
{
	for (int i = 0; i < f->nf; i++)
		free(f->f[i].name);
	free(f->f);
	free(f->scale);
	free(f->shift);
	free(f->target);
	for (int k = 0; k < f->K; k++)
		free(f->classes[k]);
	free(f->classes);
	memset(f, 0, sizeof *f);
}

static int scalar(enum sl_kind k)
{
	return k == SL_INT || k == SL_FLOAT || k == SL_BOOL;
}

static void add_field(struct sl_feat *f, const char *name, struct sl_type t)
{
	struct sl_feat_field *x;

	f->f = sl_xrealloc(f->f, (size_t)(f->nf + 1) * sizeof *f->f);
	x = &f->f[f->nf++];
	x->name = sl_xstrdup(name);
	x->type = t;
	x->off = f->D;
	x->len = t.kind == SL_VEC ? t.len : 1;
	x->idx = -1;
	f->D += x->len;
}

int sl_feat_select(struct sl_feat *f, const struct sl_header *h,
                   const char *features, const char *target, char *err,
                   size_t errcap)
{
	memset(f, 0, sizeof *f);
	f->tidx = -1;
	if (target) {
		int t = sl_header_find(h, target);
		if (t < 0) {
			ferr(err, errcap, "no target field \"%s\"", target);
			return -1;
		}
		f->target = sl_xstrdup(target);
		f->ttype = h->fields[t].type;
		f->tidx = t;
		if (f->ttype.kind == SL_BIN || (f->ttype.kind == SL_VEC && f->ttype.len == 0)) {
			ferr(err, errcap, "target \"%s\": a %s field cannot be a target",
			     target, f->ttype.kind == SL_BIN ? "bin" : "variable-length vector");
			return -2;
		}
	}
	if (features) {
		char *copy = sl_xstrdup(features), *p = copy, *tok;
		while ((tok = strsep(&p, ","))) {
			int i = sl_header_find(h, tok);
			struct sl_type t;
			if (!*tok || i < 0) {
				ferr(err, errcap, "no feature field \"%s\"", tok);
				free(copy);
				return -1;
			}
			t = h->fields[i].type;
			if (target && strcmp(tok, target) == 0) {
				ferr(err, errcap, "\"%s\" is the target; it cannot be a feature", tok);
				free(copy);
				return -2;
			}
			if (!scalar(t.kind) && !(t.kind == SL_VEC && t.len > 0)) {
				ferr(err, errcap, "feature \"%s\": a %s field is not numeric (str "
				     "fields need sluice-normalize --onehot first)", tok,
				     t.kind == SL_VEC ? "variable-length vector" : sl_kind_name(t.kind));
				free(copy);
				return -2;
			}
			for (int k = 0; k < f->nf; k++)
				if (strcmp(f->f[k].name, tok) == 0) {
					ferr(err, errcap, "feature \"%s\" given twice", tok);
					free(copy);
					return -2;
				}
			add_field(f, tok, t);
		}
		free(copy);
	} else {
		for (size_t i = 0; i < h->nfields; i++) {
			struct sl_type t = h->fields[i].type;
			if (target && strcmp(h->fields[i].name, target) == 0)
				continue;
			if (scalar(t.kind) || (t.kind == SL_VEC && t.len > 0))
				add_field(f, h->fields[i].name, t);
		}
	}
	if (!f->nf) {
		ferr(err, errcap, "no numeric or vector fields to use as features");
		return -1;
	}
	return sl_feat_bind(f, h, target != NULL, err, errcap);
}

int sl_feat_bind(struct sl_feat *f, const struct sl_header *h, int need_target,
                 char *err, size_t errcap)
{
	for (int i = 0; i < f->nf; i++) {
		struct sl_feat_field *x = &f->f[i];
		int k = sl_header_find(h, x->name);
		struct sl_type t;
		if (k < 0) {
			ferr(err, errcap, "no feature field \"%s\"", x->name);
			return -1;
		}
		t = h->fields[k].type;
		if (x->type.kind == SL_VEC ? t.kind != SL_VEC || t.len != x->type.len
		                           : !scalar(t.kind)) {
			char want[32], got[32];
			sl_type_format(x->type, want, sizeof want);
			sl_type_format(t, got, sizeof got);
			ferr(err, errcap, "feature \"%s\" is %s here, the model wants %s",
			     x->name, got, want);
			return -1;
		}
		x->type = t; /* the element type of this stream */
		x->idx = k;
	}
	f->tidx = -1;
	if (f->target && need_target) {
		int k = sl_header_find(h, f->target);
		struct sl_type t;
		if (k < 0) {
			ferr(err, errcap, "no target field \"%s\"", f->target);
			return -1;
		}
		t = h->fields[k].type;
		if (f->task == SL_TASK_REGRESS &&
		    (f->O > 1 ? t.kind != SL_VEC || (int)t.len != f->O : !scalar(t.kind))) {
			ferr(err, errcap, "target \"%s\": not %d number%s", f->target, f->O,
			     f->O > 1 ? "s" : "");
			return -1;
		}
		if (f->task == SL_TASK_CLASSIFY && t.kind != SL_STR && t.kind != SL_INT &&
		    t.kind != SL_BOOL) {
			ferr(err, errcap, "target \"%s\": a %s field cannot hold class labels",
			     f->target, sl_kind_name(t.kind));
			return -1;
		}
		f->tidx = k;
	}
	return 0;
}

/* ----------------------------------------------------------------- rows */

int sl_feat_row(const struct sl_feat *f, const struct sl_value *v, float *row,
                const char **field, const char **why)
{
	for (int i = 0; i < f->nf; i++) {
		const struct sl_feat_field *x = &f->f[i];
		const struct sl_value *y = &v[x->idx];
		float *out = row + x->off;

		*field = x->name;
		switch (y->kind) {
		case SL_NIL:
			*why = "a missing value (impute it first)";
			return -1;
		case SL_INT:
			out[0] = (float)y->u.i;
			break;
		case SL_FLOAT:
			if (!isfinite(y->u.f)) {
				*why = "a NaN or infinite value";
				return -1;
			}
			out[0] = (float)y->u.f;
			break;
		case SL_BOOL:
			out[0] = y->u.b ? 1.0f : 0.0f;
			break;
		case SL_VEC: {
			const unsigned char *p = (const unsigned char *)y->u.s.p;
			float bad = 0.0f;
			if (x->type.elem == SL_ELEM_U8) {
				for (size_t j = 0; j < x->len; j++)
					out[j] = (float)p[j];
				break;
			}
			if (x->type.elem == SL_ELEM_F32)
				memcpy(out, p, x->len * sizeof *out);
			else
				for (size_t j = 0; j < x->len; j++)
					out[j] = (float)sl_vec_get(x->type.elem, p, j);
			for (size_t j = 0; j < x->len; j++)
				bad += out[j] - out[j]; /* NaN for a NaN or an infinity */
			if (bad != 0.0f) {
				*why = "a NaN or infinite value";
				return -1;
			}
			break;
		}
		default:
			*why = "not a number";
			return -1;
		}
	}
	if (f->scale)
		for (size_t j = 0; j < f->D; j++)
			row[j] = row[j] * f->scale[j] + f->shift[j];
	return 0;
}

/* -------------------------------------------------------------- target */

void sl_feat_label(const struct sl_value *v, struct sl_buf *out)
{
	char num[32];

	out->n = 0;
	if (v->kind == SL_STR)
		sl_buf_put(out, v->u.s.p, v->u.s.n);
	else if (v->kind == SL_INT)
		sl_buf_put(out, num, (size_t)sl_fmt_int(num, v->u.i));
	else if (v->kind == SL_BOOL)
		sl_buf_puts(out, v->u.b ? "true" : "false");
	sl_buf_cstr(out);
}

/* Label order: numeric for int targets, bytewise otherwise. */
static int cmp_label(const char *a, const char *b, int numeric)
{
	if (numeric) {
		long long x = strtoll(a, NULL, 10), y = strtoll(b, NULL, 10);
		return (x > y) - (x < y);
	}
	return strcmp(a, b);
}

static int g_numeric;
static int cmp_qsort(const void *a, const void *b)
{
	return cmp_label(*(char *const *)a, *(char *const *)b, g_numeric);
}

void sl_feat_set_classes(struct sl_feat *f, char **labels, size_t n)
{
	size_t k = 0;

	g_numeric = f->ttype.kind == SL_INT;
	qsort(labels, n, sizeof *labels, cmp_qsort);
	f->classes = sl_xmalloc((n ? n : 1) * sizeof *f->classes);
	for (size_t i = 0; i < n; i++)
		if (!k || cmp_label(f->classes[k - 1], labels[i], g_numeric) != 0)
			f->classes[k++] = sl_xstrdup(labels[i]);
	f->K = (int)k;
}

int sl_feat_class_of(const struct sl_feat *f, const char *label)
{
	int lo = 0, hi = f->K, numeric = f->ttype.kind == SL_INT;

	while (lo < hi) {
		int mid = (lo + hi) / 2, c = cmp_label(f->classes[mid], label, numeric);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int sl_feat_target(const struct sl_feat *f, const struct sl_value *v,
                   struct sl_buf *tmp, int32_t *cls, float *vals,
                   const char **why)
{
	const struct sl_value *y = &v[f->tidx];

	if (y->kind == SL_NIL) {
		*why = "a missing target";
		return -1;
	}
	if (f->task == SL_TASK_CLASSIFY) {
		int k;
		if (y->kind != SL_STR && y->kind != SL_INT && y->kind != SL_BOOL) {
			*why = "not a class label";
			return -1;
		}
		sl_feat_label(y, tmp);
		if ((k = sl_feat_class_of(f, tmp->p)) < 0) {
			*why = "a class the model was not trained on";
			return -1;
		}
		*cls = k;
		return 0;
	}
	if (y->kind == SL_VEC) {
		for (int j = 0; j < f->O; j++)
			vals[j] = (float)sl_vec_get(f->ttype.elem, y->u.s.p, (size_t)j);
	} else if (y->kind == SL_INT || y->kind == SL_FLOAT || y->kind == SL_BOOL) {
		vals[0] = (float)(y->kind == SL_INT ? (double)y->u.i
		                  : y->kind == SL_FLOAT ? y->u.f : (double)y->u.b);
	} else {
		*why = "not a number";
		return -1;
	}
	for (int j = 0; j < f->O; j++)
		if (!isfinite(vals[j])) {
			*why = "a NaN or infinite target";
			return -1;
		}
	return 0;
}

/* ------------------------------------------------------- description */

static const char *task_name(enum sl_task t)
{
	return t == SL_TASK_CLASSIFY ? "classification" : "regression";
}

struct sl_val sl_feat_describe_features(const struct sl_feat *f)
{
	struct sl_val a = sl_val_arr();
	char tn[32];

	for (int i = 0; i < f->nf; i++) {
		struct sl_val m = sl_val_map();
		sl_type_format(f->f[i].type, tn, sizeof tn);
		sl_val_set(&m, "name", sl_val_str(f->f[i].name));
		sl_val_set(&m, "type", sl_val_str(tn));
		sl_val_push(&a, m);
	}
	return a;
}

struct sl_val sl_feat_describe_target(const struct sl_feat *f)
{
	struct sl_val m = sl_val_map();
	char tn[32];

	sl_type_format(f->ttype, tn, sizeof tn);
	sl_val_set(&m, "name", sl_val_str(f->target));
	sl_val_set(&m, "type", sl_val_str(tn));
	sl_val_set(&m, "task", sl_val_str(task_name(f->task)));
	if (f->task == SL_TASK_CLASSIFY) {
		struct sl_val c = sl_val_arr();
		for (int k = 0; k < f->K; k++) {
			if (f->ttype.kind == SL_INT)
				sl_val_push(&c, sl_val_int(strtoll(f->classes[k], NULL, 10)));
			else if (f->ttype.kind == SL_BOOL)
				sl_val_push(&c, sl_val_bool(strcmp(f->classes[k], "true") == 0));
			else
				sl_val_push(&c, sl_val_str(f->classes[k]));
		}
		sl_val_set(&m, "classes", c);
	} else {
		sl_val_set(&m, "outputs", sl_val_int(f->O));
	}
	return m;
}

int sl_feat_from_val(struct sl_feat *f, const struct sl_val *features,
                     const struct sl_val *target, char *err, size_t errcap)
{
	const struct sl_val *v;

	memset(f, 0, sizeof *f);
	f->tidx = -1;
	if (!features || features->tag != SL_V_ARR || !features->n) {
		ferr(err, errcap, "model: no \"features\"");
		return -1;
	}
	for (size_t i = 0; i < features->n; i++) {
		const struct sl_val *n = sl_val_get(&features->u.a[i], "name"),
		                    *t = sl_val_get(&features->u.a[i], "type");
		struct sl_type ty;
		if (!n || n->tag != SL_V_STR || !t || t->tag != SL_V_STR ||
		    sl_type_parse(t->u.s, &ty) < 0 ||
		    !(scalar(ty.kind) || (ty.kind == SL_VEC && ty.len > 0))) {
			ferr(err, errcap, "model: feature %zu is malformed", i + 1);
			sl_feat_free(f);
			return -1;
		}
		add_field(f, n->u.s, ty);
	}
	if (!target || target->tag != SL_V_MAP)
		return 0;
	v = sl_val_get(target, "name");
	if (!v || v->tag != SL_V_STR) {
		ferr(err, errcap, "model: the target has no name");
		sl_feat_free(f);
		return -1;
	}
	f->target = sl_xstrdup(v->u.s);
	v = sl_val_get(target, "type");
	if (!v || v->tag != SL_V_STR || sl_type_parse(v->u.s, &f->ttype) < 0) {
		ferr(err, errcap, "model: the target has no type");
		sl_feat_free(f);
		return -1;
	}
	v = sl_val_get(target, "task");
	if (v && v->tag == SL_V_STR && strcmp(v->u.s, "classification") == 0) {
		const struct sl_val *c = sl_val_get(target, "classes");
		struct sl_buf b = {0};
		f->task = SL_TASK_CLASSIFY;
		if (!c || c->tag != SL_V_ARR || c->n < 2) {
			ferr(err, errcap, "model: a classifier needs two or more \"classes\"");
			sl_feat_free(f);
			return -1;
		}
		f->classes = sl_xmalloc(c->n * sizeof *f->classes);
		for (size_t k = 0; k < c->n; k++) {
			const struct sl_val *x = &c->u.a[k];
			b.n = 0;
			if (x->tag == SL_V_INT)
				sl_buf_printf(&b, "%lld", (long long)x->u.i);
			else if (x->tag == SL_V_BOOL)
				sl_buf_puts(&b, x->u.b ? "true" : "false");
			else if (x->tag == SL_V_STR)
				sl_buf_put(&b, x->u.s, x->n);
			f->classes[f->K++] = sl_xstrdup(sl_buf_cstr(&b));
		}
		sl_buf_free(&b);
	} else if (v && v->tag == SL_V_STR && strcmp(v->u.s, "regression") == 0) {
		const struct sl_val *o = sl_val_get(target, "outputs");
		f->task = SL_TASK_REGRESS;
		f->O = o && o->tag == SL_V_INT && o->u.i >= 1 && o->u.i < (1 << 20) ? (int)o->u.i : 0;
		if (!f->O) {
			ferr(err, errcap, "model: a regression target needs \"outputs\"");
			sl_feat_free(f);
			return -1;
		}
	} else {
		ferr(err, errcap, "model: the target's task is not classification or "
		     "regression");
		sl_feat_free(f);
		return -1;
	}
	return 0;
}
