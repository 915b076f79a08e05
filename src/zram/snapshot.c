/*
 * snapshot.c - save the whole store to a file and start a store from one
 * (zram_save(), zram_restore(); format in docs/snapshot.md).
 *
 * A snapshot keeps what the store keeps, not the pages: each compressed or
 * raw object byte for byte as it sits in the pool (or on the backing store:
 * written-back pages come back into memory), same-filled pages as their
 * word, the dictionaries, the codec settings and the disk size. Nothing is
 * decompressed or recompressed on either side, so a save costs about one
 * copy of compr_data_size.
 *
 * File: the 8-byte magic "UZRAMSNP", then records, each
 *   u32 type | u32 length | payload (length bytes) | u64 XXH3-64 of the
 *   payload seeded with (type << 32 | length)
 * HEADER first, DICT records, PAGES records in ascending slot order, END
 * last, then end of file. Little-endian. A reader accepts nothing else:
 * a bad checksum, an unknown type, a record out of order, a value out of
 * range, a slot given twice, a missing END or bytes after it are all the
 * same "corrupt" refusal, and the half-built store is destroyed.
 *
 * Point in time: the save closes the write gate (below) for its whole
 * length. Writes (write, discard, write_zeroes) that arrive meanwhile wait
 * at the gate; writes already inside are waited for before the walk
 * starts. Reads never pass the gate: a read waits at most for the one slot
 * lock the walk holds while it copies that slot's object.
 *
 * The write gate: one 32-bit word, SAVING | writers inside. A writer enters
 * with a CAS that increments the count while SAVING is clear, else sleeps
 * on the word (futex) until it changes; it leaves with a decrement and
 * wakes the word if it was the last one while SAVING. The saver sets
 * SAVING, sleeps until the count is 0, walks, clears SAVING and wakes all.
 *
 * Lock order: ctrl_lock (the whole save: one save or control command at a
 * time) -> gate (closed; writers never hold a lock when they wait on it)
 * -> slot lock (one at a time, while its object is copied) -> allocator /
 * backing locks inside slot_content.
 */
#include <endian.h>
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
#include <unistd.h>
#include <xxhash.h>

#include "backing.h"
#include "slot_content.h"
#include "zram_parse.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

#define SNAP_MAGIC "UZRAMSNP"
#define SNAP_VERSION 1u
#define SNAP_REC_HEADER 1u
#define SNAP_REC_DICT 2u
#define SNAP_REC_PAGES 3u
#define SNAP_REC_END 4u
/* a PAGES record is cut once its payload passes this */
#define SNAP_BATCH (1u << 20)
/* no record is longer: a 16 MiB dictionary and its ids */
#define SNAP_REC_MAX ((16u << 20) + 64u)
/* page entry: u64 index, u32 flags, u32 length, then the bytes */
#define SNAP_ENTRY_HDR 16u
/* flags bits a snapshot keeps: the content, not the state */
#define SNAP_FLAGS_KEEP                                             \
	(SLOT_SIZE_MASK | SLOT_SAME | SLOT_HUGE | SLOT_CODEC_MASK | \
	 SLOT_PRIO_MASK)

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

void zram_write_gate_enter(struct zram *z)
{
	uint32_t v = atomic_load_explicit(&z->save_gate, memory_order_acquire);

	for (;;) {
		if (v & GATE_SAVING) {
			gate_wait(&z->save_gate, v);
			v = atomic_load_explicit(&z->save_gate,
						 memory_order_acquire);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &z->save_gate, &v, v + 1, memory_order_acquire,
			    memory_order_acquire))
			return;
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

struct snap_out {
	FILE *f;
	unsigned char *batch; /* PAGES payload being filled */
	size_t batch_len;
	uint32_t batch_count;
	uint64_t pages;
	uint64_t records;
	int err;
	struct zram_stream *st;
};

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* XXH3-64 of the payload, seeded with the type and length (so the sum
 * covers the record's header too). */
static uint64_t rec_sum(const unsigned char *hdr, const void *payload,
			size_t len)
{
	uint64_t seed = ((uint64_t)get32(hdr) << 32) | get32(hdr + 4);

	return XXH3_64bits_withSeed(payload, len, seed);
}

static void rec_write(struct snap_out *o, uint32_t type, const void *payload,
		      size_t len)
{
	unsigned char hdr[8], sum[8];

	if (o->err)
		return;
	put32(hdr, type);
	put32(hdr + 4, (uint32_t)len);
	put64(sum, rec_sum(hdr, payload, len));
	if (fwrite(hdr, 8, 1, o->f) != 1 ||
	    (len && fwrite(payload, len, 1, o->f) != 1) ||
	    fwrite(sum, 8, 1, o->f) != 1)
		o->err = -errno ? -errno : -EIO;
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
 * Copy slot @index into the batch. Locking: takes the slot lock while its
 * object is copied (the pool mapping, or the backing store for WB).
 */
static int save_one(struct zram *z, uint64_t index, void *arg)
{
	struct snap_out *o = arg;
	struct zram_slot *slot = &z->table[index];
	unsigned char *e = o->batch + o->batch_len;
	uint32_t f, len = 0;
	int err = 0;

	slot_lock(z, slot);
	f = LOAD(slot->flags);
	switch (slot_kind(f)) {
	case SLOT_KIND_EMPTY:
		break;
	case SLOT_KIND_SAME:
		len = 8;
		put64(e + SNAP_ENTRY_HDR, LOAD(slot->handle));
		break;
	default:
		len = f & SLOT_SIZE_MASK;
		err = slot_copy_object(z, o->st, index, e + SNAP_ENTRY_HDR);
		break;
	}
	slot_unlock(slot);
	if (err)
		return err;
	if (!len && slot_kind(f) == SLOT_KIND_EMPTY)
		return 0;
	put64(e, index);
	put32(e + 8, f & SNAP_FLAGS_KEEP);
	put32(e + 12, len);
	o->batch_len += SNAP_ENTRY_HDR + len;
	o->batch_count++;
	o->pages++;
	if (o->batch_len >= SNAP_BATCH)
		batch_flush(o);
	return o->err;
}

/* HEADER: the layout is docs/snapshot.md's table, offset by offset. */
#define SNAP_HEADER_LEN (40u + 4u * ZRAM_PRIOS * (ZRAM_CODECS + 1u))

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

/* Locking: ctrl_lock held (no dictionary changes meanwhile). */
static void dicts_write(struct zram *z, struct snap_out *o)
{
	unsigned int p, c;

	for (p = 0; p < ZRAM_PRIOS; p++)
		for (c = 0; c < ZRAM_CODECS; c++) {
			const struct zram_dict *d = LOAD(z->params[p][c].dict);
			unsigned char *buf;

			if (!d)
				continue;
			buf = malloc(8 + d->size);
			if (!buf) {
				o->err = -ENOMEM;
				return;
			}
			put32(buf, p);
			put32(buf + 4, c);
			memcpy(buf + 8, d->data, d->size);
			rec_write(o, SNAP_REC_DICT, buf, 8 + d->size);
			free(buf);
		}
}

/*
 * A snapshot keeps one dictionary per (priority, codec): refuse (-EBUSY)
 * while pages still need a replaced one (recompress or rewrite them).
 * Locking: ctrl_lock held.
 */
static int dicts_single(struct zram *z)
{
	unsigned int p, c, j;

	for (p = 0; p < ZRAM_PRIOS; p++)
		for (c = 0; c < ZRAM_CODECS; c++)
			for (j = 0; j < ZRAM_DICT_SLOTS; j++)
				if (j != LOAD(z->params[p][c].cur) %
						    ZRAM_DICT_SLOTS &&
				    LOAD(z->params[p][c].pages[j]))
					return -EBUSY;
	return 0;
}

static int save_walk(struct zram *z, struct snap_out *o)
{
	unsigned char end[16];
	int err;

	err = dicts_single(z);
	if (err)
		return err;
	header_write(z, o);
	dicts_write(z, o);
	o->batch_len = 4;
	err = slot_walk(z, 0, z->nr_slots, save_one, o);
	if (err)
		return err;
	batch_flush(o);
	put64(end, o->pages);
	put64(end + 8, o->records + 1);
	rec_write(o, SNAP_REC_END, end, sizeof(end));
	return o->err;
}

/* Open "PATH.XXXXXX" next to @path, so a failed save leaves no PATH. */
static int tmp_open(const char *path, char *tmp, FILE **out)
{
	int fd;

	if (snprintf(tmp, PATH_MAX, "%s.XXXXXX", path) >= PATH_MAX)
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	*out = fdopen(fd, "w");
	if (!*out) {
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	setvbuf(*out, NULL, _IOFBF, 1 << 20);
	return 0;
}

int zram_save(struct zram *z, const char *path)
{
	struct snap_out o = {0};
	char tmp[PATH_MAX];
	int err;

	if (!path || !*path)
		return -EINVAL;
	o.st = zram_stream_get(z);
	o.batch = malloc(SNAP_BATCH + SNAP_ENTRY_HDR + ZRAM_PAGE_SIZE);
	if (!o.st || !o.batch) {
		free(o.batch);
		return -ENOMEM;
	}
	err = tmp_open(path, tmp, &o.f);
	if (err)
		goto out_free;
	pthread_mutex_lock(&z->ctrl_lock);
	gate_close(z);
	if (fwrite(SNAP_MAGIC, 8, 1, o.f) != 1)
		o.err = -EIO;
	err = save_walk(z, &o);
	gate_open(z);
	pthread_mutex_unlock(&z->ctrl_lock);
	if (fflush(o.f) || fsync(fileno(o.f)))
		err = err ? err : -errno;
	if (fclose(o.f))
		err = err ? err : -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out_free:
	free(o.batch);
	return err;
}

/* ---- reading ---- */

struct snap_in {
	FILE *f;
	const char *path;
	unsigned char *buf; /* one record's payload */
	uint32_t type, len;
	uint64_t records;
	char *err;
	size_t err_size;
};

static int __attribute__((format(printf, 2, 3)))
refuse(struct snap_in *in, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(in->err, in->err_size, "%s: ", in->path);

	if (n >= 0 && (size_t)n < in->err_size) {
		va_start(ap, fmt);
		vsnprintf(in->err + n, in->err_size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * A short read: an error of the file (a directory, an I/O error) is said as
 * such with its errno, not mistaken for a truncated or foreign file. Returns
 * -errno with the message, or 0 when it was the end of the file.
 */
static int read_error(struct snap_in *in)
{
	int e = errno;

	if (!ferror(in->f))
		return 0;
	if (!e)
		e = EIO;
	snprintf(in->err, in->err_size, "%s: %s", in->path, strerrordesc_np(e));
	return -e;
}

/* Read the next record into in->buf. Returns 0, 1 at a clean EOF, or
 * -EINVAL (-errno for a read error) with the message. */
static int rec_read(struct snap_in *in)
{
	unsigned char hdr[8], sum[8];
	size_t n = fread(hdr, 1, 8, in->f);
	int err;

	if (n != 8 && (err = read_error(in)))
		return err;
	if (n == 0 && feof(in->f))
		return 1;
	if (n != 8)
		return refuse(in, "truncated in record %" PRIu64,
			      in->records + 1);
	in->type = get32(hdr);
	in->len = get32(hdr + 4);
	if (in->len > SNAP_REC_MAX)
		return refuse(in, "corrupt: record %" PRIu64 " claims %u bytes",
			      in->records + 1, in->len);
	if (fread(in->buf, 1, in->len, in->f) != in->len ||
	    fread(sum, 1, 8, in->f) != 8) {
		err = read_error(in);
		return err ? err
			   : refuse(in, "truncated in record %" PRIu64,
				    in->records + 1);
	}
	if (get64(sum) != rec_sum(hdr, in->buf, in->len))
		return refuse(in,
			      "corrupt: checksum of record %" PRIu64
			      " does not match",
			      in->records + 1);
	in->records++;
	return 0;
}

static int header_read(struct snap_in *in, const struct zram_config *base,
		       struct zram **out, uint64_t *mem_limit)
{
	struct zram_config cfg = {0};
	const unsigned char *h = in->buf;
	unsigned int p, c;
	size_t pos = 40;
	struct zram *z;
	uint32_t algo;
	int err;

	if (in->type != SNAP_REC_HEADER || in->len < 4)
		return refuse(in, "corrupt: no header record");
	if (get32(h) != SNAP_VERSION)
		return refuse(in,
			      "snapshot format version %u (this uzram "
			      "reads version %u)",
			      get32(h), SNAP_VERSION);
	if (in->len != SNAP_HEADER_LEN || get32(h + 4) != ZRAM_PAGE_SIZE ||
	    get32(h + 20) != ZRAM_PRIOS || get32(h + 24) != ZRAM_CODECS)
		return refuse(in, "corrupt: bad header record");
	if (base)
		cfg = *base;
	cfg.disksize = get64(h + 8);
	algo = get32(h + 16);
	if (!cfg.disksize || cfg.disksize % ZRAM_PAGE_SIZE ||
	    cfg.disksize > ZRAM_DISKSIZE_MAX || algo >= ZRAM_CODECS)
		return refuse(in, "corrupt: bad disk size or codec");
	if (base && base->disksize &&
	    (base->disksize + ZRAM_PAGE_SIZE - 1) / ZRAM_PAGE_SIZE !=
		    cfg.disksize / ZRAM_PAGE_SIZE)
		return refuse(in, "holds a %" PRIu64 "-byte disk, not %" PRIu64,
			      cfg.disksize, base->disksize);
	/* the codec settings come from the snapshot, the limit after it */
	cfg.algorithm = zram_algorithm_name(algo);
	cfg.algorithm_params = NULL;
	cfg.mem_limit = 0;
	err = zram_create(&cfg, &z);
	if (err)
		return err == -ENOMEM
			       ? err
			       : refuse(in, "cannot create the store: %s",
					strerrordesc_np(-err));
	*mem_limit = get64(h + 32);
	for (p = 0; !err && p < ZRAM_PRIOS; p++) {
		int32_t r = (int32_t)get32(h + pos);

		pos += 4;
		if (r < -1 || r >= (int32_t)ZRAM_CODECS)
			err = -EINVAL;
		else if (p)
			atomic_store(&z->recomp_algo[p], r);
		for (c = 0; !err && c < ZRAM_CODECS; c++, pos += 4)
			err = zram_params_change(z, p, (int)c, true,
						 (int32_t)get32(h + pos), NULL);
	}
	if (err) {
		zram_destroy(z);
		return refuse(in, "corrupt: bad codec settings");
	}
	*out = z;
	return 0;
}

static int dict_read(struct snap_in *in, struct zram *z)
{
	uint32_t p, c;
	void *data;
	int err;

	if (in->len < 9)
		return refuse(in, "corrupt: empty dictionary record");
	p = get32(in->buf);
	c = get32(in->buf + 4);
	if (p >= ZRAM_PRIOS || c >= ZRAM_CODECS)
		return refuse(in, "corrupt: dictionary for a codec that does "
				  "not exist");
	data = malloc(in->len - 8);
	if (!data)
		return -ENOMEM;
	memcpy(data, in->buf + 8, in->len - 8);
	err = zram_dict_set(z, p, c, data, in->len - 8);
	if (err == -ENOMEM)
		return err;
	return err ? refuse(in, "corrupt: dictionary refused by %s",
			    zram_algorithm_name(c))
		   : 0;
}

/* One page entry of a PAGES record into its slot. */
static int page_restore(struct snap_in *in, struct zram *z, uint64_t index,
			uint32_t f, const unsigned char *data, uint32_t len)
{
	struct zram_slot *slot = &z->table[index];
	struct slot_obj obj = {.flags = f};
	uint32_t size = f & SLOT_SIZE_MASK;
	uint64_t cur;
	int err;

	if (f & ~SNAP_FLAGS_KEEP)
		return refuse(in, "corrupt: page %" PRIu64 " flags", index);
	if (f & SLOT_SAME) {
		if (len != 8 || f != SLOT_SAME)
			return refuse(in, "corrupt: page %" PRIu64, index);
		obj.handle = get64(data);
	} else {
		if (!size || size != len || size > ZRAM_PAGE_SIZE ||
		    ((f & SLOT_HUGE) != 0) != (size == ZRAM_PAGE_SIZE) ||
		    slot_codec_id(f) >= ZRAM_CODECS)
			return refuse(in, "corrupt: page %" PRIu64, index);
		/* the one dictionary saved is the current one */
		cur = LOAD(slot_params(z, f)->cur);
		if (!(f & SLOT_HUGE))
			f |= (uint32_t)(cur % ZRAM_DICT_SLOTS)
			     << SLOT_DICT_SHIFT;
		err = slot_obj_store(z, data, len, f,
				     LOAD(slot_params(z, f)->dict), &obj);
		if (err)
			return err;
		obj.dict_cur = cur;
	}
	slot_lock(z, slot);
	if (slot_kind(LOAD(slot->flags)) != SLOT_KIND_EMPTY ||
	    slot_obj_commit(z, &obj)) {
		slot_unlock(slot);
		slot_obj_drop(z, &obj);
		return refuse(in, "corrupt: page %" PRIu64 " given twice",
			      index);
	}
	slot_install(z, slot, &obj);
	slot_unlock(slot);
	return 0;
}

static int pages_read(struct snap_in *in, struct zram *z, uint64_t *next,
		      uint64_t *pages)
{
	const unsigned char *p = in->buf, *end = in->buf + in->len;
	uint32_t count, i;
	int err;

	if (in->len < 4)
		return refuse(in, "corrupt: short pages record");
	count = get32(p);
	p += 4;
	for (i = 0; i < count; i++) {
		uint64_t index;
		uint32_t f, len;

		if ((size_t)(end - p) < SNAP_ENTRY_HDR)
			return refuse(in, "corrupt: short pages record");
		index = get64(p);
		f = get32(p + 8);
		len = get32(p + 12);
		p += SNAP_ENTRY_HDR;
		if ((size_t)(end - p) < len || index >= z->nr_slots ||
		    index < *next)
			return refuse(in,
				      "corrupt: page entry %u of record "
				      "%" PRIu64,
				      i, in->records);
		err = page_restore(in, z, index, f, p, len);
		if (err)
			return err;
		p += len;
		*next = index + 1;
		(*pages)++;
	}
	return p == end ? 0 : refuse(in, "corrupt: bytes after the pages");
}

static int end_read(struct snap_in *in, uint64_t pages)
{
	unsigned char extra;

	if (in->len != 16 || get64(in->buf) != pages ||
	    get64(in->buf + 8) != in->records)
		return refuse(in, "corrupt: end record does not match");
	if (fread(&extra, 1, 1, in->f) != 0)
		return refuse(in, "corrupt: bytes after the end record");
	return 0;
}

static int body_read(struct snap_in *in, struct zram *z)
{
	uint64_t next = 0, pages = 0;
	bool dicts = true;
	int err;

	for (;;) {
		err = rec_read(in);
		if (err)
			return err > 0 ? refuse(in, "truncated: no end record")
				       : err;
		switch (in->type) {
		case SNAP_REC_DICT:
			if (!dicts)
				return refuse(in, "corrupt: records out of "
						  "order");
			err = dict_read(in, z);
			break;
		case SNAP_REC_PAGES:
			dicts = false;
			err = pages_read(in, z, &next, &pages);
			break;
		case SNAP_REC_END:
			return end_read(in, pages);
		default:
			return refuse(in, "corrupt: unknown record type %u",
				      in->type);
		}
		if (err)
			return err;
	}
}

static int magic_read(struct snap_in *in)
{
	char magic[8];
	size_t n = fread(magic, 1, 8, in->f);
	int err;

	if (n != 8 && (err = read_error(in)))
		return err;
	if (n != 8 || memcmp(magic, SNAP_MAGIC, 8))
		return refuse(in, "not a uzram snapshot");
	return 0;
}

/* What the caller's config sets on top of the snapshot's settings. */
static int overrides_apply(struct snap_in *in, struct zram *z,
			   const struct zram_config *base, uint64_t mem_limit)
{
	if (base && base->mem_limit)
		mem_limit = base->mem_limit;
	if (zram_mem_limit_set(z, mem_limit))
		return refuse(in, "corrupt: bad mem_limit");
	if (!base)
		return 0;
	if (base->algorithm && zram_algorithm_set(z, base->algorithm))
		return refuse(in, "unknown codec %s", base->algorithm);
	if (base->algorithm_params &&
	    zram_params_text_apply(z, base->algorithm_params,
				   strlen(base->algorithm_params)))
		return refuse(in, "codec parameters '%s' refused",
			      base->algorithm_params);
	return 0;
}

int zram_restore(const char *path, const struct zram_config *config,
		 struct zram **out, char *err_msg, size_t err_size)
{
	struct snap_in in = {
		.path = path, .err = err_msg, .err_size = err_size};
	uint64_t mem_limit = 0;
	struct zram *z = NULL;
	int err;

	*out = NULL;
	if (err_size)
		err_msg[0] = '\0';
	in.f = fopen(path, "r");
	if (!in.f) {
		err = -errno;
		snprintf(err_msg, err_size, "%s: %s", path,
			 strerrordesc_np(-err));
		return err;
	}
	setvbuf(in.f, NULL, _IOFBF, 1 << 20);
	in.buf = malloc(SNAP_REC_MAX);
	err = in.buf ? magic_read(&in) : -ENOMEM;
	if (!err) {
		err = rec_read(&in);
		if (err > 0)
			err = refuse(&in, "truncated: no header");
	}
	if (!err)
		err = header_read(&in, config, &z, &mem_limit);
	if (!err)
		err = body_read(&in, z);
	if (!err)
		err = overrides_apply(&in, z, config, mem_limit);
	if (err == -ENOMEM)
		snprintf(err_msg, err_size, "%s: out of memory", path);
	if (err) {
		zram_destroy(z);
		z = NULL;
	}
	free(in.buf);
	fclose(in.f);
	*out = z;
	return err;
}
