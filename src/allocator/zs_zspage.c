/*
 * zs_zspage.c - zspages: their lock, their pages, their objects.
 *
 * A zspage is a 32-byte entry of the pool's zspage table plus
 * class->pages_per_zspage pages chained through their descriptors
 * (desc->next). Free objects form a list threaded through their first word
 * (next free obj_idx << 1, tag bit clear); zspage->freeobj is its head.
 * Invariants (under the class lock): inuse objects are allocated, the
 * others are on the free list; the zspage sits on the fullness list of
 * fullness_of(inuse); an empty zspage is detached and destroyed at once.
 *
 * Lock order: class->lock -> zspage lock -> leaf mutexes (id tables, page
 * layer); zs_free pins (zspage read lock) before its class lock.
 *   class->lock   inuse, freeobj, fullness, list links, huge_handle
 *   zspage lock   pins the zspage's objects in place (see below)
 *
 * The zspage lock (lock: >0 readers, 0 unlocked, -1 write-locked):
 *   - readers may sleep, block or be preempted while holding it;
 *   - the writer (compaction) holds the class lock and only try-locks; it
 *     never waits for a reader;
 *   - a reader that finds it write-locked yields ZSPAGE_SPINS times, then
 *     sleeps on a futex on the lock word, counted in waiters; the writer's
 *     unlock wakes every sleeper if waiters != 0. The seq_cst store of 0 /
 *     load of waiters on the writer side and the seq_cst increment of
 *     waiters / futex check of the lock word on the reader side make sure a
 *     sleeper is always woken. A reader waits here only for a compactor
 *     that is moving this very zspage;
 *   - a reader translating a handle lock-free may lock an entry that is
 *     free or was reused, then checks and unlocks (zs_internal.h): so the
 *     lock word is left alone by zspage_create() and the table's free
 *     link, and destroy does not assert it is 0.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zs_internal.h"

#define ZSPAGE_SPINS 64
#define ZSPAGE_WRLOCKED (-1)

static void zspage_wait(struct zspage *zspage)
{
	atomic_fetch_add_explicit(&zspage->waiters, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&zspage->lock, memory_order_seq_cst) ==
	    ZSPAGE_WRLOCKED)
		syscall(SYS_futex, (int *)&zspage->lock, FUTEX_WAIT_PRIVATE,
			ZSPAGE_WRLOCKED, NULL, NULL, 0);
	atomic_fetch_sub_explicit(&zspage->waiters, 1, memory_order_relaxed);
}

void zspage_read_lock(struct zspage *zspage)
{
	int v = atomic_load_explicit(&zspage->lock, memory_order_relaxed);
	unsigned int spins = 0;

	for (;;) {
		if (v >= 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &zspage->lock, &v, v + 1,
				    memory_order_acquire, memory_order_relaxed))
				return;
			continue;
		}
		if (spins++ < ZSPAGE_SPINS)
			sched_yield();
		else
			zspage_wait(zspage);
		v = atomic_load_explicit(&zspage->lock, memory_order_relaxed);
	}
}

void zspage_read_unlock(struct zspage *zspage)
{
	int old = atomic_fetch_sub_explicit(&zspage->lock, 1,
					    memory_order_release);

	(void)old;
	assert(old > 0);
}

/* Locking: pool write lock and class lock held (debug builds check this). */
bool zspage_write_trylock(struct zspage *zspage)
{
	int expected = 0;

	return atomic_compare_exchange_strong_explicit(
		&zspage->lock, &expected, ZSPAGE_WRLOCKED, memory_order_acquire,
		memory_order_relaxed);
}

void zspage_write_unlock(struct zspage *zspage)
{
	assert(atomic_load_explicit(&zspage->lock, memory_order_relaxed) ==
	       ZSPAGE_WRLOCKED);
	atomic_store_explicit(&zspage->lock, 0, memory_order_seq_cst);
	if (atomic_load_explicit(&zspage->waiters, memory_order_seq_cst))
		syscall(SYS_futex, (int *)&zspage->lock, FUTEX_WAKE_PRIVATE,
			INT_MAX, NULL, NULL, 0);
}

/* zspage_obj_page - the page object @obj_idx starts in. */
uint32_t zspage_obj_page(struct zs_pool *pool, struct zs_size_class *class,
			 struct zspage *zspage, unsigned int obj_idx)
{
	unsigned int k = (unsigned int)(((size_t)obj_idx * class->size) >>
					ZS_PAGE_SHIFT);
	uint32_t pn = zspage->first_page;

	while (k--)
		pn = page_desc(&pool->pages, pn)->next;
	return pn;
}

#ifdef UZRAM_ASAN
/* Poison or unpoison a slot past its first word (which stays readable). */
static void slot_poison(struct zs_pool *pool, struct zs_size_class *class,
			uint32_t pn, unsigned int off, bool poison)
{
	unsigned int start = off + ZS_HANDLE_SIZE, end = off + class->size;
	unsigned char *addr = page_addr(&pool->pages, pn);
	unsigned int first = (end > ZS_PAGE_SIZE ? ZS_PAGE_SIZE : end) - start;

	if (poison)
		zs_poison(addr + start, first);
	else
		zs_unpoison(addr + start, first);
	if (end <= ZS_PAGE_SIZE)
		return;
	addr = page_addr(&pool->pages, page_desc(&pool->pages, pn)->next);
	if (poison)
		zs_poison(addr, end - ZS_PAGE_SIZE);
	else
		zs_unpoison(addr, end - ZS_PAGE_SIZE);
}
#else
#define slot_poison(pool, class, pn, off, poison) \
	((void)(pool), (void)(class), (void)(pn), (void)(off), (void)(poison))
#endif

static void slot_word_set(struct zs_pool *pool, uint32_t pn, unsigned int off,
			  uint64_t word)
{
	memcpy(page_addr(&pool->pages, pn) + off, &word, sizeof(word));
}

static uint64_t slot_word(struct zs_pool *pool, uint32_t pn, unsigned int off)
{
	uint64_t word;

	memcpy(&word, page_addr(&pool->pages, pn) + off, sizeof(word));
	return word;
}

/* Link every object of a fresh zspage into its free list. */
static void zspage_init_freelist(struct zs_pool *pool,
				 struct zs_size_class *class,
				 struct zspage *zspage)
{
	uint32_t pn = zspage->first_page;
	unsigned int i, page = 0, k;
	size_t start;

	for (i = 0; i < class->objs_per_zspage; i++) {
		start = (size_t)i * class->size;
		k = (unsigned int)(start >> ZS_PAGE_SHIFT);
		for (; page < k; page++)
			pn = page_desc(&pool->pages, pn)->next;
		slot_word_set(
			pool, pn, obj_offset(class, i),
			(i + 1 < class->objs_per_zspage ? i + 1 : ZS_OBJ_END)
				<< 1);
		slot_poison(pool, class, pn, obj_offset(class, i), true);
	}
}

/*
 * zspage_create - a new, empty zspage of @class, not yet on any list.
 * Returns 0 with its id in *@id, or -ENOMEM / -ENOSPC.
 * Locking: none held (it may map memory).
 */
int zspage_create(struct zs_pool *pool, struct zs_size_class *class,
		  uint32_t *id)
{
	uint32_t pns[ZS_MAX_PAGES_PER_ZSPAGE];
	struct zspage *zspage;
	unsigned int k;
	int err;

	err = idtable_alloc(&pool->zspages, id);
	if (err)
		return err;
	err = pages_alloc(&pool->pages, class->pages_per_zspage, pns);
	if (err)
		goto err_free_id;
	zspage = zspage_get(pool, *id);
	/* all but lock and waiters: a stale reader may hold the lock now */
	memset((char *)zspage + offsetof(struct zspage, inuse), 0,
	       sizeof(*zspage) - offsetof(struct zspage, inuse));
	zspage->class_idx = (uint8_t) class->index;
	zspage->huge = class->huge;
	zspage->magic = ZS_ZSPAGE_MAGIC;
	zspage->first_page = pns[0];
	zspage->fullness = ZS_INUSE_RATIO_0;
	for (k = 0; k < class->pages_per_zspage; k++) {
		struct zs_page_desc *desc = page_desc(&pool->pages, pns[k]);

		desc->zspage = *id;
		desc->next = k + 1 < class->pages_per_zspage ? pns[k + 1]
							     : ZS_PN_NONE;
	}
	if (!class->huge)
		zspage_init_freelist(pool, class, zspage);
	atomic_fetch_add_explicit(&pool->pages_allocated,
				  class->pages_per_zspage,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&pool->nr_zspages, 1, memory_order_relaxed);
	return 0;

err_free_id:
	idtable_free(&pool->zspages, *id);
	return err;
}

/*
 * zspage_destroy - give a detached zspage's pages and id back.
 * Locking: none needed; the zspage is on no list and holds no object.
 */
void zspage_destroy(struct zs_pool *pool, uint32_t id)
{
	uint32_t pns[ZS_MAX_PAGES_PER_ZSPAGE];
	struct zspage *zspage = zspage_get(pool, id);
	unsigned int n = 0;
	uint32_t pn;

	assert(zspage->magic == ZS_ZSPAGE_MAGIC && zspage->inuse == 0);
	for (pn = zspage->first_page; pn != ZS_PN_NONE;
	     pn = page_desc(&pool->pages, pn)->next)
		pns[n++] = pn;
	zspage->magic = 0;
	pages_free(&pool->pages, n, pns);
	atomic_fetch_sub_explicit(&pool->pages_allocated, n,
				  memory_order_relaxed);
	atomic_fetch_sub_explicit(&pool->nr_zspages, 1, memory_order_relaxed);
	idtable_free(&pool->zspages, id);
}

/* Locking: class lock held. */
void zspage_list_insert(struct zs_pool *pool, struct zs_size_class *class,
			uint32_t id)
{
	struct zspage *zspage = zspage_get(pool, id);
	uint32_t *head = &class->fullness_list[zspage->fullness];

	zs_assert_class_locked(class);
	zspage->prev = 0;
	zspage->next = *head;
	if (*head)
		zspage_get(pool, *head)->prev = id;
	*head = id;
	class->nr_by_fullness[zspage->fullness]++;
}

/* Locking: class lock held. */
void zspage_list_remove(struct zs_pool *pool, struct zs_size_class *class,
			uint32_t id)
{
	struct zspage *zspage = zspage_get(pool, id);

	zs_assert_class_locked(class);
	if (zspage->prev)
		zspage_get(pool, zspage->prev)->next = zspage->next;
	else
		class->fullness_list[zspage->fullness] = zspage->next;
	if (zspage->next)
		zspage_get(pool, zspage->next)->prev = zspage->prev;
	zspage->prev = 0;
	zspage->next = 0;
	class->nr_by_fullness[zspage->fullness]--;
}

/* Locking: class lock held. Moves the zspage to its fullness group. */
void zspage_fix_fullness(struct zs_pool *pool, struct zs_size_class *class,
			 uint32_t id)
{
	struct zspage *zspage = zspage_get(pool, id);
	unsigned int group = fullness_of(class, zspage->inuse);

	if (group == zspage->fullness)
		return;
	zspage_list_remove(pool, class, id);
	zspage->fullness = (uint8_t)group;
	zspage_list_insert(pool, class, id);
}

/* Locking: class lock held. The fullest non-full zspage, or 0. */
uint32_t zspage_find_fullest(struct zs_pool *pool, struct zs_size_class *class)
{
	int g;

	(void)pool;
	for (g = ZS_INUSE_RATIO_99; g >= ZS_INUSE_RATIO_0; g--)
		if (class->fullness_list[g])
			return class->fullness_list[g];
	return 0;
}

/*
 * zspage_obj_alloc - take the first free object of zspage @zs_id for
 * @handle: write its header (or huge_handle), fix the fullness group.
 * Returns the obj_idx. The zspage must not be full. The caller points the
 * handle at it (handle_word_set) once the object's bytes are there: a
 * lock-free reader may follow the word at once.
 * Locking: class lock held.
 */
unsigned int zspage_obj_alloc(struct zs_pool *pool, struct zs_size_class *class,
			      uint32_t zs_id, uint32_t handle)
{
	struct zspage *zspage = zspage_get(pool, zs_id);
	unsigned int idx = zspage->freeobj;
	uint32_t pn = zspage_obj_page(pool, class, zspage, idx);
	unsigned int off = obj_offset(class, idx);

	zs_assert_class_locked(class);
	assert(idx != ZS_OBJ_END && zspage->inuse < class->objs_per_zspage);
	if (class->huge) {
		zspage->freeobj = ZS_OBJ_END;
		zspage->huge_handle = handle;
	} else {
		zspage->freeobj = (uint16_t)(slot_word(pool, pn, off) >> 1);
		slot_poison(pool, class, pn, off, false);
		slot_word_set(pool, pn, off,
			      ((uint64_t)handle << 1) | ZS_OBJ_ALLOCATED_TAG);
	}
	zspage->inuse++;
	class->objs_inuse++;
	zspage_fix_fullness(pool, class, zs_id);
	return idx;
}

/*
 * zspage_obj_free - put object @obj_idx (starting in page @pn) back on the
 * free list of zspage @zs_id and fix its fullness group. The caller detaches
 * and destroys the zspage if it became empty.
 * Locking: class lock held.
 */
void zspage_obj_free(struct zs_pool *pool, struct zs_size_class *class,
		     uint32_t zs_id, uint32_t pn, unsigned int obj_idx)
{
	struct zspage *zspage = zspage_get(pool, zs_id);
	unsigned int off = obj_offset(class, obj_idx);

	zs_assert_class_locked(class);
	assert(zspage->inuse > 0);
	if (class->huge) {
		zspage->huge_handle = 0;
	} else {
		slot_word_set(pool, pn, off, (uint64_t)zspage->freeobj << 1);
		slot_poison(pool, class, pn, off, true);
	}
	zspage->freeobj = (uint16_t)obj_idx;
	zspage->inuse--;
	class->objs_inuse--;
	zspage_fix_fullness(pool, class, zs_id);
}
