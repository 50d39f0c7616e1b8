/*
 * big.c - big growable buffers, for what a filter must hold whole.
 *
 * A fit-and-apply filter keeps its whole input to read it a second time,
 * and a column of every value of a field; dedup keeps a table of hashes.
 * Hundreds of megabytes that are written once, front to back.  With 4 KiB
 * pages each one is a page fault when first touched, and on a virtual
 * machine a fault costs microseconds: 400 MB took 2.2 s to touch, against
 * 0.05 s with 2 MiB transparent huge pages.  And a realloc that copies
 * touches the new block page by page before anyone can ask for huge
 * pages on it.
 *
 * So a big buffer is mapped on its own, 2 MiB aligned, with MADV_HUGEPAGE
 * asked before anything is written, and grows with mremap, which moves
 * the pages rather than their bytes.  Small buffers (up to 1 MiB) come
 * from malloc like any other; the switch happens once, by copying what
 * little there is.
 */
#define _GNU_SOURCE /* mremap */
#include "sluice.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE ((size_t)2 << 20)
#define SMALL_MAX ((size_t)1 << 20)

/* n bytes of fresh 2 MiB-aligned memory with huge pages asked. */
static char *big_map(size_t n)
{
	char *p = mmap(NULL, n + HUGE, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a, al;

	if (p == MAP_FAILED)
		sl_die(1, "out of memory (a buffer of %zu bytes)", n);
	a = (uintptr_t)p;
	al = (a + HUGE - 1) & ~(HUGE - 1);
	if (al > a)
		munmap(p, al - a);
	munmap((char *)al + n, HUGE - (al - a));
#ifdef MADV_HUGEPAGE
	madvise((void *)al, n, MADV_HUGEPAGE);
#endif
	return (char *)al;
}

void *sl_big_reserve(struct sl_big *b, size_t extra)
{
	size_t cap;

	if (b->cap - b->n >= extra && b->p)
		return b->p + b->n;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->n < extra) {
		SL_ASSERT(cap < SIZE_MAX / 4);
		cap *= 2;
	}
	if (cap <= SMALL_MAX) {
		b->p = sl_xrealloc(b->p, cap);
	} else if (b->cap <= SMALL_MAX) { /* from malloc to a mapping */
		char *p = big_map(cap);
		if (b->n)
			memcpy(p, b->p, b->n);
		free(b->p);
		b->p = p;
	} else {
		/* mremap keeps the mapping's huge-page advice.  It need not
		 * stay 2 MiB aligned when it moves, which only costs huge
		 * pages at the two ends. */
		char *p = mremap(b->p, b->cap, cap, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			sl_die(1, "out of memory (a buffer of %zu bytes)", cap);
		b->p = p;
	}
	b->cap = cap;
	return b->p + b->n;
}

void sl_big_put(struct sl_big *b, const void *p, size_t n)
{
	if (!n)
		return;
	memcpy(sl_big_reserve(b, n), p, n);
	b->n += n;
}

void sl_big_free(struct sl_big *b)
{
	if (b->cap > SMALL_MAX)
		munmap(b->p, b->cap);
	else
		free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}
