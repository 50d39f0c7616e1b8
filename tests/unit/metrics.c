/*
 * metrics.c - unit tests of the metrics against cases worked by hand (and
 * the examples of scikit-learn's documentation, which give the same
 * numbers).
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>

#define near(got, want, ...) \
	do { \
		double g_ = (got), w_ = (want); \
		if (!ok(fabs(g_ - w_) < 1e-9, __VA_ARGS__)) \
			printf("#   got %.12g, want %.12g\n", g_, w_); \
	} while (0)

static void three_classes(void)
{
	/* true 0 0 1 1 2 2, predicted 0 1 1 1 2 0 */
	static const int32_t y[6] = {0, 0, 1, 1, 2, 2};
	static const float s[6 * 3] = {
	    0.7f, 0.2f, 0.1f, 0.3f, 0.6f, 0.1f, 0.1f, 0.8f, 0.1f,
	    0.2f, 0.5f, 0.3f, 0.1f, 0.1f, 0.8f, 0.5f, 0.1f, 0.4f,
	};
	struct sl_cls_metrics m;

	sl_metrics_classify(&m, y, s, 3, 6, 1);
	near(m.accuracy, 4.0 / 6, "accuracy 4/6");
	is_int(m.confusion[0 * 3 + 1], 1, "confusion: one 0 taken for 1");
	is_int(m.confusion[2 * 3 + 0], 1, "confusion: one 2 taken for 0");
	near(m.precision[0], 0.5, "precision of 0: 1 of 2");
	near(m.precision[1], 2.0 / 3, "precision of 1: 2 of 3");
	near(m.recall[2], 0.5, "recall of 2: 1 of 2");
	near(m.f1[1], 0.8, "F1 of 1: 2*2 / (3 + 2)");
	near(m.macro_f1, (0.5 + 0.8 + 2.0 / 3) / 3, "macro F1");
	near(m.weighted_recall, (0.5 * 2 + 1.0 * 2 + 0.5 * 2) / 6, "weighted recall");
	/* class 0 vs rest: positives score 0.7 and 0.3, negatives 0.1 0.2 0.1
	 * 0.5; 0.7 beats all four, 0.3 three of them: 7 of 8 pairs. */
	near(m.auc[0], (4 + 3) / 8.0, "AUC of class 0 one-vs-rest");
	/* the float scores' rows sum to 1 within 1e-7 */
	ok(fabs(m.log_loss - -(log(0.7) + log(0.3) + log(0.8) + log(0.5) + log(0.8) +
	                       log(0.4)) / 6) < 1e-7, "log loss");
	sl_cls_metrics_free(&m);
}

static void binary(void)
{
	static const int32_t y[4] = {0, 0, 1, 1};
	static const float s[8] = {0.9f, 0.1f, 0.6f, 0.4f, 0.65f, 0.35f, 0.2f, 0.8f};
	static const int32_t y2[4] = {0, 1, 0, 1};
	static const float s2[8] = {0.5f, 0.5f, 0.5f, 0.5f, 0.8f, 0.2f, 0.1f, 0.9f};
	struct sl_cls_metrics m;

	sl_metrics_classify(&m, y, s, 2, 4, 1);
	near(m.auc_macro, 0.75, "binary AUC (sklearn's roc_auc_score example)");
	ok(fabs(m.log_loss - -(log(0.9) + log(0.6) + log(0.35) + log(0.8)) / 4.0) < 1e-7,
	   "binary log loss");
	sl_cls_metrics_free(&m);
	sl_metrics_classify(&m, y2, s2, 2, 4, 0);
	near(m.auc[1], 3.5 / 4, "a tie between a positive and a negative counts half");
	ok(isnan(m.log_loss), "no log loss for margins");
	sl_cls_metrics_free(&m);
	{
		static const int32_t one[3] = {1, 1, 1};
		sl_metrics_classify(&m, one, s, 2, 3, 1);
		ok(isnan(m.auc[1]), "AUC undefined without negatives");
		near(m.precision[0], 0.0, "precision with nothing predicted is 0");
		sl_cls_metrics_free(&m);
	}
}

static void regression(void)
{
	static const float y[4] = {3, -0.5f, 2, 7}, p[4] = {2.5f, 0, 2, 8};
	static const float y2[6] = {0.5f, 1, -1, 1, 7, -6}, p2[6] = {0, 2, -1, 2, 8, -5};
	static const float c[3] = {2, 2, 2}, cp[3] = {2, 2, 3};
	struct sl_reg_metrics m;

	sl_metrics_regress(&m, y, p, 4, 1);
	near(m.mse, 0.375, "MSE (sklearn's example)");
	near(m.rmse, sqrt(0.375), "RMSE");
	near(m.mae, 0.5, "MAE");
	near(m.r2, 0.9486081370449679, "R^2");
	sl_metrics_regress(&m, y2, p2, 3, 2);
	near(m.mae, 0.75, "MAE of two outputs, uniform average (sklearn's example)");
	sl_metrics_regress(&m, c, c, 3, 1);
	near(m.r2, 1.0, "R^2 of a constant target predicted exactly");
	sl_metrics_regress(&m, c, cp, 3, 1);
	near(m.r2, 0.0, "R^2 of a constant target missed");
}

int main(void)
{
	three_classes();
	binary();
	regression();
	return done_testing();
}
