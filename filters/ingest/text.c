/*
 * text.c - plain text into records: one per line, per paragraph, per
 * fortune entry, per file, or per file of a directory tree.
 *
 *   format       fields                       a record is
 *   lines        text, source, line           a line
 *   paragraphs   text, source, line           lines up to a blank line
 *   fortune      text, source, line           lines up to a "%" line
 *   file         text, source                 the whole input
 *   dir          text, source, id             each file of the tree
 *
 * text keeps the input's bytes as they are, except for the line break
 * that ends the record (LF or CRLF): breaks inside a paragraph or an entry
 * stay.  source is the input's path ("-" for standard input); line is the
 * number of the record's first line, from 1; id is 16 hex digits of the
 * library's stable 64-bit hash (sl_hash64, seed 0) of the file's path
 * relative to the tree's top, so it names the file whatever the tree is
 * called and wherever it lies.
 * Paragraphs are separated by one or more blank lines (empty, or only
 * spaces, tabs and CRs); empty fortune entries ("%" after "%") are no
 * records.  A directory is walked depth first, entries in byte order of
 * their names, so the order is the same on every run; names that start
 * with '.' are left out, and so are symbolic links to directories and
 * files that are not regular files.
 *
 * With --no-provenance every format has the text field only (the inputs
 * are named in the lineage): 10M short lines make a stream half the size.
 *
 * Text must be UTF-8: an invalid byte is an error naming the input, line
 * and byte offset, or is replaced with U+FFFD under --replace-invalid.
 *
 * Memory: one record (so a whole file for file and dir) plus one block.
 */
#include "ingest.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct text {
	struct ingest *g;
	enum format fmt;
	struct sl_value v[3];
	struct sl_buf fix; /* repaired text */
};

/* Finds the line that starts k bytes after in->pos, reading more as
 * needed: 1 with *eol its end (the offset of its '\n' from pos, or of the
 * end of the input when the last line has none), 0 when no line starts
 * there, -1 on an error. */
static int line_at(struct input *in, size_t k, size_t *eol, struct ingest *g)
{
	size_t from = k, avail;
	char *nl;

	for (;;) {
		avail = in->end - in->pos;
		if (from < avail) {
			nl = memchr(in->buf + in->pos + from, '\n', avail - from);
			if (nl) {
				*eol = (size_t)(nl - (in->buf + in->pos));
				return 1;
			}
			from = avail;
		}
		if (in->eof) {
			*eol = avail;
			return k < avail;
		}
		if (input_fill(in, g) < 0)
			return -1;
	}
}

/* The length of the line [k, eol) without a CR that ends it before LF. */
static size_t line_len(const struct input *in, size_t k, size_t eol)
{
	const char *p = in->buf + in->pos;

	if (eol > k && eol < in->end - in->pos && p[eol - 1] == '\r')
		return eol - k - 1;
	return eol - k;
}

static int blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\f' &&
		    p[i] != '\v')
			return 0;
	return 1;
}

/* Writes one record: text p[0..n) (at input offset `at`, starting on line
 * `line`), the source, and the line number or id. */
static int emit(struct text *t, const struct input *in, const char *source,
                const char *p, size_t n, uint64_t at, uint64_t line, const char *id)
{
	size_t ok = sl_utf8_valid(p, n);

	t->v[0].kind = SL_STR;
	t->v[0].u.s.p = p;
	t->v[0].u.s.n = n;
	if (ok < n) {
		char what[64];
		uint64_t bad = line;
		for (size_t i = 0; i < ok; i++)
			bad += p[i] == '\n';
		snprintf(what, sizeof what, "line %llu: field \"text\"",
		         (unsigned long long)bad);
		t->fix.n = 0;
		if (ing_utf8(t->g, p, n, &t->fix, in->name, at, 0, what) < 0)
			return -1;
		t->v[0].u.s.p = t->fix.p;
		t->v[0].u.s.n = t->fix.n;
	}
	if (t->g->o->no_provenance)
		return ing_put(t->g, t->v, 1);
	t->v[1].kind = SL_STR;
	t->v[1].u.s.p = source;
	t->v[1].u.s.n = strlen(source);
	if (t->fmt == FMT_FILE)
		return ing_put(t->g, t->v, 2);
	if (id) {
		t->v[2].kind = SL_STR;
		t->v[2].u.s.p = id;
		t->v[2].u.s.n = strlen(id);
	} else {
		t->v[2].kind = SL_INT;
		t->v[2].u.i = (int64_t)line;
	}
	return ing_put(t->g, t->v, 3);
}

static int lines(struct text *t, struct input *in)
{
	size_t eol;
	int rc;

	while ((rc = line_at(in, 0, &eol, t->g)) > 0) {
		if (emit(t, in, in->path, in->buf + in->pos, line_len(in, 0, eol),
		         in->base + in->pos, in->line, NULL) < 0)
			return -1;
		in->pos += eol < in->end - in->pos ? eol + 1 : eol;
		in->line++;
	}
	return rc;
}

/* Paragraphs (sep 0) or fortune entries (sep '%'): the lines from in->pos
 * up to a blank line or a "%" line. */
static int blocks(struct text *t, struct input *in, int sep)
{
	size_t k, eol, len, end, nlines;
	const char *p;
	int rc;

	for (;;) {
		k = end = nlines = 0;
		while ((rc = line_at(in, k, &eol, t->g)) > 0) {
			p = in->buf + in->pos + k;
			len = line_len(in, k, eol);
			if (sep ? len == 1 && *p == sep : blank(p, len))
				break;
			end = k + len;
			k = eol < in->end - in->pos ? eol + 1 : eol;
			nlines++;
		}
		if (rc < 0)
			return -1;
		if (end > 0 && emit(t, in, in->path, in->buf + in->pos, end,
		                    in->base + in->pos, in->line, NULL) < 0)
			return -1;
		if (rc == 0 && nlines == 0)
			return 0;
		/* past the block and the line that ended it */
		if (rc > 0) {
			k = eol < in->end - in->pos ? eol + 1 : eol;
			nlines++;
		}
		in->pos += k;
		in->line += nlines;
	}
}

static int whole(struct text *t, struct input *in, const char *source,
                 const char *id)
{
	while (!in->eof)
		if (input_fill(in, t->g) < 0)
			return -1;
	return emit(t, in, source, in->buf + in->pos, in->end - in->pos,
	            in->base + in->pos, 1, id);
}

/* ----------------------------------------------------------------- dir */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One file of a tree: path is its path, rel (a suffix of path) the part
 * below the top. */
static int dir_file(struct text *t, const char *path, const char *rel)
{
	struct input in;
	char id[17];
	int rc;

	snprintf(id, sizeof id, "%016llx",
	         (unsigned long long)sl_hash64(rel, strlen(rel), 0));
	if (input_open(&in, path, t->g) < 0)
		return -1;
	rc = whole(t, &in, path, id);
	input_close(&in);
	return rc;
}

/* Walks the directory path (a buffer that is extended and restored); rel
 * is the offset in it where the relative part starts. */
static int walk(struct text *t, struct sl_buf *path, size_t rel)
{
	struct ingest *g = t->g;
	DIR *d = opendir(sl_buf_cstr(path));
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, len = path->n, i;
	int rc = 0;

	if (!d)
		return ing_fail(g, "%s: %s", sl_buf_cstr(path), strerror(errno));
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = sl_xrealloc(names, cap * sizeof *names);
		}
		names[n++] = sl_xstrdup(e->d_name);
	}
	if (errno)
		rc = ing_fail(g, "%s: %s", sl_buf_cstr(path), strerror(errno));
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, by_name);
	for (i = 0; i < n && rc == 0; i++) {
		struct stat st;
		path->n = len;
		if (len && path->p[len - 1] != '/')
			sl_buf_putc(path, '/');
		sl_buf_puts(path, names[i]);
		if (lstat(sl_buf_cstr(path), &st) < 0)
			rc = ing_fail(g, "%s: %s", path->p, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = walk(t, path, rel);
		else if (S_ISLNK(st.st_mode) && stat(path->p, &st) < 0)
			rc = ing_fail(g, "%s: a broken symbolic link", path->p);
		else if (S_ISREG(st.st_mode))
			rc = dir_file(t, path->p, path->p + rel);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	path->n = len;
	sl_buf_cstr(path);
	return rc;
}

static int tree(struct text *t, const char *top)
{
	struct sl_buf path = {0};
	struct stat st;
	const char *slash;
	size_t rel;
	int rc;

	if (stat(top, &st) < 0)
		return ing_fail(t->g, "%s: %s", top, strerror(errno));
	if (!S_ISDIR(st.st_mode)) { /* a file named on its own */
		slash = strrchr(top, '/');
		return dir_file(t, top, slash ? slash + 1 : top);
	}
	sl_buf_puts(&path, top);
	rel = path.n + (path.n && path.p[path.n - 1] != '/');
	rc = walk(t, &path, rel);
	sl_buf_free(&path);
	return rc;
}

/* ---------------------------------------------------------------- main */

int ingest_text(struct ingest *g, char **paths, int n)
{
	static char *stdin_only[] = {"-"};
	struct text t = {.g = g, .fmt = g->o->format};
	struct sl_header *h = sl_header_new();
	struct input in;
	int rc = 0;

	sl_header_add(h, "text", (struct sl_type){.kind = SL_STR});
	if (!g->o->no_provenance) {
		sl_header_add(h, "source", (struct sl_type){.kind = SL_STR});
		if (t.fmt == FMT_DIR)
			sl_header_add(h, "id", (struct sl_type){.kind = SL_STR});
		else if (t.fmt != FMT_FILE)
			sl_header_add(h, "line", (struct sl_type){.kind = SL_INT});
	}
	rc = ing_begin(g, h);
	sl_header_free(h);
	if (!n) {
		paths = stdin_only;
		n = 1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		if (t.fmt == FMT_DIR) {
			rc = tree(&t, paths[i]);
			continue;
		}
		if (input_open(&in, paths[i], g) < 0)
			return -1;
		switch (t.fmt) {
		case FMT_LINES: rc = lines(&t, &in); break;
		case FMT_PARAGRAPHS: rc = blocks(&t, &in, 0); break;
		case FMT_FORTUNE: rc = blocks(&t, &in, '%'); break;
		default: rc = whole(&t, &in, in.path, NULL); break;
		}
		input_close(&in);
	}
	sl_buf_free(&t.fix);
	return rc < 0 ? -1 : 0;
}
