/*
 * zs_compact.c - compaction: move objects from the emptiest zspages of a
 * class into the fullest, free the zspages emptied.
 *
 * Lock order: class->lock -> zspage write-trylock.
 *   class->lock          lists, free lists and counters of the class;
 *                        zs_free of the class's objects waits on it;
 *   zspage lock          try-locked on the SOURCE only: a source some reader
 *                        holds is skipped, never waited for, and a reader
 *                        that comes while it is held waits for this one
 *                        zspage only. The destination is not locked: the
 *                        slots we fill were free, so no reader can hold
 *                        them; a reader finds a moved object through the
 *                        new handle word, stored (release) after the copy.
 * No pool-wide lock (handles are translated lock-free, zs_internal.h), so a
 * compactor preempted here stalls only readers of its source zspage.
 * One compactor per pool (compaction_in_progress). After each source zspage
 * the compactor drops the class lock if a thread waits on it or the
 * destination is full, and frees the zspages it emptied with no lock held
 * (their pages go back to the page layer and the OS). zs_compact_paced()
 * also drops it every ZS_COMPACT_STEP sources to call its pace hook, where
 * a background compactor may sleep (src/zram/compactor.c).
 */
#include <sched.h>
#include <string.h>

#include "zs_internal.h"

#define COMPACT_MAX_SKIPS 32 /* read-locked sources tried per pick */

/*
 * Locking: class lock held. The emptiest non-empty
 * zspage other than @dst that we could write-lock, or 0.
 */
static uint32_t source_pick(struct zs_pool *pool, struct zs_size_class *class,
			    uint32_t dst)
{
	unsigned int g, tries = 0;
	uint32_t id;

	zs_assert_class_locked(class);
	for (g = ZS_INUSE_RATIO_10; g <= ZS_INUSE_RATIO_99; g++) {
		for (id = class->fullness_list[g]; id;
		     id = zspage_get(pool, id)->next) {
			if (id == dst)
				continue;
			if (zspage_write_trylock(zspage_get(pool, id)))
				return id;
			if (++tries == COMPACT_MAX_SKIPS)
				return 0;
		}
	}
	return 0;
}

static uint32_t page_next(struct zs_pool *pool, uint32_t pn)
{
	return page_desc(&pool->pages, pn)->next;
}

/* Copy one slot, header included; either side may straddle two pages. */
static void slot_copy(struct zs_pool *pool, struct zs_size_class *class,
		      uint32_t dpn, unsigned int doff, uint32_t spn,
		      unsigned int soff)
{
	size_t done = 0, n;

	while (done < class->size) {
		n = class->size - done;
		if (n > ZS_PAGE_SIZE - soff)
			n = ZS_PAGE_SIZE - soff;
		if (n > ZS_PAGE_SIZE - doff)
			n = ZS_PAGE_SIZE - doff;
		memcpy(page_addr(&pool->pages, dpn) + doff,
		       page_addr(&pool->pages, spn) + soff, n);
		done += n;
		soff += (unsigned int)n;
		doff += (unsigned int)n;
		if (done < class->size && soff == ZS_PAGE_SIZE) {
			spn = page_next(pool, spn);
			soff = 0;
		}
		if (done < class->size && doff == ZS_PAGE_SIZE) {
			dpn = page_next(pool, dpn);
			doff = 0;
		}
	}
}

/*
 * Move the objects of @src_id into @dst_id until @dst_id is full or
 * @src_id empty.
 * Locking: class lock, @src_id write-locked.
 */
static void zspage_migrate(struct zs_pool *pool, struct zs_size_class *class,
			   uint32_t src_id, uint32_t dst_id)
{
	struct zspage *src = zspage_get(pool, src_id);
	struct zspage *dst = zspage_get(pool, dst_id);
	uint32_t pn = src->first_page, dpn;
	unsigned int i, page = 0, off, didx;
	uint64_t word;

	for (i = 0; i < class->objs_per_zspage && src->inuse; i++) {
		for (; page < (unsigned int)(((size_t)i * class->size) >>
					     ZS_PAGE_SHIFT);
		     page++)
			pn = page_next(pool, pn);
		off = obj_offset(class, i);
		memcpy(&word, page_addr(&pool->pages, pn) + off, sizeof(word));
		if (!(word & ZS_OBJ_ALLOCATED_TAG))
			continue;
		didx = zspage_obj_alloc(pool, class, dst_id,
					(uint32_t)(word >> 1));
		dpn = zspage_obj_page(pool, class, dst, didx);
		slot_copy(pool, class, dpn, obj_offset(class, didx), pn, off);
		/* only now: a lock-free reader may follow it at once */
		handle_word_set(pool, (uint32_t)(word >> 1), dpn, didx);
		zspage_obj_free(pool, class, src_id, pn, i);
		if (dst->inuse == class->objs_per_zspage)
			break;
	}
}

static bool compact_contended(struct zs_size_class *class)
{
	return atomic_load_explicit(&class->lock_waiters, memory_order_relaxed);
}

/* Destroy the zspages chained on @freed (via ->next). No lock held. */
static void freed_release(struct zs_pool *pool, uint32_t freed)
{
	uint32_t next;

	while (freed) {
		next = zspage_get(pool, freed)->next;
		zspage_get(pool, freed)->next = 0;
		zspage_destroy(pool, freed);
		freed = next;
	}
}

/* zs_compact_paced()'s hook: called every ZS_COMPACT_STEP sources. */
struct compact_pace {
	void (*fn)(void *arg);
	void *arg;
	unsigned int moved; /* sources since the last call */
};

static size_t class_compact(struct zs_pool *pool, struct zs_size_class *class,
			    struct compact_pace *pace)
{
	uint32_t src, dst = 0, freed = 0;
	size_t pages_freed = 0;
	uint64_t freeable;
	bool step_done;

	/* Most classes have nothing to give: don't stop the world for them. */
	class_lock(class);
	freeable = class_freeable(class);
	class_unlock(class);
	if (!freeable)
		return 0;
	class_lock(class);
	while (class_freeable(class)) {
		if (!dst)
			dst = zspage_find_fullest(pool, class);
		src = dst ? source_pick(pool, class, dst) : 0;
		if (!src)
			break;
		zspage_migrate(pool, class, src, dst);
		zspage_write_unlock(zspage_get(pool, src));
		if (!zspage_get(pool, src)->inuse) {
			zspage_detach(pool, class, src);
			zspage_get(pool, src)->next = freed;
			freed = src;
			pages_freed += class->pages_per_zspage;
		}
		if (zspage_get(pool, dst)->inuse == class->objs_per_zspage)
			dst = 0;
		step_done = pace->fn && ++pace->moved >= ZS_COMPACT_STEP;
		if (dst && !step_done && !compact_contended(class))
			continue;
		class_unlock(class);
		freed_release(pool, freed);
		freed = 0;
		if (step_done) {
			pace->moved = 0;
			pace->fn(pace->arg); /* nothing held: may sleep */
		} else if (compact_contended(class)) {
			pool->compact_backoffs++;
			sched_yield();
		}
		class_lock(class);
		dst = 0;
	}
	class_unlock(class);
	freed_release(pool, freed);
	return pages_freed;
}

size_t zs_compact_paced(struct zs_pool *pool, void (*fn)(void *arg), void *arg)
{
	struct compact_pace pace = {.fn = fn, .arg = arg};
	struct zs_size_class *class;
	size_t freed = 0;
	int i;

	if (atomic_exchange_explicit(&pool->compaction_in_progress, 1,
				     memory_order_acquire))
		return 0;
	for (i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
		class = pool->size_class[i];
		if (class->index != (unsigned int)i || class->huge)
			continue;
		freed += class_compact(pool, class, &pace);
	}
	atomic_fetch_add_explicit(&pool->pages_compacted, freed,
				  memory_order_relaxed);
	atomic_store_explicit(&pool->compaction_in_progress, 0,
			      memory_order_release);
	return freed;
}

size_t zs_compact(struct zs_pool *pool)
{
	return zs_compact_paced(pool, NULL, NULL);
}
