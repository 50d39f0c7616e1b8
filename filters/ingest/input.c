/*
 * input.c - reading an input in large blocks.
 *
 * Every text format is parsed straight out of one buffer: the parsers look
 * at buf[pos..end), and when a record runs past end they ask for more.
 * input_fill() then slides the unread bytes to the front and reads a block
 * after them; a record longer than the buffer doubles it.  So a record is
 * always whole in memory and never copied, and the buffer holds one block
 * plus the longest record seen.
 *
 * Reading goes through zlib, which decompresses gzip and passes other
 * bytes through unchanged, so data.csv.gz and data.csv read the same.  A
 * gzip stream that stops short is an error, not a short file.
 */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)
/* Bytes kept zeroed after the buffer, so a parser may load a word that
 * starts before `end` and runs past it. */
#define SLACK 16

int input_open(struct input *in, const char *path, struct ingest *g)
{
	struct stat st;
	int fd;

	memset(in, 0, sizeof *in);
	in->line = 1;
	if (!path || strcmp(path, "-") == 0) {
		in->path = "-";
		in->name = "(stdin)";
		fd = dup(0);
	} else {
		in->path = in->name = path;
		fd = open(path, O_RDONLY);
	}
	if (fd < 0)
		return ing_fail(g, "%s: %s", in->name, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return ing_fail(g, "%s: is a directory (--format dir reads a tree)",
		                in->name);
	}
	in->gz = gzdopen(fd, "rb");
	if (!in->gz) {
		close(fd);
		return ing_fail(g, "%s: cannot read: out of memory", in->name);
	}
	gzbuffer(in->gz, 1 << 17);
	in->cap = BLOCK;
	in->buf = sl_xcalloc(1, in->cap + SLACK);
	return 0;
}

long input_fill(struct input *in, struct ingest *g)
{
	size_t want;
	int n, errnum;
	const char *msg;

	if (in->eof)
		return 0;
	if (in->pos) {
		memmove(in->buf, in->buf + in->pos, in->end - in->pos);
		in->base += in->pos;
		in->end -= in->pos;
		in->pos = 0;
	}
	if (in->end == in->cap) {
		if (in->cap >= SL_MAX_OBJECT)
			return ing_fail(g, "%s: line %llu: a record longer than %zu bytes",
			                in->name, (unsigned long long)in->line,
			                (size_t)SL_MAX_OBJECT);
		in->buf = sl_xrealloc(in->buf, 2 * in->cap + SLACK);
		memset(in->buf + in->cap, 0, in->cap + SLACK);
		in->cap *= 2;
	}
	want = in->cap - in->end;
	if (want > INT_MAX / 2)
		want = INT_MAX / 2;
	n = gzread(in->gz, in->buf + in->end, (unsigned)want);
	msg = gzerror(in->gz, &errnum);
	if (n < 0 || (n == 0 && errnum != Z_OK)) {
		if (errnum == Z_ERRNO)
			return ing_fail(g, "%s: read error: %s", in->name, strerror(errno));
		if (errnum == Z_BUF_ERROR)
			return ing_fail(g, "%s: the gzip data is truncated", in->name);
		return ing_fail(g, "%s: bad gzip data: %s", in->name, msg);
	}
	if (n == 0) {
		in->eof = 1;
		return 0;
	}
	in->end += (size_t)n;
	return n;
}

int input_skip_bom(struct input *in, struct ingest *g)
{
	while (in->end - in->pos < 3 && !in->eof)
		if (input_fill(in, g) < 0)
			return -1;
	if (in->end - in->pos >= 3 && memcmp(in->buf + in->pos, "\xef\xbb\xbf", 3) == 0)
		in->pos += 3;
	return 0;
}

void input_close(struct input *in)
{
	if (in->gz)
		gzclose(in->gz);
	free(in->buf);
	memset(in, 0, sizeof *in);
}
