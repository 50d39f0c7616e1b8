/*
 * sluice.c - the front command: `sluice STAGE ARGS...` runs
 * `sluice-STAGE ARGS...`, looked up first beside this program (so a build
 * tree works without installing) and then on PATH.  `sluice` alone lists
 * the stages that can be found, one line each.
 *
 * It holds no records: it only picks a program and replaces itself with it.
 */
#include "sluice.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name, *what;
} stages[] = {
	{"ingest", "CSV/TSV, JSON, text, fortune files, directories, IDX -> stream"},
	{"cat", "stream -> JSON Lines, CSV, TSV or a table; head, tail, sample, schema"},
	{"profile", "per-field quality report: missing, distinct, min/max, quantiles"},
	{"dedup", "exact and near-duplicate removal"},
	{"impute", "fill missing values"},
	{"outliers", "find, clip or drop outliers"},
	{"normalize", "scale and encode fields, fit on train, apply elsewhere"},
	{"label", "label records by rules, annotations or by hand"},
	{"split", "train/validation/test splits"},
	{"tokenize", "byte-level BPE and character tokenizers"},
	{"train", "train a model"},
	{"evaluate", "metrics of a model on labelled data"},
	{"predict", "add a model's predictions to records"},
	{"sweep", "hyperparameter search over train"},
	{"generate", "generate text from a language model"},
	{"serve", "serve a model over HTTP"},
};

static void usage(int status);

/* The directory this program was run from, or NULL. */
static char *self_dir(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	return sl_xstrdup(path);
}

static int executable(const char *dir, const char *stage, char *out, size_t cap)
{
	struct stat st;

	if ((size_t)snprintf(out, cap, "%s/sluice-%s", dir, stage) >= cap)
		return 0;
	return stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0;
}

/* Finds sluice-STAGE beside us or on PATH; writes its path to out. */
static int find_stage(const char *stage, char *out, size_t cap)
{
	char *dir = self_dir(), *path, *p, *tok;
	int found = 0;

	if (dir && executable(dir, stage, out, cap))
		found = 1;
	free(dir);
	if (found)
		return 1;
	path = sl_xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");
	for (p = path; !found && (tok = strsep(&p, ":"));)
		found = executable(*tok ? tok : ".", stage, out, cap);
	free(path);
	return found;
}

static void list_stages(FILE *f)
{
	char path[PATH_MAX];

	fprintf(f, "stages:\n");
	for (size_t i = 0; i < sizeof stages / sizeof *stages; i++)
		if (find_stage(stages[i].name, path, sizeof path))
			fprintf(f, "  %-10s %s\n", stages[i].name, stages[i].what);
	fprintf(f, "'sluice STAGE --help' or 'man sluice-STAGE' tells more.\n");
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];

	sl_init(argv[0]);
	if (argc < 2) {
		usage(0);
		list_stages(stdout);
		return fflush(stdout) || ferror(stdout) ? 1 : 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(0);
		list_stages(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sluice %s\n", SL_VERSION);
		return 0;
	}
	if (argv[1][0] == '-' || strchr(argv[1], '/')) {
		sl_warn("unknown option or stage '%s'", argv[1]);
		usage(2);
		exit(2);
	}
	if (!find_stage(argv[1], path, sizeof path)) {
		sl_warn("no stage '%s' (no sluice-%s beside this program or on PATH)",
		        argv[1], argv[1]);
		list_stages(stderr);
		return 2;
	}
	argv[1] = path;
	execv(path, argv + 1);
	sl_die(1, "cannot run %s: %s", path, strerror(errno));
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice STAGE [ARGS...]\n"
	        "       sluice [--help | --version]\n");
}
