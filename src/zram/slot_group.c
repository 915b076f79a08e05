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

static void frame_account(struct zram *z, uint32_t size, int sign)
{
	counter_add(&z->stats.compr_data_size, sign * (int64_t)size);
	counter_add(&z->stats.group_bytes, sign * (int64_t)size);
	counter_add(&z->stats.group_objs, sign);
}

int slot_group_new(struct zram *z, const void *frame, size_t len,
		   unsigned int npages, uint32_t *id)
{
	struct group_frame f = {.size = (uint32_t)len, .npages = npages};
	const unsigned char *p = frame;
	struct slot_obj obj;
	unsigned int i;
	int err = -EINVAL;

	f.nparts =
		(unsigned int)((len + GROUP_PART_SIZE - 1) / GROUP_PART_SIZE);
	if (!len || f.nparts > GROUP_PARTS_MAX)
		return err;
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
}

/* Decompress @f into gb->pages. Locking: a reference to @f held. */
static int frame_load(struct zram *z, struct zram_stream *st,
		      struct group_buf *gb, const struct group_frame *f)
{
	void *ctx = zram_stream_ctx(st, ZRAM_CODEC_ZSTD);
	size_t want = (size_t)f->npages * ZRAM_PAGE_SIZE, off = 0;
	const void *src = gb->frame;
	unsigned int i;
	void *mem;
	int n;

	if (!ctx)
		return -ENOMEM;
	gb->gen = 0;
	if (f->nparts == 1) { /* decompressed in place, no copy */
		mem = zs_obj_read_begin(z->pool, f->handles[0], st->local_copy);
		n = zram_zstd_frame_decompress(ctx, mem, f->size, gb->pages,
					       want);
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
	n = zram_zstd_frame_decompress(ctx, src, f->size, gb->pages, want);
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
