/*
 * policy.c - the store's own tiering thread: ages, recompresses and writes
 * back pages by itself, and keeps mem_used_total near a soft target.
 *
 * zram's idle/recompress/writeback are one-shot triggers that someone must
 * fire; here the store fires them. Each pass (at most every `interval`
 * seconds, at once when a writer finds memory over `mem_target`):
 *   1. mark idle the pages untouched for `idle_after` seconds (and unmark
 *      the others), as `idle N`;
 *   2. recompress=on: recompress type=idle with the secondary codecs;
 *      group=on|PAGES: compress runs of idle neighbours together, PAGES
 *      to a zstd frame at group_level (group_pass.c), before writeback:
 *      grouping first may bring memory under mem_target without any
 *      backing I/O (writeback takes grouped and shared pages too, each as
 *      a page of its own: slot_wb_encode());
 *   3. mem_target and a backing store: while mem_used_total is above the
 *      target, write back idle pages, coldest then largest first,
 *      compacting as it goes, until under it;
 *   4. writeback=on and a backing store: write back every idle page;
 *   5. compact if anything moved, punch emptied backing blocks.
 * With auto_dict=on, before those (and outside pp_lock, since training takes
 * ctrl_lock): train a dictionary for the primary codec once 64 MiB have
 * been written since the last training and either there is none yet or the
 * store's compression ratio fell 10 % below what it was at that training;
 * then, in the pass, rewrite idle pages of older dictionaries with the
 * current one (dict_refresh_idle(), dict_train.c).
 * A pass is an ordinary post-processing pass: it holds pp_lock (so it never
 * runs with a user's writeback or recompress), takes one slot lock at a
 * time and never holds one across backing I/O (writeback.c).
 *
 * Writers are slowed, never failed, while memory is over the target:
 * zram_write() calls policy_throttle(), which wakes the thread and, above
 * 1.25 x target, waits in 10 ms steps (at most 2 s per request) for a pass
 * to bring memory down. If the last pass could not write anything back
 * (no idle page, backing store full or failing) writers are not held.
 * mem_limit stays the hard limit.
 *
 * Lock order: ctl->lock is a leaf; the thread drops it before a pass
 * (pp_lock -> slot lock -> ...).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "pp.h"
#include "zram_parse.h"

struct zram_policy_ctl {
	pthread_mutex_t lock;
	pthread_cond_t wake;	    /* the thread waits here between passes */
	pthread_cond_t relief;	    /* throttled writers wait here */
	struct zram_policy cfg;	    /* protected by lock */
	bool stop;		    /* protected by lock */
	bool running;		    /* protected by lock */
	bool kick;		    /* protected by lock: run a pass now */
	_Atomic bool start_pending; /* wanted, not started yet (see below) */
	pthread_t thread;
	_Atomic uint64_t target; /* cfg.mem_target, for the write path */
	_Atomic bool stuck;	 /* last pass could not get under target */
	/* auto_dict: only the policy thread touches these */
	uint64_t dict_writes; /* num_writes at the last training */
	double dict_ratio;    /* orig/compr at the last training, 0: none */
};

#define AUTO_DICT_PAGES (64u << 20 >> 12) /* written before a training */

#define POLICY_DEFAULT_IDLE_AFTER 600u
#define POLICY_DEFAULT_INTERVAL 10u

static uint64_t mem_used(struct zram *z)
{
	return (uint64_t)zs_get_total_pages(z->pool) * ZRAM_PAGE_SIZE;
}

/* auto_dict: train when enough was written and the ratio asks for it. */
static void auto_dict_train(struct zram *z, struct zram_policy_ctl *ctl)
{
	uint64_t after = AUTO_DICT_PAGES;
	struct zram_stats s;
	double ratio;

#ifdef UZRAM_TEST_HOOKS
	if (atomic_load_explicit(&z->dbg_auto_dict_pages, memory_order_relaxed))
		after = atomic_load_explicit(&z->dbg_auto_dict_pages,
					     memory_order_relaxed);
#endif
	zram_stats_get(z, &s);
	if (s.num_writes - ctl->dict_writes < after || !s.compr_data_size)
		return;
	ratio = (double)s.orig_data_size / (double)s.compr_data_size;
	if (ctl->dict_ratio && ratio >= 0.9 * ctl->dict_ratio)
		return;
	ctl->dict_writes = s.num_writes;
	if (zram_dict_train(z, ZRAM_TRAIN_SAMPLES_DEFAULT,
			    ZRAM_TRAIN_SIZE_DEFAULT))
		return; /* nothing to learn yet, or all indexes busy */
	ctl->dict_ratio = ratio;
}

/* One pass. Returns true if it moved anything. */
static bool policy_pass(struct zram *z, const struct zram_policy *cfg)
{
	struct zram_recompress_req rc = {.type = ZRAM_PP_IDLE, .prio = -1};
	struct zram_wb_req wb = {.type = ZRAM_PP_IDLE};
	struct zram_policy_ctl *ctl = z->policy;
	bool backing = atomic_load(&z->backing) != NULL;
	uint64_t n = 0, moved = 0;

	if (cfg->auto_dict)
		auto_dict_train(z, ctl);
	pthread_mutex_lock(&z->pp_lock);
	zram_idle_mark(z, cfg->idle_after);
	if (cfg->auto_dict)
		moved += dict_refresh_idle(z);
	if (cfg->recompress && !recompress_run(z, &rc, &n))
		moved += n;
	if (cfg->group)
		moved += group_idle(z, cfg->group, cfg->group_level);
	if (cfg->mem_target && backing && mem_used(z) > cfg->mem_target) {
		n = 0;
		writeback_run(z, &wb, PP_COLDEST, cfg->mem_target, &n);
		moved += n;
		atomic_store(&ctl->stuck, !n && mem_used(z) > cfg->mem_target);
	}
	if (cfg->writeback && backing) {
		n = 0;
		writeback_run(z, &wb, PP_LARGEST, 0, &n);
		moved += n;
	}
	if (moved)
		zs_compact(z->pool);
	pthread_mutex_unlock(&z->pp_lock);
	/* the pass's candidate lists and batches were freed: give them back
	 * (the heap keeps large freed blocks otherwise), with this thread's
	 * codec contexts, sized for 64 KiB frames (1-3 MiB at a high
	 * group_level, with a dictionary's tables): the next pass that needs
	 * them makes them again */
	if (moved) {
		zram_thread_idle(z);
		zram_heap_trim();
	}
	atomic_fetch_add_explicit(&z->stats.policy_passes, 1,
				  memory_order_relaxed);
	return moved;
}

static void wait_interval(struct zram_policy_ctl *ctl, uint32_t secs)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += secs;
	while (!ctl->stop && !ctl->kick &&
	       pthread_cond_timedwait(&ctl->wake, &ctl->lock, &ts) != ETIMEDOUT)
		;
}

static void *policy_main(void *arg)
{
	struct zram *z = arg;
	struct zram_policy_ctl *ctl = z->policy;
	struct zram_policy cfg;
	bool moved;

	pthread_mutex_lock(&ctl->lock);
	while (!ctl->stop) {
		cfg = ctl->cfg;
		ctl->kick = false;
		pthread_mutex_unlock(&ctl->lock);
		moved = policy_pass(z, &cfg);
		pthread_mutex_lock(&ctl->lock);
		pthread_cond_broadcast(&ctl->relief);
		/* still over the target and getting somewhere: go on */
		if (moved && cfg.mem_target && mem_used(z) > cfg.mem_target)
			continue;
		wait_interval(ctl, cfg.interval);
	}
	pthread_mutex_unlock(&ctl->lock);
	return NULL;
}

int policy_init(struct zram *z)
{
	struct zram_policy_ctl *ctl = calloc(1, sizeof(*ctl));
	pthread_condattr_t ca;

	if (!ctl)
		return -ENOMEM;
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->wake, &ca);
	pthread_cond_init(&ctl->relief, &ca);
	pthread_condattr_destroy(&ca);
	ctl->cfg.idle_after = POLICY_DEFAULT_IDLE_AFTER;
	ctl->cfg.interval = POLICY_DEFAULT_INTERVAL;
	ctl->cfg.group_level = GROUP_LEVEL_DEFAULT;
	z->policy = ctl;
	return 0;
}

/* Stop the thread and free. Locking: no other thread uses @z after. */
void policy_destroy(struct zram *z)
{
	struct zram_policy_ctl *ctl = z->policy;

	if (!ctl)
		return;
	pthread_mutex_lock(&ctl->lock);
	ctl->stop = true;
	pthread_cond_broadcast(&ctl->wake);
	pthread_mutex_unlock(&ctl->lock);
	if (ctl->running)
		pthread_join(ctl->thread, NULL);
	pthread_cond_destroy(&ctl->wake);
	pthread_cond_destroy(&ctl->relief);
	pthread_mutex_destroy(&ctl->lock);
	free(ctl);
	z->policy = NULL;
}

/* Start the thread if it is wanted. Locking: ctl->lock held. */
static int thread_start(struct zram *z)
{
	struct zram_policy_ctl *ctl = z->policy;
	int err;

	if (ctl->running || ctl->stop)
		return 0;
	err = -pthread_create(&ctl->thread, NULL, policy_main, z);
	if (err)
		return err;
	ctl->running = true;
	atomic_store(&ctl->start_pending, false);
	return 0;
}

/* Is @p valid? Its group_level 0 becomes the default. */
static int policy_check(struct zram_policy *p)
{
	if (!p->interval || (p->group && (p->group < GROUP_PAGES_MIN ||
					  p->group > GROUP_PAGES_MAX)))
		return -EINVAL;
	if (p->group_level > GROUP_LEVEL_MAX)
		return -EINVAL;
	if (!p->group_level)
		p->group_level = GROUP_LEVEL_DEFAULT;
	return 0;
}

/* Does @p ask for any work (so for the thread)? */
static bool policy_wants_thread(const struct zram_policy *p)
{
	return p->recompress || p->writeback || p->mem_target || p->auto_dict ||
	       p->group;
}

/*
 * The thread is not started by zram_create(): a daemon creates its store
 * and then forks into the background, and threads do not survive fork(). A
 * policy given at creation starts with the first read, write or discard
 * (policy_start_pending()), or with the next zram_policy_set().
 */
void policy_start_deferred(struct zram *z, const struct zram_policy *p)
{
	struct zram_policy_ctl *ctl = z->policy;

	pthread_mutex_lock(&ctl->lock);
	ctl->cfg = *p;
	atomic_store(&ctl->target, p->mem_target);
	atomic_store(&ctl->start_pending, policy_wants_thread(p));
	pthread_mutex_unlock(&ctl->lock);
}

int zram_policy_set(struct zram *z, const struct zram_policy *given)
{
	struct zram_policy_ctl *ctl = z->policy;
	struct zram_policy p = *given;
	int err = policy_check(&p);

	if (err)
		return err;
	pthread_mutex_lock(&ctl->lock);
	if (policy_wants_thread(&p)) {
		err = thread_start(z);
		if (err)
			goto out_unlock;
	}
	ctl->cfg = p;
	ctl->kick = true;
	atomic_store(&ctl->target, p.mem_target);
	atomic_store(&ctl->stuck, false);
	pthread_cond_broadcast(&ctl->wake);
out_unlock:
	pthread_mutex_unlock(&ctl->lock);
	return err;
}

void zram_policy_get(struct zram *z, struct zram_policy *p)
{
	struct zram_policy_ctl *ctl = z->policy;

	pthread_mutex_lock(&ctl->lock);
	*p = ctl->cfg;
	pthread_mutex_unlock(&ctl->lock);
}

/*
 * policy_start_pending - start a policy given at creation, now that I/O
 * shows this is the process that serves (after the daemon's fork). Called
 * after every write or discard (policy_throttle) and before every read, so
 * a restored disk that is only read gets its policy too. One relaxed load
 * once started.
 */
void policy_start_pending(struct zram *z)
{
	struct zram_policy_ctl *ctl = z->policy;

	if (!atomic_load_explicit(&ctl->start_pending, memory_order_relaxed))
		return;
	pthread_mutex_lock(&ctl->lock);
	if (atomic_load(&ctl->start_pending))
		thread_start(z); /* on failure: tried again next time */
	pthread_mutex_unlock(&ctl->lock);
}

/*
 * policy_throttle - called by writers after a write: over mem_target, wake
 * the thread and, well over it, wait a little for it. Never fails.
 */
bool policy_throttle_due(struct zram *z)
{
	struct zram_policy_ctl *ctl = z->policy;
	uint64_t target =
		atomic_load_explicit(&ctl->target, memory_order_relaxed);

	return target && mem_used(z) > target + target / 4 &&
	       atomic_load_explicit(&z->backing, memory_order_relaxed);
}

void policy_throttle(struct zram *z)
{
	struct zram_policy_ctl *ctl = z->policy;
	uint64_t target =
		atomic_load_explicit(&ctl->target, memory_order_relaxed);
	struct timespec ts;
	int waits = 0;

	policy_start_pending(z);
	if (!target || mem_used(z) <= target ||
	    !atomic_load_explicit(&z->backing, memory_order_relaxed))
		return;
	pthread_mutex_lock(&ctl->lock);
	if (!ctl->kick) {
		ctl->kick = true;
		pthread_cond_signal(&ctl->wake);
	}
	/* a ZRAM_IO_NOWAIT writer is done again by one that may wait */
	while (ctl->running && !ctl->stop && waits++ < 200 &&
	       !atomic_load(&ctl->stuck) && mem_used(z) > target + target / 4 &&
	       !io_would_wait()) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ctl->relief, &ctl->lock, &ts);
	}
	pthread_mutex_unlock(&ctl->lock);
}
