/*
 * snapshot.c - save the whole store to a file (zram_save(); the format is
 * in snapshot.h and docs/snapshot.md, the reader in snapshot_restore.c).
 *
 * A snapshot keeps what the store keeps, not the pages: each compressed or
 * raw object byte for byte as it sits in the pool (or on the backing store:
 * written-back pages come back into memory), same-filled pages as their
 * word, every dictionary a page still needs, the codec settings and the
 * disk size. A shared (dedup) object is written once, at its first slot,
 * with the 32 bits of content hash the index files it under; later slots
 * name it by its number in the file, so a restore shares it again. Nothing
 * is decompressed or recompressed, so a save costs about one copy of
 * compr_data_size.
 *
 * Point in time: the save closes the write gate (below) for a moment,
 * waits for the writes already inside, and publishes its copy-on-write
 * state (snapshot_cow.c); then writes (write, discard, write_zeroes) go on
 * while it walks: a slot the walk has not reached gives its old content to
 * the save the first time it changes. So neither reads nor writes wait for
 * a save; a read waits at most for the one slot lock the walk holds while
 * it copies that slot's object. Post-processing passes (writeback,
 * recompress, the policy, auto_dict) are held off by pp_lock: they move
 * objects and free dedup entries, whose ids the walk uses as the objects'
 * identity.
 *
 * The write gate: one 32-bit word, SAVING | writers inside. A writer enters
 * with a CAS that increments the count while SAVING is clear, else sleeps
 * on the word (futex) until it changes; it leaves with a decrement and
 * wakes the word if it was the last one while SAVING. The saver sets
 * SAVING, sleeps until the count is 0, publishes (or, at the end,
 * withdraws) its copy-on-write state, clears SAVING and wakes all.
 *
 * Lock order: ctrl_lock (the whole save: one save or control command at a
 * time) -> pp_lock -> gate (closed only at the start and the end; writers
 * never hold a lock when they wait on it) -> slot lock (one at a time,
 * while its object is copied) -> the copy-on-write list lock, allocator /
 * backing locks inside slot_content.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backing.h"
#include "snapshot.h"
#include "zram_parse.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

#define GATE_SAVING (1u << 31)

/* ---- the write gate ---- */

static void gate_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void gate_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

bool zram_write_gate_enter(struct zram *z)
{
	uint32_t v = atomic_load_explicit(&z->save_gate, memory_order_acquire);

	for (;;) {
		if (v & GATE_SAVING) {
			if (io_would_wait())
				return false;
			gate_wait(&z->save_gate, v);
			v = atomic_load_explicit(&z->save_gate,
						 memory_order_acquire);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &z->save_gate, &v, v + 1, memory_order_acquire,
			    memory_order_acquire))
			return true;
	}
}

void zram_write_gate_exit(struct zram *z)
{
	uint32_t v = atomic_fetch_sub_explicit(&z->save_gate, 1,
					       memory_order_release);

	if ((v & GATE_SAVING) && (v & ~GATE_SAVING) == 1)
		gate_wake(&z->save_gate);
}

/* Close the gate and wait until no writer is inside. Locking: ctrl_lock. */
static void gate_close(struct zram *z)
{
	uint32_t v = atomic_fetch_or_explicit(&z->save_gate, GATE_SAVING,
					      memory_order_acq_rel) |
		     GATE_SAVING;

	while (v != GATE_SAVING) {
		gate_wait(&z->save_gate, v);
		v = atomic_load_explicit(&z->save_gate, memory_order_acquire);
	}
}

static void gate_open(struct zram *z)
{
	atomic_fetch_and_explicit(&z->save_gate, ~GATE_SAVING,
				  memory_order_release);
	gate_wake(&z->save_gate);
}

/* ---- writing ---- */

/*
 * Shared objects already written: dedup entry id -> object number and the
 * content bits it was saved with, open addressing (keys are id + 1, 0 =
 * free). Sized from the index's entry count, which cannot grow while the
 * gate is closed and pp_lock held. The content bits are the entry's, but
 * for an entry holding a frame's member: saved as a page of its own, with
 * what that compressed to, which every sharer's record must repeat.
 */
struct shared_map {
	uint32_t *keys;
	uint32_t *nums;
	uint32_t *content;
	uint64_t mask;
	uint32_t count; /* numbers given: 0 .. count - 1 */
};

static int shared_map_init(struct shared_map *m, uint64_t entries)
{
	uint64_t cap = 64;

	while (cap < 2 * entries)
		cap *= 2;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->nums = malloc(cap * sizeof(*m->nums));
	m->content = malloc(cap * sizeof(*m->content));
	m->mask = cap - 1;
	m->count = 0;
	return m->keys && m->nums && m->content ? 0 : -ENOMEM;
}

/* The place of entry @id; *@first is true if it was not known yet (then
 * it has a new number). */
static uint64_t shared_map_get(struct shared_map *m, uint32_t id, bool *first)
{
	uint64_t i = (id * 0x9e3779b97f4a7c15ull) >> 20 & m->mask;

	while (m->keys[i] && m->keys[i] != id + 1)
		i = (i + 1) & m->mask;
	*first = !m->keys[i];
	if (*first) {
		m->keys[i] = id + 1;
		m->nums[i] = m->count++;
	}
	return i;
}

struct snap_out {
	int fd;
	uint64_t pos;	      /* bytes written */
	uint64_t synced;      /* writeback started up to here */
	bool sync;	      /* the file will be fsync'ed */
	unsigned char *batch; /* PAGES payload being filled */
	size_t batch_len;
	uint32_t batch_count;
	uint64_t pages;
	uint64_t records;
	int err;
	struct zram_stream *st;
	struct zram_dedup *dedup; /* NULL: no slot can be shared */
	struct shared_map shared;
	struct snap_cow *cow;
};

/*
 * With fsync on, the pages written so far are sent to the disk every
 * SNAP_SYNC_STEP bytes (sync_file_range, which only starts the writeback),
 * so the disk writes while the walk goes on and the closing fsync finds
 * little left: a durable save costs about max(walk, disk), not their sum.
 */
#define SNAP_SYNC_STEP (8u << 20)

static void out_sync_step(struct snap_out *o)
{
	if (!o->sync || o->pos - o->synced < SNAP_SYNC_STEP)
		return;
	/* a hint: an error shows again at the fsync */
	(void)sync_file_range(o->fd, (off_t)o->synced,
			      (off_t)(o->pos - o->synced),
			      SYNC_FILE_RANGE_WRITE);
	o->synced = o->pos;
}

/* Write all of @iov (@n entries). Returns 0 or -errno. */
static int out_writev(struct snap_out *o, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = writev(o->fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		o->pos += (uint64_t)w;
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	out_sync_step(o);
	return 0;
}

static void rec_write(struct snap_out *o, uint32_t type, const void *payload,
		      size_t len)
{
	unsigned char hdr[SNAP_REC_HDR], sum[SNAP_REC_SUM];
	struct iovec iov[3] = {
		{hdr, sizeof(hdr)}, {(void *)payload, len}, {sum, sizeof(sum)}};

	if (o->err)
		return;
	put32(hdr, type);
	put32(hdr + 4, (uint32_t)len);
	put64(sum, snap_rec_sum(type, (uint32_t)len, payload));
	o->err = out_writev(o, iov, 3);
	o->records++;
}

static void batch_flush(struct snap_out *o)
{
	if (!o->batch_count)
		return;
	put32(o->batch, o->batch_count);
	rec_write(o, SNAP_REC_PAGES, o->batch, o->batch_len);
	o->batch_len = 4;
	o->batch_count = 0;
}

/*
 * A shared slot's data at @e: the object on its first slot, else only its
 * number. Returns the data length, or -errno. Locking: the caller owns a
 * reference to entry @id (a slot it has locked, or a kept content).
 */
static int shared_put(struct zram *z, struct snap_out *o, uint32_t *f,
		      uint32_t id, unsigned char *e)
{
	struct shared_map *m = &o->shared;
	bool first;
	uint64_t i = shared_map_get(m, id, &first);
	int err;

	put32(e, m->nums[i]);
	if (!first) {
		*f = (*f & ~SLOT_CONTENT_BITS) | m->content[i];
		return SNAP_SHARED_REF;
	}
	put32(e + 4, dedup_key(o->dedup, id));
	err = slot_content_copy(z, o->st, *f, id, e + SNAP_SHARED_HDR, f);
	if (err)
		return err;
	m->content[i] = *f & SLOT_CONTENT_BITS;
	return (int)(SNAP_SHARED_HDR + (*f & SLOT_SIZE_MASK));
}

/*
 * A GROUPED slot is saved as a page of its own (the format has no frames):
 * decoded from its frame and compressed again with the primary codec and
 * its current dictionary, which the snapshot saves (ctrl_lock is held, so
 * it cannot change), raw if that does not shrink it. Writes the entry's
 * data at @dst and its flags at *@flags; returns its length, or -errno.
 * Locking: the caller owns the member @h (its slot lock, or kept by the
 * save): its reference keeps the frame.
 */
static int grouped_expand(struct zram *z, struct zram_stream *st, uint64_t h,
			  unsigned char *dst, uint32_t *flags)
{
	uint64_t word;
	int n = slot_group_encode(z, st, h, false, flags);

	if (n < 0)
		return n;
	if (page_same_filled(st->page, &word)) { /* cannot be, but is fine */
		put64(dst, word);
		*flags = SLOT_SAME;
		return 8;
	}
	memcpy(dst, st->cbuf, (size_t)n);
	return n;
}

/*
 * Slot @index's content as the save began (@f, @h) into the batch; errors
 * go to o->err. Locking: the caller owns the content (the slot's lock, or
 * kept by the save).
 */
static void content_put(struct zram *z, struct snap_out *o, uint64_t index,
			uint32_t f, uint64_t h)
{
	unsigned char *e = o->batch + o->batch_len;
	int len, err;

	switch (slot_kind(f)) {
	case SLOT_KIND_EMPTY:
		return;
	case SLOT_KIND_SAME:
		len = 8;
		put64(e + SNAP_ENTRY_HDR, h);
		break;
	case SLOT_KIND_SHARED:
		/* the object's own description: a rewrite through another
		 * sharer (before the save: pp_lock holds them off now) may
		 * have changed it since this slot shared it */
		f = (f & ~SLOT_CONTENT_BITS) |
		    (dedup_meta(o->dedup, (uint32_t)h) & SLOT_CONTENT_BITS);
		len = shared_put(z, o, &f, (uint32_t)h, e + SNAP_ENTRY_HDR);
		break;
	case SLOT_KIND_GROUPED:
		len = grouped_expand(z, o->st, h, e + SNAP_ENTRY_HDR, &f);
		break;
	default: /* HUGE, COMPRESSED, WB: the object, size bytes */
		err = slot_content_copy(z, o->st, f, h, e + SNAP_ENTRY_HDR, &f);
		len = err ? err : (int)(f & SLOT_SIZE_MASK);
		break;
	}
	if (len < 0) {
		o->err = o->err ? o->err : len;
		return;
	}
	put64(e, index);
	put32(e + 8, f & SNAP_FLAGS_KEEP);
	put32(e + 12, (uint32_t)len);
	o->batch_len += SNAP_ENTRY_HDR + (uint32_t)len;
	o->batch_count++;
	o->pages++;
}

static void batch_check(struct snap_out *o)
{
	if (o->batch_len >= SNAP_BATCH)
		batch_flush(o);
}

/*
 * Save the kept contents of slots up to @upto, in order, and free them.
 * After a failure they are only freed. Locking: no slot lock held.
 */
static void kept_flush(struct zram *z, struct snap_out *o, uint64_t upto)
{
	struct snap_kept *v;
	size_t n, i;
	int err = snap_cow_take(o->cow, upto, &v, &n);

	if (err && !o->err)
		o->err = err;
	for (i = 0; i < n; i++) {
		if (!o->err)
			content_put(z, o, v[i].index, v[i].flags, v[i].handle);
		slot_content_drop(z, v[i].flags, v[i].handle);
		batch_check(o);
	}
	free(v);
}

/*
 * Slot @index: its content unless a writer kept the old one for us (then
 * the kept entry goes in its place), and the cursor past it. Locking:
 * takes the slot lock while its object is copied.
 */
static void slot_save(struct zram *z, struct snap_out *o, uint64_t index)
{
	struct zram_slot *slot = &z->table[index];
	uint32_t f;

	slot_lock(z, slot);
	f = LOAD(slot->flags);
	if (f & SLOT_KEPT)
		slot_flags_update(slot, SLOT_KEPT, 0);
	else if (!o->err)
		content_put(z, o, index, f, LOAD(slot->handle));
	snap_cow_pass(o->cow, index);
	slot_unlock(slot);
	batch_check(o);
	kept_flush(z, o, index);
}

/*
 * Every slot in order, each table page at a time. The walk goes to the end
 * even after an error, to clear every mark and free every kept content.
 */
static void cow_walk(struct zram *z, struct snap_out *o)
{
	uint64_t nr = z->nr_slots, i = 0, end;

	while (i < nr) {
		end = (i / SLOTS_PER_TABLE_PAGE + 1) * SLOTS_PER_TABLE_PAGE;
		if (end > nr)
			end = nr;
		if (!table_page_touched(z, i / SLOTS_PER_TABLE_PAGE)) {
			snap_cow_skip(z, o->cow, i, end);
			kept_flush(z, o, end - 1);
			i = end;
			continue;
		}
		for (; i < end; i++)
			slot_save(z, o, i);
	}
	kept_flush(z, o, UINT64_MAX);
}

static void header_write(struct zram *z, struct snap_out *o)
{
	unsigned char h[SNAP_HEADER_LEN];
	size_t pos = 40;
	unsigned int p, c;

	put32(h, SNAP_VERSION);
	put32(h + 4, ZRAM_PAGE_SIZE);
	put64(h + 8, zram_disksize(z));
	put32(h + 16, (uint32_t)LOAD(z->algo));
	put32(h + 20, ZRAM_PRIOS);
	put32(h + 24, ZRAM_CODECS);
	put32(h + 28, 0);
	put64(h + 32, LOAD(z->mem_limit));
	for (p = 0; p < ZRAM_PRIOS; p++) {
		put32(h + pos, (uint32_t)LOAD(z->recomp_algo[p]));
		pos += 4;
		for (c = 0; c < ZRAM_CODECS; c++, pos += 4)
			put32(h + pos, (uint32_t)LOAD(z->params[p][c].level));
	}
	rec_write(o, SNAP_REC_HEADER, h, pos);
}

static void dict_write(struct snap_out *o, unsigned int p, unsigned int c,
		       unsigned int j, bool current, const struct zram_dict *d)
{
	unsigned char *buf = malloc(SNAP_DICT_HDR + d->size);

	if (!buf) {
		o->err = o->err ? o->err : -ENOMEM;
		return;
	}
	put32(buf, p);
	put32(buf + 4, c);
	put32(buf + 8, j);
	put32(buf + 12, current);
	memcpy(buf + SNAP_DICT_HDR, d->data, d->size);
	rec_write(o, SNAP_REC_DICT, buf, SNAP_DICT_HDR + d->size);
	free(buf);
}

/*
 * Every dictionary of every (priority, codec) that is current or still
 * needed by pages (a replaced one stays while its pages live), with its
 * index: the pages name it by that index. Locking: ctrl_lock held (no
 * dictionary changes meanwhile).
 */
static void dicts_write(struct zram *z, struct snap_out *o)
{
	unsigned int p, c, j;

	for (p = 0; p < ZRAM_PRIOS; p++)
		for (c = 0; c < ZRAM_CODECS; c++) {
			struct zram_codec_params *pa = &z->params[p][c];
			unsigned int cur = LOAD(pa->cur) % ZRAM_DICT_SLOTS;

			for (j = 0; j < ZRAM_DICT_SLOTS; j++) {
				const struct zram_dict *d = LOAD(pa->dicts[j]);

				if (d && (j == cur || LOAD(pa->pages[j])))
					dict_write(o, p, c, j, j == cur, d);
			}
		}
}

#ifdef UZRAM_TEST_HOOKS
/* The test hook: the save sleeps this long with its walk not begun; a
 * write of 0 to debug_save_delay ends the sleep early. */
static void save_delay(struct zram *z)
{
	uint32_t ms = LOAD(z->dbg_save_delay_ms), slept = 0;
	struct timespec ts = {0, 10 * 1000000};

	while (slept < ms && LOAD(z->dbg_save_delay_ms)) {
		nanosleep(&ts, NULL);
		slept += 10;
	}
}
#else
static void save_delay(struct zram *z)
{
	(void)z;
}
#endif

/*
 * The point in time: with the gate closed (no writer inside), the header,
 * the dictionaries, and the copy-on-write state published. Locking:
 * ctrl_lock, pp_lock held.
 */
static int save_begin(struct zram *z, struct snap_out *o)
{
	struct iovec magic = {SNAP_MAGIC, 8};
	struct dedup_stats ds = {0};
	int err;

	gate_close(z);
	o->err = out_writev(o, &magic, 1);
	o->dedup = atomic_load_explicit(&z->dedup, memory_order_acquire);
	if (o->dedup)
		dedup_stats_get(o->dedup, &ds);
	err = shared_map_init(&o->shared, ds.entries);
	if (!err)
		err = snap_cow_start(z, &o->cow);
	if (!err) {
		header_write(z, o);
		dicts_write(z, o);
		atomic_store_explicit(&z->cow, o->cow, memory_order_release);
	}
	gate_open(z);
	return err;
}

/* Withdraw the copy-on-write state (gate closed) and write END. */
static void save_end(struct zram *z, struct snap_out *o)
{
	unsigned char end[SNAP_END_LEN];
	size_t i;

	gate_close(z);
	atomic_store_explicit(&z->cow, NULL, memory_order_release);
	gate_open(z);
	if (o->cow->err && !o->err)
		o->err = o->cow->err;
	/* only if a take failed for memory: free what is left */
	for (i = 0; i < o->cow->nkept; i++)
		slot_content_drop(z, o->cow->kept[i].flags,
				  o->cow->kept[i].handle);
	batch_flush(o);
	put64(end, o->pages);
	put64(end + 8, o->records + 1);
	put64(end + 16, o->shared.count);
	rec_write(o, SNAP_REC_END, end, sizeof(end));
}

/* Open "PATH.XXXXXX" next to @path, so a failed save leaves no PATH. */
static int tmp_open(const char *path, char *tmp, int *fd)
{
	if (snprintf(tmp, PATH_MAX, "%s.XXXXXX", path) >= PATH_MAX)
		return -ENAMETOOLONG;
	*fd = mkostemp(tmp, O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

/* The save, with the other whole-store changes held off (see the top). */
static int save_locked(struct zram *z, struct snap_out *o)
{
	int err;

	pthread_mutex_lock(&z->ctrl_lock);
	pthread_mutex_lock(&z->pp_lock);
	err = save_begin(z, o);
	if (!err) {
		o->batch_len = 4;
		save_delay(z);
		cow_walk(z, o);
		save_end(z, o);
		err = o->err;
	}
	pthread_mutex_unlock(&z->pp_lock);
	pthread_mutex_unlock(&z->ctrl_lock);
	snap_cow_free(o->cow);
	return err;
}

int zram_save_flags(struct zram *z, const char *path, unsigned int flags)
{
	struct snap_out o = {0};
	char tmp[PATH_MAX];
	int err;

	if (!path || !*path || (flags & ~ZRAM_SAVE_NOSYNC))
		return -EINVAL;
	o.st = zram_stream_get(z);
	o.batch = malloc(SNAP_BATCH + SNAP_ENTRY_HDR + SNAP_SHARED_HDR +
			 ZRAM_PAGE_SIZE);
	if (!o.st || !o.batch) {
		free(o.batch);
		return -ENOMEM;
	}
	o.sync = !(flags & ZRAM_SAVE_NOSYNC);
	err = tmp_open(path, tmp, &o.fd);
	if (err)
		goto out_free;
	err = save_locked(z, &o);
	if (!err && o.sync && fsync(o.fd))
		err = -errno;
	if (close(o.fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out_free:
	free(o.shared.keys);
	free(o.shared.nums);
	free(o.shared.content);
	free(o.batch);
	return err;
}

int zram_save(struct zram *z, const char *path)
{
	return zram_save_flags(z, path, 0);
}
