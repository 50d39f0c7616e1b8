/*
 * svg.c - sluice-evaluate's plots as plain SVG 1.1 text, built in memory
 * and written atomically (a temporary file renamed into place).  No
 * fonts beyond the generic sans-serif, no scripts, no external references:
 * the files open in any browser and diff as text.  Numbers are printed
 * with fixed precision, so the same results give the same bytes.
 */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                      "#bcbd22", "#17becf"};
#define NPAL (sizeof palette / sizeof *palette)

static int save(const char *path, const struct sl_buf *b, char *err, size_t errcap)
{
	size_t n = strlen(path) + 16;
	char *tmp = sl_xmalloc(n);
	FILE *f;
	int rc = 0;

	snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
	if (!(f = fopen(tmp, "w"))) {
		snprintf(err, errcap, "%s: cannot create: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fwrite(b->p, 1, b->n, f) != b->n)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc) {
		snprintf(err, errcap, "%s: write error: %s", path, strerror(errno));
		remove(tmp);
	}
	free(tmp);
	return rc;
}

/* Text with the five XML specials escaped. */
static void xml(struct sl_buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': sl_buf_puts(b, "&lt;"); break;
		case '>': sl_buf_puts(b, "&gt;"); break;
		case '&': sl_buf_puts(b, "&amp;"); break;
		case '"': sl_buf_puts(b, "&quot;"); break;
		case '\'': sl_buf_puts(b, "&apos;"); break;
		default: sl_buf_putc(b, *s);
		}
}

static void head(struct sl_buf *b, int w, int h)
{
	sl_buf_printf(b,
	              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
	              "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
	              w, h, w, h, w, h);
}

/* ------------------------------------------------------------ confusion */

int svg_confusion(const char *path, const struct sl_cls_metrics *m, char **labels,
                  char *err, size_t errcap)
{
	struct sl_buf b = {0};
	int K = m->K, cell = K > 20 ? 24 : 44, left = 110, top = 60;
	int w = left + K * cell + 20, h = top + K * cell + 60;
	int rc;

	head(&b, w, h);
	sl_buf_printf(&b, "<text x=\"%d\" y=\"24\" font-size=\"14\">confusion matrix "
	              "(colour: share of the true class)</text>\n", left);
	sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted</text>\n",
	              left + K * cell / 2, top - 22);
	sl_buf_printf(&b, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" "
	              "text-anchor=\"middle\">true</text>\n", top + K * cell / 2,
	              top + K * cell / 2);
	for (int t = 0; t < K; t++) {
		double row = (double)m->support[t];
		sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
		              top + t * cell + cell / 2 + 4);
		xml(&b, labels[t]);
		sl_buf_puts(&b, "</text>\n");
		for (int p = 0; p < K; p++) {
			int64_t c = m->confusion[(size_t)t * K + p];
			double share = row > 0 ? (double)c / row : 0;
			int shade = (int)lround(255 - 200 * share);
			sl_buf_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			              "fill=\"rgb(%d,%d,255)\" stroke=\"#ddd\"/>\n",
			              left + p * cell, top + t * cell, cell, cell, shade, shade);
			if (K <= 20)
				sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
				              "fill=\"%s\">%lld</text>\n", left + p * cell + cell / 2,
				              top + t * cell + cell / 2 + 4, share > 0.5 ? "white" : "black",
				              (long long)c);
		}
	}
	for (int p = 0; p < K; p++) {
		sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
		              left + p * cell + cell / 2, top - 6);
		xml(&b, labels[p]);
		sl_buf_puts(&b, "</text>\n");
	}
	sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\">accuracy %.4f on %lld records</text>\n",
	              left, top + K * cell + 30, m->accuracy, (long long)m->n);
	sl_buf_puts(&b, "</svg>\n");
	rc = save(path, &b, err, errcap);
	sl_buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------ ROC */

struct sp {
	float s;
	int pos;
};

static int by_score_desc(const void *a, const void *b)
{
	float x = ((const struct sp *)a)->s, y = ((const struct sp *)b)->s;
	return (x < y) - (x > y);
}

/* The plot area: x from X0 to X0 + S, y from Y0 + S (0) up to Y0 (1). */
enum { X0 = 60, Y0 = 40, S = 400 };

int svg_roc(const char *path, const int32_t *y, const float *scores, int K,
            int64_t n, const struct sl_cls_metrics *m, char **labels, char *err,
            size_t errcap)
{
	struct sl_buf b = {0};
	struct sp *v = sl_xmalloc((size_t)(n ? n : 1) * sizeof *v);
	int first = K == 2 ? 1 : 0, legend = 0, rc;

	head(&b, X0 + S + 200, Y0 + S + 60);
	sl_buf_printf(&b, "<text x=\"%d\" y=\"24\" font-size=\"14\">ROC, one class "
	              "against the rest</text>\n", X0);
	sl_buf_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
	              "stroke=\"black\"/>\n", X0, Y0, S, S);
	sl_buf_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#aaa\" "
	              "stroke-dasharray=\"4 4\"/>\n", X0, Y0 + S, X0 + S, Y0);
	for (int t = 0; t <= 4; t++) {
		sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.2f</text>\n",
		              X0 + t * S / 4, Y0 + S + 16, t / 4.0);
		sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.2f</text>\n",
		              X0 - 4, Y0 + S - t * S / 4 + 4, t / 4.0);
	}
	sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">false positive "
	              "rate</text>\n", X0 + S / 2, Y0 + S + 36);
	sl_buf_printf(&b, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
	              "text-anchor=\"middle\">true positive rate</text>\n", Y0 + S / 2,
	              Y0 + S / 2);
	for (int k = first; k < K; k++) {
		double P = 0, N, tp = 0, fp = 0;
		if (isnan(m->auc[k]))
			continue;
		for (int64_t i = 0; i < n; i++) {
			v[i].s = scores[(size_t)i * K + k];
			v[i].pos = y[i] == k;
			P += v[i].pos;
		}
		N = (double)n - P;
		qsort(v, (size_t)n, sizeof *v, by_score_desc);
		sl_buf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
		              "points=\"%d,%d", palette[k % NPAL], X0, Y0 + S);
		for (int64_t i = 0; i < n;) {
			int64_t j = i;
			while (j < n && v[j].s == v[i].s) {
				tp += v[j].pos;
				fp += !v[j].pos;
				j++;
			}
			sl_buf_printf(&b, " %.1f,%.1f", X0 + S * fp / N, Y0 + S - S * tp / P);
			i = j;
		}
		sl_buf_puts(&b, "\"/>\n");
		sl_buf_printf(&b, "<text x=\"%d\" y=\"%d\" fill=\"%s\">", X0 + S + 12,
		              Y0 + 14 + 16 * legend++, palette[k % NPAL]);
		xml(&b, labels[k]);
		sl_buf_printf(&b, "  AUC %.4f</text>\n", m->auc[k]);
	}
	sl_buf_puts(&b, "</svg>\n");
	free(v);
	rc = save(path, &b, err, errcap);
	sl_buf_free(&b);
	return rc;
}

/* --------------------------------------------------------------- curves */

struct series {
	double *x, *y;
	size_t n, cap;
};

static void add(struct series *s, double x, double y)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->x = sl_xrealloc(s->x, s->cap * sizeof *s->x);
		s->y = sl_xrealloc(s->y, s->cap * sizeof *s->y);
	}
	s->x[s->n] = x;
	s->y[s->n++] = y;
}

/* One panel at (px, py) of size S x S/2 with its series. */
static void panel(struct sl_buf *b, int px, int py, const char *title,
                  struct series *s, const char *const *names, int ns, double xmax)
{
	double lo = INFINITY, hi = -INFINITY;
	int H = S / 2;

	for (int k = 0; k < ns; k++)
		for (size_t i = 0; i < s[k].n; i++) {
			if (s[k].y[i] < lo)
				lo = s[k].y[i];
			if (s[k].y[i] > hi)
				hi = s[k].y[i];
		}
	if (!(hi > lo)) {
		lo = isfinite(lo) ? lo - 0.5 : 0;
		hi = lo + 1;
	}
	sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"14\">", px, py - 8);
	xml(b, title);
	sl_buf_puts(b, "</text>\n");
	sl_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
	              "stroke=\"black\"/>\n", px, py, S, H);
	sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", px - 4,
	              py + 10, hi);
	sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", px - 4,
	              py + H, lo);
	sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">step %.0f</text>\n",
	              px + S, py + H + 16, xmax);
	for (int k = 0; k < ns; k++) {
		if (!s[k].n)
			continue;
		sl_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" "
		              "points=\"", palette[k % NPAL]);
		for (size_t i = 0; i < s[k].n; i++)
			sl_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", px + S * s[k].x[i] / xmax,
			              py + H - H * (s[k].y[i] - lo) / (hi - lo));
		sl_buf_puts(b, "\"/>\n");
		sl_buf_printf(b, "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", px + S + 8,
		              py + 14 + 16 * k, palette[k % NPAL], names[k]);
	}
}

int svg_curves(const char *path, const char *log, char *err, size_t errcap)
{
	struct sl_reader *r = sl_reader_open(log);
	struct series loss[2] = {{0}}, metric[1] = {{0}};
	int fe = -1, fs = -1, fl = -1, fvl = -1, fvm = -1, ev, rc = 0;
	double xmax = 1;
	char title[80] = "validation metric";

	while ((ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			const struct sl_val *mt = sl_val_get(&h->meta, "metric");
			fe = sl_header_find(h, "event");
			fs = sl_header_find(h, "step");
			fl = sl_header_find(h, "loss");
			fvl = sl_header_find(h, "val_loss");
			fvm = sl_header_find(h, "val_metric");
			if (fe < 0 || fs < 0 || fl < 0 || fvl < 0 || fvm < 0) {
				snprintf(err, errcap, "%s: not a sluice-train --log stream", log);
				rc = -1;
				break;
			}
			if (mt && mt->tag == SL_V_STR)
				snprintf(title, sizeof title, "validation %s", mt->u.s);
			continue;
		}
		v = sl_reader_values(r);
		if (v[fs].kind != SL_INT || v[fe].kind != SL_STR || v[fl].kind != SL_FLOAT)
			continue;
		if (v[fs].u.i > xmax)
			xmax = (double)v[fs].u.i;
		if (v[fe].u.s.n == 4 && memcmp(v[fe].u.s.p, "step", 4) == 0) {
			add(&loss[0], (double)v[fs].u.i, v[fl].u.f);
		} else {
			if (v[fvl].kind == SL_FLOAT)
				add(&loss[1], (double)v[fs].u.i, v[fvl].u.f);
			if (v[fvm].kind == SL_FLOAT)
				add(&metric[0], (double)v[fs].u.i, v[fvm].u.f);
		}
	}
	if (ev == SL_ERROR) {
		snprintf(err, errcap, "%s", sl_reader_error(r));
		rc = -1;
	}
	sl_reader_close(r);
	if (!rc) {
		struct sl_buf b = {0};
		static const char *const ln[] = {"train (per step)", "validation"};
		static const char *const mn[] = {"validation"};
		head(&b, X0 + S + 160, Y0 + S + 80);
		panel(&b, X0, Y0, "loss", loss, ln, 2, xmax);
		panel(&b, X0, Y0 + S / 2 + 50, title, metric, mn, 1, xmax);
		sl_buf_puts(&b, "</svg>\n");
		rc = save(path, &b, err, errcap);
		sl_buf_free(&b);
	}
	for (int k = 0; k < 2; k++) {
		free(loss[k].x);
		free(loss[k].y);
	}
	free(metric[0].x);
	free(metric[0].y);
	return rc;
}
