/*
 * snapshot_restore.c - start a store from a snapshot (zram_restore(); the
 * format is in snapshot.h and docs/snapshot.md, the writer in snapshot.c).
 *
 * A reader accepts nothing but a whole, intact snapshot: a bad checksum, an
 * unknown type, a record out of order, a value out of range, a slot given
 * twice, a shared object never given, a missing END or bytes after it are
 * all the same "corrupt" refusal, and the half-built store is destroyed.
 *
 * How it runs fast: the file is read with pread() (no stdio, no seek), in
 * three steps.
 *  1. An index: each record's header only (one 8-byte pread a record, about
 *     300 for a 300 MB snapshot), checked against the file's size and the
 *     order of record types, so truncation is found before anything is
 *     built.
 *  2. HEADER, DICT and END (small) are read and checked; the store is
 *     created with its codecs and dictionaries.
 *  3. The PAGES records hold disjoint, ascending slots, so they are cut
 *     into one contiguous run per core and restored in parallel: each
 *     worker reads its records into its own buffer, checks each checksum,
 *     allocates and copies each object and installs it under its slot's
 *     lock. Runs meet only in the allocator's class locks and the store's
 *     counters. The pool prefaults its chunks meanwhile (one madvise per
 *     2 MiB instead of 512 page faults). A shared (dedup) object's later slots may lie in another
 *     run than its first one: a worker that finds the object not there yet
 *     keeps the slot aside, and the caller installs those after the join.
 * On any error the other workers stop at their next record.
 *
 * Lock order: as the write paths (slot lock -> dedup index locks ->
 * allocator locks); no I/O reaches the store before it is returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* PAGES runs: at most this many workers, each with at least this much */
#define RESTORE_WORKERS_MAX 8u
#define RESTORE_RUN_MIN (4u << 20)

/* Where a refusal's one line goes. */
struct snap_msg {
	const char *path;
	char *buf;
	size_t size;
};

/* One record of the file: its type, length and payload offset. */
struct snap_rec {
	uint64_t off;
	uint32_t type, len;
};

struct snap_in {
	int fd;
	struct snap_msg msg;
	uint32_t version;
	struct snap_rec *recs;
	size_t nrecs, cap;
	unsigned char *buf; /* HEADER, DICT, END payloads */
	struct zram *z;
	/* shared object number -> dedup entry id + 1 (0: not restored yet) */
	_Atomic uint32_t *shared;
	uint64_t nshared;
	uint64_t end_pages;
	atomic_bool stop; /* a worker failed: the others stop */
};

static int __attribute__((format(printf, 2, 3)))
refuse(struct snap_msg *m, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(m->buf, m->size, "%s: ", m->path);

	if (n >= 0 && (size_t)n < m->size) {
		va_start(ap, fmt);
		vsnprintf(m->buf + n, m->size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A read error of the file (a directory, EIO) said as such, with its
 * errno, not mistaken for a truncated or foreign file. */
static int read_error(struct snap_msg *m, int e)
{
	snprintf(m->buf, m->size, "%s: %s", m->path, strerrordesc_np(e));
	return -e;
}

/* Read @len bytes at @off. Returns 0, 1 if the file ends first, -errno. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return 1;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Record @i's payload and checksum into @buf, checked. Returns 0, -EINVAL
 * or -errno with the message.
 */
static int rec_load(struct snap_in *in, struct snap_msg *m, size_t i,
		    unsigned char *buf)
{
	const struct snap_rec *r = &in->recs[i];
	int err = pread_full(in->fd, buf, r->len + SNAP_REC_SUM, r->off);

	if (err < 0)
		return read_error(m, -err);
	if (err)
		return refuse(m, "truncated in record %zu", i + 1);
	if (get64(buf + r->len) != snap_rec_sum(r->type, r->len, buf))
		return refuse(m,
			      "corrupt: checksum of record %zu does not match",
			      i + 1);
	return 0;
}

/* ---- step 1: the index ---- */

static int magic_read(struct snap_in *in)
{
	char magic[8];
	int err = pread_full(in->fd, magic, sizeof(magic), 0);

	if (err < 0)
		return read_error(&in->msg, -err);
	if (err || memcmp(magic, SNAP_MAGIC, 8))
		return refuse(&in->msg, "not a uzram snapshot");
	return 0;
}

static int rec_add(struct snap_in *in, uint64_t off, uint32_t type,
		   uint32_t len)
{
	struct snap_rec *r;

	if (in->nrecs == in->cap) {
		size_t cap = in->cap ? 2 * in->cap : 256;

		r = realloc(in->recs, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		in->recs = r;
		in->cap = cap;
	}
	r = &in->recs[in->nrecs++];
	r->off = off;
	r->type = type;
	r->len = len;
	return 0;
}

/* HEADER, DICT..., PAGES..., END: the order docs/snapshot.md gives. */
static int index_check(struct snap_in *in)
{
	size_t i;

	if (!in->nrecs)
		return refuse(&in->msg, "truncated: no header");
	if (in->recs[0].type != SNAP_REC_HEADER)
		return refuse(&in->msg, "corrupt: no header record");
	for (i = 1; i < in->nrecs; i++) {
		uint32_t t = in->recs[i].type, prev = in->recs[i - 1].type;

		if (t == SNAP_REC_END && i + 1 < in->nrecs)
			return refuse(&in->msg,
				      "corrupt: bytes after the end record");
		if (t > SNAP_REC_END)
			return refuse(&in->msg,
				      "corrupt: unknown record type %u", t);
		if (t == SNAP_REC_HEADER || t < prev)
			return refuse(&in->msg,
				      "corrupt: records out of order");
	}
	if (in->recs[in->nrecs - 1].type != SNAP_REC_END)
		return refuse(&in->msg, "truncated: no end record");
	return 0;
}

/* Every record's header, checked against the file's size. */
static int index_read(struct snap_in *in)
{
	uint64_t pos = 8, size;
	unsigned char hdr[SNAP_REC_HDR];
	struct stat st;
	int err;

	if (fstat(in->fd, &st))
		return read_error(&in->msg, errno);
	size = (uint64_t)st.st_size;
	while (pos < size) {
		uint32_t type, len;

		if (size - pos < SNAP_REC_HDR)
			return refuse(&in->msg, "truncated in record %zu",
				      in->nrecs + 1);
		err = pread_full(in->fd, hdr, sizeof(hdr), pos);
		if (err)
			return err < 0 ? read_error(&in->msg, -err)
				       : refuse(&in->msg,
						"truncated in record %zu",
						in->nrecs + 1);
		type = get32(hdr);
		len = get32(hdr + 4);
		if (len > SNAP_REC_MAX)
			return refuse(&in->msg,
				      "corrupt: record %zu claims %u bytes",
				      in->nrecs + 1, len);
		if (size - pos - SNAP_REC_HDR < (uint64_t)len + SNAP_REC_SUM)
			return refuse(&in->msg, "truncated in record %zu",
				      in->nrecs + 1);
		if (rec_add(in, pos + SNAP_REC_HDR, type, len))
			return -ENOMEM;
		pos += SNAP_REC_HDR + len + SNAP_REC_SUM;
	}
	return index_check(in);
}

/* ---- step 2: header, dictionaries, end ---- */

static int header_store(struct snap_in *in, const struct zram_config *base)
{
	struct zram_config cfg = {0};
	const unsigned char *h = in->buf;
	uint32_t algo;
	int err;

	if (base)
		cfg = *base;
	cfg.disksize = get64(h + 8);
	algo = get32(h + 16);
	if (!cfg.disksize || cfg.disksize % ZRAM_PAGE_SIZE ||
	    cfg.disksize > ZRAM_DISKSIZE_MAX || algo >= ZRAM_CODECS)
		return refuse(&in->msg, "corrupt: bad disk size or codec");
	if (base && base->disksize &&
	    (base->disksize + ZRAM_PAGE_SIZE - 1) / ZRAM_PAGE_SIZE !=
		    cfg.disksize / ZRAM_PAGE_SIZE)
		return refuse(&in->msg,
			      "holds a %" PRIu64 "-byte disk, not %" PRIu64,
			      cfg.disksize, base->disksize);
	/* the codec settings come from the snapshot, the limit after it */
	cfg.algorithm = zram_algorithm_name(algo);
	cfg.algorithm_params = NULL;
	cfg.mem_limit = 0;
	err = zram_create(&cfg, &in->z);
	if (err)
		return err == -ENOMEM
			       ? err
			       : refuse(&in->msg, "cannot create the store: %s",
					strerrordesc_np(-err));
	return 0;
}

static int header_read(struct snap_in *in, const struct zram_config *base,
		       uint64_t *mem_limit)
{
	const struct snap_rec *r = &in->recs[0];
	const unsigned char *h = in->buf;
	unsigned int p, c;
	size_t pos = 40;
	int err;

	/* the version first: another version may sum differently */
	if (r->len < 4)
		return refuse(&in->msg, "corrupt: no header record");
	err = pread_full(in->fd, in->buf, 4, r->off);
	if (err)
		return err < 0 ? read_error(&in->msg, -err)
			       : refuse(&in->msg, "truncated in record 1");
	in->version = get32(h);
	if (in->version < SNAP_VERSION_MIN || in->version > SNAP_VERSION)
		return refuse(&in->msg,
			      "snapshot format version %u (this uzram reads "
			      "versions %u to %u)",
			      in->version, SNAP_VERSION_MIN, SNAP_VERSION);
	err = rec_load(in, &in->msg, 0, in->buf);
	if (err)
		return err;
	if (r->len != SNAP_HEADER_LEN || get32(h + 4) != ZRAM_PAGE_SIZE ||
	    get32(h + 20) != ZRAM_PRIOS || get32(h + 24) != ZRAM_CODECS)
		return refuse(&in->msg, "corrupt: bad header record");
	err = header_store(in, base);
	if (err)
		return err;
	*mem_limit = get64(h + 32);
	for (p = 0; !err && p < ZRAM_PRIOS; p++) {
		int32_t rc = (int32_t)get32(h + pos);

		pos += 4;
		if (rc < -1 || rc >= (int32_t)ZRAM_CODECS)
			err = -EINVAL;
		else if (p)
			atomic_store(&in->z->recomp_algo[p], rc);
		for (c = 0; !err && c < ZRAM_CODECS; c++, pos += 4)
			err = zram_params_change(in->z, p, (int)c, true,
						 (int32_t)get32(h + pos), NULL);
	}
	return err ? refuse(&in->msg, "corrupt: bad codec settings") : 0;
}

/* One DICT record: v1 (prio, codec, bytes: the current one), v2 (prio,
 * codec, index, current, bytes). */
static int dict_read(struct snap_in *in, size_t i)
{
	const struct snap_rec *r = &in->recs[i];
	size_t hdr = in->version == 1 ? SNAP_DICT_HDR_V1 : SNAP_DICT_HDR;
	uint32_t p, c, j = 0, current = 1;
	void *data;
	int err;

	err = rec_load(in, &in->msg, i, in->buf);
	if (err)
		return err;
	if (r->len <= hdr)
		return refuse(&in->msg, "corrupt: empty dictionary record");
	p = get32(in->buf);
	c = get32(in->buf + 4);
	if (in->version > 1) {
		j = get32(in->buf + 8);
		current = get32(in->buf + 12);
	}
	if (p >= ZRAM_PRIOS || c >= ZRAM_CODECS || j >= ZRAM_DICT_SLOTS ||
	    current > 1)
		return refuse(&in->msg, "corrupt: dictionary record %zu",
			      i + 1);
	data = malloc(r->len - hdr);
	if (!data)
		return -ENOMEM;
	memcpy(data, in->buf + hdr, r->len - hdr);
	if (in->version == 1)
		err = zram_dict_set(in->z, p, c, data, r->len - hdr);
	else
		err = zram_dict_restore(in->z, p, c, j, current, data,
					r->len - hdr);
	if (err == -ENOMEM)
		return err;
	return err ? refuse(&in->msg, "corrupt: dictionary refused by %s",
			    zram_algorithm_name(c))
		   : 0;
}

/* A (priority, codec) with dictionaries has exactly one current one. */
static int dicts_check(struct snap_in *in)
{
	unsigned int p, c, j;

	for (p = 0; p < ZRAM_PRIOS; p++)
		for (c = 0; c < ZRAM_CODECS; c++) {
			struct zram_codec_params *pa = &in->z->params[p][c];
			bool any = false;

			for (j = 0; j < ZRAM_DICT_SLOTS; j++)
				any |= LOAD(pa->dicts[j]) != NULL;
			if (any && !LOAD(pa->dict))
				return refuse(&in->msg,
					      "corrupt: no current dictionary");
		}
	return 0;
}

static int end_read(struct snap_in *in)
{
	size_t i = in->nrecs - 1;
	uint32_t want = in->version == 1 ? SNAP_END_LEN_V1 : SNAP_END_LEN;
	int err = rec_load(in, &in->msg, i, in->buf);

	if (err)
		return err;
	if (in->recs[i].len != want || get64(in->buf + 8) != in->nrecs)
		return refuse(&in->msg, "corrupt: end record does not match");
	in->end_pages = get64(in->buf);
	in->nshared = in->version == 1 ? 0 : get64(in->buf + 16);
	if (in->nshared > in->z->nr_slots)
		return refuse(&in->msg, "corrupt: end record does not match");
	return 0;
}

/* ---- step 3: the pages ---- */

/* A shared slot whose object another run restores: installed after. */
struct snap_pending {
	uint64_t index;
	uint32_t flags, num;
};

struct restore_run {
	struct snap_in *in;
	size_t first, end; /* records [first, end) */
	unsigned char *buf;
	uint64_t pages;
	uint64_t lo, next; /* first slot seen, last + 1 */
	struct snap_pending *pend;
	size_t npend, cap;
	size_t rec; /* record being read (1-based), for messages */
	int err;
	char line[256];
	struct snap_msg msg;
	pthread_t thread;
};

/* Install @obj in slot @index, which must be empty. Takes its lock. */
static int obj_put(struct restore_run *w, uint64_t index, struct slot_obj *obj)
{
	struct zram *z = w->in->z;
	struct zram_slot *slot = &z->table[index];

	slot_lock(z, slot);
	if (slot_kind(LOAD(slot->flags)) != SLOT_KIND_EMPTY ||
	    slot_obj_commit(z, obj)) {
		slot_unlock(slot);
		slot_obj_drop(z, obj);
		return refuse(&w->msg, "corrupt: page %" PRIu64 " given twice",
			      index);
	}
	slot_install(z, slot, obj);
	slot_unlock(slot);
	return 0;
}

/* Another slot of shared object @id (one reference taken here). */
static int ref_put(struct restore_run *w, uint64_t index, uint32_t f,
		   uint32_t id)
{
	struct zram_dedup *d = w->in->z->dedup;
	struct slot_obj obj = {.handle = id, .flags = f, .shared = true};

	if (dedup_meta(d, id) != f)
		return refuse(&w->msg, "corrupt: page %" PRIu64, index);
	dedup_get(d, id);
	return obj_put(w, index, &obj);
}

static int pending_add(struct restore_run *w, uint64_t index, uint32_t f,
		       uint32_t num)
{
	struct snap_pending *p;

	if (w->npend == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;

		p = realloc(w->pend, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		w->pend = p;
		w->cap = cap;
	}
	p = &w->pend[w->npend++];
	p->index = index;
	p->flags = f;
	p->num = num;
	return 0;
}

/* Is @f (@len bytes) a well-formed object? */
static bool obj_valid(uint32_t f, uint32_t len)
{
	uint32_t size = f & SLOT_SIZE_MASK;

	return size && size == len && size <= ZRAM_PAGE_SIZE &&
	       ((f & SLOT_HUGE) != 0) == (size == ZRAM_PAGE_SIZE) &&
	       (!(f & SLOT_HUGE) || !(f & SLOT_DICT_MASK)) &&
	       slot_codec_id(f) < ZRAM_CODECS;
}

/* A new object (@f without SHARED) into slot @index; @key: index it. */
static int obj_restore(struct restore_run *w, uint64_t index, uint32_t f,
		       const unsigned char *data, uint32_t len,
		       const uint32_t *key)
{
	struct zram *z = w->in->z;
	struct slot_obj obj;
	int err;

	if (!obj_valid(f, len))
		return refuse(&w->msg, "corrupt: page %" PRIu64, index);
	/* v1 kept one dictionary, the current one */
	if (w->in->version == 1 && !(f & SLOT_HUGE))
		f |= (uint32_t)(LOAD(slot_params(z, f)->cur) % ZRAM_DICT_SLOTS)
		     << SLOT_DICT_SHIFT;
	err = slot_obj_store(z, data, len, f, NULL, &obj);
	if (err)
		return err;
	obj.dict_cur = LOAD(slot_params(z, f)->cur);
	if (key) {
		obj.indexed = true;
		obj.hash = *key;
	}
	return obj_put(w, index, &obj);
}

/* A SHARED entry: the object with its number and key, or the number. */
static int shared_restore(struct restore_run *w, uint64_t index, uint32_t f,
			  const unsigned char *data, uint32_t len)
{
	struct snap_in *in = w->in;
	uint32_t num, key, id, expect = 0;
	int err;

	if (len < SNAP_SHARED_REF || (num = get32(data)) >= in->nshared)
		return refuse(&w->msg, "corrupt: page %" PRIu64, index);
	if (len == SNAP_SHARED_REF) {
		id = atomic_load_explicit(&in->shared[num],
					  memory_order_acquire);
		if (id)
			return ref_put(w, index, f, id - 1);
		return pending_add(w, index, f, num);
	}
	if (len < SNAP_SHARED_HDR)
		return refuse(&w->msg, "corrupt: page %" PRIu64, index);
	key = get32(data + 4);
	err = obj_restore(w, index, f & ~SLOT_SHARED, data + SNAP_SHARED_HDR,
			  len - SNAP_SHARED_HDR, &key);
	if (err)
		return err;
	f = LOAD(in->z->table[index].flags);
	if (!(f & SLOT_SHARED))
		return -ENOMEM; /* the index had no room for it */
	id = (uint32_t)LOAD(in->z->table[index].handle);
	if (!atomic_compare_exchange_strong_explicit(
		    &in->shared[num], &expect, id + 1, memory_order_release,
		    memory_order_relaxed))
		return refuse(&w->msg, "corrupt: shared object %u given twice",
			      num);
	return 0;
}

/* One page entry into its slot. */
static int entry_restore(struct restore_run *w, uint64_t index, uint32_t f,
			 const unsigned char *data, uint32_t len)
{
	uint32_t keep =
		w->in->version == 1 ? SNAP_FLAGS_KEEP_V1 : SNAP_FLAGS_KEEP;
	struct slot_obj obj = {.flags = SLOT_SAME};

	if (f & ~keep)
		return refuse(&w->msg, "corrupt: page %" PRIu64 " flags",
			      index);
	if (f & SLOT_SAME) {
		if (len != 8 || f != SLOT_SAME)
			return refuse(&w->msg, "corrupt: page %" PRIu64, index);
		obj.handle = get64(data);
		return obj_put(w, index, &obj);
	}
	if (f & SLOT_SHARED)
		return shared_restore(w, index, f, data, len);
	return obj_restore(w, index, f, data, len, NULL);
}

static int pages_restore(struct restore_run *w, const unsigned char *p,
			 uint32_t len)
{
	const unsigned char *end = p + len;
	uint32_t count, i;
	int err;

	if (len < 4)
		return refuse(&w->msg, "corrupt: short pages record");
	count = get32(p);
	p += 4;
	for (i = 0; i < count; i++) {
		uint64_t index;
		uint32_t f, n;

		if ((size_t)(end - p) < SNAP_ENTRY_HDR)
			return refuse(&w->msg, "corrupt: short pages record");
		index = get64(p);
		f = get32(p + 8);
		n = get32(p + 12);
		p += SNAP_ENTRY_HDR;
		if ((size_t)(end - p) < n || index >= w->in->z->nr_slots ||
		    index < w->next)
			return refuse(&w->msg,
				      "corrupt: page entry %u of record %zu", i,
				      w->rec);
		if (!w->pages)
			w->lo = index;
		err = entry_restore(w, index, f, p, n);
		if (err)
			return err;
		p += n;
		w->next = index + 1;
		w->pages++;
	}
	return p == end ? 0 : refuse(&w->msg, "corrupt: bytes after the pages");
}

static void *run_main(void *arg)
{
	struct restore_run *w = arg;
	size_t i;

	for (i = w->first; i < w->end && !w->err; i++) {
		if (atomic_load_explicit(&w->in->stop, memory_order_relaxed))
			break;
		w->rec = i + 1;
		w->err = rec_load(w->in, &w->msg, i, w->buf);
		if (!w->err)
			w->err = pages_restore(w, w->buf, w->in->recs[i].len);
	}
	if (w->err)
		atomic_store_explicit(&w->in->stop, true, memory_order_relaxed);
	return NULL;
}

/* Cut the PAGES records [first, end) into @n runs of about equal bytes. */
static void runs_cut(struct snap_in *in, struct restore_run *w, unsigned int n,
		     size_t first, size_t end, uint64_t bytes)
{
	uint64_t acc = 0;
	unsigned int k = 0;
	size_t i;

	w[0].first = first;
	for (i = first; i < end; i++) {
		acc += in->recs[i].len;
		if (k + 1 < n && acc >= bytes * (k + 1) / n) {
			w[k].end = i + 1;
			w[++k].first = i + 1;
		}
	}
	w[k].end = end;
	while (++k < n)
		w[k].first = w[k].end = end;
}

static int run_init(struct snap_in *in, struct restore_run *w)
{
	uint32_t max = 0;
	size_t i;

	w->in = in;
	w->msg.path = in->msg.path;
	w->msg.buf = w->line;
	w->msg.size = sizeof(w->line);
	for (i = w->first; i < w->end; i++)
		if (in->recs[i].len > max)
			max = in->recs[i].len;
	w->buf = malloc(max + SNAP_REC_SUM);
	return w->buf ? 0 : -ENOMEM;
}

/* The workers' results: slots ascending across runs, errors, totals. */
static int runs_finish(struct snap_in *in, struct restore_run *w,
		       unsigned int n, uint64_t *pages)
{
	uint64_t next = 0;
	unsigned int k;

	for (k = 0; k < n; k++) {
		if (w[k].err) {
			snprintf(in->msg.buf, in->msg.size, "%s", w[k].line);
			return w[k].err;
		}
		if (w[k].pages && w[k].lo < next)
			return refuse(&in->msg,
				      "corrupt: page entry 0 of record %zu",
				      w[k].first + 1);
		if (w[k].pages)
			next = w[k].next;
		*pages += w[k].pages;
	}
	return 0;
}

/* The shared slots whose object was restored by another run. */
static int pending_finish(struct snap_in *in, struct restore_run *w,
			  unsigned int n)
{
	unsigned int k;
	uint64_t i;
	int err;

	for (k = 0; k < n; k++)
		for (i = 0; i < w[k].npend; i++) {
			const struct snap_pending *p = &w[k].pend[i];
			uint32_t id = LOAD(in->shared[p->num]);

			if (!id)
				return refuse(&in->msg,
					      "corrupt: shared object %u never "
					      "given",
					      p->num);
			err = ref_put(&w[k], p->index, p->flags, id - 1);
			if (err) {
				snprintf(in->msg.buf, in->msg.size, "%s",
					 w[k].line);
				return err;
			}
		}
	for (i = 0; i < in->nshared; i++)
		if (!LOAD(in->shared[i]))
			return refuse(&in->msg,
				      "corrupt: shared object %" PRIu64
				      " never given",
				      i);
	return 0;
}

static unsigned int runs_count(uint64_t bytes, size_t records)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t n = bytes / RESTORE_RUN_MIN;

	if (cpus < 1)
		cpus = 1;
	if (n > (uint64_t)cpus)
		n = (uint64_t)cpus;
	if (n > RESTORE_WORKERS_MAX)
		n = RESTORE_WORKERS_MAX;
	if (n > records)
		n = records;
	return n ? (unsigned int)n : 1;
}

/* Runs 1.. on threads of their own, run 0 on the caller's. */
static int runs_start(struct restore_run *w, unsigned int n)
{
	unsigned int k, started;
	int err = 0;

	for (started = 1; started < n; started++)
		if (pthread_create(&w[started].thread, NULL, run_main,
				   &w[started])) {
			err = -ENOMEM;
			atomic_store(&w->in->stop, true);
			break;
		}
	run_main(&w[0]);
	for (k = 1; k < started; k++)
		pthread_join(w[k].thread, NULL);
	return err;
}

static int pages_read(struct snap_in *in)
{
	size_t first = 1, end = in->nrecs - 1, i;
	struct restore_run w[RESTORE_WORKERS_MAX] = {0};
	uint64_t bytes = 0, pages = 0;
	unsigned int n, k;
	int err = 0;

	while (first < end && in->recs[first].type == SNAP_REC_DICT)
		first++;
	for (i = first; i < end; i++)
		bytes += in->recs[i].len;
	n = runs_count(bytes, end - first);
	runs_cut(in, w, n, first, end, bytes);
	for (k = 0; k < n && !err; k++)
		err = run_init(in, &w[k]);
	/* the pool will hold about @bytes: map it in whole chunks */
	zs_pool_prefault(in->z->pool, true);
	if (!err)
		err = runs_start(w, n);
	zs_pool_prefault(in->z->pool, false);
	if (!err)
		err = runs_finish(in, w, n, &pages);
	if (!err)
		err = pending_finish(in, w, n);
	if (!err && pages != in->end_pages)
		err = refuse(&in->msg, "corrupt: end record does not match");
	for (k = 0; k < n; k++) {
		free(w[k].buf);
		free(w[k].pend);
	}
	return err;
}

/* ---- the whole ---- */

/* What the caller's config sets on top of the snapshot's settings. */
static int overrides_apply(struct snap_in *in, const struct zram_config *base,
			   uint64_t mem_limit)
{
	struct zram *z = in->z;

	if (base && base->mem_limit)
		mem_limit = base->mem_limit;
	if (zram_mem_limit_set(z, mem_limit))
		return refuse(&in->msg, "corrupt: bad mem_limit");
	if (!base)
		return 0;
	if (base->algorithm && zram_algorithm_set(z, base->algorithm))
		return refuse(&in->msg, "unknown codec %s", base->algorithm);
	if (base->algorithm_params &&
	    zram_params_text_apply(z, base->algorithm_params,
				   strlen(base->algorithm_params)))
		return refuse(&in->msg, "codec parameters '%s' refused",
			      base->algorithm_params);
	return 0;
}

/* Shared objects need the dedup index (new writes use it only if the
 * caller's config turns dedup on). */
static int shared_init(struct snap_in *in, const struct zram_config *base)
{
	int err;

	if (!in->nshared)
		return 0;
	in->shared = calloc(in->nshared, sizeof(*in->shared));
	if (!in->shared)
		return -ENOMEM;
	err = zram_dedup_set(in->z, true);
	if (!err)
		err = zram_dedup_set(in->z, base && base->dedup);
	return err;
}

static int restore_steps(struct snap_in *in, const struct zram_config *config)
{
	uint64_t mem_limit = 0;
	size_t i;
	int err;

	in->buf = malloc(SNAP_REC_MAX + SNAP_REC_SUM);
	if (!in->buf)
		return -ENOMEM;
	err = magic_read(in);
	if (!err)
		err = index_read(in);
	if (!err)
		err = header_read(in, config, &mem_limit);
	for (i = 1; !err && in->recs[i].type == SNAP_REC_DICT; i++)
		err = dict_read(in, i);
	if (!err)
		err = dicts_check(in);
	if (!err)
		err = end_read(in);
	if (!err)
		err = shared_init(in, config);
	if (!err)
		err = pages_read(in);
	if (!err)
		err = overrides_apply(in, config, mem_limit);
	return err;
}

int zram_restore(const char *path, const struct zram_config *config,
		 struct zram **out, char *err_msg, size_t err_size)
{
	struct snap_in in = {.msg = {path, err_msg, err_size}};
	int err;

	*out = NULL;
	if (err_size)
		err_msg[0] = '\0';
	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0)
		return read_error(&in.msg, errno);
	posix_fadvise(in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	err = restore_steps(&in, config);
	if (err == -ENOMEM)
		snprintf(err_msg, err_size, "%s: out of memory", path);
	if (err) {
		zram_destroy(in.z);
		in.z = NULL;
	}
	free(in.shared);
	free(in.recs);
	free(in.buf);
	close(in.fd);
	*out = in.z;
	return err;
}
