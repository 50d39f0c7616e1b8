/*
 * rules.c - labelling rules: FIELD OP VALUE=LABEL.
 *
 *   text~/refund|money back/=complaint   a POSIX extended regex matches
 *   text!~/thank/i=other                 ... does not match (i: any case)
 *   score>0.8=positive                   a comparison: == != < <= > >=
 *   lang==en=english                     (a single = means == too)
 *   *=other                              every record
 *
 * The label is what follows the last '=' (labels hold no '=').  The field
 * is what comes before the first operator character (~ ! = < >).  A regex
 * is written /RE/ or /RE/i and needs a str field.  A comparison reads its
 * value for the field's type: a number for int and float fields (an int
 * field compared with an integer is compared exactly), true or false for
 * bool (== and != only), the text itself for str (byte order), quotes
 * removed when it is written "...".  A missing value (nil, or NaN in a
 * float field) matches no rule but *.
 *
 * Parsing (and compiling the regex) happens once; binding, per segment,
 * finds the field and checks its type, so a record is matched with no
 * lookups.
 */
#include "label.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *s;
	enum rule_op op;
} ops[] = {
    {"!~", OP_NOMATCH}, {"~", OP_MATCH}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE},
    {">=", OP_GE},      {"<", OP_LT},    {">", OP_GT},  {"=", OP_EQ},
};

int rule_parse(struct rule *r, const char *text, struct labels *L, char *err,
               size_t cap)
{
	const char *eq = strrchr(text, '='), *p, *why, *label, *v;
	size_t n, k, vn;

	memset(r, 0, sizeof *r);
	r->text = text;
	r->idx = -1;
	r->label = -1;
	if (!eq) {
		snprintf(err, cap, "rule '%s': want FIELD OP VALUE=LABEL", text);
		return -1;
	}
	label = eq + 1;
	n = strlen(label);
	if ((why = label_check(label, n))) {
		snprintf(err, cap, "rule '%s': label \"%s\": %s", text, label, why);
		return -1;
	}
	if ((r->label = labels_intern(L, label, n)) < 0) {
		snprintf(err, cap, "rule '%s': label \"%s\" is not in the spec %s", text,
		         label, L->spec);
		return -1;
	}
	if (eq - text == 1 && text[0] == '*') {
		r->op = OP_ANY;
		return 0;
	}
	p = text + strcspn(text, "~!=<>");
	if (p >= eq || p == text) {
		snprintf(err, cap, "rule '%s': want FIELD OP VALUE=LABEL, OP one of "
		                   "~ !~ == != < <= > >=", text);
		return -1;
	}
	r->field = sl_xstrndup(text, (size_t)(p - text));
	for (k = 0; k < sizeof ops / sizeof ops[0]; k++)
		if (strncmp(p, ops[k].s, strlen(ops[k].s)) == 0)
			break;
	if (k == sizeof ops / sizeof ops[0] || p + strlen(ops[k].s) > eq) {
		snprintf(err, cap, "rule '%s': unknown operator", text);
		return -1;
	}
	r->op = ops[k].op;
	v = p + strlen(ops[k].s);
	vn = (size_t)(eq - v);
	if (r->op == OP_MATCH || r->op == OP_NOMATCH) {
		int rc;
		if (vn >= 3 && v[vn - 1] == 'i' && v[vn - 2] == '/') {
			r->icase = 1;
			vn--;
		}
		if (vn < 2 || v[0] != '/' || v[vn - 1] != '/') {
			snprintf(err, cap, "rule '%s': a regex is written /RE/ or /RE/i", text);
			return -1;
		}
		r->value = sl_xstrndup(v + 1, vn - 2);
		rc = regcomp(&r->re, r->value,
		             REG_EXTENDED | REG_NOSUB | (r->icase ? REG_ICASE : 0));
		if (rc) {
			char msg[256];
			regerror(rc, &r->re, msg, sizeof msg);
			snprintf(err, cap, "rule '%s': regex /%s/: %s", text, r->value, msg);
			return -1;
		}
		r->compiled = 1;
		return 0;
	}
	if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
		v++;
		vn -= 2;
	}
	r->value = sl_xstrndup(v, vn);
	return 0;
}

int rule_bind(struct rule *r, const struct sl_header *h, char *err, size_t cap)
{
	size_t vn;

	if (r->op == OP_ANY)
		return 0;
	if ((r->idx = sl_header_find(h, r->field)) < 0) {
		snprintf(err, cap, "rule '%s': no field \"%s\"", r->text, r->field);
		return -1;
	}
	r->kind = h->fields[r->idx].type.kind;
	vn = strlen(r->value);
	if (r->op == OP_MATCH || r->op == OP_NOMATCH) {
		if (r->kind != SL_STR) {
			snprintf(err, cap, "rule '%s': field \"%s\" is %s; a regex needs a "
			                   "str field", r->text, r->field, sl_kind_name(r->kind));
			return -1;
		}
		return 0;
	}
	switch (r->kind) {
	case SL_INT:
	case SL_FLOAT:
		r->isint = sl_parse_int(r->value, vn, &r->i) == 0;
		if (r->isint) {
			r->f = (double)r->i;
		} else if (sl_parse_float(r->value, vn, &r->f) < 0 || isnan(r->f)) {
			snprintf(err, cap, "rule '%s': field \"%s\" is %s, and \"%s\" is not "
			                   "a number", r->text, r->field,
			         sl_kind_name(r->kind), r->value);
			return -1;
		}
		return 0;
	case SL_STR:
		return 0;
	case SL_BOOL:
		if ((r->op != OP_EQ && r->op != OP_NE) ||
		    (r->b = sl_parse_bool(r->value, vn)) < 0) {
			snprintf(err, cap, "rule '%s': field \"%s\" is bool: compare it "
			                   "with == or != and true or false", r->text, r->field);
			return -1;
		}
		return 0;
	default:
		snprintf(err, cap, "rule '%s': a %s field cannot be compared", r->text,
		         sl_kind_name(r->kind));
		return -1;
	}
}

int rule_match(const struct rule *r, const struct sl_value *v, struct sl_buf *scratch)
{
	const struct sl_value *x;
	int c = 0;

	if (r->op == OP_ANY)
		return 1;
	x = &v[r->idx];
	if (x->kind == SL_NIL || (x->kind == SL_FLOAT && isnan(x->u.f)))
		return 0;
	if (r->op == OP_MATCH || r->op == OP_NOMATCH) {
		regmatch_t m[1];
		int rc, eflags = 0;
		/* a copy with a NUL after it; REG_STARTEND also sees past NULs */
		scratch->n = 0;
		sl_buf_put(scratch, x->u.s.p, x->u.s.n);
		sl_buf_cstr(scratch);
#ifdef REG_STARTEND
		m[0].rm_so = 0;
		m[0].rm_eo = (regoff_t)x->u.s.n;
		eflags = REG_STARTEND;
#endif
		rc = regexec(&r->re, scratch->p, 1, m, eflags);
		if (rc != 0 && rc != REG_NOMATCH)
			return -1;
		return (rc == 0) == (r->op == OP_MATCH);
	}
	switch (x->kind) {
	case SL_INT:
		if (r->isint)
			c = (x->u.i > r->i) - (x->u.i < r->i);
		else
			c = ((double)x->u.i > r->f) - ((double)x->u.i < r->f);
		break;
	case SL_FLOAT:
		c = (x->u.f > r->f) - (x->u.f < r->f);
		break;
	case SL_BOOL:
		c = (x->u.b != 0) != (r->b != 0);
		break;
	case SL_STR: {
		size_t vn = strlen(r->value), n = x->u.s.n < vn ? x->u.s.n : vn;
		c = n ? memcmp(x->u.s.p, r->value, n) : 0;
		c = c ? (c > 0) - (c < 0) : (x->u.s.n > vn) - (x->u.s.n < vn);
		break;
	}
	default:
		return 0;
	}
	switch (r->op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return 0;
	}
}

void rule_free(struct rule *r)
{
	if (r->compiled)
		regfree(&r->re);
	free(r->field);
	free(r->value);
}
