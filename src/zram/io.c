/*
 * io.c - the read, write, discard and write-zeroes paths.
 *
 * Lock order: slot lock -> allocator locks. One slot lock at a time.
 *
 * Write of one whole page: encode it without any lock (same-fill test,
 * compress into the thread's buffer, zs_malloc, memory-limit check,
 * zs_obj_write into the new object), then lock the slot, free the old
 * content, install the new, unlock. A partial page is read-modify-write with
 * the slot lock held throughout, so two partial writes to one page keep each
 * other's bytes. Read: lock the slot, map the object (zs_obj_read_begin with
 * the thread's local copy), decompress straight into the caller's buffer
 * when the request covers the page, unmap, unlock. No path holds a lock
 * shared by all threads while it copies or (de)compresses.
 *
 * What a slot holds is slot_content.c's business: this file cuts requests
 * into pages and calls slot_encode/slot_install/slot_decode/slot_free.
 *
 * ZRAM_IO_NOWAIT: a thread-local state, set for the length of one
 * zram_read_flags()/zram_write_flags() call, that every place able to wait
 * for another thread or for I/O asks (io_would_wait()) before it waits; the
 * request then unwinds with -EAGAIN and its caller does it again without
 * the flag. A slot lock is tried (slot_trylock), never waited for.
 *
 * Dictionary rule: a page compressed with (priority p, codec c)'s dictionary
 * D may only be installed while D is still their dictionary and no change is
 * pending; the installer counts the page in params[p][c].pages before it
 * checks (slot_obj_commit), and a
 * dictionary change checks that count after it marks itself pending (both
 * seq_cst), so either the change sees the page and is refused, or the writer
 * sees the change and compresses again.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>

#include "slot_content.h"

static const unsigned char zero_page[ZRAM_PAGE_SIZE];

/* This thread's ZRAM_IO_NOWAIT state (see the top) */
enum { IO_MAY_WAIT, IO_NOWAIT, IO_NOWAIT_REFUSED };
static __thread int io_nowait;

bool io_would_wait(void)
{
	if (io_nowait == IO_MAY_WAIT)
		return false;
	io_nowait = IO_NOWAIT_REFUSED;
	return true;
}

/* slot_lock(), or false with nothing taken if a NOWAIT request would wait */
static bool io_slot_lock(struct zram *z, struct zram_slot *slot)
{
	if (io_nowait == IO_MAY_WAIT) {
		slot_lock(z, slot);
		return true;
	}
	if (slot_trylock(z, slot))
		return true;
	io_nowait = IO_NOWAIT_REFUSED;
	return false;
}

void zram_mem_used_update(struct zram *z, uint64_t used)
{
	uint64_t max =
		atomic_load_explicit(&z->mem_used_max, memory_order_relaxed);

	while (used > max &&
	       !atomic_compare_exchange_weak_explicit(
		       &z->mem_used_max, &max, used, memory_order_relaxed,
		       memory_order_relaxed))
		;
}

/*
 * Encode @src and install it in @slot, encoding again if a dictionary
 * change raced with it. Returns -ENOSPC if a shrink cut the disk before
 * @slot (slot_install_check(), which a caller passing @locked has made).
 * Locking: slot lock held on entry and on return if @locked, else taken
 * here and released.
 */
static int slot_store(struct zram *z, struct zram_stream *st,
		      struct zram_slot *slot, const unsigned char *src,
		      bool locked)
{
	struct slot_codec c;
	struct slot_obj obj;
	int err;

	for (;;) {
		err = slot_codec_get(z, 0, &c);
		if (!err)
			err = slot_encode(z, st, &c, src, &obj);
		if (err == -EAGAIN)
			continue; /* a new dictionary: snapshot it */
		if (err)
			break;
		if (!locked) {
			if (!io_slot_lock(z, slot)) {
				slot_obj_drop(z, &obj);
				return -EAGAIN;
			}
			/* a shrink may cut the disk since the range check */
			err = slot_install_check(z, slot);
		}
		if (!err)
			err = slot_obj_commit(z, &obj);
		if (!err) {
			slot_install(z, slot, &obj);
			slot_touch(z, slot);
		}
		if (!locked)
			slot_unlock(slot);
		if (!err)
			break;
		slot_obj_drop(z, &obj);
		if (err == -ENOSPC || io_would_wait())
			break;
		if (err == -EAGAIN && !locked)
			slot_cut_wait(z, slot);
		else
			sched_yield();
	}
	return err;
}

/* An empty, unlocked slot reads as zeros without taking (dirtying) it. */
static bool slot_is_empty_unlocked(struct zram_slot *slot)
{
	return !atomic_load_explicit(&slot->flags, memory_order_acquire);
}

static int page_read(struct zram *z, struct zram_stream *st, uint64_t index,
		     unsigned char *dst, size_t pofs, size_t n)
{
	bool whole = n == ZRAM_PAGE_SIZE;
	struct zram_slot *slot = &z->table[index];
	int err;

	atomic_fetch_add_explicit(&z->stats.num_reads, 1, memory_order_relaxed);
	if (slot_is_empty_unlocked(slot)) {
		memset(dst, 0, n);
		return 0;
	}
	if (!io_slot_lock(z, slot))
		return -EAGAIN;
	err = slot_decode(z, st, index, whole ? dst : st->page);
	/* emptied meanwhile: its table page may have gone, leave it so */
	if (!err && slot_holds_data(atomic_load_explicit(&slot->flags,
							 memory_order_relaxed)))
		slot_touch(z, slot);
	slot_unlock(slot);
	if (err && io_nowait == IO_NOWAIT_REFUSED)
		return -EAGAIN;
	if (err) {
		atomic_fetch_add_explicit(&z->stats.failed_reads, 1,
					  memory_order_relaxed);
		return -EIO;
	}
	if (!whole)
		memcpy(dst, st->page + pofs, n);
	return 0;
}

static bool bytes_zero(const unsigned char *p, size_t n)
{
	return !n || (!p[0] && !memcmp(p, p + 1, n - 1));
}

/*
 * Part of a page into a slot found empty without its lock: zeros around
 * @src, encoded with no lock held, installed only if the slot is still
 * empty. Returns 0, 1 if the slot holds data by now (do the read-modify-
 * write instead), or -errno. Locking: takes the slot lock to install.
 */
static int page_write_empty(struct zram *z, struct zram_stream *st,
			    struct zram_slot *slot, const void *src,
			    size_t pofs, size_t n)
{
	struct slot_codec c;
	struct slot_obj obj;
	int err;

	memset(st->page, 0, ZRAM_PAGE_SIZE);
	memcpy(st->page + pofs, src, n);
	for (;;) {
		err = slot_codec_get(z, 0, &c);
		if (!err)
			err = slot_encode(z, st, &c, st->page, &obj);
		if (err == -EAGAIN)
			continue; /* a new dictionary: snapshot it */
		if (err)
			return err;
		if (!io_slot_lock(z, slot)) {
			slot_obj_drop(z, &obj);
			return -EAGAIN;
		}
		if (slot_holds_data(atomic_load_explicit(
			    &slot->flags, memory_order_relaxed))) {
			slot_unlock(slot);
			slot_obj_drop(z, &obj);
			return 1;
		}
		/* a shrink may cut the disk since the range check */
		err = slot_install_check(z, slot);
		if (err) {
			slot_unlock(slot);
			slot_obj_drop(z, &obj);
			if (err == -ENOSPC)
				return err;
			if (io_would_wait())
				return -EAGAIN;
			slot_cut_wait(z, slot);
			continue;
		}
		err = slot_obj_commit(z, &obj);
		if (!err) {
			slot_install(z, slot, &obj);
			slot_touch(z, slot);
		}
		slot_unlock(slot);
		if (!err)
			return 0;
		slot_obj_drop(z, &obj);
		sched_yield();
	}
}

/*
 * Read-modify-write of part of a page; @src NULL writes zeros. A slot that
 * is empty (and not locked) is not locked to find that out, as for reads:
 * zeros into it change nothing and are dropped, other bytes are encoded
 * first and installed if it is still empty. So zeroing the ends of a
 * discard, or a partial write of zeros, never faults in a table page.
 * Locking: takes the slot lock for the whole update.
 */
static int page_write_part(struct zram *z, struct zram_stream *st,
			   uint64_t index, const void *src, size_t pofs,
			   size_t n)
{
	struct zram_slot *slot = &z->table[index];
	int err = 0;

	if (slot_is_empty_unlocked(slot)) {
		if (!src || bytes_zero(src, n))
			return 0;
		err = page_write_empty(z, st, slot, src, pofs, n);
		if (err <= 0)
			return err;
	}
again:
	if (!io_slot_lock(z, slot))
		return -EAGAIN;
	if (!src && !slot_holds_data(atomic_load_explicit(
			    &slot->flags, memory_order_relaxed)))
		goto out_unlock;
	err = slot_install_check(z, slot);
	if (err == -EAGAIN) {
		slot_unlock(slot);
		if (io_would_wait())
			return -EAGAIN;
		slot_cut_wait(z, slot);
		goto again;
	}
	if (err)
		goto out_unlock;
	err = slot_decode(z, st, index, st->page);
	if (err)
		goto out_unlock;
	memcpy(st->page + pofs, src ? src : zero_page, n);
	err = slot_store(z, st, slot, st->page, true);
out_unlock:
	slot_unlock(slot);
	return err;
}

static int page_write(struct zram *z, struct zram_stream *st, uint64_t index,
		      const void *src, size_t pofs, size_t n)
{
	int err;

	atomic_fetch_add_explicit(&z->stats.num_writes, 1,
				  memory_order_relaxed);
	if (n == ZRAM_PAGE_SIZE)
		err = slot_store(z, st, &z->table[index], src, false);
	else
		err = page_write_part(z, st, index, src, pofs, n);
	if (err && io_nowait != IO_NOWAIT_REFUSED)
		atomic_fetch_add_explicit(&z->stats.failed_writes, 1,
					  memory_order_relaxed);
	return err;
}

uint64_t zram_disksize(const struct zram *z)
{
	return z->nr_slots * ZRAM_PAGE_SIZE;
}

/*
 * range_rw - cut [@off, @off + @len) at page boundaries and read each piece
 * into @rbuf, or write it from @wbuf (exactly one is non-NULL).
 * Returns the bytes done; if a page fails, the bytes before it, or its
 * -errno when it was the first.
 */
static ssize_t range_rw(struct zram *z, struct zram_stream *st,
			unsigned char *rbuf, const unsigned char *wbuf,
			size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done;
		size_t pofs = pos % ZRAM_PAGE_SIZE;
		size_t n = ZRAM_PAGE_SIZE - pofs;
		int err;

		if (n > len - done)
			n = len - done;
		if (wbuf)
			err = page_write(z, st, pos / ZRAM_PAGE_SIZE,
					 wbuf + done, pofs, n);
		else
			err = page_read(z, st, pos / ZRAM_PAGE_SIZE,
					rbuf + done, pofs, n);
		if (err)
			return done ? (ssize_t)done : err;
		done += n;
	}
	return (ssize_t)done;
}

/* Enter ZRAM_IO_NOWAIT for one call if @flags ask for it. */
static void io_flags_begin(unsigned int flags)
{
	io_nowait = (flags & ZRAM_IO_NOWAIT) ? IO_NOWAIT : IO_MAY_WAIT;
}

/* Leave it: -EAGAIN if the call backed out, else @ret. */
static ssize_t io_flags_end(ssize_t ret)
{
	bool refused = io_nowait == IO_NOWAIT_REFUSED;

	io_nowait = IO_MAY_WAIT;
	return refused ? -EAGAIN : ret;
}

ssize_t zram_read_flags(struct zram *z, void *buf, size_t len, uint64_t off,
			unsigned int flags)
{
	uint64_t size = zram_disksize(z);
	struct zram_stream *st;

	if (flags & ~ZRAM_IO_NOWAIT)
		return -EINVAL;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX & ~(size_t)(ZRAM_PAGE_SIZE - 1);
	policy_start_pending(z);
	st = zram_stream_get(z);
	if (!st)
		return -ENOMEM;
	io_flags_begin(flags);
	return io_flags_end(range_rw(z, st, buf, NULL, len, off));
}

ssize_t zram_read(struct zram *z, void *buf, size_t len, uint64_t off)
{
	return zram_read_flags(z, buf, len, off, 0);
}

/*
 * After a write or discard: give emptied backing blocks back (no slot lock
 * held here), and let the policy slow this writer while memory is over its
 * target.
 */
static void tier_after_io(struct zram *z)
{
	tier_punch(z);
	policy_throttle(z);
}

ssize_t zram_write_flags(struct zram *z, const void *buf, size_t len,
			 uint64_t off, unsigned int flags)
{
	uint64_t size = zram_disksize(z);
	struct zram_stream *st;
	ssize_t n;

	if (flags & ~ZRAM_IO_NOWAIT)
		return -EINVAL;
	if (!len)
		return 0;
	if (off > size || len > size - off || len > SSIZE_MAX) {
		atomic_fetch_add_explicit(&z->stats.invalid_io, 1,
					  memory_order_relaxed);
		return -ENOSPC;
	}
	st = zram_stream_get(z);
	if (!st)
		return -ENOMEM;
	io_flags_begin(flags);
	/* over mem_target, a writer is slowed after its write: not this one */
	if (policy_throttle_due(z) && io_would_wait())
		return io_flags_end(0);
	if (!zram_write_gate_enter(z))
		return io_flags_end(0);
	n = range_rw(z, st, NULL, buf, len, off);
	zram_write_gate_exit(z);
	tier_after_io(z);
	return io_flags_end(n);
}

ssize_t zram_write(struct zram *z, const void *buf, size_t len, uint64_t off)
{
	return zram_write_flags(z, buf, len, off, 0);
}

static int range_check(struct zram *z, uint64_t off, uint64_t len)
{
	uint64_t size = zram_disksize(z);

	if (off > size || len > size - off) {
		atomic_fetch_add_explicit(&z->stats.invalid_io, 1,
					  memory_order_relaxed);
		return -EINVAL;
	}
	return 0;
}

/* Free or zero one whole page. Locking: takes the slot lock. */
static void page_clear(struct zram *z, uint64_t index, bool zeroes)
{
	struct zram_slot *slot = &z->table[index];
	struct slot_obj obj = {.handle = 0, .flags = SLOT_SAME};

	int err;

	if (!zeroes && slot_is_empty_unlocked(slot))
		return;
again:
	slot_lock(z, slot);
	err = zeroes ? slot_install_check(z, slot) : 0;
	if (err == -EAGAIN) {
		slot_unlock(slot);
		slot_cut_wait(z, slot);
		goto again;
	}
	if (err) {
		/* cut off by a shrink: nothing to zero */
	} else if (zeroes) {
		slot_install(z, slot, &obj);
		slot_touch(z, slot);
	} else if (slot_holds_data(atomic_load_explicit(
			   &slot->flags, memory_order_relaxed))) {
		slot_free(z, slot);
		atomic_fetch_add_explicit(&z->stats.notify_free, 1,
					  memory_order_relaxed);
	}
	slot_unlock(slot);
}

static int range_clear(struct zram *z, uint64_t off, uint64_t len, bool zeroes)
{
	struct zram_stream *st;
	int err;

	err = range_check(z, off, len);
	if (err || !len)
		return err;
	st = zram_stream_get(z);
	if (!st)
		return -ENOMEM;
	while (len) {
		uint64_t index = off / ZRAM_PAGE_SIZE;
		size_t pofs = off % ZRAM_PAGE_SIZE;
		uint64_t n = ZRAM_PAGE_SIZE - pofs;

		if (n > len)
			n = len;
		if (!zeroes && !pofs && index % SLOTS_PER_TABLE_PAGE == 0 &&
		    len >= ZRAM_TABLE_PAGE_BYTES_DISK) {
			/* whole table pages: their memory goes back too, and
			 * untouched ones are skipped (mkfs discards it all) */
			uint64_t page = index / SLOTS_PER_TABLE_PAGE;
			uint64_t next = table_page_next(
				z, page,
				page + len / ZRAM_TABLE_PAGE_BYTES_DISK);

			if (next > page) {
				n = (next - page) * ZRAM_TABLE_PAGE_BYTES_DISK;
			} else {
				atomic_fetch_add_explicit(
					&z->stats.notify_free,
					slot_table_release(z, index),
					memory_order_relaxed);
				n = ZRAM_TABLE_PAGE_BYTES_DISK;
			}
		} else if (n == ZRAM_PAGE_SIZE) {
			page_clear(z, index, zeroes);
		} else {
			err = page_write_part(z, st, index, NULL, pofs, n);
			if (err)
				return err;
		}
		off += n;
		len -= n;
	}
	return 0;
}

int zram_discard(struct zram *z, uint64_t off, uint64_t len)
{
	int err;

	zram_write_gate_enter(z);
	err = range_clear(z, off, len, false);
	zram_write_gate_exit(z);

	tier_after_io(z);
	return err;
}

int zram_write_zeroes(struct zram *z, uint64_t off, uint64_t len)
{
	int err;

	zram_write_gate_enter(z);
	err = range_clear(z, off, len, true);
	zram_write_gate_exit(z);

	tier_after_io(z);
	return err;
}

int zram_flush(struct zram *z)
{
	(void)z;
	return 0;
}
