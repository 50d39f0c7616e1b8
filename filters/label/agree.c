/*
 * agree.c - annotation streams, and how well two of them agree.
 *
 * An annotation stream is any stream with an id field and a label field:
 * a session of sluice-label keyed by id, another annotator's export, the
 * output of an earlier run.  Its labels are str (or int or bool, read as
 * their text); a missing label means the item was not labelled.  Ids are
 * int or str and never missing; an id given twice must get the same label.
 *
 * Agreement compares the items both streams labelled (ids in both, a
 * label in each).  With n items, n_ij of them labelled i by A and j by B,
 * a_i = sum_j n_ij and b_j = sum_i n_ij:
 *
 *     observed  p_o = sum_i n_ii / n
 *     expected  p_e = sum_i a_i b_i / n^2    (chance, from the marginals)
 *     kappa     (p_o - p_e) / (1 - p_e)      (Cohen 1960; NaN when p_e = 1,
 *                                             as scikit-learn gives)
 *     per label 2 n_ii / (a_i + b_i)         (specific agreement: of the
 *                                             times either annotator chose
 *                                             i, how often both did)
 *
 * The report is a stream: one record per label (label, a, b, both,
 * agreement, and its row of the confusion matrix as an i64[K] vector:
 * rows are A's labels, columns B's, in the order of the header's
 * "labels"), the totals and kappa in the header.  On a terminal it is
 * printed as text instead.
 *
 * Memory: both streams' ids and labels (the key bytes plus about 40 bytes
 * per id).
 */
#include "label.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The text of a label value: str as it is, int and bool spelled out. */
static int label_text(const struct sl_value *v, char *num, const char **p, size_t *n)
{
	switch (v->kind) {
	case SL_STR:
		*p = v->u.s.p;
		*n = v->u.s.n;
		return 0;
	case SL_INT:
		*p = num;
		*n = (size_t)sl_fmt_int(num, v->u.i);
		return 0;
	case SL_BOOL:
		*p = v->u.b ? "true" : "false";
		*n = strlen(*p);
		return 0;
	default:
		return -1;
	}
}

int ann_load(struct idmap *m, struct labels *L, const char *path, const char *id,
             const char *label, struct sl_type *idtype, int *have_idtype)
{
	struct sl_reader *r = sl_reader_open(path);
	struct sl_buf kb = {0}, msg = {0};
	int ev, rc = 0, fi = -1, fl = -1;
	char num[32];

	while (!rc && (ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		const char *p;
		size_t n, e;
		int lab = -1, isnew;
		uint64_t rec = sl_reader_recno(r);
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			enum sl_kind k;
			fi = sl_header_find(h, id);
			fl = sl_header_find(h, label);
			if (fi < 0 || fl < 0) {
				sl_warn("%s: no field \"%s\" (the %s field of an annotation)",
				        sl_reader_name(r), fi < 0 ? id : label,
				        fi < 0 ? "--id" : "--label");
				rc = 2;
				break;
			}
			k = h->fields[fi].type.kind;
			if (k != SL_INT && k != SL_STR) {
				sl_warn("%s: field \"%s\" is %s; ids are int or str",
				        sl_reader_name(r), id, sl_kind_name(k));
				rc = 2;
				break;
			}
			if (*have_idtype && idtype->kind != k) {
				sl_warn("%s: field \"%s\" is %s here but %s elsewhere; ids must "
				        "have one type", sl_reader_name(r), id, sl_kind_name(k),
				        sl_kind_name(idtype->kind));
				rc = 2;
				break;
			}
			*idtype = h->fields[fi].type;
			*have_idtype = 1;
			k = h->fields[fl].type.kind;
			if (k != SL_STR && k != SL_INT && k != SL_BOOL) {
				sl_warn("%s: field \"%s\" is %s; labels are str, int or bool",
				        sl_reader_name(r), label, sl_kind_name(k));
				rc = 2;
				break;
			}
			continue;
		}
		v = sl_reader_values(r);
		if (v[fi].kind == SL_NIL) {
			sl_warn("%s: record %llu: field \"%s\": a missing id", sl_reader_name(r),
			        (unsigned long long)rec, id);
			rc = 1;
			break;
		}
		if (label_text(&v[fl], num, &p, &n) == 0) {
			const char *why = label_check(p, n);
			if (why || (lab = labels_intern(L, p, n)) < 0) {
				sl_warn("%s: record %llu: field \"%s\": label \"%.*s\": %s%s",
				        sl_reader_name(r), (unsigned long long)rec, label, (int)n, p,
				        why ? why : "not in the spec ", why ? "" : L->spec);
				rc = 1;
				break;
			}
		}
		key_bytes(&kb, &v[fi]);
		e = idmap_put(m, kb.p, kb.n, &isnew);
		if (isnew) {
			m->val[e] = lab;
			m->aux[e] = rec;
		} else if (m->val[e] != lab && lab >= 0 && m->val[e] >= 0) {
			msg.n = 0;
			key_text(&msg, kb.p, kb.n);
			sl_warn("%s: record %llu: field \"%s\": id %s is labelled \"%s\" "
			        "here but \"%s\" in record %llu", sl_reader_name(r),
			        (unsigned long long)rec, label, sl_buf_cstr(&msg),
			        L->name[lab], L->name[m->val[e]], (unsigned long long)m->aux[e]);
			rc = 1;
		} else if (m->val[e] < 0) {
			m->val[e] = lab;
		}
	}
	if (!rc && ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		rc = 1;
	}
	sl_reader_close(r);
	sl_buf_free(&kb);
	sl_buf_free(&msg);
	return rc;
}

/* Labels in report order: the spec's order, or else numbers by value
 * first, then the rest bytewise. */
static const struct labels *sortL;

static int cmp_label(const void *a, const void *b)
{
	const char *x = sortL->name[*(const int *)a], *y = sortL->name[*(const int *)b];
	int64_t i, j;
	int xi = sl_parse_int(x, strlen(x), &i) == 0, yi = sl_parse_int(y, strlen(y), &j) == 0;

	if (xi && yi)
		return (i > j) - (i < j);
	if (xi != yi)
		return yi - xi;
	return strcmp(x, y);
}

/* Little-endian int64 bytes of a confusion row. */
static void put_i64(unsigned char *p, int64_t x)
{
	uint64_t u = (uint64_t)x;
	for (int k = 0; k < 8; k++)
		p[k] = (unsigned char)(u >> (8 * k));
}

static void fmt_ratio(char *out, double x)
{
	if (isnan(x))
		snprintf(out, 32, "-");
	else
		snprintf(out, 32, "%.4f", x);
}

int agreement(const struct agree_opts *o, struct labels *L)
{
	struct idmap A = {0}, B = {0};
	struct sl_type ta, tb;
	int hta = 0, htb = 0, rc, K, *order = NULL;
	uint64_t n = 0, only_a = 0, only_b = 0, missing = 0, *C = NULL, *ra = NULL,
	         *cb = NULL;
	double po = 0, pe = 0, kappa;
	int text = o->text;

	if ((rc = ann_load(&A, L, o->a, o->id, o->label, &ta, &hta)) ||
	    (rc = ann_load(&B, L, o->b, o->id, o->label, &tb, &htb)))
		goto out;
	if (hta && htb && ta.kind != tb.kind) {
		sl_warn("%s, %s: field \"%s\" is %s in one and %s in the other; ids "
		        "must have one type", o->a, o->b, o->id, sl_kind_name(ta.kind),
		        sl_kind_name(tb.kind));
		rc = 2;
		goto out;
	}
	K = (int)L->n;
	C = sl_xcalloc((size_t)(K ? K : 1) * (size_t)(K ? K : 1), sizeof *C);
	for (size_t e = 0; e < A.n; e++) {
		long f = idmap_find(&B, A.bytes.p + A.off[e], A.len[e]);
		if (f < 0) {
			only_a++;
		} else if (A.val[e] < 0 || B.val[f] < 0) {
			missing++;
		} else {
			C[(size_t)A.val[e] * (size_t)K + (size_t)B.val[f]]++;
			n++;
		}
	}
	for (size_t e = 0; e < B.n; e++)
		if (idmap_find(&A, B.bytes.p + B.off[e], B.len[e]) < 0)
			only_b++;
	if (n == 0) {
		sl_warn("%s, %s: no id is labelled in both, so there is no agreement "
		        "to measure", o->a, o->b);
		rc = 1;
		goto out;
	}
	/* the labels used, in report order */
	order = sl_xmalloc((size_t)(K ? K : 1) * sizeof *order);
	ra = sl_xcalloc((size_t)K, sizeof *ra);
	cb = sl_xcalloc((size_t)K, sizeof *cb);
	for (int i = 0; i < K; i++)
		for (int j = 0; j < K; j++) {
			ra[i] += C[(size_t)i * (size_t)K + (size_t)j];
			cb[j] += C[(size_t)i * (size_t)K + (size_t)j];
		}
	{
		int m = 0;
		for (int i = 0; i < K; i++)
			if (L->closed || ra[i] || cb[i])
				order[m++] = i;
		if (!L->closed) {
			sortL = L;
			qsort(order, (size_t)m, sizeof *order, cmp_label);
		}
		K = m; /* from here on, K counts the labels reported */
	}
	for (int i = 0; i < K; i++) {
		int li = order[i];
		po += (double)C[(size_t)li * L->n + (size_t)li];
		pe += (double)ra[li] * (double)cb[li];
	}
	po /= (double)n;
	pe /= (double)n * (double)n;
	kappa = pe == 1 ? NAN : (po - pe) / (1 - pe);

	if (text < 0)
		text = !o->cli->output && isatty(1);
	if (text) {
		struct sl_buf out = {0};
		char a[32], b[32], c[32];
		size_t w = 5, cw = 7; /* widths: the label column, the counts */
		for (int i = 0; i < K; i++)
			if (strlen(L->name[order[i]]) > w)
				w = strlen(L->name[order[i]]);
		if (w > cw)
			cw = w;
		fmt_ratio(a, po);
		fmt_ratio(b, pe);
		fmt_ratio(c, kappa);
		sl_buf_printf(&out, "items          %llu (labelled in both %s and %s)\n",
		              (unsigned long long)n, o->a, o->b);
		sl_buf_printf(&out, "only in A      %llu\n", (unsigned long long)only_a);
		sl_buf_printf(&out, "only in B      %llu\n", (unsigned long long)only_b);
		sl_buf_printf(&out, "unlabelled     %llu (in both, a label missing)\n",
		              (unsigned long long)missing);
		sl_buf_printf(&out, "observed       %s\nexpected       %s\nCohen's kappa  %s\n\n",
		              a, b, c);
		sl_buf_printf(&out, "%-*s %7s %7s %7s  %s\n", (int)w, "label", "A", "B",
		              "both", "agreement");
		for (int i = 0; i < K; i++) {
			int li = order[i];
			uint64_t both = C[(size_t)li * L->n + (size_t)li];
			fmt_ratio(a, ra[li] + cb[li] ? 2.0 * (double)both / (double)(ra[li] + cb[li])
			                             : NAN);
			sl_buf_printf(&out, "%-*s %7llu %7llu %7llu  %s\n", (int)w, L->name[li],
			              (unsigned long long)ra[li], (unsigned long long)cb[li],
			              (unsigned long long)both, a);
		}
		sl_buf_printf(&out, "\nconfusion (rows: A, columns: B)\n%-*s", (int)w, "");
		for (int j = 0; j < K; j++)
			sl_buf_printf(&out, " %*s", (int)cw, L->name[order[j]]);
		sl_buf_putc(&out, '\n');
		for (int i = 0; i < K; i++) {
			sl_buf_printf(&out, "%-*s", (int)w, L->name[order[i]]);
			for (int j = 0; j < K; j++)
				sl_buf_printf(&out, " %*llu", (int)cw,
				              (unsigned long long)C[(size_t)order[i] * L->n +
				                                    (size_t)order[j]]);
			sl_buf_putc(&out, '\n');
		}
		if (fwrite(out.p, 1, out.n, stdout) != out.n || fflush(stdout) != 0) {
			sl_warn("(stdout): write error");
			rc = 1;
		}
		sl_buf_free(&out);
	} else {
		struct sl_header *h = sl_header_new();
		struct sl_type ti = {SL_INT, SL_ELEM_NONE, 0}, ts = {SL_STR, SL_ELEM_NONE, 0},
		               tf = {SL_FLOAT, SL_ELEM_NONE, 0},
		               tv = {SL_VEC, SL_ELEM_I64, (uint32_t)K};
		struct sl_val labs = sl_val_arr();
		struct sl_writer *w;
		struct sl_value v[6];
		unsigned char *row = sl_xmalloc((size_t)K * 8 + 1);
		char *err = NULL;

		sl_header_add(h, "label", ts);
		sl_header_add(h, "a", ti);
		sl_header_add(h, "b", ti);
		sl_header_add(h, "both", ti);
		sl_header_add(h, "agreement", tf);
		sl_header_add(h, "confusion", tv);
		sl_val_set(&h->meta, "report", sl_val_str("sluice-label-agreement"));
		sl_val_set(&h->meta, "a", sl_val_str(o->a));
		sl_val_set(&h->meta, "b", sl_val_str(o->b));
		sl_val_set(&h->meta, "items", sl_val_int((int64_t)n));
		sl_val_set(&h->meta, "only_a", sl_val_int((int64_t)only_a));
		sl_val_set(&h->meta, "only_b", sl_val_int((int64_t)only_b));
		sl_val_set(&h->meta, "unlabelled", sl_val_int((int64_t)missing));
		sl_val_set(&h->meta, "observed", sl_val_float(po));
		sl_val_set(&h->meta, "expected", sl_val_float(pe));
		sl_val_set(&h->meta, "kappa", sl_val_float(kappa));
		for (int i = 0; i < K; i++)
			sl_val_push(&labs, sl_val_str(L->name[order[i]]));
		sl_val_set(&h->meta, "labels", labs);
		sl_header_lineage(h, o->argc, o->argv);
		w = sl_writer_open(o->cli->output, &o->cli->w);
		if (sl_writer_error(w) || sl_write_header(w, h) < 0)
			rc = 1;
		for (int i = 0; i < K && !rc; i++) {
			int li = order[i];
			uint64_t both = C[(size_t)li * L->n + (size_t)li];
			memset(v, 0, sizeof v);
			v[0].kind = SL_STR;
			v[0].u.s.p = L->name[li];
			v[0].u.s.n = strlen(L->name[li]);
			v[1].kind = v[2].kind = v[3].kind = SL_INT;
			v[1].u.i = (int64_t)ra[li];
			v[2].u.i = (int64_t)cb[li];
			v[3].u.i = (int64_t)both;
			v[4].kind = SL_FLOAT;
			v[4].u.f = 2.0 * (double)both / (double)(ra[li] + cb[li]);
			if (!(ra[li] + cb[li]))
				v[4].kind = SL_NIL;
			for (int j = 0; j < K; j++)
				put_i64(row + 8 * j,
				        (int64_t)C[(size_t)li * L->n + (size_t)order[j]]);
			v[5].kind = SL_VEC;
			v[5].u.s.p = (const char *)row;
			v[5].u.s.n = (size_t)K * 8;
			rc = sl_write_record(w, v, 6) < 0;
		}
		if (rc) {
			if (sl_writer_error(w))
				sl_warn("%s", sl_writer_error(w));
			sl_writer_abort(w);
		} else if (sl_writer_close(w, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
		free(row);
		sl_header_free(h);
	}
	if (!rc) {
		char c[32];
		fmt_ratio(c, kappa);
		sl_warn("%llu items labelled in both: observed agreement %.4f, Cohen's "
		        "kappa %s", (unsigned long long)n, po, c);
	}
out:
	free(ra);
	free(cb);
	free(order);
	free(C);
	idmap_free(&A);
	idmap_free(&B);
	return rc;
}
