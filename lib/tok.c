/*
 * tok.c - tokenizers: byte-level BPE and characters.
 *
 * Byte-level BPE starts from the 256 byte values, so every input, invalid
 * UTF-8 included, has an encoding and decodes back to the same bytes.
 * Training splits text into words the way GPT-2 does (a contraction, or
 * an optional space followed by letters, digits or other symbols, or
 * white space), counts distinct words, then repeatedly merges the most
 * frequent adjacent pair of tokens into a new token.  Pair counts are kept
 * up to date incrementally: a merge touches only the words that hold the
 * pair (found through a pair -> words index), and a max-heap with lazy
 * deletion picks the next pair, so a merge costs what it changes, not a
 * recount of the corpus.  Ties go to the pair with the smaller ids, which
 * makes training deterministic.
 *
 * Encoding splits text into words the same way and merges each word's
 * bytes by merge rank (lowest first); words seen before come from a cache.
 * Character mode numbers the distinct code points of the training text in
 * sorted order.  Special tokens (end of text, padding) follow the
 * learnt ones.
 *
 * A tokenizer is written as a stream: one record per token (id, its bytes,
 * its text when that is valid UTF-8, and for merges the two parent ids).
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ hash of ints */

/* Open addressing from a 64-bit key (never 0) to a 64-bit value. */
struct imap {
	uint64_t *key, *val;
	size_t cap, n;
};

static uint64_t imix(uint64_t k)
{
	return sl_mix64(k * 0x9e3779b97f4a7c15ULL);
}

static uint64_t *imap_slot(struct imap *m, uint64_t k, int insert)
{
	size_t i;

	if (insert && 4 * (m->n + 1) > 3 * m->cap) {
		struct imap old = *m;
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->key = sl_xcalloc(m->cap, sizeof *m->key);
		m->val = sl_xcalloc(m->cap, sizeof *m->val);
		m->n = 0;
		for (size_t j = 0; j < old.cap; j++)
			if (old.key[j])
				*imap_slot(m, old.key[j], 1) = old.val[j];
		free(old.key);
		free(old.val);
	}
	if (!m->cap)
		return NULL;
	for (i = imix(k) & (m->cap - 1); m->key[i]; i = (i + 1) & (m->cap - 1))
		if (m->key[i] == k)
			return &m->val[i];
	if (!insert)
		return NULL;
	m->key[i] = k;
	m->n++;
	return &m->val[i];
}

static void imap_free(struct imap *m)
{
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof *m);
}

static uint64_t pair_key(uint32_t a, uint32_t b)
{
	return ((uint64_t)a << 32 | b) + 1; /* never 0 */
}

/* --------------------------------------------------- word splitting */

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Letters: ASCII letters and every byte of a non-ASCII character (so
 * accented and non-Latin words stay whole; non-ASCII punctuation counts as
 * a letter, a simplification of GPT-2's Unicode classes). */
static int cls(unsigned char c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return 1;
	if (c >= 0x80)
		return 1;
	if (c >= '0' && c <= '9')
		return 2;
	if (is_ws(c))
		return 0;
	return 3;
}

/* Length of the word starting at p[0..n) (n > 0). */
static size_t next_word(const unsigned char *p, size_t n)
{
	size_t i = 0;
	int k;

	if (p[0] == '\'' && n >= 2) {
		if (p[1] == 's' || p[1] == 't' || p[1] == 'm' || p[1] == 'd')
			return 2;
		if (n >= 3 && ((p[1] == 'r' && p[2] == 'e') || (p[1] == 'v' && p[2] == 'e') ||
		               (p[1] == 'l' && p[2] == 'l')))
			return 3;
	}
	if (is_ws(p[0])) {
		size_t e = 0;
		while (e < n && is_ws(p[e]))
			e++;
		if (e == n)
			return e;
		if (e >= 2)
			return e - 1; /* leave one space for the next word */
		if (p[0] != ' ')
			return 1;
		/* a single space: it leads the next word */
	}
	i = p[0] == ' ' ? 1 : 0;
	if (i >= n)
		return i;
	k = cls(p[i]);
	if (k == 0)
		return i ? i : 1;
	while (i < n && cls(p[i]) == k)
		i++;
	return i;
}

/* ------------------------------------------------------------ tokens */

struct sl_tok {
	int mode; /* SL_TOK_BPE or SL_TOK_CHAR */
	uint32_t nbase;   /* 256 byte tokens, or the number of characters */
	uint32_t nmerges; /* BPE: learnt tokens after the bytes */
	uint32_t nspecial;
	uint32_t n;       /* vocabulary size */
	uint32_t *left, *right; /* per id: merge parents (BPE merges) */
	size_t *off, *len;      /* per id: bytes in data */
	struct sl_buf data;
	struct imap rank;   /* BPE: pair -> merged id */
	struct imap chars;  /* CHAR: code point + 1 -> id */
	struct imap cache;  /* BPE: word hash -> offset + 1 into cached */
	uint32_t *cached;   /* [len, ids...] runs */
	size_t ncached, capcached;
	uint32_t *work;     /* encoding scratch */
	size_t capwork;
};

uint32_t sl_tok_size(const struct sl_tok *t)
{
	return t->n;
}

uint32_t sl_tok_special(const struct sl_tok *t, const char *name)
{
	for (uint32_t i = t->n - t->nspecial; i < t->n; i++)
		if (t->len[i] == strlen(name) && memcmp(t->data.p + t->off[i], name, t->len[i]) == 0)
			return i;
	return UINT32_MAX;
}

int sl_tok_mode(const struct sl_tok *t)
{
	return t->mode;
}

void sl_tok_bytes(const struct sl_tok *t, uint32_t id, const char **p, size_t *n)
{
	SL_ASSERT(id < t->n);
	*p = t->data.p + t->off[id];
	*n = t->len[id];
}

static void tok_add(struct sl_tok *t, const void *bytes, size_t n, uint32_t l, uint32_t r)
{
	t->left = sl_xrealloc(t->left, (t->n + 1) * sizeof *t->left);
	t->right = sl_xrealloc(t->right, (t->n + 1) * sizeof *t->right);
	t->off = sl_xrealloc(t->off, (t->n + 1) * sizeof *t->off);
	t->len = sl_xrealloc(t->len, (t->n + 1) * sizeof *t->len);
	t->left[t->n] = l;
	t->right[t->n] = r;
	t->off[t->n] = t->data.n;
	t->len[t->n] = n;
	sl_buf_put(&t->data, bytes, n);
	t->n++;
}

void sl_tok_free(struct sl_tok *t)
{
	if (!t)
		return;
	free(t->left);
	free(t->right);
	free(t->off);
	free(t->len);
	sl_buf_free(&t->data);
	imap_free(&t->rank);
	imap_free(&t->chars);
	imap_free(&t->cache);
	free(t->cached);
	free(t->work);
	free(t);
}

/* ---------------------------------------------------------- training */

struct word {
	uint32_t *tok;
	uint32_t len;
	uint64_t count;
};

struct sl_tok_trainer {
	int mode;
	struct imap index; /* word hash -> word number + 1 */
	struct word *w;
	size_t nw, capw;
	struct imap chars; /* code point + 1 -> count (CHAR) */
	uint64_t total;    /* bytes seen */
};

struct sl_tok_trainer *sl_tok_trainer_new(int mode)
{
	struct sl_tok_trainer *tr = sl_xcalloc(1, sizeof *tr);

	tr->mode = mode;
	return tr;
}

static void count_word(struct sl_tok_trainer *tr, const unsigned char *p, size_t n)
{
	uint64_t h[2], *slot;

	sl_hash128(p, n, 0, h);
	slot = imap_slot(&tr->index, h[0] ? h[0] : 1, 1);
	if (*slot) {
		struct word *w = &tr->w[*slot - 1];
		/* 64 bits of hash plus the length: two words would have to
		 * collide in both to be counted as one */
		if (w->len == n) {
			w->count++;
			return;
		}
	}
	if (tr->nw == tr->capw) {
		tr->capw = tr->capw ? 2 * tr->capw : 4096;
		tr->w = sl_xrealloc(tr->w, tr->capw * sizeof *tr->w);
	}
	tr->w[tr->nw].len = (uint32_t)n;
	tr->w[tr->nw].count = 1;
	tr->w[tr->nw].tok = sl_xmalloc((n ? n : 1) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		tr->w[tr->nw].tok[i] = p[i];
	*slot = ++tr->nw;
}

void sl_tok_trainer_add(struct sl_tok_trainer *tr, const char *text, size_t n)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;

	tr->total += n;
	if (tr->mode == SL_TOK_CHAR) {
		while (i < n) {
			uint32_t cp = p[i], k = 1;
			uint64_t *slot;
			if (cp >= 0xf0)
				k = 4;
			else if (cp >= 0xe0)
				k = 3;
			else if (cp >= 0xc0)
				k = 2;
			if (i + k > n)
				k = 1;
			cp = 0;
			for (uint32_t j = 0; j < k; j++)
				cp = cp << 8 | p[i + j];
			slot = imap_slot(&tr->chars, (uint64_t)cp + 1, 1);
			(*slot)++;
			i += k;
		}
		return;
	}
	while (i < n) {
		size_t len = next_word(p + i, n - i);
		count_word(tr, p + i, len);
		i += len;
	}
}

/* A max-heap of (count, pair) with lazy deletion. */
struct heap_item {
	uint64_t count;
	uint32_t a, b;
};

struct heap {
	struct heap_item *h;
	size_t n, cap;
};

static int heap_less(const struct heap_item *x, const struct heap_item *y)
{
	/* true when x ranks below y: fewer, or equal and larger ids */
	if (x->count != y->count)
		return x->count < y->count;
	if (x->a != y->a)
		return x->a > y->a;
	return x->b > y->b;
}

static void heap_push(struct heap *hp, uint64_t count, uint32_t a, uint32_t b)
{
	size_t i;

	if (hp->n == hp->cap) {
		hp->cap = hp->cap ? 2 * hp->cap : 4096;
		hp->h = sl_xrealloc(hp->h, hp->cap * sizeof *hp->h);
	}
	i = hp->n++;
	hp->h[i].count = count;
	hp->h[i].a = a;
	hp->h[i].b = b;
	while (i && heap_less(&hp->h[(i - 1) / 2], &hp->h[i])) {
		struct heap_item t = hp->h[i];
		hp->h[i] = hp->h[(i - 1) / 2];
		hp->h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct heap_item heap_pop(struct heap *hp)
{
	struct heap_item top = hp->h[0];
	size_t i = 0;

	hp->h[0] = hp->h[--hp->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < hp->n && heap_less(&hp->h[m], &hp->h[l]))
			m = l;
		if (r < hp->n && heap_less(&hp->h[m], &hp->h[r]))
			m = r;
		if (m == i)
			break;
		struct heap_item t = hp->h[i];
		hp->h[i] = hp->h[m];
		hp->h[m] = t;
		i = m;
	}
	return top;
}

/* Pair bookkeeping: count and the list of words holding the pair. */
struct pairinfo {
	uint64_t count;
	uint32_t *words;
	uint32_t nwords, capwords;
};

struct pairs {
	struct imap map; /* pair key -> index + 1 into info */
	struct pairinfo *info;
	size_t n, cap;
};

static struct pairinfo *pair_get(struct pairs *ps, uint32_t a, uint32_t b, int insert)
{
	uint64_t *slot = imap_slot(&ps->map, pair_key(a, b), insert);

	if (!slot)
		return NULL;
	if (!*slot) {
		if (!insert)
			return NULL;
		if (ps->n == ps->cap) {
			ps->cap = ps->cap ? 2 * ps->cap : 4096;
			ps->info = sl_xrealloc(ps->info, ps->cap * sizeof *ps->info);
		}
		memset(&ps->info[ps->n], 0, sizeof *ps->info);
		*slot = ++ps->n;
	}
	return &ps->info[*slot - 1];
}

/* Adds sign * count of every adjacent pair of word w; with sign > 0 the
 * word is also listed under each pair. */
static void word_pairs(struct pairs *ps, struct heap *hp, const struct word *w,
                       uint32_t wi, int sign, uint32_t *touched, size_t *ntouched)
{
	for (uint32_t i = 0; i + 1 < w->len; i++) {
		struct pairinfo *pi = pair_get(ps, w->tok[i], w->tok[i + 1], 1);
		if (sign > 0) {
			pi->count += w->count;
			if (!pi->nwords || pi->words[pi->nwords - 1] != wi) {
				if (pi->nwords == pi->capwords) {
					pi->capwords = pi->capwords ? 2 * pi->capwords : 4;
					pi->words = sl_xrealloc(pi->words, pi->capwords * sizeof *pi->words);
				}
				pi->words[pi->nwords++] = wi;
			}
		} else {
			pi->count -= w->count;
		}
		if (touched) {
			touched[(*ntouched)++] = w->tok[i];
			touched[(*ntouched)++] = w->tok[i + 1];
		}
	}
	(void)hp;
}

static int cmp_cp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

struct sl_tok *sl_tok_train(struct sl_tok_trainer *tr, uint32_t vocab_size,
                            const char *const *specials, uint32_t nspecial,
                            uint32_t *merged)
{
	struct sl_tok *t = sl_xcalloc(1, sizeof *t);

	t->mode = tr->mode;
	if (tr->mode == SL_TOK_CHAR) {
		uint64_t *cps = sl_xmalloc((tr->chars.n + 1) * sizeof *cps);
		size_t n = 0;
		for (size_t i = 0; i < tr->chars.cap; i++)
			if (tr->chars.key[i])
				cps[n++] = tr->chars.key[i] - 1;
		qsort(cps, n, sizeof *cps, cmp_cp);
		for (size_t i = 0; i < n; i++) {
			unsigned char b[4];
			int k = cps[i] > 0xffffff ? 4 : cps[i] > 0xffff ? 3 : cps[i] > 0xff ? 2 : 1;
			for (int j = 0; j < k; j++)
				b[j] = (unsigned char)(cps[i] >> (8 * (k - 1 - j)));
			*imap_slot(&t->chars, cps[i] + 1, 1) = t->n;
			tok_add(t, b, (size_t)k, UINT32_MAX, UINT32_MAX);
		}
		free(cps);
		t->nbase = t->n;
	} else {
		struct pairs ps = {0};
		struct heap hp = {0};
		uint32_t *touched = NULL, *stamp = NULL;
		size_t captouched = 0;
		uint32_t epoch = 0;

		for (uint32_t b = 0; b < 256; b++) {
			unsigned char c = (unsigned char)b;
			tok_add(t, &c, 1, UINT32_MAX, UINT32_MAX);
		}
		t->nbase = 256;
		for (uint32_t wi = 0; wi < tr->nw; wi++)
			word_pairs(&ps, &hp, &tr->w[wi], wi, 1, NULL, NULL);
		for (size_t i = 0; i < ps.map.cap; i++)
			if (ps.map.key[i]) {
				uint64_t k = ps.map.key[i] - 1;
				heap_push(&hp, ps.info[ps.map.val[i] - 1].count, (uint32_t)(k >> 32),
				          (uint32_t)k);
			}
		stamp = sl_xcalloc(tr->nw + 1, sizeof *stamp);
		while (t->n + nspecial < vocab_size && hp.n) {
			struct heap_item top = heap_pop(&hp);
			struct pairinfo *pi = pair_get(&ps, top.a, top.b, 0);
			uint32_t id, *list, nlist;
			size_t nt = 0;
			if (!pi || pi->count != top.count)
				continue; /* stale */
			if (top.count < 2)
				break;
			id = t->n;
			{
				struct sl_buf nb = {0};
				sl_buf_put(&nb, t->data.p + t->off[top.a], t->len[top.a]);
				sl_buf_put(&nb, t->data.p + t->off[top.b], t->len[top.b]);
				tok_add(t, nb.p, nb.n, top.a, top.b);
				sl_buf_free(&nb);
			}
			*imap_slot(&t->rank, pair_key(top.a, top.b), 1) = id;
			/* take the word list: the merged pair will have no words */
			list = pi->words;
			nlist = pi->nwords;
			pi->words = NULL;
			pi->nwords = pi->capwords = 0;
			epoch++;
			for (uint32_t k = 0; k < nlist; k++) {
				uint32_t wi = list[k];
				struct word *w = &tr->w[wi];
				uint32_t o = 0;
				int has = 0;
				if (stamp[wi] == epoch)
					continue;
				stamp[wi] = epoch;
				for (uint32_t i = 0; i + 1 < w->len; i++)
					if (w->tok[i] == top.a && w->tok[i + 1] == top.b) {
						has = 1;
						break;
					}
				if (!has)
					continue; /* a stale entry */
				if (captouched < nt + 4 * (size_t)w->len + 4) {
					captouched = 2 * (nt + 4 * (size_t)w->len + 4);
					touched = sl_xrealloc(touched, captouched * sizeof *touched);
				}
				word_pairs(&ps, &hp, w, wi, -1, touched, &nt);
				for (uint32_t i = 0; i < w->len; i++) {
					if (i + 1 < w->len && w->tok[i] == top.a && w->tok[i + 1] == top.b) {
						w->tok[o++] = id;
						i++;
					} else {
						w->tok[o++] = w->tok[i];
					}
				}
				w->len = o;
				word_pairs(&ps, &hp, w, wi, 1, touched, &nt);
			}
			free(list);
			/* re-queue every pair whose count changed, once each */
			for (size_t i = 0; i + 1 < nt; i += 2) {
				struct pairinfo *q = pair_get(&ps, touched[i], touched[i + 1], 0);
				if (q && q->count)
					heap_push(&hp, q->count, touched[i], touched[i + 1]);
			}
		}
		t->nmerges = t->n - 256;
		for (size_t i = 0; i < ps.n; i++)
			free(ps.info[i].words);
		free(ps.info);
		imap_free(&ps.map);
		free(hp.h);
		free(touched);
		free(stamp);
	}
	if (merged)
		*merged = t->mode == SL_TOK_BPE ? t->nmerges : t->nbase;
	for (uint32_t s = 0; s < nspecial; s++)
		tok_add(t, specials[s], strlen(specials[s]), UINT32_MAX, UINT32_MAX);
	t->nspecial = nspecial;
	return t;
}

void sl_tok_trainer_free(struct sl_tok_trainer *tr)
{
	if (!tr)
		return;
	for (size_t i = 0; i < tr->nw; i++)
		free(tr->w[i].tok);
	free(tr->w);
	imap_free(&tr->index);
	imap_free(&tr->chars);
	free(tr);
}

/* ---------------------------------------------------------- encoding */

/* Merges the tokens of one word by rank; returns the new length. */
static uint32_t merge_word(const struct sl_tok *t, uint32_t *tok, uint32_t n)
{
	for (;;) {
		uint64_t best = UINT64_MAX;
		uint32_t at = 0, o = 0;
		for (uint32_t i = 0; i + 1 < n; i++) {
			uint64_t *r = imap_slot((struct imap *)&t->rank, pair_key(tok[i], tok[i + 1]), 0);
			if (r && *r < best) {
				best = *r;
				at = i;
			}
		}
		if (best == UINT64_MAX)
			return n;
		{
			uint32_t a = tok[at], b = tok[at + 1];
			for (uint32_t i = 0; i < n; i++) {
				if (i + 1 < n && tok[i] == a && tok[i + 1] == b) {
					tok[o++] = (uint32_t)best;
					i++;
				} else {
					tok[o++] = tok[i];
				}
			}
			n = o;
		}
	}
}

static void ids_push(uint32_t **ids, size_t *n, size_t *cap, uint32_t id)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		*ids = sl_xrealloc(*ids, *cap * sizeof **ids);
	}
	(*ids)[(*n)++] = id;
}

int sl_tok_encode(struct sl_tok *t, const char *text, size_t n, uint32_t **ids,
                  size_t *nids, size_t *cap, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;

	if (t->mode == SL_TOK_CHAR) {
		while (i < n) {
			uint32_t cp = p[i], k = 1;
			uint64_t *slot;
			if (cp >= 0xf0)
				k = 4;
			else if (cp >= 0xe0)
				k = 3;
			else if (cp >= 0xc0)
				k = 2;
			if (i + k > n)
				k = 1;
			cp = 0;
			for (uint32_t j = 0; j < k; j++)
				cp = cp << 8 | p[i + j];
			slot = imap_slot(&t->chars, (uint64_t)cp + 1, 0);
			if (!slot) {
				*bad = i;
				return -1;
			}
			ids_push(ids, nids, cap, (uint32_t)*slot);
			i += k;
		}
		return 0;
	}
	while (i < n) {
		size_t len = next_word(p + i, n - i);
		uint64_t h[2], *slot;
		sl_hash128(p + i, len, 0, h);
		slot = imap_slot(&t->cache, h[0] ? h[0] : 1, 0);
		if (slot && t->cached[*slot - 1 + 1] == (uint32_t)len) {
			uint32_t *run = t->cached + *slot - 1;
			for (uint32_t j = 0; j < run[0]; j++)
				ids_push(ids, nids, cap, run[2 + j]);
		} else {
			uint32_t m;
			if (len > t->capwork) {
				t->capwork = 2 * len;
				t->work = sl_xrealloc(t->work, t->capwork * sizeof *t->work);
			}
			for (size_t j = 0; j < len; j++)
				t->work[j] = p[i + j];
			m = merge_word(t, t->work, (uint32_t)len);
			for (uint32_t j = 0; j < m; j++)
				ids_push(ids, nids, cap, t->work[j]);
			if (t->cache.n < (1u << 20)) { /* remember: [count, bytes, ids] */
				if (t->ncached + m + 2 > t->capcached) {
					t->capcached = 2 * (t->ncached + m + 2);
					t->cached = sl_xrealloc(t->cached, t->capcached * sizeof *t->cached);
				}
				*imap_slot(&t->cache, h[0] ? h[0] : 1, 1) = t->ncached + 1;
				t->cached[t->ncached] = m;
				t->cached[t->ncached + 1] = (uint32_t)len;
				memcpy(t->cached + t->ncached + 2, t->work, m * sizeof *t->work);
				t->ncached += m + 2;
			}
		}
		i += len;
	}
	return 0;
}

int sl_tok_decode(const struct sl_tok *t, const uint32_t *ids, size_t n,
                  struct sl_buf *out, size_t *bad)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= t->n) {
			*bad = i;
			return -1;
		}
		sl_buf_put(out, t->data.p + t->off[ids[i]], t->len[ids[i]]);
	}
	return 0;
}

/* ------------------------------------------------------- as a stream */

int sl_tok_write(const struct sl_tok *t, struct sl_writer *w, struct sl_header *h)
{
	struct sl_type ti = {SL_INT, 0, 0}, tb = {SL_BIN, 0, 0}, ts = {SL_STR, 0, 0};
	struct sl_val specials = sl_val_arr();

	sl_header_add(h, "id", ti);
	sl_header_add(h, "bytes", tb);
	sl_header_add(h, "text", ts);
	sl_header_add(h, "left", ti);
	sl_header_add(h, "right", ti);
	sl_val_set(&h->meta, "state", sl_val_str("sluice-tokenize"));
	sl_val_set(&h->meta, "mode", sl_val_str(t->mode == SL_TOK_BPE ? "bpe" : "char"));
	sl_val_set(&h->meta, "vocab_size", sl_val_int(t->n));
	for (uint32_t i = t->n - t->nspecial; i < t->n; i++)
		sl_val_push(&specials, sl_val_strn(t->data.p + t->off[i], t->len[i]));
	sl_val_set(&h->meta, "specials", specials);
	if (sl_write_header(w, h) < 0)
		return -1;
	for (uint32_t i = 0; i < t->n; i++) {
		struct sl_value v[5] = {{SL_INT, {.i = i}}, {SL_BIN, {.i = 0}}, {SL_NIL, {.i = 0}},
		                        {SL_NIL, {.i = 0}}, {SL_NIL, {.i = 0}}};
		const char *p = t->data.p + t->off[i];
		v[1].u.s.p = p;
		v[1].u.s.n = t->len[i];
		if (sl_utf8_valid(p, t->len[i]) == t->len[i]) {
			v[2].kind = SL_STR;
			v[2].u.s.p = p;
			v[2].u.s.n = t->len[i];
		}
		if (t->left[i] != UINT32_MAX) {
			v[3].kind = v[4].kind = SL_INT;
			v[3].u.i = t->left[i];
			v[4].u.i = t->right[i];
		}
		if (sl_write_record(w, v, 5) < 0)
			return -1;
	}
	return 0;
}

struct sl_tok *sl_tok_read(struct sl_reader *r, char *err, size_t errcap)
{
	struct sl_tok *t = sl_xcalloc(1, sizeof *t);
	const struct sl_header *h;
	const struct sl_val *st, *mode, *specials;
	int ev, fid, fbytes, fl, fr;
	size_t nspecial = 0;

	ev = sl_read(r);
	if (ev != SL_HEADER) {
		snprintf(err, errcap, "%s", ev == SL_ERROR ? sl_reader_error(r) : "no header");
		goto bad;
	}
	h = sl_reader_header(r);
	st = sl_val_get(&h->meta, "state");
	mode = sl_val_get(&h->meta, "mode");
	specials = sl_val_get(&h->meta, "specials");
	if (!st || st->tag != SL_V_STR || strcmp(st->u.s, "sluice-tokenize") || !mode ||
	    mode->tag != SL_V_STR) {
		snprintf(err, errcap, "%s: not a sluice-tokenize vocabulary", sl_reader_name(r));
		goto bad;
	}
	t->mode = strcmp(mode->u.s, "char") == 0 ? SL_TOK_CHAR : SL_TOK_BPE;
	if (specials && specials->tag == SL_V_ARR)
		nspecial = specials->n;
	fid = sl_header_find(h, "id");
	fbytes = sl_header_find(h, "bytes");
	fl = sl_header_find(h, "left");
	fr = sl_header_find(h, "right");
	if (fid < 0 || fbytes < 0 || fl < 0 || fr < 0) {
		snprintf(err, errcap, "%s: vocabulary lacks id/bytes/left/right", sl_reader_name(r));
		goto bad;
	}
	while ((ev = sl_read(r)) == SL_RECORD) {
		const struct sl_value *v = sl_reader_values(r);
		uint32_t l = UINT32_MAX, rr = UINT32_MAX;
		if (v[fid].kind != SL_INT || v[fid].u.i != (int64_t)t->n || v[fbytes].kind != SL_BIN) {
			snprintf(err, errcap, "%s: record %llu: ids must run 0, 1, 2, ... with bytes",
			         sl_reader_name(r), (unsigned long long)sl_reader_recno(r));
			goto bad;
		}
		if (v[fl].kind == SL_INT && v[fr].kind == SL_INT) {
			if (v[fl].u.i < 0 || v[fl].u.i >= (int64_t)t->n || v[fr].u.i < 0 ||
			    v[fr].u.i >= (int64_t)t->n) {
				snprintf(err, errcap, "%s: record %llu: a merge of unknown ids",
				         sl_reader_name(r), (unsigned long long)sl_reader_recno(r));
				goto bad;
			}
			l = (uint32_t)v[fl].u.i;
			rr = (uint32_t)v[fr].u.i;
			*imap_slot(&t->rank, pair_key(l, rr), 1) = t->n;
		}
		tok_add(t, v[fbytes].u.s.p, v[fbytes].u.s.n, l, rr);
	}
	if (ev == SL_ERROR) {
		snprintf(err, errcap, "%s", sl_reader_error(r));
		goto bad;
	}
	if (nspecial > t->n) {
		snprintf(err, errcap, "%s: more specials than tokens", sl_reader_name(r));
		goto bad;
	}
	t->nspecial = (uint32_t)nspecial;
	if (t->mode == SL_TOK_BPE) {
		t->nbase = 256;
		t->nmerges = t->n - 256 - t->nspecial;
		if (t->n < 256 + nspecial) {
			snprintf(err, errcap, "%s: a BPE vocabulary starts with the 256 bytes",
			         sl_reader_name(r));
			goto bad;
		}
	} else {
		t->nbase = t->n - t->nspecial;
		for (uint32_t i = 0; i < t->nbase; i++) {
			uint64_t cp = 0;
			for (size_t j = 0; j < t->len[i]; j++)
				cp = cp << 8 | (unsigned char)t->data.p[t->off[i] + j];
			*imap_slot(&t->chars, cp + 1, 1) = i;
		}
	}
	return t;
bad:
	sl_tok_free(t);
	return NULL;
}
