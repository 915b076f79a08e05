/*
 * compactor.c - `compact` runs in a background thread of the store, at the
 * lowest CPU priority, and gives the CPU back to I/O while it works.
 *
 * Why: on zram, writing `compact` is one system call and the compaction
 * runs in the writer's context. Here the same write costs the FUSE round
 * trips of open, write and close, and compaction used to run in the FUSE
 * worker at the workers' priority: a script writing `compact` in a loop
 * took CPU from the readers in proportion to how fast it could loop (the
 * 4 KiB random-read p99 rose 1.3-12 x on the shared 2-core machine,
 * docs/allocator.md). Now:
 *   - zram_compact() and zram_compact_async() ask for a compaction and wait
 *     (or are called back) until one that STARTED after the request has
 *     finished, so the caller sees what zram's synchronous write gives: the
 *     pool compacted, pages_compacted counted. Requests that arrive while
 *     one runs share the next run.
 *   - the thread runs under SCHED_IDLE (nice 19 if that is refused): it
 *     takes CPU the I/O paths leave idle.
 *   - zs_compact_paced() stops every ZS_COMPACT_STEP source zspages with
 *     no lock held; if the store served I/O since the previous step, the
 *     thread sleeps COMPACT_SLEEP_FACTOR times as long as that step took
 *     (at most COMPACT_SLEEP_MAX_NS), so it takes at most about a tenth of
 *     one CPU while the disk is busy, and all of an idle one. Low
 *     priority alone is not enough: a preempted compactor keeps its source
 *     zspage write-locked, and readers of that zspage wait for it; short
 *     steps keep that window short.
 *   - while the disk is busy, a run starts at most every
 *     COMPACT_BUSY_GAP_NS after the previous one ended: a writer in a loop
 *     sleeps in its write() instead of adding FUSE requests.
 * The thread starts with the first request (a daemon forks after creating
 * its store, and threads do not survive fork()); if it cannot be started
 * the caller compacts itself, as before.
 *
 * Locking: c->lock is a leaf (never held across a compaction or a
 * callback). The allocator's own rule stays: one zs_compact() per pool at
 * a time (the policy thread and writeback call it directly).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zram_internal.h"

#define COMPACT_SLEEP_FACTOR 9		       /* sleep : work while busy */
#define COMPACT_SLEEP_MAX_NS 2000000ll	       /* 2 ms */
#define COMPACT_BUSY_GAP_NS (10ll * 1000000ll) /* 10 ms between runs */

struct zram_compactor {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the thread waits here for work */
	pthread_cond_t done; /* zram_compact() callers wait here */
	pthread_t thread;
	bool running; /* protected by lock */
	bool stop;    /* protected by lock */
	/* tickets: a request takes ++requested; a run that started after
	 * ticket t was taken ends with completed >= t */
	uint64_t requested;		   /* protected by lock */
	uint64_t completed;		   /* protected by lock */
	uint64_t last_freed;		   /* protected by lock */
	struct zram_compact_wait *waiters; /* protected by lock */
	bool calling; /* protected by lock: done() callbacks are running */
	/* the thread's own pacing state */
	uint64_t pace_io;  /* reads + writes at the previous step */
	int64_t pace_ns;   /* CLOCK_MONOTONIC at the end of that step */
	int64_t ended_ns;  /* end of the previous run */
	uint64_t ended_io; /* reads + writes then */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000ll,
			      .tv_nsec = ns % 1000000000ll};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Foreground I/O served so far (pages read and written). */
static uint64_t io_count(struct zram *z)
{
	return atomic_load_explicit(&z->stats.num_reads, memory_order_relaxed) +
	       atomic_load_explicit(&z->stats.num_writes, memory_order_relaxed);
}

/* zs_compact_paced()'s hook: no lock is held here. */
static void compactor_pace(void *arg)
{
	struct zram *z = arg;
	struct zram_compactor *c = z->compactor;
	uint64_t io = io_count(z);
	int64_t now = now_ns(), nap;

	if (io != c->pace_io) {
		nap = (now - c->pace_ns) * COMPACT_SLEEP_FACTOR;
		sleep_ns(nap < COMPACT_SLEEP_MAX_NS ? nap
						    : COMPACT_SLEEP_MAX_NS);
		now = now_ns();
	}
	c->pace_io = io_count(z);
	c->pace_ns = now;
}

/* The lowest priority we may take; SCHED_IDLE needs no privilege. */
static void priority_lower(void)
{
	struct sched_param sp = {.sched_priority = 0};
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp))
		setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

static uint64_t compact_run(struct zram *z)
{
	struct zram_compactor *c = z->compactor;
	int64_t wait;

	/* a loop of requests on a busy disk: one run per gap */
	wait = c->ended_ns + COMPACT_BUSY_GAP_NS - now_ns();
	if (c->ended_ns && wait > 0 && io_count(z) != c->ended_io)
		sleep_ns(wait);
	c->pace_io = io_count(z);
	c->pace_ns = now_ns();
	return zs_compact_paced(z->pool, compactor_pace, z);
}

static void *compactor_main(void *arg)
{
	struct zram *z = arg;
	struct zram_compactor *c = z->compactor;
	struct zram_compact_wait *w, *ready, **pp;
	uint64_t target, freed;

	priority_lower();
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && c->completed == c->requested)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->completed == c->requested)
			break; /* stopping, and nobody waits */
		target = c->requested;
		pthread_mutex_unlock(&c->lock);
		freed = compact_run(z);
		c->ended_ns = now_ns();
		c->ended_io = io_count(z);
		pthread_mutex_lock(&c->lock);
		c->completed = target;
		c->last_freed = freed;
		ready = NULL;
		for (pp = &c->waiters; (w = *pp);) {
			if (w->ticket <= target) {
				*pp = w->next;
				w->next = ready;
				ready = w;
			} else {
				pp = &w->next;
			}
		}
		c->calling = ready != NULL;
		pthread_cond_broadcast(&c->done);
		pthread_mutex_unlock(&c->lock);
		while ((w = ready)) { /* done() may free w */
			ready = w->next;
			w->done(w, freed);
		}
		pthread_mutex_lock(&c->lock);
		if (c->calling) {
			c->calling = false;
			pthread_cond_broadcast(&c->done); /* for the drain */
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int compactor_init(struct zram *z)
{
	struct zram_compactor *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->done, NULL);
	z->compactor = c;
	return 0;
}

/* Serves every request taken so far, then stops. No request may follow. */
void compactor_destroy(struct zram *z)
{
	struct zram_compactor *c = z->compactor;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (c->running)
		pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->done);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
	z->compactor = NULL;
}

/*
 * Start the thread with every signal blocked (signals are the host's).
 * Locking: c->lock held.
 */
static int thread_start(struct zram *z)
{
	struct zram_compactor *c = z->compactor;
	sigset_t all, old;
	int err;

	if (c->running)
		return 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&c->thread, NULL, compactor_main, z);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	c->running = true;
	return 0;
}

/* Take a ticket and wake the thread. Locking: c->lock held. */
static int request(struct zram *z, uint64_t *ticket)
{
	struct zram_compactor *c = z->compactor;
	int err;

	if (c->stop)
		return -ESHUTDOWN;
	err = thread_start(z);
	if (err)
		return err;
	*ticket = ++c->requested;
	pthread_cond_signal(&c->wake);
	return 0;
}

uint64_t zram_compact(struct zram *z)
{
	struct zram_compactor *c = z->compactor;
	uint64_t ticket, freed;

	pthread_mutex_lock(&c->lock);
	if (request(z, &ticket)) {
		pthread_mutex_unlock(&c->lock);
		return zs_compact(z->pool); /* no thread: do it here */
	}
	while (c->completed < ticket)
		pthread_cond_wait(&c->done, &c->lock);
	freed = c->last_freed;
	pthread_mutex_unlock(&c->lock);
	return freed;
}

int zram_compact_async(struct zram *z, struct zram_compact_wait *w)
{
	struct zram_compactor *c = z->compactor;
	int err;

	pthread_mutex_lock(&c->lock);
	err = request(z, &w->ticket);
	if (!err) {
		w->next = c->waiters;
		c->waiters = w;
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

void zram_compact_drain(struct zram *z)
{
	struct zram_compactor *c = z->compactor;

	pthread_mutex_lock(&c->lock);
	while (c->completed < c->requested || c->calling)
		pthread_cond_wait(&c->done, &c->lock);
	pthread_mutex_unlock(&c->lock);
}
