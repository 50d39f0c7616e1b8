/*
 * lm.c - a language model as the model file keeps it: a GPT (lib/gpt.c)
 * together with the vocabulary it was trained with.
 *
 * A language model applies to raw text only with the tokenizer that made
 * its training ids, so the model file carries both.  Its header holds
 *
 *   "model": {"kind": "gpt", "vocab_size": V, "context": T, "layers": L,
 *             "heads": NH, "embd": C, "dropout": p, "parameters": n}
 *   "vocab": {"mode": "bpe"|"char", "size": V, "end_of_text": id | nil,
 *             "stream": <bin>}
 *
 * where "stream" is the vocabulary stream itself (what sluice-tokenize
 * --fit writes: sl_tok_write under the vocabulary's own lineage), stored
 * uncompressed as one msgpack bin; the other vocab keys repeat what it says
 * so that a glance at the header tells.  The tensors are the GPT's, named
 * as in lib/gpt.c (wte, wpe, h.<l>.*, lnf.*).
 *
 * Loading rebuilds the GPT from "model", copies its tensors in by name
 * (shapes and checksums verified by lib/model.c), reads the vocabulary back
 * from its stream and checks that the parts agree: the vocabulary has V
 * tokens and says the same mode and end-of-text id as the header.
 *
 * Scoring (sl_lm_nll) is the loss of a token stream in non-overlapping
 * windows, shared by sluice-train's validation and sluice-evaluate.
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

#define EOT_NAME "<|endoftext|>"

static int64_t eot_of(const struct sl_tok *tok)
{
	uint32_t e = sl_tok_special(tok, EOT_NAME);

	return e == UINT32_MAX ? -1 : (int64_t)e;
}

int32_t sl_lm_eot(const struct sl_tok *tok)
{
	return (int32_t)eot_of(tok);
}

struct sl_val sl_lm_describe(const struct sl_gpt *g)
{
	struct sl_val d = sl_val_map();

	sl_val_set(&d, "kind", sl_val_str("gpt"));
	sl_val_set(&d, "vocab_size", sl_val_int(g->cfg.V));
	sl_val_set(&d, "context", sl_val_int(g->cfg.maxT));
	sl_val_set(&d, "layers", sl_val_int(g->cfg.L));
	sl_val_set(&d, "heads", sl_val_int(g->cfg.NH));
	sl_val_set(&d, "embd", sl_val_int(g->cfg.C));
	sl_val_set(&d, "dropout", sl_val_float(g->cfg.dropout));
	sl_val_set(&d, "parameters", sl_val_int((int64_t)g->P.n));
	return d;
}

struct sl_val sl_lm_vocab_val(const struct sl_tok *tok, const struct sl_val *lineage)
{
	struct sl_val v = sl_val_map(), bin;
	struct sl_buf mem = {0};
	struct sl_writer *w = sl_writer_mem(&mem);
	struct sl_header *h = sl_header_new();
	int64_t eot = eot_of(tok);

	if (lineage) {
		sl_val_free(&h->lineage);
		h->lineage = sl_val_copy(lineage);
	}
	/* in memory: only a bug can make these fail */
	SL_ASSERT(sl_tok_write(tok, w, h) == 0);
	SL_ASSERT(sl_writer_close(w, NULL) == 0);
	sl_header_free(h);
	sl_val_set(&v, "mode", sl_val_str(sl_tok_mode(tok) == SL_TOK_CHAR ? "char" : "bpe"));
	sl_val_set(&v, "size", sl_val_int(sl_tok_size(tok)));
	sl_val_set(&v, "end_of_text", eot < 0 ? sl_val_nil() : sl_val_int(eot));
	bin = sl_val_strn(mem.p, mem.n);
	bin.tag = SL_V_BIN;
	sl_val_set(&v, "stream", bin);
	sl_buf_free(&mem);
	return v;
}

void sl_lm_model_add(struct sl_model *m, const struct sl_gpt *g, const struct sl_val *vocab)
{
	sl_val_set(&m->h->meta, "model", sl_lm_describe(g));
	sl_val_set(&m->h->meta, "vocab", sl_val_copy(vocab));
	sl_model_add_params(m, &g->P, g->P.data, NULL);
}

int sl_lm_is(const struct sl_model *m)
{
	const struct sl_val *d = sl_val_get(&m->h->meta, "model"), *k;

	k = d && d->tag == SL_V_MAP ? sl_val_get(d, "kind") : NULL;
	return k && k->tag == SL_V_STR && strcmp(k->u.s, "gpt") == 0;
}

/* An int key of map d in [lo, hi]; 0, or -1 with a message. */
static int get_int(const struct sl_val *d, const char *key, int64_t lo, int64_t hi,
                   int *out, const char *path, char *err, size_t cap)
{
	const struct sl_val *x = sl_val_get(d, key);

	if (!x || x->tag != SL_V_INT || x->u.i < lo || x->u.i > hi) {
		snprintf(err, cap, "%s: \"model\": \"%s\" must be a whole number from %lld "
		         "to %lld", path, key, (long long)lo, (long long)hi);
		return -1;
	}
	*out = (int)x->u.i;
	return 0;
}

int sl_lm_from_model(struct sl_lm *lm, const struct sl_model *m, const char *path,
                     char *err, size_t cap)
{
	const struct sl_val *d = sl_val_get(&m->h->meta, "model"),
	                    *voc = sl_val_get(&m->h->meta, "vocab"), *x, *stream;
	struct sl_gpt_config cfg;
	struct sl_reader *r;
	char sub[512];
	int64_t eot;

	memset(lm, 0, sizeof *lm);
	lm->eot = -1;
	if (!sl_lm_is(m)) {
		snprintf(err, cap, "%s: not a language model (its \"model\" kind is not gpt)",
		         path);
		return -2;
	}
	memset(&cfg, 0, sizeof cfg);
	if (get_int(d, "vocab_size", 1, INT32_MAX, &cfg.V, path, err, cap) < 0 ||
	    get_int(d, "context", 1, 1 << 20, &cfg.maxT, path, err, cap) < 0 ||
	    get_int(d, "layers", 1, 1 << 10, &cfg.L, path, err, cap) < 0 ||
	    get_int(d, "heads", 1, 1 << 12, &cfg.NH, path, err, cap) < 0 ||
	    get_int(d, "embd", 1, 1 << 16, &cfg.C, path, err, cap) < 0)
		return -1;
	if (cfg.C % cfg.NH) {
		snprintf(err, cap, "%s: \"model\": embd %d is not a multiple of heads %d", path,
		         cfg.C, cfg.NH);
		return -1;
	}
	x = sl_val_get(d, "dropout");
	if (!x || x->tag != SL_V_FLOAT || !(x->u.f >= 0 && x->u.f < 1)) {
		snprintf(err, cap, "%s: \"model\": \"dropout\" must be a number in [0, 1)", path);
		return -1;
	}
	cfg.dropout = (float)x->u.f;
	if (!voc || voc->tag != SL_V_MAP || !(stream = sl_val_get(voc, "stream")) ||
	    stream->tag != SL_V_BIN) {
		snprintf(err, cap, "%s: no vocabulary (\"vocab\" with its \"stream\")", path);
		return -1;
	}
	r = sl_reader_mem(stream->u.s, stream->n, "vocab");
	lm->tok = sl_tok_read(r, sub, sizeof sub);
	sl_reader_close(r);
	if (!lm->tok) {
		snprintf(err, cap, "%s: the vocabulary: %s", path, sub);
		return -1;
	}
	if (sl_tok_size(lm->tok) != (uint32_t)cfg.V) {
		snprintf(err, cap, "%s: the vocabulary has %u tokens, the model %d", path,
		         sl_tok_size(lm->tok), cfg.V);
		sl_lm_free(lm);
		return -1;
	}
	eot = eot_of(lm->tok);
	x = sl_val_get(voc, "end_of_text");
	if (!x || !(eot < 0 ? x->tag == SL_V_NIL : x->tag == SL_V_INT && x->u.i == eot)) {
		snprintf(err, cap, "%s: \"vocab\": \"end_of_text\" disagrees with the "
		         "vocabulary", path);
		sl_lm_free(lm);
		return -1;
	}
	lm->eot = (int32_t)eot;
	lm->ctx = cfg.maxT;
	sl_gpt_init(&lm->gpt, &cfg);
	if (sl_model_get_params(m, &lm->gpt.P, lm->gpt.P.data, NULL, path, err, cap) < 0) {
		sl_lm_free(lm);
		return -1;
	}
	return 0;
}

int sl_lm_load(struct sl_lm *lm, const char *path, char *err, size_t cap)
{
	struct sl_model m;
	int rc;

	memset(lm, 0, sizeof *lm);
	lm->eot = -1;
	if (sl_model_read(&m, path, err, cap) < 0)
		return -1;
	rc = sl_lm_from_model(lm, &m, path, err, cap);
	sl_model_free(&m);
	return rc;
}

void sl_lm_free(struct sl_lm *lm)
{
	if (lm->gpt.P.data)
		sl_gpt_free(&lm->gpt);
	sl_tok_free(lm->tok);
	memset(lm, 0, sizeof *lm);
	lm->eot = -1;
}

/* ------------------------------------------------------------- scoring */

double sl_lm_nll(struct sl_gpt_run *r, int maxB, int T, const int32_t *ids, size_t n,
                 size_t maxwin, size_t *scored)
{
	size_t K = n > 1 ? (n - 1 + (size_t)T - 1) / (size_t)T : 0, use, done = 0;
	int32_t *in = sl_xmalloc((size_t)maxB * T * sizeof *in);
	int32_t *tg = sl_xmalloc((size_t)maxB * T * sizeof *tg);
	float *nll = NULL;
	double sum = 0;
	size_t count = 0;

	use = maxwin && maxwin < K ? maxwin : K;
	while (done < use) {
		int b = 0, m = T;
		/* window k predicts ids[kT + 1 .. kT + T]: full windows go maxB at
		 * a time; the last may be short, m < T positions, and goes alone
		 * with its tail padded (positions after the end cannot change a
		 * causal model's earlier outputs), its losses summed one by one */
		for (; b < maxB && done < use; b++, done++) {
			size_t k = use == K ? done : done * K / use, s = k * (size_t)T;
			size_t left = n - 1 - s;
			if (left < (size_t)T) {
				if (b > 0)
					break; /* run the full ones first */
				m = (int)left;
			}
			for (int t = 0; t < T; t++) {
				size_t j = t < m ? (size_t)t : (size_t)m - 1;
				in[(size_t)b * T + t] = ids[s + j];
				tg[(size_t)b * T + t] = ids[s + j + 1];
			}
			if (m < T) {
				b++, done++;
				break;
			}
		}
		if (m == T) {
			sum += sl_gpt_run_loss(r, in, tg, b, NULL);
			count += (size_t)b * T;
		} else {
			if (!nll)
				nll = sl_xmalloc((size_t)T * sizeof *nll);
			sl_gpt_run_loss(r, in, tg, 1, nll);
			for (int t = 0; t < m; t++)
				sum += nll[t];
			count += (size_t)m;
		}
	}
	free(in);
	free(tg);
	free(nll);
	if (scored)
		*scored = count;
	return sum;
}
