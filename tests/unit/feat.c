/*
 * feat.c - unit tests of features and targets: which fields are chosen,
 * how each type becomes floats, the preprocessing, refusals of missing and
 * non-finite values, the numbering of classes (numeric for ints, bytewise
 * for strings) and the description round trip.
 */
#include "sluice.h"
#include "tap.h"

#include <math.h>
#include <string.h>

static struct sl_header *header(void)
{
	struct sl_header *h = sl_header_new();
	struct sl_type tf = {SL_FLOAT, 0, 0}, ti = {SL_INT, 0, 0}, ts = {SL_STR, 0, 0},
	               tb = {SL_BOOL, 0, 0}, tu8 = {SL_VEC, SL_ELEM_U8, 3},
	               tany = {SL_VEC, SL_ELEM_F32, 0}, ti16 = {SL_VEC, SL_ELEM_I16, 2};

	sl_header_add(h, "name", ts);
	sl_header_add(h, "a", tf);
	sl_header_add(h, "px", tu8);
	sl_header_add(h, "label", ti);
	sl_header_add(h, "free", tany);
	sl_header_add(h, "flag", tb);
	sl_header_add(h, "v", ti16);
	return h;
}

static void values(struct sl_value *v, const unsigned char *px, const int16_t *s16)
{
	memset(v, 0, 7 * sizeof *v);
	v[0].kind = SL_STR, v[0].u.s.p = "x", v[0].u.s.n = 1;
	v[1].kind = SL_FLOAT, v[1].u.f = 1.5;
	v[2].kind = SL_VEC, v[2].u.s.p = (const char *)px, v[2].u.s.n = 3;
	v[3].kind = SL_INT, v[3].u.i = 10;
	v[4].kind = SL_VEC, v[4].u.s.p = NULL, v[4].u.s.n = 0;
	v[5].kind = SL_BOOL, v[5].u.b = 1;
	v[6].kind = SL_VEC, v[6].u.s.p = (const char *)s16, v[6].u.s.n = 4;
}

int main(void)
{
	struct sl_header *h = header();
	struct sl_feat f, g;
	struct sl_value v[7];
	static const unsigned char px[3] = {0, 128, 255};
	static const int16_t s16[2] = {-3, 7};
	float row[8];
	const char *field, *why;
	char err[256] = "";
	char *labels[5] = {"10", "9", "100", "9", "-1"};
	struct sl_buf tmp = {0};
	int32_t cls;

	ok(sl_feat_select(&f, h, NULL, "label", err, sizeof err) == 0, "select: %s", err);
	is_int(f.nf, 4, "numbers and fixed vectors but the target: a, px, flag, v");
	is_str(f.f[1].name, "px", "in header order");
	is_int(f.D, 7, "row of 1 + 3 + 1 + 2 values");
	values(v, px, s16);
	ok(sl_feat_row(&f, v, row, &field, &why) == 0 && row[0] == 1.5f && row[1] == 0 &&
	   row[2] == 128 && row[3] == 255 && row[4] == 1 && row[5] == -3 && row[6] == 7,
	   "float, u8, bool and i16 values in order");
	f.scale = sl_xmalloc(7 * sizeof *f.scale);
	f.shift = sl_xmalloc(7 * sizeof *f.shift);
	for (int j = 0; j < 7; j++)
		f.scale[j] = 0.5f, f.shift[j] = (float)j;
	ok(sl_feat_row(&f, v, row, &field, &why) == 0 && row[0] == 0.75f && row[3] == 130.5f,
	   "preprocessing: x * scale + shift per column");
	v[1].u.f = NAN;
	ok(sl_feat_row(&f, v, row, &field, &why) < 0 && strcmp(field, "a") == 0 &&
	   strstr(why, "NaN"), "NaN refused, field named");
	v[1].kind = SL_NIL;
	ok(sl_feat_row(&f, v, row, &field, &why) < 0 && strstr(why, "missing"),
	   "missing refused");

	/* classes: ints numerically */
	f.ttype.kind = SL_INT;
	f.task = SL_TASK_CLASSIFY;
	sl_feat_set_classes(&f, labels, 5);
	ok(f.K == 4 && strcmp(f.classes[0], "-1") == 0 && strcmp(f.classes[1], "9") == 0 &&
	   strcmp(f.classes[3], "100") == 0, "int labels: -1 9 10 100");
	v[3].u.i = 100;
	ok(sl_feat_target(&f, v, &tmp, &cls, NULL, &why) == 0 && cls == 3, "label 100 is class 3");
	v[3].u.i = 11;
	ok(sl_feat_target(&f, v, &tmp, &cls, NULL, &why) < 0 && strstr(why, "not trained"),
	   "an unknown label refused");

	/* description round trip */
	{
		struct sl_val fv = sl_feat_describe_features(&f), tv = sl_feat_describe_target(&f);
		ok(sl_feat_from_val(&g, &fv, &tv, err, sizeof err) == 0, "rebuilt: %s", err);
		ok(g.nf == 4 && g.D == 7 && g.K == 4 && g.task == SL_TASK_CLASSIFY &&
		   strcmp(g.classes[3], "100") == 0 && strcmp(g.f[3].name, "v") == 0,
		   "same features, classes and task");
		ok(sl_feat_bind(&g, h, 1, err, sizeof err) == 0 && g.tidx == 3, "binds again");
		sl_val_free(&fv);
		sl_val_free(&tv);
		sl_feat_free(&g);
	}
	sl_feat_free(&f);

	ok(sl_feat_select(&f, h, "name", "label", err, sizeof err) == -2 &&
	   strstr(err, "not numeric"), "a str feature: -2 (%s)", err);
	sl_feat_free(&f);
	ok(sl_feat_select(&f, h, "free", "label", err, sizeof err) == -2,
	   "a variable-length vector feature: -2");
	sl_feat_free(&f);
	ok(sl_feat_select(&f, h, "nope", "label", err, sizeof err) == -1 &&
	   strstr(err, "no feature field \"nope\""), "a missing feature: -1");
	sl_feat_free(&f);
	ok(sl_feat_select(&f, h, NULL, "zzz", err, sizeof err) == -1, "a missing target: -1");
	sl_feat_free(&f);
	sl_header_free(h);
	sl_buf_free(&tmp);
	return done_testing();
}
