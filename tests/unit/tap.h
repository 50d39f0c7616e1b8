/*
 * tap.h - the Test Anything Protocol for the C unit tests.
 *
 * ok(cond, name...) prints "ok N - name" or "not ok N - name"; is_int and
 * is_str show both sides on failure.  done_testing() prints the plan and
 * returns the exit status, so a failing test makes the program exit 1.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return cond;
}

#define is_int(got, want, ...)                                                 \
	do {                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);               \
		if (!ok(g_ == w_, __VA_ARGS__))                                        \
			printf("#   got %lld, want %lld\n", g_, w_);                       \
	} while (0)

#define is_str(got, want, ...)                                                 \
	do {                                                                       \
		if (!ok(tap_streq((got), (want)), __VA_ARGS__))                        \
			tap_diag_str((got), (want));                                       \
	} while (0)

static int tap_streq(const char *g, const char *w)
    __attribute__((unused, noinline));
static int tap_streq(const char *g, const char *w)
{
	return g && w && strcmp(g, w) == 0;
}

static void tap_diag_str(const char *g, const char *w)
    __attribute__((unused, noinline));
static void tap_diag_str(const char *g, const char *w)
{
	printf("#   got \"%s\", want \"%s\"\n", g ? g : "(null)", w ? w : "(null)");
}

static int done_testing(void) __attribute__((unused));
static int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
