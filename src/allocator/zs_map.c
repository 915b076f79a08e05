/*
 * zs_map.c - the mapping API: zs_obj_read_begin/end and zs_obj_write.
 *
 * Lock order: pool->lock (read, only to translate the handle) -> zspage lock
 * (read, held for the access). The zspage lock rules are in zs_zspage.c:
 * readers may sleep holding it; the writer (compaction) only try-locks.
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
 * obj_pin - translate @handle and read-lock its zspage.
 * Locking: takes and drops the pool read lock; returns with the zspage read
 * lock held.
 */
static struct zspage *obj_pin(struct zs_pool *pool, zs_handle_t handle,
			      uint32_t *pn, unsigned int *idx)
{
	struct zspage *zspage;
	uint64_t word;

	pool_read_lock(pool);
	word = handle_word(pool, handle);
	*pn = word_pn(word);
	*idx = word_idx(word);
	zspage = zspage_get(pool, zspage_id_of_page(pool, *pn));
	assert(zspage->magic == ZS_ZSPAGE_MAGIC);
	zspage_read_lock(zspage);
	pool_read_unlock(pool);
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

	zspage = obj_pin(pool, handle, &pn, &idx);
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

	zspage = obj_pin(pool, handle, &pn, &idx);
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
