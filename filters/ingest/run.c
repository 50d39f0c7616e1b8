/*
 * run.c - what every input format shares: the error message of a run,
 * writing the header and the records, and the UTF-8 check that either
 * stops at the first invalid byte (naming the input, line, field and
 * byte offset) or, with --replace-invalid, repairs the text and counts.
 */
#include "ingest.h"

#include <stdarg.h>
#include <string.h>

int ing_fail(struct ingest *g, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	g->err.n = 0;
	sl_buf_reserve(&g->err, (size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(g->err.p, (size_t)len + 1, fmt, ap);
	va_end(ap);
	g->err.n = (size_t)len;
	return -1;
}

int ing_begin(struct ingest *g, struct sl_header *h)
{
	sl_header_lineage(h, g->argc, g->argv);
	if (sl_write_header(g->w, h) < 0)
		return ing_fail(g, "%s", sl_writer_error(g->w));
	return 0;
}

int ing_put(struct ingest *g, const struct sl_value *v, size_t n)
{
	if (sl_write_record(g->w, v, n) < 0)
		return ing_fail(g, "%s", sl_writer_error(g->w));
	sl_progress_update(&g->progress, sl_writer_records(g->w));
	return 0;
}

void ing_quote(struct sl_buf *b, const char *p, size_t n)
{
	if (n <= 60) {
		sl_json_str(b, p, n);
		return;
	}
	/* Cut at a character boundary, so the message stays readable. */
	n = 50;
	while (n > 40 && ((unsigned char)p[n] & 0xc0) == 0x80)
		n--;
	sl_json_str(b, p, n);
	sl_buf_puts(b, "...");
}

int ing_utf8(struct ingest *g, const char *p, size_t n, struct sl_buf *fix,
             const char *input, uint64_t at, int doubled, const char *what)
{
	size_t ok = sl_utf8_valid(p, n);

	if (ok == n)
		return 0;
	if (doubled) /* each quote before it stood for two in the input */
		for (size_t i = 0; i < ok; i++)
			at += p[i] == '"';
	if (!g->o->replace_invalid)
		return ing_fail(g,
		                "%s: %s: invalid UTF-8 at byte offset %llu (byte 0x%02x); "
		                "--replace-invalid replaces it with U+FFFD",
		                input, what, (unsigned long long)(at + ok),
		                (unsigned char)p[ok]);
	g->replaced += sl_utf8_repair(fix, p, n);
	return 1;
}
