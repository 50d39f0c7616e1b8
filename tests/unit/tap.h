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
		const char *g_ = (got), *w_ = (want);                                  \
		if (!ok(g_ && w_ && strcmp(g_, w_) == 0, __VA_ARGS__))                 \
			printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)",        \
			       w_ ? w_ : "(null)");                                        \
	} while (0)

static int done_testing(void) __attribute__((unused));
static int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
