/*
 * util.c - the small things every program needs: its name for messages,
 * allocation that never returns NULL, a growable byte buffer, the shared
 * command-line options, and progress lines on a terminal.
 *
 * Out of memory is not an error a filter can recover from, so the
 * allocators print a message and exit 1 instead of returning NULL.
 */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include "sluice.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *sl_progname = "sluice";

void sl_init(const char *argv0)
{
	const char *s;

	/* A reader closing the pipe ends us quietly, even when the parent
	 * (a Python subprocess, say) started us with SIGPIPE ignored. */
	signal(SIGPIPE, SIG_DFL);
	if (argv0 && *argv0) {
		s = strrchr(argv0, '/');
		sl_progname = s ? s + 1 : argv0;
	}
}

static _Noreturn void oom(size_t n)
{
	fprintf(stderr, "%s: out of memory (asked for %zu bytes)\n", sl_progname, n);
	exit(1);
}

void *sl_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *sl_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *sl_xalloc64(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, n ? n : 1) != 0)
		oom(n);
	return p;
}

void *sl_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *sl_xstrdup(const char *s)
{
	return sl_xstrndup(s, strlen(s));
}

char *sl_xstrndup(const char *s, size_t n)
{
	char *p = sl_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static void vwarn(const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "%s: %s\n", sl_progname, msg);
}

void sl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void sl_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

void sl_assert_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s: %s:%d: internal error: assertion '%s' failed\n",
	        sl_progname, file, line, what);
	abort();
}

/* ---------------------------------------------------------------- buf */

void sl_buf_reserve(struct sl_buf *b, size_t extra)
{
	size_t cap;

	if (b->cap - b->n > extra)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap - b->n <= extra) {
		SL_ASSERT(cap < SIZE_MAX / 2);
		cap *= 2;
	}
	b->p = sl_xrealloc(b->p, cap);
	b->cap = cap;
}

void sl_buf_put(struct sl_buf *b, const void *p, size_t n)
{
	sl_buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

void sl_buf_puts(struct sl_buf *b, const char *s)
{
	sl_buf_put(b, s, strlen(s));
}

void sl_buf_putc(struct sl_buf *b, int c)
{
	sl_buf_reserve(b, 1);
	b->p[b->n++] = (char)c;
}

void sl_buf_printf(struct sl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	SL_ASSERT(len >= 0);
	sl_buf_reserve(b, (size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)len;
}

const char *sl_buf_cstr(struct sl_buf *b)
{
	sl_buf_reserve(b, 1);
	b->p[b->n] = 0;
	return b->p;
}

void sl_buf_free(struct sl_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* ---------------------------------------------------------------- I/O */

void sl_pipe_grow(int fd)
{
	/* A 64 KiB pipe makes the two ends of `ingest | cat` take turns
	 * thousands of times a second; 1 MiB lets both run.  Best effort:
	 * the call fails harmlessly on anything that is not a pipe, or above
	 * /proc/sys/fs/pipe-max-size. */
#ifdef F_SETPIPE_SZ
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
	(void)fd;
#endif
}

/* ---------------------------------------------------------------- cli */

int sl_cli_common(struct sl_cli *cli, int c, const char *arg,
                  void (*usage)(int status))
{
	char *end;
	long level;

	switch (c) {
	case SL_OPT_HELP:
		usage(0);
		exit(0);
	case SL_OPT_VERSION:
		printf("%s %s\n", sl_progname, SL_VERSION);
		exit(0);
	case 'o':
		cli->output = arg;
		return 1;
	case 'f':
		cli->w.force = 1;
		return 1;
	case 'z':
	case SL_OPT_ZSTD:
		cli->w.zstd = 3;
		if (arg) {
			errno = 0;
			level = strtol(arg, &end, 10);
			if (errno || *end || end == arg || level < 1 || level > 19) {
				sl_warn("--zstd: level must be 1 to 19, not '%s'", arg);
				usage(2);
				exit(2);
			}
			cli->w.zstd = (int)level;
		}
		return 1;
	}
	return 0;
}

long long sl_parse_count(const char *s)
{
	char *end;
	unsigned long long v, mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 0:
		break;
	case 'k': case 'K': mul = 1000ULL; end++; break;
	case 'M': mul = 1000000ULL; end++; break;
	case 'G': mul = 1000000000ULL; end++; break;
	default:
		return -1;
	}
	if (*end || v > (unsigned long long)INT64_MAX / mul)
		return -1;
	return (long long)(v * mul);
}

/* ----------------------------------------------------------- progress */

double sl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sl_progress_start(struct sl_progress *p, const char *unit, uint64_t total,
                       int force)
{
	memset(p, 0, sizeof *p);
	p->on = force || isatty(2);
	p->unit = unit;
	p->total = total;
	p->start = p->last = p->checked = sl_now();
	p->every = 1;
}

static void progress_line(struct sl_progress *p, uint64_t done, double now,
                          int final)
{
	double el = now - p->start, rate = el > 0 ? (double)done / el : 0;

	fprintf(stderr, "\r%s: %llu %s", sl_progname, (unsigned long long)done,
	        p->unit);
	if (p->total)
		fprintf(stderr, " of %llu (%.0f%%)", (unsigned long long)p->total,
		        100.0 * (double)done / (double)p->total);
	fprintf(stderr, ", %.0f/s", rate);
	if (p->total && rate > 0 && !final && done < p->total)
		fprintf(stderr, ", ETA %.0fs",
		        (double)(p->total - done) / rate);
	fprintf(stderr, final ? ", %.1fs\n" : "   ", el);
}

void sl_progress_update(struct sl_progress *p, uint64_t done)
{
	double now;

	/* Reading the clock costs more than a fast filter spends on a record,
	 * so look at it only every `every` calls, doubling that while calls
	 * come faster than a hundred a second. */
	if (!p->on || ++p->calls < p->every)
		return;
	p->calls = 0;
	now = sl_now();
	if (now - p->checked < 0.01 && p->every < (1u << 20))
		p->every *= 2;
	p->checked = now;
	if (now - p->last < 0.25)
		return;
	p->last = now;
	progress_line(p, done, now, 0);
}

void sl_progress_end(struct sl_progress *p, uint64_t done)
{
	if (p->on && sl_now() - p->start > 0.5)
		progress_line(p, done, sl_now(), 1);
}
