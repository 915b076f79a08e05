/*
 * zs_internal.h - private structures of the user-space zsmalloc.
 *
 * Objects: a pool has ZS_SIZE_CLASSES size classes; merged classes share one
 * struct zs_size_class (the canonical one, the largest of its run). A class
 * owns zspages; a zspage owns 1..ZS_MAX_PAGES_PER_ZSPAGE pages chained by
 * their page descriptors (pages are NOT contiguous). Object i of a zspage
 * starts at byte i * class->size of the logical chain.
 *
 * Numbers instead of pointers, to keep metadata small:
 *   page number (pn)  index of a 4 KiB page in the pool's chunk directory,
 *                     the kernel's PFN. Its descriptor: next page of the
 *                     chain and the owning zspage id (8 bytes per page).
 *   zspage id         index in the zspage table (32 bytes per zspage).
 *   handle            index in the handle table (8 bytes per object); the
 *                     entry holds the object's location word
 *                     (pn << ZS_OBJ_IDX_BITS | obj_idx), pn being the page the
 *                     object starts in. Compaction rewrites only that word.
 * Id 0 of each table is never handed out, so 0 means "none".
 *
 * In-object words (first 8 bytes of a slot; class sizes are multiples of 16,
 * so this word never straddles a page):
 *   allocated: handle << 1 | ZS_OBJ_ALLOCATED_TAG
 *   free:      next free obj_idx << 1 (ZS_OBJ_END << 1 ends the list)
 * A huge zspage (1 page, 1 object) has no header: its handle sits in
 * zspage->huge_handle and the payload starts at offset 0.
 *
 * Lock order (every file that takes more than one states it again):
 *   class->lock (mutex) -> zspage lock
 *   -> table/page-layer mutexes (leaves; never held while taking another)
 * (zs_free takes a zspage read lock, then the class lock: allowed because
 * nobody waits for a zspage lock while holding a class lock; compaction
 * only try-locks.)
 *
 * The zspage lock rules:
 *   - readers (read_begin/end, write, zs_free) may sleep, block or be
 *     preempted while holding it;
 *   - the only writer is compaction, which holds the class lock and ONLY
 *     ever try-locks it, skipping a zspage it cannot get;
 *   - a reader that finds it write-locked spins briefly, then sleeps on a
 *     futex; the writer's unlock wakes it (a writer can be preempted in user
 *     space, so a reader must not burn CPU waiting).
 *
 * Handles are translated without a pool lock (zs_obj_pin, zs_map.c): read
 * the handle word (acquire), read the zspage id of its page, read-lock that
 * zspage, then check that the word and the page's zspage id are unchanged;
 * if either moved, unlock and start again. A read-locked zspage cannot be
 * compaction's source, so once the check passes the object stays put until
 * the unlock; only readers of the one zspage being moved ever wait. For this
 * to be safe on ids read before the check:
 *   - a zspage table entry's lock word is never written except by the lock
 *     itself: the table's free-list link lives at offset 8 (link_offset),
 *     zspage_create() leaves lock and waiters alone, and a stale reader's
 *     lock and unlock of a freed or reused entry cancel out;
 *   - a page descriptor's zspage field is atomic (it is a free-list link
 *     while the page is free) and any id is looked up with
 *     idtable_entry_try(), which refuses ids whose block was never mapped;
 *   - compaction copies an object, then stores the new word with release,
 *     so a reader that loads it with acquire sees the copy.
 */
#ifndef UZRAM_ZS_INTERNAL_H
#define UZRAM_ZS_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zsmalloc.h"

#ifndef ZS_MAX_PAGES_PER_ZSPAGE
#define ZS_MAX_PAGES_PER_ZSPAGE 8
#endif
#if ZS_MAX_PAGES_PER_ZSPAGE < 1 || ZS_MAX_PAGES_PER_ZSPAGE > 16
#error "ZS_MAX_PAGES_PER_ZSPAGE must be 1..16"
#endif

#define ZS_PAGE_SHIFT 12
#define ZS_HANDLE_SIZE 8u
#define ZS_OBJ_ALLOCATED_TAG 1u
#define ZS_OBJ_IDX_BITS 12
#define ZS_OBJ_IDX_MASK ((1u << ZS_OBJ_IDX_BITS) - 1)
#define ZS_OBJ_END 0xffffu
#define ZS_PN_NONE UINT32_MAX
#define ZS_ZSPAGE_MAGIC 0x58

/* Fullness groups, as the kernel's ZS_INUSE_RATIO_*. */
enum {
	ZS_INUSE_RATIO_0 = 0,
	ZS_INUSE_RATIO_10 = 1,
	ZS_INUSE_RATIO_99 = 10,
	ZS_INUSE_RATIO_100 = 11,
	ZS_NR_FULLNESS = 12,
};

/* ------------------------------------------------------------------------
 * OS layer (zs_os.c): the only code that calls mmap, madvise and munmap.
 */
void *os_map(size_t bytes);
void os_unmap(void *addr, size_t bytes);
/* Returns 0 or -errno (the memory stays resident; nothing else changes). */
int os_release(void *addr, size_t bytes);
void os_populate(void *addr, size_t bytes);

/* ------------------------------------------------------------------------
 * Id tables (zs_idtable.c): slab-like arrays of fixed-size entries named by
 * a 32-bit id, in blocks from the OS layer, freed entries reused (LIFO).
 * Lookup takes no lock: a block, once mapped, stays until the table dies.
 */
struct zs_idtable {
	pthread_mutex_t lock;
	unsigned int entry_size;  /* bytes, >= link_offset + 4 */
	unsigned int link_offset; /* where a free entry holds the link */
	unsigned int block_shift; /* log2(entries per block) */
	unsigned int max_blocks;
	_Atomic(unsigned char *) *dir; /* max_blocks slots, from os_map */
	/* protected by lock: */
	unsigned int nr_blocks;
	uint32_t free_head; /* 0 = empty */
	uint32_t next_unused;
	uint64_t in_use;
};

int idtable_init(struct zs_idtable *t, unsigned int entry_size,
		 unsigned int link_offset, unsigned int block_shift,
		 unsigned int max_blocks);
void idtable_destroy(struct zs_idtable *t);
int idtable_alloc(struct zs_idtable *t, uint32_t *id);
void idtable_free(struct zs_idtable *t, uint32_t id);
uint64_t idtable_bytes(struct zs_idtable *t);

static inline void *idtable_entry(struct zs_idtable *t, uint32_t id)
{
	unsigned char *block = atomic_load_explicit(
		&t->dir[id >> t->block_shift], memory_order_acquire);
	uint32_t slot = id & ((1u << t->block_shift) - 1);

	return block + (size_t)slot * t->entry_size;
}

/*
 * idtable_entry_try - the entry of an id that may be stale or garbage (read
 * without a lock): NULL if 0 or if its block was never mapped, else
 * readable memory (whose content the caller must still validate).
 */
static inline void *idtable_entry_try(struct zs_idtable *t, uint32_t id)
{
	unsigned char *block;

	if (!id || id >> t->block_shift >= t->max_blocks)
		return NULL;
	block = atomic_load_explicit(&t->dir[id >> t->block_shift],
				     memory_order_acquire);
	if (!block)
		return NULL;
	return block +
	       (size_t)(id & ((1u << t->block_shift) - 1)) * t->entry_size;
}

/* ------------------------------------------------------------------------
 * Page layer (zs_pages.c): 4 KiB pages carved from 2 MiB chunks.
 */
#define ZS_CHUNK_SHIFT 9 /* 512 pages = 2 MiB per chunk */
#define ZS_CHUNK_PAGES (1u << ZS_CHUNK_SHIFT)
#define ZS_MAX_CHUNKS (1u << 16) /* 128 GiB of pages per pool */
#define ZS_HOT_PAGES_MAX 256	 /* free pages kept resident, at most */
#define ZS_HOT_PAGES_KEEP 64	 /* ... and after a trim */

struct zs_page_desc {
	uint32_t next; /* next page of the zspage chain, ZS_PN_NONE */
	/* owning zspage id while allocated; free-list link while free.
	 * Atomic: lock-free handle translation reads it unlocked. */
	_Atomic uint32_t zspage;
};

/*
 * One mapping: this descriptor page, then the chunk's ZS_CHUNK_PAGES pages.
 */
struct zs_chunk {
	struct zs_page_desc desc[ZS_CHUNK_PAGES];
};

_Static_assert(sizeof(struct zs_chunk) == ZS_PAGE_SIZE,
	       "chunk descriptors fill exactly one page");

struct zs_pages {
	pthread_mutex_t lock;
	_Atomic(struct zs_chunk *) *chunks; /* ZS_MAX_CHUNKS slots */
	/* protected by lock: */
	unsigned int nr_chunks;
	uint32_t next_fresh; /* first never-used pn of the last chunk */
	uint32_t hot_head;   /* free, still resident */
	uint32_t cold_head;  /* free, given back to the OS */
	unsigned int nr_hot;
	_Atomic bool prefault; /* zs_pool_prefault(): populate new chunks */
};

int pages_init(struct zs_pages *pages);
void pages_destroy(struct zs_pages *pages);
int pages_alloc(struct zs_pages *pages, unsigned int nr, uint32_t *pns);
void pages_free(struct zs_pages *pages, unsigned int nr, const uint32_t *pns);
void pages_drain(struct zs_pages *pages);
uint64_t pages_meta_bytes(struct zs_pages *pages);

static inline struct zs_chunk *pages_chunk(struct zs_pages *pages, uint32_t pn)
{
	return atomic_load_explicit(&pages->chunks[pn >> ZS_CHUNK_SHIFT],
				    memory_order_acquire);
}

static inline unsigned char *page_addr(struct zs_pages *pages, uint32_t pn)
{
	return (unsigned char *)pages_chunk(pages, pn) + ZS_PAGE_SIZE +
	       ((size_t)(pn & (ZS_CHUNK_PAGES - 1)) << ZS_PAGE_SHIFT);
}

static inline struct zs_page_desc *page_desc(struct zs_pages *pages,
					     uint32_t pn)
{
	return &pages_chunk(pages, pn)->desc[pn & (ZS_CHUNK_PAGES - 1)];
}

/* ------------------------------------------------------------------------
 * zspages (zs_zspage.c).
 */
/*
 * While free in the zspage table, bytes 8..11 (inuse, freeobj) hold the
 * table link (ZSPAGE_LINK_OFFSET): lock and waiters are never overwritten.
 */
#define ZSPAGE_LINK_OFFSET 8
struct zspage {
	_Atomic int lock;	  /* >0 readers, 0 free, -1 write-locked */
	_Atomic uint32_t waiters; /* readers asleep on the futex */
	/* protected by the class lock: */
	uint16_t inuse;	  /* allocated objects */
	uint16_t freeobj; /* first free obj_idx, ZS_OBJ_END if full */
	/* immutable while the zspage lives: */
	uint8_t class_idx; /* canonical class index */
	uint8_t huge;
	uint8_t magic;
	uint8_t fullness; /* protected by the class lock */
	uint32_t first_page;
	/* protected by the class lock: fullness list links (zspage ids) */
	uint32_t prev;
	uint32_t next;
	uint32_t huge_handle; /* huge zspages: the object's handle */
};

#define ZS_HANDLE_CACHE 30 /* free handle ids a class keeps */

struct zs_size_class {
	pthread_mutex_t lock;
	_Atomic uint32_t lock_waiters; /* threads blocked on lock */
	unsigned int index;	       /* canonical index */
	unsigned int size;	       /* slot size, header included */
	unsigned int pages_per_zspage;
	unsigned int objs_per_zspage;
	bool huge;
	/* protected by lock: */
	uint32_t fullness_list[ZS_NR_FULLNESS]; /* head zspage ids */
	uint64_t nr_by_fullness[ZS_NR_FULLNESS];
	uint64_t objs_allocated;
	uint64_t objs_inuse;
	/* handle ids freed in this class, reused first (no table lock) */
	unsigned int nr_cached;
	uint32_t handle_cache[ZS_HANDLE_CACHE];
};

struct zs_pool {
	_Atomic int compaction_in_progress;
	uint64_t compact_backoffs; /* lock drops for waiters; compactor only */
	_Atomic uint64_t pages_allocated;
	_Atomic uint64_t pages_compacted;
	_Atomic uint64_t nr_zspages;
	size_t huge_class_size;
	struct zs_pages pages;
	struct zs_idtable handles;
	struct zs_idtable zspages;
	struct zs_size_class *size_class[ZS_SIZE_CLASSES];
	struct zs_size_class classes[ZS_SIZE_CLASSES];
	char name[32];
};

/*
 * zs_mutex_init - the pool's mutexes guard short critical sections (no
 * syscall, no copy of object data), so they spin a little before sleeping.
 */
static inline void zs_mutex_init(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
}

/*
 * Debug builds check lock expectations where it is cheap: a try-lock that
 * fails means the lock is held (by us, the caller claims). Not under TSan,
 * which would see the failed try-lock of a held mutex as a report.
 */
#if !defined(NDEBUG) && !defined(UZRAM_TSAN)
static inline bool zs_mutex_held(pthread_mutex_t *lock)
{
	if (pthread_mutex_trylock(lock))
		return true;
	pthread_mutex_unlock(lock);
	return false;
}
#define zs_assert_class_locked(class) assert(zs_mutex_held(&(class)->lock))
#else
#define zs_assert_class_locked(class) ((void)(class))
#endif

/* A lock with a waiter count, so compaction can see it is in the way. */
void class_lock(struct zs_size_class *class);
void class_unlock(struct zs_size_class *class);

/* zs_class.c */
void classes_init(struct zs_pool *pool);
int class_index_of(size_t size);
unsigned int fullness_of(const struct zs_size_class *class, unsigned int inuse);
uint64_t class_freeable(const struct zs_size_class *class);

/* zs_zspage.c */
static inline struct zspage *zspage_get(struct zs_pool *pool, uint32_t id)
{
	return idtable_entry(&pool->zspages, id);
}

static inline uint32_t zspage_id_of_page(struct zs_pool *pool, uint32_t pn)
{
	return atomic_load_explicit(&page_desc(&pool->pages, pn)->zspage,
				    memory_order_relaxed);
}

/*
 * zs_obj_pin - translate @handle without a pool lock and read-lock its
 * zspage (see the rules at the top). Returns the zspage, the object's page
 * and index. The caller unlocks with zspage_read_unlock(). (zs_map.c)
 */
struct zspage *zs_obj_pin(struct zs_pool *pool, zs_handle_t handle,
			  uint32_t *pn, unsigned int *idx);

void zspage_read_lock(struct zspage *zspage);
void zspage_read_unlock(struct zspage *zspage);
bool zspage_write_trylock(struct zspage *zspage);
void zspage_write_unlock(struct zspage *zspage);

int zspage_create(struct zs_pool *pool, struct zs_size_class *class,
		  uint32_t *id);
void zspage_destroy(struct zs_pool *pool, uint32_t id);
void zspage_detach(struct zs_pool *pool, struct zs_size_class *class,
		   uint32_t id);
void zspage_list_insert(struct zs_pool *pool, struct zs_size_class *class,
			uint32_t id);
void zspage_list_remove(struct zs_pool *pool, struct zs_size_class *class,
			uint32_t id);
void zspage_fix_fullness(struct zs_pool *pool, struct zs_size_class *class,
			 uint32_t id);
uint32_t zspage_find_fullest(struct zs_pool *pool, struct zs_size_class *class);
uint32_t zspage_obj_page(struct zs_pool *pool, struct zs_size_class *class,
			 struct zspage *zspage, unsigned int obj_idx);
unsigned int zspage_obj_alloc(struct zs_pool *pool, struct zs_size_class *class,
			      uint32_t zs_id, uint32_t handle);
void zspage_obj_free(struct zs_pool *pool, struct zs_size_class *class,
		     uint32_t zs_id, uint32_t pn, unsigned int obj_idx);

/* Handle words (the handle table's entries). */
static inline _Atomic uint64_t *handle_slot(struct zs_pool *pool,
					    zs_handle_t handle)
{
	return idtable_entry(&pool->handles, (uint32_t)handle);
}

/* Acquire: pairs with handle_word_set() (the object's bytes are there). */
static inline uint64_t handle_word(struct zs_pool *pool, zs_handle_t handle)
{
	return atomic_load_explicit(handle_slot(pool, handle),
				    memory_order_acquire);
}

/* Release: after the object was copied to (pn, obj_idx) (compaction). */
static inline void handle_word_set(struct zs_pool *pool, zs_handle_t handle,
				   uint32_t pn, unsigned int obj_idx)
{
	atomic_store_explicit(handle_slot(pool, handle),
			      ((uint64_t)pn << ZS_OBJ_IDX_BITS) | obj_idx,
			      memory_order_release);
}

static inline uint32_t word_pn(uint64_t word)
{
	return (uint32_t)(word >> ZS_OBJ_IDX_BITS);
}

static inline unsigned int word_idx(uint64_t word)
{
	return (unsigned int)(word & ZS_OBJ_IDX_MASK);
}

static inline unsigned int obj_offset(const struct zs_size_class *class,
				      unsigned int obj_idx)
{
	return (unsigned int)(((size_t)obj_idx * class->size) &
			      (ZS_PAGE_SIZE - 1));
}

/* ASan poisoning of free pages and free object slots. */
#ifdef UZRAM_ASAN
#include <sanitizer/asan_interface.h>
#define zs_poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define zs_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define zs_poison(p, n) ((void)(p), (void)(n))
#define zs_unpoison(p, n) ((void)(p), (void)(n))
#endif

#endif
