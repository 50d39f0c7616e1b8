/*
 * numbers.c - libFuzzer harness for the text helpers: number parsing and
 * printing, UTF-8 validation.
 *
 * The same input is used three ways:
 *
 *   - its first 8 bytes as a double: sl_fmt_float must print it so that
 *     both sl_parse_float and strtod read back the identical double, in
 *     the fewest significant digits that do (what %.17g would need at
 *     most, and often much less);
 *   - its bytes as text: whatever sl_parse_float accepts, strtod reads
 *     whole and to the same double; whatever plain decimal syntax strtod
 *     reads, sl_parse_float accepts; sl_parse_int accepts exactly the
 *     canonical spelling of an int64 (what sl_fmt_int prints);
 *   - its bytes as UTF-8: sl_utf8_valid agrees with a plain reference
 *     decoder written from RFC 3629's table, and the repair and JSON
 *     helpers always give valid UTF-8.
 */
#include "sluice.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond, const char *what, const char *text)
{
	if (!cond) {
		fprintf(stderr, "check failed: %s [%s]\n", what, text);
		abort();
	}
}

/* The fewest significant digits that read back as x (x finite, > 0). */
static int shortest_digits(double x)
{
	char e[40];

	for (int prec = 1; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, x);
		if (strtod(e, NULL) == x)
			return prec;
	}
	return 17;
}

/* Significant digits in a printed decimal: from the first nonzero digit
 * to the last nonzero one, ignoring '.', stopping at an exponent. */
static int printed_digits(const char *s)
{
	int n = 0, run = 0, seen = 0;

	for (; *s && *s != 'e'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (*s != '0')
			seen = 1;
		if (!seen)
			continue;
		run++;
		if (*s != '0')
			n = run;
	}
	return n;
}

static void check_format(double x)
{
	char buf[40], *end;
	double back;
	int len = sl_fmt_float(buf, x);

	check(len > 0 && len < 32 && (size_t)len == strlen(buf),
	      "sl_fmt_float returns the length, under 32", buf);
	if (isnan(x)) {
		check(strcmp(buf, "NaN") == 0, "NaN prints as NaN", buf);
		check(sl_parse_float(buf, (size_t)len, &back) == 0 && isnan(back),
		      "NaN reads back", buf);
		return;
	}
	check(strchr(buf, '.') || strchr(buf, 'e') || strstr(buf, "Infinity"),
	      "a float always shows it is one ('.' or exponent)", buf);
	check(sl_parse_float(buf, (size_t)len, &back) == 0,
	      "sl_parse_float reads what sl_fmt_float printed", buf);
	check(memcmp(&back, &x, sizeof x) == 0,
	      "sl_parse_float gives back the identical double", buf);
	if (isinf(x))
		return;
	errno = 0;
	back = strtod(buf, &end);
	check(*end == 0 && memcmp(&back, &x, sizeof x) == 0,
	      "strtod gives back the identical double", buf);
	if (x != 0)
		check(printed_digits(buf) == shortest_digits(fabs(x)),
		      "sl_fmt_float prints the fewest digits", buf);
}

/* A plain decimal, as sl_parse_float documents it:
 * [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)? */
static int is_decimal(const char *p, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		d++;
	if (i < n && p[i] == '.')
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			d++;
	if (!d)
		return 0;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t e0;
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		e0 = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == e0)
			return 0;
	}
	return i == n;
}

static void check_parse(const char *p, size_t n, const char *z)
{
	double d, ref;
	int64_t i;
	char *end, buf[32];
	int nul = memchr(p, 0, n) != NULL, fl;

	fl = sl_parse_float(p, n, &d);
	if (fl == 0) {
		check(!nul, "a float has no NUL byte in it", z);
		ref = strtod(z, &end);
		check(end == z + n, "strtod reads all of what sl_parse_float took", z);
		check(isnan(d) ? isnan(ref) : memcmp(&d, &ref, sizeof d) == 0,
		      "sl_parse_float agrees with strtod", z);
	}
	if (!nul && is_decimal(p, n))
		check(fl == 0, "sl_parse_float takes every plain decimal", z);
	if (sl_parse_int(p, n, &i) == 0) {
		int len = sl_fmt_int(buf, i);
		check((size_t)len == n && memcmp(buf, p, n) == 0,
		      "sl_parse_int takes only the canonical spelling", z);
	} else if (!nul && n && n < 21) {
		long long ll;
		errno = 0;
		ll = strtoll(z, &end, 10);
		if (end == z + n && errno == 0) {
			int len = sl_fmt_int(buf, ll);
			check((size_t)len != n || memcmp(buf, p, n) != 0,
			      "sl_parse_int takes every canonical int64", z);
		}
	}
}

/* Length of the valid UTF-8 prefix, straight from RFC 3629's table. */
static size_t ref_utf8(const unsigned char *p, size_t n, size_t *points)
{
	size_t i = 0;

	*points = 0;
	while (i < n) {
		unsigned c = p[i], lo = 0x80, hi = 0xbf;
		size_t len;
		if (c <= 0x7f)
			len = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else
			return i;
		if (len > n - i)
			return i;
		for (size_t k = 1; k < len; k++) {
			unsigned b = p[i + k];
			if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
				return i;
		}
		i += len;
		++*points;
	}
	return i;
}

static void check_utf8(const char *p, size_t n)
{
	struct sl_buf b = {0};
	size_t points, ok = ref_utf8((const unsigned char *)p, n, &points);
	size_t bad;

	check(sl_utf8_valid(p, n) == ok, "sl_utf8_valid agrees with RFC 3629", "");
	check(sl_utf8_len(p, ok) == points, "sl_utf8_len counts code points", "");
	bad = sl_utf8_repair(&b, p, n);
	check(sl_utf8_valid(b.p, b.n) == b.n, "repaired text is valid", "");
	check((bad == 0) == (ok == n), "repair replaces only when invalid", "");
	check(bad || (b.n == n && (!n || memcmp(b.p, p, n) == 0)),
	      "valid text is kept as it is", "");
	b.n = 0;
	sl_json_str(&b, p, n);
	check(sl_utf8_valid(b.p, b.n) == b.n, "a JSON string is valid UTF-8", "");
	check(b.n >= 2 && b.p[0] == '"' && b.p[b.n - 1] == '"',
	      "a JSON string is quoted", "");
	for (size_t k = 1; k + 1 < b.n; k++) {
		unsigned char c = (unsigned char)b.p[k];
		check(c >= 0x20, "no raw control characters in JSON", "");
		if (c == '\\') {
			c = (unsigned char)b.p[++k];
			check(k + 1 < b.n && strchr("\"\\nrtbfu", c), "JSON escapes", "");
			if (c == 'u')
				k += 4;
		} else
			check(c != '"', "quotes are escaped in JSON", "");
	}
	sl_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *z = malloc(size + 1);

	if (size >= 8) {
		double x;
		float f;
		memcpy(&x, data, 8);
		memcpy(&f, data, 4);
		check_format(x);
		check_format(f); /* float32 vector elements and fields */
	}
	memcpy(z, data, size);
	z[size] = 0;
	check_parse((const char *)data, size, z);
	check_utf8((const char *)data, size);
	free(z);
	return 0;
}
