/*
 * zsmalloc.h - a user-space zsmalloc with preemptible object mapping.
 *
 * A pool stores objects of 1..4096 bytes in size classes (32 B apart by 16 B),
 * each class packing its objects back to back across "zspages": chains of
 * 1..ZS_MAX_PAGES_PER_ZSPAGE 4 KiB pages that are NOT contiguous in memory, so
 * an object may straddle two pages. Users get an opaque handle, never a
 * pointer; compaction moves objects and rewrites only the handle's word.
 *
 * Access follows the 2025 kernel API:
 *   zs_obj_read_begin() / zs_obj_read_end()  read an object; between the two
 *       the caller holds only the zspage read lock and may sleep;
 *   zs_obj_write()                          one copy into the pool pages.
 *
 * Locking (see zs_internal.h for the rules): pool lock (rwlock) -> class lock
 * -> zspage lock. No function here returns with the pool or a class lock held.
 * The allocator never prints, never exits, and never calls malloc on the
 * mapping paths.
 */
#ifndef UZRAM_ZSMALLOC_H
#define UZRAM_ZSMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZS_PAGE_SIZE 4096u
#define ZS_MIN_ALLOC_SIZE 32u
#define ZS_MAX_ALLOC_SIZE ZS_PAGE_SIZE
#define ZS_SIZE_CLASS_DELTA 16u
#define ZS_SIZE_CLASSES 255u

/* Opaque object handle; 0 is never a valid handle. */
typedef uintptr_t zs_handle_t;

struct zs_pool;

/*
 * zs_create_pool - create an empty pool.
 * @name: a label for statistics (copied; may be NULL).
 * Returns the pool, or NULL with errno = ENOMEM.
 */
struct zs_pool *zs_create_pool(const char *name);

/*
 * zs_destroy_pool - free every object, zspage and page of @pool and the pool.
 * No other thread may use the pool during or after the call. NULL is a no-op.
 */
void zs_destroy_pool(struct zs_pool *pool);

/*
 * zs_malloc - allocate an object of @size bytes.
 * @handle: receives the new handle on success.
 * Returns 0, -EINVAL if @size is 0, -ENOSPC if @size > ZS_MAX_ALLOC_SIZE,
 * -ENOMEM if no memory could be had from the OS.
 * The content of a new object is unspecified until zs_obj_write().
 * Locking: takes the class lock; may take the page layer's lock.
 */
int zs_malloc(struct zs_pool *pool, size_t size, zs_handle_t *handle);

/*
 * zs_free - free the object behind @handle (0 is a no-op). The handle must not
 * be mapped by this thread and must not be used again.
 * Locking: pool lock (read) -> class lock.
 */
void zs_free(struct zs_pool *pool, zs_handle_t handle);

/*
 * zs_obj_read_begin - map the object behind @handle for reading.
 * @local_copy: a buffer of at least ZS_PAGE_SIZE bytes, used only if the
 *   object straddles two pages; may be NULL if the caller knows it cannot
 *   (objects of a huge class never straddle).
 * Returns a pointer to the object's bytes: into the pool page itself when the
 * object lies in one page, else @local_copy. Valid until zs_obj_read_end().
 * Between the two the caller holds the zspage read lock only: it may block,
 * sleep or take as long as it likes; compaction skips that zspage meanwhile.
 * Locking: pool lock (read, briefly) -> zspage lock (read, kept).
 */
void *zs_obj_read_begin(struct zs_pool *pool, zs_handle_t handle,
			void *local_copy);

/*
 * zs_obj_read_end - end the mapping begun by zs_obj_read_begin().
 * @mem: the pointer zs_obj_read_begin() returned.
 * Locking: releases the zspage read lock.
 */
void zs_obj_read_end(struct zs_pool *pool, zs_handle_t handle, void *mem);

/*
 * zs_obj_write - copy @len bytes from @src into the object behind @handle.
 * @len must not exceed the size given to zs_malloc(). The copy goes straight
 * into the pool pages, split in two only at a page boundary.
 * The caller must ensure no one else writes or frees the object meanwhile.
 * Locking: pool lock (read, briefly) -> zspage lock (read, for the copy).
 */
void zs_obj_write(struct zs_pool *pool, zs_handle_t handle, const void *src,
		  size_t len);

/*
 * zs_compact - move objects from the emptiest zspages of each class into the
 * fullest and free the zspages emptied. Zspages a reader holds are skipped,
 * never waited for. Only one compaction runs per pool at a time: a second
 * caller returns 0 at once.
 * Returns the number of pages freed (also added to pages_compacted).
 * Locking: class lock -> zspage write-trylock; drops them between zspages
 * when others wait.
 */
size_t zs_compact(struct zs_pool *pool);

/* Source zspages zs_compact_paced() moves between two calls of @pace */
#define ZS_COMPACT_STEP 16u

/*
 * zs_compact_paced - zs_compact(), but after every ZS_COMPACT_STEP source
 * zspages it drops its locks and calls @pace(@arg), which may sleep: a
 * background compactor gives the CPU back to others there, holding
 * nothing anyone waits for. @pace NULL: as zs_compact().
 */
size_t zs_compact_paced(struct zs_pool *pool, void (*pace)(void *arg),
			void *arg);

/* zs_get_total_pages - pages the pool holds now (zspages' pages). */
size_t zs_get_total_pages(struct zs_pool *pool);

/*
 * zs_pool_drain - give the free-page cache (up to 1 MiB of free pages kept
 * resident to absorb churn) back to the OS. For a caller that went idle.
 * Any thread, any time; takes only the page layer's lock.
 */
void zs_pool_drain(struct zs_pool *pool);

/*
 * zs_pool_prefault - while @on, each 2 MiB chunk of pages the pool maps is
 * made resident at once (one madvise(MADV_POPULATE_WRITE)) rather than page
 * by page at first touch: about a third less system time for a bulk fill
 * that will use it all (a snapshot restore). Off by default, so resident
 * memory follows the pages used. A kernel without MADV_POPULATE_WRITE
 * (before 5.14) faults as before. Any thread, any time.
 */
void zs_pool_prefault(struct zs_pool *pool, bool on);

/*
 * zs_huge_class_size - the smallest object size (in bytes, as passed to
 * zs_malloc) that lands in a huge class, i.e. gets a whole page to itself.
 * zram stores pages that compress to this size or more uncompressed.
 */
size_t zs_huge_class_size(struct zs_pool *pool);

/*
 * zs_lookup_class_index - the canonical (after merging) class index an object
 * of @size bytes lands in, or -EINVAL/-ENOSPC as zs_malloc() would fail.
 */
int zs_lookup_class_index(struct zs_pool *pool, size_t size);

/* Pool-wide counters, copied out whole by zs_pool_stats(). */
struct zs_pool_stats {
	uint64_t pages_allocated; /* pages held now, = zs_get_total_pages() */
	uint64_t pages_compacted; /* pages freed by zs_compact(), ever */
	uint64_t objs_allocated;  /* object slots in all zspages */
	uint64_t objs_used;	  /* live objects */
	uint64_t zspages;	  /* zspages held now */
	uint64_t metadata_bytes;  /* zspage descriptors + handle table + maps */
};

void zs_pool_stats(struct zs_pool *pool, struct zs_pool_stats *stats);

/* Number of fullness columns in a class row: 10% .. 90%, 99%, 100%. */
#define ZS_FULLNESS_COLUMNS 11

/* One row of the kernel's debugfs `classes` table. */
struct zs_class_stats {
	unsigned int index; /* canonical class index */
	unsigned int size;  /* class (slot) size in bytes */
	uint64_t zspages_by_fullness[ZS_FULLNESS_COLUMNS];
	uint64_t obj_allocated;
	uint64_t obj_used;
	uint64_t pages_used;
	unsigned int pages_per_zspage;
	unsigned int objs_per_zspage;
	uint64_t freeable; /* pages zs_compact() could free */
};

/*
 * zs_class_stats_get - copy out class @index's row.
 * Returns 0, -ENOENT if @index was merged into a larger class (not a row of
 * its own), -EINVAL if @index >= ZS_SIZE_CLASSES.
 * Locking: class lock.
 */
int zs_class_stats_get(struct zs_pool *pool, unsigned int index,
		       struct zs_class_stats *out);

/*
 * zs_os_release - give the pages of [@addr, @addr + @bytes) (page-aligned,
 * private anonymous memory) back to the OS and keep the range mapped: the
 * next touch reads zeros. Works on memory locked by mlockall() too (unlocks
 * the range, drops it, locks it again on fault), which a plain MADV_DONTNEED
 * refuses. The allocator's own releases and the store's slot table use it.
 * Returns 0, or -errno of madvise/munlock/mlock2 (the memory may stay
 * resident; its content is then unchanged or zero, nothing else changes).
 */
int zs_os_release(void *addr, size_t bytes);

/*
 * zs_os_heap_trim - give the free memory of malloc's arenas back to the OS
 * (glibc's malloc_trim(0)), for threads that go idle and passes that freed
 * large buffers. A no-op in sanitizer builds: there ASan/TSan own malloc,
 * glibc's arenas are never used, and two first malloc_trim() calls at once
 * race glibc's lazy arena set-up (a SEGV seen in the ASan e2e run).
 */
void zs_os_heap_trim(void);

#endif
