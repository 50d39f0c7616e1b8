/*
 * pool.c - a fixed set of worker threads that run one job together.
 *
 * Training splits each batch over workers: every worker runs the same
 * function on its own share (worker w of n), and the caller waits until
 * all have finished before the next phase.  The caller is worker 0, so a
 * pool of one thread is plain function calls and creates no thread.
 *
 * The shares are fixed by (w, n) alone, never by which thread is faster,
 * so any reduction the caller does afterwards over the workers' results
 * runs in the same order every time: results are bit-identical from run
 * to run for a given thread count.
 *
 * A job is announced by bumping a generation counter under a mutex and
 * broadcasting; each worker waits for a generation it has not seen.  A
 * worker spins briefly on the counter before sleeping, because on two
 * cores the next phase usually starts within microseconds and a futex
 * wake-up would cost more than the work of a small phase.
 */
#include "sluice.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct sl_pool {
	int n;
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	atomic_uint_fast64_t gen;
	atomic_int pending;
	int quit;
	void (*fn)(void *arg, int w, int n);
	void *arg;
};

struct start {
	struct sl_pool *p;
	int w;
};

/* Spin iterations before a worker sleeps (some tens of microseconds: a
 * training step dispatches three jobs, and waking a sleeping thread costs
 * more in a VM than spinning through the gap). */
#ifndef SPIN
#define SPIN 100000
#endif

static void *worker(void *v)
{
	struct start *s = v;
	struct sl_pool *p = s->p;
	int w = s->w;
	uint64_t seen = 0;

	free(s);
	for (;;) {
		for (int i = 0; i < SPIN && atomic_load(&p->gen) == seen; i++)
			;
		pthread_mutex_lock(&p->mu);
		while (atomic_load(&p->gen) == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		seen = atomic_load(&p->gen);
		pthread_mutex_unlock(&p->mu);
		p->fn(p->arg, w, p->n);
		if (atomic_fetch_sub(&p->pending, 1) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

struct sl_pool *sl_pool_new(int nthreads)
{
	struct sl_pool *p = sl_xcalloc(1, sizeof *p);
	pthread_attr_t attr;

	SL_ASSERT(nthreads >= 1);
	p->n = nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	p->th = sl_xcalloc((size_t)nthreads, sizeof *p->th);
	/* 8 MiB stacks, whatever the C library's default: lib/gemm.c's
	 * products keep their packed operands (about 300 KiB) on the stack */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)8 << 20);
	for (int w = 1; w < nthreads; w++) {
		struct start *s = sl_xmalloc(sizeof *s);
		s->p = p;
		s->w = w;
		if (pthread_create(&p->th[w], &attr, worker, s) != 0)
			sl_die(1, "cannot start a worker thread");
	}
	pthread_attr_destroy(&attr);
	return p;
}

int sl_pool_size(const struct sl_pool *p)
{
	return p->n;
}

void sl_pool_run(struct sl_pool *p, void (*fn)(void *arg, int w, int n),
                 void *arg)
{
	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	atomic_store(&p->pending, p->n - 1);
	atomic_fetch_add(&p->gen, 1);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	fn(arg, 0, p->n);
	for (int i = 0; i < SPIN && atomic_load(&p->pending) > 0; i++)
		;
	if (atomic_load(&p->pending) > 0) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load(&p->pending) > 0)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
}

void sl_pool_free(struct sl_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int w = 1; w < p->n; w++)
		pthread_join(p->th[w], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->th);
	free(p);
}

void sl_pool_share(int w, int n, size_t total, size_t *begin, size_t *end)
{
	/* The first total % n workers take one more. */
	size_t q = total / (size_t)n, r = total % (size_t)n, uw = (size_t)w;

	*begin = uw * q + (uw < r ? uw : r);
	*end = *begin + q + (uw < r);
}
