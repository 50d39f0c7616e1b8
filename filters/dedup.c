/*
 * dedup.c - sluice-dedup: remove exact and near-duplicate records.
 *
 * Exact: a record is a duplicate when its key (the whole record, or the
 * --key fields, optionally case-folded, whitespace-collapsed and NFC
 * normalised) was seen before; the first is kept.  Only a 128-bit hash of
 * each distinct key is remembered, in an open-addressing table: 16 bytes
 * per slot at most 3/4 full, so 21 to 43 bytes per distinct record.  Two
 * different keys would have to collide in all 128 bits to be confused
 * (for a billion records, odds of about 1 in 10^21).
 *
 * Near: MinHash over word or character n-gram shingles of a text field,
 * with LSH banding to find candidate earlier records; a candidate is
 * removed only when the exact Jaccard similarity of the two shingle sets
 * reaches the threshold.  Per kept record it keeps its signature (4 bytes
 * per hash function), its sorted shingle hashes (8 bytes each) and one
 * bucket entry per band.  The first record of each cluster is kept.
 *
 * Records that are kept pass through unchanged, in input order.
 */
#include "sluice.h"

#include <getopt.h>
#include <math.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { MODE_EXACT = 1, MODE_NEAR = 2 };
enum { FOLD_CASE = 1, FOLD_SPACE = 2, FOLD_NFC = 4 };

struct opts {
	struct sl_cli cli;
	int mode;
	int fold;
	const char *keys;  /* --key a,b */
	const char *text;  /* --text FIELD (near) */
	const char *report;
	double threshold;
	int ngram;
	int words; /* shingles of words (1) or characters (0) */
	int nperm;
	uint64_t seed;
	int trailer; /* end the output with a header that carries the counts */
};

/* ------------------------------------------------------------ exact set */

struct hashset {
	uint64_t (*slot)[2]; /* {0, 0} is empty */
	size_t cap, n;
};

/* Zeroed memory for a table.  Large tables are mapped on their own and
 * asked for huge pages: a table far larger than the caches is touched at
 * random, and with 4 KiB pages nearly every look-up would also miss the
 * TLB, and filling it would take one page fault per 4 KiB. */
#define HUGE_PAGE ((size_t)2 << 20)

static void *table_alloc(size_t n)
{
	void *p;

	if (n < 2 * HUGE_PAGE)
		return sl_xcalloc(1, n);
	n = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	/* map a huge page more and trim, so the table starts on one */
	p = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		sl_die(1, "out of memory (a table of %zu bytes)", n);
	{
		uintptr_t a = (uintptr_t)p, al = (a + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
		if (al > a)
			munmap(p, al - a);
		munmap((char *)al + n, HUGE_PAGE - (al - a));
		p = (void *)al;
	}
#ifdef MADV_HUGEPAGE
	madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

static void table_free(void *p, size_t n)
{
	if (!p)
		return;
	if (n < 2 * HUGE_PAGE) {
		free(p);
		return;
	}
	munmap(p, (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
}

/* Inserts h; returns 1 if it was new. */
static int hashset_add(struct hashset *s, uint64_t h0, uint64_t h1)
{
	size_t i;

	if (!h0 && !h1)
		h1 = 1;
	if (4 * (s->n + 1) > 3 * s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 1 << 16;
		uint64_t(*ns)[2] = table_alloc(ncap * sizeof *ns);
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->slot[j][0] && !s->slot[j][1])
				continue;
			for (i = s->slot[j][0] & (ncap - 1); ns[i][0] || ns[i][1];
			     i = (i + 1) & (ncap - 1))
				;
			ns[i][0] = s->slot[j][0];
			ns[i][1] = s->slot[j][1];
		}
		table_free(s->slot, s->cap * sizeof *ns);
		s->slot = ns;
		s->cap = ncap;
	}
	for (i = h0 & (s->cap - 1); s->slot[i][0] || s->slot[i][1];
	     i = (i + 1) & (s->cap - 1))
		if (s->slot[i][0] == h0 && s->slot[i][1] == h1)
			return 0;
	s->slot[i][0] = h0;
	s->slot[i][1] = h1;
	s->n++;
	return 1;
}

/* ------------------------------------------------------- normalisation */

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* Appends p[0..n) to out, folded as o->fold asks. */
static void fold_text(struct sl_buf *out, const char *p, size_t n, int fold)
{
	struct sl_buf tmp = {0};
	int ascii = 1;

	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)p[i] < 0x80;
	if ((fold & (FOLD_NFC | FOLD_CASE)) && !ascii) {
		utf8proc_uint8_t *dst = NULL;
		int options = UTF8PROC_STABLE;
		utf8proc_ssize_t len;
		if (fold & FOLD_CASE)
			options |= UTF8PROC_CASEFOLD;
		if (fold & FOLD_NFC)
			options |= UTF8PROC_COMPOSE;
		len = utf8proc_map((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n,
		                   &dst, (utf8proc_option_t)options);
		if (len >= 0) {
			sl_buf_put(&tmp, dst, (size_t)len);
			free(dst);
			p = tmp.p;
			n = tmp.n;
		}
	}
	if (fold & FOLD_SPACE) {
		size_t i = 0;
		int pending = 0;
		while (i < n && is_space((unsigned char)p[i]))
			i++;
		for (; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (is_space(c)) {
				pending = 1;
				continue;
			}
			if (pending)
				sl_buf_putc(out, ' ');
			pending = 0;
			sl_buf_putc(out, (fold & FOLD_CASE) && c < 0x80 && c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	} else if (fold & FOLD_CASE) {
		sl_buf_reserve(out, n);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			out->p[out->n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
	} else {
		sl_buf_put(out, p, n);
	}
	sl_buf_free(&tmp);
}

/* The bytes of a key: for each key field, its kind, its length and its
 * (folded) bytes, so ("ab","c") and ("a","bc") differ. */
static void key_bytes(struct sl_buf *out, const struct sl_value *v,
                      const int *idx, int nidx, int fold)
{
	out->n = 0;
	for (int k = 0; k < nidx; k++) {
		const struct sl_value *x = &v[idx[k]];
		size_t mark;
		uint32_t len;
		sl_buf_putc(out, (int)x->kind);
		switch (x->kind) {
		case SL_NIL:
			break;
		case SL_BOOL:
			sl_buf_putc(out, x->u.b);
			break;
		case SL_INT:
			sl_buf_put(out, &x->u.i, 8);
			break;
		case SL_FLOAT:
			sl_buf_put(out, &x->u.f, 8);
			break;
		default:
			mark = out->n;
			sl_buf_put(out, "\0\0\0\0", 4);
			if (x->kind == SL_STR && fold)
				fold_text(out, x->u.s.p, x->u.s.n, fold);
			else
				sl_buf_put(out, x->u.s.p, x->u.s.n);
			len = (uint32_t)(out->n - mark - 4);
			memcpy(out->p + mark, &len, 4);
		}
	}
}

/* -------------------------------------------------------------- MinHash */

struct doc {
	uint64_t recno;
	uint64_t *sh; /* sorted, distinct shingle hashes */
	size_t nsh;
};

struct near {
	int nperm, bands, rows;
	uint64_t *salt;
	uint32_t *sig;      /* nperm per call */
	struct doc *docs;   /* kept documents */
	size_t ndocs, capdocs;
	/* buckets: (band key -> first entry), entries chain by next */
	uint64_t *bkey;
	uint32_t *bhead; /* entry + 1 */
	size_t bcap, bn;
	uint32_t *edoc, *enext;
	size_t en, ecap;
	uint32_t *seen; /* per doc: last query id that saw it */
	uint32_t query;
	struct sl_buf words;
	size_t *start, startcap; /* where each word starts in words */
	uint64_t *tmp;
	size_t tmpcap;
};

/* The probability that a pair of similarity s becomes a candidate with
 * b bands of r rows. */
static double p_cand(double s, int b, int r)
{
	return 1 - pow(1 - pow(s, r), b);
}

/* Picks b bands of r rows (b * r <= nperm) minimising the weighted area
 * of false positives below the threshold and false negatives above it.
 * Candidates are verified by exact Jaccard, so a false positive costs
 * only time while a false negative keeps a duplicate: misses weigh 19
 * times as much. */
static void choose_bands(struct near *nr, double t)
{
	const double wfp = 0.05, wfn = 0.95;
	const int steps = 100;
	double best = INFINITY;

	for (int b = 1; b <= nr->nperm; b++)
		for (int r = 1; b * r <= nr->nperm; r++) {
			double fp = 0, fn = 0, err;
			for (int i = 0; i < steps; i++) {
				double s = t * (i + 0.5) / steps;
				fp += p_cand(s, b, r) * t / steps;
			}
			for (int i = 0; i < steps; i++) {
				double s = t + (1 - t) * (i + 0.5) / steps;
				fn += (1 - p_cand(s, b, r)) * (1 - t) / steps;
			}
			err = wfp * fp + wfn * fn;
			if (err < best) {
				best = err;
				nr->bands = b;
				nr->rows = r;
			}
		}
}

/* Sorts a[0..n) ascending: quicksort (median of three, the smaller side
 * first so the stack stays shallow) with insertion sort below 16, with no
 * call per comparison as qsort makes. */
static void sort_u64(uint64_t *a, size_t n)
{
	while (n > 16) {
		size_t i = 0, j = n - 1, m = n / 2;
		uint64_t x = a[0], y = a[m], z = a[n - 1], p, t;
		p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
		for (;;) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i >= j)
				break;
			t = a[i];
			a[i++] = a[j];
			a[j--] = t;
		}
		/* a[0..j] <= p <= a[j+1..n) */
		if (j + 1 < n - j - 1) {
			sort_u64(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			sort_u64(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		uint64_t t = a[i];
		size_t j = i;
		for (; j > 0 && a[j - 1] > t; j--)
			a[j] = a[j - 1];
		a[j] = t;
	}
}

/* Shingle hashes of text, sorted and distinct, into nr->tmp; returns n. */
static size_t shingles(struct near *nr, const struct opts *o, const char *p,
                       size_t n)
{
	size_t cnt = 0, k = 0;
	uint64_t h[2];

	nr->words.n = 0;
	if (o->words) {
		/* words: runs of non-space bytes, case-folded for ASCII; the
		 * words, each with one space after it, take at most n + 1
		 * bytes */
		size_t *start = nr->start, nw = 0, cap = nr->startcap, i = 0;
		struct sl_buf *w = &nr->words;
		char *q;
		sl_buf_reserve(w, n + 1);
		q = w->p;
		while (i < n) {
			while (i < n && is_space((unsigned char)p[i]))
				i++;
			if (i >= n)
				break;
			if (nw == cap) {
				cap = cap ? 2 * cap : 64;
				start = sl_xrealloc(start, (cap + 1) * sizeof *start);
			}
			start[nw++] = (size_t)(q - w->p);
			for (; i < n && !is_space((unsigned char)p[i]); i++) {
				unsigned char c = (unsigned char)p[i];
				*q++ = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			}
			*q++ = ' ';
		}
		w->n = (size_t)(q - w->p);
		nr->start = start;
		nr->startcap = cap;
		if (start)
			start[nw] = w->n;
		if (nw + 1 > nr->tmpcap) {
			nr->tmpcap = 2 * (nw + 1);
			nr->tmp = sl_xrealloc(nr->tmp, nr->tmpcap * sizeof *nr->tmp);
		}
		if (nw && nw < (size_t)o->ngram) { /* shorter than one shingle */
			sl_hash128(w->p, w->n, 0, h);
			nr->tmp[cnt++] = h[0];
		}
		for (k = 0; nw >= (size_t)o->ngram && k + o->ngram <= nw; k++) {
			sl_hash128(w->p + start[k], start[k + o->ngram] - start[k], 0, h);
			nr->tmp[cnt++] = h[0];
		}
	} else {
		size_t m = n >= (size_t)o->ngram ? n - o->ngram + 1 : (n ? 1 : 0);
		if (m > nr->tmpcap) {
			nr->tmpcap = 2 * m;
			nr->tmp = sl_xrealloc(nr->tmp, nr->tmpcap * sizeof *nr->tmp);
		}
		for (k = 0; k < m; k++) {
			size_t len = n >= (size_t)o->ngram ? (size_t)o->ngram : n;
			sl_hash128(p + k, len, 0, h);
			nr->tmp[cnt++] = h[0];
		}
	}
	sort_u64(nr->tmp, cnt);
	{ /* keep each hash once */
		size_t d = 0;
		for (k = 0; k < cnt; k++)
			if (!d || nr->tmp[k] != nr->tmp[d - 1])
				nr->tmp[d++] = nr->tmp[k];
		cnt = d;
	}
	return cnt;
}

static double jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
	size_t i = 0, j = 0, inter = 0;

	if (!na && !nb)
		return 1;
	while (i < na && j < nb) {
		if (a[i] == b[j]) {
			inter++;
			i++;
			j++;
		} else if (a[i] < b[j]) {
			i++;
		} else {
			j++;
		}
	}
	return (double)inter / (double)(na + nb - inter);
}

/* sl_mix64 (the splitmix64 finaliser), here so that the signature loop
 * has no call in it and can be vectorised; the same values. */
static inline uint32_t mix32(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)(x ^ (x >> 31));
}

/* Folds the shingle hashes h[0..n) into the signature sig[0..nperm).  On
 * a CPU with AVX-512 the perms go eight at a time (64-bit multiplies in
 * vectors); the values are the same either way. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("default", "arch=x86-64-v4")))
#endif
static void sig_update(uint32_t *restrict sig, const uint64_t *restrict salt,
                       int nperm, const uint64_t *h, size_t n)
{
	for (size_t s = 0; s < n; s++)
		for (int k = 0; k < nperm; k++) {
			uint32_t v = mix32(h[s] ^ salt[k]);
			sig[k] = v < sig[k] ? v : sig[k];
		}
}

static uint64_t band_key(const uint32_t *sig, int band, int rows)
{
	uint64_t h[2];
	uint32_t buf[256 + 1];

	buf[0] = (uint32_t)band;
	memcpy(buf + 1, sig + band * rows, (size_t)rows * sizeof *sig);
	sl_hash128(buf, (size_t)(rows + 1) * sizeof *buf, 0, h);
	return h[0] ? h[0] : 1;
}

/* Slot of key in the bucket table (found or the empty one to use). */
static size_t bucket_slot(struct near *nr, uint64_t key)
{
	size_t i;

	for (i = key & (nr->bcap - 1); nr->bkey[i] && nr->bkey[i] != key;
	     i = (i + 1) & (nr->bcap - 1))
		;
	return i;
}

static void bucket_grow(struct near *nr)
{
	size_t ncap = nr->bcap ? 2 * nr->bcap : 1 << 12, oc = nr->bcap;
	uint64_t *ok = nr->bkey;
	uint32_t *oh = nr->bhead;

	nr->bkey = sl_xcalloc(ncap, sizeof *nr->bkey);
	nr->bhead = sl_xcalloc(ncap, sizeof *nr->bhead);
	nr->bcap = ncap;
	for (size_t j = 0; j < oc; j++)
		if (ok[j]) {
			size_t i = bucket_slot(nr, ok[j]);
			nr->bkey[i] = ok[j];
			nr->bhead[i] = oh[j];
		}
	free(ok);
	free(oh);
}

/* Looks text up among kept documents.  Returns the best match's index at
 * or above the threshold (similarity in *sim), or -1 after adding the
 * text as a new kept document. */
static long near_check(struct near *nr, const struct opts *o, const char *p,
                       size_t n, uint64_t recno, double *sim)
{
	size_t nsh = shingles(nr, o, p, n);
	long best = -1;
	double bestsim = -1;
	uint64_t keys[256];

	for (int k = 0; k < nr->nperm; k++)
		nr->sig[k] = UINT32_MAX;
	sig_update(nr->sig, nr->salt, nr->nperm, nr->tmp, nsh);
	nr->query++;
	for (int b = 0; b < nr->bands; b++) {
		size_t i;
		keys[b] = band_key(nr->sig, b, nr->rows);
		if (!nr->bcap)
			continue;
		i = bucket_slot(nr, keys[b]);
		if (!nr->bkey[i])
			continue;
		for (uint32_t e = nr->bhead[i]; e; e = nr->enext[e - 1]) {
			uint32_t d = nr->edoc[e - 1];
			double j;
			if (nr->seen[d] == nr->query)
				continue;
			nr->seen[d] = nr->query;
			j = jaccard(nr->tmp, nsh, nr->docs[d].sh, nr->docs[d].nsh);
			if (j >= o->threshold && (j > bestsim || (j == bestsim && (long)d < best))) {
				bestsim = j;
				best = (long)d;
			}
		}
	}
	if (best >= 0) {
		*sim = bestsim;
		return best;
	}
	/* keep: store the document and file it under each band */
	if (nr->ndocs == nr->capdocs) {
		nr->capdocs = nr->capdocs ? 2 * nr->capdocs : 1024;
		nr->docs = sl_xrealloc(nr->docs, nr->capdocs * sizeof *nr->docs);
		nr->seen = sl_xrealloc(nr->seen, nr->capdocs * sizeof *nr->seen);
	}
	nr->docs[nr->ndocs].recno = recno;
	nr->docs[nr->ndocs].nsh = nsh;
	nr->docs[nr->ndocs].sh = sl_xmalloc((nsh ? nsh : 1) * sizeof(uint64_t));
	memcpy(nr->docs[nr->ndocs].sh, nr->tmp, nsh * sizeof(uint64_t));
	nr->seen[nr->ndocs] = 0;
	for (int b = 0; b < nr->bands; b++) {
		size_t i;
		if (2 * (nr->bn + 1) > nr->bcap)
			bucket_grow(nr);
		i = bucket_slot(nr, keys[b]);
		if (!nr->bkey[i]) {
			nr->bkey[i] = keys[b];
			nr->bn++;
		}
		if (nr->en == nr->ecap) {
			nr->ecap = nr->ecap ? 2 * nr->ecap : 4096;
			nr->edoc = sl_xrealloc(nr->edoc, nr->ecap * sizeof *nr->edoc);
			nr->enext = sl_xrealloc(nr->enext, nr->ecap * sizeof *nr->enext);
		}
		nr->edoc[nr->en] = (uint32_t)nr->ndocs;
		nr->enext[nr->en] = nr->bhead[i];
		nr->bhead[i] = (uint32_t)++nr->en;
	}
	nr->ndocs++;
	return -1;
}

static void near_free(struct near *nr)
{
	for (size_t i = 0; i < nr->ndocs; i++)
		free(nr->docs[i].sh);
	free(nr->docs);
	free(nr->salt);
	free(nr->sig);
	free(nr->bkey);
	free(nr->bhead);
	free(nr->edoc);
	free(nr->enext);
	free(nr->seen);
	free(nr->tmp);
	free(nr->start);
	sl_buf_free(&nr->words);
}

/* -------------------------------------------------------- exact batches */

/* Exact-only deduplication looks records up in batches: each record's
 * table slot is prefetched when it is hashed, and looked at only when the
 * batch is full, by which time the cache line has arrived.  The table is
 * far larger than the caches, so this hides most of a miss per record. */
#define BATCH 64

struct batch {
	uint64_t h[BATCH][2], recno[BATCH];
	size_t off[BATCH], len[BATCH];
	struct sl_buf raw;
	int n;
};

/* Decides the batched records in order; returns -1 on a write error. */
static int batch_flush(struct batch *b, struct hashset *seen, struct sl_writer *w,
                       struct sl_writer *rep, uint64_t *ndup)
{
	for (int i = 0; i < b->n; i++) {
		if (hashset_add(seen, b->h[i][0], b->h[i][1])) {
			if (sl_write_raw(w, b->raw.p + b->off[i], b->len[i]) < 0)
				return -1;
			continue;
		}
		(*ndup)++;
		if (rep) {
			struct sl_value rv[4] = {{SL_INT, {.i = (int64_t)b->recno[i]}},
			                         {SL_NIL, {.i = 0}},
			                         {SL_FLOAT, {.f = 1.0}},
			                         {SL_STR, {.i = 0}}};
			rv[3].u.s.p = "exact";
			rv[3].u.s.n = 5;
			if (sl_write_record(rep, rv, 4) < 0)
				return -1;
		}
	}
	b->n = 0;
	b->raw.n = 0;
	return 0;
}

/* ------------------------------------------------------------- trailer */

/* --trailer: the output ends with its header once more, its lineage
 * entry with "counts", known only now (sl_write_trailer).  0 or -1. */
static int write_trailer(struct sl_writer *w, const struct sl_header *outh,
                         const struct sl_val *lastlin, uint64_t nread,
                         uint64_t nexact, uint64_t nnear)
{
	struct sl_val c = sl_val_map();

	sl_val_set(&c, "records", sl_val_int((int64_t)nread));
	sl_val_set(&c, "kept", sl_val_int((int64_t)(nread - nexact - nnear)));
	sl_val_set(&c, "exact", sl_val_int((int64_t)nexact));
	sl_val_set(&c, "near", sl_val_int((int64_t)nnear));
	return sl_write_trailer(w, outh, lastlin, c);
}

/* ----------------------------------------------------------------- main */

static void usage(int status);

static int parse_fold(const char *s)
{
	char *copy = sl_xstrdup(s), *p = copy, *tok;
	int fold = 0;

	while ((tok = strsep(&p, ","))) {
		if (strcmp(tok, "case") == 0)
			fold |= FOLD_CASE;
		else if (strcmp(tok, "space") == 0)
			fold |= FOLD_SPACE;
		else if (strcmp(tok, "nfc") == 0)
			fold |= FOLD_NFC;
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return fold;
}

/* Resolves --key names against h into idx; returns the count or -1. */
static int resolve_keys(const struct sl_header *h, const char *keys, int *idx,
                        const char **bad)
{
	char *copy, *p, *tok;
	int n = 0;

	if (!keys) {
		for (size_t i = 0; i < h->nfields; i++)
			idx[n++] = (int)i;
		return n;
	}
	copy = sl_xstrdup(keys);
	p = copy;
	while ((tok = strsep(&p, ","))) {
		int f = sl_header_find(h, tok);
		if (f < 0) {
			static char name[256];
			snprintf(name, sizeof name, "%s", tok);
			*bad = name;
			free(copy);
			return -1;
		}
		idx[n++] = f;
	}
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"key", required_argument, 0, 'k'},
	    {"fold", required_argument, 0, 'F'},
	    {"near", no_argument, 0, 'N'},
	    {"exact", no_argument, 0, 'E'},
	    {"text", required_argument, 0, 't'},
	    {"threshold", required_argument, 0, 'T'},
	    {"shingle", required_argument, 0, 'S'},
	    {"perms", required_argument, 0, 'P'},
	    {"seed", required_argument, 0, 's'},
	    {"report", required_argument, 0, 'R'},
	    {"trailer", no_argument, 0, 'L'},
	    {0, 0, 0, 0},
	};
	struct opts o = {.threshold = 0.8, .ngram = 5, .words = 1, .nperm = 128};
	struct sl_writer *w = NULL, *rep = NULL;
	struct sl_header *outh = NULL, *reph = NULL;
	struct sl_val lastlin = {0}; /* the lineage of the last input header */
	struct hashset seen = {0};
	struct near nr = {0};
	struct sl_buf kb = {0};
	struct batch batch = {0};
	struct sl_progress prog;
	uint64_t nread = 0, nexact = 0, nnear = 0;
	int c, nin, rc = 0, *kidx = NULL, nk = 0, tfield = -1;
	char *end;

	sl_init(argv[0]);
	while ((c = getopt_long(argc, argv, "o:fk:", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case 'k':
			o.keys = optarg;
			break;
		case 'F':
			if ((o.fold = parse_fold(optarg)) < 0)
				sl_die(2, "--fold: a list of case, space and nfc, not '%s'", optarg);
			break;
		case 'N':
			o.mode |= MODE_NEAR;
			break;
		case 'E':
			o.mode |= MODE_EXACT;
			break;
		case 't':
			o.text = optarg;
			break;
		case 'T':
			o.threshold = strtod(optarg, &end);
			if (*end || end == optarg || !(o.threshold > 0 && o.threshold <= 1))
				sl_die(2, "--threshold: a number in (0, 1], not '%s'", optarg);
			break;
		case 'S': {
			long n;
			if (strncmp(optarg, "word:", 5) == 0)
				o.words = 1;
			else if (strncmp(optarg, "char:", 5) == 0)
				o.words = 0;
			else
				sl_die(2, "--shingle: word:N or char:N, not '%s'", optarg);
			n = strtol(optarg + 5, &end, 10);
			if (*end || end == optarg + 5 || n < 1 || n > 64)
				sl_die(2, "--shingle: N from 1 to 64, not '%s'", optarg + 5);
			o.ngram = (int)n;
			break;
		}
		case 'P': {
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 256)
				sl_die(2, "--perms: 1 to 256, not '%s'", optarg);
			o.nperm = (int)n;
			break;
		}
		case 's': {
			long long s = sl_parse_count(optarg);
			if (s < 0)
				sl_die(2, "--seed: a non-negative integer, not '%s'", optarg);
			o.seed = (uint64_t)s;
			break;
		}
		case 'R':
			o.report = optarg;
			break;
		case 'L':
			o.trailer = 1;
			break;
		default:
			usage(2);
			return 2;
		}
	}
	if (!o.mode)
		o.mode = MODE_EXACT;
	if (o.mode & MODE_NEAR) {
		struct sl_rng rng;
		nr.nperm = o.nperm;
		choose_bands(&nr, o.threshold);
		nr.salt = sl_xmalloc((size_t)o.nperm * sizeof *nr.salt);
		nr.sig = sl_xmalloc((size_t)o.nperm * sizeof *nr.sig);
		sl_rng_seed(&rng, o.seed);
		for (int k = 0; k < o.nperm; k++)
			nr.salt[k] = sl_rng_next(&rng);
	}
	sl_progress_start(&prog, "records", 0, 0);
	nin = argc - optind;
	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			const void *raw;
			size_t rawn;
			long match = -1;
			double sim = 1;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				const char *bad = NULL;
				if (outh) {
					if (sl_reader_fields_differ(r, outh, h,
					                            "; dedup each schema separately")) {
						rc = 1;
						break;
					}
					sl_val_free(&lastlin);
					lastlin = sl_val_copy(&h->lineage);
					continue;
				}
				lastlin = sl_val_copy(&h->lineage);
				kidx = sl_xmalloc((h->nfields + 1) * sizeof *kidx);
				if ((nk = resolve_keys(h, o.keys, kidx, &bad)) < 0) {
					sl_warn("%s: --key: no field \"%s\"", sl_reader_name(r), bad);
					rc = 2;
					break;
				}
				if (o.mode & MODE_NEAR) {
					if (o.text)
						tfield = sl_header_find(h, o.text);
					else
						for (size_t i = 0; i < h->nfields && tfield < 0; i++)
							if (h->fields[i].type.kind == SL_STR)
								tfield = (int)i;
					if (tfield < 0 || h->fields[tfield].type.kind != SL_STR) {
						sl_warn("%s: --near needs a str field (--text FIELD)%s%s",
						        sl_reader_name(r), o.text ? "; not one: " : "",
						        o.text ? o.text : "");
						rc = 2;
						break;
					}
				}
				outh = sl_header_copy(h);
				sl_header_lineage(outh, argc, argv);
				w = sl_writer_open(o.cli.output, &o.cli.w);
				if (sl_writer_error(w) || sl_write_header(w, outh) < 0) {
					sl_warn("%s", sl_writer_error(w));
					rc = 1;
					break;
				}
				if (o.report) {
					struct sl_type ti = {SL_INT, 0, 0}, tf = {SL_FLOAT, 0, 0},
					               ts = {SL_STR, 0, 0};
					struct sl_wopts wo = {0, 1};
					reph = sl_header_new();
					sl_header_add(reph, "record", ti);
					sl_header_add(reph, "kept", ti);
					sl_header_add(reph, "similarity", tf);
					sl_header_add(reph, "kind", ts);
					sl_header_lineage(reph, argc, argv);
					rep = sl_writer_open(o.report, &wo);
					if (sl_writer_error(rep) || sl_write_header(rep, reph) < 0) {
						sl_warn("%s", sl_writer_error(rep));
						rc = 1;
						break;
					}
				}
				continue;
			}
			nread++;
			sl_progress_update(&prog, nread);
			v = sl_reader_values(r);
			sl_reader_raw(r, &raw, &rawn);
			if (o.mode & MODE_EXACT) {
				uint64_t h[2];
				if (!o.keys && !o.fold) {
					sl_hash128(raw, rawn, o.seed, h);
				} else if (nk == 1 && !o.fold) {
					/* one key field: its bytes, its kind in the seed */
					const struct sl_value *x = &v[kidx[0]];
					uint64_t ks = o.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(x->kind + 1));
					if (x->kind == SL_INT || x->kind == SL_FLOAT)
						sl_hash128(&x->u.i, 8, ks, h);
					else if (x->kind == SL_BOOL)
						sl_hash128(&x->u.b, sizeof x->u.b, ks, h);
					else if (x->kind == SL_NIL)
						sl_hash128("", 0, ks, h);
					else
						sl_hash128(x->u.s.p, x->u.s.n, ks, h);
				} else {
					key_bytes(&kb, v, kidx, nk, o.fold);
					sl_hash128(kb.p, kb.n, o.seed, h);
				}
				if (o.mode == MODE_EXACT) {
					int i = batch.n++;
					if (seen.cap)
						__builtin_prefetch(&seen.slot[h[0] & (seen.cap - 1)]);
					batch.h[i][0] = h[0];
					batch.h[i][1] = h[1];
					batch.recno[i] = nread;
					batch.off[i] = batch.raw.n;
					batch.len[i] = rawn;
					sl_buf_put(&batch.raw, raw, rawn);
					if (batch.n == BATCH &&
					    batch_flush(&batch, &seen, w, rep, &nexact) < 0) {
						rc = 1;
						break;
					}
					continue;
				}
				if (!hashset_add(&seen, h[0], h[1])) {
					nexact++;
					if (rep) {
						struct sl_value rv[4] = {
						    {SL_INT, {.i = (int64_t)nread}},
						    {SL_NIL, {.i = 0}},
						    {SL_FLOAT, {.f = 1.0}},
						    {SL_STR, {.i = 0}}};
						rv[3].u.s.p = "exact";
						rv[3].u.s.n = 5;
						if (sl_write_record(rep, rv, 4) < 0) {
							rc = 1;
							break;
						}
					}
					continue;
				}
			}
			if (o.mode & MODE_NEAR) {
				const struct sl_value *t = &v[tfield];
				const char *p = t->kind == SL_STR ? t->u.s.p : "";
				size_t n = t->kind == SL_STR ? t->u.s.n : 0;
				if (o.fold) {
					kb.n = 0;
					fold_text(&kb, p, n, o.fold);
					p = kb.p ? kb.p : "";
					n = kb.n;
				}
				match = near_check(&nr, &o, p, n, nread, &sim);
				if (match >= 0) {
					nnear++;
					if (rep) {
						struct sl_value rv[4] = {
						    {SL_INT, {.i = (int64_t)nread}},
						    {SL_INT, {.i = (int64_t)nr.docs[match].recno}},
						    {SL_FLOAT, {.f = sim}},
						    {SL_STR, {.i = 0}}};
						rv[3].u.s.p = "near";
						rv[3].u.s.n = 4;
						if (sl_write_record(rep, rv, 4) < 0) {
							rc = 1;
							break;
						}
					}
					continue;
				}
			}
			if (sl_write_raw(w, raw, rawn) < 0) {
				rc = 1;
				break;
			}
		}
		if (!rc && batch.n && batch_flush(&batch, &seen, w, rep, &nexact) < 0)
			rc = 1;
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	sl_progress_end(&prog, nread);
	if (!outh && !rc) {
		sl_warn("no input header");
		rc = 1;
	}
	if (w && !rc && o.trailer &&
	    write_trailer(w, outh, &lastlin, nread, nexact, nnear) < 0)
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
	}
	if (rep) {
		char *err = NULL;
		if (rc) {
			sl_writer_abort(rep);
		} else if (sl_writer_close(rep, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
	}
	if (!rc)
		sl_warn("%llu records, %llu kept, %llu exact duplicates, %llu near "
		        "duplicates removed",
		        (unsigned long long)nread,
		        (unsigned long long)(nread - nexact - nnear),
		        (unsigned long long)nexact, (unsigned long long)nnear);
	table_free(seen.slot, seen.cap * sizeof *seen.slot);
	free(kidx);
	near_free(&nr);
	sl_buf_free(&kb);
	sl_buf_free(&batch.raw);
	sl_header_free(outh);
	sl_header_free(reph);
	sl_val_free(&lastlin);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-dedup [-f] [-o FILE] [--zstd[=LEVEL]] [--exact] [--near]\n"
	        "                    [-k | --key FIELD,...] [--fold case,space,nfc]\n"
	        "                    [--text FIELD] [--threshold J] [--shingle word:N|char:N]\n"
	        "                    [--perms N] [--seed N] [--report FILE] [--trailer]\n"
	        "                    [FILE ...]\n"
	        "  --exact      drop records whose key was seen before (the default)\n"
	        "  --near       drop records whose text is near an earlier one (MinHash)\n"
	        "  --key        key fields for --exact (default: the whole record)\n"
	        "  --fold       compare str keys case-folded, space-collapsed, NFC\n"
	        "  --text       the str field for --near (default: the first str field)\n"
	        "  --threshold  Jaccard similarity that counts as near (default 0.8)\n"
	        "  --shingle    shingles: word:N (default word:5) or char:N\n"
	        "  --perms      MinHash functions (default 128)\n"
	        "  --report     write what was removed and why as a stream to FILE\n"
	        "  --trailer    end the output with a header whose lineage has the counts\n");
}
