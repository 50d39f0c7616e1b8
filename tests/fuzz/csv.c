// fuzz-sources: filters/ingest/csv.c filters/ingest/input.c filters/ingest/run.c
/*
 * csv.c - libFuzzer harness for sluice-ingest's CSV/TSV parser (csv_next).
 *
 * Each input is parsed with both delimiters, two ways: from memory, whole
 * (the input already at its end), and through a file read in pieces of a
 * few bytes into a buffer that starts tiny, so records are cut at every
 * point and parsed again after each refill and each growth.  Both must
 * give the same records (cells, kinds, lines, offsets) and end the same
 * way, with the same message.
 *
 * Then a round trip: the records written back as CSV, every text cell
 * quoted (quotes doubled) and missing cells empty, must parse to the same
 * cells.  Along the way: cells lie inside the input, a record marked
 * ASCII has only ASCII cells, missing cells are empty or an NA token.
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLACK 16 /* as input.c: zeroed bytes after the buffer */

static char na1[] = "NA", na2[] = "-";
static char *na[] = {na1, na2};

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "check failed: %s\n", what);
		abort();
	}
}

/* Parses all of in.  Appends to *desc a description of every record:
 * where it is, its cells and their kinds; to *cells the same without
 * positions (and missing cells without their text); to *csv, when given,
 * the records written back as CSV.  Returns the final status of
 * csv_next: 0 or -1 (the message in g->err). */
static int parse_all(struct input *in, char delim, struct ingest *g,
                     struct sl_buf *desc, struct sl_buf *cells,
                     struct sl_buf *csv)
{
	struct csv c;
	struct row r = {0};
	int rc;

	csv_init(&c, in, delim, g->o);
	if (input_skip_bom(in, g) < 0) {
		free(r.c);
		return -1;
	}
	while ((rc = csv_next(&c, &r, g)) == 1) {
		check(r.n >= 1, "a record has a cell");
		sl_buf_printf(desc, "line %llu off %llu blank %d:",
		              (unsigned long long)r.line, (unsigned long long)r.off,
		              r.blank);
		sl_buf_printf(cells, "%zu cells:", r.n);
		for (size_t i = 0; i < r.n; i++) {
			const struct cell *cl = &r.c[i];
			check(cl->p >= in->buf && cl->p + cl->n <= in->buf + in->end,
			      "a cell lies inside the input");
			check(cl->kind == CELL_MISSING || cl->kind == CELL_TEXT,
			      "a CSV cell is text or missing");
			if (cl->kind == CELL_MISSING)
				check(cl->n == 0 || (cl->n == 2 && !memcmp(cl->p, "NA", 2)) ||
				          (cl->n == 1 && cl->p[0] == '-'),
				      "a missing cell is empty or an NA token");
			if (r.ascii)
				for (size_t k = 0; k < cl->n; k++)
					check(!(cl->p[k] & 0x80), "an ASCII record has ASCII cells");
			sl_buf_printf(desc, " %d:%zu:", cl->kind, cl->n);
			sl_buf_put(desc, cl->p, cl->n);
			if (cl->kind == CELL_MISSING) {
				sl_buf_puts(cells, " -");
			} else {
				sl_buf_printf(cells, " %zu:", cl->n);
				sl_buf_put(cells, cl->p, cl->n);
			}
			if (!csv)
				continue;
			if (i)
				sl_buf_putc(csv, delim);
			if (cl->kind == CELL_TEXT) {
				sl_buf_putc(csv, '"');
				for (size_t k = 0; k < cl->n; k++) {
					if (cl->p[k] == '"')
						sl_buf_putc(csv, '"');
					sl_buf_putc(csv, cl->p[k]);
				}
				sl_buf_putc(csv, '"');
			}
		}
		sl_buf_putc(desc, '\n');
		sl_buf_putc(cells, '\n');
		if (csv)
			sl_buf_putc(csv, '\n');
	}
	free(r.c);
	return rc;
}

/* An input that is all in memory already. */
static void mem_input(struct input *in, const uint8_t *p, size_t n)
{
	memset(in, 0, sizeof *in);
	in->path = in->name = "fuzz";
	in->line = 1;
	in->cap = n;
	in->buf = sl_xcalloc(1, n + SLACK);
	if (n)
		memcpy(in->buf, p, n);
	in->end = n;
	in->eof = 1;
}

/* An input read from a file into a buffer of cap bytes to start with. */
static void file_input(struct input *in, FILE *f, size_t cap)
{
	memset(in, 0, sizeof *in);
	in->path = in->name = "fuzz";
	in->line = 1;
	in->cap = cap;
	in->buf = sl_xcalloc(1, cap + SLACK);
	in->gz = gzdopen(dup(fileno(f)), "rb");
	check(in->gz != NULL, "gzdopen");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', '\t'};
	struct opts o = {0};
	FILE *f = tmpfile();

	check(f != NULL, "tmpfile");
	if (size)
		check(fwrite(data, 1, size, f) == size, "fwrite");
	fflush(f);
	o.na = na;
	o.nna = 2;
	for (int d = 0; d < 2; d++) {
		struct ingest g1 = {0}, g2 = {0}, g3 = {0};
		struct input in;
		struct sl_buf desc1 = {0}, desc2 = {0}, desc3 = {0}, csv = {0};
		struct sl_buf c1 = {0}, c2 = {0}, c3 = {0};
		int rc1, rc2, rc3;

		g1.o = g2.o = g3.o = &o;
		mem_input(&in, data, size);
		rc1 = parse_all(&in, delims[d], &g1, &desc1, &c1, &csv);
		input_close(&in);

		rewind(f);
		file_input(&in, f, 1 + size % 13);
		rc2 = parse_all(&in, delims[d], &g2, &desc2, &c2, NULL);
		input_close(&in);
		check(rc1 == rc2, "in pieces: the same end");
		check(desc1.n == desc2.n && (!desc1.n || !memcmp(desc1.p, desc2.p, desc1.n)),
		      "in pieces: the same records");
		check(rc1 == 0 || (g1.err.n == g2.err.n &&
		                   !memcmp(g1.err.p, g2.err.p, g1.err.n)),
		      "in pieces: the same message");
		if (rc1 < 0)
			check(g1.err.n > 6 && !memcmp(g1.err.p, "fuzz: ", 6),
			      "a message names the input");

		if (rc1 == 0) { /* the round trip */
			mem_input(&in, (const uint8_t *)csv.p, csv.n);
			in.path = in.name = "again";
			rc3 = parse_all(&in, delims[d], &g3, &desc3, &c3, NULL);
			input_close(&in);
			check(rc3 == 0, "written back, it parses");
			check(c1.n == c3.n && (!c1.n || !memcmp(c1.p, c3.p, c1.n)),
			      "written back, it gives the same cells");
		}
		sl_buf_free(&desc1);
		sl_buf_free(&desc2);
		sl_buf_free(&desc3);
		sl_buf_free(&csv);
		sl_buf_free(&c1);
		sl_buf_free(&c2);
		sl_buf_free(&c3);
		sl_buf_free(&g1.err);
		sl_buf_free(&g2.err);
		sl_buf_free(&g3.err);
	}
	fclose(f);
	return 0;
}
