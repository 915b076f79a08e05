/*
 * stress.h - the thread scaffolding of the stress tests.
 *
 * A crew has two kinds of thread: workers, which run a number of
 * iterations (stress_iters(), scaled by UZRAM_STRESS_SCALE) and end by
 * themselves, and background threads (compaction, codec flips, readers
 * that check what the workers wrote), which loop until the crew's stop
 * flag is raised. stress_join() waits for the workers, raises stop, waits
 * for the rest and returns the failures every thread added to the crew's
 * count, so a test reads
 *
 *	stress_crew_init(&crew);
 *	stress_background(&crew, compactor, &c);  (ctx points at crew.stop)
 *	stress_worker(&crew, writer, &w[i]);      (and at crew.bad)
 *	CHECK_EQ(stress_join(&crew), 0);
 */
#ifndef UZRAM_TESTS_STRESS_H
#define UZRAM_TESTS_STRESS_H

#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

#define STRESS_THREADS_MAX 16u

struct stress_crew {
	_Atomic int stop; /* raised once every worker has ended */
	_Atomic long bad; /* failures seen by any thread */
	pthread_t workers[STRESS_THREADS_MAX];
	pthread_t background[STRESS_THREADS_MAX];
	unsigned int nworkers, nbackground;
};

static inline void stress_crew_init(struct stress_crew *crew)
{
	atomic_init(&crew->stop, 0);
	atomic_init(&crew->bad, 0);
	crew->nworkers = 0;
	crew->nbackground = 0;
}

/* @base iterations times harness_scale(), and at least @min. */
static inline long stress_iters(long base, long min)
{
	long n = (long)((double)base * harness_scale());

	return n < min ? min : n;
}

/* Start @fn(@arg), a thread that ends by itself. */
static inline void stress_worker(struct stress_crew *crew, void *(*fn)(void *),
				 void *arg)
{
	REQUIRE(crew->nworkers < STRESS_THREADS_MAX);
	REQUIRE(pthread_create(&crew->workers[crew->nworkers], NULL, fn, arg) ==
		0);
	crew->nworkers++;
}

/* Start @fn(@arg), a thread that loops until crew->stop is raised. */
static inline void stress_background(struct stress_crew *crew,
				     void *(*fn)(void *), void *arg)
{
	REQUIRE(crew->nbackground < STRESS_THREADS_MAX);
	REQUIRE(pthread_create(&crew->background[crew->nbackground], NULL, fn,
			       arg) == 0);
	crew->nbackground++;
}

/*
 * Wait for every worker, then raise stop and wait for the background
 * threads. Returns the crew's failure count; the crew can be started
 * again after stress_crew_init().
 */
static inline long stress_join(struct stress_crew *crew)
{
	unsigned int i;

	for (i = 0; i < crew->nworkers; i++)
		REQUIRE(pthread_join(crew->workers[i], NULL) == 0);
	atomic_store(&crew->stop, 1);
	for (i = 0; i < crew->nbackground; i++)
		REQUIRE(pthread_join(crew->background[i], NULL) == 0);
	return atomic_load(&crew->bad);
}

#endif
