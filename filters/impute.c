/*
 * impute.c - sluice-impute: fill in missing values.
 *
 * A value is missing when it is nil, or NaN in a float field.  Each chosen
 * field (--fields; by default every int and float field) gets one method:
 *
 *   drop        the record is dropped
 *   mean        the mean of the present values (scikit-learn's
 *               SimpleImputer strategy "mean")
 *   median      the median; for an even count the mean of the middle two
 *   mode        the most frequent value, the smallest of equals
 *               (SimpleImputer's "most_frequent"); also for str and bool
 *   constant    --value V (or --value-for FIELD=V)
 *   marker      the constant, plus a bool field <field>_missing that says
 *               which values were filled in
 *   knn         the mean of the field over the k nearest fitted records
 *               that have it.  Distances are scikit-learn's nan_euclidean
 *               over the numeric fields: the squared differences of the
 *               fields present in both records, scaled up by (fields /
 *               fields present in both).  By default each numeric field is
 *               z-scored first; --knn-scale none gives KNNImputer's
 *               unscaled distances.  Ties go to the earlier record.
 *   regression  least squares on the other numeric fields, fitted on the
 *               records that have them all (Householder QR on the
 *               centred predictors; a predictor that depends linearly on
 *               earlier ones is left out); the mean where a predictor is
 *               missing
 *
 * Records dropped by a drop field take no part in fitting the others.  An
 * int field whose fill need not be an integer (a mean or median that is
 * not, knn, regression) becomes a float field, with a note on stderr,
 * unless --round asks for fills rounded half away from zero.  Nothing else
 * changes type.
 *
 * Fit and apply.  What is learnt is a state stream (sluice-cat shows it):
 * header meta {"state": "sluice-impute", "params": {...}} and one record
 * per field (field, type, method, value, ivalue, text, scale, vec), plus
 * "feature" records (each numeric field's mean and standard deviation) and
 * "donor" records (the fitted records' numeric fields, for knn).
 *
 * Memory.  Fitting must see every record before writing the first, so it
 * keeps each record (as columns, 9 bytes per value, when every field is a
 * float; else its encoded bytes), 8 bytes per present value of each
 * median or mode field (each distinct string once for a str mode), and
 * with knn or regression 8 bytes per numeric field per record (16 with
 * z-scored knn).  Applying a state streams one record at a time, but knn
 * holds the state's donors and compares each incomplete record with all.
 */
#include "sluice.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum method { M_DROP, M_MEAN, M_MEDIAN, M_MODE, M_CONSTANT, M_MARKER, M_KNN,
              M_REGRESSION, NMETHOD };
static const char *const method_names[NMETHOD] = {
    "drop", "mean", "median", "mode", "constant", "marker", "knn", "regression"};

/* Distinct strings and their counts: the mode of a str field. */
struct strcount {
	struct sl_buf bytes;
	size_t *off, *len;
	uint64_t *count;
	size_t n, cap;
	uint32_t *slot; /* entry + 1, 0 = empty */
	size_t nslot;
};

/* One field to impute. */
struct fld {
	char *name;
	enum method m;
	struct sl_type type;  /* at fit time */
	const char *valspec;  /* constant, marker: the --value text */
	int in;               /* index in the input (and output) header */
	int ind;              /* marker: the indicator's output index */
	int feat;             /* index among the features, or -1 */
	enum sl_kind outkind; /* the output field's kind */
	/* the fill */
	int have;       /* something was learnt (or given) */
	double value;   /* numeric fill; knn, regression: the fallback mean */
	int ivalid;     /* int and bool fields: ivalue is the exact fill */
	int64_t ivalue;
	char *text;     /* str fields */
	size_t textn;
	double *coef;   /* regression: intercept, then one per feature */
	/* fitting */
	double sum;
	uint64_t npresent;
	double *dv;  /* median, mode of float fields: present values */
	int64_t *iv; /* ... of int fields */
	size_t nv, capv;
	struct strcount sc;
	uint64_t nbool[2];
	/* counts */
	uint64_t need, filled, fallback;
};

/* A numeric field that knn and regression use as a coordinate. */
struct feat {
	char *name;
	struct sl_type type;
	int in;
	double mean, std;
};

/* What impute knows: the fields, the features and the knn donors. */
struct model {
	struct fld *f;
	size_t nf;
	struct feat *ft;
	size_t nft;
	int need_feats;
	double *donor;  /* ndonor x nft raw values, NaN when missing */
	double *sdonor; /* the same, scaled for distances (== donor unscaled) */
	size_t ndonor, capdonor;
	int k, scale, round;
};

struct pair {
	char *name;
	const char *val;
};

struct opts {
	struct sl_cli cli;
	const char *fit, *apply;
	int fit_only;
	const char *fields;
	enum method method;
	struct pair *mfor, *vfor; /* --method-for, --value-for */
	size_t nmfor, nvfor;
	const char *value;
	int k, scale, round, round_set;
	int fitopt; /* an option that only fitting takes was given */
	int trailer; /* --apply: end the output with a header that has the counts */
};

/* Scratch space for one record. */
struct scratch {
	struct sl_value *out;
	double *x;    /* the record's features, scaled */
	double *dist; /* to every donor */
	size_t *best;
	double *bestd;
};

static void usage(int status);

static int missing(const struct sl_value *v)
{
	return v->kind == SL_NIL || (v->kind == SL_FLOAT && isnan(v->u.f));
}

static double num(const struct sl_value *v)
{
	return v->kind == SL_INT ? (double)v->u.i : v->u.f;
}

static int numeric(enum sl_kind k)
{
	return k == SL_INT || k == SL_FLOAT;
}

/* ------------------------------------------------------------ fitting */

static void strcount_add(struct strcount *sc, const char *p, size_t n)
{
	uint64_t h = sl_hash64(p, n, 0);
	size_t i;

	if (2 * (sc->n + 1) > sc->nslot) {
		size_t ns = sc->nslot ? 2 * sc->nslot : 256;
		uint32_t *slot = sl_xcalloc(ns, sizeof *slot);
		for (size_t e = 0; e < sc->n; e++) {
			uint64_t he = sl_hash64(sc->bytes.p + sc->off[e], sc->len[e], 0);
			for (i = he & (ns - 1); slot[i]; i = (i + 1) & (ns - 1))
				;
			slot[i] = (uint32_t)e + 1;
		}
		free(sc->slot);
		sc->slot = slot;
		sc->nslot = ns;
	}
	for (i = h & (sc->nslot - 1); sc->slot[i]; i = (i + 1) & (sc->nslot - 1)) {
		size_t e = sc->slot[i] - 1;
		if (sc->len[e] == n && memcmp(sc->bytes.p + sc->off[e], p, n) == 0) {
			sc->count[e]++;
			return;
		}
	}
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? 2 * sc->cap : 64;
		sc->off = sl_xrealloc(sc->off, sc->cap * sizeof *sc->off);
		sc->len = sl_xrealloc(sc->len, sc->cap * sizeof *sc->len);
		sc->count = sl_xrealloc(sc->count, sc->cap * sizeof *sc->count);
	}
	sc->off[sc->n] = sc->bytes.n;
	sc->len[sc->n] = n;
	sc->count[sc->n] = 1;
	sl_buf_put(&sc->bytes, p, n);
	sc->slot[i] = (uint32_t)++sc->n;
}

static void strcount_free(struct strcount *sc)
{
	sl_buf_free(&sc->bytes);
	free(sc->off);
	free(sc->len);
	free(sc->count);
	free(sc->slot);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* SELECT_KTH(name, type, cmp) defines name(s, n, k), which moves the k-th
 * smallest of s[0..n) to s[k] with nothing greater before it and nothing
 * smaller after: quickselect (median-of-three pivots, Hoare partition),
 * O(n) on average.  A range still unsettled after 2 log2(n) rounds is
 * sorted instead, so no input makes it quadratic.  (The same as
 * outliers.c's, for doubles and for exact int64 values here.) */
#define SELECT_KTH(name, type, cmp)                                            \
	static void name(type *s, size_t n, size_t k)                          \
	{                                                                      \
		size_t lo = 0, hi = n, rounds = 0, limit = 2;                  \
		for (size_t m = n; m > 1; m >>= 1)                             \
			limit += 2;                                            \
		while (hi - lo > 16) {                                         \
			size_t mid = lo + (hi - lo) / 2, i = lo, j = hi - 1;   \
			type a = s[lo], b = s[mid], c = s[hi - 1], p, t;       \
			if (++rounds > limit) {                                \
				qsort(s + lo, hi - lo, sizeof *s, cmp);        \
				return;                                        \
			}                                                      \
			p = a < b ? (b < c ? b : a < c ? c : a)                \
			          : (a < c ? a : b < c ? c : b);               \
			for (;;) {                                             \
				while (s[i] < p)                               \
					i++;                                   \
				while (s[j] > p)                               \
					j--;                                   \
				if (i >= j)                                    \
					break;                                 \
				t = s[i];                                      \
				s[i++] = s[j];                                 \
				s[j--] = t;                                    \
			}                                                      \
			if (k <= j)                                            \
				hi = j + 1;                                    \
			else                                                   \
				lo = j + 1;                                    \
		}                                                              \
		for (size_t i = lo + 1; i < hi; i++) {                         \
			type t = s[i];                                         \
			size_t j = i;                                          \
			for (; j > lo && s[j - 1] > t; j--)                    \
				s[j] = s[j - 1];                               \
			s[j] = t;                                              \
		}                                                              \
	}
SELECT_KTH(select_double, double, cmp_double)
SELECT_KTH(select_int64, int64_t, cmp_int64)

/* An int field's fill is exact when it is a whole number in range. */
static void set_integral(struct fld *d)
{
	if (d->value == floor(d->value) && fabs(d->value) < 0x1p63) {
		d->ivalue = (int64_t)d->value;
		d->ivalid = 1;
	}
}

/* Parses a constant for d's type.  0, or -1 when it does not fit. */
static int parse_fill(struct fld *d, const char *s)
{
	size_t n = strlen(s);
	int64_t i;
	int b;

	d->have = 1;
	d->ivalid = 0;
	switch (d->type.kind) {
	case SL_STR:
		if (sl_utf8_valid(s, n) != n)
			return -1;
		d->text = sl_xstrdup(s);
		d->textn = n;
		return 0;
	case SL_BOOL:
		if ((b = sl_parse_bool(s, n)) < 0)
			return -1;
		d->value = b;
		d->ivalue = b;
		d->ivalid = 1;
		return 0;
	case SL_INT:
	case SL_FLOAT:
		if (sl_parse_int(s, n, &i) == 0) {
			d->value = (double)i;
			if (d->type.kind == SL_INT) {
				d->ivalue = i;
				d->ivalid = 1;
			}
			return 0;
		}
		if (sl_parse_float(s, n, &d->value) < 0 || isnan(d->value))
			return -1;
		if (d->type.kind == SL_INT)
			set_integral(d);
		return 0;
	default:
		return -1;
	}
}

/* Collects one present value of d for its statistic. */
static void collect(struct fld *d, const struct sl_value *v)
{
	d->npresent++;
	if (numeric(v->kind))
		d->sum += num(v);
	if (d->m != M_MEDIAN && d->m != M_MODE)
		return;
	if (v->kind == SL_STR) {
		strcount_add(&d->sc, v->u.s.p, v->u.s.n);
		return;
	}
	if (v->kind == SL_BOOL) {
		d->nbool[v->u.b]++;
		return;
	}
	if (d->nv == d->capv) {
		d->capv = d->capv ? 2 * d->capv : 1024;
		if (d->type.kind == SL_INT)
			d->iv = sl_xrealloc(d->iv, d->capv * sizeof *d->iv);
		else
			d->dv = sl_xrealloc(d->dv, d->capv * sizeof *d->dv);
	}
	if (d->type.kind == SL_INT)
		d->iv[d->nv++] = v->u.i;
	else
		d->dv[d->nv++] = v->u.f;
}

/* Mode of d's collected values; the smallest of equally frequent ones. */
static void fit_mode(struct fld *d)
{
	size_t best = 0, run;
	uint64_t bestc = 0;

	if (d->type.kind == SL_BOOL) {
		d->ivalue = d->nbool[1] > d->nbool[0];
		d->value = (double)d->ivalue;
		d->ivalid = 1;
		return;
	}
	if (d->type.kind == SL_STR) {
		const struct strcount *sc = &d->sc;
		for (size_t e = 1; e < sc->n; e++) {
			size_t n = sc->len[e] < sc->len[best] ? sc->len[e] : sc->len[best];
			int c = memcmp(sc->bytes.p + sc->off[e], sc->bytes.p + sc->off[best], n);
			if (!c)
				c = (sc->len[e] > sc->len[best]) - (sc->len[e] < sc->len[best]);
			if (sc->count[e] > sc->count[best] ||
			    (sc->count[e] == sc->count[best] && c < 0))
				best = e;
		}
		d->text = sl_xstrndup(sc->bytes.p + sc->off[best], sc->len[best]);
		d->textn = sc->len[best];
		return;
	}
	/* sorted numbers: the longest run, the first of equally long ones */
	for (size_t i = 0; i < d->nv; i += run) {
		for (run = 1; i + run < d->nv &&
		              (d->iv ? d->iv[i + run] == d->iv[i] : d->dv[i + run] == d->dv[i]);
		     run++)
			;
		if (run > bestc) {
			bestc = run;
			best = i;
		}
	}
	if (d->iv) {
		d->ivalue = d->iv[best];
		d->value = (double)d->ivalue;
		d->ivalid = 1;
	} else {
		d->value = d->dv[best];
	}
}

/* Least squares of y on the columns of A, with an intercept:
 * y ~ b0 + sum_c beta[c] * A[c].  A is n x p column-major; A and y are
 * overwritten.  Householder QR on the centred columns, so the intercept
 * needs no column of its own; a column whose remainder after the earlier
 * ones is below 1e-10 of its norm depends on them and is left out
 * (beta 0).  Returns b0; beta gets p coefficients. */
static double lstsq(double *A, double *y, size_t n, size_t p, double *beta)
{
	double *mean = sl_xcalloc(p + 1, sizeof *mean);
	double *norm0 = sl_xcalloc(p + 1, sizeof *norm0);
	double ymean = 0, b0;
	size_t *piv = sl_xmalloc((p + 1) * sizeof *piv), r0 = 0;

	for (size_t i = 0; i < n; i++)
		ymean += y[i];
	ymean /= (double)n;
	for (size_t i = 0; i < n; i++)
		y[i] -= ymean;
	for (size_t c = 0; c < p; c++) {
		double *a = A + c * n, m = 0;
		for (size_t i = 0; i < n; i++)
			m += a[i];
		mean[c] = m / (double)n;
		for (size_t i = 0; i < n; i++) {
			a[i] -= mean[c];
			norm0[c] += a[i] * a[i];
		}
	}
	for (size_t c = 0; c < p; c++) {
		double *a = A + c * n, norm = 0, alpha, vv = 0;
		for (size_t i = r0; i < n; i++)
			norm += a[i] * a[i];
		norm = sqrt(norm);
		piv[c] = SIZE_MAX;
		if (r0 == n || !(norm > 1e-10 * sqrt(norm0[c])))
			continue;
		/* v = a[r0..] - alpha e1, kept in place; H = I - 2 v v' / v'v
		 * turns a[r0..] into alpha e1 */
		alpha = a[r0] > 0 ? -norm : norm;
		a[r0] -= alpha;
		for (size_t i = r0; i < n; i++)
			vv += a[i] * a[i];
		for (size_t c2 = c + 1; c2 <= p; c2++) {
			double *b = c2 < p ? A + c2 * n : y, s = 0;
			for (size_t i = r0; i < n; i++)
				s += a[i] * b[i];
			s = 2 * s / vv;
			for (size_t i = r0; i < n; i++)
				b[i] -= s * a[i];
		}
		a[r0] = alpha; /* R[r0][c] */
		piv[c] = r0++;
	}
	/* back substitution: R beta = Q'y over the kept columns */
	for (size_t c = p; c-- > 0;) {
		double s;
		if (piv[c] == SIZE_MAX) {
			beta[c] = 0;
			continue;
		}
		s = y[piv[c]];
		for (size_t c2 = c + 1; c2 < p; c2++)
			s -= A[c2 * n + piv[c]] * beta[c2];
		beta[c] = s / A[c * n + piv[c]];
	}
	b0 = ymean;
	for (size_t c = 0; c < p; c++)
		b0 -= beta[c] * mean[c];
	free(mean);
	free(norm0);
	free(piv);
	return b0;
}

/* Learns each field's fill, the features' scales and the regressions from
 * what gather() collected. */
static void fit_model(struct model *M)
{
	size_t F = M->nft;

	for (size_t f = 0; f < F; f++) {
		struct feat *t = &M->ft[f];
		double s = 0, ss = 0;
		size_t n = 0;
		for (size_t i = 0; i < M->ndonor; i++) {
			double x = M->donor[i * F + f];
			if (!isnan(x)) {
				s += x;
				n++;
			}
		}
		t->mean = n ? s / (double)n : 0;
		for (size_t i = 0; i < M->ndonor; i++) {
			double x = M->donor[i * F + f];
			if (!isnan(x))
				ss += (x - t->mean) * (x - t->mean);
		}
		/* population standard deviation, 1 when there is no spread
		 * (as StandardScaler) */
		t->std = n && ss > 0 ? sqrt(ss / (double)n) : 1;
	}
	for (size_t j = 0; j < M->nf; j++) {
		struct fld *d = &M->f[j];
		switch (d->m) {
		case M_DROP:
		case M_CONSTANT:
		case M_MARKER:
			break; /* nothing to learn; constants were parsed already */
		case M_MEAN:
		case M_KNN:
		case M_REGRESSION:
			if (!d->npresent)
				break;
			d->have = 1;
			d->value = d->sum / (double)d->npresent;
			if (d->m == M_MEAN && d->type.kind == SL_INT)
				set_integral(d);
			break;
		case M_MEDIAN: {
			/* the middle value, or the mean of the middle two */
			size_t h = d->nv / 2;
			if (!d->nv)
				break;
			d->have = 1;
			if (d->iv) {
				select_int64(d->iv, d->nv, h);
				if (d->nv % 2) {
					d->ivalue = d->iv[h];
					d->value = (double)d->ivalue;
					d->ivalid = 1;
				} else {
					int64_t lo = d->iv[0];
					for (size_t i = 1; i < h; i++)
						lo = d->iv[i] > lo ? d->iv[i] : lo;
					d->value = ((double)lo + (double)d->iv[h]) / 2;
					set_integral(d);
				}
			} else {
				select_double(d->dv, d->nv, h);
				d->value = d->dv[h];
				if (d->nv % 2 == 0) {
					double lo = d->dv[0];
					for (size_t i = 1; i < h; i++)
						lo = d->dv[i] > lo ? d->dv[i] : lo;
					d->value = (lo + d->dv[h]) / 2;
				}
			}
			break;
		}
		case M_MODE:
			if (!d->npresent)
				break;
			d->have = 1;
			if (d->iv)
				qsort(d->iv, d->nv, sizeof *d->iv, cmp_int64);
			else if (d->dv)
				qsort(d->dv, d->nv, sizeof *d->dv, cmp_double);
			fit_mode(d);
			break;
		default:
			break;
		}
		if (d->m == M_REGRESSION) {
			/* the records that have the field and every predictor */
			size_t n = 0, p = F - 1;
			double *A, *y, *beta = sl_xcalloc(F, sizeof *beta);
			for (size_t i = 0; i < M->ndonor; i++) {
				size_t f;
				for (f = 0; f < F && !isnan(M->donor[i * F + f]); f++)
					;
				n += f == F;
			}
			A = sl_xmalloc((n * p + 1) * sizeof *A);
			y = sl_xmalloc((n + 1) * sizeof *y);
			for (size_t i = 0, r = 0; i < M->ndonor; i++) {
				const double *row = M->donor + i * F;
				size_t f, c = 0;
				for (f = 0; f < F && !isnan(row[f]); f++)
					;
				if (f < F)
					continue;
				for (f = 0; f < F; f++)
					if ((int)f == d->feat)
						y[r] = row[f];
					else
						A[c++ * n + r] = row[f];
				r++;
			}
			if (n) {
				d->coef = sl_xcalloc(F + 1, sizeof *d->coef);
				d->coef[0] = lstsq(A, y, n, p, beta);
				for (size_t f = 0, c = 0; f < F; f++)
					d->coef[1 + f] = (int)f == d->feat ? 0 : beta[c++];
			}
			free(A);
			free(y);
			free(beta);
		}
	}
	if (M->scale && F) {
		M->sdonor = sl_xmalloc((M->ndonor * F + 1) * sizeof *M->sdonor);
		for (size_t i = 0; i < M->ndonor; i++)
			for (size_t f = 0; f < F; f++)
				M->sdonor[i * F + f] =
				    (M->donor[i * F + f] - M->ft[f].mean) / M->ft[f].std;
	} else {
		M->sdonor = M->donor;
	}
}

/* ---------------------------------------------------------- applying */

/* Squared nan-Euclidean distances from x (a record's scaled features,
 * NaN when missing) to every donor: the sum over the fields present in
 * both, times (features / fields present in both); NaN when none is. */
static void knn_dist(const struct model *M, const double *x, double *dist)
{
	size_t F = M->nft;

	for (size_t i = 0; i < M->ndonor; i++) {
		const double *y = M->sdonor + i * F;
		double s = 0;
		size_t c = 0;
		for (size_t f = 0; f < F; f++) {
			double t = x[f] - y[f];
			if (!isnan(t)) { /* NaN when either is missing */
				s += t * t;
				c++;
			}
		}
		dist[i] = c ? s * (double)F / (double)c : NAN;
	}
}

/* The mean of d's field over the k nearest donors that have it, by the
 * distances in S->dist; equal distances go to the earlier donor.
 * Returns how many donors it used (0: none has a defined distance). */
static size_t knn_mean(const struct model *M, const struct fld *d,
                       struct scratch *S, double *out)
{
	size_t F = M->nft, k = (size_t)M->k, cnt = 0;
	double sum = 0;

	for (size_t i = 0; i < M->ndonor; i++) {
		double dd = S->dist[i];
		size_t at;
		if (isnan(dd) || isnan(M->donor[i * F + d->feat]))
			continue;
		if (cnt == k && !(dd < S->bestd[k - 1]))
			continue;
		if (cnt < k)
			cnt++;
		for (at = cnt - 1; at > 0 && S->bestd[at - 1] > dd; at--) {
			S->bestd[at] = S->bestd[at - 1];
			S->best[at] = S->best[at - 1];
		}
		S->bestd[at] = dd;
		S->best[at] = i;
	}
	for (size_t j = 0; j < cnt; j++)
		sum += M->donor[S->best[j] * F + d->feat];
	if (cnt)
		*out = sum / (double)cnt;
	return cnt;
}

/* The regression's prediction for d from the record's other numeric
 * fields.  0 when a predictor it needs is missing (or none was fitted). */
static int regress(const struct model *M, const struct fld *d,
                   const struct sl_value *in, double *out)
{
	double s;

	if (!d->coef)
		return 0;
	s = d->coef[0];
	for (size_t f = 0; f < M->nft; f++) {
		const struct sl_value *v = &in[M->ft[f].in];
		if ((int)f == d->feat || d->coef[1 + f] == 0)
			continue;
		if (missing(v))
			return 0;
		s += d->coef[1 + f] * num(v);
	}
	*out = s;
	return 1;
}

/* 1 when the record has a drop field missing. */
static int impute_drops(const struct model *M, const struct sl_value *in)
{
	for (size_t j = 0; j < M->nf; j++)
		if (M->f[j].m == M_DROP && missing(&in[M->f[j].in]))
			return 1;
	return 0;
}

/* Imputes one record: in has the input header's nin values; S->out gets
 * the output header's.  Returns 1 to write it, 0 to drop it, -1 when a
 * value cannot be filled (*why, *bad say why and where). */
static int impute_record(struct model *M, const struct sl_value *in, size_t nin,
                         struct scratch *S, const char **why, const struct fld **bad)
{
	struct sl_value *out = S->out;
	int have_dist = 0;

	if (impute_drops(M, in))
		return 0;
	memcpy(out, in, nin * sizeof *out);
	for (size_t j = 0; j < M->nf; j++) {
		struct fld *d = &M->f[j];
		struct sl_value *o = &out[d->in];
		int miss = missing(&in[d->in]);
		double x = d->value;
		if (d->ind >= 0) {
			out[d->ind].kind = SL_BOOL;
			out[d->ind].u.b = miss;
		}
		if (d->m == M_DROP)
			continue;
		if (!miss) {
			if (d->outkind == SL_FLOAT && o->kind == SL_INT) {
				o->kind = SL_FLOAT;
				o->u.f = (double)in[d->in].u.i;
			}
			continue;
		}
		if (!d->have) {
			*why = "missing, and the fitted data had no value to learn a fill from";
			*bad = d;
			return -1;
		}
		d->filled++;
		if (d->m == M_KNN) {
			if (!have_dist) {
				for (size_t f = 0; f < M->nft; f++) {
					const struct sl_value *v = &in[M->ft[f].in];
					S->x[f] = missing(v) ? NAN
					          : M->scale ? (num(v) - M->ft[f].mean) / M->ft[f].std
					                     : num(v);
				}
				knn_dist(M, S->x, S->dist);
				have_dist = 1;
			}
			if (!knn_mean(M, d, S, &x)) {
				x = d->value;
				d->fallback++;
			}
		} else if (d->m == M_REGRESSION && !regress(M, d, in, &x)) {
			x = d->value;
			d->fallback++;
		}
		o->kind = d->outkind;
		switch (d->outkind) {
		case SL_STR:
			o->u.s.p = d->text;
			o->u.s.n = d->textn;
			break;
		case SL_BOOL:
			o->u.b = (int)d->ivalue;
			break;
		case SL_INT:
			if (d->m == M_KNN || d->m == M_REGRESSION) {
				if (!(fabs(x) < 0x1p63)) {
					*why = "the fill does not fit an int";
					*bad = d;
					return -1;
				}
				o->u.i = llround(x);
			} else {
				o->u.i = d->ivalue;
			}
			break;
		default:
			o->u.f = x;
		}
	}
	return 1;
}

/* ------------------------------------------------------------- state */

static const char *const state_fields[8] = {"field", "type",  "method", "value",
                                            "ivalue", "text", "scale",  "vec"};
static const char *const state_types[8] = {"str", "str", "str",   "float",
                                           "int", "str", "float", "f64[]"};

static void put_str(struct sl_value *v, const char *s)
{
	v->kind = SL_STR;
	v->u.s.p = s;
	v->u.s.n = strlen(s);
}

static void put_vec(struct sl_value *v, const double *p, size_t n)
{
	v->kind = SL_VEC;
	v->u.s.p = (const char *)p;
	v->u.s.n = n * sizeof *p;
}

static int write_state(const struct model *M, const char *path,
                       const struct sl_header *in, int argc, char **argv)
{
	struct sl_header *h = sl_header_new();
	struct sl_val params = sl_val_map();
	struct sl_wopts wo = {0, 1};
	struct sl_writer *w;
	struct sl_value v[8];
	char tn[8][32];
	int knn = 0, rc = 0;
	char *err = NULL;

	for (int i = 0; i < 8; i++) {
		struct sl_type t;
		sl_type_parse(state_types[i], &t);
		sl_header_add(h, state_fields[i], t);
	}
	sl_val_set(&h->meta, "state", sl_val_str("sluice-impute"));
	sl_val_set(&params, "k", sl_val_int(M->k));
	sl_val_set(&params, "knn_scale", sl_val_str(M->scale ? "zscore" : "none"));
	sl_val_set(&params, "round", sl_val_bool(M->round));
	sl_val_set(&h->meta, "params", params);
	/* the state comes from the input: keep where it came from */
	sl_val_free(&h->lineage);
	h->lineage = sl_val_copy(&in->lineage);
	sl_header_lineage(h, argc, argv);
	w = sl_writer_open(path, &wo);
	if (sl_writer_error(w) || sl_write_header(w, h) < 0)
		rc = -1;
	for (size_t f = 0; f < M->nft && !rc; f++) {
		memset(v, 0, sizeof v);
		put_str(&v[0], M->ft[f].name);
		sl_type_format(M->ft[f].type, tn[0], sizeof tn[0]);
		put_str(&v[1], tn[0]);
		put_str(&v[2], "feature");
		v[3].kind = v[6].kind = SL_FLOAT;
		v[3].u.f = M->ft[f].mean;
		v[6].u.f = M->ft[f].std;
		rc = sl_write_record(w, v, 8);
	}
	for (size_t j = 0; j < M->nf && !rc; j++) {
		const struct fld *d = &M->f[j];
		memset(v, 0, sizeof v);
		put_str(&v[0], d->name);
		sl_type_format(d->type, tn[1], sizeof tn[1]);
		put_str(&v[1], tn[1]);
		put_str(&v[2], method_names[d->m]);
		if (d->have && d->type.kind != SL_STR) {
			v[3].kind = SL_FLOAT;
			v[3].u.f = d->value;
		}
		if (d->have && d->ivalid) {
			v[4].kind = SL_INT;
			v[4].u.i = d->ivalue;
		}
		if (d->have && d->type.kind == SL_STR) {
			v[5].kind = SL_STR;
			v[5].u.s.p = d->text;
			v[5].u.s.n = d->textn;
		}
		if (d->coef)
			put_vec(&v[7], d->coef, M->nft + 1);
		knn |= d->m == M_KNN;
		rc = sl_write_record(w, v, 8);
	}
	for (size_t i = 0; knn && i < M->ndonor && !rc; i++) {
		memset(v, 0, sizeof v);
		put_str(&v[2], "donor");
		put_vec(&v[7], M->donor + i * M->nft, M->nft);
		rc = sl_write_record(w, v, 8);
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

/* Loads a state written by write_state into M.  0, or -1 after a
 * message. */
static int read_state(struct model *M, const char *path)
{
	struct sl_reader *r = sl_reader_open(path);
	int ev, fi[8], ok = 1;

	while (ok && (ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		char *method;
		int m;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			const struct sl_val *st = sl_val_get(&h->meta, "state"),
			                    *params = sl_val_get(&h->meta, "params"), *x;
			if (sl_reader_segments(r) > 1) {
				sl_warn("%s: a state has one header, this has more", path);
				ok = 0;
				break;
			}
			if (!st || st->tag != SL_V_STR || strcmp(st->u.s, "sluice-impute")) {
				sl_warn("%s: not a sluice-impute state (its header has no "
				        "\"state\": \"sluice-impute\")", path);
				ok = 0;
				break;
			}
			for (int k = 0; k < 8 && ok; k++) {
				struct sl_type t;
				sl_type_parse(state_types[k], &t);
				fi[k] = sl_header_find(h, state_fields[k]);
				if (fi[k] < 0 || h->fields[fi[k]].type.kind != t.kind) {
					sl_warn("%s: state has no %s field \"%s\"", path,
					        state_types[k], state_fields[k]);
					ok = 0;
				}
			}
			if ((x = sl_val_get(params, "k")) && x->tag == SL_V_INT && x->u.i > 0 &&
			    x->u.i <= 1000000)
				M->k = (int)x->u.i;
			if ((x = sl_val_get(params, "knn_scale")) && x->tag == SL_V_STR)
				M->scale = strcmp(x->u.s, "none") != 0;
			if ((x = sl_val_get(params, "round")) && x->tag == SL_V_BOOL)
				M->round = x->u.b;
			continue;
		}
		v = sl_reader_values(r);
		if (v[fi[2]].kind != SL_STR) {
			sl_warn("%s: record %llu: no method", path,
			        (unsigned long long)sl_reader_recno(r));
			ok = 0;
			break;
		}
		method = sl_xstrndup(v[fi[2]].u.s.p, v[fi[2]].u.s.n);
		for (m = 0; m < NMETHOD && strcmp(method, method_names[m]); m++)
			;
		if (!strcmp(method, "donor")) {
			size_t F = M->nft;
			if (v[fi[7]].kind != SL_VEC || v[fi[7]].u.s.n != F * sizeof(double) || !F) {
				sl_warn("%s: record %llu: a donor needs %zu numbers", path,
				        (unsigned long long)sl_reader_recno(r), F);
				ok = 0;
			} else {
				if (M->ndonor == M->capdonor) {
					M->capdonor = M->capdonor ? 2 * M->capdonor : 1024;
					M->donor = sl_xrealloc(M->donor,
					                       M->capdonor * F * sizeof *M->donor);
				}
				memcpy(M->donor + M->ndonor++ * F, v[fi[7]].u.s.p, v[fi[7]].u.s.n);
			}
		} else if (v[fi[0]].kind != SL_STR || v[fi[1]].kind != SL_STR) {
			sl_warn("%s: record %llu: no field name or type", path,
			        (unsigned long long)sl_reader_recno(r));
			ok = 0;
		} else if (!strcmp(method, "feature")) {
			struct feat *t;
			char *tn = sl_xstrndup(v[fi[1]].u.s.p, v[fi[1]].u.s.n);
			M->ft = sl_xrealloc(M->ft, (M->nft + 1) * sizeof *M->ft);
			t = &M->ft[M->nft++];
			memset(t, 0, sizeof *t);
			t->name = sl_xstrndup(v[fi[0]].u.s.p, v[fi[0]].u.s.n);
			if (sl_type_parse(tn, &t->type) < 0 || !numeric(t->type.kind) ||
			    v[fi[3]].kind != SL_FLOAT || v[fi[6]].kind != SL_FLOAT ||
			    !(v[fi[6]].u.f > 0) || M->ndonor || M->nf) {
				sl_warn("%s: record %llu: a bad feature record", path,
				        (unsigned long long)sl_reader_recno(r));
				ok = 0;
			}
			t->mean = v[fi[3]].u.f;
			t->std = v[fi[6]].u.f;
			free(tn);
		} else if (m == NMETHOD) {
			sl_warn("%s: record %llu: unknown method \"%s\"", path,
			        (unsigned long long)sl_reader_recno(r), method);
			ok = 0;
		} else {
			struct fld *d;
			char *tn = sl_xstrndup(v[fi[1]].u.s.p, v[fi[1]].u.s.n);
			M->f = sl_xrealloc(M->f, (M->nf + 1) * sizeof *M->f);
			d = &M->f[M->nf++];
			memset(d, 0, sizeof *d);
			d->name = sl_xstrndup(v[fi[0]].u.s.p, v[fi[0]].u.s.n);
			d->m = (enum method)m;
			d->ind = d->feat = -1;
			if (sl_type_parse(tn, &d->type) < 0) {
				sl_warn("%s: record %llu: bad type \"%s\"", path,
				        (unsigned long long)sl_reader_recno(r), tn);
				ok = 0;
			}
			free(tn);
			if (v[fi[3]].kind == SL_FLOAT) {
				d->have = 1;
				d->value = v[fi[3]].u.f;
			}
			if (v[fi[4]].kind == SL_INT) {
				d->ivalid = 1;
				d->ivalue = v[fi[4]].u.i;
			}
			if (v[fi[5]].kind == SL_STR) {
				d->have = 1;
				d->text = sl_xstrndup(v[fi[5]].u.s.p, v[fi[5]].u.s.n);
				d->textn = v[fi[5]].u.s.n;
			}
			if (d->m == M_KNN || d->m == M_REGRESSION) {
				for (size_t f = 0; f < M->nft; f++)
					if (!strcmp(M->ft[f].name, d->name))
						d->feat = (int)f;
				if (d->feat < 0) {
					sl_warn("%s: record %llu: field \"%s\" is not among the "
					        "state's features", path,
					        (unsigned long long)sl_reader_recno(r), d->name);
					ok = 0;
				}
				M->need_feats = 1;
			}
			if (d->m == M_REGRESSION && v[fi[7]].kind == SL_VEC) {
				if (v[fi[7]].u.s.n != (M->nft + 1) * sizeof(double)) {
					sl_warn("%s: record %llu: regression coefficients need "
					        "%zu numbers", path,
					        (unsigned long long)sl_reader_recno(r), M->nft + 1);
					ok = 0;
				} else {
					d->coef = sl_xmalloc(v[fi[7]].u.s.n);
					memcpy(d->coef, v[fi[7]].u.s.p, v[fi[7]].u.s.n);
				}
			}
			if (ok && ((d->type.kind == SL_STR && d->have && !d->text) ||
			           (d->type.kind != SL_STR && d->text) ||
			           (d->type.kind == SL_BOOL && d->have && !d->ivalid))) {
				sl_warn("%s: record %llu: the fill of field \"%s\" does not "
				        "fit its type", path,
				        (unsigned long long)sl_reader_recno(r), d->name);
				ok = 0;
			}
		}
		free(method);
	}
	if (ok && ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		ok = 0;
	} else if (ok && sl_reader_segments(r) == 0) {
		sl_warn("%s: an empty state", path);
		ok = 0;
	}
	sl_reader_close(r);
	if (ok) {
		if (M->scale && M->nft) {
			size_t F = M->nft;
			M->sdonor = sl_xmalloc((M->ndonor * F + 1) * sizeof *M->sdonor);
			for (size_t i = 0; i < M->ndonor; i++)
				for (size_t f = 0; f < F; f++)
					M->sdonor[i * F + f] =
					    (M->donor[i * F + f] - M->ft[f].mean) / M->ft[f].std;
		} else {
			M->sdonor = M->donor;
		}
	}
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------- setup */

/* Which kinds of field a method takes. */
static int method_fits(enum method m, enum sl_kind k)
{
	switch (m) {
	case M_DROP:
		return 1;
	case M_MODE:
	case M_CONSTANT:
	case M_MARKER:
		return numeric(k) || k == SL_STR || k == SL_BOOL;
	default:
		return numeric(k);
	}
}

static const char *pair_get(const struct pair *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].name, name))
			return p[i].val;
	return NULL;
}

static void add_fld(struct model *M, const char *name)
{
	struct fld *d;

	for (size_t j = 0; j < M->nf; j++)
		if (!strcmp(M->f[j].name, name))
			return;
	M->f = sl_xrealloc(M->f, (M->nf + 1) * sizeof *M->f);
	d = &M->f[M->nf++];
	memset(d, 0, sizeof *d);
	d->name = sl_xstrdup(name);
	d->ind = d->feat = -1;
}

/* Fitting: the fields, methods and constants from the options, checked
 * against the first input header h.  Returns 0 or an exit status. */
static int setup(struct model *M, const struct opts *o, const struct sl_header *h,
                 const char *inname)
{
	char tn[32];

	if (o->fields) {
		char *copy = sl_xstrdup(o->fields), *p = copy, *tok;
		while ((tok = strsep(&p, ",")))
			if (*tok)
				add_fld(M, tok);
		free(copy);
	} else {
		for (size_t f = 0; f < h->nfields; f++)
			if (numeric(h->fields[f].type.kind))
				add_fld(M, h->fields[f].name);
	}
	for (size_t i = 0; i < o->nmfor; i++)
		add_fld(M, o->mfor[i].name);
	for (size_t j = 0; j < M->nf; j++) {
		struct fld *d = &M->f[j];
		const char *ms = pair_get(o->mfor, o->nmfor, d->name), *val;
		int f = sl_header_find(h, d->name);
		if (f < 0) {
			sl_warn("%s: no field \"%s\"", inname, d->name);
			return 2;
		}
		d->type = h->fields[f].type;
		d->m = o->method;
		if (ms)
			for (int m = 0; m < NMETHOD; m++)
				if (!strcmp(ms, method_names[m]))
					d->m = (enum method)m;
		sl_type_format(d->type, tn, sizeof tn);
		if (!method_fits(d->m, d->type.kind)) {
			sl_warn("%s: field \"%s\" is %s; %s takes %s fields", inname, d->name,
			        tn, method_names[d->m],
			        d->m == M_MODE || d->m == M_CONSTANT || d->m == M_MARKER
			            ? "int, float, str or bool"
			            : "int or float");
			return 2;
		}
		if (d->m == M_KNN || d->m == M_REGRESSION)
			M->need_feats = 1;
		if (d->m != M_CONSTANT && d->m != M_MARKER)
			continue;
		val = pair_get(o->vfor, o->nvfor, d->name);
		if (!val)
			val = o->value;
		if (!val) /* scikit-learn's defaults */
			val = d->type.kind == SL_STR ? "missing_value"
			      : d->type.kind == SL_BOOL ? "false" : "0";
		if (parse_fill(d, val) < 0) {
			sl_warn("%s: --value '%s' is not a value of field \"%s\" (%s)",
			        inname, val, d->name, tn);
			return 2;
		}
	}
	for (size_t i = 0; i < o->nvfor; i++) {
		size_t j;
		for (j = 0; j < M->nf; j++)
			if (!strcmp(M->f[j].name, o->vfor[i].name) &&
			    (M->f[j].m == M_CONSTANT || M->f[j].m == M_MARKER))
				break;
		if (j == M->nf) {
			sl_warn("--value-for %s: that field is not filled by constant or "
			        "marker", o->vfor[i].name);
			return 2;
		}
	}
	if (o->value) {
		size_t j;
		for (j = 0; j < M->nf && M->f[j].m != M_CONSTANT && M->f[j].m != M_MARKER; j++)
			;
		if (j == M->nf) {
			sl_warn("--value: no field is filled by constant or marker");
			return 2;
		}
	}
	if (M->need_feats) { /* every numeric field is a coordinate */
		for (size_t f = 0; f < h->nfields; f++) {
			struct feat *t;
			if (!numeric(h->fields[f].type.kind))
				continue;
			M->ft = sl_xrealloc(M->ft, (M->nft + 1) * sizeof *M->ft);
			t = &M->ft[M->nft++];
			memset(t, 0, sizeof *t);
			t->name = sl_xstrdup(h->fields[f].name);
			t->type = h->fields[f].type;
		}
		for (size_t j = 0; j < M->nf; j++)
			for (size_t f = 0; f < M->nft; f++)
				if (!strcmp(M->f[j].name, M->ft[f].name))
					M->f[j].feat = (int)f;
	}
	return 0;
}

/* Finds the fields and features of M in the input header h and checks
 * their types.  Returns 0 or an exit status. */
static int bind(struct model *M, const struct sl_header *h, const char *inname)
{
	char a[32], b[32];

	for (size_t f = 0; f < M->nft; f++) {
		struct feat *t = &M->ft[f];
		if ((t->in = sl_header_find(h, t->name)) < 0) {
			sl_warn("%s: no field \"%s\" (the state needs it)", inname, t->name);
			return 2;
		}
		if (!numeric(h->fields[t->in].type.kind)) {
			sl_type_format(h->fields[t->in].type, a, sizeof a);
			sl_warn("%s: field \"%s\" is %s; the state wants an int or float",
			        inname, t->name, a);
			return 2;
		}
	}
	for (size_t j = 0; j < M->nf; j++) {
		struct fld *d = &M->f[j];
		enum sl_kind k;
		if ((d->in = sl_header_find(h, d->name)) < 0) {
			sl_warn("%s: no field \"%s\" (the state needs it)", inname, d->name);
			return 2;
		}
		k = h->fields[d->in].type.kind;
		if (k != d->type.kind && !(numeric(k) && numeric(d->type.kind) && d->m != M_DROP)) {
			sl_type_format(h->fields[d->in].type, a, sizeof a);
			sl_type_format(d->type, b, sizeof b);
			sl_warn("%s: field \"%s\" is %s, but the state was fitted on %s",
			        inname, d->name, a, b);
			return 2;
		}
	}
	return 0;
}

/* The output header: h with the fields whose fills need not be integers
 * turned from int to float (said on stderr), the marker indicators after
 * the input's fields, and a lineage entry.  Returns 0 or an exit status. */
static int plan_output(struct model *M, const struct sl_header *h, int argc,
                       char **argv, struct sl_header **outh, const char *inname)
{
	struct sl_type tb = {SL_BOOL, SL_ELEM_NONE, 0}, tf = {SL_FLOAT, SL_ELEM_NONE, 0};
	struct sl_buf name = {0};
	char num[32];

	*outh = sl_header_copy(h);
	for (size_t j = 0; j < M->nf; j++) {
		struct fld *d = &M->f[j];
		enum sl_kind k = h->fields[d->in].type.kind;
		d->outkind = k;
		if (k == SL_INT && d->m != M_DROP) {
			if (d->m == M_KNN || d->m == M_REGRESSION) {
				if (!M->round) {
					d->outkind = SL_FLOAT;
					sl_warn("field \"%s\" (int) becomes float: %s fills need "
					        "not be integers (--round keeps it int)",
					        d->name, method_names[d->m]);
				}
			} else if (d->have && !d->ivalid) {
				set_integral(d);
				if (!d->ivalid && M->round && fabs(d->value) < 0x1p63) {
					d->ivalue = llround(d->value);
					d->ivalid = 1;
				} else if (!d->ivalid) {
					d->outkind = SL_FLOAT;
					sl_fmt_float(num, d->value);
					sl_warn("field \"%s\" (int) becomes float: its %s %s is "
					        "not an integer (--round keeps it int)", d->name,
					        d->m == M_MARKER ? "constant" : method_names[d->m], num);
				}
			}
		}
		if (d->outkind != k)
			(*outh)->fields[d->in].type = tf;
		d->ind = -1;
		if (d->m == M_MARKER) {
			name.n = 0;
			sl_buf_printf(&name, "%s_missing", d->name);
			if ((d->ind = sl_header_add(*outh, sl_buf_cstr(&name), tb)) < 0) {
				sl_warn("%s: the indicator field \"%s\" exists already",
				        inname, name.p);
				sl_buf_free(&name);
				return 2;
			}
		}
	}
	sl_buf_free(&name);
	sl_header_lineage(*outh, argc, argv);
	return 0;
}

/* What a fit saw, for the lineage entry. */
static struct sl_val counts_val(const struct model *M, uint64_t records,
                                uint64_t dropped)
{
	struct sl_val c = sl_val_map(), filled = sl_val_map();

	sl_val_set(&c, "records", sl_val_int((int64_t)records));
	sl_val_set(&c, "dropped", sl_val_int((int64_t)dropped));
	for (size_t j = 0; j < M->nf; j++)
		if (M->f[j].m != M_DROP)
			sl_val_set(&filled, M->f[j].name, sl_val_int((int64_t)M->f[j].need));
	sl_val_set(&c, "filled", filled);
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

/* Fitting: reads every input, keeps the records a drop field does not
 * remove (as a stream in arena, or as columns in *cols when every field is
 * a float; neither when only the state is wanted),
 * collects what each field's statistic needs and the donors.  Returns 0
 * or an exit status. */
static int gather(struct model *M, const struct opts *o, int nin, char **files,
                  struct sl_big *arena, struct sl_cols **cols,
                  struct sl_header **first,
                  uint64_t *records, uint64_t *dropped)
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
				                            "; impute each schema separately")) {
					rc = 1;
					break;
				}
				if (!*first) {
					*first = sl_header_copy(h);
					put_header(arena, h);
					if (!o->fit_only)
						*cols = sl_cols_new(h);
					if ((rc = setup(M, o, h, sl_reader_name(r))) ||
					    (rc = bind(M, h, sl_reader_name(r))))
						break;
				}
				continue;
			}
			v = sl_reader_values(r);
			++*records;
			if (impute_drops(M, v)) {
				++*dropped;
				continue;
			}
			if (!o->fit_only) {
				sl_reader_raw(r, &raw, &rawn);
				if (*cols)
					sl_cols_add(*cols, v);
				else
					sl_big_put(arena, raw, rawn);
			}
			for (size_t j = 0; j < M->nf; j++) {
				struct fld *d = &M->f[j];
				if (d->m == M_DROP)
					continue;
				if (missing(&v[d->in]))
					d->need++;
				else
					collect(d, &v[d->in]);
			}
			if (M->need_feats) {
				double *row;
				if (M->ndonor == M->capdonor) {
					M->capdonor = M->capdonor ? 2 * M->capdonor : 1024;
					M->donor = sl_xrealloc(M->donor,
					                       M->capdonor * M->nft * sizeof *M->donor);
				}
				row = M->donor + M->ndonor++ * M->nft;
				for (size_t f = 0; f < M->nft; f++) {
					const struct sl_value *x = &v[M->ft[f].in];
					row[f] = missing(x) ? NAN : num(x);
				}
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
	if (!rc && !*first) {
		sl_warn("no input header");
		rc = 1;
	}
	return rc;
}

/* The output side of applying: shared by the inputs of one run. */
struct run {
	struct sl_header *first, *outh;
	struct sl_writer *w;
	struct scratch S;
	uint64_t records, dropped;
	struct sl_val lastlin; /* the last input header's lineage, for a trailer */
	const struct sl_val *lin; /* a fit's: the input's lineage as it ended */
};

/* Applies M to every record r reads.  The first header opens the output;
 * lcounts (a fit's counts, or NULL) goes into its lineage entry.  Returns
 * 0 or an exit status. */
static int apply_stream(struct model *M, const struct opts *o, struct sl_reader *r,
                        struct run *R, const struct sl_val *lcounts, int argc,
                        char **argv)
{
	int ev, rc = 0;

	while ((ev = sl_read(r)) > 0) {
		const struct fld *bad;
		const char *why;
		int keep;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			if (sl_reader_fields_differ(r, R->first, h,
			                            "; impute each schema separately")) {
				rc = 1;
				break;
			}
			sl_val_free(&R->lastlin);
			R->lastlin = sl_val_copy(&h->lineage);
			if (R->w)
				continue;
			if (!R->first)
				R->first = sl_header_copy(h);
			if ((rc = bind(M, h, sl_reader_name(r))) ||
			    (rc = plan_output(M, h, argc, argv, &R->outh, sl_reader_name(r))))
				break;
			if (R->lin)
				sl_lineage_rebase(R->outh, R->lin);
			if (lcounts)
				sl_val_set(&R->outh->lineage.u.a[R->outh->lineage.n - 1], "counts",
				           sl_val_copy(lcounts));
			R->S.out = sl_xcalloc(R->outh->nfields + 1, sizeof *R->S.out);
			R->S.x = sl_xcalloc(M->nft + 1, sizeof *R->S.x);
			R->S.dist = sl_xcalloc(M->ndonor + 1, sizeof *R->S.dist);
			R->S.best = sl_xcalloc((size_t)M->k + 1, sizeof *R->S.best);
			R->S.bestd = sl_xcalloc((size_t)M->k + 1, sizeof *R->S.bestd);
			R->w = sl_writer_open(o->cli.output, &o->cli.w);
			if (sl_writer_error(R->w) || sl_write_header(R->w, R->outh) < 0) {
				rc = 1;
				break;
			}
			continue;
		}
		R->records++;
		keep = impute_record(M, sl_reader_values(r), R->first->nfields, &R->S,
		                     &why, &bad);
		if (keep < 0) {
			sl_warn("%s: record %llu: field \"%s\": %s", sl_reader_name(r),
			        (unsigned long long)sl_reader_recno(r), bad->name, why);
			rc = 1;
			break;
		}
		if (!keep) {
			R->dropped++;
			continue;
		}
		if (sl_write_record(R->w, R->S.out, R->outh->nfields) < 0) {
			rc = 1;
			break;
		}
	}
	if (ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		rc = 1;
	}
	return rc;
}

/* What applying a state did, for a trailer's lineage entry: the fit's
 * counts (records, dropped, filled) with the values filled in this run,
 * each field's method, and how many knn and regression fills fell back
 * to the mean.  The numbers report() prints. */
static struct sl_val apply_counts(const struct model *M, uint64_t records,
                                  uint64_t dropped)
{
	struct sl_val c = sl_val_map(), filled = sl_val_map(), meth = sl_val_map(),
	              bymean = sl_val_map();
	int fallbacks = 0;

	sl_val_set(&c, "records", sl_val_int((int64_t)records));
	sl_val_set(&c, "dropped", sl_val_int((int64_t)dropped));
	for (size_t j = 0; j < M->nf; j++) {
		const struct fld *d = &M->f[j];
		if (d->m == M_DROP)
			continue;
		sl_val_set(&filled, d->name, sl_val_int((int64_t)d->filled));
		sl_val_set(&meth, d->name, sl_val_str(method_names[d->m]));
		if (d->m == M_KNN || d->m == M_REGRESSION) {
			sl_val_set(&bymean, d->name, sl_val_int((int64_t)d->fallback));
			fallbacks = 1;
		}
	}
	sl_val_set(&c, "filled", filled);
	sl_val_set(&c, "methods", meth);
	if (fallbacks)
		sl_val_set(&c, "by_mean", bymean);
	else
		sl_val_free(&bymean);
	return c;
}

/* Counts to stderr: records, dropped, and per field the values filled. */
static void report(const struct model *M, uint64_t records, uint64_t dropped,
                   int fit_only)
{
	struct sl_buf b = {0};
	int drops = 0, any = 0;

	for (size_t j = 0; j < M->nf; j++)
		drops |= M->f[j].m == M_DROP;
	sl_buf_printf(&b, "%s%llu records", fit_only ? "fitted on " : "",
	              (unsigned long long)records);
	if (drops)
		sl_buf_printf(&b, ", %llu dropped", (unsigned long long)dropped);
	for (size_t j = 0; j < M->nf; j++) {
		const struct fld *d = &M->f[j];
		if (d->m == M_DROP)
			continue;
		sl_buf_printf(&b, "%s %s %llu (%s", any++ ? "," : "; filled",
		              d->name, (unsigned long long)(fit_only ? d->need : d->filled),
		              method_names[d->m]);
		if (d->fallback)
			sl_buf_printf(&b, ", %llu of them by the mean",
			              (unsigned long long)d->fallback);
		sl_buf_putc(&b, ')');
	}
	if (!M->nf)
		sl_buf_puts(&b, "; no fields to impute");
	sl_warn("%s", sl_buf_cstr(&b));
	sl_buf_free(&b);
}

static void model_free(struct model *M)
{
	for (size_t j = 0; j < M->nf; j++) {
		struct fld *d = &M->f[j];
		free(d->name);
		free(d->text);
		free(d->coef);
		free(d->dv);
		free(d->iv);
		strcount_free(&d->sc);
	}
	for (size_t f = 0; f < M->nft; f++)
		free(M->ft[f].name);
	if (M->sdonor != M->donor)
		free(M->sdonor);
	free(M->donor);
	free(M->f);
	free(M->ft);
}

/* NAME=VALUE into a list. */
static void add_pair(struct pair **p, size_t *n, const char *arg, const char *opt)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		sl_die(2, "%s: want FIELD=VALUE, not '%s'", opt, arg);
	*p = sl_xrealloc(*p, (*n + 1) * sizeof **p);
	(*p)[*n].name = sl_xstrndup(arg, (size_t)(eq - arg));
	(*p)[*n].val = eq + 1;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*p)[i].name, (*p)[*n].name))
			sl_die(2, "%s: field '%s' given twice", opt, (*p)[*n].name);
	++*n;
}

static int parse_method(const char *s)
{
	for (int m = 0; m < NMETHOD; m++)
		if (!strcmp(s, method_names[m]))
			return m;
	return -1;
}

enum {
	OPT_FIT = SL_OPT_FIRST_FREE,
	OPT_FIT_ONLY,
	OPT_APPLY,
	OPT_FIELDS,
	OPT_METHOD,
	OPT_METHOD_FOR,
	OPT_VALUE,
	OPT_VALUE_FOR,
	OPT_K,
	OPT_KNN_SCALE,
	OPT_ROUND,
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
	    {"method-for", required_argument, 0, OPT_METHOD_FOR},
	    {"value", required_argument, 0, OPT_VALUE},
	    {"value-for", required_argument, 0, OPT_VALUE_FOR},
	    {"k", required_argument, 0, OPT_K},
	    {"knn-scale", required_argument, 0, OPT_KNN_SCALE},
	    {"round", no_argument, 0, OPT_ROUND},
	    {"trailer", no_argument, 0, OPT_TRAILER},
	    {0, 0, 0, 0},
	};
	struct opts o = {.method = M_MEAN, .k = 5, .scale = 1};
	struct model M = {0};
	struct run R = {0};
	struct sl_val fitlin = {0}; /* R.lin, for a fit */
	struct sl_big arena = {0};
	struct sl_cols *cols = NULL;
	uint64_t records = 0, dropped = 0;
	int c, rc = 0, nin;
	long long k;

	sl_init(argv[0]);
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		if (c != OPT_APPLY && c != OPT_FIT && c != OPT_FIT_ONLY && c != OPT_ROUND &&
		    c != OPT_TRAILER)
			o.fitopt = 1;
		switch (c) {
		case OPT_FIT: o.fit = optarg; break;
		case OPT_FIT_ONLY: o.fit = optarg; o.fit_only = 1; break;
		case OPT_APPLY: o.apply = optarg; break;
		case OPT_FIELDS: o.fields = optarg; break;
		case OPT_METHOD:
			if ((c = parse_method(optarg)) < 0)
				sl_die(2, "--method: drop, mean, median, mode, constant, marker, "
				          "knn or regression, not '%s'", optarg);
			o.method = (enum method)c;
			break;
		case OPT_METHOD_FOR:
			add_pair(&o.mfor, &o.nmfor, optarg, "--method-for");
			if (parse_method(o.mfor[o.nmfor - 1].val) < 0)
				sl_die(2, "--method-for: no method '%s'", o.mfor[o.nmfor - 1].val);
			break;
		case OPT_VALUE: o.value = optarg; break;
		case OPT_VALUE_FOR: add_pair(&o.vfor, &o.nvfor, optarg, "--value-for"); break;
		case OPT_K:
			k = sl_parse_count(optarg);
			if (k < 1 || k > 1000000)
				sl_die(2, "--k: want a count from 1 to 1000000, not '%s'", optarg);
			o.k = (int)k;
			break;
		case OPT_KNN_SCALE:
			if (!strcmp(optarg, "zscore") || !strcmp(optarg, "none"))
				o.scale = !strcmp(optarg, "zscore");
			else
				sl_die(2, "--knn-scale: zscore or none, not '%s'", optarg);
			break;
		case OPT_ROUND: o.round = o.round_set = 1; break;
		case OPT_TRAILER: o.trailer = 1; break;
		default:
			usage(2);
			return 2;
		}
	}
	if (o.apply && (o.fit || o.fitopt))
		sl_die(2, "--apply takes the fields and methods from the state; it "
		          "goes with no --fit or fitting option");
	if (o.trailer && !o.apply)
		sl_die(2, "--trailer goes with --apply; a fit puts its counts in the "
		          "header's lineage");
	if (o.fit && o.fit_only && o.cli.output)
		sl_die(2, "--fit-only writes no stream; -o does not go with it");
	M.k = o.k;
	M.scale = o.scale;
	M.round = o.round;
	nin = argc - optind;
	if (o.apply) {
		if (read_state(&M, o.apply) < 0)
			return 1;
		if (o.round_set) /* an output policy, not something learnt */
			M.round = 1;
		for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
			struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
			rc = apply_stream(&M, &o, r, &R, NULL, argc, argv);
			sl_reader_close(r);
		}
		records = R.records;
		dropped = R.dropped;
	} else {
		struct sl_val lc;
		rc = gather(&M, &o, nin, argv + optind, &arena, &cols, &R.first, &records,
		            &dropped);
		if (!rc)
			fit_model(&M);
		for (size_t j = 0; j < M.nf && !rc; j++)
			if (M.f[j].need && !M.f[j].have) {
				sl_warn("%s: field \"%s\": %llu values missing, and none present "
				        "to learn the %s from", nin ? argv[optind] : "(stdin)",
				        M.f[j].name, (unsigned long long)M.f[j].need,
				        method_names[M.f[j].m]);
				rc = 1;
			}
		if (!rc && o.fit && write_state(&M, o.fit, R.first, argc, argv) < 0)
			rc = 1;
		if (!rc && !o.fit_only) {
			const char *name = nin ? argv[optind] : "(stdin)";
			struct sl_reader *r = cols ? sl_reader_cols(cols, name)
			                           : sl_reader_mem(arena.p, arena.n, name);
			fitlin = sl_val_copy(&R.first->lineage);
			R.lin = &fitlin;
			sl_header_free(R.first);
			R.first = NULL;
			lc = counts_val(&M, records, dropped);
			rc = apply_stream(&M, &o, r, &R, &lc, argc, argv);
			sl_val_free(&lc);
			sl_reader_close(r);
		}
	}
	if (R.w && !rc && o.trailer &&
	    sl_write_trailer(R.w, R.outh, &R.lastlin, apply_counts(&M, records, dropped)) < 0)
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
		report(&M, records, dropped, o.fit_only);
	model_free(&M);
	for (size_t i = 0; i < o.nmfor; i++)
		free(o.mfor[i].name);
	for (size_t i = 0; i < o.nvfor; i++)
		free(o.vfor[i].name);
	free(o.mfor);
	free(o.vfor);
	free(R.S.out);
	free(R.S.x);
	free(R.S.dist);
	free(R.S.best);
	free(R.S.bestd);
	sl_header_free(R.first);
	sl_val_free(&fitlin);
	sl_header_free(R.outh);
	sl_val_free(&R.lastlin);
	sl_big_free(&arena);
	sl_cols_free(cols);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-impute [-f] [-o FILE] [--zstd[=LEVEL]]\n"
	        "           [--fit STATE | --fit-only STATE | --apply STATE]\n"
	        "           [--fields F,...] [--method M] [--method-for F=M ...]\n"
	        "           [--value V] [--value-for F=V ...] [--k N]\n"
	        "           [--knn-scale zscore|none] [--round] [--trailer] [FILE ...]\n"
	        "  --fields F,...     fields to impute (default: every int and float)\n"
	        "  --method M         drop, mean (default), median, mode, constant,\n"
	        "                     marker, knn or regression\n"
	        "  --method-for F=M   method M for field F\n"
	        "  --value V          the constant of constant and marker\n"
	        "  --k N              neighbours for knn (default 5)\n"
	        "  --knn-scale S      z-score the knn distances (default) or none\n"
	        "  --round            int fields stay int: fills rounded\n"
	        "  --fit STATE        learn from the input, write the state, impute\n"
	        "  --fit-only STATE   learn and write the state only\n"
	        "  --apply STATE      impute with a learnt state\n"
	        "  --trailer          with --apply: end the output with a header whose\n"
	        "                     lineage has the counts\n");
}
