/*
 * params.c - a model's parameters as one block with named views.
 *
 * llm.c keeps all parameters in one allocation, the gradients in a second
 * with the same layout, and Adam's moments in two more; a tensor is a
 * pointer at an offset.  That makes the optimizer a single flat loop, a
 * checkpoint one write per block, and zeroing the gradients one memset.
 * sluice's models are built from flags, so the views are a table (name,
 * shape, offset) filled at run time rather than a struct of fields.
 *
 * Life cycle: sl_params_add() each tensor, sl_params_alloc() once, then
 * use the blocks; sl_params_free() releases everything.  Layout: the
 * tensors that take weight decay come first, then the others, each group
 * in the order added, so the optimizer's decay applies to one prefix
 * [0, ndecay).  The struct owns its table and blocks.
 */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>

int sl_params_add(struct sl_params *P, const char *name, int decay, int ndim,
                  const int *shape)
{
	struct sl_param *t;

	SL_ASSERT(!P->data);
	SL_ASSERT(ndim >= 1 && ndim <= SL_PARAM_DIMS_MAX);
	SL_ASSERT(strlen(name) < SL_PARAM_NAME_MAX);
	SL_ASSERT(sl_params_find(P, name) < 0);
	if (P->count == P->cap) {
		P->cap = P->cap ? 2 * P->cap : 16;
		P->t = sl_xrealloc(P->t, (size_t)P->cap * sizeof *P->t);
	}
	t = &P->t[P->count];
	memset(t, 0, sizeof *t);
	strcpy(t->name, name);
	t->ndim = ndim;
	t->n = 1;
	for (int i = 0; i < ndim; i++) {
		SL_ASSERT(shape[i] >= 1);
		t->shape[i] = shape[i];
		t->n *= (size_t)shape[i];
	}
	t->decay = decay != 0;
	return P->count++;
}

void sl_params_alloc(struct sl_params *P)
{
	size_t off = 0;

	SL_ASSERT(!P->data);
	for (int pass = 1; pass >= 0; pass--) {
		for (int i = 0; i < P->count; i++)
			if (P->t[i].decay == pass) {
				P->t[i].off = off;
				off += P->t[i].n;
			}
		if (pass == 1)
			P->ndecay = off;
	}
	P->n = off;
	P->data = sl_xcalloc(off, sizeof *P->data);
	P->grad = sl_xcalloc(off, sizeof *P->grad);
	P->m = sl_xcalloc(off, sizeof *P->m);
	P->v = sl_xcalloc(off, sizeof *P->v);
}

int sl_params_find(const struct sl_params *P, const char *name)
{
	for (int i = 0; i < P->count; i++)
		if (strcmp(P->t[i].name, name) == 0)
			return i;
	return -1;
}

float *sl_params_data(const struct sl_params *P, int i)
{
	SL_ASSERT(P->data && i >= 0 && i < P->count);
	return P->data + P->t[i].off;
}

float *sl_params_grad(const struct sl_params *P, int i)
{
	SL_ASSERT(P->grad && i >= 0 && i < P->count);
	return P->grad + P->t[i].off;
}

void sl_params_zero_grad(struct sl_params *P)
{
	memset(P->grad, 0, P->n * sizeof *P->grad);
}

void sl_params_free(struct sl_params *P)
{
	free(P->t);
	free(P->data);
	free(P->grad);
	free(P->m);
	free(P->v);
	memset(P, 0, sizeof *P);
}
