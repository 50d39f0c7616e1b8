/*
 * split.c - sluice-split: train/validation/test splits.
 *
 * Records are assigned to named parts (train, val, test by default) in
 * given ratios, and either written to one file per part (--out NAME=FILE)
 * or tagged with the part's name in a new field (--field NAME, the
 * default, field "split") on one output stream.  Modes:
 *
 *   random      exact counts per part (largest remainder), chosen by a
 *               seeded shuffle
 *   stratified  the same within each class of --by, so every class's
 *               share in every part is within one record of the ratio
 *   time        ordered by --by (stable): earliest records to the first
 *               part, latest to the last; unordered input is sorted
 *   group       whole groups of --by to one part each (seeded order),
 *               record counts as near the ratios as the groups allow
 *   hash        a stable hash of --by (or of the whole record) picks the
 *               part: streaming, and a record keeps its part when more
 *               data is appended
 *
 * Memory: the hash mode holds one record.  Every other mode must see all
 * records before assigning any, so it keeps each record's encoded bytes
 * plus 24 bytes of index (and, with --by, each distinct key once).
 * Records always come out in input order.
 */
#include "sluice.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXPARTS 16

enum mode { RANDOM, STRATIFIED, TIME, GROUP, HASH };

struct opts {
	struct sl_cli cli;
	enum mode mode;
	const char *by;
	const char *field; /* tag field name; NULL with --out */
	uint64_t seed;
	int nparts;
	double ratio[MAXPARTS];
	char *name[MAXPARTS];
	const char *out[MAXPARTS];
	int nout;
};

/* One buffered record. */
struct item {
	size_t off, len; /* encoded bytes in the arena */
	uint32_t key;    /* class or group id; time: index into keys */
	uint8_t part;
};

/* A time key: the sort value of the --by field. */
struct tkey {
	int kind;
	union {
		int64_t i;
		double f;
	} u;
	size_t soff, slen; /* str: bytes in the key arena */
	size_t idx;        /* input position, for a stable sort */
};

/* Distinct key values, for classes and groups: open addressing over a
 * 64-bit hash, confirmed by comparing the bytes. */
struct keyset {
	struct sl_buf bytes; /* kind byte + value bytes, back to back */
	size_t *off, *len;
	uint64_t *count;
	size_t n, cap;
	uint32_t *slot; /* id + 1, 0 = empty */
	uint64_t *slothash;
	size_t nslot;
};

static void usage(int status);
static struct sl_buf karena; /* bytes of str time keys */

/* The bytes that identify a value as a key: its kind, then its value. */
static void key_bytes(struct sl_buf *b, const struct sl_value *v)
{
	b->n = 0;
	sl_buf_putc(b, (int)v->kind);
	switch (v->kind) {
	case SL_NIL:
		break;
	case SL_BOOL:
		sl_buf_putc(b, v->u.b);
		break;
	case SL_INT:
		sl_buf_put(b, &v->u.i, sizeof v->u.i);
		break;
	case SL_FLOAT:
		sl_buf_put(b, &v->u.f, sizeof v->u.f);
		break;
	default:
		sl_buf_put(b, v->u.s.p, v->u.s.n);
	}
}

static uint32_t keyset_id(struct keyset *ks, const char *p, size_t n)
{
	uint64_t h = sl_hash64(p, n, 0);
	size_t i;

	if (2 * (ks->n + 1) > ks->nslot) { /* grow and rehash */
		size_t ns = ks->nslot ? 2 * ks->nslot : 1024;
		uint32_t *slot = sl_xcalloc(ns, sizeof *slot);
		uint64_t *sh = sl_xcalloc(ns, sizeof *sh);
		for (size_t j = 0; j < ks->nslot; j++)
			if (ks->slot[j]) {
				for (i = ks->slothash[j] & (ns - 1); slot[i]; i = (i + 1) & (ns - 1))
					;
				slot[i] = ks->slot[j];
				sh[i] = ks->slothash[j];
			}
		free(ks->slot);
		free(ks->slothash);
		ks->slot = slot;
		ks->slothash = sh;
		ks->nslot = ns;
	}
	for (i = h & (ks->nslot - 1); ks->slot[i]; i = (i + 1) & (ks->nslot - 1)) {
		uint32_t id = ks->slot[i] - 1;
		if (ks->slothash[i] == h && ks->len[id] == n &&
		    memcmp(ks->bytes.p + ks->off[id], p, n) == 0) {
			ks->count[id]++;
			return id;
		}
	}
	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? 2 * ks->cap : 64;
		ks->off = sl_xrealloc(ks->off, ks->cap * sizeof *ks->off);
		ks->len = sl_xrealloc(ks->len, ks->cap * sizeof *ks->len);
		ks->count = sl_xrealloc(ks->count, ks->cap * sizeof *ks->count);
	}
	ks->off[ks->n] = ks->bytes.n;
	ks->len[ks->n] = n;
	ks->count[ks->n] = 1;
	sl_buf_put(&ks->bytes, p, n);
	ks->slot[i] = (uint32_t)ks->n + 1;
	ks->slothash[i] = h;
	return (uint32_t)ks->n++;
}

/* A key's text for messages and counts. */
static void key_text(struct sl_buf *out, const struct keyset *ks, uint32_t id)
{
	const char *p = ks->bytes.p + ks->off[id];
	size_t n = ks->len[id];
	char num[32];

	switch ((enum sl_kind)p[0]) {
	case SL_NIL: sl_buf_puts(out, "(missing)"); break;
	case SL_BOOL: sl_buf_puts(out, p[1] ? "true" : "false"); break;
	case SL_INT: {
		int64_t i;
		memcpy(&i, p + 1, sizeof i);
		sl_buf_put(out, num, (size_t)sl_fmt_int(num, i));
		break;
	}
	case SL_FLOAT: {
		double f;
		memcpy(&f, p + 1, sizeof f);
		sl_buf_put(out, num, (size_t)sl_fmt_float(num, f));
		break;
	}
	case SL_STR: sl_buf_put(out, p + 1, n - 1); break;
	default: sl_buf_printf(out, "(%zu bytes)", n - 1);
	}
}

/* Splits total into nparts counts in proportion to ratio, summing to
 * total exactly: floors first, then the largest remainders (ties to the
 * earlier part). */
static void allocate(uint64_t total, const struct opts *o, uint64_t *count)
{
	double rem[MAXPARTS];
	uint64_t given = 0;

	for (int k = 0; k < o->nparts; k++) {
		double exact = (double)total * o->ratio[k];
		count[k] = (uint64_t)floor(exact);
		rem[k] = exact - (double)count[k];
		given += count[k];
	}
	while (given < total) {
		int best = 0;
		for (int k = 1; k < o->nparts; k++)
			if (rem[k] > rem[best])
				best = k;
		count[best]++;
		rem[best] = -1;
		given++;
	}
}

/* Assigns parts to the n items listed in idx (a permutation), in order:
 * the first count[0] to part 0, and so on. */
static void deal(struct item *it, const size_t *idx, size_t n, const uint64_t *count)
{
	size_t i = 0;

	for (int k = 0; i < n; k++)
		for (uint64_t c = 0; c < count[k] && i < n; c++)
			it[idx[i++]].part = (uint8_t)k;
}

static void shuffle(size_t *idx, size_t n, struct sl_rng *rng)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)sl_rng_below(rng, i), t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

static int tkey_cmp(const void *a, const void *b)
{
	const struct tkey *x = a, *y = b;
	int c = 0;

	if (x->kind == SL_STR) {
		size_t n = x->slen < y->slen ? x->slen : y->slen;
		c = memcmp(karena.p + x->soff, karena.p + y->soff, n);
		if (!c)
			c = (x->slen > y->slen) - (x->slen < y->slen);
	} else if (x->kind == SL_INT) {
		c = (x->u.i > y->u.i) - (x->u.i < y->u.i);
	} else {
		c = (x->u.f > y->u.f) - (x->u.f < y->u.f);
	}
	if (!c)
		c = (x->idx > y->idx) - (x->idx < y->idx);
	return c;
}

/* Hash mode: the part whose ratio interval holds the key's hash. */
static int hash_part(const struct opts *o, const void *p, size_t n)
{
	double u = (double)(sl_hash64(p, n, o->seed) >> 11) * 0x1.0p-53, cum = 0;

	for (int k = 0; k < o->nparts - 1; k++) {
		cum += o->ratio[k];
		if (u < cum)
			return k;
	}
	return o->nparts - 1;
}

static int parse_ratios(struct opts *o, const char *s)
{
	char *copy = sl_xstrdup(s), *p = copy, *tok, *end;
	double sum = 0;

	o->nparts = 0;
	while ((tok = strsep(&p, "/,:"))) {
		double r = strtod(tok, &end);
		if (end == tok || *end || !(r >= 0) || isinf(r) || o->nparts == MAXPARTS) {
			free(copy);
			return -1;
		}
		o->ratio[o->nparts++] = r;
		sum += r;
	}
	free(copy);
	if (o->nparts < 2 || !(sum > 0))
		return -1;
	for (int k = 0; k < o->nparts; k++)
		o->ratio[k] /= sum;
	return 0;
}

static int parse_names(struct opts *o, const char *s, int *n)
{
	char *copy = sl_xstrdup(s), *p = copy, *tok;

	*n = 0;
	while ((tok = strsep(&p, ","))) {
		if (!*tok || *n == MAXPARTS) {
			free(copy);
			return -1;
		}
		for (int k = 0; k < *n; k++)
			if (strcmp(o->name[k], tok) == 0) {
				free(copy);
				return -1;
			}
		o->name[(*n)++] = sl_xstrdup(tok);
	}
	free(copy);
	return 0;
}

static const char *const mode_names[] = {"random", "stratified", "time", "group", "hash"};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"ratios", required_argument, 0, 'r'},
	    {"names", required_argument, 0, 'n'},
	    {"mode", required_argument, 0, 'm'},
	    {"by", required_argument, 0, 'b'},
	    {"seed", required_argument, 0, 's'},
	    {"field", required_argument, 0, 'F'},
	    {"out", required_argument, 0, 'O'},
	    {0, 0, 0, 0},
	};
	struct opts o = {.mode = RANDOM, .field = NULL};
	const char *outspec[MAXPARTS];
	int nnames = 0, c, nin, rc = 0;
	struct item *items = NULL;
	size_t nitems = 0, capitems = 0;
	struct sl_buf arena = {0}, kb = {0};
	struct keyset ks = {0};
	struct tkey *tkeys = NULL;
	struct sl_header *outh = NULL, *first = NULL;
	struct sl_writer *w[MAXPARTS] = {0};
	uint64_t count[MAXPARTS] = {0}, got[MAXPARTS] = {0};
	int byfield = -1;
	long long seed;

	sl_init(argv[0]);
	parse_ratios(&o, "80/10/10");
	while ((c = getopt_long(argc, argv, "o:fr:n:m:b:s:F:O:", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case 'r':
			if (parse_ratios(&o, optarg) < 0)
				sl_die(2, "--ratios: want two or more non-negative numbers "
				          "such as 80/10/10, not '%s'", optarg);
			break;
		case 'n':
			if (parse_names(&o, optarg, &nnames) < 0)
				sl_die(2, "--names: want distinct non-empty names such as "
				          "train,val,test, not '%s'", optarg);
			break;
		case 'm': {
			int k;
			for (k = 0; k < 5 && strcmp(optarg, mode_names[k]); k++)
				;
			if (k == 5)
				sl_die(2, "--mode: random, stratified, time, group or hash, "
				          "not '%s'", optarg);
			o.mode = (enum mode)k;
			break;
		}
		case 'b':
			o.by = optarg;
			break;
		case 's':
			seed = sl_parse_count(optarg);
			if (seed < 0)
				sl_die(2, "--seed: want a non-negative integer, not '%s'", optarg);
			o.seed = (uint64_t)seed;
			break;
		case 'F':
			o.field = optarg;
			break;
		case 'O':
			if (o.nout == MAXPARTS || !strchr(optarg, '=') || optarg[0] == '=')
				sl_die(2, "--out: want NAME=FILE, not '%s'", optarg);
			outspec[o.nout++] = optarg;
			break;
		default:
			usage(2);
			return 2;
		}
	}
	/* Names: given, or the usual ones for 2 and 3 parts. */
	if (!nnames) {
		if (o.nparts == 2 || o.nparts == 3) {
			parse_names(&o, o.nparts == 2 ? "train,test" : "train,val,test", &nnames);
		} else {
			sl_die(2, "%d ratios need --names", o.nparts);
		}
	}
	if (nnames != o.nparts)
		sl_die(2, "%d names for %d ratios", nnames, o.nparts);
	if (o.nout && (o.field || o.cli.output))
		sl_die(2, "--out writes one file per part; it does not go with "
		          "--field or -o");
	for (int i = 0; i < o.nout; i++) {
		const char *eq = strchr(outspec[i], '=');
		int k;
		for (k = 0; k < o.nparts; k++)
			if (strlen(o.name[k]) == (size_t)(eq - outspec[i]) &&
			    memcmp(o.name[k], outspec[i], (size_t)(eq - outspec[i])) == 0)
				break;
		if (k == o.nparts)
			sl_die(2, "--out %s: no part of that name (parts: %s...)",
			       outspec[i], o.name[0]);
		if (o.out[k])
			sl_die(2, "--out: part '%s' given twice", o.name[k]);
		o.out[k] = eq + 1;
	}
	if (!o.nout && !o.field)
		o.field = "split";
	if ((o.mode == STRATIFIED || o.mode == TIME || o.mode == GROUP) && !o.by)
		sl_die(2, "--mode %s needs --by FIELD", mode_names[o.mode]);

	/* Read every input; hash mode writes as it goes. */
	nin = argc - optind;
	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? argv[optind + a] : NULL);
		int ev;
		while ((ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			const void *raw;
			size_t rawn;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (first) {
					if (sl_reader_fields_differ(r, first, h,
					                            " input; split each schema separately")) {
						rc = 1;
						break;
					}
					continue;
				}
				first = sl_header_copy(h);
				if (o.by && (byfield = sl_header_find(h, o.by)) < 0) {
					sl_warn("%s: --by: no field \"%s\"", sl_reader_name(r), o.by);
					rc = 2;
					break;
				}
				if (o.mode == TIME && byfield >= 0 &&
				    h->fields[byfield].type.kind != SL_INT &&
				    h->fields[byfield].type.kind != SL_FLOAT &&
				    h->fields[byfield].type.kind != SL_STR) {
					sl_warn("%s: --mode time: field \"%s\" must be int, "
					        "float or str", sl_reader_name(r), o.by);
					rc = 2;
					break;
				}
				if (o.field && sl_header_find(h, o.field) >= 0) {
					sl_warn("%s: --field: the input already has a field "
					        "\"%s\"; name another with --field", sl_reader_name(r),
					        o.field);
					rc = 2;
					break;
				}
				outh = sl_header_copy(h);
				sl_header_lineage(outh, argc, argv);
				if (o.field) {
					struct sl_type t = {SL_STR, SL_ELEM_NONE, 0};
					sl_header_add(outh, o.field, t);
				}
				if (o.mode == HASH) { /* streaming: open and write now */
					for (int k = 0; k < (o.field ? 1 : o.nparts); k++) {
						if (!o.field && !o.out[k])
							continue;
						w[k] = sl_writer_open(o.field ? o.cli.output : o.out[k], &o.cli.w);
						if (sl_writer_error(w[k]) || sl_write_header(w[k], outh) < 0) {
							sl_warn("%s", sl_writer_error(w[k]));
							rc = 1;
						}
					}
					if (rc)
						break;
				}
				continue;
			}
			v = sl_reader_values(r);
			sl_reader_raw(r, &raw, &rawn);
			if (o.mode == HASH) {
				int k;
				struct sl_value tag = {SL_STR, {.i = 0}};
				if (byfield >= 0) {
					key_bytes(&kb, &v[byfield]);
					k = hash_part(&o, kb.p, kb.n);
				} else {
					k = hash_part(&o, raw, rawn);
				}
				got[k]++;
				if (o.field) {
					tag.u.s.p = o.name[k];
					tag.u.s.n = strlen(o.name[k]);
					if (sl_write_raw_append(w[0], raw, rawn, &tag, 1) < 0) {
						rc = 1;
						break;
					}
				} else if (w[k] && sl_write_raw(w[k], raw, rawn) < 0) {
					rc = 1;
					break;
				}
				continue;
			}
			if (nitems == capitems) {
				capitems = capitems ? 2 * capitems : 4096;
				items = sl_xrealloc(items, capitems * sizeof *items);
				if (o.mode == TIME)
					tkeys = sl_xrealloc(tkeys, capitems * sizeof *tkeys);
			}
			items[nitems].off = arena.n;
			items[nitems].len = rawn;
			items[nitems].key = 0;
			sl_buf_put(&arena, raw, rawn);
			if (o.mode == STRATIFIED || o.mode == GROUP) {
				key_bytes(&kb, &v[byfield]);
				items[nitems].key = keyset_id(&ks, kb.p, kb.n);
			} else if (o.mode == TIME) {
				struct tkey *t = &tkeys[nitems];
				const struct sl_value *x = &v[byfield];
				if (x->kind == SL_NIL || (x->kind == SL_FLOAT && isnan(x->u.f))) {
					sl_warn("%s: record %llu: field \"%s\": a missing or NaN "
					        "time cannot be ordered",
					        sl_reader_name(r),
					        (unsigned long long)sl_reader_recno(r), o.by);
					rc = 1;
					break;
				}
				t->kind = x->kind;
				t->idx = nitems;
				if (x->kind == SL_STR) {
					t->soff = karena.n;
					t->slen = x->u.s.n;
					sl_buf_put(&karena, x->u.s.p, x->u.s.n);
				} else if (x->kind == SL_INT) {
					t->u.i = x->u.i;
				} else {
					t->u.f = x->u.f;
				}
			}
			nitems++;
		}
		if (ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		/* for the header written at the end (not --mode hash's) */
		if (a == 0 && first) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &first->lineage);
		sl_reader_close(r);
	}
	if (!rc && o.mode != HASH) {
		size_t *idx = sl_xmalloc((nitems ? nitems : 1) * sizeof *idx);
		struct sl_rng rng;

		sl_rng_seed(&rng, o.seed);
		if (o.mode == RANDOM) {
			for (size_t i = 0; i < nitems; i++)
				idx[i] = i;
			shuffle(idx, nitems, &rng);
			allocate(nitems, &o, count);
			deal(items, idx, nitems, count);
		} else if (o.mode == TIME) {
			qsort(tkeys, nitems, sizeof *tkeys, tkey_cmp);
			for (size_t i = 0; i < nitems; i++)
				idx[i] = tkeys[i].idx;
			allocate(nitems, &o, count);
			deal(items, idx, nitems, count);
		} else if (o.mode == STRATIFIED) {
			/* Per class: its records in seeded order, dealt by the
			 * class's own exact allocation. */
			size_t *start = sl_xcalloc(ks.n + 1, sizeof *start), *fillp;
			for (size_t c2 = 0; c2 < ks.n; c2++)
				start[c2 + 1] = start[c2] + ks.count[c2];
			fillp = sl_xmalloc((ks.n ? ks.n : 1) * sizeof *fillp);
			memcpy(fillp, start, (ks.n ? ks.n : 1) * sizeof *fillp);
			for (size_t i = 0; i < nitems; i++)
				idx[fillp[items[i].key]++] = i;
			for (size_t c2 = 0; c2 < ks.n; c2++) {
				uint64_t cc[MAXPARTS];
				shuffle(idx + start[c2], ks.count[c2], &rng);
				allocate(ks.count[c2], &o, cc);
				deal(items, idx + start[c2], ks.count[c2], cc);
			}
			free(start);
			free(fillp);
		} else { /* GROUP: groups in seeded order, each to the part its
			  * middle record falls in */
			size_t *gorder = sl_xmalloc((ks.n ? ks.n : 1) * sizeof *gorder);
			uint8_t *gpart = sl_xmalloc(ks.n ? ks.n : 1);
			double cum = 0;
			for (size_t g = 0; g < ks.n; g++)
				gorder[g] = g;
			shuffle(gorder, ks.n, &rng);
			for (size_t g = 0; g < ks.n; g++) {
				double mid = (cum + (double)ks.count[gorder[g]] / 2) / (double)nitems,
				       edge = 0;
				int k;
				for (k = 0; k < o.nparts - 1; k++) {
					edge += o.ratio[k];
					if (mid < edge)
						break;
				}
				gpart[gorder[g]] = (uint8_t)k;
				cum += (double)ks.count[gorder[g]];
			}
			for (size_t i = 0; i < nitems; i++)
				items[i].part = gpart[items[i].key];
			free(gorder);
			free(gpart);
		}
		free(idx);
		for (size_t i = 0; i < nitems; i++)
			got[items[i].part]++;
	}
	/* Counts into the lineage entry and to stderr. */
	if (!rc && outh && o.mode != HASH) {
		struct sl_val cnt = sl_val_map(), *entry;
		for (int k = 0; k < o.nparts; k++)
			sl_val_set(&cnt, o.name[k], sl_val_int((int64_t)got[k]));
		sl_lineage_rebase(outh, &first->lineage);
		entry = &outh->lineage.u.a[outh->lineage.n - 1];
		sl_val_set(entry, "counts", cnt);
		for (int k = 0; k < (o.field ? 1 : o.nparts) && !rc; k++) {
			if (!o.field && !o.out[k])
				continue;
			w[k] = sl_writer_open(o.field ? o.cli.output : o.out[k], &o.cli.w);
			if (sl_writer_error(w[k]) || sl_write_header(w[k], outh) < 0) {
				sl_warn("%s", sl_writer_error(w[k]));
				rc = 1;
			}
		}
		for (size_t i = 0; i < nitems && !rc; i++) {
			int k = items[i].part;
			const char *raw = arena.p + items[i].off;
			if (o.field) {
				struct sl_value tag = {SL_STR, {.i = 0}};
				tag.u.s.p = o.name[k];
				tag.u.s.n = strlen(o.name[k]);
				rc = sl_write_raw_append(w[0], raw, items[i].len, &tag, 1) < 0;
			} else if (w[k]) {
				rc = sl_write_raw(w[k], raw, items[i].len) < 0;
			}
		}
	}
	if (!outh && !rc) {
		sl_warn("no input header");
		rc = 1;
	}
	for (int k = 0; k < MAXPARTS; k++) {
		char *err = NULL;
		if (!w[k])
			continue;
		if (rc) {
			if (sl_writer_error(w[k]))
				sl_warn("%s", sl_writer_error(w[k]));
			sl_writer_abort(w[k]);
		} else if (sl_writer_close(w[k], &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
	}
	if (!rc) {
		struct sl_buf line = {0};
		uint64_t total = 0;
		for (int k = 0; k < o.nparts; k++)
			total += got[k];
		sl_buf_printf(&line, "%llu records:", (unsigned long long)total);
		for (int k = 0; k < o.nparts; k++)
			sl_buf_printf(&line, " %s %llu", o.name[k], (unsigned long long)got[k]);
		sl_warn("%s", sl_buf_cstr(&line));
		if (o.mode == STRATIFIED) {
			for (size_t c2 = 0; c2 < ks.n; c2++) {
				uint64_t per[MAXPARTS] = {0};
				line.n = 0;
				for (size_t i = 0; i < nitems; i++)
					if (items[i].key == c2)
						per[items[i].part]++;
				sl_buf_puts(&line, "  class ");
				key_text(&line, &ks, (uint32_t)c2);
				sl_buf_puts(&line, ":");
				for (int k = 0; k < o.nparts; k++)
					sl_buf_printf(&line, " %s %llu", o.name[k],
					              (unsigned long long)per[k]);
				sl_warn("%s", sl_buf_cstr(&line));
			}
		}
		sl_buf_free(&line);
	}
	for (int k = 0; k < o.nparts; k++)
		free(o.name[k]);
	free(items);
	free(tkeys);
	free(ks.off);
	free(ks.len);
	free(ks.count);
	free(ks.slot);
	free(ks.slothash);
	sl_buf_free(&ks.bytes);
	sl_buf_free(&arena);
	sl_buf_free(&kb);
	sl_buf_free(&karena);
	sl_header_free(outh);
	sl_header_free(first);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-split [-f] [-o FILE] [--zstd[=LEVEL]] [--ratios R/R[/R...]]\n"
	        "                    [--names A,B[,C...]] [--mode MODE] [--by FIELD]\n"
	        "                    [--seed N] [--field NAME | --out PART=FILE ...]\n"
	        "                    [FILE ...]\n"
	        "  --ratios     part sizes, any scale (default 80/10/10)\n"
	        "  --names      part names (default train,val,test; train,test for two)\n"
	        "  --mode       random (default), stratified, time, group or hash\n"
	        "  --by FIELD   class (stratified), time (time), group (group) or\n"
	        "               hash key (hash; default the whole record)\n"
	        "  --seed N     seed of the shuffle or hash (default 0)\n"
	        "  --field NAME tag each record with its part's name (default \"split\")\n"
	        "  --out P=FILE write part P's records to FILE (repeatable; parts\n"
	        "               without one are dropped)\n");
}
