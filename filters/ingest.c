/*
 * ingest.c - sluice-ingest: data in the formats people have (CSV, TSV,
 * JSON Lines, a JSON array, plain text by line, paragraph, fortune entry
 * or file, a directory tree, IDX image files) into a record stream.
 *
 * CSV, TSV and JSON get their field types from a sample of the first
 * records (see ingest/table.c); text and IDX have fixed fields with their
 * provenance (ingest/text.c, ingest/idx.c).  This file holds the options,
 * picks the format (from --format, or the inputs' names) and runs it.
 *
 * Memory per record: none kept.  Ingest holds the inference sample (the
 * first --infer-rows records of CSV, TSV or JSON), one input block (1 MiB,
 * more for a record that does not fit) and one record.
 */
#include "ingest/ingest.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const struct {
	const char *name;
	enum format f;
} formats[] = {
	{"csv", FMT_CSV},     {"tsv", FMT_TSV},       {"jsonl", FMT_JSONL},
	{"json", FMT_JSON},   {"lines", FMT_LINES},   {"paragraphs", FMT_PARAGRAPHS},
	{"file", FMT_FILE},   {"fortune", FMT_FORTUNE}, {"dir", FMT_DIR},
	{"idx", FMT_IDX},
};

enum {
	OPT_FORMAT = SL_OPT_FIRST_FREE,
	OPT_NO_HEADER,
	OPT_PAD,
	OPT_INFER_ROWS,
	OPT_NA,
	OPT_TYPES,
	OPT_LABELS,
	OPT_REPLACE_INVALID,
	OPT_NO_PROVENANCE,
};

_Noreturn static void usage(int status);

static const char *format_name(enum format f)
{
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
		if (formats[i].f == f)
			return formats[i].name;
	return "?";
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* The format a path's name (or being a directory) suggests, or FMT_AUTO. */
static enum format guess(const char *path)
{
	static const struct {
		const char *ext;
		enum format f;
	} exts[] = {
		{".csv", FMT_CSV},     {".tsv", FMT_TSV},   {".tab", FMT_TSV},
		{".jsonl", FMT_JSONL}, {".ndjson", FMT_JSONL}, {".json", FMT_JSON},
		{".txt", FMT_LINES},   {".idx", FMT_IDX},
	};
	struct stat st;
	const char *base = strrchr(path, '/');
	size_t n;

	if (strcmp(path, "-") == 0)
		return FMT_AUTO;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return FMT_DIR;
	base = base ? base + 1 : path;
	n = strlen(base);
	if (ends_with(base, n, ".gz"))
		n -= 3;
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
		if (ends_with(base, n, exts[i].ext))
			return exts[i].f;
	/* MNIST's names: train-images-idx3-ubyte */
	for (const char *p = base; (p = strstr(p, "-idx")); p++)
		if (p[4] >= '1' && p[4] <= '9' && strncmp(p + 5, "-ubyte", 6) == 0)
			return FMT_IDX;
	return FMT_AUTO;
}

/* Splits s at commas into a growing list of copies (empty items dropped). */
static void split_list(const char *s, char ***list, size_t *n)
{
	char *copy = sl_xstrdup(s), *p = copy, *tok;

	while ((tok = strsep(&p, ","))) {
		if (!*tok)
			continue;
		*list = sl_xrealloc(*list, (*n + 1) * sizeof **list);
		(*list)[(*n)++] = sl_xstrdup(tok);
	}
	free(copy);
}

/* --types FIELD:TYPE[,FIELD:TYPE...] */
static void add_types(struct opts *o, const char *arg)
{
	char **items = NULL, *colon;
	size_t n = 0;

	split_list(arg, &items, &n);
	if (!n) {
		sl_warn("--types: expected FIELD:TYPE[,FIELD:TYPE...]");
		usage(2);
	}
	for (size_t i = 0; i < n; i++) {
		struct typespec ts = {0};
		colon = strrchr(items[i], ':');
		if (!colon || colon == items[i]) {
			sl_warn("--types: '%s' is not FIELD:TYPE", items[i]);
			usage(2);
		}
		*colon = 0;
		if (sl_type_parse(colon + 1, &ts.type) < 0) {
			sl_warn("--types: unknown type '%s' (int, float, bool, str, bin, "
			        "or a vector such as f32[3] or u8[])", colon + 1);
			usage(2);
		}
		ts.name = items[i];
		o->types = sl_xrealloc(o->types, (o->ntypes + 1) * sizeof *o->types);
		o->types[o->ntypes++] = ts;
	}
	free(items);
}

/* The format of the inputs: --format, else what their names agree on,
 * else csv. */
static enum format pick_format(enum format given, char **paths, int n)
{
	enum format f = FMT_AUTO, g;
	const char *by = NULL;

	if (given)
		return given;
	for (int i = 0; i < n; i++) {
		g = guess(paths[i]);
		if (!g)
			continue;
		if (f && g != f) {
			sl_warn("%s looks like %s but %s like %s; say which with --format",
			        by, format_name(f), paths[i], format_name(g));
			usage(2);
		}
		f = g;
		by = paths[i];
	}
	return f ? f : FMT_CSV;
}

static void opts_free(struct opts *o)
{
	for (size_t i = 0; i < o->nna; i++)
		free(o->na[i]);
	free(o->na);
	for (size_t i = 0; i < o->ntypes; i++)
		free(o->types[i].name);
	free(o->types);
}

/* Options that only some formats take. */
static void check_applies(const struct opts *o, int csv_seen, int infer_seen)
{
	int tabular = o->format == FMT_CSV || o->format == FMT_TSV;
	int json = o->format == FMT_JSON || o->format == FMT_JSONL;

	if (csv_seen && !tabular) {
		sl_warn("--no-header, --pad and --na apply to csv and tsv, not %s",
		        format_name(o->format));
		usage(2);
	}
	if (infer_seen && !tabular && !json) {
		sl_warn("--types and --infer-rows apply to csv, tsv and json, not %s",
		        format_name(o->format));
		usage(2);
	}
	if (o->no_provenance && (tabular || json || o->format == FMT_IDX)) {
		sl_warn("--no-provenance applies to the text formats (lines, "
		        "paragraphs, fortune, file, dir), not %s",
		        format_name(o->format));
		usage(2);
	}
	if (o->labels && o->format != FMT_IDX) {
		sl_warn("--labels applies to --format idx");
		usage(2);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_CLI_LONGOPTS,
		{"format", required_argument, 0, OPT_FORMAT},
		{"no-header", no_argument, 0, OPT_NO_HEADER},
		{"pad", no_argument, 0, OPT_PAD},
		{"infer-rows", required_argument, 0, OPT_INFER_ROWS},
		{"na", required_argument, 0, OPT_NA},
		{"types", required_argument, 0, OPT_TYPES},
		{"labels", required_argument, 0, OPT_LABELS},
		{"replace-invalid", no_argument, 0, OPT_REPLACE_INVALID},
		{"no-provenance", no_argument, 0, OPT_NO_PROVENANCE},
		{0, 0, 0, 0},
	};
	struct sl_cli cli = {0};
	struct opts o = {.infer_rows = 10000};
	struct ingest g = {.o = &o, .status = 1};
	char **args, *err = NULL;
	int c, csv_seen = 0, infer_seen = 0, rc;
	long long count;
	size_t i;

	sl_init(argv[0]);
	/* getopt reorders argv; the lineage records the arguments as given. */
	args = sl_xmalloc(((size_t)argc + 1) * sizeof *args);
	memcpy(args, argv, ((size_t)argc + 1) * sizeof *args);
	g.argc = argc;
	g.argv = args;
	while ((c = getopt_long(argc, argv, "o:fz", longopts, NULL)) != -1) {
		if (sl_cli_common(&cli, c, optarg, usage))
			continue;
		switch (c) {
		case OPT_FORMAT:
			for (i = 0; i < sizeof formats / sizeof *formats; i++)
				if (strcmp(optarg, formats[i].name) == 0)
					o.format = formats[i].f;
			if (!o.format) {
				sl_warn("--format: unknown format '%s'", optarg);
				usage(2);
			}
			break;
		case OPT_NO_HEADER:
			o.no_header = csv_seen = 1;
			break;
		case OPT_PAD:
			o.pad = csv_seen = 1;
			break;
		case OPT_INFER_ROWS:
			count = sl_parse_count(optarg);
			if (count < 1) {
				sl_warn("--infer-rows: expected a count of at least 1, not '%s'",
				        optarg);
				usage(2);
			}
			o.infer_rows = (uint64_t)count;
			infer_seen = 1;
			break;
		case OPT_NA:
			split_list(optarg, &o.na, &o.nna);
			csv_seen = 1;
			break;
		case OPT_TYPES:
			add_types(&o, optarg);
			infer_seen = 1;
			break;
		case OPT_LABELS:
			o.labels = optarg;
			break;
		case OPT_REPLACE_INVALID:
			o.replace_invalid = 1;
			break;
		case OPT_NO_PROVENANCE:
			o.no_provenance = 1;
			break;
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	o.format = pick_format(o.format, argv, argc);
	check_applies(&o, csv_seen, infer_seen);
	if (o.format == FMT_DIR && argc == 0) {
		sl_warn("--format dir needs a directory");
		usage(2);
	}

	g.w = sl_writer_open(cli.output, &cli.w);
	if (sl_writer_error(g.w)) {
		sl_warn("%s", sl_writer_error(g.w));
		sl_writer_abort(g.w);
		opts_free(&o);
		free(args);
		return 1;
	}
	sl_progress_start(&g.progress, "records", 0, 0);
	switch (o.format) {
	case FMT_CSV:
	case FMT_TSV:
	case FMT_JSON:
	case FMT_JSONL:
		rc = ingest_table(&g, argv, argc);
		break;
	case FMT_IDX:
		rc = ingest_idx(&g, argv, argc);
		break;
	default:
		rc = ingest_text(&g, argv, argc);
	}
	if (rc < 0) {
		sl_writer_abort(g.w);
		sl_warn("%s", sl_buf_cstr(&g.err));
		if (g.status == 2)
			usage(2);
	} else {
		sl_progress_end(&g.progress, sl_writer_records(g.w));
		if (g.replaced)
			sl_warn("replaced %llu invalid UTF-8 sequence%s with U+FFFD",
			        (unsigned long long)g.replaced, g.replaced == 1 ? "" : "s");
		if (sl_writer_close(g.w, &err) < 0) {
			sl_warn("%s", err);
			rc = -1;
		}
	}
	free(err);
	sl_buf_free(&g.err);
	opts_free(&o);
	free(args);
	return rc < 0 ? g.status : 0;
}

_Noreturn static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-ingest [-f] [-o file] [--zstd[=level]] [--format format]\n"
	        "           [--no-header] [--pad] [--na token[,token...]]\n"
	        "           [--infer-rows n] [--types field:type[,field:type...]]\n"
	        "           [--labels file] [--replace-invalid] [--no-provenance]\n"
	        "           [file ...]\n");
	if (status == 0)
		printf("formats: csv tsv jsonl json lines paragraphs file fortune dir idx\n");
	exit(status);
}
