/*
 * slot.c - the slot table and the per-slot lock.
 *
 * The table is one anonymous mapping of nr_slots 16-byte entries (see
 * struct zram_slot). Untouched table pages are never resident, so a large
 * empty disk costs address space, not memory.
 *
 * Lock order: slot lock -> allocator locks (zs_free under the slot lock).
 * Only one slot lock is ever held by one thread.
 *
 * The slot lock is a bit lock in the flags word, as zram's ZRAM_ENTRY_LOCK,
 * with futex wait/wake so the holder may sleep (decompress, allocate, or a
 * test hook's sleep) while waiters sleep too. Rules:
 *   - lock: set SLOT_LOCK with an acquire CAS. If it is held, set
 *     SLOT_WAITERS and FUTEX_WAIT on the whole word; a thread that slept
 *     takes the lock with SLOT_WAITERS set again, since others may still
 *     sleep (it may cost one needless wake, never a lost one).
 *   - unlock: clear both bits with a release RMW; FUTEX_WAKE all sleepers
 *     if SLOT_WAITERS was set.
 *   - the holder changes the other bits only with atomic RMWs that keep
 *     SLOT_LOCK_BITS, since a waiter may set SLOT_WAITERS at any time.
 *   - no recursion; never two slots at once, except slot_table_release(),
 *     which takes one table page's slots in ascending order. No other path
 *     waits for a second slot lock, so that cannot deadlock.
 *
 * Giving table memory back: once a table page has been written it stays
 * resident, 16 bytes per 4 KiB of disk (a 64 GiB disk trimmed to empty would
 * keep 256 MiB). slot_table_release() empties a whole table page under all
 * of its slot locks and MADV_DONTNEEDs it: the words read as 0 again (empty,
 * unlocked), and every slot's futex is woken afterwards, so a thread that
 * slept on one of the old locks wakes, sees 0, and takes the lock. A thread
 * about to sleep on the old value finds 0 and does not sleep.
 */
#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "slot_content.h"

_Static_assert(sizeof(struct zram_slot) == 16, "slot must be 16 bytes");
_Static_assert(ZRAM_PAGE_SIZE <= SLOT_SIZE_MASK, "size field too small");
_Static_assert(ZRAM_CODECS <= 4, "codec id has two bits");
_Static_assert(ZRAM_PRIOS <= 4, "priority has two bits");

int slot_table_create(struct zram *z, uint64_t nr_slots)
{
	size_t bytes = (size_t)nr_slots * sizeof(struct zram_slot);
	void *p;

	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	z->table = p;
	z->table_bytes = bytes;
	z->nr_slots = nr_slots;
	return 0;
}

/* Locking: no other thread may use @z. */
void slot_table_destroy(struct zram *z)
{
	uint64_t i;

	if (!z->table)
		return;
	for (i = 0; i < z->nr_slots; i++) {
		if (!atomic_load_explicit(&z->table[i].flags,
					  memory_order_relaxed))
			continue;
		slot_lock(&z->table[i]);
		slot_free(z, &z->table[i]);
	}
	munmap(z->table, z->table_bytes);
	z->table = NULL;
}

static long futex_op(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG,
		       val, NULL, NULL, 0);
}

void slot_lock(struct zram_slot *slot)
{
	uint32_t old = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	uint32_t extra = 0;

	for (;;) {
		if (!(old & SLOT_LOCK)) {
			if (atomic_compare_exchange_weak_explicit(
				    &slot->flags, &old, old | SLOT_LOCK | extra,
				    memory_order_acquire, memory_order_relaxed))
				return;
			continue;
		}
		if (!(old & SLOT_WAITERS)) {
			if (!atomic_compare_exchange_weak_explicit(
				    &slot->flags, &old, old | SLOT_WAITERS,
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			old |= SLOT_WAITERS;
		}
		futex_op(&slot->flags, FUTEX_WAIT, old);
		extra = SLOT_WAITERS;
		old = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	}
}

void slot_unlock(struct zram_slot *slot)
{
	uint32_t old = atomic_fetch_and_explicit(&slot->flags, ~SLOT_LOCK_BITS,
						 memory_order_release);

	if (old & SLOT_WAITERS)
		futex_op(&slot->flags, FUTEX_WAKE, INT32_MAX);
}

bool slot_holds_data(uint32_t flags)
{
	return (flags & SLOT_SAME) || (flags & SLOT_SIZE_MASK);
}

/* Locking: slot lock held. @clear and @set must not touch the lock bits. */
void slot_flags_update(struct zram_slot *slot, uint32_t clear, uint32_t set)
{
	uint32_t old = atomic_load_explicit(&slot->flags, memory_order_relaxed);

	assert(old & SLOT_LOCK);
	assert(!((clear | set) & SLOT_LOCK_BITS));

	while (!atomic_compare_exchange_weak_explicit(
		&slot->flags, &old, (old & ~clear) | set, memory_order_relaxed,
		memory_order_relaxed))
		;
}

uint32_t zram_now_ds(const struct zram *z)
{
	struct timespec now;
	int64_t ds;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ds = (int64_t)(now.tv_sec - z->epoch.tv_sec) * 10 +
	     (now.tv_nsec - z->epoch.tv_nsec) / 100000000;
	return ds > 0 ? (uint32_t)ds : 0;
}

/*
 * slot_touch - the page was read or written: no longer idle, and no
 * longer a candidate of a writeback/recompress pass that picked it (PP).
 * Locking: slot lock held.
 */
void slot_touch(struct zram *z, struct zram_slot *slot)
{
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_relaxed);

	assert(f & SLOT_LOCK);
	if (f & SLOT_PP)
		slot_flags_update(slot, SLOT_PP, 0);
	if (f & SLOT_IDLE) {
		slot_flags_update(slot, SLOT_IDLE, 0);
		atomic_fetch_sub_explicit(&z->stats.idle_pages, 1,
					  memory_order_relaxed);
	}
	atomic_store_explicit(&slot->ac_time, zram_now_ds(z),
			      memory_order_relaxed);
}

/*
 * slot_table_release - discard the SLOTS_PER_TABLE_PAGE slots from @first
 * (a multiple of it) and give their table page back to the OS. A page never
 * written (all words 0: not resident, or the shared zero page) is left alone.
 * Returns the number of slots that held data (for notify_free).
 * Locking: takes the page's slot locks in ascending order; zs_free inside.
 */
uint64_t slot_table_release(struct zram *z, uint64_t first)
{
	struct zram_slot *slots = &z->table[first];
	uint64_t freed = 0;
	size_t i;
	bool touched = false;

	assert(first % SLOTS_PER_TABLE_PAGE == 0);
	for (i = 0; i < SLOTS_PER_TABLE_PAGE && !touched; i++)
		touched = atomic_load_explicit(&slots[i].flags,
					       memory_order_relaxed) ||
			  atomic_load_explicit(&slots[i].handle,
					       memory_order_relaxed) ||
			  atomic_load_explicit(&slots[i].ac_time,
					       memory_order_relaxed);
	if (!touched)
		return 0;
	for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++)
		slot_lock(&slots[i]);
	for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++) {
		if (slot_holds_data(atomic_load_explicit(
			    &slots[i].flags, memory_order_relaxed))) {
			slot_free(z, &slots[i]);
			freed++;
		}
	}
	/* both a release of every lock and the zeroing of every slot */
	atomic_thread_fence(memory_order_seq_cst);
	if (madvise(slots, ZRAM_TABLE_PAGE_SIZE, MADV_DONTNEED)) {
		/* cannot happen for an aligned private anonymous page */
		for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++) {
			atomic_store_explicit(&slots[i].ac_time, 0,
					      memory_order_relaxed);
			slot_unlock(&slots[i]);
		}
		return freed;
	}
	for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++)
		futex_op(&slots[i].flags, FUTEX_WAKE, INT32_MAX);
	return freed;
}
