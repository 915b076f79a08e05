/*
 * slot_group.c - the GROUPED kind of slot content: a grouped frame's pool
 * objects, its counters, and the decoding of one member page.
 *
 * Part of the slot-content module (slot_content.h describes the kind);
 * group.c is the table of entries and knows nothing of the pool, as
 * dedup.c. A frame is stored as whole GROUP_PART_SIZE pieces (each a huge-
 * class object: one page, no waste) and a tail in an ordinary class, so a
 * frame costs its length rounded to the tail's class, as one object would.
 *
 * Counters: a frame counts once in compr_data_size (and group_objs,
 * group_bytes) from slot_group_new() to its last slot_group_put(); member
 * slots count in grouped_pages and pages_stored (slot_install/slot_free).
 *
 * Dictionary: a frame is compressed with the zstd dictionary new writes
 * use (params[0][ZRAM_CODEC_ZSTD], whatever the primary codec), if there
 * is one, under io.c's dictionary rule as a page is: used only inside the
 * stream's active section while it is current, then counted in that
 * params' pages[index] and checked still current (else uncounted and
 * compressed again). The count is the frame's, from slot_group_compress()
 * to its last put, so dicts[index] outlives every read of the frame; the
 * entry records the index. Pinning: a frame keeps an older dictionary
 * until its last member goes (auto_dict's rewrite of idle pages does not
 * regroup frames); a store whose four dictionary indexes are all needed
 * refuses a new one (-EBUSY, as with pages) and keeps working.
 *
 * The frame buffer: a reader decompresses the whole frame into its
 * thread's struct group_buf (made on its first grouped read, freed with
 * the thread's stream) and copies its page out. The buffer remembers the
 * frame's generation, so a read of a neighbour in the same frame is a copy;
 * a generation is never reused (group.h), so the buffer can never answer
 * for another frame, or for a frame that was freed and whose id and pool
 * objects were reused.
 *
 * Lock order: slot lock (the caller's) -> group table lock (leaf, last put
 * only) -> allocator locks (zs_* inside). Decompression runs under the
 * member's slot lock and the parts' zspage read locks, as any decode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slot_content.h"

#define FRAME_MAX (GROUP_PAGES_MAX * ZRAM_PAGE_SIZE)

struct group_buf {
	uint64_t gen; /* frame whose pages are in @pages; 0: none */
	unsigned char frame[FRAME_MAX];
	unsigned char pages[FRAME_MAX];
};

static void counter_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

uint64_t slot_group_handle(uint32_t id, unsigned int pos)
{
	return (uint64_t)pos << 32 | id;
}

uint32_t slot_group_flags(uint32_t share)
{
	if (!share)
		share = 1;
	if (share > ZRAM_PAGE_SIZE)
		share = ZRAM_PAGE_SIZE;
	return SLOT_GROUPED | share |
	       ((uint32_t)ZRAM_CODEC_ZSTD << SLOT_CODEC_SHIFT);
}

/* The count a frame with dictionary @dict (index + 1, 0: none) holds. */
static _Atomic uint64_t *dict_count(struct zram *z, unsigned int dict)
{
	return &z->params[0][ZRAM_CODEC_ZSTD].pages[dict - 1];
}

static void dict_count_put(struct zram *z, unsigned int dict)
{
	if (dict)
		atomic_fetch_sub_explicit(dict_count(z, dict), 1,
					  memory_order_seq_cst);
}

/*
 * One try: compress with the dictionary of @c (a snapshot) inside the
 * active section if it is still current (-EAGAIN if not), then count the
 * frame against it and check it still is (-EAGAIN, uncounted, if not).
 */
static int frame_compress_try(struct zram *z, struct zram_stream *st,
			      const struct slot_codec *c, const void *src,
			      size_t len, void *dst, size_t cap)
{
	struct zram_codec_params *p = &z->params[c->prio][c->codec];
	void *ctx = zram_stream_ctx(st, c->codec);
	_Atomic uint64_t *count;
	int n = -EAGAIN;

	if (!ctx)
		return -ENOMEM;
	if (slot_dict_enter(z, st, c))
		n = zram_zstd_frame_compress(ctx, c->level, c->dict, src, len,
					     dst, cap);
	slot_dict_leave(st);
	if (n <= 0 || !c->dict)
		return n ? n : -EINVAL;
	count = &p->pages[c->dict_cur % ZRAM_DICT_SLOTS];
	atomic_fetch_add_explicit(count, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&p->cur, memory_order_seq_cst) == c->dict_cur)
		return n;
	atomic_fetch_sub_explicit(count, 1, memory_order_seq_cst);
	return -EAGAIN;
}

int slot_group_compress(struct zram *z, struct zram_stream *st, int level,
			const void *src, unsigned int npages, void *dst,
			size_t cap, unsigned int *dict)
{
	struct slot_codec c;
	int n = -EAGAIN, tries;

	/* a dictionary replaced twice during two frames: leave the run */
	for (tries = 0; tries < 2 && n == -EAGAIN; tries++) {
		slot_codec_of(z, 0, ZRAM_CODEC_ZSTD, &c);
		c.level = level;
		n = frame_compress_try(z, st, &c, src,
				       (size_t)npages * ZRAM_PAGE_SIZE, dst,
				       cap);
	}
	*dict = n > 0 && c.dict
			? (unsigned int)(c.dict_cur % ZRAM_DICT_SLOTS) + 1
			: 0;
	return n;
}

static void frame_account(struct zram *z, uint32_t size, int sign)
{
	counter_add(&z->stats.compr_data_size, sign * (int64_t)size);
	counter_add(&z->stats.group_bytes, sign * (int64_t)size);
	counter_add(&z->stats.group_objs, sign);
}

int slot_group_new(struct zram *z, const void *frame, size_t len,
		   unsigned int npages, unsigned int dict, uint32_t *id)
{
	struct group_frame f = {
		.size = (uint32_t)len, .npages = npages, .dict = dict};
	const unsigned char *p = frame;
	struct slot_obj obj;
	unsigned int i = 0;
	int err = -EINVAL;

	f.nparts =
		(unsigned int)((len + GROUP_PART_SIZE - 1) / GROUP_PART_SIZE);
	if (!len || f.nparts > GROUP_PARTS_MAX)
		goto err_free;
	for (i = 0; i < f.nparts; i++) {
		size_t off = (size_t)i * GROUP_PART_SIZE;
		size_t n = len - off < GROUP_PART_SIZE ? len - off
						       : GROUP_PART_SIZE;

		err = slot_obj_store_smaller(z, p + off, n, (uint32_t)n, NULL,
					     &obj);
		if (err)
			goto err_free;
		f.handles[i] = obj.handle;
	}
	err = group_insert(z->groups, &f, id);
	if (err)
		goto err_free;
	frame_account(z, f.size, 1);
	return 0;
err_free:
	while (i--)
		pool_obj_free(z, f.handles[i]);
	dict_count_put(z, dict);
	return err;
}

void slot_group_get(struct zram *z, uint32_t id)
{
	group_get(z->groups, id);
}

void slot_group_put(struct zram *z, uint32_t id)
{
	struct group_frame f;
	unsigned int i;

	if (!group_put(z->groups, id, &f))
		return;
	for (i = 0; i < f.nparts; i++)
		pool_obj_free(z, f.handles[i]);
	frame_account(z, f.size, -1);
	dict_count_put(z, f.dict); /* last: the frame needs it no more */
}

/* Decompress @f into gb->pages. Locking: a reference to @f held. */
static int frame_load(struct zram *z, struct zram_stream *st,
		      struct group_buf *gb, const struct group_frame *f)
{
	void *ctx = zram_stream_ctx(st, ZRAM_CODEC_ZSTD);
	size_t want = (size_t)f->npages * ZRAM_PAGE_SIZE, off = 0;
	const struct zram_dict *dict = NULL;
	const void *src = gb->frame;
	unsigned int i;
	void *mem;
	int n;

	if (!ctx)
		return -ENOMEM;
	/* counted in pages[index] by the frame, so dicts[index] stays */
	if (f->dict)
		dict = atomic_load_explicit(
			&z->params[0][ZRAM_CODEC_ZSTD].dicts[f->dict - 1],
			memory_order_acquire);
	if (f->dict && !dict)
		return -EIO;
	gb->gen = 0;
	if (f->nparts == 1) { /* decompressed in place, no copy */
		mem = zs_obj_read_begin(z->pool, f->handles[0], st->local_copy);
		n = zram_zstd_frame_decompress(ctx, dict, mem, f->size,
					       gb->pages, want);
		zs_obj_read_end(z->pool, f->handles[0], mem);
		goto out;
	}
	for (i = 0; i < f->nparts; i++, off += GROUP_PART_SIZE) {
		size_t len = f->size - off < GROUP_PART_SIZE ? f->size - off
							     : GROUP_PART_SIZE;

		mem = zs_obj_read_begin(z->pool, f->handles[i], st->local_copy);
		memcpy(gb->frame + off, mem, len);
		zs_obj_read_end(z->pool, f->handles[i], mem);
	}
	n = zram_zstd_frame_decompress(ctx, dict, src, f->size, gb->pages,
				       want);
out:
	if (n < 0 || (size_t)n != want)
		return -EIO;
	gb->gen = f->gen;
	return 0;
}

int slot_group_read(struct zram *z, struct zram_stream *st, uint64_t h,
		    unsigned char *dst)
{
	unsigned int pos = (unsigned int)(h >> 32);
	struct group_buf *gb = st->gbuf;
	struct group_frame f;
	int err;

	group_frame_get(z->groups, (uint32_t)h, &f);
	if (pos >= f.npages)
		return -EIO;
	if (!gb) {
		gb = malloc(sizeof(*gb));
		if (!gb)
			return -ENOMEM;
		gb->gen = 0;
		st->gbuf = gb;
	}
	if (gb->gen != f.gen) {
		err = frame_load(z, st, gb, &f);
		if (err)
			return err;
	}
	memcpy(dst, gb->pages + (size_t)pos * ZRAM_PAGE_SIZE, ZRAM_PAGE_SIZE);
	return 0;
}
