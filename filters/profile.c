/*
 * profile.c - sluice-profile: a data-quality report, one row per field.
 *
 * For each field: how many values are present and missing; how many are
 * distinct, and the most common ones; for numbers (and vector elements,
 * and booleans as 0/1) the minimum, maximum, mean, standard deviation and
 * quantiles; for strings, bins and vectors their lengths.  For the whole
 * input: the number of records and of exact duplicates (records whose
 * encoded bytes equal an earlier record's).
 *
 * Everything is computed in one pass with bounded memory per field:
 *
 *   distinct, top  a hash table of 64-bit value hashes with a count each
 *                  (and, for strings, the first TOP_PREFIX bytes, to print
 *                  them).  Exact up to DISTINCT_MAX values; past that,
 *                  new values are no longer added: the distinct count
 *                  becomes a HyperLogLog estimate (2^HLL_P registers, a
 *                  relative error of about 0.4%), while the values
 *                  already in the table keep exact counts, so the top
 *                  values are the most common among the first
 *                  DISTINCT_MAX distinct ones.
 *   mean, std      Welford's update: numerically stable, O(1).
 *   quantiles      every value up to QUANT_MAX of them, sorted at the end
 *                  (exact, linear interpolation between closest ranks);
 *                  past that a uniform reservoir sample of QUANT_MAX
 *                  values, drawn with the seeded generator.
 *   duplicates     a set of 128-bit hashes of the encoded records, up to
 *                  DUP_MAX distinct records; past that, duplicates of
 *                  records not in the set go uncounted (a lower bound,
 *                  flagged as such).
 *
 * So a field holds at most about 6 MiB of table, 7 MiB of string
 * prefixes, 8 MiB of quantile sample and 64 KiB of registers; the
 * duplicate set at most 64 MiB.  No record is kept.
 */
#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISTINCT_MAX 100000       /* distinct values counted exactly */
#define TAB_MAX (1u << 18)        /* table slots (load <= 1/2) */
#define TOP_PREFIX 64             /* bytes of a string kept for the top list */
#define TOP_N 5                   /* top values reported */
#define HLL_P 16                  /* HyperLogLog: 2^16 registers */
#define QUANT_MAX (1u << 20)      /* values kept for quantiles */
#define DUP_MAX (2u << 20)        /* distinct records remembered */

struct opts {
	struct sl_cli cli;
	int table; /* 1: the aligned table, 0: a stream, -1: by stdout */
	uint64_t seed;
};

/* A distinct value: its hash (0: an empty slot), its count, and what it
 * takes to print it: the value of a bool, int or float, or the offset of
 * a string's prefix in the field's arena. */
struct ent {
	uint64_t h, count, ref;
};

struct fstat {
	struct sl_type type;
	uint64_t count, missing;

	struct ent *tab; /* distinct values */
	size_t ntab, cap;
	uint8_t *hll;       /* set once the table is full */
	struct sl_buf arena; /* string prefixes: a uint16 length, the bytes */

	uint64_t n, nan, pinf, ninf; /* numbers seen; NaNs, infinities */
	double mean, m2, min, max;
	double *q; /* quantile sample */
	size_t qn, qcap;
	uint64_t qseen;

	uint64_t lmin, lmax, lenseen; /* lengths of str, bin, vectors */
	double lsum;
	uint64_t bad_utf8;

	struct ent top[TOP_N]; /* set by field_finish() */
	size_t ntop;
};

struct dupset {
	uint64_t *slot; /* pairs; 0,0 is empty */
	size_t n, cap;
	int full;
};

struct profile {
	struct sl_header *h; /* the first header; later ones must match */
	struct fstat *f;
	uint64_t *hashes; /* of the current record's values */
	uint64_t records, duplicates;
	struct dupset dups;
	struct sl_rng rng;
};

static void usage(int status);

/* -------------------------------------------------------------- hashing */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The high and low halves of a 64x64-bit product, folded. */
static uint64_t mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A fast 64-bit hash of bytes, 16 at a time; different seeds give
 * different functions, so two of them make a 128-bit hash. */
static uint64_t hash_bytes(const void *data, size_t n, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = mix64(seed ^ n), x, y;
	size_t left = n;

	for (; left >= 16; p += 16, left -= 16) {
		memcpy(&x, p, 8);
		memcpy(&y, p + 8, 8);
		h = mum(x ^ 0xa0761d6478bd642fULL, y ^ h ^ 0xe7037ed1a0b428dbULL);
	}
	x = y = 0;
	memcpy(&x, p, left < 8 ? left : 8);
	if (left > 8)
		memcpy(&y, p + 8, left - 8);
	h = mum(x ^ h ^ 0x8ebc6af09c88c6e3ULL, y ^ 0x589965cc75374cc3ULL);
	return mix64(h);
}

/* The hash of a value: equal values (0.0 and -0.0, every NaN) hash alike.
 * 0 marks an empty slot, so no value hashes to it. */
static uint64_t hash_value(const struct sl_value *v)
{
	uint64_t h, bits;
	double d;

	switch (v->kind) {
	case SL_BOOL:
		h = mix64(0x51ed270b27u + (uint64_t)v->u.b);
		break;
	case SL_INT:
		h = mix64((uint64_t)v->u.i ^ 0x2545f4914f6cdd1dULL);
		break;
	case SL_FLOAT:
		d = v->u.f == 0 ? 0.0 : isnan(v->u.f) ? NAN : v->u.f;
		memcpy(&bits, &d, 8);
		h = mix64(bits ^ 0x9e3779b97f4a7c15ULL);
		break;
	default:
		h = hash_bytes(v->u.s.p, v->u.s.n, 0x243f6a8885a308d3ULL);
	}
	return h ? h : 1;
}

/* ------------------------------------------------------------ HyperLogLog */

static void hll_add(uint8_t *reg, uint64_t h)
{
	size_t j = (size_t)(h >> (64 - HLL_P));
	uint64_t w = h << HLL_P;
	uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : 64 - HLL_P + 1;

	if (rank > reg[j])
		reg[j] = rank;
}

/* Ertl's improved estimator ("New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017): the registers' histogram C[k] replaces
 * the raw harmonic mean, which removes the raw estimate's bias in the
 * range where linear counting hands over, without tables of constants. */
static double hll_sigma(double x)
{
	double y = 1, z = x, old;

	if (x == 1)
		return INFINITY;
	do {
		x *= x;
		old = z;
		z += x * y;
		y += y;
	} while (z != old);
	return z;
}

static double hll_tau(double x)
{
	double y = 1, z, old;

	if (x == 0 || x == 1)
		return 0;
	z = 1 - x;
	do {
		x = sqrt(x);
		old = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != old);
	return z / 3;
}

static uint64_t hll_estimate(const uint8_t *reg)
{
	enum { Q = 64 - HLL_P };
	const double m = (double)(1u << HLL_P);
	uint64_t c[Q + 2] = {0};
	double z;

	for (size_t j = 0; j < (1u << HLL_P); j++)
		c[reg[j]]++;
	z = m * hll_tau(1 - (double)c[Q + 1] / m);
	for (int k = Q; k >= 1; k--)
		z = 0.5 * (z + (double)c[k]);
	z += m * hll_sigma((double)c[0] / m);
	return (uint64_t)llround(m * m / (2 * log(2)) / z);
}

/* ------------------------------------------------------- distinct values */

static struct ent *tab_find(struct ent *tab, size_t cap, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (tab[i].h && tab[i].h != h)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static void tab_grow(struct fstat *f)
{
	size_t cap = f->cap ? 2 * f->cap : 64;
	struct ent *t = sl_xcalloc(cap, sizeof *t);

	for (size_t i = 0; i < f->cap; i++)
		if (f->tab[i].h)
			*tab_find(t, cap, f->tab[i].h) = f->tab[i];
	free(f->tab);
	f->tab = t;
	f->cap = cap;
}

/* What a new table entry keeps to print the value later. */
static uint64_t value_ref(struct fstat *f, const struct sl_value *v)
{
	uint64_t r = 0;
	size_t n;

	switch (v->kind) {
	case SL_BOOL: r = (uint64_t)v->u.b; break;
	case SL_INT: r = (uint64_t)v->u.i; break;
	case SL_FLOAT: { /* one spelling for equal values: 0.0, NaN */
		double d = v->u.f == 0 ? 0.0 : isnan(v->u.f) ? NAN : v->u.f;
		memcpy(&r, &d, 8);
		break;
	}
	case SL_STR: {
		uint16_t len;
		n = v->u.s.n;
		if (n > TOP_PREFIX) { /* cut at a character boundary */
			n = TOP_PREFIX;
			while (n && ((unsigned char)v->u.s.p[n] & 0xc0) == 0x80)
				n--;
		}
		len = (uint16_t)n | (n < v->u.s.n ? 0x8000 : 0); /* top bit: cut */
		r = f->arena.n;
		sl_buf_put(&f->arena, &len, sizeof len);
		sl_buf_put(&f->arena, v->u.s.p, n);
		break;
	}
	default:
		break;
	}
	return r;
}

/* Counts value v, whose hash is h. */
static void count_distinct(struct fstat *f, const struct sl_value *v,
                           uint64_t h)
{
	struct ent *e;

	if (f->cap) {
		e = tab_find(f->tab, f->cap, h);
		if (e->h) {
			e->count++;
			if (f->hll)
				hll_add(f->hll, h);
			return;
		}
	}
	if (f->hll) {
		hll_add(f->hll, h);
		return;
	}
	if (f->ntab == DISTINCT_MAX) { /* from now on, an estimate */
		f->hll = sl_xcalloc(1u << HLL_P, 1);
		for (size_t i = 0; i < f->cap; i++)
			if (f->tab[i].h)
				hll_add(f->hll, f->tab[i].h);
		hll_add(f->hll, h);
		return;
	}
	if (2 * (f->ntab + 1) > f->cap)
		tab_grow(f);
	e = tab_find(f->tab, f->cap, h);
	e->h = h;
	e->count = 1;
	e->ref = value_ref(f, v);
	f->ntab++;
}

/* --------------------------------------------------------------- numbers */

static void add_number(struct profile *p, struct fstat *f, double x)
{
	double d;

	if (isnan(x)) {
		f->nan++;
		return;
	}
	if (f->qseen == 0 || x < f->min)
		f->min = x;
	if (f->qseen == 0 || x > f->max)
		f->max = x;
	if (isinf(x)) { /* kept out of the mean, which they decide alone */
		*(x > 0 ? &f->pinf : &f->ninf) += 1;
	} else {
		f->n++;
		d = x - f->mean;
		f->mean += d / (double)f->n;
		f->m2 += d * (x - f->mean);
	}

	if (f->qn < QUANT_MAX) {
		if (f->qn == f->qcap) {
			f->qcap = f->qcap ? 2 * f->qcap : 256;
			f->q = sl_xrealloc(f->q, f->qcap * sizeof *f->q);
		}
		f->q[f->qn++] = x;
	} else { /* reservoir: value i (from 0) stays with chance N / (i+1) */
		uint64_t j = sl_rng_below(&p->rng, f->qseen + 1);
		if (j < QUANT_MAX)
			f->q[j] = x;
	}
	f->qseen++;
}

static void add_length(struct fstat *f, uint64_t len)
{
	if (f->lenseen == 0 || len < f->lmin)
		f->lmin = len;
	if (f->lenseen == 0 || len > f->lmax)
		f->lmax = len;
	f->lenseen++;
	f->lsum += (double)len;
}

/* ---------------------------------------------------------------- records */

/* Adds one value of field f; h is its hash. */
static void profile_value(struct profile *p, struct fstat *f,
                          const struct sl_value *v, uint64_t h)
{
	size_t n;

	if (v->kind == SL_NIL) {
		f->missing++;
		return;
	}
	f->count++;
	count_distinct(f, v, h);
	switch (v->kind) {
	case SL_BOOL: add_number(p, f, v->u.b); break;
	case SL_INT: add_number(p, f, (double)v->u.i); break;
	case SL_FLOAT: add_number(p, f, v->u.f); break;
	case SL_STR: add_length(f, sl_utf8_len(v->u.s.p, v->u.s.n)); break;
	case SL_BIN:
		add_length(f, v->u.s.n);
		if (sl_utf8_valid(v->u.s.p, v->u.s.n) != v->u.s.n)
			f->bad_utf8++;
		break;
	case SL_VEC:
		n = v->u.s.n / sl_elem_size(f->type.elem);
		add_length(f, n);
		for (size_t i = 0; i < n; i++)
			add_number(p, f, sl_vec_get(f->type.elem, v->u.s.p, i));
		break;
	default:
		SL_ASSERT(!"value kind");
	}
}

/* Is this record's encoding new?  Remembers it while there is room. */
static int dup_seen(struct dupset *d, const void *raw, size_t n)
{
	uint64_t a = hash_bytes(raw, n, 0x13198a2e03707344ULL);
	uint64_t b = hash_bytes(raw, n, 0xa4093822299f31d0ULL);
	size_t i;

	if (!a && !b)
		a = 1;
	if (!d->full && 2 * (d->n + 1) > d->cap) {
		if (d->cap >= 2 * (size_t)DUP_MAX) {
			d->full = 1;
		} else {
			size_t cap = d->cap ? 2 * d->cap : 1024;
			uint64_t *s = sl_xcalloc(2 * cap, sizeof *s);
			for (size_t k = 0; k < d->cap; k++) {
				uint64_t x = d->slot[2 * k], y = d->slot[2 * k + 1];
				if (!x && !y)
					continue;
				for (i = (size_t)x & (cap - 1); s[2 * i] || s[2 * i + 1];)
					i = (i + 1) & (cap - 1);
				s[2 * i] = x;
				s[2 * i + 1] = y;
			}
			free(d->slot);
			d->slot = s;
			d->cap = cap;
		}
	}
	for (i = (size_t)a & (d->cap - 1); d->slot[2 * i] || d->slot[2 * i + 1];
	     i = (i + 1) & (d->cap - 1))
		if (d->slot[2 * i] == a && d->slot[2 * i + 1] == b)
			return 1;
	if (!d->full) {
		d->slot[2 * i] = a;
		d->slot[2 * i + 1] = b;
		d->n++;
	}
	return 0;
}

/* Adds one record: its values, one per field, and its encoded bytes.
 * The table slots of all its values are fetched before any is used, so
 * the cache misses of a wide record overlap instead of queueing. */
static void profile_record(struct profile *p, const struct sl_value *v,
                           const void *raw, size_t rawn)
{
	uint64_t *h = p->hashes;

	for (size_t i = 0; i < p->h->nfields; i++) {
		if (v[i].kind == SL_NIL)
			continue;
		h[i] = hash_value(&v[i]);
		if (p->f[i].cap)
			__builtin_prefetch(&p->f[i].tab[h[i] & (p->f[i].cap - 1)]);
	}
	for (size_t i = 0; i < p->h->nfields; i++)
		profile_value(p, &p->f[i], &v[i], h[i]);
	p->records++;
	if (dup_seen(&p->dups, raw, rawn))
		p->duplicates++;
}

static void profile_start(struct profile *p, const struct sl_header *h,
                          uint64_t seed)
{
	memset(p, 0, sizeof *p);
	p->h = sl_header_copy(h);
	p->f = sl_xcalloc(h->nfields + 1, sizeof *p->f);
	p->hashes = sl_xcalloc(h->nfields + 1, sizeof *p->hashes);
	for (size_t i = 0; i < h->nfields; i++)
		p->f[i].type = h->fields[i].type;
	sl_rng_seed(&p->rng, seed);
}

static void profile_free(struct profile *p)
{
	for (size_t i = 0; i < p->h->nfields; i++) {
		free(p->f[i].tab);
		free(p->f[i].hll);
		free(p->f[i].q);
		sl_buf_free(&p->f[i].arena);
	}
	free(p->f);
	free(p->hashes);
	free(p->dups.slot);
	sl_header_free(p->h);
}

/* ---------------------------------------------------------------- report */

/* The report's fields: one record per profiled field. */
enum col {
	C_NAME, C_TYPE, C_COUNT, C_MISSING, C_MISSING_PCT, C_DISTINCT,
	C_DISTINCT_EXACT, C_MIN, C_MAX, C_MEAN, C_STD, C_P1, C_P5, C_P25, C_P50,
	C_P75, C_P95, C_P99, C_QUANT_EXACT, C_NAN, C_LEN_MIN, C_LEN_MEAN,
	C_LEN_MAX, C_INVALID_UTF8, C_TOP, NCOLS
};

static const struct {
	const char *name, *type;
} cols[NCOLS] = {
	{"name", "str"},          {"type", "str"},         {"count", "int"},
	{"missing", "int"},       {"missing_pct", "float"}, {"distinct", "int"},
	{"distinct_exact", "bool"}, {"min", "float"},      {"max", "float"},
	{"mean", "float"},        {"std", "float"},        {"p1", "float"},
	{"p5", "float"},          {"p25", "float"},        {"p50", "float"},
	{"p75", "float"},         {"p95", "float"},        {"p99", "float"},
	{"quantiles_exact", "bool"}, {"nan", "int"},       {"len_min", "int"},
	{"len_mean", "float"},    {"len_max", "int"},      {"invalid_utf8", "int"},
	{"top", "str"},
};

static const double quant_p[] = {0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99};

/* Quantile p of sorted x[0..n): linear interpolation between the closest
 * ranks, rank p (n - 1) counted from 0 (NumPy's default, R's type 7). */
static double quantile(const double *x, size_t n, double p)
{
	double pos = p * (double)(n - 1), frac;
	size_t lo = (size_t)pos;

	if (lo + 1 >= n)
		return x[n - 1];
	frac = pos - (double)lo;
	return frac == 0 ? x[lo] : x[lo] + (x[lo + 1] - x[lo]) * frac;
}

static struct sl_value vnil(void)
{
	struct sl_value v = {SL_NIL, {0}};
	return v;
}

static struct sl_value vint(uint64_t i)
{
	struct sl_value v = {SL_INT, {.i = (int64_t)i}};
	return v;
}

static struct sl_value vfloat(double f)
{
	struct sl_value v = {SL_FLOAT, {.f = f}};
	return v;
}

static struct sl_value vbool(int b)
{
	struct sl_value v = {SL_BOOL, {.b = b}};
	return v;
}

static struct sl_value vstr(const char *s, size_t n)
{
	struct sl_value v = {SL_STR, {.s = {s, n}}};
	return v;
}

/* Does x come before y in the top list: more common, or as common and
 * smaller? */
static int ent_before(const struct fstat *f, const struct ent *x,
                      const struct ent *y)
{
	if (x->count != y->count)
		return x->count > y->count;
	switch (f->type.kind) {
	case SL_INT:
		return (int64_t)x->ref < (int64_t)y->ref;
	case SL_FLOAT: {
		double dx, dy;
		memcpy(&dx, &x->ref, 8);
		memcpy(&dy, &y->ref, 8);
		if (isnan(dx) || isnan(dy)) /* NaN last */
			return !isnan(dx);
		return dx < dy;
	}
	case SL_STR: {
		uint16_t lx, ly;
		size_t nx, ny;
		int c;
		memcpy(&lx, f->arena.p + x->ref, 2);
		memcpy(&ly, f->arena.p + y->ref, 2);
		nx = lx & 0x7fffu;
		ny = ly & 0x7fffu;
		c = memcmp(f->arena.p + x->ref + 2, f->arena.p + y->ref + 2,
		           nx < ny ? nx : ny);
		return c ? c < 0 : lx < ly;
	}
	default:
		return x->ref < y->ref;
	}
}

/* Sorts x[0..n) in place: an LSD radix sort on the bits of the doubles,
 * mapped so that unsigned order is numeric order (no NaN here). */
static void sort_doubles(double *x, size_t n)
{
	uint64_t *a = (uint64_t *)x, *b = sl_xmalloc((n + 1) * sizeof *b), *t;
	size_t count[2048];

	for (size_t i = 0; i < n; i++) { /* negatives: all bits flipped */
		uint64_t u;
		memcpy(&u, &x[i], 8);
		a[i] = u >> 63 ? ~u : u | 1ULL << 63;
	}
	for (int shift = 0; shift < 64; shift += 11) {
		size_t sum = 0;
		memset(count, 0, sizeof count);
		for (size_t i = 0; i < n; i++)
			count[(a[i] >> shift) & 2047]++;
		for (size_t d = 0; d < 2048; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			b[count[(a[i] >> shift) & 2047]++] = a[i];
		t = a, a = b, b = t;
	}
	/* six passes: the sorted keys are back in b's first buffer, now a */
	if (a != (uint64_t *)x) {
		memcpy(x, a, n * sizeof *a);
		b = a;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		memcpy(&u, &x[i], 8);
		u = u >> 63 ? u & ~(1ULL << 63) : ~u;
		memcpy(&x[i], &u, 8);
	}
	free(b);
}

/* After the input: sorts the quantile sample and picks the top values. */
static void field_finish(struct fstat *f)
{
	sort_doubles(f->q, f->qn);
	if (f->type.kind != SL_BOOL && f->type.kind != SL_INT &&
	    f->type.kind != SL_FLOAT && f->type.kind != SL_STR)
		return;
	for (size_t i = 0; i < f->cap; i++) { /* insertion into top[] */
		size_t k = f->ntop;
		if (!f->tab[i].h)
			continue;
		if (k == TOP_N && !ent_before(f, &f->tab[i], &f->top[TOP_N - 1]))
			continue;
		if (k == TOP_N)
			k--;
		for (; k > 0 && ent_before(f, &f->tab[i], &f->top[k - 1]); k--)
			f->top[k] = f->top[k - 1];
		f->top[k] = f->tab[i];
		if (f->ntop < TOP_N)
			f->ntop++;
	}
}

/* Appends the value of top entry e: as JSON, or for the table (strings
 * bare, control characters as spaces). */
static void put_top_value(struct sl_buf *b, const struct fstat *f,
                          const struct ent *e, int json)
{
	char num[32];
	double d;
	uint16_t len;
	const char *s;
	size_t n, start = b->n;

	switch (f->type.kind) {
	case SL_BOOL:
		sl_buf_puts(b, e->ref ? "true" : "false");
		break;
	case SL_INT:
		sl_buf_put(b, num, (size_t)sl_fmt_int(num, (int64_t)e->ref));
		break;
	case SL_FLOAT:
		memcpy(&d, &e->ref, 8);
		sl_buf_put(b, num, (size_t)sl_fmt_float(num, d));
		break;
	default:
		memcpy(&len, f->arena.p + e->ref, 2);
		s = f->arena.p + e->ref + 2;
		n = len & 0x7fffu;
		if (json) {
			struct sl_buf t = {0};
			sl_buf_put(&t, s, n);
			if (len & 0x8000)
				sl_buf_puts(&t, "\xe2\x80\xa6");
			sl_json_str(b, t.p, t.n);
			sl_buf_free(&t);
			break;
		}
		sl_buf_put(b, s, n);
		for (size_t k = start; k < b->n; k++)
			if ((unsigned char)b->p[k] < 0x20)
				b->p[k] = ' ';
		if (len & 0x8000)
			sl_buf_puts(b, "\xe2\x80\xa6");
	}
}

/* The most common values as JSON, [[value, count], ...], or for the
 * table as "value (count), ...". */
static void put_top(struct sl_buf *b, const struct fstat *f, int json)
{
	if (json)
		sl_buf_putc(b, '[');
	for (size_t i = 0; i < f->ntop; i++) {
		if (i)
			sl_buf_puts(b, json ? "," : ", ");
		if (json)
			sl_buf_putc(b, '[');
		put_top_value(b, f, &f->top[i], json);
		sl_buf_printf(b, json ? ",%llu]" : " (%llu)",
		              (unsigned long long)f->top[i].count);
	}
	if (json)
		sl_buf_putc(b, ']');
}

/* Fills v[NCOLS] with the report on field i.  Strings point into tn (at
 * least 32 bytes) and top, which must outlive v. */
static void summarize(struct profile *p, size_t i, struct sl_value *v, char *tn,
                      struct sl_buf *top)
{
	struct fstat *f = &p->f[i];
	const char *name = p->h->fields[i].name;
	int numeric = f->type.kind == SL_BOOL || f->type.kind == SL_INT ||
	              f->type.kind == SL_FLOAT || f->type.kind == SL_VEC;

	for (int c = 0; c < NCOLS; c++)
		v[c] = vnil();
	sl_type_format(f->type, tn, 32);
	v[C_NAME] = vstr(name, strlen(name));
	v[C_TYPE] = vstr(tn, strlen(tn));
	v[C_COUNT] = vint(f->count);
	v[C_MISSING] = vint(f->missing);
	if (p->records)
		v[C_MISSING_PCT] = vfloat(100.0 * (double)f->missing / (double)p->records);
	v[C_DISTINCT] = vint(f->hll ? hll_estimate(f->hll) : f->ntab);
	v[C_DISTINCT_EXACT] = vbool(!f->hll);
	if (numeric && f->qseen) {
		uint64_t all = f->n + f->pinf + f->ninf;
		v[C_MIN] = vfloat(f->min);
		v[C_MAX] = vfloat(f->max);
		v[C_MEAN] = vfloat(f->pinf && f->ninf ? NAN
		                   : f->pinf          ? INFINITY
		                   : f->ninf          ? -INFINITY
		                                      : f->mean);
		if (all > 1)
			v[C_STD] = vfloat(f->pinf || f->ninf ? NAN
			                                     : sqrt(f->m2 / (double)(f->n - 1)));
		for (int k = 0; k < 7; k++)
			v[C_P1 + k] = vfloat(quantile(f->q, f->qn, quant_p[k]));
		v[C_QUANT_EXACT] = vbool(f->qseen == f->qn);
	}
	if (f->type.kind == SL_FLOAT ||
	    (f->type.kind == SL_VEC &&
	     (f->type.elem == SL_ELEM_F32 || f->type.elem == SL_ELEM_F64)))
		v[C_NAN] = vint(f->nan);
	if (f->lenseen) {
		v[C_LEN_MIN] = vint(f->lmin);
		v[C_LEN_MEAN] = vfloat(f->lsum / (double)f->lenseen);
		v[C_LEN_MAX] = vint(f->lmax);
	}
	if (f->type.kind == SL_BIN)
		v[C_INVALID_UTF8] = vint(f->bad_utf8);
	else if (f->type.kind == SL_STR)
		v[C_INVALID_UTF8] = vint(0); /* the reader rejects invalid UTF-8 */
	top->n = 0;
	if (f->ntop) {
		put_top(top, f, 1);
		v[C_TOP] = vstr(top->p, top->n);
	}
}

/* The report as a stream: the totals go in the header. */
static int write_report(struct profile *p, struct sl_writer *w, int argc,
                        char **argv)
{
	struct sl_header *h = sl_header_new();
	struct sl_value v[NCOLS];
	struct sl_buf top = {0};
	struct sl_type t;
	char tn[32];

	for (int c = 0; c < NCOLS; c++) {
		SL_ASSERT(sl_type_parse(cols[c].type, &t) == 0);
		sl_header_add(h, cols[c].name, t);
	}
	sl_val_set(&h->meta, "records", sl_val_int((int64_t)p->records));
	sl_val_set(&h->meta, "duplicates", sl_val_int((int64_t)p->duplicates));
	sl_val_set(&h->meta, "duplicates_exact", sl_val_bool(!p->dups.full));
	sl_val_free(&h->lineage);
	h->lineage = sl_val_copy(&p->h->lineage);
	sl_header_lineage(h, argc, argv);
	sl_write_header(w, h);
	for (size_t i = 0; i < p->h->nfields; i++) {
		summarize(p, i, v, tn, &top);
		sl_write_record(w, v, NCOLS);
	}
	sl_buf_free(&top);
	sl_header_free(h);
	return sl_writer_error(w) ? -1 : 0;
}

/* ----------------------------------------------------------------- table */

/* A number for people: integers whole, others to 6 significant digits. */
static void put_num(struct sl_buf *b, double x)
{
	if (isnan(x))
		sl_buf_puts(b, "NaN");
	else if (isinf(x))
		sl_buf_puts(b, x < 0 ? "-inf" : "inf");
	else if (x == floor(x) && fabs(x) < 1e15)
		sl_buf_printf(b, "%.0f", x);
	else if (fabs(x) >= 1e6 && fabs(x) < 1e15)
		sl_buf_printf(b, "%.1f", x);
	else
		sl_buf_printf(b, "%.6g", x);
}

/* A table cell from a report value. */
static void put_cell(struct sl_buf *b, const struct sl_value *v)
{
	switch (v->kind) {
	case SL_NIL: sl_buf_putc(b, '-'); break;
	case SL_BOOL: sl_buf_puts(b, v->u.b ? "yes" : "no"); break;
	case SL_INT: sl_buf_printf(b, "%lld", (long long)v->u.i); break;
	case SL_FLOAT: put_num(b, v->u.f); break;
	default: sl_buf_put(b, v->u.s.p, v->u.s.n); break;
	}
}

/* An aligned table of nrows x ncols cells (row 0: the titles); column 0
 * is left-aligned, the others right-aligned, the last one left-aligned
 * when left_last. */
static void put_table(struct sl_buf *out, struct sl_buf *cells, size_t *off,
                      size_t nrows, size_t ncols, int left_last)
{
	size_t *w = sl_xcalloc(ncols, sizeof *w);

	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			size_t k = r * ncols + c;
			size_t len = sl_utf8_len(cells->p + off[k], off[k + 1] - off[k]);
			if (len > w[c])
				w[c] = len;
		}
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			size_t k = r * ncols + c, n = off[k + 1] - off[k];
			size_t len = sl_utf8_len(cells->p + off[k], n);
			int left = c == 0 || (left_last && c + 1 == ncols);
			if (c)
				sl_buf_put(out, "  ", 2);
			for (size_t s = len; !left && s < w[c]; s++)
				sl_buf_putc(out, ' ');
			sl_buf_put(out, cells->p + off[k], n);
			for (size_t s = len; left && c + 1 < ncols && s < w[c]; s++)
				sl_buf_putc(out, ' ');
		}
		sl_buf_putc(out, '\n');
	}
	free(w);
}

static void cell_end(struct sl_buf *cells, size_t **off, size_t *n, size_t *cap)
{
	if (*n + 2 > *cap) {
		*cap = 2 * *cap + 64;
		*off = sl_xrealloc(*off, *cap * sizeof **off);
	}
	(*off)[++*n] = cells->n;
}

/* The report as two aligned tables: the numbers, then lengths and the
 * most common values for the fields that have them. */
static void table_report(struct profile *p, struct sl_buf *out)
{
	static const int main_cols[] = {C_NAME, C_TYPE,  C_COUNT, C_MISSING,
	                                C_MISSING_PCT, C_DISTINCT, C_MIN, C_P25,
	                                C_P50, C_P75, C_MAX, C_MEAN, C_STD};
	static const char *const main_titles[] = {
	    "field", "type", "count", "missing", "missing%", "distinct", "min",
	    "p25", "p50", "p75", "max", "mean", "std"};
	static const char *const more_titles[] = {"field", "len_min", "len_mean",
	                                          "len_max", "nan", "bad_utf8",
	                                          "top values (count)"};
	const size_t nmain = sizeof main_cols / sizeof *main_cols, nmore = 7;
	struct sl_buf cells = {0}, top = {0};
	size_t *off = NULL, ncell = 0, cap = 0, more_rows = 1;
	struct sl_value v[NCOLS];
	char tn[32];

	sl_buf_printf(out, "%llu record%s, %s%llu duplicate%s\n\n",
	              (unsigned long long)p->records, p->records == 1 ? "" : "s",
	              p->dups.full ? "at least " : "",
	              (unsigned long long)p->duplicates, p->duplicates == 1 ? "" : "s");
	cap = 64;
	off = sl_xmalloc(cap * sizeof *off);
	off[0] = 0;
	for (size_t c = 0; c < nmain; c++) {
		sl_buf_puts(&cells, main_titles[c]);
		cell_end(&cells, &off, &ncell, &cap);
	}
	for (size_t i = 0; i < p->h->nfields; i++) {
		summarize(p, i, v, tn, &top);
		for (size_t c = 0; c < nmain; c++) {
			if (main_cols[c] == C_DISTINCT && v[C_DISTINCT_EXACT].kind == SL_BOOL &&
			    !v[C_DISTINCT_EXACT].u.b)
				sl_buf_putc(&cells, '~');
			put_cell(&cells, &v[main_cols[c]]);
			cell_end(&cells, &off, &ncell, &cap);
		}
	}
	put_table(out, &cells, off, p->h->nfields + 1, nmain, 0);

	cells.n = 0;
	ncell = 0;
	for (size_t c = 0; c < nmore; c++) {
		sl_buf_puts(&cells, more_titles[c]);
		cell_end(&cells, &off, &ncell, &cap);
	}
	for (size_t i = 0; i < p->h->nfields; i++) {
		summarize(p, i, v, tn, &top);
		if (v[C_LEN_MIN].kind == SL_NIL && v[C_TOP].kind == SL_NIL &&
		    v[C_NAN].kind == SL_NIL)
			continue;
		put_cell(&cells, &v[C_NAME]);
		cell_end(&cells, &off, &ncell, &cap);
		put_cell(&cells, &v[C_LEN_MIN]);
		cell_end(&cells, &off, &ncell, &cap);
		put_cell(&cells, &v[C_LEN_MEAN]);
		cell_end(&cells, &off, &ncell, &cap);
		put_cell(&cells, &v[C_LEN_MAX]);
		cell_end(&cells, &off, &ncell, &cap);
		put_cell(&cells, &v[C_NAN]);
		cell_end(&cells, &off, &ncell, &cap);
		put_cell(&cells, &v[C_INVALID_UTF8]);
		cell_end(&cells, &off, &ncell, &cap);
		if (v[C_TOP].kind == SL_NIL)
			sl_buf_putc(&cells, '-');
		else if (p->f[i].top[0].count == 1) /* a list of singletons says less */
			sl_buf_printf(&cells, p->f[i].hll ? "(no repeats in the first %d)"
			                                  : "(all distinct)",
			              DISTINCT_MAX);
		else
			put_top(&cells, &p->f[i], 0);
		cell_end(&cells, &off, &ncell, &cap);
		more_rows++;
	}
	if (more_rows > 1) {
		sl_buf_putc(out, '\n');
		put_table(out, &cells, off, more_rows, nmore, 1);
	}
	sl_buf_free(&cells);
	sl_buf_free(&top);
	free(off);
}

/* ------------------------------------------------------------------ main */

enum { OPT_TABLE = SL_OPT_FIRST_FREE, OPT_SEED };

/* Is path a regular file, or nothing yet?  Only those are replaced by
 * renaming: renaming over /dev/null would replace the device. */
static int regular_or_new(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? errno == ENOENT : S_ISREG(st.st_mode);
}

/* Writes b to standard output, or to FILE: a regular file is written
 * under a temporary name and renamed into place when complete. */
static void text_out(const struct opts *o, struct sl_buf *b)
{
	const char *path = o->cli.output;
	char *tmp = NULL;
	const char *name = "(stdout)", *p = b->p;
	size_t n = b->n;
	int fd = 1;

	if (path && strcmp(path, "-") != 0 && !regular_or_new(path)) {
		fd = open(path, O_WRONLY | O_TRUNC); /* a device or a pipe */
		if (fd < 0)
			sl_die(1, "%s: %s", path, strerror(errno));
		name = path;
	} else if (path && strcmp(path, "-") != 0) {
		tmp = sl_xmalloc(strlen(path) + 16);
		sprintf(tmp, "%s.XXXXXX", path);
		fd = mkstemp(tmp);
		if (fd < 0)
			sl_die(1, "%s: cannot create a temporary file beside it: %s", path,
			       strerror(errno));
		name = path;
	}
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			if (tmp)
				unlink(tmp);
			sl_die(1, "%s: write error: %s", name, strerror(e));
		}
		p += k;
		n -= (size_t)k;
	}
	if (tmp) {
		mode_t um = umask(0);
		umask(um);
		fchmod(fd, 0666 & ~um);
		if (close(fd) < 0 || rename(tmp, path) < 0) {
			int e = errno;
			unlink(tmp);
			sl_die(1, "%s: %s", path, strerror(e));
		}
		free(tmp);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"stream", no_argument, 0, 's'},
	    {"table", no_argument, 0, OPT_TABLE},
	    {"seed", required_argument, 0, OPT_SEED},
	    {0, 0, 0, 0},
	};
	struct opts o;
	struct profile p;
	struct sl_writer *w = NULL;
	char *stdin_only[] = {"-"}, **inputs, *end, *err = NULL;
	int c, ninputs, started = 0;

	sl_init(argv[0]);
	memset(&o, 0, sizeof o);
	o.table = -1;
	while ((c = getopt_long(argc, argv, "o:fzs", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case 's': o.table = 0; break;
		case OPT_TABLE: o.table = 1; break;
		case OPT_SEED:
			errno = 0;
			o.seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg || *optarg == '-') {
				sl_warn("--seed: '%s' is not a non-negative integer", optarg);
				usage(2);
				exit(2);
			}
			break;
		default:
			usage(2);
			exit(2);
		}
	}
	if (o.table < 0)
		o.table = isatty(1) && !o.cli.output;
	if (o.table && o.cli.w.zstd) {
		sl_warn("--zstd compresses a stream: it does not go with --table");
		usage(2);
		exit(2);
	}
	inputs = optind < argc ? argv + optind : stdin_only;
	ninputs = optind < argc ? argc - optind : 1;
	if (!o.table) {
		w = sl_writer_open(o.cli.output, &o.cli.w);
		if (sl_writer_error(w))
			sl_die(1, "%s", sl_writer_error(w));
	}

	for (int i = 0; i < ninputs; i++) {
		struct sl_reader *r = sl_reader_open(inputs[i]);
		int rc;

		while ((rc = sl_read(r)) > 0) {
			if (rc == SL_RECORD) {
				const void *raw;
				size_t rawn;
				sl_reader_raw(r, &raw, &rawn);
				profile_record(&p, sl_reader_values(r), raw, rawn);
			} else if (!started) {
				profile_start(&p, sl_reader_header(r), o.seed);
				started = 1;
			} else if (!sl_header_same_fields(p.h, sl_reader_header(r))) {
				if (w)
					sl_writer_abort(w);
				sl_die(1, "%s: segment %llu: its fields differ from those of "
				          "the first segment; profile such streams apart",
				       sl_reader_name(r),
				       (unsigned long long)sl_reader_segments(r));
			}
		}
		if (rc == SL_ERROR) {
			if (w)
				sl_writer_abort(w);
			sl_die(1, "%s", sl_reader_error(r));
		}
		if (i == 0 && started) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &p.h->lineage);
		sl_reader_close(r);
	}

	for (size_t i = 0; i < p.h->nfields; i++)
		field_finish(&p.f[i]);
	if (o.table) {
		struct sl_buf out = {0};
		table_report(&p, &out);
		text_out(&o, &out);
		sl_buf_free(&out);
	} else {
		write_report(&p, w, argc, argv);
		if (sl_writer_close(w, &err) < 0)
			sl_die(1, "%s", err);
		sl_warn("%llu record%s, %s%llu duplicate%s", (unsigned long long)p.records,
		        p.records == 1 ? "" : "s", p.dups.full ? "at least " : "",
		        (unsigned long long)p.duplicates, p.duplicates == 1 ? "" : "s");
	}
	profile_free(&p);
	return 0;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-profile [-s | --table] [--seed S] [-f] [-o FILE] "
	        "[--zstd[=LEVEL]]\n"
	        "                      [file ...]\n");
}
