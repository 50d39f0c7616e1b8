/*
 * label.c - sluice-label: give records labels, and check them.
 *
 * Each record gets a label in a str field (--field, default "label"),
 * from the first of these sources that has one:
 *
 *   input     the field is already in the input and holds a label
 *   join      --join ANN --id F: the label ANN gives the record's id
 *   session   --resume SESSION: an answer given earlier on the terminal
 *   rules     --rule FIELD OP VALUE=LABEL, the first that matches
 *   terminal  --interactive: a person presses the label's key
 *
 * or none (nil).  Every record is written, labelled or not; --unlabelled
 * FILE also writes the records left without a label, as they came, so
 * they can be sent for labelling.  Counts per label and per source go to
 * standard error.  A spec file (--spec; see spec.c) names the labels, the
 * keys that give them and what they mean; with one, a label outside it is
 * an error wherever it comes from.
 *
 * Interactive labelling shows each record without a label on the terminal
 * (/dev/tty) while records flow from standard input to standard output.
 * Answered records are held back, up to UNDO_DEPTH answers and QUEUE_MAX
 * records, so an answer can be taken back (undo) before its record is
 * written.  Every answer is saved to the session at once (session.c), and
 * a later run with the same session carries on where this one stopped.
 *
 * Two other modes check labels rather than give them:
 *
 *   --review N   a uniform sample of N labelled records (reservoir sampling
 *                with --seed), in input order and without the label field,
 *                for a second person to label blind
 *   --agreement A B --id F   Cohen's kappa, per-label agreement and the
 *                confusion matrix of two annotation streams (agree.c)
 *
 * Memory: labelling streams, holding the annotations of --join (their ids
 * and labels) and the session's answers; interactively, also the records
 * held back for undo.  --review holds N records.
 */
#include "label/label.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNDO_DEPTH 100  /* answers that can be taken back */
#define QUEUE_MAX 10000 /* records held back for undo, at most */
#define SHOW_MAX 4000   /* bytes of a string shown on the terminal */
#define VEC_SHOWN 8     /* vector elements shown */

enum src { SRC_NONE, SRC_INPUT, SRC_JOIN, SRC_SESSION, SRC_RULE, SRC_TERMINAL, NSRC };
static const char *const src_names[NSRC] = {"", "input", "join", "session", "rules",
                                            "terminal"};

struct opts {
	struct sl_cli cli;
	const char *spec, *field, *label, *id, *join, *unlabelled, *resume, *show;
	const char *agreement;
	const char **rules;
	size_t nrules;
	int interactive, text;
	long long review;
	uint64_t seed;
};

/* One input segment: its output headers and where its fields are. */
struct seg {
	struct sl_header *out; /* the input's fields (+ the label field) */
	struct sl_header *unl; /* --unlabelled: the input's fields */
	size_t nin;            /* fields in the input */
	int lab;               /* the label field in the input, or -1: appended */
	int id;                /* the --id field, or -1 */
	int *show;             /* fields shown on the terminal */
	size_t nshow;
	struct seg *next;
};

/* What the interactive queue holds: records waiting for an answer, or
 * answered and held back for undo, or passing with them in order. */
enum { E_HEADER, E_AUTO, E_NEED, E_ANSWERED };

struct entry {
	int state;
	struct seg *seg;
	struct sl_rec rec;
	uint64_t recno;
	int64_t digest;
	int label, src;
};

struct run {
	const struct opts *o;
	int argc;
	char **argv;
	struct labels L;
	struct rule *rules;
	struct idmap ann;     /* --join: id -> label */
	uint8_t *matched;     /* per annotation: some record had its id */
	struct sl_type idtype; /* of the ids of --join */
	int have_idtype;
	struct session S;
	struct sl_writer *w, *wu;
	struct seg *segs, *cur;
	struct sl_value *vals;
	size_t valcap;
	struct sl_buf kb, scratch, screen;
	uint64_t records; /* read so far, across inputs: the record number */
	uint64_t *count;  /* per label */
	size_t ncount;
	uint64_t unlabelled, skipped, bysrc[NSRC];
	int input_labels; /* some segment has the label field */
	/* interactive */
	struct entry *q;
	size_t qhead, qlen, qcap, cursor, qanswered;
	int quit;
	uint64_t answered; /* on the terminal, this run */
	char msg[200];
};

static void usage(int status);

/* ------------------------------------------------------------- output */

static int write_header(struct run *R, const struct seg *g)
{
	if (sl_write_header(R->w, g->out) < 0)
		return 1;
	if (R->wu && sl_write_header(R->wu, g->unl) < 0)
		return 1;
	return 0;
}

/* Writes record v of segment g with its label, and counts it.  raw, when
 * given, is the record's encoding (a faster path for a new field). */
static int emit(struct run *R, const struct seg *g, const struct sl_value *v,
                const void *raw, size_t rawn, int label, int src)
{
	struct sl_value lv;
	size_t n = g->nin + (g->lab < 0);

	memset(&lv, 0, sizeof lv);
	if (label >= 0) {
		lv.kind = SL_STR;
		lv.u.s.p = R->L.name[label];
		lv.u.s.n = strlen(R->L.name[label]);
	}
	if (raw && g->lab < 0) {
		if (sl_write_raw_append(R->w, raw, rawn, &lv, 1) < 0)
			return 1;
	} else {
		if (n > R->valcap) {
			R->valcap = 2 * n;
			R->vals = sl_xrealloc(R->vals, R->valcap * sizeof *R->vals);
		}
		if (g->nin)
			memcpy(R->vals, v, g->nin * sizeof *v);
		R->vals[g->lab >= 0 ? (size_t)g->lab : g->nin] = lv;
		if (sl_write_record(R->w, R->vals, n) < 0)
			return 1;
	}
	if (R->L.n > R->ncount) {
		R->count = sl_xrealloc(R->count, R->L.cap * sizeof *R->count);
		memset(R->count + R->ncount, 0, (R->L.cap - R->ncount) * sizeof *R->count);
		R->ncount = R->L.cap;
	}
	if (label >= 0) {
		R->count[label]++;
		R->bysrc[src]++;
		return 0;
	}
	R->unlabelled++;
	if (src == SRC_SESSION || src == SRC_TERMINAL)
		R->skipped++;
	if (R->wu) {
		int rc = raw ? sl_write_raw(R->wu, raw, rawn)
		             : sl_write_record(R->wu, v, g->nin);
		if (rc < 0)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ segments */

static int start_segment(struct run *R, struct sl_reader *r)
{
	const struct opts *o = R->o;
	const struct sl_header *h = sl_reader_header(r);
	const char *in = sl_reader_name(r);
	struct seg *g = sl_xcalloc(1, sizeof *g), **tail;
	char err[512];

	for (tail = &R->segs; *tail; tail = &(*tail)->next)
		;
	*tail = g;
	R->cur = g;
	g->nin = h->nfields;
	g->id = -1;
	g->lab = sl_header_find(h, o->field);
	if (g->lab >= 0 && h->fields[g->lab].type.kind != SL_STR) {
		sl_warn("%s: field \"%s\" is %s; labels go in a str field: name another "
		        "with --field", in, o->field, sl_kind_name(h->fields[g->lab].type.kind));
		return 2;
	}
	R->input_labels |= g->lab >= 0;
	if (o->id) {
		enum sl_kind k;
		if ((g->id = sl_header_find(h, o->id)) < 0) {
			sl_warn("%s: --id: no field \"%s\"", in, o->id);
			return 2;
		}
		k = h->fields[g->id].type.kind;
		if (k != SL_INT && k != SL_STR) {
			sl_warn("%s: --id: field \"%s\" is %s; ids are int or str", in, o->id,
			        sl_kind_name(k));
			return 2;
		}
		if (R->have_idtype && R->idtype.kind != k) {
			sl_warn("%s: --id: field \"%s\" is %s, but the ids of %s are %s", in,
			        o->id, sl_kind_name(k), o->join, sl_kind_name(R->idtype.kind));
			return 2;
		}
		if (o->resume && R->S.have_idtype && R->S.idtype.kind != k) {
			sl_warn("%s: --id: field \"%s\" is %s, but the ids of %s are %s", in,
			        o->id, sl_kind_name(k), o->resume, sl_kind_name(R->S.idtype.kind));
			return 2;
		}
		if (!R->S.have_idtype) {
			R->S.idtype = h->fields[g->id].type;
			R->S.have_idtype = 1;
		}
	}
	for (size_t i = 0; i < o->nrules; i++)
		if (rule_bind(&R->rules[i], h, err, sizeof err) < 0) {
			sl_warn("%s: %s", in, err);
			return 2;
		}
	if (o->show) {
		char *copy = sl_xstrdup(o->show), *p = copy, *tok;
		while ((tok = strsep(&p, ","))) {
			int f = sl_header_find(h, tok);
			if (f < 0) {
				sl_warn("%s: --show: no field \"%s\"", in, tok);
				free(copy);
				return 2;
			}
			g->show = sl_xrealloc(g->show, (g->nshow + 1) * sizeof *g->show);
			g->show[g->nshow++] = f;
		}
		free(copy);
	} else {
		g->show = sl_xmalloc((g->nin ? g->nin : 1) * sizeof *g->show);
		for (size_t i = 0; i < g->nin; i++)
			if ((int)i != g->lab)
				g->show[g->nshow++] = (int)i;
	}
	g->out = sl_header_copy(h);
	sl_header_lineage(g->out, R->argc, R->argv);
	if (g->lab < 0) {
		struct sl_type t = {SL_STR, SL_ELEM_NONE, 0};
		sl_header_add(g->out, o->field, t);
	}
	if (R->L.closed) {
		struct sl_val labs = sl_val_arr();
		for (size_t i = 0; i < R->L.n; i++)
			sl_val_push(&labs, sl_val_str(R->L.name[i]));
		sl_val_set(&g->out->meta, "labels", labs);
	}
	g->unl = sl_header_copy(h);
	sl_header_lineage(g->unl, R->argc, R->argv);
	if (!R->w) {
		R->w = sl_writer_open(o->cli.output, &o->cli.w);
		if (sl_writer_error(R->w))
			return 1;
		if (o->unlabelled) {
			R->wu = sl_writer_open(o->unlabelled, &o->cli.w);
			if (sl_writer_error(R->wu))
				return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ labelling */

/* The label of a record from every source but the terminal: *label (-1:
 * none) and *src (SRC_NONE: nothing knew; SRC_SESSION with -1: skipped).
 * 0, or 1 after a message about bad data. */
static int decide(struct run *R, const struct seg *g, const struct sl_value *v,
                  struct sl_reader *r, uint64_t recno, int64_t digest, int *label,
                  int *src)
{
	const struct opts *o = R->o;

	*label = -1;
	*src = SRC_NONE;
	if (g->lab >= 0 && v[g->lab].kind == SL_STR) {
		if ((*label = labels_intern(&R->L, v[g->lab].u.s.p, v[g->lab].u.s.n)) < 0) {
			sl_warn("%s: record %llu: field \"%s\": label \"%.*s\" is not in the "
			        "spec %s", sl_reader_name(r),
			        (unsigned long long)sl_reader_recno(r), o->field,
			        (int)v[g->lab].u.s.n, v[g->lab].u.s.p, R->L.spec);
			return 1;
		}
		*src = SRC_INPUT;
		return 0;
	}
	if (o->join && v[g->id].kind != SL_NIL) {
		long e;
		key_bytes(&R->kb, &v[g->id]);
		if ((e = idmap_find(&R->ann, R->kb.p, R->kb.n)) >= 0) {
			R->matched[e] = 1;
			if (R->ann.val[e] >= 0) {
				*label = R->ann.val[e];
				*src = SRC_JOIN;
				return 0;
			}
		}
	}
	if (o->resume) {
		const struct answer *a = NULL;
		if (session_key(&R->S, &R->kb, recno, g->id >= 0 ? &v[g->id] : NULL))
			a = session_find(&R->S, R->kb.p, R->kb.n);
		if (a) {
			if (a->have_digest && a->digest != digest) {
				sl_warn("%s: record %llu is not the record %s labelled as number "
				        "%llu: is this the input the session was made on?",
				        sl_reader_name(r), (unsigned long long)sl_reader_recno(r),
				        o->resume, (unsigned long long)recno);
				return 1;
			}
			*label = a->label;
			*src = SRC_SESSION;
			return 0;
		}
	}
	for (size_t i = 0; i < o->nrules; i++) {
		struct rule *ru = &R->rules[i];
		int m = rule_match(ru, v, &R->scratch);
		if (m < 0) {
			sl_warn("%s: record %llu: field \"%s\": the regex of rule '%s' failed",
			        sl_reader_name(r), (unsigned long long)sl_reader_recno(r),
			        ru->field, ru->text);
			return 1;
		}
		if (m) {
			ru->hits++;
			*label = ru->label;
			*src = SRC_RULE;
			return 0;
		}
	}
	if (o->interactive && o->id && v[g->id].kind == SL_NIL) {
		sl_warn("%s: record %llu: field \"%s\": a missing id, and the session "
		        "is kept by id", sl_reader_name(r),
		        (unsigned long long)sl_reader_recno(r), o->id);
		return 1;
	}
	return 0;
}

/* ---------------------------------------------------------- interaction */

static void enqueue(struct run *R, int state, struct seg *g, const struct sl_value *v,
                    uint64_t recno, int64_t digest, int label, int src)
{
	struct entry *e;

	if (R->qhead > 0 && R->qhead >= R->qlen / 2) { /* slide down */
		memmove(R->q, R->q + R->qhead, (R->qlen - R->qhead) * sizeof *R->q);
		R->qlen -= R->qhead;
		R->cursor -= R->qhead;
		R->qhead = 0;
	}
	if (R->qlen == R->qcap) {
		R->qcap = R->qcap ? 2 * R->qcap : 64;
		R->q = sl_xrealloc(R->q, R->qcap * sizeof *R->q);
	}
	e = &R->q[R->qlen++];
	memset(e, 0, sizeof *e);
	e->state = state;
	e->seg = g;
	if (v)
		sl_rec_set(&e->rec, v, g->nin);
	e->recno = recno;
	e->digest = digest;
	e->label = label;
	e->src = src;
	if (state != E_NEED && R->cursor == R->qlen - 1)
		R->cursor = R->qlen;
}

/* Writes out the held-back entries before the cursor that can no longer
 * be taken back (all of them when all is set). */
static int flush(struct run *R, int all)
{
	while (R->qhead < R->cursor) {
		struct entry *e = &R->q[R->qhead];
		int rc;
		if (!all && e->state == E_ANSWERED && R->qanswered <= UNDO_DEPTH &&
		    R->qlen - R->qhead <= QUEUE_MAX)
			break;
		if (e->state == E_HEADER) {
			rc = write_header(R, e->seg);
		} else {
			rc = emit(R, e->seg, e->rec.v, NULL, 0, e->label, e->src);
			if (e->state == E_ANSWERED)
				R->qanswered--;
		}
		sl_rec_free(&e->rec);
		R->qhead++;
		if (rc)
			return rc;
	}
	return 0;
}

/* Appends v as the terminal shows it: control characters in caret
 * notation, long strings cut. */
static void show_value(struct sl_buf *b, const struct sl_value *v, struct sl_type t)
{
	char num[32];

	switch (v->kind) {
	case SL_NIL: sl_buf_puts(b, "(missing)"); break;
	case SL_BOOL: sl_buf_puts(b, v->u.b ? "true" : "false"); break;
	case SL_INT: sl_buf_put(b, num, (size_t)sl_fmt_int(num, v->u.i)); break;
	case SL_FLOAT: sl_buf_put(b, num, (size_t)sl_fmt_float(num, v->u.f)); break;
	case SL_STR: {
		size_t n = v->u.s.n;
		const unsigned char *p = (const unsigned char *)v->u.s.p;
		if (n > SHOW_MAX)
			for (n = SHOW_MAX; n > 0 && (p[n] & 0xc0) == 0x80; n--)
				;
		for (size_t i = 0; i < n; i++) {
			if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7f) {
				sl_buf_putc(b, '^');
				sl_buf_putc(b, p[i] == 0x7f ? '?' : p[i] + '@');
			} else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
			           p[i + 1] < 0xa0) { /* C1 controls */
				sl_buf_putc(b, '?');
				i++;
			} else {
				sl_buf_putc(b, p[i]);
			}
		}
		if (n < v->u.s.n)
			sl_buf_printf(b, "... (%zu bytes)", v->u.s.n);
		break;
	}
	case SL_BIN: sl_buf_printf(b, "(%zu bytes)", v->u.s.n); break;
	case SL_VEC: {
		size_t es = sl_elem_size(t.elem), n = es ? v->u.s.n / es : 0;
		sl_type_format(t, num, sizeof num);
		sl_buf_printf(b, "%zu values:", n);
		for (size_t i = 0; i < n && i < VEC_SHOWN; i++) {
			char f[32];
			sl_buf_putc(b, ' ');
			sl_buf_put(b, f, (size_t)sl_fmt_float(f, sl_vec_get(t.elem, v->u.s.p, i)));
		}
		if (n > VEC_SHOWN)
			sl_buf_puts(b, " ...");
		break;
	}
	default: break;
	}
}

static void put_rule(struct sl_buf *b)
{
	int cols = tty_cols();
	for (int i = 0; i < (cols < 72 ? cols : 72); i++)
		sl_buf_putc(b, '-');
	sl_buf_putc(b, '\n');
}

/* The keys bound to an action, for the menu. */
static void put_action(struct sl_buf *b, const struct labels *L, int act,
                       const char *what, int *first)
{
	char kb[16];
	for (int k = 0; k < 256; k++)
		if (L->keymap[k] == act && k != KEY_EOF) {
			sl_buf_printf(b, "%s%s %s", *first ? "  " : " | ", key_name(k, kb), what);
			*first = 0;
		}
}

static void draw(struct run *R, const struct entry *e)
{
	struct sl_buf *b = &R->screen;
	const struct seg *g = e->seg;
	char kb[16];
	int first = 1;
	size_t w = 0;

	b->n = 0;
	sl_buf_puts(b, "\033[H\033[2J");
	sl_buf_printf(b, "record %llu", (unsigned long long)e->recno);
	if (g->id >= 0) {
		sl_buf_puts(b, "   id ");
		show_value(b, &e->rec.v[g->id], g->out->fields[g->id].type);
	}
	sl_buf_printf(b, "   (%llu answered)\n", (unsigned long long)R->answered);
	put_rule(b);
	for (size_t i = 0; i < g->nshow; i++) {
		int f = g->show[i];
		sl_buf_printf(b, "%s: ", g->out->fields[f].name);
		show_value(b, &e->rec.v[f], g->out->fields[f].type);
		sl_buf_putc(b, '\n');
	}
	put_rule(b);
	for (size_t i = 0; i < R->L.n; i++)
		if (strlen(R->L.name[i]) > w)
			w = strlen(R->L.name[i]);
	for (size_t i = 0; i < R->L.n; i++)
		if (R->L.key[i] >= 0 && R->L.keymap[R->L.key[i]] == (int)i)
			sl_buf_printf(b, "  %-9s %-*s  %s\n", key_name(R->L.key[i], kb), (int)w,
			              R->L.name[i], R->L.desc[i]);
	put_action(b, &R->L, KEY_SKIP, "skip", &first);
	put_action(b, &R->L, KEY_UNDO, "undo", &first);
	put_action(b, &R->L, KEY_QUIT, "quit", &first);
	sl_buf_putc(b, '\n');
	if (R->msg[0])
		sl_buf_printf(b, "%s\n", R->msg);
	sl_buf_puts(b, "> ");
	tty_write(b->p, b->n);
	R->msg[0] = 0;
}

/* Takes back the last answer still held back.  0, or 1 if the session
 * could not be saved. */
static int undo(struct run *R)
{
	size_t j;

	for (j = R->cursor; j-- > R->qhead;)
		if (R->q[j].state == E_ANSWERED)
			break;
	if (j == (size_t)-1 || j < R->qhead) {
		snprintf(R->msg, sizeof R->msg, "nothing to undo%s",
		         R->answered ? ": the earlier answers are written out" : "");
		return 0;
	}
	SL_ASSERT(R->S.n > 0 && R->S.a[R->S.n - 1].record == R->q[j].recno);
	session_undo(&R->S);
	if (session_save(&R->S, &R->L) < 0)
		return 1;
	R->q[j].state = E_NEED;
	R->q[j].label = -1;
	R->q[j].src = SRC_NONE;
	R->qanswered--;
	R->answered--;
	R->cursor = j;
	snprintf(R->msg, sizeof R->msg, "took back the answer for record %llu",
	         (unsigned long long)R->q[j].recno);
	return 0;
}

/* Asks for every record from the cursor on.  0 when all are answered or
 * the person quit, 1 on a write error, -1 when a signal came. */
static int ask(struct run *R)
{
	while (R->cursor < R->qlen) {
		struct entry *e = &R->q[R->cursor];
		int k, act;
		if (e->state != E_NEED) {
			R->cursor++;
			continue;
		}
		draw(R, e);
		if ((k = tty_key()) == TTY_SIGNAL)
			return -1;
		act = k == TTY_EOF ? KEY_QUIT : R->L.keymap[k];
		if (act >= 0 || act == KEY_SKIP) {
			int label = act >= 0 ? act : -1, rc;
			const struct sl_value *id = e->seg->id >= 0 ? &e->rec.v[e->seg->id] : NULL;
			session_key(&R->S, &R->kb, e->recno, id);
			session_add(&R->S, R->kb.p, R->kb.n, e->recno, label, !R->S.id,
			            e->digest);
			if (session_save(&R->S, &R->L) < 0)
				return 1;
			e->state = E_ANSWERED;
			e->label = label;
			e->src = SRC_TERMINAL;
			R->qanswered++;
			R->answered++;
			R->cursor++;
			if ((rc = flush(R, 0)))
				return rc;
		} else if (act == KEY_UNDO) {
			if (undo(R))
				return 1;
		} else if (act == KEY_QUIT) {
			R->quit = 1;
			for (size_t i = R->cursor; i < R->qlen; i++)
				if (R->q[i].state == E_NEED)
					R->q[i].state = E_AUTO;
			R->cursor = R->qlen;
			return flush(R, 1);
		} else {
			char kb[16];
			snprintf(R->msg, sizeof R->msg, "key %s gives no label", key_name(k, kb));
		}
	}
	return 0;
}

/* At the end of the input: the last answers can still be taken back. */
static int ask_end(struct run *R)
{
	while (R->qanswered > 0 && !R->quit) {
		struct sl_buf *b = &R->screen;
		int k, rc;
		b->n = 0;
		sl_buf_printf(b, "\033[H\033[2Jend of input: %llu answered\n",
		              (unsigned long long)R->answered);
		if (R->msg[0])
			sl_buf_printf(b, "%s\n", R->msg);
		sl_buf_puts(b, "undo takes back the last answer; any other key finishes\n> ");
		tty_write(b->p, b->n);
		R->msg[0] = 0;
		if ((k = tty_key()) == TTY_SIGNAL)
			return -1;
		if (k == TTY_EOF || R->L.keymap[k] != KEY_UNDO)
			break;
		if (undo(R) || (rc = ask(R)) > 0)
			return 1;
		if (rc < 0)
			return -1;
	}
	tty_write("\n", 1);
	return flush(R, 1);
}

static int on_record(struct run *R, struct sl_reader *r)
{
	const struct sl_value *v = sl_reader_values(r);
	const void *raw;
	size_t rawn;
	int label, src, rc;
	uint64_t recno = ++R->records;
	int64_t digest;

	sl_reader_raw(r, &raw, &rawn);
	digest = (int64_t)sl_hash64(raw, rawn, 0);
	if ((rc = decide(R, R->cur, v, r, recno, digest, &label, &src)))
		return rc;
	if (src == SRC_NONE && R->o->interactive && !R->quit) {
		enqueue(R, E_NEED, R->cur, v, recno, digest, -1, SRC_NONE);
		return ask(R);
	}
	if (R->qhead < R->qlen) {
		enqueue(R, E_AUTO, R->cur, v, recno, digest, label, src);
		return flush(R, 0);
	}
	return emit(R, R->cur, v, raw, rawn, label, src);
}

/* Counts per label and per source, to standard error. */
static void report(struct run *R)
{
	const struct opts *o = R->o;
	struct sl_buf line = {0};
	int first = 1;
	uint64_t total = R->unlabelled;

	for (size_t i = 0; i < R->ncount; i++)
		total += R->count[i];
	sl_buf_printf(&line, "%llu records:", (unsigned long long)total);
	for (size_t i = 0; i < R->L.n; i++)
		sl_buf_printf(&line, " %s %llu", R->L.name[i],
		              (unsigned long long)(i < R->ncount ? R->count[i] : 0));
	sl_buf_printf(&line, " unlabelled %llu", (unsigned long long)R->unlabelled);
	sl_warn("%s", sl_buf_cstr(&line));
	line.n = 0;
	sl_buf_puts(&line, "labelled by");
	for (int s = SRC_INPUT; s < NSRC; s++) {
		int on = (s == SRC_INPUT && R->input_labels) || (s == SRC_JOIN && o->join) ||
		         (s == SRC_SESSION && o->resume) || (s == SRC_RULE && o->nrules) ||
		         (s == SRC_TERMINAL && o->interactive);
		if (on) {
			sl_buf_printf(&line, "%s %s %llu", first ? "" : ",", src_names[s],
			              (unsigned long long)R->bysrc[s]);
			first = 0;
		}
	}
	if (o->resume || o->interactive)
		sl_buf_printf(&line, "; skipped %llu", (unsigned long long)R->skipped);
	sl_warn("%s", sl_buf_cstr(&line));
	if (o->join) {
		uint64_t m = 0;
		for (size_t e = 0; e < R->ann.n; e++)
			m += R->matched[e];
		sl_warn("%s: %llu of %llu annotated ids found in the input", o->join,
		        (unsigned long long)m, (unsigned long long)R->ann.n);
	}
	if (R->quit)
		sl_warn("quit before the end: --resume %s carries on from there", o->resume);
	sl_buf_free(&line);
}

static int label_streams(struct run *R, int nin, char **in)
{
	const struct opts *o = R->o;
	struct sl_progress prog;
	int rc = 0, ev = 0;

	/* the terminal's screen is the progress of an interactive run */
	sl_progress_start(&prog, "records", 0, 0);
	prog.on &= !o->interactive;
	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? in[a] : NULL);
		while (!rc && (ev = sl_read(r)) > 0) {
			if (o->interactive && tty_signal()) {
				rc = -1;
			} else if (ev == SL_HEADER) {
				if (!(rc = start_segment(R, r))) {
					if (R->qhead < R->qlen)
						enqueue(R, E_HEADER, R->cur, NULL, 0, 0, -1, 0);
					else
						rc = write_header(R, R->cur);
				}
			} else {
				rc = on_record(R, r);
				sl_progress_update(&prog, R->records);
			}
		}
		if (!rc && ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		sl_reader_close(r);
	}
	if (!rc && o->interactive && !R->quit)
		rc = ask_end(R);
	if (!rc)
		rc = flush(R, 1);
	if (!rc && o->interactive && tty_signal())
		rc = -1;
	sl_progress_end(&prog, R->records);
	return rc;
}

/* ------------------------------------------------------------- review */

struct pick {
	struct sl_rec rec;
	uint64_t seq;
};

static int cmp_pick(const void *a, const void *b)
{
	uint64_t x = ((const struct pick *)a)->seq, y = ((const struct pick *)b)->seq;
	return (x > y) - (x < y);
}

/* --review N: reservoir sampling (Algorithm R) over the records that have
 * a label, then written in input order without the label field. */
static int review(const struct opts *o, int nin, char **in, int argc, char **argv)
{
	struct pick *res = NULL;
	size_t nres = 0, cap = 0, N = (size_t)o->review;
	uint64_t seen = 0, total = 0;
	struct sl_header *first = NULL, *outh = NULL;
	struct sl_rng rng;
	struct sl_writer *w = NULL;
	struct sl_value *vals = NULL;
	int lab = -1, rc = 0, ev = 0;

	sl_rng_seed(&rng, o->seed);
	for (int a = 0; a < (nin ? nin : 1) && !rc; a++) {
		struct sl_reader *r = sl_reader_open(nin ? in[a] : NULL);
		while (!rc && (ev = sl_read(r)) > 0) {
			const struct sl_value *v;
			size_t slot;
			if (ev == SL_HEADER) {
				const struct sl_header *h = sl_reader_header(r);
				if (!first) {
					first = sl_header_copy(h);
					lab = sl_header_find(h, o->field);
				} else if (sl_reader_fields_differ(r, first, h,
				                                   "; sample each schema separately")) {
					rc = 1;
				}
				continue;
			}
			v = sl_reader_values(r);
			total++;
			if (lab >= 0 && v[lab].kind == SL_NIL)
				continue;
			seen++;
			if (nres < N) {
				if (nres == cap) {
					cap = cap ? 2 * cap : 64;
					if (cap > N)
						cap = N;
					res = sl_xrealloc(res, cap * sizeof *res);
					memset(res + nres, 0, (cap - nres) * sizeof *res);
				}
				slot = nres++;
			} else {
				slot = (size_t)sl_rng_below(&rng, seen);
				if (slot >= N)
					continue;
			}
			sl_rec_set(&res[slot].rec, v, first->nfields);
			res[slot].seq = seen;
		}
		if (!rc && ev == SL_ERROR) {
			sl_warn("%s", sl_reader_error(r));
			rc = 1;
		}
		if (a == 0 && first) /* its trailer's counts, where it ends in one */
			sl_reader_take_trailer(r, &first->lineage);
		sl_reader_close(r);
	}
	if (!rc && !first) {
		sl_warn("no input header");
		rc = 1;
	}
	if (!rc) {
		struct sl_val cnt = sl_val_map(), *entry;
		char *err = NULL;
		size_t nout;
		qsort(res, nres, sizeof *res, cmp_pick);
		outh = sl_header_new();
		for (size_t i = 0; i < first->nfields; i++)
			if ((int)i != lab)
				sl_header_add(outh, first->fields[i].name, first->fields[i].type);
		sl_val_free(&outh->meta);
		outh->meta = sl_val_copy(&first->meta);
		sl_val_free(&outh->lineage);
		outh->lineage = sl_val_copy(&first->lineage);
		sl_header_lineage(outh, argc, argv);
		sl_val_set(&cnt, "records", sl_val_int((int64_t)total));
		sl_val_set(&cnt, "labelled", sl_val_int((int64_t)seen));
		sl_val_set(&cnt, "sampled", sl_val_int((int64_t)nres));
		entry = &outh->lineage.u.a[outh->lineage.n - 1];
		sl_val_set(entry, "counts", cnt);
		nout = outh->nfields;
		vals = sl_xmalloc((nout ? nout : 1) * sizeof *vals);
		w = sl_writer_open(o->cli.output, &o->cli.w);
		if (sl_writer_error(w) || sl_write_header(w, outh) < 0)
			rc = 1;
		for (size_t i = 0; i < nres && !rc; i++) {
			size_t k = 0;
			for (size_t f = 0; f < first->nfields; f++)
				if ((int)f != lab)
					vals[k++] = res[i].rec.v[f];
			rc = sl_write_record(w, vals, nout) < 0;
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
	}
	if (!rc) {
		if (lab >= 0)
			sl_warn("review sample: %zu of %llu labelled records (%llu in all)", nres,
			        (unsigned long long)seen, (unsigned long long)total);
		else
			sl_warn("review sample: %zu of %llu records", nres,
			        (unsigned long long)total);
	}
	for (size_t i = 0; i < cap; i++)
		sl_rec_free(&res[i].rec);
	free(res);
	free(vals);
	sl_header_free(first);
	sl_header_free(outh);
	return rc;
}

/* ---------------------------------------------------------------- main */

enum {
	OPT_SPEC = SL_OPT_FIRST_FREE,
	OPT_FIELD,
	OPT_LABEL,
	OPT_ID,
	OPT_RULE,
	OPT_JOIN,
	OPT_UNLABELLED,
	OPT_RESUME,
	OPT_SHOW,
	OPT_REVIEW,
	OPT_SEED,
	OPT_AGREEMENT,
	OPT_TEXT,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"spec", required_argument, 0, OPT_SPEC},
	    {"field", required_argument, 0, OPT_FIELD},
	    {"label", required_argument, 0, OPT_LABEL},
	    {"id", required_argument, 0, OPT_ID},
	    {"rule", required_argument, 0, OPT_RULE},
	    {"join", required_argument, 0, OPT_JOIN},
	    {"unlabelled", required_argument, 0, OPT_UNLABELLED},
	    {"interactive", no_argument, 0, 'i'},
	    {"resume", required_argument, 0, OPT_RESUME},
	    {"show", required_argument, 0, OPT_SHOW},
	    {"review", required_argument, 0, OPT_REVIEW},
	    {"seed", required_argument, 0, OPT_SEED},
	    {"agreement", required_argument, 0, OPT_AGREEMENT},
	    {"text", no_argument, 0, OPT_TEXT},
	    {0, 0, 0, 0},
	};
	struct opts o = {.field = "label", .review = -1, .text = -1};
	struct run R;
	char err[600];
	int c, nin, rc = 0;
	long long n;

	sl_init(argv[0]);
	memset(&R, 0, sizeof R);
	labels_init(&R.L);
	while ((c = getopt_long(argc, argv, "o:fzi", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case OPT_SPEC: o.spec = optarg; break;
		case OPT_FIELD: o.field = optarg; break;
		case OPT_LABEL: o.label = optarg; break;
		case OPT_ID: o.id = optarg; break;
		case OPT_RULE:
			o.rules = sl_xrealloc(o.rules, (o.nrules + 1) * sizeof *o.rules);
			o.rules[o.nrules++] = optarg;
			break;
		case OPT_JOIN: o.join = optarg; break;
		case OPT_UNLABELLED: o.unlabelled = optarg; break;
		case 'i': o.interactive = 1; break;
		case OPT_RESUME: o.resume = optarg; break;
		case OPT_SHOW: o.show = optarg; break;
		case OPT_REVIEW:
			if ((n = sl_parse_count(optarg)) < 1)
				sl_die(2, "--review: want a count of records, not '%s'", optarg);
			o.review = n;
			break;
		case OPT_SEED:
			if ((n = sl_parse_count(optarg)) < 0)
				sl_die(2, "--seed: want a non-negative integer, not '%s'", optarg);
			o.seed = (uint64_t)n;
			break;
		case OPT_AGREEMENT: o.agreement = optarg; break;
		case OPT_TEXT: o.text = 1; break;
		default:
			usage(2);
			return 2;
		}
	}
	nin = argc - optind;
	if (!o.label)
		o.label = o.field;
	if (!*o.field)
		sl_die(2, "--field: a field needs a name");

	/* one mode, and the options it takes */
	if (o.review >= 0 || o.agreement) {
		if (o.review >= 0 && o.agreement)
			sl_die(2, "--review and --agreement are separate runs");
		if (o.nrules || o.join || o.interactive || o.resume || o.unlabelled || o.show)
			sl_die(2, "--%s takes no --rule, --join, --interactive, --resume, "
			          "--unlabelled or --show", o.review >= 0 ? "review" : "agreement");
	} else if (!o.nrules && !o.join && !o.interactive && !o.resume) {
		sl_die(2, "nothing to label with: give --rule, --join, --interactive or "
		          "--resume (or check labels with --review or --agreement)");
	}
	if (o.text > 0 && (!o.agreement || o.cli.output))
		sl_die(2, "--text prints the --agreement report on standard output; it "
		          "goes with --agreement and without -o");
	if (o.agreement && (!o.id || nin != 1))
		sl_die(2, "--agreement A B needs two annotation streams and --id FIELD");
	if (o.join && !o.id)
		sl_die(2, "--join needs --id FIELD: the field that ties records to "
		          "annotations");
	if (o.show && !o.interactive)
		sl_die(2, "--show goes with --interactive");
	if (o.interactive && (!o.spec || !o.resume))
		sl_die(2, "--interactive needs --spec FILE (the labels and their keys) and "
		          "--resume SESSION (where the answers are kept)");
	if (o.interactive && !nin && isatty(0))
		sl_die(2, "--interactive reads records from standard input or files, and "
		          "keys from the terminal: give it a stream");
	if (o.resume) {
		const char *clash = NULL;
		if (!strcmp(o.field, "record") || !strcmp(o.field, "digest"))
			clash = o.field;
		if (o.id && (!strcmp(o.id, "record") || !strcmp(o.id, "digest") ||
		             !strcmp(o.id, o.field)))
			clash = o.id;
		if (clash)
			sl_die(2, "--resume: a session has fields \"record\", \"digest\", the "
			          "--id and the --field; \"%s\" cannot be two of them", clash);
	}

	if (o.spec && spec_load(&R.L, o.spec, err, sizeof err) < 0)
		sl_die(2, "%s", err);
	if (o.agreement) {
		struct agree_opts ao = {o.agreement, argv[optind], o.id, o.label, o.text,
		                        &o.cli, argc, argv};
		rc = agreement(&ao, &R.L);
		goto done;
	}
	if (o.review >= 0) {
		rc = review(&o, nin, argv + optind, argc, argv);
		goto done;
	}

	R.o = &o;
	R.argc = argc;
	R.argv = argv;
	R.rules = sl_xcalloc(o.nrules ? o.nrules : 1, sizeof *R.rules);
	for (size_t i = 0; i < o.nrules; i++)
		if (rule_parse(&R.rules[i], o.rules[i], &R.L, err, sizeof err) < 0)
			sl_die(2, "%s", err);
	if (o.join) {
		if ((rc = ann_load(&R.ann, &R.L, o.join, o.id, o.label, &R.idtype,
		                   &R.have_idtype)))
			goto done;
		R.matched = sl_xcalloc(R.ann.n ? R.ann.n : 1, 1);
	}
	R.S.path = o.resume;
	R.S.id = o.id;
	R.S.field = o.field;
	R.S.argc = argc;
	R.S.argv = argv;
	if (o.resume && (rc = session_load(&R.S, &R.L)))
		goto done;
	if (o.interactive && tty_open() < 0)
		sl_die(2, "--interactive: cannot use the terminal /dev/tty: %s", strerror(errno));

	rc = label_streams(&R, nin, argv + optind);

	if (rc < 0) { /* a signal: the session is whole; the output is not */
		int sig = tty_signal();
		tty_restore();
		if (R.w)
			sl_writer_abort(R.w);
		if (R.wu)
			sl_writer_abort(R.wu);
		sl_warn("interrupted: %zu answers kept in %s", R.S.n, o.resume);
		tty_die(sig);
	}
	if (o.interactive)
		tty_close();
	if (!R.w && !rc) {
		sl_warn("no input header");
		rc = 1;
	}
	if (R.w) {
		char *e = NULL;
		if (rc) {
			if (sl_writer_error(R.w))
				sl_warn("%s", sl_writer_error(R.w));
			sl_writer_abort(R.w);
		} else if (sl_writer_close(R.w, &e) < 0) {
			sl_warn("%s", e);
			free(e);
			rc = 1;
		}
	}
	if (R.wu) {
		char *e = NULL;
		if (rc) {
			if (sl_writer_error(R.wu))
				sl_warn("%s", sl_writer_error(R.wu));
			sl_writer_abort(R.wu);
		} else if (sl_writer_close(R.wu, &e) < 0) {
			sl_warn("%s", e);
			free(e);
			rc = 1;
		}
	}
	if (!rc)
		report(&R);
done:
	for (size_t i = 0; i < o.nrules && R.rules; i++)
		rule_free(&R.rules[i]);
	free(R.rules);
	free(o.rules);
	while (R.segs) {
		struct seg *g = R.segs;
		R.segs = g->next;
		sl_header_free(g->out);
		sl_header_free(g->unl);
		free(g->show);
		free(g);
	}
	for (size_t i = R.qhead; i < R.qlen; i++)
		sl_rec_free(&R.q[i].rec);
	free(R.q);
	free(R.vals);
	free(R.count);
	free(R.matched);
	idmap_free(&R.ann);
	session_free(&R.S);
	labels_free(&R.L);
	sl_buf_free(&R.kb);
	sl_buf_free(&R.scratch);
	sl_buf_free(&R.screen);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-label [-f] [-o FILE] [--zstd[=LEVEL]] [--spec FILE]\n"
	        "                    [--field NAME] [--rule RULE ...] [--join ANN --id FIELD]\n"
	        "                    [--label FIELD] [--interactive --resume SESSION]\n"
	        "                    [--show F,...] [--unlabelled FILE] [FILE ...]\n"
	        "       sluice-label --review N [--seed S] [--field NAME] [-o FILE] [FILE ...]\n"
	        "       sluice-label --agreement A B --id FIELD [--label FIELD] [--spec FILE]\n"
	        "                    [--text] [-o FILE]\n"
	        "  --spec FILE       labels, their keys and descriptions (one per line:\n"
	        "                    KEY LABEL [DESCRIPTION]); see sluice-label(1)\n"
	        "  --field NAME      the str field that gets the label (default \"label\")\n"
	        "  --rule RULE       FIELD~/REGEX/=LABEL, FIELD>NUMBER=LABEL (== != < <=\n"
	        "                    > >= !~), *=LABEL; the first that matches wins\n"
	        "  --join ANN        labels from annotation stream ANN, matched by --id\n"
	        "  --id FIELD        the id field (int or str) of records and annotations\n"
	        "  --label FIELD     the label field of annotation streams (default: --field)\n"
	        "  -i, --interactive ask on the terminal for records without a label\n"
	        "  --resume SESSION  the answers so far; saved after every answer\n"
	        "  --show F,...      fields shown on the terminal (default: all)\n"
	        "  --unlabelled FILE also write the records left unlabelled to FILE\n"
	        "  --review N        a uniform sample of N labelled records, label removed\n"
	        "  --seed S          seed of the review sample (default 0)\n"
	        "  --agreement A B   Cohen's kappa, per-label agreement and confusion of\n"
	        "                    two annotation streams (text on a terminal, or --text)\n");
}
