/*
 * outliers.c - sluice-outliers: find outlying numbers and drop, clip,
 * flag or blank them.
 *
 * Per numeric field (--fields; by default every int and float field) two
 * fences are fitted on the finite values:
 *
 *   iqr     Q1 - k*IQR and Q3 + k*IQR (k = 1.5 by default), the quartiles
 *           by linear interpolation between order statistics (numpy's
 *           default percentile)
 *   zscore  mean -/+ z*std (z = 3 by default), the population standard
 *           deviation
 *
 * A value below the low fence or above the high one is an outlier
 * (infinities always are; missing values and NaN never).  The action:
 * drop the record, clip the value to the fence it crossed, flag it in a
 * new bool field <field>_outlier, or make it missing (nil) so that
 * sluice-impute can fill it in.  Clipping an int field to a fence that is
 * not a whole number makes it a float field, with a note on stderr, unless
 * --round asks to clip to the nearest whole numbers inside the fences.
 *
 * Fit and apply.  The fences are a state stream (sluice-cat shows it):
 * header meta {"state": "sluice-outliers", "params": {...}} and one record
 * per field (field, type, method, lo, hi, q1, q3, mean, std, count).
 *
 * Memory.  Fitting must see every value before the first record goes out.
 * When every field is a float it keeps the records as columns (9 bytes
 * per value) and fits each field from a copy of its finite values, one
 * copy per thread; otherwise it keeps each record's encoded bytes plus 8
 * bytes per finite value of each field.  Applying a state streams, one
 * record at a time.
 */
#include "sluice.h"

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum method { OM_IQR, OM_ZSCORE };
static const char *const method_names[] = {"iqr", "zscore"};
enum action { A_DROP, A_CLIP, A_FLAG, A_MISSING, NACTION };
static const char *const action_names[NACTION] = {"drop", "clip", "flag", "missing"};

/* One field's fences. */
struct ofld {
	char *name;
	struct sl_type type; /* at fit time */
	int in, ind;         /* input (and output) index; flag's output index */
	enum sl_kind outkind;
	int have;            /* fences were fitted (some finite value) */
	double lo, hi;
	double q1, q3, mean, std; /* what the fences came from */
	int64_t ilo, ihi;    /* int fields clipped as ints: the whole numbers
	                      * inside the fences */
	/* fitting: the finite values, in col */
	struct sl_big col;
	double *v;
	size_t n;
	/* counts: outliers below and above */
	uint64_t low, high;
};

struct model {
	struct ofld *f;
	size_t nf;
	enum method method;
	double k, z;
	enum action action;
	int round;
};

struct opts {
	struct sl_cli cli;
	const char *fit, *apply;
	int fit_only;
	const char *fields;
	enum method method;
	double k, z;
	int k_set, z_set, method_set;
	enum action action;
	int action_set, round, fitopt;
	int threads; /* fitting fields at once; 0: the cores present */
	int trailer; /* --apply: end the output with a header that has the counts */
};

static void usage(int status);

static int numeric(enum sl_kind k)
{
	return k == SL_INT || k == SL_FLOAT;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}


/* Moves the k-th smallest of s[0..n) to s[k], with nothing greater before
 * it and nothing smaller after: quickselect (median-of-three pivots,
 * Hoare partition), O(n) on average.  A range still unsettled after
 * 2 log2(n) rounds is sorted instead, so no input makes it quadratic. */
static void select_kth(double *s, size_t n, size_t k)
{
	size_t lo = 0, hi = n, rounds = 0, limit = 2;

	for (size_t m = n; m > 1; m >>= 1)
		limit += 2;
	while (hi - lo > 16) {
		size_t mid = lo + (hi - lo) / 2, i = lo, j = hi - 1;
		double a = s[lo], b = s[mid], c = s[hi - 1], p, t;
		if (++rounds > limit) {
			qsort(s + lo, hi - lo, sizeof *s, cmp_double);
			return;
		}
		p = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
		for (;;) {
			while (s[i] < p)
				i++;
			while (s[j] > p)
				j--;
			if (i >= j)
				break;
			t = s[i];
			s[i++] = s[j];
			s[j--] = t;
		}
		/* s[lo..j] <= p <= s[j+1..hi) */
		if (k <= j)
			hi = j + 1;
		else
			lo = j + 1;
	}
	for (size_t i = lo + 1; i < hi; i++) { /* insertion sort */
		double t = s[i];
		size_t j = i;
		for (; j > lo && s[j - 1] > t; j--)
			s[j] = s[j - 1];
		s[j] = t;
	}
}

/* The smallest of s[0..n), n > 0. */
static double min_of(const double *s, size_t n)
{
	double m = s[0];

	for (size_t i = 1; i < n; i++)
		if (s[i] < m)
			m = s[i];
	return m;
}

/* The q-quantile of s[0..n) as numpy computes it by default: position
 * q*(n-1), linear between the order statistics either side, interpolated
 * from the nearer one (numpy's _lerp).  Only s[0..end) is looked at and
 * rearranged, where every value at or beyond end is no smaller than those
 * before it (so the upper quartile can be found first and the lower one
 * within what lies below it). */
static double quantile(double *s, size_t n, size_t end, double q)
{
	double pos = q * (double)(n - 1), t, a, b;
	size_t i = (size_t)floor(pos);

	select_kth(s, end, i);
	a = s[i];
	if (i + 1 >= n)
		return a;
	b = i + 1 < end ? min_of(s + i + 1, end - i - 1) : min_of(s + end, n - end);
	t = pos - (double)i;
	return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/* Fits one field's fences from its collected values. */
static void fit_fences(struct ofld *d, const struct model *M)
{
	size_t n = d->n;

	d->have = n > 0;
	if (!n)
		return;
	if (M->method == OM_IQR) {
		double iqr;
		d->q3 = quantile(d->v, n, n, 0.75);
		/* all of v[0..i3] is now <= what follows it */
		d->q1 = quantile(d->v, n, (size_t)floor(0.75 * (double)(n - 1)) + 1, 0.25);
		iqr = d->q3 - d->q1;
		d->lo = d->q1 - M->k * iqr;
		d->hi = d->q3 + M->k * iqr;
	} else {
		/* two passes in input order: the mean, then the deviations */
		double s = 0, ss = 0;
		for (size_t i = 0; i < n; i++)
			s += d->v[i];
		d->mean = s / (double)n;
		for (size_t i = 0; i < n; i++)
			ss += (d->v[i] - d->mean) * (d->v[i] - d->mean);
		d->std = sqrt(ss / (double)n);
		d->lo = d->mean - M->z * d->std;
		d->hi = d->mean + M->z * d->std;
	}
}

/* Handles one record: in has the input's nin values, out gets the
 * output's (the input's plus the flags).  Counts outliers per field.
 * Returns 1 to write the record, 0 to drop it. */
static int outlier_record(struct model *M, const struct sl_value *in, size_t nin,
                          struct sl_value *out)
{
	int any = 0;

	memcpy(out, in, nin * sizeof *out);
	for (size_t j = 0; j < M->nf; j++) {
		struct ofld *d = &M->f[j];
		struct sl_value *o = &out[d->in];
		int side = 0; /* -1 below, 1 above */
		double x;
		if (d->ind >= 0) {
			out[d->ind].kind = SL_BOOL;
			out[d->ind].u.b = 0;
		}
		if (o->kind == SL_NIL || !d->have)
			goto convert;
		x = o->kind == SL_INT ? (double)o->u.i : o->u.f;
		if (x < d->lo)
			side = -1;
		else if (x > d->hi)
			side = 1;
		if (!side)
			goto convert;
		any = 1;
		if (side < 0)
			d->low++;
		else
			d->high++;
		switch (M->action) {
		case A_DROP:
			break;
		case A_FLAG:
			out[d->ind].u.b = 1;
			break;
		case A_MISSING:
			o->kind = SL_NIL;
			break;
		case A_CLIP:
			if (d->outkind == SL_INT) {
				o->kind = SL_INT;
				o->u.i = side < 0 ? d->ilo : d->ihi;
			} else {
				o->kind = SL_FLOAT;
				o->u.f = side < 0 ? d->lo : d->hi;
			}
			continue;
		default:
			break;
		}
	convert:
		if (d->outkind == SL_FLOAT && o->kind == SL_INT) {
			o->kind = SL_FLOAT;
			o->u.f = (double)o->u.i;
		}
	}
	return !(any && M->action == A_DROP);
}

/* ------------------------------------------------------------- state */

#define NSTATE 10
static const char *const state_fields[NSTATE] = {
    "field", "type", "method", "lo", "hi", "q1", "q3", "mean", "std", "count"};

static struct sl_type state_type(int i)
{
	struct sl_type t = {i < 3 ? SL_STR : i == 9 ? SL_INT : SL_FLOAT, SL_ELEM_NONE, 0};
	return t;
}

static int write_state(const struct model *M, const char *path,
                       const struct sl_header *in, int argc, char **argv)
{
	struct sl_header *h = sl_header_new();
	struct sl_val params = sl_val_map();
	struct sl_wopts wo = {0, 1};
	struct sl_writer *w;
	char *err = NULL, tn[32];
	int rc = 0;

	for (int i = 0; i < NSTATE; i++)
		sl_header_add(h, state_fields[i], state_type(i));
	sl_val_set(&h->meta, "state", sl_val_str("sluice-outliers"));
	sl_val_set(&params, "method", sl_val_str(method_names[M->method]));
	sl_val_set(&params, M->method == OM_IQR ? "k" : "z",
	           sl_val_float(M->method == OM_IQR ? M->k : M->z));
	sl_val_set(&params, "action", sl_val_str(action_names[M->action]));
	sl_val_set(&params, "round", sl_val_bool(M->round));
	sl_val_set(&h->meta, "params", params);
	sl_val_free(&h->lineage);
	h->lineage = sl_val_copy(&in->lineage);
	sl_header_lineage(h, argc, argv);
	w = sl_writer_open(path, &wo);
	if (sl_writer_error(w) || sl_write_header(w, h) < 0)
		rc = -1;
	for (size_t j = 0; j < M->nf && !rc; j++) {
		const struct ofld *d = &M->f[j];
		struct sl_value v[NSTATE];
		double stat[6] = {d->lo, d->hi, d->q1, d->q3, d->mean, d->std};
		memset(v, 0, sizeof v);
		v[0].kind = v[1].kind = v[2].kind = SL_STR;
		v[0].u.s.p = d->name;
		v[0].u.s.n = strlen(d->name);
		sl_type_format(d->type, tn, sizeof tn);
		v[1].u.s.p = tn;
		v[1].u.s.n = strlen(tn);
		v[2].u.s.p = method_names[M->method];
		v[2].u.s.n = strlen(method_names[M->method]);
		for (int i = 0; i < 6 && d->have; i++) {
			int iqr = M->method == OM_IQR;
			if (i >= 2 && (i < 4) != iqr)
				continue; /* q1, q3 for iqr; mean, std for zscore */
			v[3 + i].kind = SL_FLOAT;
			v[3 + i].u.f = stat[i];
		}
		v[9].kind = SL_INT;
		v[9].u.i = (int64_t)d->n;
		rc = sl_write_record(w, v, NSTATE);
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

/* Loads the fences of a state into M.  0, or -1 after a message. */
static int read_state(struct model *M, const char *path)
{
	struct sl_reader *r = sl_reader_open(path);
	int ev, fi[NSTATE], ok = 1;

	while (ok && (ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		struct ofld *d;
		char *tn;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			const struct sl_val *st = sl_val_get(&h->meta, "state"),
			                    *params = sl_val_get(&h->meta, "params"), *x;
			if (sl_reader_segments(r) > 1) {
				sl_warn("%s: a state has one header, this has more", path);
				ok = 0;
				break;
			}
			if (!st || st->tag != SL_V_STR || strcmp(st->u.s, "sluice-outliers")) {
				sl_warn("%s: not a sluice-outliers state (its header has no "
				        "\"state\": \"sluice-outliers\")", path);
				ok = 0;
				break;
			}
			for (int i = 0; i < NSTATE && ok; i++) {
				fi[i] = sl_header_find(h, state_fields[i]);
				if (fi[i] < 0 || h->fields[fi[i]].type.kind != state_type(i).kind) {
					sl_warn("%s: state has no field \"%s\" of the right type",
					        path, state_fields[i]);
					ok = 0;
				}
			}
			if ((x = sl_val_get(params, "method")) && x->tag == SL_V_STR)
				M->method = strcmp(x->u.s, "zscore") ? OM_IQR : OM_ZSCORE;
			if ((x = sl_val_get(params, "action")) && x->tag == SL_V_STR)
				for (int a = 0; a < NACTION; a++)
					if (!strcmp(x->u.s, action_names[a]))
						M->action = (enum action)a;
			if ((x = sl_val_get(params, "round")) && x->tag == SL_V_BOOL)
				M->round = x->u.b;
			if ((x = sl_val_get(params, "k")) && x->tag == SL_V_FLOAT)
				M->k = x->u.f;
			if ((x = sl_val_get(params, "z")) && x->tag == SL_V_FLOAT)
				M->z = x->u.f;
			continue;
		}
		v = sl_reader_values(r);
		if (v[fi[0]].kind != SL_STR || v[fi[1]].kind != SL_STR) {
			sl_warn("%s: record %llu: no field name or type", path,
			        (unsigned long long)sl_reader_recno(r));
			ok = 0;
			break;
		}
		M->f = sl_xrealloc(M->f, (M->nf + 1) * sizeof *M->f);
		d = &M->f[M->nf++];
		memset(d, 0, sizeof *d);
		d->name = sl_xstrndup(v[fi[0]].u.s.p, v[fi[0]].u.s.n);
		d->ind = -1;
		tn = sl_xstrndup(v[fi[1]].u.s.p, v[fi[1]].u.s.n);
		d->have = v[fi[3]].kind == SL_FLOAT && v[fi[4]].kind == SL_FLOAT;
		if (d->have) {
			d->lo = v[fi[3]].u.f;
			d->hi = v[fi[4]].u.f;
		}
		if (sl_type_parse(tn, &d->type) < 0 || !numeric(d->type.kind) ||
		    (d->have && !(d->lo <= d->hi))) {
			sl_warn("%s: record %llu: field \"%s\": a bad type or fences", path,
			        (unsigned long long)sl_reader_recno(r), d->name);
			ok = 0;
		}
		free(tn);
	}
	if (ok && ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		ok = 0;
	} else if (ok && sl_reader_segments(r) == 0) {
		sl_warn("%s: an empty state", path);
		ok = 0;
	}
	sl_reader_close(r);
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------- setup */

static void add_field(struct model *M, const char *name)
{
	struct ofld *d;

	for (size_t j = 0; j < M->nf; j++)
		if (!strcmp(M->f[j].name, name))
			return;
	M->f = sl_xrealloc(M->f, (M->nf + 1) * sizeof *M->f);
	d = &M->f[M->nf++];
	memset(d, 0, sizeof *d);
	d->name = sl_xstrdup(name);
	d->ind = -1;
}

/* Fitting: the fields of --fields (default every number) in h.  Returns 0
 * or an exit status. */
static int setup(struct model *M, const struct opts *o, const struct sl_header *h,
                 const char *inname)
{
	if (o->fields) {
		char *copy = sl_xstrdup(o->fields), *p = copy, *tok;
		while ((tok = strsep(&p, ",")))
			if (*tok)
				add_field(M, tok);
		free(copy);
	} else {
		for (size_t f = 0; f < h->nfields; f++)
			if (numeric(h->fields[f].type.kind))
				add_field(M, h->fields[f].name);
	}
	for (size_t j = 0; j < M->nf; j++) {
		int f = sl_header_find(h, M->f[j].name);
		if (f < 0) {
			sl_warn("%s: no field \"%s\"", inname, M->f[j].name);
			return 2;
		}
		M->f[j].type = h->fields[f].type;
	}
	return 0;
}

/* Finds M's fields in the input header h and checks that they are
 * numbers.  Returns 0 or an exit status. */
static int bind(struct model *M, const struct sl_header *h, const char *inname)
{
	for (size_t j = 0; j < M->nf; j++) {
		struct ofld *d = &M->f[j];
		char tn[32];
		if ((d->in = sl_header_find(h, d->name)) < 0) {
			sl_warn("%s: no field \"%s\"%s", inname, d->name,
			        d->type.kind ? " (the state needs it)" : "");
			return 2;
		}
		if (!numeric(h->fields[d->in].type.kind)) {
			sl_type_format(h->fields[d->in].type, tn, sizeof tn);
			sl_warn("%s: field \"%s\" is %s; outliers are looked for in int "
			        "and float fields", inname, d->name, tn);
			return 2;
		}
	}
	return 0;
}

/* A whole number as an int64, saturating: a fence beyond the range of
 * int64 clips nothing. */
static int64_t saturate(double x)
{
	return x < -0x1p63 ? INT64_MIN : x >= 0x1p63 ? INT64_MAX : (int64_t)x;
}

/* The output header: h with int fields clipped to fractional fences made
 * float (said on stderr unless quiet), the flag fields after the input's,
 * and a lineage entry.  Returns 0 or an exit status. */
static int plan_output(struct model *M, const struct sl_header *h, int argc,
                       char **argv, struct sl_header **outh, const char *inname,
                       int quiet)
{
	struct sl_type tb = {SL_BOOL, SL_ELEM_NONE, 0}, tf = {SL_FLOAT, SL_ELEM_NONE, 0};
	struct sl_buf name = {0};

	*outh = sl_header_copy(h);
	for (size_t j = 0; j < M->nf; j++) {
		struct ofld *d = &M->f[j];
		d->outkind = h->fields[d->in].type.kind;
		if (d->outkind == SL_INT && M->action == A_CLIP && d->have) {
			double lo = ceil(d->lo), hi = floor(d->hi);
			if (lo > hi) /* no whole number between the fences */
				lo = hi = round((d->lo + d->hi) / 2);
			if ((lo == d->lo && hi == d->hi) || M->round) {
				d->ilo = saturate(lo);
				d->ihi = saturate(hi);
			} else {
				char a[32], b[32];
				sl_fmt_float(a, d->lo);
				sl_fmt_float(b, d->hi);
				d->outkind = SL_FLOAT;
				(*outh)->fields[d->in].type = tf;
				if (!quiet)
					sl_warn("field \"%s\" (int) becomes float: its fences %s "
					        "and %s are not whole numbers (--round keeps it "
					        "int)", d->name, a, b);
			}
		}
		d->ind = -1;
		if (M->action == A_FLAG) {
			name.n = 0;
			sl_buf_printf(&name, "%s_outlier", d->name);
			if ((d->ind = sl_header_add(*outh, sl_buf_cstr(&name), tb)) < 0) {
				sl_warn("%s: the flag field \"%s\" exists already", inname, name.p);
				sl_buf_free(&name);
				return 2;
			}
		}
	}
	sl_buf_free(&name);
	sl_header_lineage(*outh, argc, argv);
	return 0;
}

/* ------------------------------------------------------------- main */

/* Fitting from the columns: worker t of T fits fields t, t + T, ...,
 * each through one scratch copy of a field's finite values at a time.
 * Fields are independent, so the fences do not depend on T. */
struct fitjob {
	struct model *M;
	const struct sl_cols *C;
	const struct sl_header *h;
	int t, T;
};

static void *fit_cols_worker(void *arg)
{
	struct fitjob *J = arg;
	struct model *M = J->M;
	uint64_t n = sl_cols_count(J->C);
	struct sl_big scratch = {0};

	for (size_t j = (size_t)J->t; j < M->nf; j += (size_t)J->T) {
		struct ofld *d = &M->f[j];
		const unsigned char *has;
		const char *val = sl_cols_field(J->C, (size_t)d->in, &has);
		int isint = J->h->fields[d->in].type.kind == SL_INT;
		double *s = sl_big_reserve(&scratch, n * sizeof *s + 8);
		size_t k = 0;
		for (uint64_t i = 0; i < n; i++) {
			double y;
			if (!has[i])
				continue;
			if (isint) {
				int64_t x;
				memcpy(&x, val + 8 * i, 8);
				y = (double)x;
			} else {
				memcpy(&y, val + 8 * i, 8);
			}
			if (isfinite(y))
				s[k++] = y;
		}
		d->v = s;
		d->n = k;
		fit_fences(d, M);
		d->v = NULL;
	}
	sl_big_free(&scratch);
	return NULL;
}

static void fit_cols(struct model *M, const struct sl_cols *C,
                     const struct sl_header *h, int threads)
{
	struct fitjob J[256];
	pthread_t tid[256];
	int T = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);

	if (T < 1)
		T = 1;
	if ((size_t)T > M->nf)
		T = M->nf ? (int)M->nf : 1;
	if (T > 256)
		T = 256;
	for (int t = 0; t < T; t++)
		J[t] = (struct fitjob){M, C, h, t, T};
	for (int t = 1; t < T; t++)
		if (pthread_create(&tid[t], NULL, fit_cols_worker, &J[t]) != 0)
			sl_die(1, "cannot start a thread");
	fit_cols_worker(&J[0]);
	for (int t = 1; t < T; t++)
		pthread_join(tid[t], NULL);
}

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

/* Fitting: reads every input.  When every field is a float the records
 * go into columns (*C), which fitting reads too; otherwise each field's
 * finite values are collected, and the records kept as a stream in arena
 * unless only the state is wanted.
 * Returns 0 or an exit status. */
static int gather(struct model *M, const struct opts *o, int nin, char **files,
                  struct sl_big *arena, struct sl_cols **C, struct sl_header **first,
                  uint64_t *records)
{
	int rc = 0;

	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? files[a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			const void *raw;
			size_t rawn;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (sl_reader_fields_differ(r, *first, h,
				                            "; treat each schema separately")) {
					rc = 1;
					break;
				}
				if (!*first) {
					*first = sl_header_copy(h);
					put_header(arena, h);
					if ((rc = setup(M, o, h, sl_reader_name(r))) ||
					    (rc = bind(M, h, sl_reader_name(r))))
						break;
					if (!o->fit_only)
						*C = sl_cols_new(h);
				}
				continue;
			}
			v = sl_reader_values(r);
			++*records;
			if (*C) {
				sl_cols_add(*C, v);
				continue;
			}
			if (!o->fit_only) {
				sl_reader_raw(r, &raw, &rawn);
				sl_big_put(arena, raw, rawn);
			}
			for (size_t j = 0; j < M->nf; j++) {
				struct ofld *d = &M->f[j];
				const struct sl_value *x = &v[d->in];
				double y;
				if (x->kind == SL_NIL)
					continue;
				y = x->kind == SL_INT ? (double)x->u.i : x->u.f;
				if (!isfinite(y))
					continue;
				memcpy(sl_big_reserve(&d->col, sizeof y), &y, sizeof y);
				d->col.n += sizeof y;
			}
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		if (a == 0 && *first) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &(*first)->lineage);
		sl_reader_close(r);
	}
	for (size_t j = 0; j < M->nf; j++) {
		M->f[j].v = (double *)M->f[j].col.p;
		M->f[j].n = M->f[j].col.n / sizeof(double);
	}
	if (!rc && !*first) {
		sl_warn("no input header");
		rc = 1;
	}
	return rc;
}

/* The output side of a run, shared by its inputs. */
struct run {
	struct sl_header *first, *outh;
	struct sl_writer *w; /* NULL: only count */
	struct sl_value *out;
	uint64_t records, dropped;
	struct sl_val lastlin; /* the last input header's lineage, for a trailer */
	const struct sl_val *lin; /* a fit's: the input's lineage as it ended */
};

/* Opens the output side of a run on the input header h: the output
 * header (with lcounts, a fit's counts or NULL, in its lineage entry) and,
 * unless counting only, the writer.  Returns 0 or an exit status. */
static int open_output(struct model *M, const struct opts *o,
                       const struct sl_header *h, const char *name, struct run *R,
                       int count_only, const struct sl_val *lcounts, int argc,
                       char **argv)
{
	int rc;

	if (!R->first)
		R->first = sl_header_copy(h);
	if ((rc = bind(M, h, name)) ||
	    (rc = plan_output(M, h, argc, argv, &R->outh, name, count_only)))
		return rc;
	if (R->lin)
		sl_lineage_rebase(R->outh, R->lin);
	if (lcounts)
		sl_val_set(&R->outh->lineage.u.a[R->outh->lineage.n - 1], "counts",
		           sl_val_copy(lcounts));
	R->out = sl_xcalloc(R->outh->nfields + 1, sizeof *R->out);
	if (count_only)
		return 0;
	R->w = sl_writer_open(o->cli.output, &o->cli.w);
	if (sl_writer_error(R->w) || sl_write_header(R->w, R->outh) < 0)
		return 1;
	return 0;
}

/* One input record through the run.  0, or 1 on a write error. */
static int put_record(struct model *M, struct run *R, const struct sl_value *in,
                      int count_only)
{
	R->records++;
	if (!outlier_record(M, in, R->first->nfields, R->out)) {
		R->dropped++;
		return 0;
	}
	if (!count_only && sl_write_record(R->w, R->out, R->outh->nfields) < 0)
		return 1;
	return 0;
}

/* Applies M to every record r reads.  Unless counting only, the first
 * header opens the output and lcounts (a fit's counts, or NULL) goes into
 * its lineage entry.  Returns 0 or an exit status. */
static int apply_stream(struct model *M, const struct opts *o, struct sl_reader *r,
                        struct run *R, int count_only, const struct sl_val *lcounts,
                        int argc, char **argv)
{
	int ev, rc = 0;

	while ((ev = sl_read(r)) > 0) {
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			if (sl_reader_fields_differ(r, R->first, h,
			                            "; treat each schema separately")) {
				rc = 1;
				break;
			}
			sl_val_free(&R->lastlin);
			R->lastlin = sl_val_copy(&h->lineage);
			if (R->outh)
				continue;
			if ((rc = open_output(M, o, h, sl_reader_name(r), R, count_only,
			                      lcounts, argc, argv)))
				break;
			continue;
		}
		if ((rc = put_record(M, R, sl_reader_values(r), count_only)))
			break;
	}
	if (ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		rc = 1;
	}
	return rc;
}

/* What a run found, for the lineage entry. */
static struct sl_val counts_val(const struct model *M, uint64_t records,
                                uint64_t dropped)
{
	struct sl_val c = sl_val_map(), per = sl_val_map();

	sl_val_set(&c, "records", sl_val_int((int64_t)records));
	sl_val_set(&c, "dropped", sl_val_int((int64_t)dropped));
	for (size_t j = 0; j < M->nf; j++)
		sl_val_set(&per, M->f[j].name, sl_val_int((int64_t)(M->f[j].low + M->f[j].high)));
	sl_val_set(&c, M->action == A_DROP   ? "outliers"
	               : M->action == A_CLIP ? "clipped"
	               : M->action == A_FLAG ? "flagged"
	                                     : "blanked",
	           per);
	return c;
}

/* What applying fences did, for a trailer's lineage entry: a fit's counts
 * (counts_val) and, per field, the outliers below the low fence and above
 * the high one.  The numbers report() prints. */
static struct sl_val apply_counts(const struct model *M, uint64_t records,
                                  uint64_t dropped)
{
	struct sl_val c = counts_val(M, records, dropped), low = sl_val_map(),
	              high = sl_val_map();

	for (size_t j = 0; j < M->nf; j++) {
		sl_val_set(&low, M->f[j].name, sl_val_int((int64_t)M->f[j].low));
		sl_val_set(&high, M->f[j].name, sl_val_int((int64_t)M->f[j].high));
	}
	sl_val_set(&c, "low", low);
	sl_val_set(&c, "high", high);
	return c;
}

/* Counts to stderr: records, dropped, and per field the outliers. */
static void report(const struct model *M, uint64_t records, uint64_t dropped,
                   int fit_only)
{
	struct sl_buf b = {0};

	if (fit_only) {
		sl_buf_printf(&b, "fitted %s fences on %llu records:",
		              method_names[M->method], (unsigned long long)records);
	} else {
		sl_buf_printf(&b, "%llu records", (unsigned long long)records);
		if (M->action == A_DROP)
			sl_buf_printf(&b, ", %llu dropped", (unsigned long long)dropped);
		sl_buf_printf(&b, "; outliers %s:",
		              M->action == A_DROP    ? "found"
		              : M->action == A_CLIP  ? "clipped"
		              : M->action == A_FLAG  ? "flagged"
		                                     : "made missing");
	}
	for (size_t j = 0; j < M->nf; j++) {
		const struct ofld *d = &M->f[j];
		char a[32], c[32];
		if (fit_only || !d->have) {
			if (!d->have) {
				sl_buf_printf(&b, "%s %s (no values, no fences)", j ? "," : "",
				              d->name);
				continue;
			}
			sl_fmt_float(a, d->lo);
			sl_fmt_float(c, d->hi);
			sl_buf_printf(&b, "%s %s [%s, %s]", j ? "," : "", d->name, a, c);
			continue;
		}
		sl_buf_printf(&b, "%s %s %llu low %llu high", j ? "," : "", d->name,
		              (unsigned long long)d->low, (unsigned long long)d->high);
	}
	if (!M->nf)
		sl_buf_puts(&b, " no fields");
	sl_warn("%s", sl_buf_cstr(&b));
	sl_buf_free(&b);
}

enum {
	OPT_FIT = SL_OPT_FIRST_FREE,
	OPT_FIT_ONLY,
	OPT_APPLY,
	OPT_FIELDS,
	OPT_METHOD,
	OPT_K,
	OPT_Z,
	OPT_ACTION,
	OPT_ROUND,
	OPT_THREADS,
	OPT_TRAILER,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"fit", required_argument, 0, OPT_FIT},
	    {"fit-only", required_argument, 0, OPT_FIT_ONLY},
	    {"apply", required_argument, 0, OPT_APPLY},
	    {"fields", required_argument, 0, OPT_FIELDS},
	    {"method", required_argument, 0, OPT_METHOD},
	    {"k", required_argument, 0, OPT_K},
	    {"z", required_argument, 0, OPT_Z},
	    {"action", required_argument, 0, OPT_ACTION},
	    {"round", no_argument, 0, OPT_ROUND},
	    {"threads", required_argument, 0, OPT_THREADS},
	    {"trailer", no_argument, 0, OPT_TRAILER},
	    {0, 0, 0, 0},
	};
	struct opts o = {.method = OM_IQR, .k = 1.5, .z = 3, .action = A_CLIP};
	struct model M = {0};
	struct run R = {0};
	struct sl_val fitlin = {0}; /* R.lin, for a fit */
	struct sl_big arena = {0};
	struct sl_cols *C = NULL;
	uint64_t records = 0;
	int c, rc = 0, nin;
	char *end;

	sl_init(argv[0]);
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case OPT_FIT: o.fit = optarg; break;
		case OPT_FIT_ONLY: o.fit = optarg; o.fit_only = 1; break;
		case OPT_APPLY: o.apply = optarg; break;
		case OPT_FIELDS: o.fields = optarg; o.fitopt = 1; break;
		case OPT_METHOD:
			if (!strcmp(optarg, "iqr"))
				o.method = OM_IQR;
			else if (!strcmp(optarg, "zscore"))
				o.method = OM_ZSCORE;
			else
				sl_die(2, "--method: iqr or zscore, not '%s'", optarg);
			o.method_set = o.fitopt = 1;
			break;
		case OPT_K:
		case OPT_Z: {
			double x = strtod(optarg, &end);
			if (end == optarg || *end || !(x >= 0) || isinf(x))
				sl_die(2, "--%s: want a number >= 0, not '%s'",
				       c == OPT_K ? "k" : "z", optarg);
			if (c == OPT_K) {
				o.k = x;
				o.k_set = 1;
			} else {
				o.z = x;
				o.z_set = 1;
			}
			o.fitopt = 1;
			break;
		}
		case OPT_ACTION:
			for (c = 0; c < NACTION && strcmp(optarg, action_names[c]); c++)
				;
			if (c == NACTION)
				sl_die(2, "--action: drop, clip, flag or missing, not '%s'", optarg);
			o.action = (enum action)c;
			o.action_set = 1;
			break;
		case OPT_ROUND: o.round = 1; break;
		case OPT_TRAILER: o.trailer = 1; break;
		case OPT_THREADS: {
			long t = strtol(optarg, &end, 10);
			if (end == optarg || *end || t < 1 || t > 256)
				sl_die(2, "--threads: 1 to 256, not '%s'", optarg);
			o.threads = (int)t;
			break;
		}
		default:
			usage(2);
			return 2;
		}
	}
	if (o.k_set && o.z_set)
		sl_die(2, "--k is for iqr fences, --z for zscore; give one");
	if (o.z_set && !o.method_set)
		o.method = OM_ZSCORE;
	if ((o.k_set && o.method == OM_ZSCORE) || (o.z_set && o.method == OM_IQR))
		sl_die(2, "--%s does not go with --method %s", o.k_set ? "k" : "z",
		       method_names[o.method]);
	if (o.apply && (o.fit || o.fitopt))
		sl_die(2, "--apply takes the fields and fences from the state; it goes "
		          "with no --fit, --fields, --method, --k or --z");
	if (o.trailer && !o.apply)
		sl_die(2, "--trailer goes with --apply; a fit puts its counts in the "
		          "header's lineage");
	if (o.fit_only && o.cli.output)
		sl_die(2, "--fit-only writes no stream; -o does not go with it");
	M.method = o.method;
	M.k = o.k;
	M.z = o.z;
	M.action = o.action;
	M.round = o.round;
	nin = argc - optind;
	if (o.apply) {
		if (read_state(&M, o.apply) < 0)
			return 1;
		/* the action and rounding are how to treat outliers, not what
		 * was learnt: given here, they win over the state's */
		if (o.action_set)
			M.action = o.action;
		if (o.round)
			M.round = 1;
		for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
			struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
			rc = apply_stream(&M, &o, r, &R, 0, NULL, argc, argv);
			sl_reader_close(r);
		}
	} else {
		const char *name = nin ? argv[optind] : "(stdin)";
		rc = gather(&M, &o, nin, argv + optind, &arena, &C, &R.first, &records);
		if (!rc && C)
			fit_cols(&M, C, R.first, o.threads);
		for (size_t j = 0; j < M.nf && !rc && !C; j++)
			fit_fences(&M.f[j], &M);
		if (!rc && o.fit && write_state(&M, o.fit, R.first, argc, argv) < 0)
			rc = 1;
		if (!rc && !o.fit_only) {
			/* count first, so the counts can go into the header */
			struct sl_reader *r;
			struct sl_val lc;
			fitlin = sl_val_copy(&R.first->lineage);
			R.lin = &fitlin;
			sl_header_free(R.first);
			R.first = NULL;
			r = C ? sl_reader_cols(C, name) : sl_reader_mem(arena.p, arena.n, name);
			rc = apply_stream(&M, &o, r, &R, 1, NULL, argc, argv);
			sl_reader_close(r);
			lc = counts_val(&M, R.records, R.dropped);
			for (size_t j = 0; j < M.nf; j++)
				M.f[j].low = M.f[j].high = 0;
			sl_header_free(R.outh);
			free(R.out);
			R.outh = NULL;
			R.out = NULL;
			R.records = R.dropped = 0;
			if (!rc) {
				r = C ? sl_reader_cols(C, name) : sl_reader_mem(arena.p, arena.n, name);
				rc = apply_stream(&M, &o, r, &R, 0, &lc, argc, argv);
				sl_reader_close(r);
			}
			sl_val_free(&lc);
		}
	}
	if (R.w && !rc && o.trailer &&
	    sl_write_trailer(R.w, R.outh, &R.lastlin,
	                     apply_counts(&M, R.records, R.dropped)) < 0)
		rc = 1;
	if (R.w) {
		char *err = NULL;
		if (rc) {
			if (sl_writer_error(R.w))
				sl_warn("%s", sl_writer_error(R.w));
			sl_writer_abort(R.w);
		} else if (sl_writer_close(R.w, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
	} else if (!rc && !o.fit_only) {
		sl_warn("no input header");
		rc = 1;
	}
	if (!rc)
		report(&M, o.fit_only ? records : R.records, R.dropped, o.fit_only);
	for (size_t j = 0; j < M.nf; j++) {
		free(M.f[j].name);
		sl_big_free(&M.f[j].col);
	}
	free(M.f);
	free(R.out);
	sl_header_free(R.first);
	sl_val_free(&fitlin);
	sl_header_free(R.outh);
	sl_val_free(&R.lastlin);
	sl_big_free(&arena);
	sl_cols_free(C);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-outliers [-f] [-o FILE] [--zstd[=LEVEL]]\n"
	        "           [--fit STATE | --fit-only STATE | --apply STATE]\n"
	        "           [--fields F,...] [--method iqr|zscore] [--k K | --z Z]\n"
	        "           [--action drop|clip|flag|missing] [--round] [--threads N]\n"
	        "           [--trailer] [FILE ...]\n"
	        "  --fields F,...   fields to check (default: every int and float)\n"
	        "  --method M       iqr (default) or zscore fences\n"
	        "  --k K            iqr fences Q1 - K*IQR, Q3 + K*IQR (default 1.5)\n"
	        "  --z Z            zscore fences mean -/+ Z*std (default 3)\n"
	        "  --action A       drop the record, clip (default), flag in\n"
	        "                   FIELD_outlier, or make the value missing\n"
	        "  --round          clip int fields to whole numbers, keeping them int\n"
	        "  --fit STATE      learn the fences, write them, apply them\n"
	        "  --fit-only STATE learn and write the fences only\n"
	        "  --apply STATE    apply fences learnt before\n"
	        "  --trailer        with --apply: end the output with a header whose\n"
	        "                   lineage has the counts\n"
	        "  --threads N      fit N fields at once (default: the cores present)\n");
}
