/*
 * sweep.c - sluice-sweep: hyperparameter search over sluice-train.
 *
 * A sweep is a list of trials.  Each trial is one run of sluice-train with
 * the base arguments given after "--", the sweep's --val (and --metric),
 * --threads, and one "--NAME VALUE" per swept parameter.  Two ways to make
 * the list:
 *
 *   grid     --grid NAME=V1,V2,... (repeated): every combination, the last
 *            --grid varying fastest
 *   random   --random N: N trials, each drawing every --param NAME=SPEC
 *            (log:A:B, uniform:A:B, int:A:B, logint:A:B, choice:V1,V2,...)
 *            and every --grid list (as a choice) from a generator seeded
 *            by (--seed, trial number): trial k is the same whatever N is
 *
 * A list of values is split on ';' when it holds one, else on ',' (so
 * "hidden=256,128;128" is two values of --hidden).
 *
 * Each trial's model goes to standard output of the child (the model bytes
 * equal those of the same sluice-train command run by hand, which records
 * no -o in its lineage either), its messages to a log
 * file; both live in --dir, or in a temporary directory removed at the
 * end.  The trial's validation metric is read back from the model's
 * header ("metrics": "val_<metric>", the metric named in "train").  Trials
 * run --jobs at a time, each with --threads / --jobs worker threads (at
 * least one); records are written in trial order as soon as every earlier
 * trial is done, so the output is the same whatever the order in which
 * trials finish.  The best trial is the one with the highest metric
 * (accuracy, f1, auc, r2) or the lowest (loss, mse, rmse, mae); a tie goes
 * to the earlier trial.  Its model is copied to --best.
 *
 * A trial that fails (sluice-train exits non-zero or is killed, or its
 * model has no validation metric) is reported on stderr and in its record
 * (status "failed", the reason in "error"); the other trials go on.
 *
 * Memory: the trial list (a few strings per trial); the models are files.
 */
#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL
#define MAX_TRIALS 1000000

enum pkind { P_LIST, P_UNIFORM, P_LOG, P_INT, P_LOGINT };

/* One swept parameter: sluice-train's long option NAME and its values. */
struct param {
	char *name;
	enum pkind kind;
	char **vals; /* P_LIST */
	int nvals;
	double lo, hi;     /* the ranges */
	enum sl_kind type; /* of its record field: SL_INT, SL_FLOAT or SL_STR */
};

enum tstate { T_WAITING, T_RUNNING, T_DONE };

struct trial {
	char **vals; /* one value text per parameter */
	enum tstate state;
	pid_t pid;
	double t0, secs;
	int ok;
	char *err;         /* why it failed */
	char *metric_name; /* from the model */
	double metric, val_loss, train_loss, epochs;
	int maximize;
};

struct opts {
	struct sl_cli cli;
	const char *best, *dir, *val, *metric;
	long long random, seed, jobs, threads;
	int dry_run, progress;
};

struct sweep {
	struct opts *o;
	struct param *p;
	int np;
	struct trial *t;
	int64_t nt;
	char **base; /* sluice-train's arguments from the command line */
	int nbase;
	char train[PATH_MAX];
	char *dir; /* where models and logs go */
	int tmpdir;
	int width; /* digits of the trial numbers in file names */
	int threads; /* per trial */
	int64_t emitted, best, failed;
	struct sl_writer *w;
	struct sl_header *h;
};

static volatile sig_atomic_t stop_signal;

static void usage(int status);

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ------------------------------------------------------------ the specs */

static int valid_name(const char *s, size_t n)
{
	if (!n || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* The options a sweep sets itself (or that trials running side by side
 * would share), which may be neither swept nor given to train. */
static const char *const reserved[] = {
    "val",      "metric",   "threads", "output",     "checkpoint", "checkpoint-every",
    "resume",   "log",      "log-every", "progress", "help",       "version",
};

static int is_reserved(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
		if (strlen(reserved[i]) == n && memcmp(reserved[i], name, n) == 0)
			return 1;
	return 0;
}

/* Splits a list on ';' when it holds one, else on ','. */
static int split_list(const char *opt, const char *spec, const char *s, char ***out)
{
	char sep = strchr(s, ';') ? ';' : ',';
	const char *p = s, *e;
	int n = 0;

	*out = NULL;
	for (;;) {
		e = strchr(p, sep);
		if (!e)
			e = p + strlen(p);
		if (e == p)
			sl_die(2, "--%s %s: an empty value", opt, spec);
		*out = sl_xrealloc(*out, (size_t)(n + 1) * sizeof **out);
		(*out)[n++] = sl_xstrndup(p, (size_t)(e - p));
		if (!*e)
			break;
		p = e + 1;
	}
	return n;
}

static double range_num(const char *opt, const char *spec, const char *s, size_t n)
{
	double x;

	if (sl_parse_float(s, n, &x) < 0 || !isfinite(x))
		sl_die(2, "--%s %s: '%.*s' is not a finite number", opt, spec, (int)n, s);
	return x;
}

/* The field type that holds every value of a list. */
static enum sl_kind list_type(char **v, int n)
{
	int ints = 1, nums = 1;
	int64_t i;
	double f;

	for (int k = 0; k < n; k++) {
		size_t len = strlen(v[k]);
		ints &= sl_parse_int(v[k], len, &i) == 0;
		nums &= sl_parse_float(v[k], len, &f) == 0 && isfinite(f);
	}
	return ints ? SL_INT : nums ? SL_FLOAT : SL_STR;
}

/* --grid NAME=LIST or --param NAME=KIND:... */
static void add_param(struct sweep *S, const char *opt, const char *spec)
{
	static const char *const kinds[] = {"uniform", "log", "int", "logint"};
	const char *eq = strchr(spec, '=');
	struct param *p;

	if (!eq || !valid_name(spec, (size_t)(eq - spec)))
		sl_die(2, "--%s: NAME=VALUES with NAME a sluice-train option (letters, "
		       "digits, '-'), not '%s'", opt, spec);
	if (is_reserved(spec, (size_t)(eq - spec)))
		sl_die(2, "--%s %s: --%.*s is set by sluice-sweep itself", opt, spec,
		       (int)(eq - spec), spec);
	for (int i = 0; i < S->np; i++)
		if (strlen(S->p[i].name) == (size_t)(eq - spec) &&
		    memcmp(S->p[i].name, spec, (size_t)(eq - spec)) == 0)
			sl_die(2, "--%s %s: '%s' is swept twice", opt, spec, S->p[i].name);
	S->p = sl_xrealloc(S->p, (size_t)(S->np + 1) * sizeof *S->p);
	p = &S->p[S->np++];
	memset(p, 0, sizeof *p);
	p->name = sl_xstrndup(spec, (size_t)(eq - spec));
	if (strcmp(opt, "grid") == 0) {
		p->kind = P_LIST;
		p->nvals = split_list(opt, spec, eq + 1, &p->vals);
		p->type = list_type(p->vals, p->nvals);
		return;
	}
	if (strncmp(eq + 1, "choice:", 7) == 0) {
		p->kind = P_LIST;
		p->nvals = split_list(opt, spec, eq + 8, &p->vals);
		p->type = list_type(p->vals, p->nvals);
		return;
	}
	for (int k = 0; k < 4; k++) {
		size_t kl = strlen(kinds[k]);
		const char *a = eq + 1 + kl + 1, *colon;
		if (strncmp(eq + 1, kinds[k], kl) != 0 || eq[1 + kl] != ':')
			continue;
		colon = strchr(a, ':');
		if (!colon || strchr(colon + 1, ':'))
			sl_die(2, "--%s %s: %s:LOW:HIGH", opt, spec, kinds[k]);
		p->kind = (enum pkind)(P_UNIFORM + k);
		p->lo = range_num(opt, spec, a, (size_t)(colon - a));
		p->hi = range_num(opt, spec, colon + 1, strlen(colon + 1));
		if (!(p->lo <= p->hi))
			sl_die(2, "--%s %s: LOW is above HIGH", opt, spec);
		if ((p->kind == P_LOG || p->kind == P_LOGINT) && !(p->lo > 0))
			sl_die(2, "--%s %s: a log range needs LOW > 0", opt, spec);
		if (p->kind == P_INT || p->kind == P_LOGINT) {
			if (p->lo != floor(p->lo) || p->hi != floor(p->hi) ||
			    fabs(p->lo) > 1e15 || fabs(p->hi) > 1e15)
				sl_die(2, "--%s %s: an integer range needs whole numbers", opt, spec);
			p->type = SL_INT;
		} else {
			p->type = SL_FLOAT;
		}
		return;
	}
	sl_die(2, "--%s %s: log:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH, "
	       "logint:LOW:HIGH or choice:V1,V2,...", opt, spec);
}

/* A real number drawn for a trial, rounded to 4 significant digits: what
 * the trial is given and what its record says are the same text. */
static char *fmt_real(double x)
{
	char buf[64];

	snprintf(buf, sizeof buf, "%.4g", x);
	return sl_xstrdup(buf);
}

static char *fmt_int(long long x)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", x);
	return sl_xstrdup(buf);
}

/* Every trial's values: the grid's combinations, or random draws. */
static void make_trials(struct sweep *S)
{
	const struct opts *o = S->o;

	if (!o->random) {
		double n = 1;
		for (int i = 0; i < S->np; i++)
			n *= S->p[i].nvals;
		if (n > MAX_TRIALS)
			sl_die(2, "--grid: %.0f combinations (at most %d)", n, MAX_TRIALS);
		S->nt = (int64_t)n;
	} else {
		S->nt = o->random;
	}
	S->t = sl_xcalloc((size_t)S->nt, sizeof *S->t);
	for (int64_t k = 0; k < S->nt; k++) {
		struct trial *t = &S->t[k];
		struct sl_rng r;
		int64_t rest = k;

		t->vals = sl_xcalloc((size_t)S->np, sizeof *t->vals);
		sl_rng_seed(&r, sl_mix64((uint64_t)o->seed + GOLDEN * (uint64_t)(k + 1)));
		for (int i = S->np - 1; !o->random && i >= 0; i--) {
			t->vals[i] = sl_xstrdup(S->p[i].vals[rest % S->p[i].nvals]);
			rest /= S->p[i].nvals;
		}
		for (int i = 0; o->random && i < S->np; i++) {
			const struct param *p = &S->p[i];
			double u, x;
			switch (p->kind) {
			case P_LIST:
				t->vals[i] = sl_xstrdup(p->vals[sl_rng_below(&r, (uint64_t)p->nvals)]);
				break;
			case P_UNIFORM:
				u = sl_rng_uniform(&r);
				t->vals[i] = fmt_real(p->lo + (p->hi - p->lo) * u);
				break;
			case P_LOG:
				u = sl_rng_uniform(&r);
				t->vals[i] = fmt_real(exp(log(p->lo) + (log(p->hi) - log(p->lo)) * u));
				break;
			case P_INT:
				t->vals[i] = fmt_int((long long)p->lo +
				                     (long long)sl_rng_below(&r, (uint64_t)(p->hi - p->lo) + 1));
				break;
			case P_LOGINT:
				u = sl_rng_uniform(&r);
				x = floor(exp(log(p->lo) + (log(p->hi + 1) - log(p->lo)) * u));
				t->vals[i] = fmt_int((long long)(x > p->hi ? p->hi : x < p->lo ? p->lo : x));
				break;
			}
		}
	}
}

/* ---------------------------------------------------------- the trials */

/* sluice-train: $SLUICE_BIN, beside this program, then PATH. */
static int find_train(char *out, size_t cap)
{
	char self[PATH_MAX], *slash, *path, *p, *tok;
	const char *env = getenv("SLUICE_BIN");
	ssize_t n;
	int found = 0;

#define TRY(dir)                                                                 \
	((size_t)snprintf(out, cap, "%s/sluice-train", (dir)) < cap &&           \
	 access(out, X_OK) == 0)
	if (env && *env && TRY(env))
		return 1;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = 0;
		if ((slash = strrchr(self, '/'))) {
			*slash = 0;
			if (TRY(self))
				return 1;
		}
	}
	path = sl_xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");
	for (p = path; !found && (tok = strsep(&p, ":"));)
		found = TRY(*tok ? tok : ".");
	free(path);
	return found;
#undef TRY
}

/* The trial's file: DIR/trial-007.sl (or .log). */
static char *trial_path(const struct sweep *S, int64_t k, const char *ext)
{
	struct sl_buf b = {0};

	sl_buf_printf(&b, "%s/trial-%0*lld%s", S->dir, S->width, (long long)(k + 1), ext);
	return (char *)sl_buf_cstr(&b);
}

/* sluice-train's argv for trial k: the base arguments, then the swept
 * values and the sweep's own options (before a "--" among the base
 * arguments, so they stay options). */
static char **trial_argv(const struct sweep *S, int64_t k, char *thr)
{
	char **v = sl_xcalloc((size_t)(S->nbase + 2 * S->np + 8), sizeof *v);
	int n = 0, i, dd = S->nbase;

	for (i = 0; i < S->nbase; i++)
		if (strcmp(S->base[i], "--") == 0) {
			dd = i;
			break;
		}
	v[n++] = "sluice-train";
	for (i = 0; i < dd; i++)
		v[n++] = S->base[i];
	for (i = 0; i < S->np; i++) {
		struct sl_buf b = {0};
		sl_buf_printf(&b, "--%s", S->p[i].name);
		v[n++] = (char *)sl_buf_cstr(&b);
		v[n++] = S->t[k].vals[i];
	}
	v[n++] = "--val";
	v[n++] = (char *)S->o->val;
	if (S->o->metric) {
		v[n++] = "--metric";
		v[n++] = (char *)S->o->metric;
	}
	v[n++] = "--threads";
	v[n++] = thr;
	for (i = dd; i < S->nbase; i++)
		v[n++] = S->base[i];
	return v;
}

static void free_argv(const struct sweep *S, char **v)
{
	int dd = S->nbase;

	for (int i = 0; i < S->nbase; i++)
		if (strcmp(S->base[i], "--") == 0) {
			dd = i;
			break;
		}
	for (int i = 0; i < S->np; i++)
		free(v[1 + dd + 2 * i]);
	free(v);
}

/* "lr=0.001 hidden=128" */
static void describe(const struct sweep *S, int64_t k, struct sl_buf *b)
{
	for (int i = 0; i < S->np; i++)
		sl_buf_printf(b, "%s%s=%s", i ? " " : "", S->p[i].name, S->t[k].vals[i]);
}

/* Forks sluice-train for trial k: stdin /dev/null, stdout the model's
 * temporary file, stderr the log. */
static int start(struct sweep *S, int64_t k)
{
	struct trial *t = &S->t[k];
	char thr[32], **argv;
	char *model = trial_path(S, k, ".sl.part"), *log = trial_path(S, k, ".log");
	pid_t pid;

	snprintf(thr, sizeof thr, "%d", S->threads);
	argv = trial_argv(S, k, thr);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		sl_warn("cannot start trial %lld: %s", (long long)(k + 1), strerror(errno));
		free_argv(S, argv);
		free(model);
		free(log);
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(model, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(err, 2) < 0) {
			dprintf(err >= 0 ? err : 2, "sluice-sweep: trial %lld: %s\n",
			        (long long)(k + 1), strerror(errno));
			_exit(127);
		}
		close(in), close(out), close(err);
		execv(S->train, argv);
		dprintf(2, "sluice-sweep: cannot run %s: %s\n", S->train, strerror(errno));
		_exit(127);
	}
	free_argv(S, argv);
	free(model);
	free(log);
	t->pid = pid;
	t->state = T_RUNNING;
	t->t0 = sl_now();
	return 0;
}

/* The last non-empty line of the trial's log, for the failure message. */
static char *last_line(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024], last[1024] = "";
	size_t n;

	if (!f)
		return sl_xstrdup("");
	while (fgets(line, sizeof line, f)) {
		n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = 0;
		if (n)
			memcpy(last, line, n + 1);
	}
	fclose(f);
	{
		struct sl_buf b = {0};
		sl_utf8_repair(&b, last, strlen(last));
		return (char *)sl_buf_cstr(&b);
	}
}

static int num(const struct sl_val *v, double *x)
{
	if (v && v->tag == SL_V_FLOAT)
		*x = v->u.f;
	else if (v && v->tag == SL_V_INT)
		*x = (double)v->u.i;
	else
		return -1;
	return 0;
}

/* Reads the metrics of a finished trial's model from its header.  Messages
 * call the model by its file name alone, so that a failure's record is the
 * same wherever the models go. */
static int read_metrics(struct trial *t, const char *path, struct sl_buf *why)
{
	static const char *const up[] = {"accuracy", "f1", "auc", "r2"};
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int fd = open(path, O_RDONLY);
	struct sl_reader *r;
	const struct sl_val *metrics, *train, *name;
	char key[96];
	int rc = -1;

	if (fd < 0) {
		sl_buf_printf(why, "%s: %s", base, strerror(errno));
		return -1;
	}
	r = sl_reader_fdopen(fd, base);
	path = base;
	if (sl_read(r) != SL_HEADER) {
		sl_buf_printf(why, "%s", sl_reader_error(r) ? sl_reader_error(r)
		                                             : "the model is empty");
		goto out;
	}
	metrics = sl_val_get(&sl_reader_header(r)->meta, "metrics");
	train = sl_val_get(&sl_reader_header(r)->meta, "train");
	name = train && train->tag == SL_V_MAP ? sl_val_get(train, "metric") : NULL;
	if (!metrics || metrics->tag != SL_V_MAP || !name || name->tag != SL_V_STR ||
	    name->n > 64) {
		sl_buf_printf(why, "%s: not a model with a validation metric", path);
		goto out;
	}
	snprintf(key, sizeof key, "val_%s", name->u.s);
	if (num(sl_val_get(metrics, key), &t->metric) < 0 ||
	    num(sl_val_get(metrics, "val_loss"), &t->val_loss) < 0) {
		sl_buf_printf(why, "%s: no \"%s\" in the model's metrics", path, key);
		goto out;
	}
	if (num(sl_val_get(metrics, "train_loss"), &t->train_loss) < 0)
		t->train_loss = NAN;
	if (num(sl_val_get(metrics, "epochs"), &t->epochs) < 0)
		t->epochs = NAN;
	t->metric_name = sl_xstrdup(name->u.s);
	t->maximize = 0;
	for (size_t i = 0; i < sizeof up / sizeof *up; i++)
		t->maximize |= strcmp(name->u.s, up[i]) == 0;
	rc = 0;
out:
	sl_reader_close(r);
	close(fd);
	return rc;
}

/* A child has exited: its model is kept, or the trial has failed. */
static void finish(struct sweep *S, int64_t k, int status)
{
	struct trial *t = &S->t[k];
	char *part = trial_path(S, k, ".sl.part"), *model = trial_path(S, k, ".sl");
	char *log = trial_path(S, k, ".log");
	struct sl_buf why = {0};

	t->state = T_DONE;
	t->secs = sl_now() - t->t0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (rename(part, model) < 0)
			sl_buf_printf(&why, "%s: %s", model, strerror(errno));
		else if (read_metrics(t, model, &why) == 0)
			t->ok = 1;
	} else {
		char *line = last_line(log);
		if (WIFEXITED(status))
			sl_buf_printf(&why, "exit %d", WEXITSTATUS(status));
		else
			sl_buf_printf(&why, "killed by signal %d", WTERMSIG(status));
		if (*line)
			sl_buf_printf(&why, ": %s", line);
		free(line);
	}
	unlink(part);
	if (!t->ok) {
		t->err = (char *)sl_buf_cstr(&why);
		unlink(model);
		S->failed++;
	} else {
		sl_buf_free(&why);
	}
	free(part);
	free(model);
	free(log);
}

/* --------------------------------------------------------- the records */

static struct sl_header *out_header(struct sweep *S, int argc, char **argv)
{
	struct sl_header *h = sl_header_new();
	struct sl_type ti = {SL_INT, 0, 0}, tf = {SL_FLOAT, 0, 0}, ts = {SL_STR, 0, 0};
	static const char *const tail[] = {"status",     "metric", "val_metric", "val_loss",
	                                   "train_loss", "epochs", "model",      "error"};

	sl_header_add(h, "trial", ti);
	for (int i = 0; i < S->np; i++) {
		struct sl_type t = {S->p[i].type, 0, 0};
		if (sl_header_add(h, S->p[i].name, t) < 0)
			sl_die(2, "a parameter may not be called '%s'", S->p[i].name);
	}
	for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
		if (sl_header_add(h, tail[i], i >= 2 && i <= 5 ? tf : ts) < 0)
			sl_die(2, "a parameter may not be called '%s'", tail[i]);
	sl_val_set(&h->meta, "search", sl_val_str(S->o->random ? "random" : "grid"));
	if (S->o->random)
		sl_val_set(&h->meta, "seed", sl_val_int(S->o->seed));
	sl_val_set(&h->meta, "trials", sl_val_int(S->nt));
	sl_val_set(&h->meta, "threads_per_trial", sl_val_int(S->threads));
	sl_header_lineage(h, argc, argv);
	return h;
}

static int better(const struct trial *a, const struct trial *b)
{
	if (isnan(a->metric))
		return 0;
	if (isnan(b->metric))
		return 1;
	return a->maximize ? a->metric > b->metric : a->metric < b->metric;
}

/* Writes the records of every finished trial that has no unfinished one
 * before it, and keeps track of the best. */
static int emit(struct sweep *S)
{
	while (S->emitted < S->nt && S->t[S->emitted].state == T_DONE) {
		int64_t k = S->emitted++;
		struct trial *t = &S->t[k];
		size_t nv = 1 + (size_t)S->np + 8;
		struct sl_value *v = sl_xcalloc(nv, sizeof *v), *x;
		char *model = trial_path(S, k, ".sl");
		int rc;

		v[0].kind = SL_INT;
		v[0].u.i = k + 1;
		for (int i = 0; i < S->np; i++) {
			const char *s = t->vals[i];
			x = &v[1 + i];
			x->kind = S->p[i].type;
			if (x->kind == SL_INT)
				sl_parse_int(s, strlen(s), &x->u.i);
			else if (x->kind == SL_FLOAT)
				sl_parse_float(s, strlen(s), &x->u.f);
			else
				x->u.s.p = s, x->u.s.n = strlen(s);
		}
		x = v + 1 + S->np;
		x[0].kind = SL_STR;
		x[0].u.s.p = t->ok ? "ok" : "failed";
		x[0].u.s.n = strlen(x[0].u.s.p);
		if (t->ok) {
			x[1].kind = SL_STR;
			x[1].u.s.p = t->metric_name;
			x[1].u.s.n = strlen(t->metric_name);
			x[2].kind = x[3].kind = x[4].kind = x[5].kind = SL_FLOAT;
			x[2].u.f = t->metric;
			x[3].u.f = t->val_loss;
			x[4].u.f = t->train_loss;
			x[5].u.f = t->epochs;
			if (!S->tmpdir) {
				x[6].kind = SL_STR;
				x[6].u.s.p = model;
				x[6].u.s.n = strlen(model);
			}
		} else {
			x[7].kind = SL_STR;
			x[7].u.s.p = t->err;
			x[7].u.s.n = strlen(t->err);
		}
		rc = S->w ? sl_write_record(S->w, v, nv) : 0;
		free(v);
		if (t->ok && (S->best < 0 || better(t, &S->t[S->best]))) {
			if (S->best >= 0 && S->tmpdir) {
				char *old = trial_path(S, S->best, ".sl");
				unlink(old);
				free(old);
			}
			S->best = k;
		} else if (t->ok && S->tmpdir) {
			unlink(model);
		}
		free(model);
		if (rc < 0)
			return -1;
	}
	return S->w ? sl_writer_flush(S->w) : 0;
}

/* Copies the best trial's model to path: a temporary file, then rename. */
static int copy_best(const struct sweep *S, const char *path)
{
	char *src = trial_path(S, S->best, ".sl");
	struct sl_buf tmp = {0};
	char buf[1 << 16];
	int in = open(src, O_RDONLY), out = -1, rc = -1;
	ssize_t n;

	sl_buf_printf(&tmp, "%s.XXXXXX", path);
	if (in < 0) {
		sl_warn("%s: %s", src, strerror(errno));
		goto out;
	}
	out = mkstemp((char *)sl_buf_cstr(&tmp));
	if (out < 0) {
		sl_warn("%s: %s", path, strerror(errno));
		goto out;
	}
	fchmod(out, 0644);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (n < 0 || fsync(out) < 0 || close(out) < 0) {
		sl_warn("%s: %s", path, strerror(errno ? errno : EIO));
		out = -1;
		unlink(sl_buf_cstr(&tmp));
		goto out;
	}
	out = -1;
	if (rename(sl_buf_cstr(&tmp), path) < 0) {
		sl_warn("%s: %s", path, strerror(errno));
		unlink(sl_buf_cstr(&tmp));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	sl_buf_free(&tmp);
	free(src);
	return rc;
}

/* Removes the temporary directory and what the sweep put in it. */
static void cleanup(struct sweep *S)
{
	static const char *const ext[] = {".sl", ".sl.part", ".log"};

	if (!S->tmpdir)
		return;
	for (int64_t k = 0; k < S->nt; k++)
		for (int e = 0; e < 3; e++) {
			char *p = trial_path(S, k, ext[e]);
			unlink(p);
			free(p);
		}
	rmdir(S->dir);
}

/* Stops every running trial after a signal. */
static void kill_all(struct sweep *S)
{
	for (int64_t k = 0; k < S->nt; k++)
		if (S->t[k].state == T_RUNNING)
			kill(S->t[k].pid, SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

/* A finished trial on stderr: always when it failed, with show otherwise. */
static void report(const struct sweep *S, int64_t k, int show)
{
	const struct trial *t = &S->t[k];
	struct sl_buf d = {0};

	describe(S, k, &d);
	if (!t->ok)
		sl_warn("trial %lld (%s) failed: %s", (long long)(k + 1), sl_buf_cstr(&d),
		        t->err);
	else if (show)
		sl_warn("trial %lld/%lld (%s): val %s %.4f (%.1f s)", (long long)(k + 1),
		        (long long)S->nt, sl_buf_cstr(&d), t->metric_name, t->metric, t->secs);
	sl_buf_free(&d);
}

static void sweep_free(struct sweep *S)
{
	for (int64_t k = 0; k < S->nt; k++) {
		for (int i = 0; i < S->np; i++)
			free(S->t[k].vals[i]);
		free(S->t[k].vals);
		free(S->t[k].err);
		free(S->t[k].metric_name);
	}
	free(S->t);
	for (int i = 0; i < S->np; i++) {
		for (int j = 0; j < S->p[i].nvals; j++)
			free(S->p[i].vals[j]);
		free(S->p[i].vals);
		free(S->p[i].name);
	}
	free(S->p);
	free(S->dir);
	sl_header_free(S->h);
}

/* -------------------------------------------------------------- main */

/* Refuses base arguments that the sweep sets or that would collide. */
static void check_base(const struct sweep *S)
{
	for (int i = 0; i < S->nbase; i++) {
		const char *a = S->base[i];
		size_t n;
		if (strcmp(a, "--") == 0)
			break;
		if (a[0] == '-' && a[1] && a[1] != '-' && strchr(a + 1, 'o'))
			sl_die(2, "sluice-train's arguments: the sweep writes each "
			       "trial's model itself (no -o; --best keeps the best)");
		if (strcmp(a, "-") == 0)
			sl_die(2, "sluice-train's arguments: trials read files, not "
			       "standard input");
		if (strncmp(a, "--", 2) != 0)
			continue;
		a += 2;
		n = strcspn(a, "=");
		if (is_reserved(a, n) || (n >= 3 && strncmp("output", a, n) == 0))
			sl_die(2, "sluice-train's arguments: --%.*s is set by sluice-sweep "
			       "(give --val, --metric, --threads to the sweep)", (int)n, a);
		for (int k = 0; k < S->np; k++)
			if (strlen(S->p[k].name) == n && memcmp(S->p[k].name, a, n) == 0)
				sl_die(2, "sluice-train's arguments: --%s is also swept",
				       S->p[k].name);
	}
}

int main(int argc, char **argv)
{
	enum {
		O_BEST = SL_OPT_FIRST_FREE, O_DIR, O_GRID, O_RANDOM, O_PARAM, O_SEED,
		O_VAL, O_METRIC, O_JOBS, O_THREADS, O_PROGRESS,
	};
	static const struct option longopts[] = {
	    SL_CLI_LONGOPTS,
	    {"best", required_argument, 0, O_BEST},
	    {"dir", required_argument, 0, O_DIR},
	    {"grid", required_argument, 0, O_GRID},
	    {"random", required_argument, 0, O_RANDOM},
	    {"param", required_argument, 0, O_PARAM},
	    {"seed", required_argument, 0, O_SEED},
	    {"val", required_argument, 0, O_VAL},
	    {"metric", required_argument, 0, O_METRIC},
	    {"jobs", required_argument, 0, 'j'},
	    {"threads", required_argument, 0, O_THREADS},
	    {"dry-run", no_argument, 0, 'n'},
	    {"progress", no_argument, 0, O_PROGRESS},
	    {0, 0, 0, 0},
	};
	struct opts o = {.jobs = 1};
	struct sweep S;
	struct sigaction sa = {0};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c, rc = 0, show, nparam = 0, running = 0;
	int64_t next = 0, done = 0;

	sl_init(argv[0]);
	memset(&S, 0, sizeof S);
	S.o = &o;
	S.best = -1;
	o.threads = ncpu > 0 ? ncpu : 1;
	while ((c = getopt_long(argc, argv, "+o:fzj:n", longopts, NULL)) != -1) {
		if (sl_cli_common(&o.cli, c, optarg, usage))
			continue;
		switch (c) {
		case O_BEST: o.best = optarg; break;
		case O_DIR: o.dir = optarg; break;
		case O_GRID: add_param(&S, "grid", optarg); break;
		case O_PARAM:
			add_param(&S, "param", optarg);
			nparam++;
			break;
		case O_RANDOM:
			if ((o.random = sl_parse_count(optarg)) < 1 || o.random > MAX_TRIALS)
				sl_die(2, "--random: a number of trials from 1 to %d, not '%s'",
				       MAX_TRIALS, optarg);
			break;
		case O_SEED:
			if ((o.seed = sl_parse_count(optarg)) < 0)
				sl_die(2, "--seed: a whole number >= 0, not '%s'", optarg);
			break;
		case O_VAL: o.val = optarg; break;
		case O_METRIC: o.metric = optarg; break;
		case 'j':
			if ((o.jobs = sl_parse_count(optarg)) < 1 || o.jobs > 256)
				sl_die(2, "--jobs: a number from 1 to 256, not '%s'", optarg);
			break;
		case O_THREADS:
			if ((o.threads = sl_parse_count(optarg)) < 1 || o.threads > 256)
				sl_die(2, "--threads: a number from 1 to 256, not '%s'", optarg);
			break;
		case 'n': o.dry_run = 1; break;
		case O_PROGRESS: o.progress = 1; break;
		default: usage(2); exit(2);
		}
	}
	if (optind > 0 && strcmp(argv[optind - 1], "--") != 0)
		sl_die(2, "sluice-train's arguments go after '--' (see --help)");
	S.base = argv + optind;
	S.nbase = argc - optind;
	if (!S.np)
		sl_die(2, "nothing to sweep: give --grid NAME=V1,V2,... or --random N "
		       "--param NAME=SPEC");
	if (nparam && !o.random)
		sl_die(2, "--param draws values for --random N trials; a grid takes --grid");
	if (!o.val)
		sl_die(2, "--val FILE is required: trials are compared on it");
	if (!S.nbase)
		sl_die(2, "no arguments for sluice-train after '--'");
	check_base(&S);
	make_trials(&S);
	S.threads = (int)(o.threads / o.jobs > 0 ? o.threads / o.jobs : 1);
	S.width = 1;
	for (int64_t n = S.nt; n >= 10; n /= 10)
		S.width++;

	S.h = out_header(&S, argc, argv);
	if (!find_train(S.train, sizeof S.train))
		sl_die(2, "no sluice-train ($SLUICE_BIN, beside this program, or on PATH)");
	if (o.dry_run) {
		char thr[32];
		snprintf(thr, sizeof thr, "%d", S.threads);
		for (int64_t k = 0; k < S.nt; k++) {
			char **v = trial_argv(&S, k, thr);
			printf("%lld", (long long)(k + 1));
			for (char **a = v; *a; a++)
				printf(" %s", *a);
			printf(" > DIR/trial-%0*lld.sl\n", S.width, (long long)(k + 1));
			free_argv(&S, v);
		}
		sweep_free(&S);
		return fflush(stdout) || ferror(stdout) ? 1 : 0;
	}

	/* where the trials' models and logs go */
	if (o.dir) {
		if (mkdir(o.dir, 0777) < 0 && errno != EEXIST)
			sl_die(1, "--dir %s: %s", o.dir, strerror(errno));
		S.dir = sl_xstrdup(o.dir);
	} else {
		struct sl_buf b = {0};
		const char *tmp = getenv("TMPDIR");
		sl_buf_printf(&b, "%s/sluice-sweep.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		S.dir = (char *)sl_buf_cstr(&b);
		if (!mkdtemp(S.dir))
			sl_die(1, "%s: %s", S.dir, strerror(errno));
		S.tmpdir = 1;
	}
	S.w = sl_writer_open(o.cli.output, &o.cli.w);
	if (sl_writer_error(S.w)) {
		sl_warn("%s", sl_writer_error(S.w));
		sl_writer_abort(S.w);
		cleanup(&S);
		sweep_free(&S);
		return 1;
	}
	sl_write_header(S.w, S.h);

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	show = o.progress || isatty(2);
	if (show)
		sl_warn("%lld trials (%s), %lld at a time, %d thread%s each", (long long)S.nt,
		        o.random ? "random" : "grid", (long long)(o.jobs < S.nt ? o.jobs : S.nt),
		        S.threads, S.threads > 1 ? "s" : "");

	while (done < S.nt && !stop_signal) {
		int status;
		pid_t pid;

		while (running < o.jobs && next < S.nt) {
			if (start(&S, next) == 0) {
				running++;
			} else {
				finish(&S, next, 127 << 8);
				report(&S, next, show);
				done++;
			}
			next++;
		}
		if (running) {
			pid = wait(&status);
			if (pid < 0 && errno == EINTR)
				continue;
			if (pid < 0)
				sl_die(1, "wait: %s", strerror(errno));
			for (int64_t k = 0; k < next; k++)
				if (S.t[k].state == T_RUNNING && S.t[k].pid == pid) {
					running--;
					done++;
					finish(&S, k, status);
					report(&S, k, show);
					break;
				}
		}
		if (emit(&S) < 0)
			break;
	}
	if (stop_signal) {
		kill_all(&S);
		sl_writer_abort(S.w);
		cleanup(&S);
		sweep_free(&S);
		sl_warn("stopped by signal %d", (int)stop_signal);
		signal((int)stop_signal, SIG_DFL);
		raise((int)stop_signal);
		return 1;
	}
	if (sl_writer_error(S.w)) {
		kill_all(&S);
		sl_warn("%s", sl_writer_error(S.w));
		sl_writer_abort(S.w);
		cleanup(&S);
		sweep_free(&S);
		return 1;
	}
	{
		char *err = NULL;
		if (sl_writer_close(S.w, &err) < 0) {
			sl_warn("%s", err);
			free(err);
			rc = 1;
		}
	}
	if (S.best >= 0 && o.best && copy_best(&S, o.best) < 0)
		rc = 1;
	if (S.best >= 0) {
		struct sl_buf d = {0};
		describe(&S, S.best, &d);
		sl_warn("%lld trials, %lld failed; best: trial %lld (%s), val %s %.4f",
		        (long long)S.nt, (long long)S.failed, (long long)(S.best + 1),
		        sl_buf_cstr(&d), S.t[S.best].metric_name, S.t[S.best].metric);
		sl_buf_free(&d);
	} else {
		sl_warn("%lld trials, every one failed", (long long)S.nt);
		rc = 1;
	}
	cleanup(&S);
	sweep_free(&S);
	return rc;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: sluice-sweep [-fn] [-o FILE] [--zstd[=LEVEL]] [--best MODEL]\n"
	        "           [--dir DIR] --val FILE [--metric NAME]\n"
	        "           (--grid NAME=V,... ... |\n"
	        "            --random N [--seed N] --param NAME=SPEC ... [--grid NAME=V,...]...)\n"
	        "           [-j N | --jobs N] [--threads N] [--progress]\n"
	        "           -- TRAIN-ARGS...\n"
	        "  SPEC: log:LOW:HIGH uniform:LOW:HIGH int:LOW:HIGH logint:LOW:HIGH "
	        "choice:V,...\n");
}
