/*
 * zram.c - create and destroy a store; open counting; counters copy-out.
 *
 * A store is fixed at creation: its size (the slot table) and its pool.
 * Everything else (codec, params, limit) may change at run time through the
 * control commands in control.c.
 *
 * Locking: none here beyond what the called helpers take; zram_create()
 * and zram_destroy() run while no other thread uses the store.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zram_internal.h"
#include "zram_parse.h"

static void params_init(struct zram *z)
{
	unsigned int i, prio;

	for (prio = 0; prio < ZRAM_PRIOS; prio++) {
		atomic_init(&z->recomp_algo[prio], -1);
		for (i = 0; i < ZRAM_CODECS; i++)
			atomic_init(&z->params[prio][i].level,
				    zram_codec_get(i)->level_default);
	}
}

static int config_apply(struct zram *z, const struct zram_config *config)
{
	const char *algo = config->algorithm ? config->algorithm : "lz4";
	int id = zram_codec_find(algo, strlen(algo));
	int err;

	if (id < 0)
		return -EINVAL;
	atomic_init(&z->algo, id);
	if (config->mem_limit) {
		err = zram_mem_limit_set(z, config->mem_limit);
		if (err)
			return err;
	}
	if (config->dedup) {
		err = zram_dedup_set(z, true);
		if (err)
			return err;
	}
	if (config->algorithm_params) {
		err = zram_params_text_apply(z, config->algorithm_params,
					     strlen(config->algorithm_params));
		if (err)
			return err;
	}
	if (config->backing_dev) {
		err = zram_backing_dev_set(z, config->backing_dev);
		if (err)
			return err;
	}
	if (config->policy) {
		struct zram_policy p;

		zram_policy_get(z, &p);
		if (parse_policy(config->policy, strlen(config->policy), &p))
			return -EINVAL;
		policy_start_deferred(z, &p);
	}
	return 0;
}

int zram_create(const struct zram_config *config, struct zram **out)
{
	uint64_t nr_slots;
	struct zram *z;
	int err;

	if (!config || !config->disksize ||
	    config->disksize > ZRAM_MAX_SLOTS * ZRAM_PAGE_SIZE)
		return -EINVAL;
	nr_slots = (config->disksize + ZRAM_PAGE_SIZE - 1) / ZRAM_PAGE_SIZE;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &z->epoch);
	z->threads = config->threads;
	params_init(z);
#ifdef UZRAM_TEST_HOOKS
	atomic_init(&z->dbg_delay_index, UINT64_MAX);
#endif
	err = -pthread_mutex_init(&z->ctrl_lock, NULL);
	if (err)
		goto err_free;
	err = -pthread_mutex_init(&z->pp_lock, NULL);
	if (err)
		goto err_ctrl;
	err = zram_streams_init(z);
	if (err)
		goto err_pp;
	err = policy_init(z);
	if (err)
		goto err_streams;
	err = compactor_init(z);
	if (err)
		goto err_streams;
	err = -ENOMEM;
	z->pool = zs_create_pool("uzram");
	if (!z->pool)
		goto err_streams;
	z->huge_size = zs_huge_class_size(z->pool);
	err = group_table_create(&z->groups);
	if (err)
		goto err_pool;
	err = slot_table_create(z, nr_slots);
	if (err)
		goto err_groups;
	err = config_apply(z, config);
	if (err)
		goto err_table;
	*out = z;
	return 0;
err_table:
	policy_destroy(z);
	slot_table_destroy(z);
	backing_close(z->backing);
	backing_close(z->backing_retired);
	dedup_destroy(z->dedup);
err_groups:
	group_table_destroy(z->groups);
err_pool:
	zs_destroy_pool(z->pool);
err_streams:
	compactor_destroy(z);
	policy_destroy(z);
	zram_streams_destroy(z);
err_pp:
	pthread_mutex_destroy(&z->pp_lock);
err_ctrl:
	pthread_mutex_destroy(&z->ctrl_lock);
err_free:
	free(z);
	return err;
}

/* Every dictionary still held (current, or replaced but still needed). */
static void dicts_free(struct zram *z)
{
	unsigned int i, prio, j;

	for (prio = 0; prio < ZRAM_PRIOS; prio++)
		for (i = 0; i < ZRAM_CODECS; i++)
			for (j = 0; j < ZRAM_DICT_SLOTS; j++)
				zram_dict_free(atomic_load_explicit(
					&z->params[prio][i].dicts[j],
					memory_order_relaxed));
}

void zram_destroy(struct zram *z)
{
	if (!z)
		return;
	compactor_destroy(z); /* serves what was asked, before the pool goes */
	policy_destroy(z);
	slot_table_destroy(z);
	backing_close(z->backing);
	backing_close(z->backing_retired);
	dedup_destroy(z->dedup);
	group_table_destroy(z->groups);
	zs_destroy_pool(z->pool);
	zram_streams_destroy(z);
	dicts_free(z);
	pthread_mutex_destroy(&z->pp_lock);
	pthread_mutex_destroy(&z->ctrl_lock);
	free(z);
}

/* The transitions of open_count are listed in zram_internal.h. */
int zram_open_get(struct zram *z)
{
	long n = atomic_load_explicit(&z->open_count, memory_order_relaxed);

	do {
		if (n < 0)
			return -EBUSY; /* claimed: a reset is running */
	} while (!atomic_compare_exchange_weak_explicit(
		&z->open_count, &n, n + 1, memory_order_acq_rel,
		memory_order_relaxed));
	return 0;
}

void zram_open_put(struct zram *z)
{
	long old = atomic_fetch_sub_explicit(&z->open_count, 1,
					     memory_order_acq_rel);

	assert(old > 0);
	(void)old;
}

void zram_transport_set(struct zram *z, const char *name)
{
	atomic_store_explicit(&z->transport, name, memory_order_release);
}

long zram_open_count(struct zram *z)
{
	long n = atomic_load_explicit(&z->open_count, memory_order_acquire);

	return n > 0 ? n : 0;
}

/*
 * zram_claim - own the store for a whole-store operation: no user has the
 * disk open, and none can open it until zram_unclaim().
 * Returns 0, or -EBUSY if the disk is open (or already claimed).
 * Locking: ctrl_lock held (so claims are serialised as control commands).
 */
int zram_claim(struct zram *z)
{
	long zero = 0;

	if (!atomic_compare_exchange_strong_explicit(
		    &z->open_count, &zero, ZRAM_CLAIMED, memory_order_acq_rel,
		    memory_order_relaxed))
		return -EBUSY;
	return 0;
}

/* Locking: ctrl_lock held, the claim taken by zram_claim(). */
void zram_unclaim(struct zram *z)
{
	long claimed = ZRAM_CLAIMED;
	bool ok = atomic_compare_exchange_strong_explicit(
		&z->open_count, &claimed, 0, memory_order_release,
		memory_order_relaxed);

	assert(ok);
	(void)ok;
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Backing figures; a replaced store stays allocated (backing_retire). */
static void backing_stats(struct zram *z, struct zram_stats *s)
{
	struct zram_backing *b =
		atomic_load_explicit(&z->backing, memory_order_acquire);

	if (b) {
		s->backing_used = LOAD(b->used_blocks) * BACKING_BLOCK;
		s->backing_size = b->nr_blocks * BACKING_BLOCK;
	}
}

/* Sharers minus objects, each figure read once (a hint while writes run). */
static void dedup_stats_fill(struct zram *z, struct zram_stats *s)
{
	const struct zram_counters *c = &z->stats;
	struct zram_dedup *d =
		atomic_load_explicit(&z->dedup, memory_order_acquire);
	uint64_t slots = LOAD(c->dedup_slots), objs = LOAD(c->dedup_objs);
	uint64_t sb = LOAD(c->dedup_slot_bytes), ob = LOAD(c->dedup_obj_bytes);
	struct dedup_stats ds;

	s->dup_pages = slots > objs ? slots - objs : 0;
	s->dup_data_size = sb > ob ? sb - ob : 0;
	s->dedup_objects = objs;
	if (d) {
		dedup_stats_get(d, &ds);
		s->dedup_meta_size = ds.meta_bytes;
	}
}

static void group_stats_fill(struct zram *z, struct zram_stats *s)
{
	const struct zram_counters *c = &z->stats;
	struct group_stats gs;

	s->grouped_pages = LOAD(c->grouped_pages);
	s->group_objects = LOAD(c->group_objs);
	s->group_data_size = LOAD(c->group_bytes);
	group_stats_get(z->groups, &gs);
	s->group_meta_size = gs.meta_bytes;
}

void zram_stats_get(struct zram *z, struct zram_stats *s)
{
	const struct zram_counters *c = &z->stats;
	struct zs_pool_stats ps;

	memset(s, 0, sizeof(*s));
	zs_pool_stats(z->pool, &ps);
	s->orig_data_size = LOAD(c->pages_stored) * ZRAM_PAGE_SIZE;
	s->compr_data_size = LOAD(c->compr_data_size);
	s->mem_used_total =
		(uint64_t)zs_get_total_pages(z->pool) * ZRAM_PAGE_SIZE;
	s->mem_limit = LOAD(z->mem_limit);
	s->mem_used_max = LOAD(z->mem_used_max);
	if (s->mem_used_max < s->mem_used_total)
		s->mem_used_max = s->mem_used_total;
	s->same_pages = LOAD(c->same_pages);
	s->pages_compacted = ps.pages_compacted - LOAD(z->pages_compacted_base);
	s->huge_pages = LOAD(c->huge_pages);
	s->huge_pages_since = LOAD(c->huge_pages_since);
	s->dedup_hits = LOAD(c->dedup_hits);
	s->failed_reads = LOAD(c->failed_reads);
	s->failed_writes = LOAD(c->failed_writes);
	s->invalid_io = LOAD(c->invalid_io);
	s->notify_free = LOAD(c->notify_free);
	s->miss_free = LOAD(c->miss_free);
	s->pages_stored = LOAD(c->pages_stored);
	s->idle_pages = LOAD(c->idle_pages);
	s->num_reads = LOAD(c->num_reads);
	s->num_writes = LOAD(c->num_writes);
	s->slot_count = z->nr_slots;
	s->slot_bytes = sizeof(struct zram_slot);
	s->table_bytes = s->slot_count * sizeof(struct zram_slot);
	s->streams = LOAD(z->nr_streams);
	s->bd_count = LOAD(c->wb_pages);
	s->bd_reads = LOAD(c->bd_reads);
	s->bd_writes = LOAD(c->bd_writes);
	s->backing_bytes = LOAD(c->backing_bytes);
	s->pages_recompressed = LOAD(c->pages_recompressed);
	s->policy_passes = LOAD(c->policy_passes);
	s->dicts_trained = LOAD(c->dicts_trained);
	s->dict_rewrites = LOAD(c->dict_rewrites);
	backing_stats(z, s);
	dedup_stats_fill(z, s);
	group_stats_fill(z, s);
}
