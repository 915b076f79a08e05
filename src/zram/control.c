/*
 * control.c - the control commands: the typed API of zram.h behind every
 * writable attribute.
 *
 * Each command checks its arguments first and changes nothing unless they
 * are good and it can be carried out. The text of the control files is
 * parsed in attrs.c (grammar in parse.c), which then calls these.
 *
 * Lock order: ctrl_lock -> store claim -> pp_lock -> slot lock -> allocator
 * locks.
 *   ctrl_lock   serialises control commands (never taken by I/O).
 *   store claim reset owns the store (zram_claim(), rules in
 *               zram_internal.h): no open, hence no I/O, meanwhile.
 *   pp_lock     one post-processing pass at a time (writeback.c); reset
 *               takes it so no pass counts while it zeroes the counters.
 *
 * A dictionary change follows the rule described in io.c: the new one takes
 * a free index of the codec's dictionaries and becomes current; the old one
 * stays while compressed objects name its index, and is freed by dict_gc()
 * once none does. -EBUSY only when all ZRAM_DICT_SLOTS are needed.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "slot_content.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Locking: ctrl_lock held. */
static bool dict_same(const struct zram_dict *a, const struct zram_dict *b)
{
	return a && b && a->size == b->size &&
	       !memcmp(a->data, b->data, a->size);
}

/*
 * dict_gc - free every replaced dictionary of @p that no object needs any
 * more. A writer that still holds an old snapshot may raise pages[j] for a
 * moment, but its commit then fails (cur moved on) and it lowers it again;
 * a compression still using the dictionary is waited out by
 * zram_dict_retire(). Locking: ctrl_lock held.
 */
static void dict_gc(struct zram *z, struct zram_codec_params *p)
{
	uint64_t cur = atomic_load_explicit(&p->cur, memory_order_seq_cst);
	struct zram_dict *old;
	unsigned int j;

	for (j = 0; j < ZRAM_DICT_SLOTS; j++) {
		if (j == cur % ZRAM_DICT_SLOTS ||
		    atomic_load_explicit(&p->pages[j], memory_order_seq_cst))
			continue;
		old = atomic_exchange_explicit(&p->dicts[j], NULL,
					       memory_order_seq_cst);
		zram_dict_retire(z, old);
	}
}

/*
 * Make @d the dictionary new writes of @p use. The one it replaces stays
 * (in its index of p->dicts) while objects need it. Returns 0, or -EBUSY
 * when all ZRAM_DICT_SLOTS indexes are still needed (recompress or rewrite
 * the pages of an old dictionary first); @d is consumed either way.
 * Locking: ctrl_lock held.
 */
static int dict_replace(struct zram *z, struct zram_codec_params *p,
			struct zram_dict *d)
{
	uint64_t cur = atomic_load_explicit(&p->cur, memory_order_relaxed);
	unsigned int j;

	if (dict_same(atomic_load_explicit(&p->dict, memory_order_relaxed),
		      d)) {
		zram_dict_free(d);
		return 0;
	}
	dict_gc(z, p);
	for (j = 0; j < ZRAM_DICT_SLOTS; j++)
		if (j != cur % ZRAM_DICT_SLOTS &&
		    !atomic_load_explicit(&p->dicts[j], memory_order_relaxed) &&
		    !atomic_load_explicit(&p->pages[j], memory_order_seq_cst))
			break;
	if (j == ZRAM_DICT_SLOTS) {
		zram_dict_free(d);
		return -EBUSY;
	}
	d->gen = ++z->dict_gen;
	atomic_store_explicit(&p->dicts[j], d, memory_order_seq_cst);
	atomic_store_explicit(&p->dict, d, memory_order_seq_cst);
	atomic_store_explicit(&p->cur, d->gen * ZRAM_DICT_SLOTS + j,
			      memory_order_seq_cst);
	/* the old one goes now if nothing needs it */
	dict_gc(z, p);
	return 0;
}

/*
 * zram_dict_install - make @data (@size bytes, malloc'ed, owned from now on)
 * the dictionary of codec @id at priority 0, for new writes. Returns 0,
 * -EINVAL (the codec refuses it), -EBUSY (pages need all the old ones),
 * -ENOMEM. Locking: ctrl_lock held.
 */
int zram_dict_install(struct zram *z, unsigned int id, void *data, size_t size)
{
	struct zram_dict *d;
	int err;

	err = zram_dict_make(zram_codec_get(id), data, size, &d);
	if (err)
		return err;
	return dict_replace(z, &z->params[0][id], d);
}

/*
 * Apply the parameters of codec @id at priority @prio (0 primary, 1..3 the
 * recomp_algorithm codecs; @id < 0: the codec set at that priority): a new
 * @level if @has_level, the dictionary at @dict unless NULL.
 * Returns as zram_algorithm_params_set().
 */
int zram_params_change(struct zram *z, unsigned int prio, int id,
		       bool has_level, int level, const char *dict)
{
	const struct zram_codec_ops *ops;
	struct zram_codec_params *p;
	struct zram_dict *d = NULL;
	int err = -EINVAL;

	if (prio >= ZRAM_PRIOS)
		return -EINVAL;
	pthread_mutex_lock(&z->ctrl_lock);
	if (id < 0)
		id = prio ? LOAD(z->recomp_algo[prio]) : LOAD(z->algo);
	if (id < 0)
		goto out_unlock;
	ops = zram_codec_get((unsigned int)id);
	p = &z->params[prio][id];
	if (has_level && (level < ops->level_min || level > ops->level_max))
		goto out_unlock;
	if (dict) {
		err = zram_dict_load(ops, dict, &d);
		if (err)
			goto out_unlock;
		err = dict_replace(z, p, d);
		if (err)
			goto out_unlock;
	}
	if (has_level)
		atomic_store_explicit(&p->level, level, memory_order_relaxed);
	err = 0;
out_unlock:
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}

int zram_dict_set(struct zram *z, unsigned int prio, unsigned int codec,
		  void *data, size_t size)
{
	struct zram_dict *d;
	int err;

	err = zram_dict_make(zram_codec_get(codec), data, size, &d);
	if (err)
		return err;
	pthread_mutex_lock(&z->ctrl_lock);
	err = dict_replace(z, &z->params[prio][codec], d);
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}

int zram_dict_restore(struct zram *z, unsigned int prio, unsigned int codec,
		      unsigned int j, bool current, void *data, size_t size)
{
	struct zram_codec_params *p = &z->params[prio][codec];
	struct zram_dict *d;
	int err;

	err = zram_dict_make(zram_codec_get(codec), data, size, &d);
	if (err)
		return err;
	pthread_mutex_lock(&z->ctrl_lock);
	if (LOAD(p->dicts[j]) || (current && LOAD(p->dict))) {
		pthread_mutex_unlock(&z->ctrl_lock);
		zram_dict_free(d);
		return -EINVAL;
	}
	d->gen = ++z->dict_gen;
	atomic_store_explicit(&p->dicts[j], d, memory_order_seq_cst);
	if (current) {
		atomic_store_explicit(&p->dict, d, memory_order_seq_cst);
		atomic_store_explicit(&p->cur, d->gen * ZRAM_DICT_SLOTS + j,
				      memory_order_seq_cst);
	}
	pthread_mutex_unlock(&z->ctrl_lock);
	return 0;
}

int zram_algorithm_params_set(struct zram *z,
			      const struct zram_algorithm_params *p)
{
	int id = -1;

	if (p->algorithm) {
		id = zram_codec_find(p->algorithm, strlen(p->algorithm));
		if (id < 0)
			return -EINVAL;
	}
	return zram_params_change(z, p->priority, id, p->set_level, p->level,
				  p->dict);
}

int zram_algorithm_level_get(struct zram *z, const char *name, int *level)
{
	int id = zram_codec_find(name, strlen(name));

	if (id < 0)
		return -EINVAL;
	*level = LOAD(z->params[0][id].level);
	return 0;
}

const char *zram_algorithm_name(unsigned int index)
{
	return index < ZRAM_CODECS ? zram_codec_get(index)->name : NULL;
}

const char *zram_algorithm_get(struct zram *z)
{
	return zram_codec_get((unsigned int)LOAD(z->algo))->name;
}

int zram_algorithm_set(struct zram *z, const char *name)
{
	int id = zram_codec_find(name, strlen(name));

	if (id < 0)
		return -EINVAL;
	atomic_store_explicit(&z->algo, id, memory_order_relaxed);
	return 0;
}

/* Rounds @bytes up to whole pages, as zram. */
int zram_mem_limit_set(struct zram *z, uint64_t bytes)
{
	if (bytes > UINT64_MAX - (ZRAM_PAGE_SIZE - 1))
		return -EINVAL;
	bytes = (bytes + ZRAM_PAGE_SIZE - 1) & ~(uint64_t)(ZRAM_PAGE_SIZE - 1);
	atomic_store_explicit(&z->mem_limit, bytes, memory_order_relaxed);
	return 0;
}

uint64_t zram_mem_limit_get(struct zram *z)
{
	return LOAD(z->mem_limit);
}

void zram_mem_used_max_reset(struct zram *z)
{
	atomic_store_explicit(&z->mem_used_max,
			      (uint64_t)zs_get_total_pages(z->pool) *
				      ZRAM_PAGE_SIZE,
			      memory_order_relaxed);
}

/* Mark or unmark one slot idle. Locking: slot lock held. */
static void slot_idle_set(struct zram *z, struct zram_slot *slot, bool idle)
{
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	enum slot_kind k = slot_kind(f);

	if (k != SLOT_KIND_HUGE && k != SLOT_KIND_COMPRESSED &&
	    k != SLOT_KIND_SHARED && k != SLOT_KIND_GROUPED)
		return;
	if (idle && !(f & SLOT_IDLE)) {
		slot_flags_update(slot, 0, SLOT_IDLE);
		atomic_fetch_add_explicit(&z->stats.idle_pages, 1,
					  memory_order_relaxed);
	} else if (!idle && (f & SLOT_IDLE)) {
		slot_flags_update(slot, SLOT_IDLE, 0);
		atomic_fetch_sub_explicit(&z->stats.idle_pages, 1,
					  memory_order_relaxed);
	}
}

struct idle_walk {
	bool all;
	uint64_t secs;
	uint32_t now;
};

static int idle_walk_one(struct zram *z, uint64_t index, void *arg)
{
	const struct idle_walk *w = arg;
	struct zram_slot *slot = &z->table[index];
	uint32_t ac;

	slot_lock(z, slot);
	ac = LOAD(slot->ac_time);
	slot_idle_set(z, slot,
		      w->all || (w->secs <= UINT32_MAX / 10 && ac <= w->now &&
				 w->now - ac >= w->secs * 10));
	slot_unlock(slot);
	return 0;
}

/*
 * Same-filled and written-back pages are never idle, as in zram. Only
 * touched table pages are walked (slot_walk): `idle all` on an untouched
 * 16 TiB disk is a scan of 2 MiB of bits.
 * Locking: one slot lock at a time (the policy thread calls this with
 * pp_lock held, so no ctrl_lock here: reset takes ctrl_lock -> pp_lock).
 */
uint64_t zram_idle_mark(struct zram *z, uint64_t min_age)
{
	struct idle_walk w = {.all = min_age == ZRAM_IDLE_ALL,
			      .secs = min_age,
			      .now = zram_now_ds(z)};

	slot_walk(z, 0, z->nr_slots, idle_walk_one, &w);
	return LOAD(z->stats.idle_pages);
}

/* Test hook debug_reset_delay: a reset that takes its time, claimed. */
static void reset_delay(struct zram *z)
{
#ifdef UZRAM_TEST_HOOKS
	uint32_t ms = LOAD(z->dbg_reset_delay_ms);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (ms && nanosleep(&ts, &ts) && errno == EINTR)
		;
#else
	(void)z;
#endif
}

/*
 * Drops every page and zeroes the counters as zram does; keeps the size,
 * codec, params and mem_limit the store has. The store is claimed for the
 * whole run (zram_claim(): opens of the disk get -EBUSY meanwhile, so no
 * write lands in a half-reset store and the counters are zeroed with
 * nothing in flight). Each touched table page is emptied and given back to
 * the OS, so the table's memory goes too.
 */
int zram_reset(struct zram *z)
{
	_Atomic uint64_t *c = (_Atomic uint64_t *)&z->stats;
	struct zs_pool_stats ps;
	uint64_t i;
	int err;

	_Static_assert(sizeof(z->stats) % sizeof(*c) == 0,
		       "zram_counters must be 64-bit atomics only");
	pthread_mutex_lock(&z->ctrl_lock);
	err = zram_claim(z);
	if (err)
		goto out_unlock;
	reset_delay(z);
	/* no writeback/recompress/policy pass may count while we zero */
	pthread_mutex_lock(&z->pp_lock);
	slot_table_reset(z);
	tier_punch(z);
	for (i = 0; i < sizeof(z->stats) / sizeof(*c); i++)
		atomic_store_explicit(&c[i], 0, memory_order_relaxed);
	pthread_mutex_unlock(&z->pp_lock);
	zs_pool_stats(z->pool, &ps);
	atomic_store_explicit(&z->pages_compacted_base, ps.pages_compacted,
			      memory_order_relaxed);
	atomic_store_explicit(&z->mem_used_max,
			      (uint64_t)zs_get_total_pages(z->pool) *
				      ZRAM_PAGE_SIZE,
			      memory_order_relaxed);
	zram_unclaim(z);
out_unlock:
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}

/* Locking: takes ctrl_lock. */
int zram_dedup_set(struct zram *z, bool on)
{
	struct zram_dedup *d;
	uint64_t max;
	int err = 0;

	pthread_mutex_lock(&z->ctrl_lock);
	if (on && !atomic_load_explicit(&z->dedup, memory_order_relaxed)) {
		/* one entry per slot, plus those in flight in writers */
		max = z->nr_slots + 65536;
		if (max > UINT32_MAX - 1)
			max = UINT32_MAX - 1;
		err = dedup_create(max, &d);
		if (err)
			goto out_unlock;
		atomic_store_explicit(&z->dedup, d, memory_order_release);
	}
	atomic_store_explicit(&z->dedup_on, on, memory_order_relaxed);
out_unlock:
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}

bool zram_dedup_get(struct zram *z)
{
	return atomic_load_explicit(&z->dedup_on, memory_order_relaxed);
}

#ifdef UZRAM_TEST_HOOKS
/* Reads of page @index sleep @ms inside the mapping; @ms = 0: off. */
void zram_read_delay_set(struct zram *z, uint64_t index, uint32_t ms)
{
	atomic_store_explicit(&z->dbg_delay_ms, ms, memory_order_relaxed);
	atomic_store_explicit(&z->dbg_delay_index, ms ? index : UINT64_MAX,
			      memory_order_relaxed);
}
#endif
