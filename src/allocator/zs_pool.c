/*
 * zs_pool.c - the pool: creation, zs_malloc, zs_free, pool statistics.
 *
 * Lock order: class->lock (mutex) -> zspage lock -> leaf mutexes (handle
 * table, zspage table, page layer); zs_free pins the object's zspage (read
 * lock) before it takes the class lock, see zs_internal.h.
 *   class->lock    the class's fullness lists, counters and its zspages'
 *                  inuse/freeobj/free lists; compaction moves objects
 *                  under it
 * There is no pool-wide lock: handles are translated lock-free
 * (zs_obj_pin). New zspages are made with no lock held. Freed handle ids
 * are kept per class (up to ZS_HANDLE_CACHE, under the class lock) for the
 * class's next allocations, so the handle table's lock is rarely taken.
 * class_lock() counts threads that had to wait, so compaction can tell it is
 * in the way and back off.
 */
#include <errno.h>
#include <string.h>

#include "zs_internal.h"

#define ZS_HANDLE_BLOCK_SHIFT 12 /* 4096 handles = 32 KiB a block */
#define ZS_ZSPAGE_BLOCK_SHIFT 10 /* 1024 zspages = 32 KiB a block */

void class_lock(struct zs_size_class *class)
{
	if (pthread_mutex_trylock(&class->lock) == 0)
		return;
	atomic_fetch_add_explicit(&class->lock_waiters, 1,
				  memory_order_relaxed);
	pthread_mutex_lock(&class->lock);
	atomic_fetch_sub_explicit(&class->lock_waiters, 1,
				  memory_order_relaxed);
}

void class_unlock(struct zs_size_class *class)
{
	pthread_mutex_unlock(&class->lock);
}

struct zs_pool *zs_create_pool(const char *name)
{
	struct zs_pool *pool = os_map(sizeof(*pool));
	int err;

	if (!pool)
		goto err_nomem;
	if (name)
		strncpy(pool->name, name, sizeof(pool->name) - 1);
	err = pages_init(&pool->pages);
	if (err)
		goto err_unmap_pool;
	err = idtable_init(&pool->handles, sizeof(uint64_t), 0,
			   ZS_HANDLE_BLOCK_SHIFT,
			   (1u << (32 - ZS_HANDLE_BLOCK_SHIFT)) - 1);
	if (err)
		goto err_destroy_pages;
	err = idtable_init(&pool->zspages, sizeof(struct zspage),
			   ZSPAGE_LINK_OFFSET, ZS_ZSPAGE_BLOCK_SHIFT,
			   (1u << (32 - ZS_ZSPAGE_BLOCK_SHIFT)) - 1);
	if (err)
		goto err_destroy_handles;
	classes_init(pool);
	return pool;

err_destroy_handles:
	idtable_destroy(&pool->handles);
err_destroy_pages:
	pages_destroy(&pool->pages);
err_unmap_pool:
	os_unmap(pool, sizeof(*pool));
err_nomem:
	errno = ENOMEM;
	return NULL;
}

void zs_destroy_pool(struct zs_pool *pool)
{
	unsigned int i;

	if (!pool)
		return;
	for (i = 0; i < ZS_SIZE_CLASSES; i++)
		if (pool->size_class[i]->index == i)
			pthread_mutex_destroy(&pool->classes[i].lock);
	idtable_destroy(&pool->zspages);
	idtable_destroy(&pool->handles);
	pages_destroy(&pool->pages);
	os_unmap(pool, sizeof(*pool));
}

/* Locking: class lock held. Put a new zspage on its list and count it. */
static void zspage_attach(struct zs_pool *pool, struct zs_size_class *class,
			  uint32_t id)
{
	zspage_list_insert(pool, class, id);
	class->objs_allocated += class->objs_per_zspage;
}

/* Locking: class lock held. Take an empty zspage off its list. */
void zspage_detach(struct zs_pool *pool, struct zs_size_class *class,
		   uint32_t id)
{
	zspage_list_remove(pool, class, id);
	class->objs_allocated -= class->objs_per_zspage;
}

/*
 * Locking: class lock held; may drop and retake it. A handle id from the
 * class's cache, else from the handle table. Returns 0 or -ENOMEM.
 */
static int class_handle_get(struct zs_pool *pool, struct zs_size_class *class,
			    uint32_t *h)
{
	int err;

	if (class->nr_cached) {
		*h = class->handle_cache[--class->nr_cached];
		return 0;
	}
	class_unlock(class);
	err = idtable_alloc(&pool->handles, h);
	class_lock(class);
	return err ? -ENOMEM : 0;
}

/*
 * Locking: class lock held (the handle table's lock nests inside it).
 * Keep a freed handle id for the class's next allocation; a class that
 * holds no object gives its cache back so an empty table can release its
 * memory.
 */
static void class_handle_put(struct zs_pool *pool, struct zs_size_class *class,
			     uint32_t h)
{
	if (class->objs_inuse && class->nr_cached < ZS_HANDLE_CACHE) {
		class->handle_cache[class->nr_cached++] = h;
		return;
	}
	idtable_free(&pool->handles, h);
	if (!class->objs_inuse)
		while (class->nr_cached)
			idtable_free(&pool->handles,
				     class->handle_cache[--class->nr_cached]);
}

int zs_malloc(struct zs_pool *pool, size_t size, zs_handle_t *handle)
{
	struct zs_size_class *class;
	uint32_t h, zid;
	unsigned int idx;
	int err;

	if (size == 0)
		return -EINVAL;
	if (size > ZS_MAX_ALLOC_SIZE)
		return -ENOSPC;
	class = pool->size_class[class_index_of(size + ZS_HANDLE_SIZE)];
	class_lock(class);
	err = class_handle_get(pool, class, &h);
	if (err)
		goto out_unlock;
	zid = zspage_find_fullest(pool, class);
	if (!zid) {
		class_unlock(class);
		err = zspage_create(pool, class, &zid);
		class_lock(class);
		if (err)
			goto err_put_handle;
		zspage_attach(pool, class, zid);
	}
	idx = zspage_obj_alloc(pool, class, zid, h);
	handle_word_set(
		pool, h,
		zspage_obj_page(pool, class, zspage_get(pool, zid), idx), idx);
	class_unlock(class);
	*handle = h;
	return 0;

err_put_handle:
	class_handle_put(pool, class, h);
	err = err == -ENOSPC ? -ENOMEM : err;
out_unlock:
	class_unlock(class);
	return err;
}

void zs_free(struct zs_pool *pool, zs_handle_t handle)
{
	struct zs_size_class *class;
	struct zspage *zspage;
	unsigned int idx;
	uint32_t zid, pn;
	bool empty;

	if (!handle)
		return;
	/* pinned, the object cannot move; under the class lock neither */
	zspage = zs_obj_pin(pool, handle, &pn, &idx);
	zid = zspage_id_of_page(pool, pn);
	class = pool->size_class[zspage->class_idx];
	class_lock(class);
	zspage_read_unlock(zspage);
	zspage_obj_free(pool, class, zid, pn, idx);
	empty = zspage->inuse == 0;
	if (empty)
		zspage_detach(pool, class, zid);
	class_handle_put(pool, class, (uint32_t)handle);
	class_unlock(class);
	if (empty)
		zspage_destroy(pool, zid);
}

void zs_pool_drain(struct zs_pool *pool)
{
	pages_drain(&pool->pages);
}

void zs_pool_prefault(struct zs_pool *pool, bool on)
{
	atomic_store_explicit(&pool->pages.prefault, on, memory_order_relaxed);
}

size_t zs_get_total_pages(struct zs_pool *pool)
{
	return (size_t)atomic_load_explicit(&pool->pages_allocated,
					    memory_order_relaxed);
}

void zs_pool_stats(struct zs_pool *pool, struct zs_pool_stats *stats)
{
	struct zs_size_class *class;
	unsigned int i;

	memset(stats, 0, sizeof(*stats));
	for (i = 0; i < ZS_SIZE_CLASSES; i++) {
		class = pool->size_class[i];
		if (class->index != i)
			continue;
		class_lock(class);
		stats->objs_allocated += class->objs_allocated;
		stats->objs_used += class->objs_inuse;
		class_unlock(class);
	}
	stats->pages_allocated = zs_get_total_pages(pool);
	stats->pages_compacted = atomic_load_explicit(&pool->pages_compacted,
						      memory_order_relaxed);
	stats->zspages =
		atomic_load_explicit(&pool->nr_zspages, memory_order_relaxed);
	stats->metadata_bytes = sizeof(*pool) + idtable_bytes(&pool->handles) +
				idtable_bytes(&pool->zspages) +
				pages_meta_bytes(&pool->pages);
}
