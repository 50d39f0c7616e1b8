/*
 * label.h - the parts of sluice-label, shared by filters/label.c and the
 * helpers in filters/label/.  Not a library interface: nothing else uses it.
 *
 *   spec.c     the label set: names, keys and descriptions, from a spec file
 *   rules.c    FIELD OP VALUE=LABEL rules: parsed once, bound per segment
 *   idmap.c    a map from byte strings (ids, record numbers) to entries
 *   session.c  the answers given on the terminal, kept in a stream file
 *   tty.c      the terminal: raw mode, keys, and restoring it on signals
 *   agree.c    annotation streams, and the agreement between two of them
 *
 * Labels are small integers: indices into a `struct labels`.  -1 is "no
 * label".  Errors are returned as exit statuses (1 data, 2 usage) after a
 * message has been printed, or as text in a caller's buffer.
 */
#ifndef LABEL_H
#define LABEL_H

#include "sluice.h"

#include <regex.h>

/* ---------------------------------------------------------------- spec */

/* What a key does when it is not a label's key. */
enum { KEY_NONE = -1, KEY_SKIP = -2, KEY_UNDO = -3, KEY_QUIT = -4 };

#define KEY_BACKSPACE 0x7f /* 0x08 is read as this too */
#define KEY_ENTER '\n'     /* and '\r' */
#define KEY_EOF 0x04       /* Ctrl-D: always quits */

/* The label set, in order: the spec's labels first, then labels met in
 * rules and annotations when there is no spec.  keymap says what each
 * byte read from the terminal does: a label index or a KEY_ action. */
struct labels {
	char **name;
	char **desc; /* "" without a spec */
	int *key;    /* the byte that gives the label, or -1 */
	size_t n, cap;
	int closed;       /* a spec was read: no label outside it */
	const char *spec; /* its path, for messages */
	int keymap[256];
};

/* An empty set with the default action keys: space skips, backspace
 * undoes, q and Ctrl-D quit. */
void labels_init(struct labels *L);
void labels_free(struct labels *L);
int labels_find(const struct labels *L, const char *p, size_t n);
/* The index of label p[0..n), added when new; -1 when the set is closed
 * (from a spec) and has no such label. */
int labels_intern(struct labels *L, const char *p, size_t n);
/* NULL when p[0..n) can name a label, else what is wrong with it. */
const char *label_check(const char *p, size_t n);
/* Reads a spec file into an empty set.  0, or -1 with "PATH: line N: ..."
 * in err. */
int spec_load(struct labels *L, const char *path, char *err, size_t cap);
/* A key's name for the screen: "p", "space", "backspace", "^D". */
const char *key_name(int byte, char buf[16]);

/* --------------------------------------------------------------- rules */

enum rule_op { OP_ANY, OP_MATCH, OP_NOMATCH, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT,
               OP_GE };

/* One --rule.  Parsed once; rule_bind() resolves the field in each new
 * segment and reads the value for the field's type. */
struct rule {
	const char *text; /* as given, for messages */
	char *field;
	enum rule_op op;
	char *value; /* comparison text, or the regex */
	int icase;
	regex_t re;
	int compiled;
	int label;
	/* bound */
	int idx;
	enum sl_kind kind;
	int isint;
	int64_t i;
	double f;
	int b;
	uint64_t hits;
};

/* 0, or -1 with the reason in err.  Labels are interned in L. */
int rule_parse(struct rule *r, const char *text, struct labels *L, char *err,
               size_t cap);
/* 0, or -1 with the reason in err (an unknown field, a wrong type). */
int rule_bind(struct rule *r, const struct sl_header *h, char *err, size_t cap);
/* 1 if record v matches, 0 if not, -1 if the regex engine failed. */
int rule_match(const struct rule *r, const struct sl_value *v, struct sl_buf *scratch);
void rule_free(struct rule *r);

/* --------------------------------------------------------------- idmap */

/* Byte-string keys to entries 0..n-1 in insertion order, each with an int
 * and a 64-bit payload: open addressing over a 64-bit hash, confirmed by
 * comparing the bytes.  Keys are copied. */
struct idmap {
	struct sl_buf bytes;
	size_t *off, *len;
	int *val;
	uint64_t *aux;
	size_t n, cap;
	uint32_t *slot; /* entry + 1; 0 = empty */
	size_t nslot;
};

/* The key of a value: its kind as one byte, then its bytes (an int as 8
 * bytes in host order). */
void key_bytes(struct sl_buf *b, const struct sl_value *v);
/* The value a key stands for (int or str; strings point into k). */
struct sl_value key_value(const char *k, size_t n);
/* The key as text for messages: 17, "abc". */
void key_text(struct sl_buf *out, const char *k, size_t n);
long idmap_find(const struct idmap *m, const void *k, size_t n);
/* The entry of key k, added (val -1, aux 0) when new; *isnew says which. */
size_t idmap_put(struct idmap *m, const void *k, size_t n, int *isnew);
void idmap_free(struct idmap *m);

/* ------------------------------------------------------------- session */

/* One answer given on the terminal: label -1 means skipped. */
struct answer {
	uint64_t record; /* 1-based, across all inputs */
	size_t entry;    /* its key in the session's map */
	int label;
	int have_digest;
	int64_t digest; /* a hash of the record's bytes (record-keyed sessions) */
};

/* The answers so far, in the order given, keyed by record number or by the
 * value of an id field.  Saved whole after every answer: written to a
 * temporary file and renamed over the old one, so the file always holds
 * a complete session. */
struct session {
	const char *path;
	const char *id;    /* id field, or NULL: keyed by record number */
	const char *field; /* the label field's name in the file */
	struct sl_type idtype;
	int have_idtype;
	struct idmap map; /* key -> answer index (val; -1 once undone) */
	struct answer *a;
	size_t n, cap;
	int argc;
	char **argv;
};

/* Loads the session file when it exists.  0, or an exit status after a
 * message. */
int session_load(struct session *s, struct labels *L);
int session_save(const struct session *s, const struct labels *L);
/* The key of record number rec, or of id value v (nil: no key; returns 0). */
int session_key(const struct session *s, struct sl_buf *kb, uint64_t rec,
                const struct sl_value *id);
/* The answer for key k, or NULL. */
const struct answer *session_find(const struct session *s, const char *k, size_t n);
void session_add(struct session *s, const char *k, size_t n, uint64_t rec, int label,
                 int have_digest, int64_t digest);
/* Takes back the last answer. */
void session_undo(struct session *s);
void session_free(struct session *s);

/* ----------------------------------------------------------------- tty */

enum { TTY_EOF = -1, TTY_SIGNAL = -2 };

/* Opens /dev/tty, puts it in raw mode (no echo, no line editing; Ctrl-C
 * still signals) and catches SIGINT, SIGTERM, SIGHUP, SIGPIPE and SIGQUIT
 * so the terminal is restored whatever happens.  0, or -1 with errno. */
int tty_open(void);
/* Back to the modes found at tty_open (idempotent). */
void tty_restore(void);
void tty_close(void);
/* The next key byte, TTY_EOF, or TTY_SIGNAL once a signal has come. */
int tty_key(void);
void tty_write(const char *p, size_t n);
/* The terminal's width in columns (80 when unknown). */
int tty_cols(void);
/* The signal caught, or 0. */
int tty_signal(void);
/* Restores the default action of sig and raises it. */
_Noreturn void tty_die(int sig);

/* ------------------------------------------------------------ annotations */

/* Options of the agreement report. */
struct agree_opts {
	const char *a, *b;  /* the two annotation streams */
	const char *id;     /* id field */
	const char *label;  /* label field */
	int text;           /* 1: text, 0: stream, -1: text when stdout is a tty */
	struct sl_cli *cli;
	int argc;
	char **argv;
};

/* Reads an annotation stream: for each record, its id (field id, int or
 * str, never missing) and label (field label: str, int or bool; missing
 * means not labelled).  m's entries get val = label index or -1, aux =
 * record number.  *idtype gets the id field's type (and must match it if
 * *have_idtype).  A repeated id with another label is an error.  Returns
 * 0 or an exit status after a message. */
int ann_load(struct idmap *m, struct labels *L, const char *path, const char *id,
             const char *label, struct sl_type *idtype, int *have_idtype);
/* Runs --agreement: returns the exit status. */
int agreement(const struct agree_opts *o, struct labels *L);

#endif
