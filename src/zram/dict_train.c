/*
 * dict_train.c - dictionaries trained from the pages the store holds.
 *
 * `train_dict [samples=N] [size=BYTES]` picks N resident compressed pages
 * spread evenly over the disk (every k-th one, so one hot file does not
 * make the whole sample), decodes them into a temporary buffer (N * 4 KiB,
 * freed at the end) and trains a dictionary of at most BYTES:
 *   - zstd: ZDICT_trainFromBuffer(), a full zstd dictionary (entropy
 *     tables and content);
 *   - lz4, lz4hc: the content part of the same training (the header and
 *     entropy tables stripped): lz4 takes raw content as its dictionary.
 * The result is installed for new writes of the current codec as
 * `algorithm_params dict=PATH` would be (control.c). Pages stored before
 * keep the dictionary they were written with.
 *
 * Why train on decoded resident pages rather than on writes as they come:
 * what is resident is what memory is spent on, and training is a rare,
 * explicit command (or the policy's auto_dict), so its cost (about a second
 * for 4096 pages) is paid off the write path.
 *
 * Errors: a sample smaller than ZRAM_TRAIN_SAMPLES_MIN pages or a training
 * that fails (content too uniform or too random to learn from) is -ENODATA,
 * and nothing changes.
 *
 * Memory: the sample buffer (up to 64 MiB) is mapped and unmapped, and the
 * heap is trimmed after ZDICT's work buffers (tens of MiB) are freed, so a
 * training leaves the daemon's RSS where it was: glibc raises its mmap
 * threshold after the first large free(), and later buffers of that size
 * came from the heap and stayed resident after free() (tests/unit/
 * zram_dict_train.c: +12 MiB after three more trainings, now +0).
 *
 * Locking: takes each sampled slot's lock in turn (one at a time, no other
 * lock held) to decode it; the caller holds ctrl_lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zdict.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "slot_content.h"
#include "zram_parse.h"

/*
 * dict_train_pages - train a dictionary for codec @codec from @n pages at
 * @samples. Returns 0 with *@out (malloc'ed, *@out_size bytes <= @cap), or
 * -ENODATA (training failed: nothing to learn), -ENOMEM.
 */
int dict_train_pages(unsigned int codec, const void *samples, size_t n,
		     size_t cap, void **out, size_t *out_size)
{
	size_t *sizes = malloc(n * sizeof(*sizes));
	unsigned char *dict = malloc(cap);
	size_t i, len, hs;
	int err = -ENOMEM;

	if (!sizes || !dict)
		goto err_free;
	for (i = 0; i < n; i++)
		sizes[i] = ZRAM_PAGE_SIZE;
	err = -ENODATA;
	len = ZDICT_trainFromBuffer(dict, cap, samples, sizes, (unsigned)n);
	if (ZDICT_isError(len))
		goto err_free;
	if (codec != ZRAM_CODEC_ZSTD) {
		/* lz4: raw content, the most useful bytes last */
		hs = ZDICT_getDictHeaderSize(dict, len);
		if (ZDICT_isError(hs) || hs >= len)
			goto err_free;
		memmove(dict, dict + hs, len - hs);
		len -= hs;
	}
	free(sizes);
	*out = dict;
	*out_size = len;
	return 0;
err_free:
	free(sizes);
	free(dict);
	return err;
}

/* A slot worth sampling: it holds a compressed or raw object in memory. */
static bool slot_sampled(uint32_t f)
{
	enum slot_kind k = slot_kind(f);

	return k == SLOT_KIND_COMPRESSED || k == SLOT_KIND_HUGE ||
	       k == SLOT_KIND_SHARED || k == SLOT_KIND_GROUPED;
}

/*
 * page_peek - decode slot @index into @dst without counting an access (idle
 * marks and ac_time stay). Returns 1 if it was sampled, 0 if the slot no
 * longer holds a page worth it, -EIO, -ENOMEM. Locking: takes the slot lock.
 */
static int page_peek(struct zram *z, struct zram_stream *st, uint64_t index,
		     unsigned char *dst)
{
	struct zram_slot *slot = &z->table[index];
	int err = 0;

	slot_lock(z, slot);
	if (slot_sampled(
		    atomic_load_explicit(&slot->flags, memory_order_relaxed)))
		err = slot_decode(z, st, index, dst) ?: 1;
	slot_unlock(slot);
	return err;
}

/* A sampling walk: count (buf NULL) or decode every stride-th page. */
struct sample_walk {
	struct zram_stream *st;
	unsigned char *buf;
	size_t want, n;
	uint64_t stride, seen;
};

/* slot_walk() callback. Locking: takes the slot's lock to decode it. */
static int sample_one(struct zram *z, uint64_t index, void *arg)
{
	struct sample_walk *w = arg;
	int err;

	if (!slot_sampled(atomic_load_explicit(&z->table[index].flags,
					       memory_order_relaxed)))
		return 0;
	if (w->seen++ % w->stride || !w->buf)
		return 0;
	err = page_peek(z, w->st, index, w->buf + w->n * ZRAM_PAGE_SIZE);
	if (err < 0)
		return err;
	w->n += (size_t)err;
	return w->n == w->want; /* 1 stops the walk */
}

/*
 * dict_sample - decode up to @want resident pages, every stride-th one,
 * into @buf. Returns the number decoded, or -errno. Walks skip table pages
 * never written. Locking: one slot lock at a time.
 */
static ssize_t dict_sample(struct zram *z, unsigned char *buf, size_t want)
{
	struct sample_walk w = {
		.st = zram_stream_get(z), .want = want, .stride = 1};
	int err;

	if (!w.st)
		return -ENOMEM;
	slot_walk(z, 0, z->nr_slots, sample_one, &w); /* count */
	if (w.seen > want)
		w.stride = w.seen / want;
	w.seen = 0;
	w.buf = buf;
	err = slot_walk(z, 0, z->nr_slots, sample_one, &w);
	return err < 0 ? err : (ssize_t)w.n;
}

/* Give freed heap memory back to the OS (every arena). */
void zram_heap_trim(void)
{
	zs_os_heap_trim();
}

int zram_dict_train(struct zram *z, uint64_t samples, uint64_t size)
{
	size_t buf_bytes = samples * ZRAM_PAGE_SIZE;
	unsigned char *buf;
	unsigned int codec;
	void *data;
	size_t len;
	ssize_t n;
	int err;

	if (samples < ZRAM_TRAIN_SAMPLES_MIN ||
	    samples > ZRAM_TRAIN_SAMPLES_MAX || size < ZRAM_TRAIN_SIZE_MIN ||
	    size > ZRAM_TRAIN_SIZE_MAX)
		return -EINVAL;
	buf = mmap(NULL, buf_bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&z->ctrl_lock);
	codec = (unsigned int)atomic_load_explicit(&z->algo,
						   memory_order_relaxed);
	n = dict_sample(z, buf, samples);
	err = n < 0 ? (int)n : -ENODATA;
	if (n < (ssize_t)ZRAM_TRAIN_SAMPLES_MIN)
		goto out_unlock;
	err = dict_train_pages(codec, buf, (size_t)n, size, &data, &len);
	if (err)
		goto out_unlock;
	err = zram_dict_install(z, codec, data, len);
	if (!err)
		atomic_fetch_add_explicit(&z->stats.dicts_trained, 1,
					  memory_order_relaxed);
out_unlock:
	pthread_mutex_unlock(&z->ctrl_lock);
	munmap(buf, buf_bytes);
	zram_heap_trim(); /* ZDICT's work buffers, freed but resident */
	return err;
}

/*
 * Rewrite one idle page written by the primary codec with an older
 * dictionary, with the current one. Keeps IDLE. Returns 1 if rewritten.
 * Locking: takes the slot lock; allocates and compresses under it, as a
 * partial write does.
 */
struct refresh_walk {
	struct zram_stream *st;
	uint64_t count;
};

/* An object of the primary codec @c, written with another dictionary (a
 * frame's member has none of its own: its frame's stays counted). */
static bool dict_stale(uint32_t f, const struct slot_codec *c)
{
	return !(f & (SLOT_HUGE | SLOT_GROUPED)) && !slot_prio(f) &&
	       slot_codec_id(f) == c->codec &&
	       slot_dict_idx(f) != c->dict_cur % ZRAM_DICT_SLOTS;
}

/*
 * A shared page: its entry's object is rewritten in place, once for all
 * its sharers (the first idle one to be visited brings it; the others then
 * find it current). Moving each sharer to a new object instead left the
 * sharers that were not idle on the old one: two objects for one page.
 * Returns 1 if rewritten. Locking: slot lock held.
 */
static int shared_refresh(struct zram *z, struct zram_stream *st,
			  struct zram_slot *slot, uint64_t index,
			  const struct slot_codec *c)
{
	int n;

	/* done through another sharer: this slot's copy follows */
	if (!dict_stale(slot_shared_sync(z, slot), c) ||
	    slot_decode(z, st, index, st->page))
		return 0;
	n = slot_compress(z, st, c, st->page);
	if (n <= 0) /* the new dictionary does not fit it, or it changed */
		return 0;
	return !slot_shared_rewrite(z, slot, st->cbuf, (size_t)n,
				    (uint32_t)n | slot_codec_flags(c), c, true);
}

static int refresh_one(struct zram *z, uint64_t index, void *arg)
{
	struct zram_slot *slot = &z->table[index];
	struct refresh_walk *w = arg;
	struct zram_stream *st = w->st;
	struct slot_codec c;
	struct slot_obj obj;
	uint32_t f;
	int err;

	if (slot_codec_get(z, 0, &c))
		return 0;
	c.dedup = false; /* a plain page stays plain */
	slot_lock(z, slot);
	f = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	if (!(f & SLOT_IDLE))
		goto out_unlock;
	if (slot_kind(f) == SLOT_KIND_SHARED) {
		w->count += (uint64_t)shared_refresh(z, st, slot, index, &c);
		goto out_unlock;
	}
	if (slot_kind(f) != SLOT_KIND_COMPRESSED || !dict_stale(f, &c))
		goto out_unlock;
	err = slot_decode(z, st, index, st->page);
	if (!err)
		err = slot_encode(z, st, &c, st->page, &obj);
	if (err)
		goto out_unlock;
	if (slot_obj_commit(z, &obj)) {
		slot_obj_drop(z, &obj);
		goto out_unlock;
	}
	slot_install(z, slot, &obj);
	if (slot_kind(obj.flags) != SLOT_KIND_SAME) {
		slot_flags_update(slot, 0, SLOT_IDLE);
		atomic_fetch_add_explicit(&z->stats.idle_pages, 1,
					  memory_order_relaxed);
	}
	w->count++;
out_unlock:
	slot_unlock(slot);
	return 0;
}

/*
 * dict_refresh_idle - auto_dict's second half: move the idle pages of the
 * primary codec that an older dictionary wrote to the current one, so the
 * old dictionaries' memory can go (dict_gc at the next replacement) and the
 * pages shrink. A shared (deduplicated) page's object is rewritten once,
 * in place, for all its sharers (shared_refresh()).
 * Returns the pages rewritten. Locking: pp_lock held; one slot at a time.
 */
uint64_t dict_refresh_idle(struct zram *z)
{
	struct refresh_walk w = {.st = zram_stream_get(z)};

	if (!w.st)
		return 0;
	slot_walk(z, 0, z->nr_slots, refresh_one, &w);
	atomic_fetch_add_explicit(&z->stats.dict_rewrites, w.count,
				  memory_order_relaxed);
	return w.count;
}
