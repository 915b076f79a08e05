/*
 * control.c - the control commands behind the writable attributes.
 *
 * Each command parses its whole input first (parse.c) and changes nothing
 * unless the input is good and the command can be carried out.
 *
 * Lock order: ctrl_lock -> slot lock -> allocator locks.
 *   ctrl_lock   serialises control commands (never taken by I/O).
 *
 * A dictionary change follows the rule described in io.c: mark the new dict
 * pending, then look at the count of pages the codec compressed; refuse with
 * -EBUSY if there are any, since they need the current dictionary to read.
 */
#include <errno.h>
#include <string.h>

#include "slot_content.h"
#include "zram_parse.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Locking: ctrl_lock held. */
static bool dict_same(const struct zram_dict *a, const struct zram_dict *b)
{
	return a && b && a->size == b->size &&
	       !memcmp(a->data, b->data, a->size);
}

/* Make @d the dictionary of @p. Locking: ctrl_lock held. */
static int dict_replace(struct zram *z, struct zram_codec_params *p,
			struct zram_dict *d)
{
	struct zram_dict *old =
		atomic_load_explicit(&p->dict, memory_order_relaxed);

	if (dict_same(old, d)) {
		zram_dict_free(d);
		return 0;
	}
	atomic_store_explicit(&p->pending, d, memory_order_seq_cst);
	if (atomic_load_explicit(&p->pages, memory_order_seq_cst)) {
		atomic_store_explicit(&p->pending, NULL, memory_order_seq_cst);
		zram_dict_free(d);
		return -EBUSY;
	}
	atomic_store_explicit(&p->dict, d, memory_order_seq_cst);
	atomic_store_explicit(&p->pending, NULL, memory_order_seq_cst);
	if (old) {
		old->next = z->retired;
		z->retired = old;
	}
	return 0;
}

/*
 * zram_params_apply - an algorithm_params write: level=N, dict=PATH,
 * priority=N (0 primary, 1..3 the recomp_algorithm codecs; default 0) and
 * algo=NAME (which codec; default: the one set at that priority).
 * Returns 0, -EINVAL (grammar, no codec at that priority, level out of
 * range, codec takes no dict or refuses it), -EBUSY (dictionary change while
 * pages need the old one), -errno of opening the dictionary.
 */
int zram_params_apply(struct zram *z, const char *buf, size_t len)
{
	struct zram_params_req req;
	const struct zram_codec_ops *ops;
	struct zram_codec_params *p;
	struct zram_dict *d = NULL;
	int err, id, prio;

	err = parse_params(buf, len, &req);
	if (err)
		return err;
	pthread_mutex_lock(&z->ctrl_lock);
	prio = req.prio >= 0 ? req.prio : 0;
	id = req.algo >= 0 ? req.algo
	     : prio	   ? LOAD(z->recomp_algo[prio])
			   : LOAD(z->algo);
	err = -EINVAL;
	if (id < 0)
		goto out_unlock;
	ops = zram_codec_get((unsigned int)id);
	p = &z->params[prio][id];
	if (req.has_level &&
	    (req.level < ops->level_min || req.level > ops->level_max))
		goto out_unlock;
	if (req.has_dict) {
		err = zram_dict_load(ops, req.dict, &d);
		if (err)
			goto out_unlock;
		err = dict_replace(z, p, d);
		if (err)
			goto out_unlock;
	}
	if (req.has_level)
		atomic_store_explicit(&p->level, req.level,
				      memory_order_relaxed);
	err = 0;
out_unlock:
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}

int zram_algo_set(struct zram *z, const char *buf, size_t len)
{
	int id = parse_algo(buf, len);

	if (id < 0)
		return id;
	atomic_store_explicit(&z->algo, id, memory_order_relaxed);
	return 0;
}

/* Rounds @bytes up to whole pages, as zram. Returns 0 or -EINVAL. */
int zram_mem_limit_store(struct zram *z, uint64_t bytes)
{
	if (bytes > UINT64_MAX - (ZRAM_PAGE_SIZE - 1))
		return -EINVAL;
	bytes = (bytes + ZRAM_PAGE_SIZE - 1) & ~(uint64_t)(ZRAM_PAGE_SIZE - 1);
	atomic_store_explicit(&z->mem_limit, bytes, memory_order_relaxed);
	return 0;
}

int zram_mem_limit_set(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_size(buf, len, &v))
		return -EINVAL;
	return zram_mem_limit_store(z, v);
}

/* Only "0": the peak restarts from the current usage. */
int zram_mem_used_max_reset(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_u64(buf, len, &v) || v)
		return -EINVAL;
	atomic_store_explicit(&z->mem_used_max,
			      (uint64_t)zs_get_total_pages(z->pool) *
				      ZRAM_PAGE_SIZE,
			      memory_order_relaxed);
	return 0;
}

/* Any value, as zram's compact. */
int zram_compact_run(struct zram *z, const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	zs_compact(z->pool);
	return 0;
}

/* Mark or unmark one slot idle. Locking: slot lock held. */
static void slot_idle_set(struct zram *z, struct zram_slot *slot, bool idle)
{
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	enum slot_kind k = slot_kind(f);

	if (k != SLOT_KIND_HUGE && k != SLOT_KIND_COMPRESSED)
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

	slot_lock(slot);
	ac = LOAD(slot->ac_time);
	slot_idle_set(z, slot,
		      w->all || (w->secs <= UINT32_MAX / 10 && ac <= w->now &&
				 w->now - ac >= w->secs * 10));
	slot_unlock(slot);
	return 0;
}

/*
 * zram_idle_store - mark every stored page idle (@all) or those not accessed
 * for @secs seconds, and unmark the others. Same-filled and written-back
 * pages are never idle, as in zram. Returns 0.
 * Locking: one slot lock at a time.
 */
int zram_idle_store(struct zram *z, bool all, uint64_t secs)
{
	struct idle_walk w = {.all = all, .secs = secs, .now = zram_now_ds(z)};

	return slot_walk(z, 0, z->nr_slots, idle_walk_one, &w);
}

/* idle: "all" or seconds (zram_idle_store()). */
int zram_idle_mark(struct zram *z, const char *buf, size_t len)
{
	uint64_t secs;
	bool all;

	if (parse_idle(buf, len, &all, &secs))
		return -EINVAL;
	return zram_idle_store(z, all, secs);
}

static int reset_one(struct zram *z, uint64_t index, void *arg)
{
	struct zram_slot *slot = &z->table[index];

	(void)arg;
	slot_lock(slot);
	slot_free(z, slot);
	atomic_store_explicit(&slot->ac_time, 0, memory_order_relaxed);
	slot_unlock(slot);
	return 0;
}

/*
 * reset: a positive integer. Drops every page and zeroes the counters as
 * zram does; keeps the size, codec, params and mem_limit the store has.
 * Returns -EBUSY while the disk is open.
 */
int zram_reset_run(struct zram *z, const char *buf, size_t len)
{
	_Atomic uint64_t *c = (_Atomic uint64_t *)&z->stats;
	struct zs_pool_stats ps;
	uint64_t v, i;
	int err = 0;

	if (parse_u64(buf, len, &v) || !v)
		return -EINVAL;
	pthread_mutex_lock(&z->ctrl_lock);
	if (atomic_load_explicit(&z->open_count, memory_order_acquire) > 0) {
		err = -EBUSY;
		goto out_unlock;
	}
	slot_walk(z, 0, z->nr_slots, reset_one, NULL);
	for (i = 0; i < sizeof(z->stats) / sizeof(*c); i++)
		atomic_store_explicit(&c[i], 0, memory_order_relaxed);
	zs_pool_stats(z->pool, &ps);
	atomic_store_explicit(&z->pages_compacted_base, ps.pages_compacted,
			      memory_order_relaxed);
	atomic_store_explicit(&z->mem_used_max,
			      (uint64_t)zs_get_total_pages(z->pool) *
				      ZRAM_PAGE_SIZE,
			      memory_order_relaxed);
out_unlock:
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}

#ifdef UZRAM_TEST_HOOKS
/* "INDEX MS": reads of page INDEX sleep MS inside the mapping; "off". */
int zram_read_delay_set(struct zram *z, const char *buf, size_t len)
{
	uint64_t index;
	uint32_t ms;

	if (parse_delay(buf, len, &index, &ms))
		return -EINVAL;
	atomic_store_explicit(&z->dbg_delay_ms, ms, memory_order_relaxed);
	atomic_store_explicit(&z->dbg_delay_index, ms ? index : UINT64_MAX,
			      memory_order_relaxed);
	return 0;
}
#endif
