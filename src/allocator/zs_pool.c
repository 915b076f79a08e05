/*
 * zs_pool.c - the pool: creation, zs_malloc, zs_free, pool statistics.
 *
 * Lock order: pool->lock (rwlock) -> class->lock (mutex) -> zspage lock
 * -> leaf mutexes (handle table, zspage table, page layer).
 *   pool->lock     read: translate a handle to its zspage (zs_free, the
 *                  mapping paths); write: move objects (zs_compact)
 *   class->lock    the class's fullness lists, counters and its zspages'
 *                  inuse/freeobj/free lists
 * zs_malloc takes no pool lock (it translates no handle); new zspages are
 * made with no lock held. Freed handle ids are kept per class (up to
 * ZS_HANDLE_CACHE, under the class lock) for the class's next allocations,
 * so the handle table's lock is rarely taken. pool_read_lock() and
 * class_lock() count threads that had to wait, so compaction can tell it is
 * in the way and back off (pthread has no rwlock_is_contended()).
 */
#include <errno.h>
#include <string.h>

#include "zs_internal.h"

#define ZS_HANDLE_BLOCK_SHIFT 12 /* 4096 handles = 32 KiB a block */
#define ZS_ZSPAGE_BLOCK_SHIFT 10 /* 1024 zspages = 32 KiB a block */

void pool_read_lock(struct zs_pool *pool)
{
	if (pthread_rwlock_tryrdlock(&pool->lock) == 0)
		return;
	atomic_fetch_add_explicit(&pool->lock_waiters, 1, memory_order_relaxed);
	pthread_rwlock_rdlock(&pool->lock);
	atomic_fetch_sub_explicit(&pool->lock_waiters, 1, memory_order_relaxed);
}

void pool_read_unlock(struct zs_pool *pool)
{
	pthread_rwlock_unlock(&pool->lock);
}

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

static int pool_lock_init(struct zs_pool *pool)
{
	pthread_rwlockattr_t attr;
	int err;

	err = pthread_rwlockattr_init(&attr);
	if (err)
		return -err;
	/* Readers hold it briefly; let the compactor in between them. */
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(&pool->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return -err;
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
	err = idtable_init(&pool->handles, sizeof(uint64_t),
			   ZS_HANDLE_BLOCK_SHIFT,
			   (1u << (32 - ZS_HANDLE_BLOCK_SHIFT)) - 1);
	if (err)
		goto err_destroy_pages;
	err = idtable_init(&pool->zspages, sizeof(struct zspage),
			   ZS_ZSPAGE_BLOCK_SHIFT,
			   (1u << (32 - ZS_ZSPAGE_BLOCK_SHIFT)) - 1);
	if (err)
		goto err_destroy_handles;
	if (pool_lock_init(pool))
		goto err_destroy_zspages;
	classes_init(pool);
	return pool;

err_destroy_zspages:
	idtable_destroy(&pool->zspages);
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
	pthread_rwlock_destroy(&pool->lock);
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
	zspage_obj_alloc(pool, class, zid, h);
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
	uint64_t word;
	uint32_t zid;
	bool empty;

	if (!handle)
		return;
	pool_read_lock(pool);
	word = handle_word(pool, handle);
	zid = zspage_id_of_page(pool, word_pn(word));
	zspage = zspage_get(pool, zid);
	assert(zspage->magic == ZS_ZSPAGE_MAGIC);
	class = pool->size_class[zspage->class_idx];
	class_lock(class);
	pool_read_unlock(pool);
	zspage_obj_free(pool, class, zid, word_pn(word), word_idx(word));
	empty = zspage->inuse == 0;
	if (empty)
		zspage_detach(pool, class, zid);
	class_handle_put(pool, class, (uint32_t)handle);
	class_unlock(class);
	if (empty)
		zspage_destroy(pool, zid);
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
