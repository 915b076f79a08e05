/*
 * zs_map.c - the mapping API: zs_obj_read_begin/end and zs_obj_write.
 *
 * Locking: the zspage lock (read, held for the access), taken by the
 * lock-free translation zs_obj_pin() (its rules: zs_internal.h). The zspage
 * lock rules are in zs_zspage.c: readers may sleep holding it; the writer
 * (compaction) only try-locks. No pool-wide lock: a compactor preempted in
 * the middle of a zspage holds up only the readers of that zspage.
 * No class lock, no malloc, no per-thread buffer: between begin and end the
 * caller holds only the zspage read lock and may sleep; compaction, the
 * only mover, skips a read-locked zspage.
 *
 * An object that lies in one page is returned in place (zero copies); one
 * that straddles two pages is copied whole (its slot, header included) into
 * the caller's local_copy. Writes go straight into the pool pages, split at
 * the page boundary only.
 */
#include <string.h>

#include "zs_internal.h"

/*
 * Locking: returns with the zspage read lock held. Before the check only
 * the entry's lock word is touched: the entry may be free or reused.
 */
struct zspage *zs_obj_pin(struct zs_pool *pool, zs_handle_t handle,
			  uint32_t *pn, unsigned int *idx)
{
	struct zspage *zspage;
	uint64_t word;
	uint32_t zid;

	for (;;) {
		word = handle_word(pool, handle);
		zid = zspage_id_of_page(pool, word_pn(word));
		zspage = idtable_entry_try(&pool->zspages, zid);
		if (!zspage)
			continue; /* a free page's link: the object moved */
		zspage_read_lock(zspage);
		if (handle_word(pool, handle) == word &&
		    zspage_id_of_page(pool, word_pn(word)) == zid)
			break;
		zspage_read_unlock(zspage);
	}
	assert(zspage->magic == ZS_ZSPAGE_MAGIC);
	*pn = word_pn(word);
	*idx = word_idx(word);
	return zspage;
}

void *zs_obj_read_begin(struct zs_pool *pool, zs_handle_t handle,
			void *local_copy)
{
	struct zs_size_class *class;
	struct zspage *zspage;
	unsigned char *addr;
	unsigned int idx, off, first;
	uint32_t pn;

	zspage = zs_obj_pin(pool, handle, &pn, &idx);
	class = pool->size_class[zspage->class_idx];
	addr = page_addr(&pool->pages, pn);
	if (class->huge)
		return addr;
	off = obj_offset(class, idx);
	if (off + class->size <= ZS_PAGE_SIZE)
		return addr + off + ZS_HANDLE_SIZE;
	first = ZS_PAGE_SIZE - off;
	memcpy(local_copy, addr + off, first);
	memcpy((unsigned char *)local_copy + first,
	       page_addr(&pool->pages, page_desc(&pool->pages, pn)->next),
	       class->size - first);
	return (unsigned char *)local_copy + ZS_HANDLE_SIZE;
}

/*
 * Locking: the zspage read lock pins the object, so its handle word cannot
 * change until we drop it; no pool lock needed.
 */
void zs_obj_read_end(struct zs_pool *pool, zs_handle_t handle, void *mem)
{
	uint64_t word = handle_word(pool, handle);
	struct zspage *zspage =
		zspage_get(pool, zspage_id_of_page(pool, word_pn(word)));

	(void)mem;
	zspage_read_unlock(zspage);
}

void zs_obj_write(struct zs_pool *pool, zs_handle_t handle, const void *src,
		  size_t len)
{
	struct zs_size_class *class;
	struct zspage *zspage;
	unsigned char *addr;
	unsigned int idx, off;
	size_t first;
	uint32_t pn;

	zspage = zs_obj_pin(pool, handle, &pn, &idx);
	class = pool->size_class[zspage->class_idx];
	addr = page_addr(&pool->pages, pn);
	if (class->huge) {
		assert(len <= ZS_PAGE_SIZE);
		memcpy(addr, src, len);
		goto out;
	}
	assert(len <= class->size - ZS_HANDLE_SIZE);
	off = obj_offset(class, idx) + ZS_HANDLE_SIZE;
	if (off + len <= ZS_PAGE_SIZE) {
		memcpy(addr + off, src, len);
		goto out;
	}
	first = ZS_PAGE_SIZE - off;
	memcpy(addr + off, src, first);
	memcpy(page_addr(&pool->pages, page_desc(&pool->pages, pn)->next),
	       (const unsigned char *)src + first, len - first);
out:
	zspage_read_unlock(zspage);
}
