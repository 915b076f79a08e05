/*
 * zs_pages.c - the page layer: 4 KiB pages numbered like PFNs.
 *
 * Pages are carved from 2 MiB chunks mapped through the OS layer. A page
 * number (pn) is chunk_index * ZS_CHUNK_PAGES + page_in_chunk; the chunk
 * directory (ZS_MAX_CHUNKS slots, one lazily touched mapping) turns it into
 * an address with two loads and no lock. Each chunk mapping starts with one
 * page holding the descriptors of its pages (next page of the zspage chain,
 * owning zspage id): 8 bytes a page.
 *
 * Free pages go on one of two LIFO lists linked through their descriptors:
 *   hot  - at most ZS_HOT_PAGES_MAX pages kept resident, to absorb churn;
 *          beyond that all but ZS_HOT_PAGES_KEEP are trimmed in one batch:
 *          detached under the lock, given back to the OS with the lock
 *          dropped (one madvise per run of neighbouring pages), then
 *          put on the cold list;
 *   cold - pages whose memory went back to the OS (MADV_DONTNEED).
 * pages_drain() (zs_pool_drain(), when the caller is idle) moves every hot
 * page to cold.
 * Never-used pages of the newest chunk are handed out before a new chunk is
 * mapped; they are not resident until first written (unless the pool
 * prefaults: zs_pool_prefault(), for bulk fills). So the process's
 * resident memory follows the number of allocated pages, within
 * ZS_HOT_PAGES_MAX pages. Chunks are unmapped only when the pool dies.
 *
 * Locking: pages->lock guards the lists and counters; it is a leaf lock.
 * Descriptors of allocated pages belong to their zspage (see zs_zspage.c).
 */
#include <errno.h>
#include <string.h>

#include "zs_internal.h"

/* A chunk mapping: its descriptor page, then its pages. */
#define ZS_CHUNK_BYTES (((size_t)ZS_CHUNK_PAGES + 1) << ZS_PAGE_SHIFT)
#define ZS_CHUNK_DIR_BYTES ((size_t)ZS_MAX_CHUNKS * sizeof(void *))

int pages_init(struct zs_pages *pages)
{
	memset(pages, 0, sizeof(*pages));
	pages->chunks = os_map(ZS_CHUNK_DIR_BYTES);
	if (!pages->chunks)
		return -ENOMEM;
	pages->hot_head = ZS_PN_NONE;
	pages->cold_head = ZS_PN_NONE;
	zs_mutex_init(&pages->lock);
	return 0;
}

void pages_destroy(struct zs_pages *pages)
{
	struct zs_chunk *chunk;
	unsigned int i;

	if (!pages->chunks)
		return;
	for (i = 0; i < pages->nr_chunks; i++) {
		chunk = atomic_load_explicit(&pages->chunks[i],
					     memory_order_relaxed);
		os_unmap(chunk, ZS_CHUNK_BYTES);
	}
	os_unmap(pages->chunks, ZS_CHUNK_DIR_BYTES);
	pthread_mutex_destroy(&pages->lock);
	pages->chunks = NULL;
}

/* Locking: pages->lock held. */
static int chunk_add(struct zs_pages *pages)
{
	struct zs_chunk *chunk;

	if (pages->nr_chunks == ZS_MAX_CHUNKS)
		return -ENOSPC;
	chunk = os_map(ZS_CHUNK_BYTES);
	if (!chunk)
		return -ENOMEM;
	if (atomic_load_explicit(&pages->prefault, memory_order_relaxed))
		os_populate(chunk, ZS_CHUNK_BYTES);
	zs_poison((unsigned char *)chunk + ZS_PAGE_SIZE,
		  ZS_CHUNK_BYTES - ZS_PAGE_SIZE);
	atomic_store_explicit(&pages->chunks[pages->nr_chunks], chunk,
			      memory_order_release);
	pages->next_fresh = pages->nr_chunks << ZS_CHUNK_SHIFT;
	pages->nr_chunks++;
	return 0;
}

/* Locking: pages->lock held. */
static int page_take(struct zs_pages *pages, uint32_t *pn)
{
	uint32_t *head;
	int err;

	if (pages->hot_head != ZS_PN_NONE) {
		head = &pages->hot_head;
		pages->nr_hot--;
	} else if (pages->cold_head != ZS_PN_NONE) {
		head = &pages->cold_head;
	} else {
		if (!pages->nr_chunks ||
		    pages->next_fresh == pages->nr_chunks << ZS_CHUNK_SHIFT) {
			err = chunk_add(pages);
			if (err)
				return err;
		}
		*pn = pages->next_fresh++;
		goto out;
	}
	*pn = *head;
	*head = page_desc(pages, *pn)->zspage;
out:
	zs_unpoison(page_addr(pages, *pn), ZS_PAGE_SIZE);
	return 0;
}

/* Locking: pages->lock held. */
static void page_put(struct zs_pages *pages, uint32_t pn)
{
	struct zs_page_desc *desc = page_desc(pages, pn);

	desc->zspage = pages->hot_head;
	desc->next = ZS_PN_NONE;
	pages->hot_head = pn;
	pages->nr_hot++;
	zs_poison(page_addr(pages, pn), ZS_PAGE_SIZE);
}

/*
 * Locking: pages->lock held. Detach the hot pages beyond ZS_HOT_PAGES_KEEP
 * into a private list (returned, with its tail in *@tail), or ZS_PN_NONE.
 */
static uint32_t hot_trim(struct zs_pages *pages, uint32_t *tail)
{
	uint32_t head = pages->hot_head, pn = head;
	unsigned int n = pages->nr_hot - ZS_HOT_PAGES_KEEP;

	if (pages->nr_hot <= ZS_HOT_PAGES_MAX)
		return ZS_PN_NONE;
	while (--n)
		pn = page_desc(pages, pn)->zspage;
	pages->hot_head = page_desc(pages, pn)->zspage;
	page_desc(pages, pn)->zspage = ZS_PN_NONE;
	pages->nr_hot = ZS_HOT_PAGES_KEEP;
	*tail = pn;
	return head;
}

/*
 * A failed release (only if even the unlock of a locked range fails) leaves
 * the pages resident on the cold list: they are reused as any cold page, so
 * nothing but the memory figure is wrong, and debug builds stop here.
 */
static void run_release(struct zs_pages *pages, uint32_t lo, uint32_t hi)
{
	int err = os_release(page_addr(pages, lo), (size_t)(hi - lo + 1)
							   << ZS_PAGE_SHIFT);

	assert(!err);
	(void)err;
}

/*
 * Give a private list of pages back to the OS, one madvise per run of
 * neighbours in one chunk, then put it on the cold list.
 * Locking: pages->lock NOT held (the syscalls run unlocked).
 */
static void cold_release(struct zs_pages *pages, uint32_t head, uint32_t tail)
{
	uint32_t pn, lo = head, hi = head;

	for (pn = page_desc(pages, head)->zspage; pn != ZS_PN_NONE;
	     pn = page_desc(pages, pn)->zspage) {
		bool same_chunk = pn >> ZS_CHUNK_SHIFT == lo >> ZS_CHUNK_SHIFT;

		if (same_chunk && pn == hi + 1) {
			hi = pn;
		} else if (same_chunk && pn + 1 == lo) {
			lo = pn;
		} else {
			run_release(pages, lo, hi);
			lo = pn;
			hi = pn;
		}
	}
	run_release(pages, lo, hi);
	pthread_mutex_lock(&pages->lock);
	page_desc(pages, tail)->zspage = pages->cold_head;
	pages->cold_head = head;
	pthread_mutex_unlock(&pages->lock);
}

/*
 * pages_alloc - @nr pages into @pns. Returns 0, or -ENOMEM / -ENOSPC with
 * nothing allocated.
 */
int pages_alloc(struct zs_pages *pages, unsigned int nr, uint32_t *pns)
{
	unsigned int i;
	int err = 0;

	pthread_mutex_lock(&pages->lock);
	for (i = 0; i < nr; i++) {
		err = page_take(pages, &pns[i]);
		if (err)
			goto err_put;
	}
	pthread_mutex_unlock(&pages->lock);
	return 0;

err_put:
	while (i--)
		page_put(pages, pns[i]);
	pthread_mutex_unlock(&pages->lock);
	return err;
}

void pages_free(struct zs_pages *pages, unsigned int nr, const uint32_t *pns)
{
	uint32_t head, tail = ZS_PN_NONE;
	unsigned int i;

	pthread_mutex_lock(&pages->lock);
	for (i = 0; i < nr; i++)
		page_put(pages, pns[i]);
	head = hot_trim(pages, &tail);
	pthread_mutex_unlock(&pages->lock);
	if (head != ZS_PN_NONE)
		cold_release(pages, head, tail);
}

/*
 * pages_drain - give every hot page back to the OS (the pool went idle:
 * the cache would only keep memory resident until the next writes).
 */
void pages_drain(struct zs_pages *pages)
{
	uint32_t head, tail;

	pthread_mutex_lock(&pages->lock);
	head = pages->hot_head;
	for (tail = head;
	     tail != ZS_PN_NONE && page_desc(pages, tail)->zspage != ZS_PN_NONE;
	     tail = page_desc(pages, tail)->zspage)
		;
	pages->hot_head = ZS_PN_NONE;
	pages->nr_hot = 0;
	pthread_mutex_unlock(&pages->lock);
	if (head != ZS_PN_NONE)
		cold_release(pages, head, tail);
}

/* pages_meta_bytes - the chunk directory (as touched) and descriptors. */
uint64_t pages_meta_bytes(struct zs_pages *pages)
{
	uint64_t chunks, dir;

	pthread_mutex_lock(&pages->lock);
	chunks = pages->nr_chunks;
	pthread_mutex_unlock(&pages->lock);
	dir = (chunks * sizeof(void *) + ZS_PAGE_SIZE - 1) &
	      ~(uint64_t)(ZS_PAGE_SIZE - 1);
	return dir + chunks * sizeof(struct zs_chunk);
}
