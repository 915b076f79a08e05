/*
 * slot.c - the slot table and the per-slot lock.
 *
 * The table is one anonymous mapping of nr_slots 16-byte entries (see
 * struct zram_slot) inside a reservation for the largest disk, so an online
 * resize (resize.c) grows it in place. Untouched table pages are never
 * resident, so a large empty disk costs address space, not memory.
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
 * about to sleep on the old value finds 0 and does not sleep. The page goes
 * back through zs_os_release(), which also works under mlockall (--mlock).
 *
 * Touched table pages (z->touched, one bit each): slot_lock() sets the bit
 * of the slot's table page once it holds the lock, so the bit is set before
 * any slot of the page changes; the release clears it while it holds every
 * lock of the page, before the page is dropped, so a thread that takes one
 * of those locks afterwards sets it again. Walks over the table (idle,
 * reset, destroy, slot_walk, discards of whole table pages, the release of
 * the pages past a shrink's new end) visit only pages whose bit is set: an
 * untouched 16 TiB disk is 2 MiB of zero bits, not 2^32 slots.
 */
#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "slot_content.h"

_Static_assert(sizeof(struct zram_slot) == 16, "slot must be 16 bytes");
_Static_assert(ZRAM_PAGE_SIZE <= SLOT_SIZE_MASK, "size field too small");
_Static_assert(ZRAM_CODECS <= 4, "codec id has two bits");
_Static_assert(ZRAM_PRIOS <= 4, "priority has two bits");

#define TABLE_RESERVED (ZRAM_MAX_SLOTS * sizeof(struct zram_slot))
#define TOUCHED_WORDS (ZRAM_MAX_SLOTS / SLOTS_PER_TABLE_PAGE / 64)

/*
 * Reserve address space for the largest table (64 GiB: PROT_NONE and
 * MAP_NORESERVE cost neither memory nor commit charge), then open the part
 * @nr_slots needs. A resize opens more in place (slot_table_grow), so the
 * table never moves under a thread that holds a pointer into it.
 */
int slot_table_create(struct zram *z, uint64_t nr_slots)
{
	uint64_t pages =
		(nr_slots + SLOTS_PER_TABLE_PAGE - 1) / SLOTS_PER_TABLE_PAGE;
	void *p;
	int err;

	/* bits for the largest table: 2 MiB, untouched zero pages until used */
	z->touched = calloc(TOUCHED_WORDS, sizeof(*z->touched));
	if (!z->touched)
		return -ENOMEM;
	p = mmap(NULL, TABLE_RESERVED, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		free(z->touched);
		z->touched = NULL;
		return -ENOMEM;
	}
	z->table = p;
	z->table_bytes = 0;
	err = slot_table_grow(z, nr_slots);
	if (err) {
		munmap(p, TABLE_RESERVED);
		z->table = NULL;
		free(z->touched);
		z->touched = NULL;
		return err;
	}
	atomic_store_explicit(&z->nr_slots, nr_slots, memory_order_relaxed);
	atomic_store_explicit(&z->nr_table_pages, pages, memory_order_relaxed);
	atomic_store_explicit(&z->cut, UINT64_MAX, memory_order_relaxed);
	return 0;
}

/*
 * slot_table_grow - make the first @nr_slots entries readable and writable
 * (whole table pages). Returns 0 or -ENOMEM.
 * Locking: ctrl_lock held, or no other thread uses @z (creation).
 */
int slot_table_grow(struct zram *z, uint64_t nr_slots)
{
	size_t bytes = (size_t)nr_slots * sizeof(struct zram_slot);

	bytes = (bytes + ZRAM_TABLE_PAGE_SIZE - 1) &
		~(size_t)(ZRAM_TABLE_PAGE_SIZE - 1);
	if (bytes <= z->table_bytes)
		return 0;
	if (mprotect((char *)z->table + z->table_bytes, bytes - z->table_bytes,
		     PROT_READ | PROT_WRITE))
		return -ENOMEM;
	z->table_bytes = bytes;
	return 0;
}

/*
 * table_page_next - the first touched table page in [@page, @end), or @end
 * if there is none (@end within the reservation: a shrink walks the pages
 * past its new end). Lock-free: a page touched while the walk runs may or
 * may not be seen (callers that must see every page hold the store claim,
 * so nothing is touched meanwhile).
 */
uint64_t table_page_next(const struct zram *z, uint64_t page, uint64_t end)
{
	while (page < end) {
		uint64_t w = atomic_load_explicit(&z->touched[page / 64],
						  memory_order_acquire) >>
			     (page % 64);

		if (w) {
			page += (uint64_t)__builtin_ctzll(w);
			return page < end ? page : end;
		}
		page = (page | 63) + 1;
	}
	return end;
}

bool table_page_touched(const struct zram *z, uint64_t page)
{
	return atomic_load_explicit(&z->touched[page / 64],
				    memory_order_acquire) &
	       (1ull << (page % 64));
}

/* Locking: the lock of slot @index held. */
static void table_page_touch(struct zram *z, uint64_t index)
{
	uint64_t page = index / SLOTS_PER_TABLE_PAGE;
	_Atomic uint64_t *w = &z->touched[page / 64];
	uint64_t bit = 1ull << (page % 64);

	/* a load first: the word is shared by 64 MiB of disk */
	if (!(atomic_load_explicit(w, memory_order_relaxed) & bit))
		atomic_fetch_or_explicit(w, bit, memory_order_release);
}

/* Locking: every lock of @page held. */
static void table_page_untouch(struct zram *z, uint64_t page)
{
	atomic_fetch_and_explicit(&z->touched[page / 64],
				  ~(1ull << (page % 64)), memory_order_release);
}

/* Locking: no other thread may use @z. */
void slot_table_destroy(struct zram *z)
{
	uint64_t page, i, end;
	int ret;

	if (!z->table)
		return;
	for (page = table_page_next(z, 0, z->nr_table_pages);
	     page < z->nr_table_pages;
	     page = table_page_next(z, page + 1, z->nr_table_pages)) {
		end = (page + 1) * SLOTS_PER_TABLE_PAGE;
		for (i = page * SLOTS_PER_TABLE_PAGE;
		     i < end && i < z->nr_slots; i++) {
			if (!atomic_load_explicit(&z->table[i].flags,
						  memory_order_relaxed))
				continue;
			slot_lock(z, &z->table[i]);
			slot_free(z, &z->table[i]);
		}
	}
	/* cannot fail: the whole reservation, no split */
	ret = munmap(z->table, TABLE_RESERVED);
	assert(!ret);
	(void)ret;
	free(z->touched);
	z->touched = NULL;
	z->table = NULL;
}

static long futex_op(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG,
		       val, NULL, NULL, 0);
}

/* Takes @slot's lock and marks its table page touched (see the top). */
void slot_lock(struct zram *z, struct zram_slot *slot)
{
	uint32_t old = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	uint32_t extra = 0;

	for (;;) {
		if (!(old & SLOT_LOCK)) {
			if (atomic_compare_exchange_weak_explicit(
				    &slot->flags, &old, old | SLOT_LOCK | extra,
				    memory_order_acquire,
				    memory_order_relaxed)) {
				table_page_touch(z,
						 (uint64_t)(slot - z->table));
				return;
			}
			continue;
		}
		if (!(old & SLOT_WAITERS)) {
			if (!atomic_compare_exchange_weak_explicit(
				    &slot->flags, &old, old | SLOT_WAITERS,
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			old |= SLOT_WAITERS;
		}
		/* counted, so a table release knows whether to wake */
		atomic_fetch_add_explicit(&z->lock_sleepers, 1,
					  memory_order_seq_cst);
		futex_op(&slot->flags, FUTEX_WAIT, old);
		atomic_fetch_sub_explicit(&z->lock_sleepers, 1,
					  memory_order_relaxed);
		extra = SLOT_WAITERS;
		old = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	}
}

bool slot_trylock(struct zram *z, struct zram_slot *slot)
{
	uint32_t old = atomic_load_explicit(&slot->flags, memory_order_relaxed);

	while (!(old & SLOT_LOCK)) {
		if (atomic_compare_exchange_weak_explicit(
			    &slot->flags, &old, old | SLOT_LOCK,
			    memory_order_acquire, memory_order_relaxed)) {
			table_page_touch(z, (uint64_t)(slot - z->table));
			return true;
		}
	}
	return false;
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
 * Empty the table page @page under all of its slot locks and give it back
 * to the OS; the page's locks go with it (the words read 0). Threads that
 * slept on one of those locks are woken: a sleeper counts itself in
 * z->lock_sleepers before FUTEX_WAIT, so a count of 0 read after the page
 * went means any later sleeper compares its futex word with 0 and does not
 * sleep; the 256 wakes (syscalls) are only made when someone may sleep.
 * Returns the number of slots that held data.
 * Locking: takes the page's slot locks in ascending order; zs_free inside.
 */
static uint64_t table_page_empty(struct zram *z, uint64_t page)
{
	struct zram_slot *slots = &z->table[page * SLOTS_PER_TABLE_PAGE];
	uint64_t freed = 0;
	size_t i;

	for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++)
		slot_lock(z, &slots[i]);
	for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++) {
		if (slot_holds_data(atomic_load_explicit(
			    &slots[i].flags, memory_order_relaxed))) {
			slot_free(z, &slots[i]);
			freed++;
		}
	}
	table_page_untouch(z, page);
	/* both a release of every lock and the zeroing of every slot */
	atomic_thread_fence(memory_order_seq_cst);
	if (zs_os_release(slots, ZRAM_TABLE_PAGE_SIZE)) {
		/* still resident (only if even munlock failed): keep it
		 * counted as touched, unlock by hand */
		table_page_touch(z, page * SLOTS_PER_TABLE_PAGE);
		for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++) {
			atomic_store_explicit(&slots[i].ac_time, 0,
					      memory_order_relaxed);
			slot_unlock(&slots[i]);
		}
		return freed;
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&z->lock_sleepers, memory_order_seq_cst))
		for (i = 0; i < SLOTS_PER_TABLE_PAGE; i++)
			futex_op(&slots[i].flags, FUTEX_WAKE, INT32_MAX);
	return freed;
}

/*
 * slot_table_release - discard the SLOTS_PER_TABLE_PAGE slots from @first
 * (a multiple of it) and give their table page back to the OS. A page never
 * touched (its bit clear) is left alone without a look at its slots.
 * Returns the number of slots that held data (for notify_free).
 * Locking: takes the page's slot locks in ascending order; zs_free inside.
 */
uint64_t slot_table_release(struct zram *z, uint64_t first)
{
	uint64_t page = first / SLOTS_PER_TABLE_PAGE;

	assert(first % SLOTS_PER_TABLE_PAGE == 0);
	if (!table_page_touched(z, page))
		return 0;
	return table_page_empty(z, page);
}

/*
 * slot_table_reset - empty every touched table page and give it back.
 * Locking: ctrl_lock held and the store claimed (zram_claim()), so nothing
 * touches a page behind the walk.
 */
void slot_table_reset(struct zram *z)
{
	uint64_t page;

	for (page = table_page_next(z, 0, z->nr_table_pages);
	     page < z->nr_table_pages;
	     page = table_page_next(z, page + 1, z->nr_table_pages))
		table_page_empty(z, page);
}
