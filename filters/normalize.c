/*
 * normalize.c - sluice-normalize: scale numeric fields, encode categorical
 * ones, and pack features into one vector.
 *
 * Scalers (per field): min-max to a range, z-score (population standard
 * deviation), robust (median and interquartile range, quantiles by linear
 * interpolation), each optionally after log1p.  Encoders: one-hot (one
 * int 0/1 field per category seen at fit time) and ordinal (categories
 * numbered in sorted order).  --pack gathers the numeric fields into one
 * f32[N] field for training.  These match scikit-learn's MinMaxScaler,
 * StandardScaler, RobustScaler, OneHotEncoder and OrdinalEncoder.
 *
 * What is learnt (--fit) is a state stream that --apply replays on other
 * data, so validation and test sets are scaled by the training set's
 * numbers.  Fitting holds every record (as columns, 9 bytes per value,
 * when every field is a float; else its encoded bytes), 8 bytes per value
 * of each robust field, and each distinct category once; min-max and
 * z-score keep running sums.  Applying streams, one record at a time.
 */
#include "sluice.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum method { M_NONE, M_MINMAX, M_ZSCORE, M_ROBUST, M_ONEHOT, M_ORDINAL, M_LOG1P_ONLY };
static const char *const method_names[] = {"none",   "minmax",  "zscore", "robust",
                                           "onehot", "ordinal", "log1p"};
enum unseen { U_ERROR, U_IGNORE };

/* What happens to one input field. */
struct spec {
	char *name;
	enum method m;
	int log1p;
	double a, b; /* scalers: out = (x - a) / b (then range for minmax) */
	char **cats; /* encoders: sorted categories (text form) */
	size_t ncats;
	/* fitting */
	struct sl_big col; /* fitting, robust: the values, gathered */
	double *vals;      /* col's, once gathered */
	size_t nvals;
	size_t cnt;        /* fitting: values seen (not nil nor NaN: those a
	                    * transform changes), and for scalers their */
	double sum, mn, mx; /* sum, min and max, */
	double ss;         /* and squared deviations from the mean */
};

struct opts {
	struct sl_cli cli;
	const char *fit, *apply;
	int fit_only;
	double lo, hi; /* minmax range */
	enum unseen unseen;
	const char *pack;
	char *pack_exclude;
	struct spec *specs;
	size_t nspecs;
	int any_method;
	int trailer; /* --apply: end the output with a header that has the counts */
};

/* What applying did to one spec's field: the values transformed (those
 * not missing: nil or NaN) and, of an encoder's, those of categories not
 * seen at fit time (--unseen ignore). */
struct tally {
	uint64_t done, unseen;
};

static void usage(int status);

static struct spec *find_spec(struct opts *o, const char *name)
{
	for (size_t i = 0; i < o->nspecs; i++)
		if (strcmp(o->specs[i].name, name) == 0)
			return &o->specs[i];
	return NULL;
}

static struct spec *get_spec(struct opts *o, const char *name)
{
	struct spec *s = find_spec(o, name);

	if (s)
		return s;
	o->specs = sl_xrealloc(o->specs, (o->nspecs + 1) * sizeof *o->specs);
	s = &o->specs[o->nspecs++];
	memset(s, 0, sizeof *s);
	s->name = sl_xstrdup(name);
	return s;
}

static void add_fields(struct opts *o, const char *list, enum method m)
{
	char *copy = sl_xstrdup(list), *p = copy, *tok;

	while ((tok = strsep(&p, ","))) {
		struct spec *s;
		if (!*tok)
			sl_die(2, "empty field name in '%s'", list);
		s = get_spec(o, tok);
		if (m == M_LOG1P_ONLY) {
			s->log1p = 1;
			if (s->m == M_NONE)
				s->m = M_LOG1P_ONLY;
		} else {
			if (s->m != M_NONE && s->m != M_LOG1P_ONLY)
				sl_die(2, "field '%s' is given two methods (%s and %s)", tok,
				       method_names[s->m], method_names[m]);
			s->m = m;
		}
	}
	free(copy);
	o->any_method = 1;
}

static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0)
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

/* The text form of a categorical value (str, int or bool). */
static void cat_text(struct sl_buf *b, const struct sl_value *v)
{
	char num[32];

	b->n = 0;
	if (v->kind == SL_STR)
		sl_buf_put(b, v->u.s.p, v->u.s.n);
	else if (v->kind == SL_INT)
		sl_buf_put(b, num, (size_t)sl_fmt_int(num, v->u.i));
	else if (v->kind == SL_BOOL)
		sl_buf_puts(b, v->u.b ? "true" : "false");
	sl_buf_cstr(b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Category order: numeric for int fields (as sklearn sorts numbers),
 * bytewise otherwise. */
static int cat_numeric;
static int cmp_cat(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	if (cat_numeric) {
		long long i = strtoll(x, NULL, 10), j = strtoll(y, NULL, 10);
		return (i > j) - (i < j);
	}
	return strcmp(x, y);
}

/* numpy's default quantile: linear interpolation between order stats. */
static double quantile(const double *s, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)floor(pos);
	double frac = pos - (double)i;

	if (i + 1 >= n)
		return s[n - 1];
	return s[i] + (s[i + 1] - s[i]) * frac;
}

static long cat_index(const struct spec *s, const char *t)
{
	size_t lo = 0, hi = s->ncats;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_cat(&s->cats[mid], &t);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Learns a spec's numbers from what gather() kept: running min, max and
 * sum (in input order) for min-max and z-score, every value for robust.
 * The z-score's squared deviations need the mean first: ss is summed by
 * a second pass over the stream (zscore_pass), in input order, as a pass
 * over the stored values would. */
static void fit_spec(struct spec *s, const struct opts *o)
{
	size_t n = s->cnt;

	s->a = 0;
	s->b = 1;
	if (s->m == M_ONEHOT || s->m == M_ORDINAL || s->m == M_LOG1P_ONLY || !n)
		return;
	if (s->m == M_MINMAX) {
		s->a = s->mn;
		s->b = s->mx > s->mn ? s->mx - s->mn : 1;
	} else if (s->m == M_ZSCORE) {
		s->a = s->sum / (double)n;
		s->b = s->ss > 0 ? sqrt(s->ss / (double)n) : 1;
	} else if (s->m == M_ROBUST) {
		double q1, q3;
		n = s->nvals;
		qsort(s->vals, n, sizeof *s->vals, cmp_double);
		s->a = quantile(s->vals, n, 0.5);
		q1 = quantile(s->vals, n, 0.25);
		q3 = quantile(s->vals, n, 0.75);
		s->b = q3 > q1 ? q3 - q1 : 1;
	}
}

/* ------------------------------------------------------------- state */

/* The state's header: its fields, the method parameters, and the lineage
 * of the stream it was fitted on (in's) with this run's entry. */
static struct sl_header *state_header(const struct opts *o, const struct sl_header *in,
                                      int argc, char **argv)
{
	struct sl_header *h = sl_header_new();
	struct sl_type ts = {SL_STR, 0, 0}, tf = {SL_FLOAT, 0, 0}, ti = {SL_INT, 0, 0},
	               tb = {SL_BOOL, 0, 0};
	struct sl_val params = sl_val_map();

	sl_header_add(h, "field", ts);
	sl_header_add(h, "method", ts);
	sl_header_add(h, "log1p", tb);
	sl_header_add(h, "a", tf);
	sl_header_add(h, "b", tf);
	sl_header_add(h, "category", ts);
	sl_header_add(h, "code", ti);
	sl_val_set(&h->meta, "state", sl_val_str("sluice-normalize"));
	sl_val_set(&params, "range", sl_val_arr());
	sl_val_push((struct sl_val *)sl_val_get(&params, "range"), sl_val_float(o->lo));
	sl_val_push((struct sl_val *)sl_val_get(&params, "range"), sl_val_float(o->hi));
	sl_val_set(&params, "unseen", sl_val_str(o->unseen == U_ERROR ? "error" : "ignore"));
	sl_val_set(&params, "pack", o->pack ? sl_val_str(o->pack) : sl_val_nil());
	sl_val_set(&h->meta, "params", params);
	sl_val_free(&h->lineage);
	h->lineage = sl_val_copy(&in->lineage);
	sl_header_lineage(h, argc, argv);
	return h;
}

static int write_state(const struct opts *o, const struct sl_header *in, const char *path,
                       char **pack_order, size_t npack, int argc, char **argv)
{
	struct sl_header *h = state_header(o, in, argc, argv);
	struct sl_wopts wo = {0, 1};
	struct sl_writer *w = sl_writer_open(path, &wo);
	char *err = NULL;
	int rc = 0;

	if (sl_writer_error(w) || sl_write_header(w, h) < 0)
		rc = -1;
	for (size_t i = 0; i < o->nspecs && !rc; i++) {
		const struct spec *s = &o->specs[i];
		struct sl_value v[7] = {{SL_STR, {.i = 0}}, {SL_STR, {.i = 0}},
		                        {SL_BOOL, {.b = s->log1p}}, {SL_FLOAT, {.f = s->a}},
		                        {SL_FLOAT, {.f = s->b}}, {SL_NIL, {.i = 0}},
		                        {SL_NIL, {.i = 0}}};
		v[0].u.s.p = s->name;
		v[0].u.s.n = strlen(s->name);
		v[1].u.s.p = method_names[s->m];
		v[1].u.s.n = strlen(method_names[s->m]);
		if (s->m == M_ONEHOT || s->m == M_ORDINAL) {
			v[3].kind = v[4].kind = SL_NIL;
			for (size_t c = 0; c < s->ncats && !rc; c++) {
				v[5].kind = SL_STR;
				v[5].u.s.p = s->cats[c];
				v[5].u.s.n = strlen(s->cats[c]);
				v[6].kind = SL_INT;
				v[6].u.i = (int64_t)c;
				rc = sl_write_record(w, v, 7);
			}
			if (!s->ncats)
				rc = sl_write_record(w, v, 7);
		} else {
			rc = sl_write_record(w, v, 7);
		}
	}
	for (size_t i = 0; i < npack && !rc; i++) {
		struct sl_value v[7] = {{SL_STR, {.i = 0}}, {SL_STR, {.i = 0}},
		                        {SL_NIL, {.i = 0}}, {SL_NIL, {.i = 0}},
		                        {SL_NIL, {.i = 0}}, {SL_NIL, {.i = 0}},
		                        {SL_INT, {.i = (int64_t)i}}};
		v[0].u.s.p = pack_order[i];
		v[0].u.s.n = strlen(pack_order[i]);
		v[1].u.s.p = "pack";
		v[1].u.s.n = 4;
		rc = sl_write_record(w, v, 7);
	}
	if (rc) {
		sl_warn("%s", sl_writer_error(w) ? sl_writer_error(w) : path);
		sl_writer_abort(w);
	} else if (sl_writer_close(w, &err) < 0) {
		sl_warn("%s", err);
		free(err);
		rc = -1;
	}
	sl_header_free(h);
	return rc;
}

/* Loads --apply STATE into o (specs, range, unseen, pack, pack order). */
static int read_state(struct opts *o, const char *path, char ***pack_order,
                      size_t *npack)
{
	struct sl_reader *r = sl_reader_open(path);
	int ev, ok = 1;
	const struct sl_header *h = NULL;
	int fi[7];
	static const char *const names[7] = {"field", "method", "log1p", "a",
	                                     "b",     "category", "code"};

	while ((ev = sl_read(r)) > 0 && ok) {
		const struct sl_value *v;
		struct spec *s;
		int m;
		if (ev == SL_HEADER) {
			const struct sl_val *st, *params, *x;
			h = sl_reader_header(r);
			st = sl_val_get(&h->meta, "state");
			if (!st || st->tag != SL_V_STR || strcmp(st->u.s, "sluice-normalize")) {
				sl_warn("%s: not a sluice-normalize state (no \"state\": "
				        "\"sluice-normalize\" in its header)", path);
				ok = 0;
				break;
			}
			for (int k = 0; k < 7; k++)
				if ((fi[k] = sl_header_find(h, names[k])) < 0) {
					sl_warn("%s: state has no field \"%s\"", path, names[k]);
					ok = 0;
				}
			params = sl_val_get(&h->meta, "params");
			if ((x = sl_val_get(params, "range")) && x->tag == SL_V_ARR && x->n == 2 &&
			    x->u.a[0].tag == SL_V_FLOAT && x->u.a[1].tag == SL_V_FLOAT) {
				o->lo = x->u.a[0].u.f;
				o->hi = x->u.a[1].u.f;
			}
			if ((x = sl_val_get(params, "unseen")) && x->tag == SL_V_STR)
				o->unseen = strcmp(x->u.s, "ignore") == 0 ? U_IGNORE : U_ERROR;
			if ((x = sl_val_get(params, "pack")) && x->tag == SL_V_STR)
				o->pack = sl_xstrdup(x->u.s);
			continue;
		}
		v = sl_reader_values(r);
		if (v[fi[0]].kind != SL_STR || v[fi[1]].kind != SL_STR) {
			sl_warn("%s: record %llu: field and method must be given", path,
			        (unsigned long long)sl_reader_recno(r));
			ok = 0;
			break;
		}
		{
			char *fname = sl_xstrndup(v[fi[0]].u.s.p, v[fi[0]].u.s.n);
			char *mname = sl_xstrndup(v[fi[1]].u.s.p, v[fi[1]].u.s.n);
			if (strcmp(mname, "pack") == 0) {
				*pack_order = sl_xrealloc(*pack_order, (*npack + 1) * sizeof **pack_order);
				(*pack_order)[(*npack)++] = fname;
				free(mname);
				continue;
			}
			for (m = 0; m < 7 && strcmp(mname, method_names[m]); m++)
				;
			if (m == 7 || m == M_NONE) {
				sl_warn("%s: record %llu: unknown method \"%s\"", path,
				        (unsigned long long)sl_reader_recno(r), mname);
				ok = 0;
				free(fname);
				free(mname);
				break;
			}
			s = get_spec(o, fname);
			free(fname);
			free(mname);
		}
		s->m = (enum method)m;
		s->log1p = v[fi[2]].kind == SL_BOOL && v[fi[2]].u.b;
		if (v[fi[3]].kind == SL_FLOAT)
			s->a = v[fi[3]].u.f;
		if (v[fi[4]].kind == SL_FLOAT)
			s->b = v[fi[4]].u.f;
		if ((m == M_ONEHOT || m == M_ORDINAL) && v[fi[5]].kind == SL_STR) {
			s->cats = sl_xrealloc(s->cats, (s->ncats + 1) * sizeof *s->cats);
			s->cats[s->ncats++] = sl_xstrndup(v[fi[5]].u.s.p, v[fi[5]].u.s.n);
		}
	}
	if (ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		ok = 0;
	}
	sl_reader_close(r);
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------- apply */

/* Where values go.  Stage one maps input fields to the "mid" header
 * (scaled fields become float, one-hot fields expand); stage two, with
 * --pack, moves numeric mid fields into one f32 vector. */
struct layout {
	struct sl_header *mid, *out;
	size_t nin;
	int *spec_of;  /* input field -> spec index, -1 if passed through */
	int *mid_of;   /* input field -> first mid field */
	int *out_of;   /* mid field -> out field, -1 when packed */
	int *elem_of;  /* mid field -> pack element, -1 when not packed */
	size_t npack;
	int pack_out;  /* out field of the vector, -1 without --pack */
};

static void layout_free(struct layout *L)
{
	sl_header_free(L->mid);
	sl_header_free(L->out);
	free(L->spec_of);
	free(L->mid_of);
	free(L->out_of);
	free(L->elem_of);
}

/* Builds the layout for input header in.  With --pack and fitting, the
 * pack order is every numeric mid field not excluded, in mid order, and
 * is returned in *order; when applying, *order is the state's.  Returns 0,
 * or the exit status after a message. */
static int build_layout(struct layout *L, const struct opts *o,
                        const struct sl_header *in, char ***order,
                        size_t *norder, int fitting, const char *inname)
{
	struct sl_type tf = {SL_FLOAT, 0, 0}, ti = {SL_INT, 0, 0},
	               tv = {SL_VEC, SL_ELEM_F32, 0};
	char name[1024];

	memset(L, 0, sizeof *L);
	L->mid = sl_header_new();
	L->nin = in->nfields;
	L->spec_of = sl_xmalloc((in->nfields + 1) * sizeof *L->spec_of);
	L->mid_of = sl_xmalloc((in->nfields + 1) * sizeof *L->mid_of);
	L->pack_out = -1;
	for (size_t i = 0; i < o->nspecs; i++) {
		const struct spec *s = &o->specs[i];
		int f = sl_header_find(in, s->name);
		enum sl_kind k;
		if (f < 0) {
			sl_warn("%s: no field \"%s\"", inname, s->name);
			return 2;
		}
		k = in->fields[f].type.kind;
		if ((s->m == M_ONEHOT || s->m == M_ORDINAL) &&
		    k != SL_STR && k != SL_INT && k != SL_BOOL) {
			sl_warn("%s: field \"%s\": %s needs a str, int or bool field",
			        inname, s->name, method_names[s->m]);
			return 2;
		}
		if (s->m != M_ONEHOT && s->m != M_ORDINAL && k != SL_INT && k != SL_FLOAT) {
			sl_warn("%s: field \"%s\": %s needs an int or float field", inname,
			        s->name, method_names[s->m]);
			return 2;
		}
	}
	for (size_t f = 0; f < in->nfields; f++) {
		const struct spec *s = NULL;
		int clash = 0;
		L->spec_of[f] = -1;
		for (size_t i = 0; i < o->nspecs; i++)
			if (strcmp(o->specs[i].name, in->fields[f].name) == 0) {
				L->spec_of[f] = (int)i;
				s = &o->specs[i];
			}
		L->mid_of[f] = (int)L->mid->nfields;
		if (!s) {
			clash = sl_header_add(L->mid, in->fields[f].name, in->fields[f].type) < 0;
		} else if (s->m == M_ONEHOT) {
			for (size_t c = 0; c < s->ncats && !clash; c++) {
				snprintf(name, sizeof name, "%s=%s", s->name, s->cats[c]);
				clash = sl_header_add(L->mid, name, ti) < 0;
			}
		} else {
			clash = sl_header_add(L->mid, s->name, s->m == M_ORDINAL ? ti : tf) < 0;
		}
		if (clash) {
			sl_warn("%s: field \"%s\": its output name clashes with another field",
			        inname, in->fields[f].name);
			return 1;
		}
	}
	L->out_of = sl_xmalloc((L->mid->nfields + 1) * sizeof *L->out_of);
	L->elem_of = sl_xmalloc((L->mid->nfields + 1) * sizeof *L->elem_of);
	for (size_t j = 0; j < L->mid->nfields; j++)
		L->elem_of[j] = -1;
	if (o->pack && fitting) {
		*order = sl_xmalloc((L->mid->nfields + 1) * sizeof **order);
		*norder = 0;
		for (size_t j = 0; j < L->mid->nfields; j++) {
			enum sl_kind k = L->mid->fields[j].type.kind;
			if ((k == SL_INT || k == SL_FLOAT || k == SL_BOOL) &&
			    !in_list(o->pack_exclude, L->mid->fields[j].name))
				(*order)[(*norder)++] = sl_xstrdup(L->mid->fields[j].name);
		}
	}
	if (o->pack) {
		for (size_t e = 0; e < *norder; e++) {
			int j = sl_header_find(L->mid, (*order)[e]);
			enum sl_kind k = j >= 0 ? L->mid->fields[j].type.kind : SL_NIL;
			if (j < 0 || (k != SL_INT && k != SL_FLOAT && k != SL_BOOL)) {
				sl_warn("%s: packed field \"%s\" is missing or not numeric",
				        inname, (*order)[e]);
				return 1;
			}
			L->elem_of[j] = (int)e;
		}
		L->npack = *norder;
		if (!L->npack) {
			sl_warn("%s: --pack %s: no numeric fields to pack", inname, o->pack);
			return 1;
		}
	}
	L->out = sl_header_new();
	for (size_t j = 0; j < L->mid->nfields; j++)
		L->out_of[j] = L->elem_of[j] >= 0
		                   ? -1
		                   : sl_header_add(L->out, L->mid->fields[j].name,
		                                   L->mid->fields[j].type);
	if (o->pack) {
		tv.len = (uint32_t)L->npack;
		if ((L->pack_out = sl_header_add(L->out, o->pack, tv)) < 0) {
			sl_warn("%s: --pack %s: a field of that name stays unpacked", inname,
			        o->pack);
			return 2;
		}
	}
	sl_val_free(&L->out->meta);
	sl_val_free(&L->out->lineage);
	L->out->meta = sl_val_copy(&in->meta);
	L->out->lineage = sl_val_copy(&in->lineage);
	return 0;
}

/* Transforms one record.  mid and out have room for the layout's fields;
 * vec holds the packed floats; tally, one per spec, is added to.  Returns
 * 0, or -1 with *why set. */
static int transform(const struct layout *L, const struct opts *o,
                     const struct sl_value *in, struct sl_value *mid,
                     struct sl_value *out, float *vec, struct tally *tally,
                     struct sl_buf *tmp, const char **why, const char **field)
{
	for (size_t f = 0; f < L->nin; f++) {
		int si = L->spec_of[f];
		struct sl_value *m = &mid[L->mid_of[f]];
		const struct spec *s;
		if (si < 0) {
			*m = in[f];
			continue;
		}
		s = &o->specs[si];
		if (s->m == M_ONEHOT || s->m == M_ORDINAL) {
			long c;
			if (in[f].kind == SL_NIL) {
				for (size_t k = 0; k < (s->m == M_ONEHOT ? s->ncats : 1); k++)
					m[k].kind = SL_NIL;
				continue;
			}
			cat_numeric = in[f].kind == SL_INT;
			cat_text(tmp, &in[f]);
			c = cat_index(s, tmp->p);
			if (c < 0 && o->unseen == U_ERROR) {
				*why = "a category not seen at fit time (--unseen ignore allows it)";
				*field = s->name;
				return -1;
			}
			tally[si].done++;
			tally[si].unseen += c < 0;
			if (s->m == M_ORDINAL) {
				m->kind = SL_INT;
				m->u.i = c; /* -1 for unseen */
			} else {
				for (size_t k = 0; k < s->ncats; k++) {
					m[k].kind = SL_INT;
					m[k].u.i = (long)k == c;
				}
			}
			continue;
		}
		if (in[f].kind == SL_NIL) {
			m->kind = SL_NIL;
			continue;
		}
		{
			double x = in[f].kind == SL_INT ? (double)in[f].u.i : in[f].u.f;
			if (s->log1p) {
				if (x <= -1) {
					*why = "log1p of a value <= -1";
					*field = s->name;
					return -1;
				}
				x = log1p(x);
			}
			tally[si].done += !isnan(x);
			if (s->m == M_MINMAX)
				x = (x - s->a) / s->b * (o->hi - o->lo) + o->lo;
			else if (s->m == M_ZSCORE || s->m == M_ROBUST)
				x = (x - s->a) / s->b;
			m->kind = SL_FLOAT;
			m->u.f = x;
		}
	}
	for (size_t j = 0; j < L->mid->nfields; j++) {
		const struct sl_value *m = &mid[j];
		if (L->elem_of[j] < 0) {
			out[L->out_of[j]] = *m;
			continue;
		}
		if (m->kind == SL_NIL) {
			*why = "a missing value cannot be packed (impute it first)";
			*field = L->mid->fields[j].name;
			return -1;
		}
		vec[L->elem_of[j]] = (float)(m->kind == SL_FLOAT ? m->u.f
		                             : m->kind == SL_INT ? (double)m->u.i
		                                                 : (double)m->u.b);
	}
	if (L->pack_out >= 0) {
		out[L->pack_out].kind = SL_VEC;
		out[L->pack_out].u.s.p = (const char *)vec;
		out[L->pack_out].u.s.n = L->npack * sizeof *vec;
	}
	return 0;
}

/* What applying did, for a trailer's lineage entry: records, per field
 * the values transformed and by what method, the unseen categories of
 * each encoder, and the fields packed.  stderr's line gives the records
 * and the number of fields. */
static struct sl_val apply_counts(const struct opts *o, const struct tally *tally,
                                  uint64_t nrec, size_t npack)
{
	struct sl_val c = sl_val_map(), done = sl_val_map(), meth = sl_val_map(),
	              unseen = sl_val_map();
	struct sl_buf b = {0};
	int encoders = 0;

	sl_val_set(&c, "records", sl_val_int((int64_t)nrec));
	for (size_t i = 0; i < o->nspecs; i++) {
		const struct spec *s = &o->specs[i];
		b.n = 0;
		if (s->log1p && s->m != M_LOG1P_ONLY)
			sl_buf_puts(&b, "log1p+");
		sl_buf_puts(&b, method_names[s->m]);
		sl_val_set(&done, s->name, sl_val_int((int64_t)tally[i].done));
		sl_val_set(&meth, s->name, sl_val_str(sl_buf_cstr(&b)));
		if (s->m == M_ONEHOT || s->m == M_ORDINAL) {
			sl_val_set(&unseen, s->name, sl_val_int((int64_t)tally[i].unseen));
			encoders = 1;
		}
	}
	sl_val_set(&c, "transformed", done);
	sl_val_set(&c, "methods", meth);
	if (encoders)
		sl_val_set(&c, "unseen", unseen);
	else
		sl_val_free(&unseen);
	if (o->pack)
		sl_val_set(&c, "packed", sl_val_int((int64_t)npack));
	sl_buf_free(&b);
	return c;
}

/* ------------------------------------------------------------- main */

/* The header h, encoded, at the end of a. */
static void put_header(struct sl_big *a, const struct sl_header *h)
{
	struct sl_buf tmp = {0};
	struct sl_writer *w = sl_writer_mem(&tmp);

	sl_write_header(w, h);
	sl_writer_close(w, NULL);
	sl_big_put(a, tmp.p, tmp.n);
	sl_buf_free(&tmp);
}

/* Reads every input: the first header, the records' bytes into arena (a
 * stream of its own, so it can be read again), and the values to fit. */
static int gather(struct opts *o, int nin, char **files, struct sl_big *arena,
                  struct sl_cols **cols, struct sl_header **first, uint64_t *nrec)
{
	struct sl_buf tmp = {0};
	int rc = 0;

	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? files[a] : NULL);
		int ev, *map = NULL;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			const void *raw;
			size_t rawn;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (sl_reader_fields_differ(r, *first, h, NULL)) {
					rc = 1;
					break;
				}
				if (!*first) {
					*first = sl_header_copy(h);
					put_header(arena, h);
					if (!o->fit_only)
						*cols = sl_cols_new(h);
					if (!o->any_method) /* default: z-score every number */
						for (size_t f = 0; f < h->nfields; f++)
							if (h->fields[f].type.kind == SL_INT ||
							    h->fields[f].type.kind == SL_FLOAT)
								get_spec(o, h->fields[f].name)->m = M_ZSCORE;
				}
				free(map);
				map = sl_xmalloc((h->nfields + 1) * sizeof *map);
				for (size_t f = 0; f < h->nfields; f++) {
					struct spec *s = find_spec(o, h->fields[f].name);
					map[f] = s ? (int)(s - o->specs) : -1;
				}
				continue;
			}
			v = sl_reader_values(r);
			(*nrec)++;
			sl_reader_raw(r, &raw, &rawn);
			if (*cols)
				sl_cols_add(*cols, v);
			else
				sl_big_put(arena, raw, rawn);
			for (size_t f = 0; f < sl_reader_header(r)->nfields; f++) {
				struct spec *s;
				if (map[f] < 0 || v[f].kind == SL_NIL)
					continue;
				s = &o->specs[map[f]];
				if (s->m == M_ONEHOT || s->m == M_ORDINAL) {
					s->cnt++;
					cat_text(&tmp, &v[f]);
					cat_numeric = v[f].kind == SL_INT;
					if (cat_index(s, tmp.p) < 0) { /* insert, keep sorted */
						size_t at = 0;
						while (at < s->ncats && cmp_cat(&s->cats[at], &(const char *){tmp.p}) < 0)
							at++;
						s->cats = sl_xrealloc(s->cats, (s->ncats + 1) * sizeof *s->cats);
						memmove(s->cats + at + 1, s->cats + at,
						        (s->ncats - at) * sizeof *s->cats);
						s->cats[at] = sl_xstrdup(tmp.p);
						s->ncats++;
					}
				} else {
					double x = v[f].kind == SL_INT ? (double)v[f].u.i : v[f].u.f;
					if (isnan(x))
						continue;
					if (s->log1p) {
						if (x <= -1) {
							sl_warn("%s: record %llu: field \"%s\": log1p of "
							        "a value <= -1",
							        sl_reader_name(r),
							        (unsigned long long)sl_reader_recno(r), s->name);
							rc = 1;
							break;
						}
						x = log1p(x);
					}
					if (s->m == M_ROBUST) {
						memcpy(sl_big_reserve(&s->col, sizeof x), &x, sizeof x);
						s->col.n += sizeof x;
					}
					if (!s->cnt++)
						s->mn = s->mx = x;
					s->sum += x;
					if (x < s->mn)
						s->mn = x;
					if (x > s->mx)
						s->mx = x;
				}
			}
			if (rc)
				break;
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		if (a == 0 && *first) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &(*first)->lineage);
		free(map);
		sl_reader_close(r);
	}
	for (size_t i = 0; i < o->nspecs; i++) {
		o->specs[i].vals = (double *)o->specs[i].col.p;
		o->specs[i].nvals = o->specs[i].col.n / sizeof(double);
	}
	sl_buf_free(&tmp);
	if (!rc && !*first) {
		sl_warn("no input header");
		rc = 1;
	}
	return rc;
}

/* The z-score specs' squared deviations from their means, by reading the
 * gathered stream again (values as gather() took them: NaN skipped, log1p
 * applied).  Returns 0, or 1 after a message. */
static int zscore_pass(struct opts *o, const struct sl_big *arena,
                       const struct sl_cols *cols, const char *name)
{
	struct sl_reader *r;
	int ev, *map = NULL, any = 0;
	size_t nf = 0;

	for (size_t i = 0; i < o->nspecs; i++)
		any |= o->specs[i].m == M_ZSCORE && o->specs[i].cnt;
	if (!any)
		return 0;
	r = cols ? sl_reader_cols(cols, name) : sl_reader_mem(arena->p, arena->n, name);
	while ((ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			nf = h->nfields;
			free(map);
			map = sl_xmalloc((nf + 1) * sizeof *map);
			for (size_t f = 0; f < nf; f++) {
				struct spec *s = find_spec(o, h->fields[f].name);
				map[f] = s && s->m == M_ZSCORE && s->cnt ? (int)(s - o->specs) : -1;
			}
			continue;
		}
		v = sl_reader_values(r);
		for (size_t f = 0; f < nf; f++) {
			struct spec *s;
			double x, d;
			if (map[f] < 0 || v[f].kind == SL_NIL)
				continue;
			s = &o->specs[map[f]];
			x = v[f].kind == SL_INT ? (double)v[f].u.i : v[f].u.f;
			if (isnan(x))
				continue;
			if (s->log1p)
				x = log1p(x);
			d = x - s->sum / (double)s->cnt;
			s->ss += d * d;
		}
	}
	if (ev == SL_ERROR) /* it was read once already: a bug */
		sl_warn("%s", sl_reader_error(r));
	free(map);
	sl_reader_close(r);
	return ev == SL_ERROR;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"fit", required_argument, 0, 'F'},
	    {"fit-only", required_argument, 0, 'O'},
	    {"apply", required_argument, 0, 'A'},
	    {"minmax", required_argument, 0, 'm'},
	    {"zscore", required_argument, 0, 'Z'},
	    {"robust", required_argument, 0, 'r'},
	    {"log1p", required_argument, 0, 'l'},
	    {"onehot", required_argument, 0, 'h'},
	    {"ordinal", required_argument, 0, 'd'},
	    {"range", required_argument, 0, 'R'},
	    {"unseen", required_argument, 0, 'u'},
	    {"pack", required_argument, 0, 'p'},
	    {"pack-exclude", required_argument, 0, 'x'},
	    {"trailer", no_argument, 0, 'T'},
	    {0, 0, 0, 0},
	};
	struct opts o = {.lo = 0, .hi = 1};
	struct sl_big arena = {0};
	struct sl_cols *cols = NULL;
	struct sl_buf tmp = {0};
	struct sl_header *first = NULL;
	struct layout L = {0};
	struct sl_writer *w = NULL;
	struct sl_value *mid = NULL, *out = NULL;
	struct sl_val lastlin = {0}; /* the last input header's, for a trailer */
	struct tally *tally = NULL, *ftally = NULL; /* ftally: a fit's forecast */
	struct sl_val fitc = {0};
	uint64_t fitrec = 0;
	float *vec = NULL;
	char **order = NULL, *end;
	size_t norder = 0;
	int c, rc = 0, nin;
	uint64_t nrec = 0;

	sl_init(argv[0]);
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case 'F': o.fit = optarg; break;
		case 'O': o.fit = optarg; o.fit_only = 1; break;
		case 'A': o.apply = optarg; break;
		case 'm': add_fields(&o, optarg, M_MINMAX); break;
		case 'Z': add_fields(&o, optarg, M_ZSCORE); break;
		case 'r': add_fields(&o, optarg, M_ROBUST); break;
		case 'l': add_fields(&o, optarg, M_LOG1P_ONLY); break;
		case 'h': add_fields(&o, optarg, M_ONEHOT); break;
		case 'd': add_fields(&o, optarg, M_ORDINAL); break;
		case 'R':
			o.lo = strtod(optarg, &end);
			if (*end != ',' || (o.hi = strtod(end + 1, &end), *end) || !(o.hi > o.lo))
				sl_die(2, "--range: LO,HI with LO < HI, not '%s'", optarg);
			break;
		case 'u':
			if (strcmp(optarg, "error") == 0)
				o.unseen = U_ERROR;
			else if (strcmp(optarg, "ignore") == 0)
				o.unseen = U_IGNORE;
			else
				sl_die(2, "--unseen: error or ignore, not '%s'", optarg);
			break;
		case 'p': o.pack = optarg; break;
		case 'x': o.pack_exclude = optarg; break;
		case 'T': o.trailer = 1; break;
		default:
			usage(2);
			return 2;
		}
	}
	if (o.apply && (o.fit || o.any_method || o.pack))
		sl_die(2, "--apply takes everything from the state; it does not go "
		          "with --fit or method options");
	if (o.trailer && !o.apply)
		sl_die(2, "--trailer goes with --apply");
	if (o.apply && read_state(&o, o.apply, &order, &norder) < 0)
		return 1;
	nin = argc - optind;

	if (!o.apply) { /* fit: read everything first */
		rc = gather(&o, nin, argv + optind, &arena, &cols, &first, &fitrec);
		if (!rc)
			rc = zscore_pass(&o, &arena, cols, nin ? argv[optind] : "(stdin)");
		for (size_t i = 0; i < o.nspecs && !rc; i++)
			fit_spec(&o.specs[i], &o);
		if (!rc)
			rc = build_layout(&L, &o, first, &order, &norder, 1, nin ? argv[optind] : "(stdin)");
		if (!rc && o.fit && write_state(&o, first, o.fit, order, norder, argc, argv) < 0)
			rc = 1;
		if (rc || o.fit_only)
			goto done;
		/* what the pass below will do, known now from the fit: its
		 * counts go into the output's lineage entry (as --apply
		 * --trailer would record them) */
		ftally = sl_xcalloc(o.nspecs + 1, sizeof *ftally);
		for (size_t i = 0; i < o.nspecs; i++)
			ftally[i].done = o.specs[i].cnt;
		fitc = apply_counts(&o, ftally, fitrec, L.npack);
	}
	/* apply: stream the input (or the gathered arena) through */
	for (int a = 0; a < (o.apply ? (nin ? nin : 1) : 1) && !rc; a++) {
		const char *name = nin ? argv[optind] : "(stdin)";
		struct sl_reader *r = o.apply ? sl_reader_open(nin ? argv[optind + a] : NULL)
		                      : cols  ? sl_reader_cols(cols, name)
		                              : sl_reader_mem(arena.p, arena.n, name);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const char *why, *field;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (w && sl_reader_fields_differ(r, first, h, NULL)) {
					rc = 1;
					break;
				}
				sl_val_free(&lastlin);
				lastlin = sl_val_copy(&h->lineage);
				if (w)
					continue;
				if (!first) {
					first = sl_header_copy(h);
					if ((rc = build_layout(&L, &o, h, &order, &norder, 0,
					                       sl_reader_name(r))))
						break;
				}
				sl_header_lineage(L.out, argc, argv);
				if (!o.apply)
					sl_val_set(&L.out->lineage.u.a[L.out->lineage.n - 1], "counts",
					           sl_val_copy(&fitc));
				w = sl_writer_open(o.cli.output, &o.cli.w);
				if (sl_writer_error(w) || sl_write_header(w, L.out) < 0) {
					sl_warn("%s", sl_writer_error(w));
					rc = 1;
					break;
				}
				mid = sl_xcalloc(L.mid->nfields + 1, sizeof *mid);
				out = sl_xcalloc(L.out->nfields + 1, sizeof *out);
				vec = sl_xcalloc(L.npack + 1, sizeof *vec);
				tally = sl_xcalloc(o.nspecs + 1, sizeof *tally);
				continue;
			}
			nrec++;
			if (transform(&L, &o, sl_reader_values(r), mid, out, vec, tally, &tmp,
			              &why, &field) < 0) {
				sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
				        (unsigned long long)sl_reader_recno(r), field, why);
				rc = 1;
				break;
			}
			if (sl_write_record(w, out, L.out->nfields) < 0) {
				rc = 1;
				break;
			}
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	if (w && !rc && !o.apply) { /* the counts written are the counts */
		SL_ASSERT(nrec == fitrec);
		for (size_t i = 0; i < o.nspecs; i++)
			SL_ASSERT(tally[i].done == ftally[i].done && tally[i].unseen == 0);
	}
	if (w && !rc && o.trailer &&
	    sl_write_trailer(w, L.out, &lastlin,
	                     apply_counts(&o, tally, nrec, L.npack)) < 0)
		rc = 1;
	if (w) {
		char *err = NULL;
		if (rc) {
			if (sl_writer_error(w))
				sl_warn("%s", sl_writer_error(w));
			sl_writer_abort(w);
		} else if (sl_writer_close(w, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
	} else if (!rc) {
		sl_warn("no input header");
		rc = 1;
	}
done:
	if (!rc && !o.fit_only)
		sl_warn("%llu records, %zu fields transformed%s", (unsigned long long)nrec,
		        o.nspecs, o.pack ? ", features packed" : "");
	for (size_t i = 0; i < o.nspecs; i++) {
		free(o.specs[i].name);
		sl_big_free(&o.specs[i].col);
		for (size_t k = 0; k < o.specs[i].ncats; k++)
			free(o.specs[i].cats[k]);
		free(o.specs[i].cats);
	}
	free(o.specs);
	for (size_t i = 0; i < norder; i++)
		free(order[i]);
	free(order);
	if (o.apply)
		free((char *)o.pack);
	layout_free(&L);
	free(mid);
	free(out);
	free(vec);
	free(tally);
	free(ftally);
	sl_val_free(&fitc);
	sl_val_free(&lastlin);
	sl_header_free(first);
	sl_big_free(&arena);
	sl_cols_free(cols);
	sl_buf_free(&tmp);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-normalize [-f] [-o FILE] [--zstd[=LEVEL]]\n"
	        "           [--fit STATE | --fit-only STATE | --apply STATE]\n"
	        "           [--minmax F,...] [--zscore F,...] [--robust F,...] [--log1p F,...]\n"
	        "           [--onehot F,...] [--ordinal F,...] [--range LO,HI]\n"
	        "           [--unseen error|ignore] [--pack NAME [--pack-exclude F,...]]\n"
	        "           [--trailer] [FILE ...]\n"
	        "  without a method option every int and float field is z-scored\n"
	        "  --fit STATE       learn from the input, write the state, transform\n"
	        "  --fit-only STATE  learn and write the state only\n"
	        "  --apply STATE     transform with a learnt state\n"
	        "  --trailer         with --apply: end the output with a header whose\n"
	        "                    lineage has the counts\n"
	        "  --pack NAME       numeric fields into one f32[N] field NAME\n");
}
