/*
 * spec.c - the label set of sluice-label, and the spec file it comes from.
 *
 * A spec names the labels a dataset may carry, the key that gives each on
 * the terminal, and what each means.  One label per line:
 *
 *     # sentiment of a product review
 *     p  positive   praises the product
 *     n  negative   complains, asks for money back
 *     x  none
 *     tab :skip
 *
 * KEY LABEL [DESCRIPTION]: KEY is one printable ASCII character or one of
 * space, tab, enter, backspace, none (no key); LABEL is a word without '='
 * or control characters; the rest of the line, trimmed, describes it.
 * Blank lines and lines starting with '#' are ignored.  A LABEL of :skip,
 * :undo or :quit binds that action to KEY instead of its default (space,
 * backspace, q).  A label may take an action's default key; Ctrl-D always
 * quits.  A key or a label given twice is an error, reported with its line.
 *
 * Without a spec the set is open: rules and annotations add labels as they
 * name them, in the order met.
 */
#include "label.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void labels_init(struct labels *L)
{
	memset(L, 0, sizeof *L);
	for (int i = 0; i < 256; i++)
		L->keymap[i] = KEY_NONE;
	L->keymap[' '] = KEY_SKIP;
	L->keymap[KEY_BACKSPACE] = KEY_UNDO;
	L->keymap['q'] = KEY_QUIT;
	L->keymap[KEY_EOF] = KEY_QUIT;
}

void labels_free(struct labels *L)
{
	for (size_t i = 0; i < L->n; i++) {
		free(L->name[i]);
		free(L->desc[i]);
	}
	free(L->name);
	free(L->desc);
	free(L->key);
	memset(L, 0, sizeof *L);
}

int labels_find(const struct labels *L, const char *p, size_t n)
{
	for (size_t i = 0; i < L->n; i++)
		if (strlen(L->name[i]) == n && memcmp(L->name[i], p, n) == 0)
			return (int)i;
	return -1;
}

static int labels_add(struct labels *L, const char *p, size_t n, const char *desc,
                      int key)
{
	if (L->n == L->cap) {
		L->cap = L->cap ? 2 * L->cap : 16;
		L->name = sl_xrealloc(L->name, L->cap * sizeof *L->name);
		L->desc = sl_xrealloc(L->desc, L->cap * sizeof *L->desc);
		L->key = sl_xrealloc(L->key, L->cap * sizeof *L->key);
	}
	L->name[L->n] = sl_xstrndup(p, n);
	L->desc[L->n] = sl_xstrdup(desc);
	L->key[L->n] = key;
	return (int)L->n++;
}

int labels_intern(struct labels *L, const char *p, size_t n)
{
	int i = labels_find(L, p, n);

	if (i >= 0 || L->closed)
		return i;
	return labels_add(L, p, n, "", -1);
}

const char *label_check(const char *p, size_t n)
{
	if (n == 0)
		return "a label cannot be empty";
	if (sl_utf8_valid(p, n) != n)
		return "a label must be UTF-8";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == ' ')
			return "a label cannot hold spaces or control characters";
		if (c == '=')
			return "a label cannot hold '='";
	}
	return NULL;
}

static const struct {
	const char *name;
	int byte;
} key_names[] = {
    {"space", ' '}, {"tab", '\t'}, {"enter", KEY_ENTER}, {"backspace", KEY_BACKSPACE},
};

const char *key_name(int byte, char buf[16])
{
	for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
		if (key_names[i].byte == byte)
			return key_names[i].name;
	if (byte < 0x20)
		snprintf(buf, 16, "^%c", byte + '@');
	else if (byte < 0x7f)
		snprintf(buf, 16, "%c", byte);
	else
		snprintf(buf, 16, "\\x%02x", (unsigned)byte);
	return buf;
}

/* KEY of a spec line: a byte, -1 for none, or -2 when malformed. */
static int parse_key(const char *s)
{
	unsigned char c = (unsigned char)s[0];

	if (c > 0x20 && c < 0x7f && s[1] == 0)
		return c;
	if (strcmp(s, "none") == 0)
		return -1;
	for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
		if (strcmp(s, key_names[i].name) == 0)
			return key_names[i].byte;
	return -2;
}

int spec_load(struct labels *L, const char *path, char *err, size_t cap)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *keytok, *label, *desc, *p;
	size_t linecap = 0, lineno = 0;
	ssize_t len;
	int keyline[256] = {0}, *labline = NULL, rc = -1;
	static const char *const actions[] = {":skip", ":undo", ":quit"};
	static const int actcode[] = {KEY_SKIP, KEY_UNDO, KEY_QUIT};

	L->spec = path;
	if (!f) {
		snprintf(err, cap, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
#define FAIL(...)                                                              \
	do {                                                                   \
		int k_ = snprintf(err, cap, "%s: line %zu: ", path, lineno);   \
		snprintf(err + k_, cap - (size_t)k_, __VA_ARGS__);             \
		goto out;                                                      \
	} while (0)
	while ((len = getline(&line, &linecap, f)) >= 0) {
		int key, act = -1;
		lineno++;
		if ((size_t)len != strlen(line))
			FAIL("a NUL byte");
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (sl_utf8_valid(line, (size_t)len) != (size_t)len)
			FAIL("not UTF-8");
		p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		keytok = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = 0;
		p += strspn(p, " \t");
		label = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = 0;
		desc = p + strspn(p, " \t");
		for (p = desc + strlen(desc); p > desc && (p[-1] == ' ' || p[-1] == '\t');)
			*--p = 0;
		if (!*label)
			FAIL("want KEY LABEL [DESCRIPTION], not just \"%s\"", keytok);
		if ((key = parse_key(keytok)) == -2)
			FAIL("key \"%s\": want one printable character, or space, tab, "
			     "enter, backspace or none", keytok);
		for (p = desc; *p; p++)
			if ((unsigned char)*p < 0x20 && *p != '\t')
				FAIL("a control character in the description");
		if (label[0] == ':') {
			for (act = 0; act < 3 && strcmp(label, actions[act]); act++)
				;
			if (act == 3)
				FAIL("unknown action \"%s\": :skip, :undo or :quit", label);
		} else {
			const char *why = label_check(label, strlen(label));
			int prev;
			if (why)
				FAIL("label \"%s\": %s", label, why);
			if ((prev = labels_find(L, label, strlen(label))) >= 0)
				FAIL("label \"%s\" is already on line %d", label, labline[prev]);
		}
		if (key >= 0 && keyline[key]) {
			char kb[16];
			FAIL("key \"%s\" is already bound on line %d", key_name(key, kb),
			     keyline[key]);
		}
		if (act >= 0) { /* the action leaves its default keys */
			for (int b = 0; b < 256; b++)
				if (L->keymap[b] == actcode[act] && !keyline[b] && b != KEY_EOF)
					L->keymap[b] = KEY_NONE;
			if (key >= 0)
				L->keymap[key] = actcode[act];
		} else {
			int i = labels_add(L, label, strlen(label), desc, key);
			labline = sl_xrealloc(labline, L->cap * sizeof *labline);
			labline[i] = (int)lineno;
			if (key >= 0)
				L->keymap[key] = i;
		}
		if (key >= 0)
			keyline[key] = (int)lineno;
	}
	if (ferror(f)) {
		snprintf(err, cap, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	if (L->n == 0) {
		snprintf(err, cap, "%s: no labels in the spec", path);
		goto out;
	}
#undef FAIL
	L->closed = 1;
	rc = 0;
out:
	free(labline);
	free(line);
	fclose(f);
	return rc;
}
