/*
 * resize.c - online resize: the disk grows or shrinks while I/O runs.
 *
 * Lock order: ctrl_lock -> slot lock (one at a time) -> allocator locks.
 *
 * Growing opens more of the table's reservation (slot_table_grow(): the
 * table never moves) and then publishes the new nr_slots. A request checks
 * its range against nr_slots once on entry; one that started before the
 * publication simply saw the smaller disk.
 *
 * Shrinking must not lose a page, must not let a page appear past the end,
 * and, when it is refused, must not disturb any request. The rules:
 *   - A writer (anything that installs content: write, partial write,
 *     write-zeroes) calls slot_install_check() right after it takes the
 *     slot lock, and installs only if it returns 0. Past nr_slots it gets
 *     -ENOSPC, as past any end. At or past z->cut it gets -EAGAIN: it
 *     lets the lock go, waits in slot_cut_wait() for the shrink to decide
 *     and starts that page again.
 *   - The shrink (ctrl_lock held): a quick look without locks first, so
 *     the common refusal (data past the new end) touches nothing. Then it
 *     sets cut to the new end, and looks again at every slot past it under
 *     the slot's lock: a writer that took its lock before cut was set may
 *     still install, and the shrink waits for that lock, so it sees the
 *     page. No data: publish nr_slots, clear cut. Data: clear cut, -EBUSY;
 *     the writers that waited go on as if nothing happened.
 *   - seq_cst on both sides: the writer's RMW of its slot word before it
 *     reads cut, the shrink's store of cut before it reads the slots, so
 *     at least one of the two sees the other.
 *   - The writer reads cut before nr_slots; the shrink publishes nr_slots
 *     before it clears cut. A writer that reads cut cleared by this shrink
 *     then reads the new nr_slots and gets -ENOSPC. (Read the other way
 *     round, nr_slots from before the shrink and cut from after it both
 *     passed, on a slot the shrink had already looked at: the page went
 *     in past the new end, or was dropped with its table page, still
 *     counted in pages_stored and its object leaked.)
 *   - Table pages that are not resident were never touched, or were given
 *     back: all their slots are 0. mincore(2) finds them without faulting
 *     them in, so cutting a 16 TiB disk that holds a few pages looks at
 *     those pages, not at a 64 GiB table. A writer that takes a lock in
 *     such a page after cut is set backs off and installs nothing.
 *   - After a shrink the touched table pages wholly past the end go back
 *     to the OS through slot_table_release(): under all of the page's slot
 *     locks, so no thread holds one of them when the page is dropped and
 *     reads as 0 (empty, unlocked); sleepers on them are woken. The page
 *     must not be dropped under a lock holder: a writer that took its lock
 *     before the drop and read cut and nr_slots after a grow that followed
 *     (the mapping stays readable and writable) would install into a slot
 *     whose lock word no longer says it is held, and the next shrink's
 *     locked look would miss it. A page whose lock is taken while the
 *     release walks (its touched bit not yet set) stays resident: it is
 *     given back by a later shrink or whole-page discard.
 * A grow after a shrink finds the slots in between empty.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "slot_content.h"

/* Table pages per mincore(2) call: 16 MiB of table, 4 GiB of disk. */
#define MINCORE_CHUNK 4096u

/*
 * Test builds: with dbg_install_yield set, slot_install_check() gives the
 * CPU away between its steps, so that shrinks and grows land in the gaps
 * (the stress test's widened phase).
 */
static void install_check_yield(struct zram *z)
{
#ifdef UZRAM_TEST_HOOKS
	if (atomic_load_explicit(&z->dbg_install_yield, memory_order_relaxed))
		sched_yield();
#else
	(void)z;
#endif
}

int slot_install_check(struct zram *z, struct zram_slot *slot)
{
	uint64_t i = (uint64_t)(slot - z->table);

	/*
	 * A seq_cst read-modify-write of our own (locked, so uncontended)
	 * lock word before reading cut, against the shrink's seq_cst store
	 * of cut before it reads the slot: one of the two sees the other.
	 * (Not a fence: ThreadSanitizer does not model fences.)
	 */
	install_check_yield(z);
	atomic_fetch_or_explicit(&slot->flags, 0, memory_order_seq_cst);
	install_check_yield(z);
	/*
	 * cut before nr_slots: a shrink publishes nr_slots and then clears
	 * cut, so a cleared cut read here means the nr_slots read next is
	 * the shrink's. The other order could read nr_slots from before the
	 * shrink and cut from after it: both checks passed on a slot the
	 * shrink had already found empty, and the page was installed past
	 * the new end, or dropped with its table page (still counted, its
	 * object leaked).
	 */
	if (i >= atomic_load_explicit(&z->cut, memory_order_seq_cst))
		return -EAGAIN;
	install_check_yield(z);
	if (i >= atomic_load_explicit(&z->nr_slots, memory_order_seq_cst))
		return -ENOSPC;
	return 0;
}

void slot_cut_wait(struct zram *z, struct zram_slot *slot)
{
	uint64_t i = (uint64_t)(slot - z->table);

	/* a shrink holds cut for one scan of the resident tail: short */
	while (i >= atomic_load_explicit(&z->cut, memory_order_seq_cst))
		sched_yield();
}

/* Resident table pages in [@page, @page + @n) into @vec (1 = resident). */
static void table_resident(struct zram *z, uint64_t page, uint64_t n,
			   unsigned char *vec)
{
	if (mincore(&z->table[page * SLOTS_PER_TABLE_PAGE],
		    (size_t)n * ZRAM_TABLE_PAGE_SIZE, vec))
		memset(vec, 1, (size_t)n); /* cannot happen: look at all */
}

/*
 * Does any slot in [@from, @to) hold data? Unlocked (@locked false), a
 * slot that is locked counts too (a write may be under way); locked, each
 * slot that is not all zero is looked at under its lock.
 */
static bool tail_scan(struct zram *z, uint64_t from, uint64_t to, bool locked)
{
	uint64_t page = from / SLOTS_PER_TABLE_PAGE;
	uint64_t last = (to + SLOTS_PER_TABLE_PAGE - 1) / SLOTS_PER_TABLE_PAGE;
	unsigned char vec[MINCORE_CHUNK];

	while (page < last) {
		uint64_t n = last - page < MINCORE_CHUNK ? last - page
							 : MINCORE_CHUNK;
		uint64_t k, i;

		table_resident(z, page, n, vec);
		for (k = 0; k < n; k++) {
			uint64_t first = (page + k) * SLOTS_PER_TABLE_PAGE;

			if (!(vec[k] & 1))
				continue;
			for (i = first < from ? from : first;
			     i < first + SLOTS_PER_TABLE_PAGE && i < to; i++) {
				struct zram_slot *slot = &z->table[i];
				uint32_t f = atomic_load_explicit(
					&slot->flags, memory_order_seq_cst);

				if (!locked) {
					if (slot_holds_data(f) ||
					    (f & SLOT_LOCK_BITS))
						return true;
					continue;
				}
				if (!f)
					continue;
				slot_lock(z, slot);
				f = atomic_load_explicit(&slot->flags,
							 memory_order_relaxed);
				slot_unlock(slot);
				if (slot_holds_data(f))
					return true;
			}
		}
		page += n;
	}
	return false;
}

/*
 * The touched table pages wholly in [@from, @to) go back to the OS, each
 * under all of its slot locks (slot_table_release()), so no thread holds a
 * lock of a page while it is dropped (see the top). They hold no data: the
 * shrink found none and no writer installs past nr_slots.
 * Locking: ctrl_lock held; one page's slot locks at a time.
 */
static void tail_release(struct zram *z, uint64_t from, uint64_t to)
{
	uint64_t page =
		(from + SLOTS_PER_TABLE_PAGE - 1) / SLOTS_PER_TABLE_PAGE;
	uint64_t last = to / SLOTS_PER_TABLE_PAGE;
	uint64_t freed;

	for (page = table_page_next(z, page, last); page < last;
	     page = table_page_next(z, page + 1, last)) {
		freed = slot_table_release(z, page * SLOTS_PER_TABLE_PAGE);
		assert(!freed);
		(void)freed;
	}
}

static uint64_t table_pages(uint64_t nr_slots)
{
	return (nr_slots + SLOTS_PER_TABLE_PAGE - 1) / SLOTS_PER_TABLE_PAGE;
}

/* Locking: ctrl_lock held; takes slot locks past @nr one at a time. */
static int table_shrink(struct zram *z, uint64_t old, uint64_t nr)
{
	bool busy;

	if (tail_scan(z, nr, old, false))
		return -EBUSY;
	atomic_store_explicit(&z->cut, nr, memory_order_seq_cst);
	busy = tail_scan(z, nr, old, true);
	if (!busy) {
		atomic_store_explicit(&z->nr_slots, nr, memory_order_seq_cst);
		atomic_store_explicit(&z->nr_table_pages, table_pages(nr),
				      memory_order_relaxed);
	}
	atomic_store_explicit(&z->cut, UINT64_MAX, memory_order_seq_cst);
	if (busy)
		return -EBUSY;
	tail_release(z, nr, old);
	return 0;
}

int zram_resize(struct zram *z, uint64_t disksize)
{
	uint64_t nr, old;
	int err = 0;

	if (!disksize || disksize > ZRAM_MAX_SLOTS * ZRAM_PAGE_SIZE)
		return -EINVAL;
	nr = (disksize + ZRAM_PAGE_SIZE - 1) / ZRAM_PAGE_SIZE;
	pthread_mutex_lock(&z->ctrl_lock);
	old = atomic_load_explicit(&z->nr_slots, memory_order_relaxed);
	if (nr > old) {
		err = slot_table_grow(z, nr);
		if (!err)
			atomic_store_explicit(&z->nr_slots, nr,
					      memory_order_seq_cst);
		if (!err)
			atomic_store_explicit(&z->nr_table_pages,
					      table_pages(nr),
					      memory_order_relaxed);
	} else if (nr < old) {
		err = table_shrink(z, old, nr);
	}
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}
