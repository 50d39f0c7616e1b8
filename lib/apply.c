/*
 * apply.c - a trained model, loaded to be applied: the model file turned
 * back into its network, features and preprocessing.
 *
 * A model file (lib/model.c) holds descriptions, not code: "model" is the
 * net's layer list (lib/net.c), "features" and "target" say which fields
 * it reads and what it predicts (lib/feat.c), "preprocess" names the
 * tensors pre.scale and pre.shift when the rows are transformed.  Loading
 * rebuilds each from its description, copies the weights in by name and
 * checks that the parts agree with each other (the net's input width is
 * the features' row, its outputs the classes or values of the target),
 * so a model that loads is one that can run.  sluice-predict and
 * sluice-evaluate share it.
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

void sl_loaded_free(struct sl_loaded *L)
{
	sl_net_free(&L->net);
	sl_feat_free(&L->feat);
	sl_model_free(&L->m);
}

int sl_loaded_open(struct sl_loaded *L, const char *path, char *err,
                   size_t errcap)
{
	const struct sl_val *meta, *pre, *method;
	char sub[400];

	memset(L, 0, sizeof *L);
	if (sl_model_read(&L->m, path, err, errcap) < 0)
		return -1;
	meta = &L->m.h->meta;
	if (sl_net_from_val(&L->net, sl_val_get(meta, "model"), sub, sizeof sub) < 0 ||
	    sl_feat_from_val(&L->feat, sl_val_get(meta, "features"),
	                     sl_val_get(meta, "target"), sub, sizeof sub) < 0) {
		snprintf(err, errcap, "%s: %s", path, sub);
		sl_loaded_free(L);
		return -1;
	}
	if (sl_model_get_params(&L->m, &L->net.P, L->net.P.data, NULL, path, err,
	                        errcap) < 0) {
		sl_loaded_free(L);
		return -1;
	}
	if ((size_t)L->net.D != L->feat.D) {
		snprintf(err, errcap, "%s: the net reads %d values, the features make %zu",
		         path, L->net.D, L->feat.D);
		sl_loaded_free(L);
		return -1;
	}
	if (!L->feat.target ||
	    (L->feat.task == SL_TASK_CLASSIFY ? sl_net_classes(&L->net) != L->feat.K
	                                      : sl_net_classes(&L->net) != 0 ||
	                                            L->net.O != L->feat.O)) {
		snprintf(err, errcap, "%s: the net's outputs do not match its target", path);
		sl_loaded_free(L);
		return -1;
	}
	pre = sl_val_get(meta, "preprocess");
	method = pre ? sl_val_get(pre, "method") : NULL;
	if (method && method->tag == SL_V_STR && strcmp(method->u.s, "none") != 0) {
		const struct sl_model_tensor *sc = sl_model_find(&L->m, "pre.scale"),
		                             *sh = sl_model_find(&L->m, "pre.shift");
		if (!sc || !sh || sc->n != L->feat.D || sh->n != L->feat.D) {
			snprintf(err, errcap, "%s: preprocessing \"%s\" needs tensors "
			         "\"pre.scale\" and \"pre.shift\" of %zu values", path,
			         method->u.s, L->feat.D);
			sl_loaded_free(L);
			return -1;
		}
		L->feat.scale = sl_xmalloc(L->feat.D * sizeof *L->feat.scale);
		L->feat.shift = sl_xmalloc(L->feat.D * sizeof *L->feat.shift);
		memcpy(L->feat.scale, sc->data, L->feat.D * sizeof *L->feat.scale);
		memcpy(L->feat.shift, sh->data, L->feat.D * sizeof *L->feat.shift);
	}
	return 0;
}
