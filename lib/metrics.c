/*
 * metrics.c - how good a model's predictions are.
 *
 * Classification takes the true classes and a score per class for each
 * record (probabilities, or an SVM's margins); the predicted class is the
 * highest score (the first on a tie).  From the confusion matrix come
 * accuracy and, per class, precision, recall, F1 and support, with their
 * macro (unweighted) and weighted (by support) averages; from the scores
 * come ROC AUC (the Mann-Whitney statistic, ties counted half, which is the
 * area under the trapezoidal ROC curve) per class one-vs-rest, averaged
 * the same two ways, and, given probabilities, the log loss.
 * Regression gives MSE, RMSE, MAE and R^2, averaged uniformly over the
 * outputs of a vector target.
 *
 * The definitions are scikit-learn's (sklearn.metrics 1.2), so the two
 * agree: a ratio with a zero denominator is 0 (zero_division=0); the
 * averages run over the classes present in the true or predicted labels;
 * log loss clips probabilities to [eps, 1 - eps] (eps of double) and
 * renormalises each row; R^2 of a constant target is 1 when predicted
 * exactly, else 0; RMSE of several outputs is the mean of their RMSEs.
 * A class's AUC needs both positives and negatives, else it is NaN and
 * left out of the averages; for two classes the AUC is that of class 1.
 * Sums run in double in record order.
 */
#include "sluice.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sl_cls_metrics_free(struct sl_cls_metrics *m)
{
	free(m->confusion);
	free(m->precision);
	free(m->recall);
	free(m->f1);
	free(m->auc);
	free(m->support);
	free(m->predicted);
	memset(m, 0, sizeof *m);
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

struct scored {
	float s;
	int pos;
};

static int cmp_scored(const void *a, const void *b)
{
	float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;
	return (x > y) - (x < y);
}

/* AUC of class k against the rest from column k of the scores. */
static double auc_of(const int32_t *y, const float *scores, int K, int64_t n,
                     int k, struct scored *buf)
{
	double P = 0, rank_sum = 0;

	for (int64_t i = 0; i < n; i++) {
		buf[i].s = scores[(size_t)i * K + k];
		buf[i].pos = y[i] == k;
		if (isnan(buf[i].s))
			return NAN;
		P += buf[i].pos;
	}
	if (P == 0 || P == (double)n)
		return NAN;
	qsort(buf, (size_t)n, sizeof *buf, cmp_scored);
	for (int64_t i = 0; i < n;) {
		int64_t j = i, pos = 0;
		while (j < n && buf[j].s == buf[i].s)
			pos += buf[j++].pos;
		/* ranks i+1 .. j share their mean */
		rank_sum += (double)pos * ((double)(i + 1) + (double)j) / 2.0;
		i = j;
	}
	return (rank_sum - P * (P + 1) / 2.0) / (P * ((double)n - P));
}

void sl_metrics_classify(struct sl_cls_metrics *m, const int32_t *y,
                         const float *scores, int K, int64_t n, int probs)
{
	double correct = 0, present = 0, total_support = 0;
	double wsum_auc = 0, nauc = 0, wauc = 0;
	struct scored *buf;

	memset(m, 0, sizeof *m);
	m->K = K;
	m->n = n;
	m->confusion = sl_xcalloc((size_t)K * K, sizeof *m->confusion);
	m->precision = sl_xcalloc((size_t)K, sizeof *m->precision);
	m->recall = sl_xcalloc((size_t)K, sizeof *m->recall);
	m->f1 = sl_xcalloc((size_t)K, sizeof *m->f1);
	m->auc = sl_xcalloc((size_t)K, sizeof *m->auc);
	m->support = sl_xcalloc((size_t)K, sizeof *m->support);
	m->predicted = sl_xcalloc((size_t)K, sizeof *m->predicted);
	m->log_loss = probs ? 0.0 : NAN;
	for (int64_t i = 0; i < n; i++) {
		const float *s = scores + (size_t)i * K;
		int best = 0;
		for (int k = 1; k < K; k++)
			if (s[k] > s[best])
				best = k;
		SL_ASSERT(y[i] >= 0 && y[i] < K);
		m->confusion[(size_t)y[i] * K + best]++;
		m->support[y[i]]++;
		m->predicted[best]++;
		correct += best == y[i];
		if (probs) {
			double sum = 0, py = 0;
			for (int k = 0; k < K; k++) {
				double p = fmin(fmax((double)s[k], DBL_EPSILON), 1.0 - DBL_EPSILON);
				sum += p;
				if (k == y[i])
					py = p;
			}
			m->log_loss -= log(py / sum);
		}
	}
	m->accuracy = ratio(correct, (double)n);
	if (probs)
		m->log_loss = n ? m->log_loss / (double)n : NAN;
	for (int k = 0; k < K; k++) {
		double tp = (double)m->confusion[(size_t)k * K + k];
		m->precision[k] = ratio(tp, (double)m->predicted[k]);
		m->recall[k] = ratio(tp, (double)m->support[k]);
		m->f1[k] = ratio(2 * tp, (double)(m->predicted[k] + m->support[k]));
		if (m->support[k] || m->predicted[k]) {
			present++;
			m->macro_precision += m->precision[k];
			m->macro_recall += m->recall[k];
			m->macro_f1 += m->f1[k];
		}
		m->weighted_precision += m->precision[k] * (double)m->support[k];
		m->weighted_recall += m->recall[k] * (double)m->support[k];
		m->weighted_f1 += m->f1[k] * (double)m->support[k];
		total_support += (double)m->support[k];
	}
	m->macro_precision = ratio(m->macro_precision, present);
	m->macro_recall = ratio(m->macro_recall, present);
	m->macro_f1 = ratio(m->macro_f1, present);
	m->weighted_precision = ratio(m->weighted_precision, total_support);
	m->weighted_recall = ratio(m->weighted_recall, total_support);
	m->weighted_f1 = ratio(m->weighted_f1, total_support);

	buf = sl_xmalloc((size_t)(n ? n : 1) * sizeof *buf);
	for (int k = 0; k < K; k++) {
		m->auc[k] = auc_of(y, scores, K, n, k, buf);
		if (!isnan(m->auc[k])) {
			nauc++;
			wsum_auc += m->auc[k];
			wauc += m->auc[k] * (double)m->support[k];
		}
	}
	free(buf);
	if (K == 2) {
		m->auc_macro = m->auc_weighted = m->auc[1];
	} else {
		double wsup = 0;
		for (int k = 0; k < K; k++)
			if (!isnan(m->auc[k]))
				wsup += (double)m->support[k];
		m->auc_macro = nauc ? wsum_auc / nauc : NAN;
		m->auc_weighted = wsup > 0 ? wauc / wsup : NAN;
	}
}

void sl_metrics_regress(struct sl_reg_metrics *m, const float *y,
                        const float *pred, int64_t n, int O)
{
	memset(m, 0, sizeof *m);
	if (n == 0) {
		m->mse = m->rmse = m->mae = m->r2 = NAN;
		return;
	}
	for (int j = 0; j < O; j++) {
		double mean = 0, ss_tot = 0, ss_res = 0, abs_err = 0, mse;
		for (int64_t i = 0; i < n; i++)
			mean += y[(size_t)i * O + j];
		mean /= (double)n;
		for (int64_t i = 0; i < n; i++) {
			double t = y[(size_t)i * O + j], e = t - (double)pred[(size_t)i * O + j];
			ss_tot += (t - mean) * (t - mean);
			ss_res += e * e;
			abs_err += fabs(e);
		}
		mse = ss_res / (double)n;
		m->mse += mse;
		m->rmse += sqrt(mse);
		m->mae += abs_err / (double)n;
		m->r2 += ss_tot > 0 ? 1.0 - ss_res / ss_tot : ss_res == 0 ? 1.0 : 0.0;
	}
	m->mse /= O;
	m->rmse /= O;
	m->mae /= O;
	m->r2 /= O;
}
