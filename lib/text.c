/*
 * text.c - text at the edges of the stream: UTF-8 validation, parsing
 * numbers out of text and printing them back.
 *
 * Two promises matter here.  Parsing is exact: a decimal is converted to
 * the nearest double (a fast exact path for the common short numbers, the
 * C library's strtod otherwise).  Printing is shortest round trip: the
 * fewest digits that read back as the same double, so text -> stream ->
 * text neither loses nor invents digits.  Both are hot in ingest and cat,
 * so neither goes through printf in the common case.
 */
#include "sluice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence starting at p (1..4), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0) /* overlong */
			return 0;
		if (c == 0xed && p[1] >= 0xa0) /* surrogates */
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xf4 && p[1] >= 0x90) /* beyond U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

size_t sl_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint64_t w;

	while (i < n) {
		while (i + 8 <= n) { /* eight ASCII bytes at a time */
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq(p + i, n - i);
		if (!k)
			return i;
		i += k;
	}
	return n;
}

size_t sl_utf8_repair(struct sl_buf *out, const char *s, size_t n)
{
	size_t i = 0, bad = 0, ok;

	while (i < n) {
		ok = sl_utf8_valid(s + i, n - i);
		sl_buf_put(out, s + i, ok);
		i += ok;
		if (i < n) {
			sl_buf_put(out, "\xef\xbf\xbd", 3);
			bad++;
			i++;
		}
	}
	return bad;
}

size_t sl_utf8_len(const char *s, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += ((unsigned char)s[i] & 0xc0) != 0x80;
	return len;
}

/* -------------------------------------------------------------- numbers */

static const double pow10tab[23] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

int sl_parse_int(const char *p, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	if (n && p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n || p[i] < '0' || p[i] > '9')
		return -1;
	if (p[i] == '0' && n - i > 1) /* no leading zeros: "007" is text */
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d = (unsigned char)p[i] - '0';
		if (d > 9 || v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg && v == 0 && n == 2) /* "-0" is a float's spelling */
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int word_eq(const char *p, size_t n, const char *w)
{
	size_t len = strlen(w);
	return n == len && memcmp(p, w, n) == 0;
}

int sl_parse_float(const char *p, size_t n, double *out)
{
	size_t i = 0, digits = 0, sig = 0;
	int neg = 0, exp10 = 0, e = 0, eneg = 0, seen_nonzero = 0;
	uint64_t m = 0;
	char tmp[512], *end;

	if (n && (p[0] == '-' || p[0] == '+')) {
		neg = p[0] == '-';
		i = 1;
	}
	if (i < n && (p[i] < '0' || p[i] > '9') && p[i] != '.') {
		const char *w = p + i;
		size_t wn = n - i;
		if (word_eq(w, wn, "NaN") || word_eq(w, wn, "nan")) {
			*out = neg ? -NAN : NAN;
			return 0;
		}
		if (word_eq(w, wn, "inf") || word_eq(w, wn, "Inf") ||
		    word_eq(w, wn, "Infinity") || word_eq(w, wn, "infinity")) {
			*out = neg ? -INFINITY : INFINITY;
			return 0;
		}
		return -1;
	}
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		if (p[i] != '0')
			seen_nonzero = 1;
		if (!seen_nonzero)
			continue;
		if (sig < 19)
			m = m * 10 + (uint64_t)(p[i] - '0');
		else
			exp10++;
		sig++;
	}
	if (i < n && p[i] == '.') {
		for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
			if (p[i] != '0')
				seen_nonzero = 1;
			if (!seen_nonzero) {
				exp10--;
				continue;
			}
			if (sig < 19) {
				m = m * 10 + (uint64_t)(p[i] - '0');
				exp10--;
			}
			sig++;
		}
	}
	if (!digits)
		return -1;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t e0;
		i++;
		if (i < n && (p[i] == '-' || p[i] == '+'))
			eneg = p[i++] == '-';
		e0 = i;
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
			if (e < 100000)
				e = e * 10 + (p[i] - '0');
		if (i == e0)
			return -1;
	}
	if (i != n)
		return -1;
	exp10 += eneg ? -e : e;
	if (sig <= 19 && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = (double)m;
		d = exp10 < 0 ? d / pow10tab[-exp10] : d * pow10tab[exp10];
		*out = neg ? -d : d;
		return 0;
	}
	if (n >= sizeof tmp) { /* very long digit strings: heap copy */
		char *big = sl_xstrndup(p, n);
		*out = strtod(big, &end);
		free(big);
		return 0;
	}
	memcpy(tmp, p, n);
	tmp[n] = 0;
	*out = strtod(tmp, &end);
	return 0;
}

int sl_parse_bool(const char *p, size_t n)
{
	static const char t[] = "true", f[] = "false";
	size_t i;

	if (n == 4) {
		for (i = 0; i < 4 && (p[i] | 0x20) == t[i]; i++)
			;
		return i == 4 ? 1 : -1;
	}
	if (n == 5) {
		for (i = 0; i < 5 && (p[i] | 0x20) == f[i]; i++)
			;
		return i == 5 ? 0 : -1;
	}
	return -1;
}

static int fmt_u64(char *out, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
	                            "25262728293031323334353637383940414243444546474849"
	                            "50515253545556575859606162636465666768697071727374"
	                            "75767778798081828384858687888990919293949596979899";
	char tmp[24];
	int n = 24, len;

	/* two digits per division, from the right */
	while (v >= 100) {
		unsigned k = (unsigned)(v % 100) * 2;
		v /= 100;
		tmp[--n] = pairs[k + 1];
		tmp[--n] = pairs[k];
	}
	if (v >= 10) {
		tmp[--n] = pairs[v * 2 + 1];
		tmp[--n] = pairs[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	len = 24 - n;
	memcpy(out, tmp + n, (size_t)len);
	out[len] = 0;
	return len;
}

int sl_fmt_int(char *out, int64_t x)
{
	if (x < 0) {
		out[0] = '-';
		return 1 + fmt_u64(out + 1, 0 - (uint64_t)x);
	}
	return fmt_u64(out, (uint64_t)x);
}

int sl_fmt_float(char *out, double x)
{
	double ax = fabs(x);
	int n = 0, start_prec = 1;

	if (isnan(x))
		return (int)(memcpy(out, "NaN", 4), 3);
	if (isinf(x)) {
		strcpy(out, x < 0 ? "-Infinity" : "Infinity");
		return x < 0 ? 9 : 8;
	}
	if (signbit(x))
		out[n++] = '-';
	if (ax == 0) {
		memcpy(out + n, "0.0", 4);
		return n + 3;
	}
	/* Fixed notation: find the fewest decimals k such that the integer
	 * m = round(|x| * 10^k) divided by 10^k gives back |x|.  With
	 * m < 2^53 and k <= 22 the division is exact-then-rounded, which is
	 * what strtod does with the printed digits. */
	if (ax >= 1e-4 && ax < 1e16) {
		for (int k = 0; k <= 17; k++) {
			double sd = ax * pow10tab[k], md, r;
			char dig[24];
			int nd;
			if (sd >= 9007199254740992.0) {
				/* 16 or 17 digits (sd is rounded, so which is not
				 * certain): printf below, from 16 */
				start_prec = 16;
				break;
			}
			/* The nearest integer to the exact product: sd is rounded,
			 * fma gives the exact remainder. */
			md = nearbyint(sd);
			r = fma(ax, pow10tab[k], -md);
			if (r > 0.5)
				md += 1;
			else if (r < -0.5)
				md -= 1;
			if (md / pow10tab[k] != ax)
				continue;
			nd = fmt_u64(dig, (uint64_t)md);
			if (nd <= k) { /* 0.000ddd */
				out[n++] = '0';
				out[n++] = '.';
				for (int z = 0; z < k - nd; z++)
					out[n++] = '0';
				memcpy(out + n, dig, (size_t)nd);
				n += nd;
			} else {
				memcpy(out + n, dig, (size_t)(nd - k));
				n += nd - k;
				out[n++] = '.';
				if (k) {
					memcpy(out + n, dig + nd - k, (size_t)k);
					n += k;
				} else {
					out[n++] = '0';
				}
			}
			out[n] = 0;
			return n;
		}
	}
	/* The slow way: the fewest significant digits that round-trip, then
	 * laid out as Python's repr does (fixed for 1e-4 <= |x| < 1e16). */
	{
		char e[40], dig[20];
		int nd = 0, ex, prec;
		const char *q;

		for (prec = start_prec; prec <= 17; prec++) {
			snprintf(e, sizeof e, "%.*e", prec - 1, ax);
			if (prec == 17 || strtod(e, NULL) == ax)
				break;
		}
		for (q = e; *q != 'e'; q++)
			if (*q != '.')
				dig[nd++] = *q;
		ex = atoi(q + 1);
		while (nd > 1 && dig[nd - 1] == '0')
			nd--;
		if (ex >= -4 && ex < 16) {
			if (ex < 0) {
				out[n++] = '0';
				out[n++] = '.';
				for (int z = 0; z < -ex - 1; z++)
					out[n++] = '0';
				memcpy(out + n, dig, (size_t)nd);
				n += nd;
			} else {
				for (int i = 0; i <= ex; i++)
					out[n++] = i < nd ? dig[i] : '0';
				out[n++] = '.';
				if (nd > ex + 1) {
					memcpy(out + n, dig + ex + 1, (size_t)(nd - ex - 1));
					n += nd - ex - 1;
				} else {
					out[n++] = '0';
				}
			}
			out[n] = 0;
			return n;
		}
		out[n++] = dig[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, dig + 1, (size_t)nd - 1);
			n += nd - 1;
		}
		n += snprintf(out + n, 12, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
		return n;
	}
}

int sl_fmt_fixed(char *out, double x, int digits)
{
	double ax = fabs(x), sd, md, r, fr, tol;
	char dig[24];
	int n = 0, nd;

	SL_ASSERT(digits >= 0 && digits <= 17);
	if (isnan(x) || isinf(x))
		return sl_fmt_float(out, x);
	sd = ax * pow10tab[digits];
	if (sd >= 4503599627370496.0) /* 2^52: let printf round */
		return snprintf(out, 40, "%.*f", digits, x);
	/* round half to even on the exact product, as printf does */
	/* md: the floor of the exact product (sd is rounded, maybe up) */
	md = floor(sd);
	fr = sd - md; /* exact: md is sd's integer part */
	/* sd is within half an ulp (<= sd 2^-53) of the exact product.  Away
	 * from a whole number and from a half by more than that, the rounded
	 * product rounds as the exact one: the usual case, without fma */
	tol = sd * 0x1p-50;
	if (fr > tol && fr < 1 - tol && fabs(fr - 0.5) > tol) {
		md += fr > 0.5;
	} else {
		if (fma(ax, pow10tab[digits], -md) < 0)
			md -= 1;
		/* the exact product minus md + 1/2, rounded once: its sign
		 * decides */
		r = fma(ax, pow10tab[digits], -(md + 0.5));
		if (r > 0 || (r == 0 && ((uint64_t)md & 1)))
			md += 1;
	}
	if (signbit(x)) /* as printf: -0.0001 with 3 digits is "-0.000" */
		out[n++] = '-';
	nd = fmt_u64(dig, (uint64_t)md);
	if (nd <= digits) {
		out[n++] = '0';
		if (digits) {
			out[n++] = '.';
			for (int z = 0; z < digits - nd; z++)
				out[n++] = '0';
			memcpy(out + n, dig, (size_t)nd);
			n += nd;
		}
	} else {
		memcpy(out + n, dig, (size_t)(nd - digits));
		n += nd - digits;
		if (digits) {
			out[n++] = '.';
			memcpy(out + n, dig + nd - digits, (size_t)digits);
			n += digits;
		}
	}
	out[n] = 0;
	return n;
}

/* --------------------------------------------------------------- JSON */

void sl_json_str(struct sl_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run;

	sl_buf_reserve(out, n + 2);
	out->p[out->n++] = '"';
	while (i < n) {
		run = i;
		while (run < n && p[run] >= 0x20 && p[run] != '"' && p[run] != '\\' &&
		       p[run] < 0x80)
			run++;
		sl_buf_put(out, s + i, run - i);
		i = run;
		if (i >= n)
			break;
		if (p[i] >= 0x80) {
			size_t k = utf8_seq(p + i, n - i);
			if (k) {
				sl_buf_put(out, s + i, k);
				i += k;
			} else {
				sl_buf_put(out, "\xef\xbf\xbd", 3);
				i++;
			}
			continue;
		}
		sl_buf_putc(out, '\\');
		switch (p[i]) {
		case '"': sl_buf_putc(out, '"'); break;
		case '\\': sl_buf_putc(out, '\\'); break;
		case '\n': sl_buf_putc(out, 'n'); break;
		case '\t': sl_buf_putc(out, 't'); break;
		case '\r': sl_buf_putc(out, 'r'); break;
		case '\b': sl_buf_putc(out, 'b'); break;
		case '\f': sl_buf_putc(out, 'f'); break;
		default:
			sl_buf_put(out, "u00", 3);
			sl_buf_putc(out, hex[p[i] >> 4]);
			sl_buf_putc(out, hex[p[i] & 15]);
		}
		i++;
	}
	sl_buf_putc(out, '"');
}

void sl_base64(struct sl_buf *out, const void *data, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t i;
	char *o;

	sl_buf_reserve(out, (n + 2) / 3 * 4);
	o = out->p + out->n;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	out->n = (size_t)(o - out->p);
}
