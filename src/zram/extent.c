/*
 * extent.c - what a range of the disk holds, read from the slot table
 * without touching the pool (zram_extent(), the nbdkit plugin's .extents).
 *
 * A page is a hole when its slot holds no data, zero when it is same-filled
 * with the word 0, data otherwise. Clients use this to skip ranges
 * (nbdcopy, qemu-img convert), so a wrong "hole" would lose data while a
 * wrong "data" only costs a read: a slot whose flags and handle are seen
 * half-way through a change may only ever be reported as data.
 *
 * Locking: none. Each slot's flags word is read once (acquire) and the
 * handle after it; the answer is as of some instant during the call, which
 * is all NBD promises for a disk that is being written.
 */
#include <errno.h>

#include "zram_internal.h"

static enum zram_extent_kind slot_kind(struct zram_slot *slot)
{
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_acquire);
	uint64_t h;

	if (f & SLOT_LOCK)
		return ZRAM_EXTENT_DATA; /* changing: claim nothing */
	if (!slot_holds_data(f))
		return ZRAM_EXTENT_HOLE;
	if (!(f & SLOT_SAME))
		return ZRAM_EXTENT_DATA;
	h = atomic_load_explicit(&slot->handle, memory_order_relaxed);
	/* the handle must belong to the flags just read: re-check them */
	if (atomic_load_explicit(&slot->flags, memory_order_acquire) != f)
		return ZRAM_EXTENT_DATA;
	return h ? ZRAM_EXTENT_DATA : ZRAM_EXTENT_ZERO;
}

int64_t zram_extent(struct zram *z, uint64_t off, uint64_t max,
		    enum zram_extent_kind *kind)
{
	uint64_t first, last, i, disk = z->nr_slots * ZRAM_PAGE_SIZE;
	enum zram_extent_kind k;

	if (off >= disk || !max)
		return -EINVAL;
	if (max > disk - off)
		max = disk - off;
	first = off / ZRAM_PAGE_SIZE;
	last = (off + max - 1) / ZRAM_PAGE_SIZE;
	k = slot_kind(&z->table[first]);
	for (i = first + 1; i <= last; i++)
		if (slot_kind(&z->table[i]) != k)
			break;
	*kind = k;
	return (int64_t)((i - first) * ZRAM_PAGE_SIZE);
}
