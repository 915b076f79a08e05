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
 * Dictionary rule: a page compressed with codec c's dictionary D may only be
 * installed while D is still c's dictionary and no change is pending; the
 * installer counts the page in params[c].pages before it checks, and a
 * dictionary change checks that count after it marks itself pending (both
 * seq_cst), so either the change sees the page and is refused, or the writer
 * sees the change and compresses again.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>

#include "zram_internal.h"

/* An encoded page, not yet visible in the table. */
struct page_obj {
	uint64_t handle; /* or the fill word with SLOT_SAME */
	uint32_t flags;	 /* size | SLOT_SAME / SLOT_HUGE | codec bits */
	const struct zram_dict *dict;
};

static const unsigned char zero_page[ZRAM_PAGE_SIZE];

static bool page_same_filled(const unsigned char *p, uint64_t *word)
{
	uint64_t first, last, w;
	size_t i;

	memcpy(&first, p, 8);
	memcpy(&last, p + ZRAM_PAGE_SIZE - 8, 8);
	if (first != last)
		return false;
	for (i = 8; i < ZRAM_PAGE_SIZE - 8; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != first)
			return false;
	}
	*word = first;
	return true;
}

static void page_fill(unsigned char *p, uint64_t word)
{
	size_t i;

	if (!word) {
		memset(p, 0, ZRAM_PAGE_SIZE);
		return;
	}
	for (i = 0; i < ZRAM_PAGE_SIZE; i += 8)
		memcpy(p + i, &word, 8);
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

/* Allocate, check the limit and copy @len bytes of @data into the pool. */
static int obj_alloc(struct zram *z, const void *data, size_t len,
		     uint64_t *handle)
{
	uint64_t used, limit;
	zs_handle_t h;
	int err;

	err = zs_malloc(z->pool, len, &h);
	if (err)
		return err == -ENOSPC ? -EINVAL : err;
	used = (uint64_t)zs_get_total_pages(z->pool) * ZRAM_PAGE_SIZE;
	zram_mem_used_update(z, used);
	limit = atomic_load_explicit(&z->mem_limit, memory_order_relaxed);
	if (limit && used > limit) {
		zs_free(z->pool, h);
		return -ENOSPC;
	}
	zs_obj_write(z->pool, h, data, len);
	*handle = h;
	return 0;
}

/* Encode one page. Locking: none needed; may run under the slot lock. */
static int page_encode(struct zram *z, struct zram_stream *st,
		       const unsigned char *src, struct page_obj *obj)
{
	unsigned int id = (unsigned int)atomic_load_explicit(
		&z->algo, memory_order_relaxed);
	const struct zram_codec_ops *ops = zram_codec_get(id);
	struct zram_codec_params *p = &z->params[id];
	const struct zram_dict *dict;
	void *ctx;
	int n;

	if (page_same_filled(src, &obj->handle)) {
		obj->flags = SLOT_SAME;
		obj->dict = NULL;
		return 0;
	}
	ctx = zram_stream_ctx(st, id);
	if (!ctx)
		return -ENOMEM;
	dict = atomic_load_explicit(&p->dict, memory_order_acquire);
	n = ops->compress(ctx,
			  atomic_load_explicit(&p->level, memory_order_relaxed),
			  dict, src, st->cbuf, sizeof(st->cbuf));
	if (n <= 0 || (size_t)n >= z->huge_size) {
		obj->flags = SLOT_HUGE | ZRAM_PAGE_SIZE;
		obj->dict = NULL;
		return obj_alloc(z, src, ZRAM_PAGE_SIZE, &obj->handle);
	}
	obj->flags = (uint32_t)n | (id << SLOT_CODEC_SHIFT);
	obj->dict = dict;
	return obj_alloc(z, st->cbuf, (size_t)n, &obj->handle);
}

static void obj_discard(struct zram *z, const struct page_obj *obj)
{
	if (!(obj->flags & SLOT_SAME))
		zs_free(z->pool, obj->handle);
}

/*
 * obj_commit - count a compressed page against its codec's dictionary.
 * Returns 0, or -EAGAIN if the dictionary changed (or is changing) since
 * the page was compressed: then encode it again.
 * Locking: slot lock held.
 */
static int obj_commit(struct zram *z, const struct page_obj *obj)
{
	unsigned int id = (obj->flags & SLOT_CODEC_MASK) >> SLOT_CODEC_SHIFT;
	struct zram_codec_params *p = &z->params[id];

	if (obj->flags & (SLOT_SAME | SLOT_HUGE))
		return 0;
	atomic_fetch_add_explicit(&p->pages, 1, memory_order_seq_cst);
	if (!atomic_load_explicit(&p->pending, memory_order_seq_cst) &&
	    atomic_load_explicit(&p->dict, memory_order_seq_cst) == obj->dict)
		return 0;
	atomic_fetch_sub_explicit(&p->pages, 1, memory_order_seq_cst);
	return -EAGAIN;
}

/* Replace the slot's content by @obj. Locking: slot lock held. */
static void slot_install(struct zram *z, struct zram_slot *slot,
			 const struct page_obj *obj)
{
	struct zram_counters *s = &z->stats;

	slot_free(z, slot);
	atomic_store_explicit(&slot->handle, obj->handle, memory_order_relaxed);
	slot_flags_update(slot, ~SLOT_LOCK_BITS, obj->flags);
	if (obj->flags & SLOT_SAME) {
		atomic_fetch_add_explicit(&s->same_pages, 1,
					  memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&s->compr_data_size,
					  obj->flags & SLOT_SIZE_MASK,
					  memory_order_relaxed);
		if (obj->flags & SLOT_HUGE) {
			atomic_fetch_add_explicit(&s->huge_pages, 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&s->huge_pages_since, 1,
						  memory_order_relaxed);
		}
	}
	atomic_fetch_add_explicit(&s->pages_stored, 1, memory_order_relaxed);
}

/*
 * Encode @src and install it in @slot, encoding again if a dictionary
 * change raced with it. Locking: slot lock held on entry and on return if
 * @locked, else taken here and released.
 */
static int slot_store(struct zram *z, struct zram_stream *st,
		      struct zram_slot *slot, const unsigned char *src,
		      bool locked)
{
	struct page_obj obj;
	int err;

	for (;;) {
		err = page_encode(z, st, src, &obj);
		if (err)
			break;
		if (!locked)
			slot_lock(slot);
		err = obj_commit(z, &obj);
		if (!err) {
			slot_install(z, slot, &obj);
			slot_touch(z, slot);
		}
		if (!locked)
			slot_unlock(slot);
		if (!err)
			break;
		obj_discard(z, &obj);
		sched_yield();
	}
	return err;
}

static void read_delay(struct zram *z, uint64_t index)
{
#ifdef UZRAM_TEST_HOOKS
	if (atomic_load_explicit(&z->dbg_delay_index, memory_order_relaxed) ==
	    index) {
		uint32_t ms = atomic_load_explicit(&z->dbg_delay_ms,
						   memory_order_relaxed);
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
#else
	(void)z;
	(void)index;
#endif
}

/*
 * slot_decode - the page of slot @index into @dst (one page).
 * Returns 0, -EIO if it does not decompress, -ENOMEM (no codec context).
 * Locking: slot lock held; holds the zspage read lock inside.
 */
static int slot_decode(struct zram *z, struct zram_stream *st, uint64_t index,
		       unsigned char *dst)
{
	struct zram_slot *slot = &z->table[index];
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&slot->handle, memory_order_relaxed);
	unsigned int id = (f & SLOT_CODEC_MASK) >> SLOT_CODEC_SHIFT;
	const struct zram_dict *dict;
	void *src, *ctx;
	int err = 0;

	if (f & SLOT_SAME) {
		page_fill(dst, h);
		return 0;
	}
	if (!(f & SLOT_SIZE_MASK)) {
		memset(dst, 0, ZRAM_PAGE_SIZE);
		return 0;
	}
	if (f & SLOT_HUGE) {
		src = zs_obj_read_begin(z->pool, h, NULL);
		memcpy(dst, src, ZRAM_PAGE_SIZE);
		read_delay(z, index);
		zs_obj_read_end(z->pool, h, src);
		return 0;
	}
	ctx = zram_stream_ctx(st, id);
	if (!ctx)
		return -ENOMEM;
	dict = atomic_load_explicit(&z->params[id].dict, memory_order_acquire);
	src = zs_obj_read_begin(z->pool, h, st->local_copy);
	err = zram_codec_get(id)->decompress(ctx, dict, src, f & SLOT_SIZE_MASK,
					     dst);
	read_delay(z, index);
	zs_obj_read_end(z->pool, h, src);
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
	slot_lock(slot);
	err = slot_decode(z, st, index, whole ? dst : st->page);
	if (!err)
		slot_touch(z, slot);
	slot_unlock(slot);
	if (err) {
		atomic_fetch_add_explicit(&z->stats.failed_reads, 1,
					  memory_order_relaxed);
		return -EIO;
	}
	if (!whole)
		memcpy(dst, st->page + pofs, n);
	return 0;
}

/*
 * Read-modify-write of part of a page; @src NULL writes zeros and leaves an
 * empty slot empty. Locking: takes the slot lock for the whole update.
 */
static int page_write_part(struct zram *z, struct zram_stream *st,
			   uint64_t index, const void *src, size_t pofs,
			   size_t n)
{
	struct zram_slot *slot = &z->table[index];
	int err = 0;

	slot_lock(slot);
	if (!src && !slot_holds_data(atomic_load_explicit(
			    &slot->flags, memory_order_relaxed)))
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
	if (err)
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

ssize_t zram_read(struct zram *z, void *buf, size_t len, uint64_t off)
{
	uint64_t size = zram_disksize(z);
	struct zram_stream *st;

	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX & ~(size_t)(ZRAM_PAGE_SIZE - 1);
	st = zram_stream_get(z);
	if (!st)
		return -ENOMEM;
	return range_rw(z, st, buf, NULL, len, off);
}

ssize_t zram_write(struct zram *z, const void *buf, size_t len, uint64_t off)
{
	uint64_t size = zram_disksize(z);
	struct zram_stream *st;

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
	return range_rw(z, st, NULL, buf, len, off);
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
	struct page_obj obj = {.handle = 0, .flags = SLOT_SAME};

	if (!zeroes && slot_is_empty_unlocked(slot))
		return;
	slot_lock(slot);
	if (zeroes) {
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
		size_t n = ZRAM_PAGE_SIZE - pofs;

		if (n > len)
			n = (size_t)len;
		if (!zeroes && !pofs && index % SLOTS_PER_TABLE_PAGE == 0 &&
		    len >= (uint64_t)SLOTS_PER_TABLE_PAGE * ZRAM_PAGE_SIZE) {
			/* a whole table page: its memory goes back too */
			atomic_fetch_add_explicit(&z->stats.notify_free,
						  slot_table_release(z, index),
						  memory_order_relaxed);
			n = SLOTS_PER_TABLE_PAGE * ZRAM_PAGE_SIZE;
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
	return range_clear(z, off, len, false);
}

int zram_write_zeroes(struct zram *z, uint64_t off, uint64_t len)
{
	return range_clear(z, off, len, true);
}

int zram_flush(struct zram *z)
{
	(void)z;
	return 0;
}
