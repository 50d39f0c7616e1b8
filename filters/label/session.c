/*
 * session.c - the answers given on the terminal, kept so nothing is lost.
 *
 * A session file is a stream with one header and one record per answer,
 * in the order given:
 *
 *     {"sluice": 1, "fields": [["record", "int"], (["ID", T],) ["LABEL", "str"],
 *      ["digest", "int"]], "state": "sluice-label-session", "key": K, ...}
 *
 * keyed by K: "record" (the record's number, counted from 1 across all
 * inputs) or the name of the --id field, which is then a field of the
 * session too.  LABEL is nil for a skipped record.  A record-keyed answer
 * carries a 64-bit hash of the record's bytes, so resuming on another
 * input is caught rather than labelling the wrong records.  Keyed by id,
 * a session is also an annotation stream: --join SESSION --id ID reads it.
 *
 * The file is rewritten whole after every answer, to a temporary file
 * renamed over the old one: whenever the program stops, the file holds
 * every answer up to the last complete one.  (Sessions are as long as a
 * person's patience, so writing them whole costs nothing that matters.)
 */
#include "label.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SESSION_STATE "sluice-label-session"

static const char *keyname(const struct session *s)
{
	return s->id ? s->id : "record";
}

int session_key(const struct session *s, struct sl_buf *kb, uint64_t rec,
                const struct sl_value *id)
{
	if (s->id) {
		if (!id || id->kind == SL_NIL)
			return 0;
		key_bytes(kb, id);
	} else {
		struct sl_value v;
		memset(&v, 0, sizeof v);
		v.kind = SL_INT;
		v.u.i = (int64_t)rec;
		key_bytes(kb, &v);
	}
	return 1;
}

const struct answer *session_find(const struct session *s, const char *k, size_t n)
{
	long e = idmap_find(&s->map, k, n);

	if (e < 0 || s->map.val[e] < 0)
		return NULL;
	return &s->a[s->map.val[e]];
}

void session_add(struct session *s, const char *k, size_t n, uint64_t rec, int label,
                 int have_digest, int64_t digest)
{
	int isnew;
	size_t e = idmap_put(&s->map, k, n, &isnew);

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->a = sl_xrealloc(s->a, s->cap * sizeof *s->a);
	}
	s->a[s->n].record = rec;
	s->a[s->n].entry = e;
	s->a[s->n].label = label;
	s->a[s->n].have_digest = have_digest;
	s->a[s->n].digest = digest;
	s->map.val[e] = (int)s->n++;
}

void session_undo(struct session *s)
{
	size_t e;

	SL_ASSERT(s->n > 0);
	e = s->a[--s->n].entry;
	s->map.val[e] = -1;
	for (size_t j = s->n; j-- > 0;) /* an earlier answer for the same key */
		if (s->a[j].entry == e) {
			s->map.val[e] = (int)j;
			break;
		}
}

void session_free(struct session *s)
{
	idmap_free(&s->map);
	free(s->a);
	s->a = NULL;
	s->n = s->cap = 0;
}

int session_load(struct session *s, struct labels *L)
{
	struct sl_reader *r;
	struct stat st;
	struct sl_buf kb = {0};
	int ev, rc = 0, fr = -1, fi = -1, fl = -1, fd = -1;

	if (stat(s->path, &st) < 0 && errno == ENOENT)
		return 0; /* a new session */
	r = sl_reader_open(s->path);
	while (!rc && (ev = sl_read(r)) > 0) {
		const struct sl_value *v;
		if (ev == SL_HEADER) {
			const struct sl_header *h = sl_reader_header(r);
			const struct sl_val *st8 = sl_val_get(&h->meta, "state"),
			                    *key = sl_val_get(&h->meta, "key");
			if (sl_reader_segments(r) > 1) {
				sl_warn("%s: a session has one header; this has more", s->path);
				rc = 1;
				break;
			}
			if (!st8 || st8->tag != SL_V_STR || strcmp(st8->u.s, SESSION_STATE)) {
				sl_warn("%s: not a sluice-label session (its header has no "
				        "\"state\": \"" SESSION_STATE "\")", s->path);
				rc = 1;
				break;
			}
			if (!key || key->tag != SL_V_STR || strcmp(key->u.s, keyname(s))) {
				if (key && key->tag == SL_V_STR && strcmp(key->u.s, "record"))
					sl_warn("%s: the session is keyed by field \"%s\": give "
					        "--id %s", s->path, key->u.s, key->u.s);
				else
					sl_warn("%s: the session is keyed by record number, not "
					        "by an id: leave out --id", s->path);
				rc = 2;
				break;
			}
			fr = sl_header_find(h, "record");
			fl = sl_header_find(h, s->field);
			fd = sl_header_find(h, "digest");
			if (s->id)
				fi = sl_header_find(h, s->id);
			if (fr < 0 || h->fields[fr].type.kind != SL_INT || fd < 0 ||
			    h->fields[fd].type.kind != SL_INT || (s->id && fi < 0)) {
				sl_warn("%s: a session needs int fields \"record\" and "
				        "\"digest\"%s%s%s", s->path, s->id ? " and a field \"" : "",
				        s->id ? s->id : "", s->id ? "\"" : "");
				rc = 1;
				break;
			}
			if (fl < 0 || h->fields[fl].type.kind != SL_STR) {
				sl_warn("%s: no str field \"%s\" for the labels: give the "
				        "--field the session was made with", s->path, s->field);
				rc = 2;
				break;
			}
			if (s->id) {
				s->idtype = h->fields[fi].type;
				s->have_idtype = 1;
			}
			continue;
		}
		v = sl_reader_values(r);
		{
			uint64_t rec = sl_reader_recno(r);
			const struct sl_value *id = s->id ? &v[fi] : NULL;
			int label = -1;
			if (v[fr].kind != SL_INT || v[fr].u.i < 1 ||
			    !session_key(s, &kb, (uint64_t)v[fr].u.i, id)) {
				sl_warn("%s: record %llu: field \"%s\": missing", s->path,
				        (unsigned long long)rec, s->id && v[fr].kind == SL_INT ? s->id : "record");
				rc = 1;
				break;
			}
			if (v[fl].kind == SL_STR &&
			    (label = labels_intern(L, v[fl].u.s.p, v[fl].u.s.n)) < 0) {
				sl_warn("%s: record %llu: field \"%s\": label \"%.*s\" is not in "
				        "the spec %s", s->path, (unsigned long long)rec, s->field,
				        (int)v[fl].u.s.n, v[fl].u.s.p, L->spec);
				rc = 1;
				break;
			}
			session_add(s, kb.p, kb.n, (uint64_t)v[fr].u.i, label,
			            v[fd].kind == SL_INT, v[fd].kind == SL_INT ? v[fd].u.i : 0);
		}
	}
	if (!rc && ev == SL_ERROR) {
		sl_warn("%s", sl_reader_error(r));
		rc = 1;
	}
	sl_reader_close(r);
	sl_buf_free(&kb);
	return rc;
}

int session_save(const struct session *s, const struct labels *L)
{
	struct sl_header *h = sl_header_new();
	struct sl_wopts wo = {0, 1};
	struct sl_writer *w;
	struct sl_type ti = {SL_INT, SL_ELEM_NONE, 0}, ts = {SL_STR, SL_ELEM_NONE, 0};
	struct sl_value v[4];
	size_t nv = s->id ? 4 : 3;
	char *err = NULL;
	int rc = 0;

	sl_header_add(h, "record", ti);
	if (s->id)
		sl_header_add(h, s->id, s->idtype);
	sl_header_add(h, s->field, ts);
	sl_header_add(h, "digest", ti);
	sl_val_set(&h->meta, "state", sl_val_str(SESSION_STATE));
	sl_val_set(&h->meta, "key", sl_val_str(keyname(s)));
	sl_header_lineage(h, s->argc, s->argv);
	w = sl_writer_open(s->path, &wo);
	if (sl_writer_error(w) || sl_write_header(w, h) < 0)
		rc = -1;
	for (size_t i = 0; i < s->n && !rc; i++) {
		const struct answer *a = &s->a[i];
		size_t k = 0;
		memset(v, 0, sizeof v);
		v[k].kind = SL_INT;
		v[k++].u.i = (int64_t)a->record;
		if (s->id)
			v[k++] = key_value(s->map.bytes.p + s->map.off[a->entry],
			                   s->map.len[a->entry]);
		if (a->label >= 0) {
			v[k].kind = SL_STR;
			v[k].u.s.p = L->name[a->label];
			v[k].u.s.n = strlen(L->name[a->label]);
		}
		k++;
		if (a->have_digest) {
			v[k].kind = SL_INT;
			v[k].u.i = a->digest;
		}
		rc = sl_write_record(w, v, nv);
	}
	if (rc) {
		sl_warn("%s", sl_writer_error(w) ? sl_writer_error(w) : s->path);
		sl_writer_abort(w);
	} else if (sl_writer_close(w, &err) < 0) {
		sl_warn("%s", err);
		free(err);
		rc = -1;
	}
	sl_header_free(h);
	return rc;
}
