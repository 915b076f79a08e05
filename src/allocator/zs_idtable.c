/*
 * zs_idtable.c - slab-like tables of fixed-size entries named by 32-bit ids.
 *
 * The handle table (8-byte entries) and the zspage table (32-byte entries)
 * are id tables. Entries live in blocks mapped from the OS layer on demand;
 * a directory (one mapping, touched only as far as it is used) maps an id's
 * high bits to its block, so a lookup is two loads and no lock. Freed
 * entries go on a LIFO free list threaded through their first 4 bytes and
 * are reused before any never-used entry. A free entry holds the link at
 * t->link_offset (the zspage table keeps its entries' lock words intact,
 * see zs_internal.h).
 *
 * Invariants: id 0 is never handed out; a block, once mapped, stays mapped
 * until idtable_destroy(), so an id that was ever valid always resolves to
 * readable memory; every id handed out is below next_unused. When the last
 * entry is freed the blocks' memory goes back to the OS and ids start again
 * from 1. Known limit: a table that is not empty keeps the memory of its
 * peak (the kernel's slab keeps partially used slabs too).
 *
 * Locking: t->lock guards the free list and the bump counter; it is a leaf
 * lock (nothing else is taken under it).
 */
#include <errno.h>
#include <string.h>

#include "zs_internal.h"

static size_t idtable_block_bytes(const struct zs_idtable *t)
{
	return (size_t)t->entry_size << t->block_shift;
}

static size_t idtable_dir_bytes(const struct zs_idtable *t)
{
	return (size_t)t->max_blocks * sizeof(*t->dir);
}

int idtable_init(struct zs_idtable *t, unsigned int entry_size,
		 unsigned int link_offset, unsigned int block_shift,
		 unsigned int max_blocks)
{
	memset(t, 0, sizeof(*t));
	t->entry_size = entry_size;
	t->link_offset = link_offset;
	t->block_shift = block_shift;
	t->max_blocks = max_blocks;
	t->next_unused = 1;
	t->dir = os_map(idtable_dir_bytes(t));
	if (!t->dir)
		return -ENOMEM;
	zs_mutex_init(&t->lock);
	return 0;
}

void idtable_destroy(struct zs_idtable *t)
{
	unsigned int i;

	if (!t->dir)
		return;
	for (i = 0; i < t->nr_blocks; i++)
		os_unmap(atomic_load_explicit(&t->dir[i], memory_order_relaxed),
			 idtable_block_bytes(t));
	os_unmap(t->dir, idtable_dir_bytes(t));
	pthread_mutex_destroy(&t->lock);
	t->dir = NULL;
}

/* Locking: t->lock held. */
static int idtable_grow(struct zs_idtable *t)
{
	unsigned char *block;

	if (t->nr_blocks == t->max_blocks)
		return -ENOSPC;
	block = os_map(idtable_block_bytes(t));
	if (!block)
		return -ENOMEM;
	atomic_store_explicit(&t->dir[t->nr_blocks], block,
			      memory_order_release);
	t->nr_blocks++;
	return 0;
}

/* idtable_alloc - a free id in *@id. Returns 0, -ENOMEM or -ENOSPC. */
int idtable_alloc(struct zs_idtable *t, uint32_t *id)
{
	int err = 0;

	pthread_mutex_lock(&t->lock);
	if (t->free_head) {
		*id = t->free_head;
		memcpy(&t->free_head,
		       (unsigned char *)idtable_entry(t, *id) + t->link_offset,
		       sizeof(uint32_t));
		goto out;
	}
	if (t->next_unused >> t->block_shift >= t->nr_blocks) {
		err = idtable_grow(t);
		if (err)
			goto out_unlock;
	}
	*id = t->next_unused++;
out:
	t->in_use++;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return err;
}

/*
 * Locking: t->lock held. The table is empty: give its memory back to the OS
 * and start again from id 1. Blocks stay mapped (now reading as zeroes), so
 * stale ids still resolve.
 */
static void idtable_release(struct zs_idtable *t)
{
	unsigned int i;
	int err;

	/* a failure leaves the block resident (see run_release()) */
	for (i = 0; i < t->nr_blocks; i++) {
		err = os_release(
			atomic_load_explicit(&t->dir[i], memory_order_relaxed),
			idtable_block_bytes(t));
		assert(!err);
		(void)err;
	}
	t->free_head = 0;
	t->next_unused = 1;
}

void idtable_free(struct zs_idtable *t, uint32_t id)
{
	pthread_mutex_lock(&t->lock);
	memcpy((unsigned char *)idtable_entry(t, id) + t->link_offset,
	       &t->free_head, sizeof(uint32_t));
	t->free_head = id;
	if (--t->in_use == 0)
		idtable_release(t);
	pthread_mutex_unlock(&t->lock);
}

static uint64_t page_round(uint64_t bytes)
{
	return (bytes + ZS_PAGE_SIZE - 1) & ~(uint64_t)(ZS_PAGE_SIZE - 1);
}

/*
 * idtable_bytes - memory the table holds: the entries touched since it was
 * last empty (every id handed out lies below next_unused) and the
 * directory, each as far as it was written.
 */
uint64_t idtable_bytes(struct zs_idtable *t)
{
	uint64_t bytes, dir;

	pthread_mutex_lock(&t->lock);
	bytes = (uint64_t)t->next_unused * t->entry_size;
	dir = (uint64_t)t->nr_blocks * sizeof(*t->dir);
	pthread_mutex_unlock(&t->lock);
	return page_round(bytes) + page_round(dir);
}
