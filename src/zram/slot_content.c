/*
 * slot_content.c - encode, decode, install, free and walk slot contents.
 *
 * The API, the kinds of content and their invariants are described in
 * slot_content.h; docs/store.md has the table of flag bits. This is the only
 * file that interprets the content bits of a slot and the only caller of
 * zs_free() (pool_obj_free()).
 *
 * Lock order: slot lock -> dedup index locks (inside dedup_*(), never held
 * on return) / the group table lock (a leaf, inside group_*() via
 * slot_group.c) -> allocator locks (zs_* inside); the backing store's map
 * lock is a leaf taken inside backing_*(). The GROUPED kind's frames live
 * in slot_group.c, part of this module.
 *
 * Why the encoder takes the codec as an argument: new writes encode with
 * priority 0, recompression with priorities 1..3 and their own levels and
 * dictionaries; a caller snapshots the parameters once (slot_codec_get())
 * and the dictionary check at install (slot_obj_commit()) catches a change
 * that raced with the encoding.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "slot_content.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void counter_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

enum slot_kind slot_kind(uint32_t flags)
{
	if (flags & SLOT_SAME)
		return SLOT_KIND_SAME;
	if (!(flags & SLOT_SIZE_MASK))
		return SLOT_KIND_EMPTY;
	if (flags & SLOT_SHARED)
		return SLOT_KIND_SHARED;
	if (flags & SLOT_GROUPED)
		return SLOT_KIND_GROUPED;
	if (flags & SLOT_WB)
		return SLOT_KIND_WB;
	if (flags & SLOT_HUGE)
		return SLOT_KIND_HUGE;
	return SLOT_KIND_COMPRESSED;
}

unsigned int slot_codec_id(uint32_t flags)
{
	return (flags & SLOT_CODEC_MASK) >> SLOT_CODEC_SHIFT;
}

unsigned int slot_prio(uint32_t flags)
{
	return (flags & SLOT_PRIO_MASK) >> SLOT_PRIO_SHIFT;
}

unsigned int slot_dict_idx(uint32_t flags)
{
	return (flags & SLOT_DICT_MASK) >> SLOT_DICT_SHIFT;
}

uint32_t slot_codec_flags(const struct slot_codec *c)
{
	return (c->codec << SLOT_CODEC_SHIFT) | (c->prio << SLOT_PRIO_SHIFT) |
	       (uint32_t)(c->dict_cur % ZRAM_DICT_SLOTS) << SLOT_DICT_SHIFT;
}

struct zram_codec_params *slot_params(struct zram *z, uint32_t flags)
{
	return &z->params[slot_prio(flags)][slot_codec_id(flags)];
}

/* The count of objects that need the dictionary @flags name. */
static _Atomic uint64_t *slot_dict_pages(struct zram *z, uint32_t flags)
{
	return &slot_params(z, flags)->pages[slot_dict_idx(flags)];
}

int slot_codec_get(struct zram *z, unsigned int prio, struct slot_codec *out)
{
	int id = prio ? LOAD(z->recomp_algo[prio]) : LOAD(z->algo);

	if (prio >= ZRAM_PRIOS || id < 0)
		return -ENOENT;
	slot_codec_of(z, prio, (unsigned int)id, out);
	return 0;
}

void slot_codec_of(struct zram *z, unsigned int prio, unsigned int id,
		   struct slot_codec *out)
{
	struct zram_codec_params *p = &z->params[prio][id];

	out->codec = id;
	out->prio = prio;
	out->level = LOAD(p->level);
	/* (cur, dicts[cur % 4]) as one snapshot: a replacement writes the
	 * new dicts[j] before it moves cur */
	do {
		out->dict_cur =
			atomic_load_explicit(&p->cur, memory_order_seq_cst);
		out->dict = atomic_load_explicit(
			&p->dicts[out->dict_cur % ZRAM_DICT_SLOTS],
			memory_order_seq_cst);
	} while (atomic_load_explicit(&p->cur, memory_order_seq_cst) !=
		 out->dict_cur);
	out->dedup = !prio && LOAD(z->dedup_on);
}

bool page_same_filled(const unsigned char *p, uint64_t *word)
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

void page_fill(unsigned char *p, uint64_t word)
{
	size_t i;

	if (!word) {
		memset(p, 0, ZRAM_PAGE_SIZE);
		return;
	}
	for (i = 0; i < ZRAM_PAGE_SIZE; i += 8)
		memcpy(p + i, &word, 8);
}

void pool_obj_free(struct zram *z, uint64_t handle)
{
	zs_free(z->pool, handle);
}

static int obj_store(struct zram *z, const void *data, size_t len,
		     uint32_t flags, const struct zram_dict *dict,
		     struct slot_obj *obj, bool check_limit)
{
	uint64_t used, limit;
	zs_handle_t h;
	int err;

	err = zs_malloc(z->pool, len, &h);
	if (err)
		return err == -ENOSPC ? -EINVAL : err;
	used = (uint64_t)zs_get_total_pages(z->pool) * ZRAM_PAGE_SIZE;
	zram_mem_used_update(z, used);
	limit = check_limit ? LOAD(z->mem_limit) : 0;
	if (limit && used > limit) {
		pool_obj_free(z, h);
		return -ENOSPC;
	}
	zs_obj_write(z->pool, h, data, len);
	obj->handle = h;
	obj->flags = flags;
	obj->dict = dict;
	obj->dict_cur = 0;
	obj->shared = obj->indexed = false;
	return 0;
}

int slot_obj_store(struct zram *z, const void *data, size_t len, uint32_t flags,
		   const struct zram_dict *dict, struct slot_obj *obj)
{
	return obj_store(z, data, len, flags, dict, obj, true);
}

/*
 * mem_limit limits what writes bring in, as in zram: an object that
 * replaces a larger one (recompression) frees more than it takes, so
 * refusing it at the limit would only keep memory up.
 */
int slot_obj_store_smaller(struct zram *z, const void *data, size_t len,
			   uint32_t flags, const struct zram_dict *dict,
			   struct slot_obj *obj)
{
	return obj_store(z, data, len, flags, dict, obj, false);
}

bool slot_dict_enter(struct zram *z, struct zram_stream *st,
		     const struct slot_codec *c)
{
	const struct zram_codec_params *p = &z->params[c->prio][c->codec];

	/* only this thread writes st->active */
	atomic_store_explicit(&st->active, LOAD(st->active) + 1,
			      memory_order_seq_cst);
	return !c->dict ||
	       atomic_load_explicit(&p->dict, memory_order_seq_cst) == c->dict;
}

void slot_dict_leave(struct zram_stream *st)
{
	atomic_store_explicit(&st->active, LOAD(st->active) + 1,
			      memory_order_release);
}

/* The dictionary is only dereferenced inside slot_dict_enter/leave. */
int slot_compress(struct zram *z, struct zram_stream *st,
		  const struct slot_codec *c, const void *page)
{
	void *ctx = zram_stream_ctx(st, c->codec);
	int n = -EAGAIN;

	if (!ctx)
		return -ENOMEM;
	if (slot_dict_enter(z, st, c))
		n = zram_codec_get(c->codec)->compress(ctx, c->level, c->dict,
						       page, st->cbuf,
						       sizeof(st->cbuf));
	slot_dict_leave(st);
	if (n == -EAGAIN)
		return n; /* the dictionary changed: take the new one */
	if (n <= 0 || (size_t)n >= z->huge_size)
		return -E2BIG;
	return n;
}

/* mem_decode()'s @index for a page that is no slot's read (a compare) */
#define NOT_A_SLOT UINT64_MAX

static int mem_decode(struct zram *z, struct zram_stream *st, uint64_t index,
		      uint64_t h, uint32_t f, unsigned char *dst);

/*
 * dedup_same - does entry @id hold exactly @page? The full byte compare: the
 * entry's content is decoded into the thread's cmp buffer. Locking: the
 * caller holds a reference to @id; the entry's read lock inside.
 */
static bool dedup_same(struct zram *z, struct zram_stream *st,
		       struct zram_dedup *d, uint32_t id, const void *page)
{
	uint32_t f;
	uint64_t h;
	bool same;

	dedup_obj_begin(d, id, &h, &f);
	same = !mem_decode(z, st, NOT_A_SLOT, h, f, st->cmp) &&
	       !memcmp(st->cmp, page, ZRAM_PAGE_SIZE);
	dedup_obj_end(d, id);
	return same;
}

/*
 * dedup_find - an entry holding @page, with a reference for the caller, in
 * *@id; false if none. Candidates that differ (collisions) are let go.
 * An object of an older dictionary or codec is shared as it is: a
 * background rewrite moves it for all its sharers at once
 * (slot_shared_rewrite()). Locking: no index lock is held while pages are
 * compared (the entry's read lock is).
 */
static bool dedup_find(struct zram *z, struct zram_stream *st,
		       struct zram_dedup *d, uint64_t hash, const void *page,
		       uint32_t *id)
{
	uint32_t ids[DEDUP_CANDIDATES];
	unsigned int n, i;
	bool found = false;

	n = dedup_lookup(d, hash, ids, DEDUP_CANDIDATES);
	for (i = 0; i < n; i++) {
		if (!found && dedup_same(z, st, d, ids[i], page)) {
			*id = ids[i];
			found = true;
			continue;
		}
		slot_dedup_put(z, ids[i]);
	}
	return found;
}

/* Encode as slot_encode(), without the index. */
static int page_encode(struct zram *z, struct zram_stream *st,
		       const struct slot_codec *c, const void *page,
		       struct slot_obj *obj)
{
	uint32_t prio = c->prio << SLOT_PRIO_SHIFT;
	int n;

	n = slot_compress(z, st, c, page);
	if (n == -E2BIG)
		return slot_obj_store(z, page, ZRAM_PAGE_SIZE,
				      SLOT_HUGE | ZRAM_PAGE_SIZE | prio, NULL,
				      obj);
	if (n < 0)
		return n;
	n = slot_obj_store(z, st->cbuf, (size_t)n,
			   (uint32_t)n | slot_codec_flags(c), c->dict, obj);
	obj->dict_cur = c->dict_cur;
	return n;
}

int slot_encode(struct zram *z, struct zram_stream *st,
		const struct slot_codec *c, const void *page,
		struct slot_obj *obj)
{
	struct zram_dedup *d = NULL;
	uint64_t hash = 0;
	uint32_t id = 0;
	int err;

	obj->shared = obj->indexed = false;
	obj->dict_cur = 0;
	if (page_same_filled(page, &obj->handle)) {
		obj->flags = SLOT_SAME;
		obj->dict = NULL;
		return 0;
	}
	if (c->dedup)
		d = atomic_load_explicit(&z->dedup, memory_order_acquire);
	if (d) {
		hash = dedup_hash(d, page);
		if (dedup_find(z, st, d, hash, page, &id)) {
			obj->handle = id;
			/* the slot is SHARED whatever its entry holds */
			obj->flags = dedup_meta(d, id) & ~SLOT_GROUPED;
			obj->dict = NULL;
			obj->shared = true;
			return 0;
		}
	}
	err = page_encode(z, st, c, page, obj);
	if (!err && d) {
		obj->hash = hash;
		obj->indexed = true;
	}
	return err;
}

void slot_obj_drop(struct zram *z, const struct slot_obj *obj)
{
	if (obj->shared)
		slot_dedup_put(z, (uint32_t)obj->handle);
	else if (obj->flags & SLOT_GROUPED)
		slot_group_put(z, (uint32_t)obj->handle);
	else if (!(obj->flags & SLOT_SAME))
		pool_obj_free(z, obj->handle);
}

/*
 * obj_index - enter a new, committed object in the dedup index; without
 * room there it stays a plain object. Locking: slot lock held.
 */
static void obj_index(struct zram *z, struct slot_obj *obj)
{
	struct zram_dedup *d =
		atomic_load_explicit(&z->dedup, memory_order_acquire);
	uint32_t id;

	if (dedup_insert(d, obj->hash, obj->handle, obj->flags | SLOT_SHARED,
			 &id))
		return;
	obj->handle = id;
	obj->flags |= SLOT_SHARED;
}

/*
 * See io.c's "Dictionary rule": the object counts against the dictionary it
 * used, then checks that it is still the current one (same `cur`, which
 * never repeats); a new object enters the index here.
 */
int slot_obj_commit(struct zram *z, struct slot_obj *obj)
{
	struct zram_codec_params *p = slot_params(z, obj->flags);
	_Atomic uint64_t *pages = slot_dict_pages(z, obj->flags);

	if (obj->shared || (obj->flags & (SLOT_SAME | SLOT_GROUPED)))
		return 0;
	if (obj->flags & SLOT_HUGE)
		goto out_index;
	atomic_fetch_add_explicit(pages, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&p->cur, memory_order_seq_cst) !=
	    obj->dict_cur) {
		atomic_fetch_sub_explicit(pages, 1, memory_order_seq_cst);
		return -EAGAIN;
	}
out_index:
	if (obj->indexed)
		obj_index(z, obj);
	return 0;
}

/*
 * A pool object appears (@sign 1) or goes (-1): its share of the counters.
 * A dedup entry holding a frame's member (SHARED | GROUPED) counts as an
 * entry and as one grouped page (however many slots share it): its frame
 * is in compr_data_size once (slot_group.c).
 */
static void obj_account(struct zram *z, uint32_t flags, int sign)
{
	struct zram_counters *s = &z->stats;
	int64_t size = flags & SLOT_SIZE_MASK;

	if (flags & SLOT_SHARED) {
		counter_add(&s->dedup_objs, sign);
		counter_add(&s->dedup_obj_bytes, sign * size);
	}
	if (flags & SLOT_GROUPED) {
		counter_add(&s->grouped_pages, sign);
		return;
	}
	counter_add(&s->compr_data_size, sign * size);
	if (flags & SLOT_HUGE) {
		counter_add(&s->huge_pages, sign);
		if (sign > 0)
			counter_add(&s->huge_pages_since, 1);
	}
}

bool slot_dedup_put(struct zram *z, uint32_t id)
{
	struct zram_dedup *d =
		atomic_load_explicit(&z->dedup, memory_order_acquire);
	uint32_t f; /* the meta of the object freed, after any rewrite */
	uint64_t h;

	if (!dedup_put_obj(d, id, &h, &f))
		return false;
	obj_account(z, f, -1);
	if (f & SLOT_GROUPED) { /* the entry's reference to the frame */
		slot_group_put(z, (uint32_t)h);
		return true;
	}
	pool_obj_free(z, h);
	if (!(f & SLOT_HUGE))
		atomic_fetch_sub_explicit(slot_dict_pages(z, f), 1,
					  memory_order_seq_cst);
	return true;
}

/*
 * The entry has a new object (@nf, from the object @of): the pool bytes,
 * the huge count and the dictionaries' counts follow; every sharer keeps
 * counting as one sharer. @nf was counted against its dictionary by the
 * caller; a frame's member (GROUPED) counts in its frame.
 */
static void shared_account(struct zram *z, uint32_t of, uint32_t nf)
{
	int64_t os = of & SLOT_SIZE_MASK, ns = nf & SLOT_SIZE_MASK;
	struct zram_counters *s = &z->stats;

	assert(!(of & SLOT_GROUPED));
	counter_add(&s->compr_data_size, (nf & SLOT_GROUPED ? 0 : ns) - os);
	counter_add(&s->dedup_obj_bytes, ns - os);
	if (of & SLOT_HUGE)
		counter_add(&s->huge_pages, -1);
	if (nf & SLOT_HUGE) {
		counter_add(&s->huge_pages, 1);
		counter_add(&s->huge_pages_since, 1);
	}
	if (!(of & SLOT_HUGE))
		atomic_fetch_sub_explicit(slot_dict_pages(z, of), 1,
					  memory_order_seq_cst);
}

/* The slot's own copy of its object's description (a hint for the passes'
 * selection, and what its sharer bytes were counted with) follows @nf.
 * Locking: slot lock held. */
static void slot_content_set(struct zram *z, struct zram_slot *slot,
			     uint32_t nf)
{
	uint32_t f = LOAD(slot->flags);

	if (slot_kind(f) == SLOT_KIND_SHARED)
		counter_add(&z->stats.dedup_slot_bytes,
			    (int64_t)(nf & SLOT_SIZE_MASK) -
				    (int64_t)(f & SLOT_SIZE_MASK));
	slot_flags_update(slot, SLOT_CONTENT_BITS, nf & SLOT_CONTENT_BITS);
}

int slot_shared_rewrite(struct zram *z, struct zram_slot *slot,
			const void *data, size_t len, uint32_t flags,
			const struct slot_codec *c, bool check_limit)
{
	struct zram_dedup *d = z->dedup;
	uint32_t id = (uint32_t)LOAD(slot->handle), of;
	struct slot_obj obj;
	uint64_t oh;
	int err;

	assert(slot_kind(LOAD(slot->flags)) == SLOT_KIND_SHARED);
	err = obj_store(z, data, len, flags | SLOT_SHARED, c ? c->dict : NULL,
			&obj, check_limit);
	if (err)
		return err;
	obj.dict_cur = c ? c->dict_cur : 0;
	/* counted against its dictionary as slot_obj_commit() does */
	if (!(obj.flags & SLOT_HUGE)) {
		_Atomic uint64_t *pages = slot_dict_pages(z, obj.flags);

		atomic_fetch_add_explicit(pages, 1, memory_order_seq_cst);
		if (atomic_load_explicit(&slot_params(z, obj.flags)->cur,
					 memory_order_seq_cst) !=
		    obj.dict_cur) {
			atomic_fetch_sub_explicit(pages, 1,
						  memory_order_seq_cst);
			pool_obj_free(z, obj.handle);
			return -EAGAIN;
		}
	}
	err = dedup_rewrite(d, id, obj.handle, obj.flags, &oh, &of);
	if (err) {
		if (!(obj.flags & SLOT_HUGE))
			atomic_fetch_sub_explicit(slot_dict_pages(z, obj.flags),
						  1, memory_order_seq_cst);
		pool_obj_free(z, obj.handle);
		return err;
	}
	pool_obj_free(z, oh); /* no reader can map it any more */
	shared_account(z, of, obj.flags);
	slot_content_set(z, slot, obj.flags);
	return 0;
}

uint32_t slot_shared_sync(struct zram *z, struct zram_slot *slot)
{
	uint32_t m = dedup_meta(z->dedup, (uint32_t)LOAD(slot->handle));

	assert(slot_kind(LOAD(slot->flags)) == SLOT_KIND_SHARED);
	slot_content_set(z, slot, m);
	/* the slot never keeps GROUPED (a kind, not a content bit); the
	 * passes that ask need to know */
	return LOAD(slot->flags) | (m & SLOT_GROUPED);
}

bool slot_unshare(struct zram *z, struct zram_slot *slot)
{
	uint32_t f = LOAD(slot->flags), meta;
	struct zram_counters *s = &z->stats;
	uint64_t h;

	assert(slot_kind(f) == SLOT_KIND_SHARED);
	if (!dedup_take_sole(z->dedup, (uint32_t)LOAD(slot->handle), &h, &meta))
		return false;
	counter_add(&s->dedup_slots, -1);
	counter_add(&s->dedup_slot_bytes, -(int64_t)(f & SLOT_SIZE_MASK));
	counter_add(&s->dedup_objs, -1);
	counter_add(&s->dedup_obj_bytes, -(int64_t)(meta & SLOT_SIZE_MASK));
	atomic_store_explicit(&slot->handle, h, memory_order_relaxed);
	/* a frame's member: the entry's reference to the frame, and its
	 * count in grouped_pages, are the slot's now */
	slot_flags_update(slot, SLOT_CONTENT_BITS | SLOT_SHARED,
			  meta & (SLOT_CONTENT_BITS | SLOT_GROUPED));
	return true;
}

bool slot_shared_grouped(struct zram *z, struct zram_slot *slot)
{
	assert(slot_kind(LOAD(slot->flags)) == SLOT_KIND_SHARED);
	return dedup_meta(z->dedup, (uint32_t)LOAD(slot->handle)) &
	       SLOT_GROUPED;
}

int slot_shared_group(struct zram *z, struct zram_slot *slot, uint64_t gh,
		      uint32_t share)
{
	uint32_t id = (uint32_t)LOAD(slot->handle), of;
	uint32_t nf = slot_group_flags(share) | SLOT_SHARED;
	uint64_t oh;
	int err;

	assert(slot_kind(LOAD(slot->flags)) == SLOT_KIND_SHARED);
	slot_group_get(z, (uint32_t)gh); /* the entry's reference */
	err = dedup_rewrite(z->dedup, id, gh, nf, &oh, &of);
	if (err) {
		slot_group_put(z, (uint32_t)gh);
		return err;
	}
	pool_obj_free(z, oh); /* no reader can map it any more */
	shared_account(z, of, nf);
	counter_add(&z->stats.grouped_pages, 1); /* one page, all sharers */
	slot_content_set(z, slot, nf);
	return 0;
}

void slot_install(struct zram *z, struct zram_slot *slot,
		  const struct slot_obj *obj)
{
	struct zram_counters *s = &z->stats;

	slot_free(z, slot);
	atomic_store_explicit(&slot->handle, obj->handle, memory_order_relaxed);
	slot_flags_update(slot, ~(SLOT_LOCK_BITS | SLOT_KEPT), obj->flags);
	switch (slot_kind(obj->flags)) {
	case SLOT_KIND_SAME:
		counter_add(&s->same_pages, 1);
		break;
	case SLOT_KIND_SHARED:
		counter_add(&s->dedup_slots, 1);
		counter_add(&s->dedup_slot_bytes, obj->flags & SLOT_SIZE_MASK);
		if (!obj->shared) /* a new object, just indexed */
			obj_account(z, obj->flags, 1);
		else /* an equal page was there: stored by reference */
			counter_add(&s->dedup_hits, 1);
		break;
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED:
		obj_account(z, obj->flags, 1);
		break;
	case SLOT_KIND_GROUPED: /* the frame counts once (slot_group.c) */
		counter_add(&s->grouped_pages, 1);
		break;
	default:
		assert(!"slot_install: not an in-memory kind");
	}
	counter_add(&s->pages_stored, 1);
}

/*
 * Content in memory (@f, @h) gives up its memory and its share of the
 * counters: its object, or its reference to an entry or a frame. With
 * @kept (a save keeps the content to copy and free) only the counters
 * change. With @keep_dict, a compressed object's dictionary count stays
 * (its page goes on, written back). Returns the pool bytes that went: 0
 * for a sharer whose entry others still hold, a member's share for a frame.
 * Locking: the slot's lock held.
 */
static uint64_t mem_release(struct zram *z, uint32_t f, uint64_t h, bool kept,
			    bool keep_dict)
{
	uint64_t size = f & SLOT_SIZE_MASK;
	struct zram_counters *s = &z->stats;

	switch (slot_kind(f)) {
	case SLOT_KIND_SHARED:
		counter_add(&s->dedup_slots, -1);
		counter_add(&s->dedup_slot_bytes, -(int64_t)size);
		return !kept && slot_dedup_put(z, (uint32_t)h) ? size : 0;
	case SLOT_KIND_GROUPED:
		counter_add(&s->grouped_pages, -1);
		if (!kept)
			slot_group_put(z, (uint32_t)h);
		return size;
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED:
		if (!kept)
			pool_obj_free(z, h);
		obj_account(z, f, -1);
		if (!(f & SLOT_HUGE) && !keep_dict)
			atomic_fetch_sub_explicit(slot_dict_pages(z, f), 1,
						  memory_order_seq_cst);
		return size;
	default:
		assert(!"mem_release: not a kind in memory");
		return 0;
	}
}

/*
 * A running save may keep the old content (snap_cow_keep(): copy-on-write
 * of the slots it has not reached): then its object is the save's to copy
 * and free, and only the counters change here.
 */
void slot_free(struct zram *z, struct zram_slot *slot)
{
	uint32_t f = LOAD(slot->flags);
	uint32_t size = f & SLOT_SIZE_MASK;
	struct zram_counters *s = &z->stats;
	bool kept;

	assert(f & SLOT_LOCK);
	kept = snap_cow_keep(z, slot);
	switch (slot_kind(f)) {
	case SLOT_KIND_EMPTY:
		return;
	case SLOT_KIND_SAME:
		counter_add(&s->same_pages, -1);
		break;
	case SLOT_KIND_SHARED:
	case SLOT_KIND_GROUPED:
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED:
		mem_release(z, f, LOAD(slot->handle), kept, false);
		break;
	case SLOT_KIND_WB:
		if (!kept)
			backing_release(
				atomic_load_explicit(&z->backing,
						     memory_order_acquire),
				LOAD(slot->handle), size);
		counter_add(&s->wb_pages, -1);
		counter_add(&s->backing_bytes, -(int64_t)size);
		if (!(f & SLOT_HUGE))
			atomic_fetch_sub_explicit(slot_dict_pages(z, f), 1,
						  memory_order_seq_cst);
		break;
	}
	if (f & SLOT_IDLE)
		counter_add(&s->idle_pages, -1);
	counter_add(&s->pages_stored, -1);
	atomic_store_explicit(&slot->handle, 0, memory_order_relaxed);
	slot_flags_update(slot, ~(SLOT_LOCK_BITS | SLOT_KEPT), 0);
}

void slot_content_drop(struct zram *z, uint32_t flags, uint64_t handle)
{
	switch (slot_kind(flags)) {
	case SLOT_KIND_SHARED:
		slot_dedup_put(z, (uint32_t)handle);
		break;
	case SLOT_KIND_GROUPED:
		slot_group_put(z, (uint32_t)handle);
		break;
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED:
		pool_obj_free(z, handle);
		break;
	case SLOT_KIND_WB:
		backing_release(
			atomic_load_explicit(&z->backing, memory_order_acquire),
			handle, flags & SLOT_SIZE_MASK);
		break;
	default:
		break;
	}
}

/* The debug_read_delay hook is set for @index (a test build's reads only). */
static bool read_delay_due(const struct zram *z, uint64_t index)
{
#ifdef UZRAM_TEST_HOOKS
	return LOAD(z->dbg_delay_index) == index && LOAD(z->dbg_delay_ms);
#else
	(void)z;
	(void)index;
	return false;
#endif
}

static void read_delay(struct zram *z, uint64_t index)
{
#ifdef UZRAM_TEST_HOOKS
	if (read_delay_due(z, index)) {
		uint32_t ms = LOAD(z->dbg_delay_ms);
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
#else
	(void)z;
	(void)index;
#endif
}

/* Decompress @len bytes of @src written with @flags into @dst. */
static int obj_decompress(struct zram *z, struct zram_stream *st,
			  uint32_t flags, const void *src, unsigned char *dst)
{
	unsigned int id = slot_codec_id(flags);
	const struct zram_dict *dict;
	void *ctx;

	if (flags & SLOT_HUGE) {
		memcpy(dst, src, ZRAM_PAGE_SIZE);
		return 0;
	}
	ctx = zram_stream_ctx(st, id);
	if (!ctx)
		return -ENOMEM;
	/* counted in pages[idx], so dicts[idx] stays */
	dict = atomic_load_explicit(
		&slot_params(z, flags)->dicts[slot_dict_idx(flags)],
		memory_order_acquire);
	return zram_codec_get(id)->decompress(ctx, dict, src,
					      flags & SLOT_SIZE_MASK, dst);
}

/* A written-back object: read it from the backing store, then decode. */
static int wb_decode(struct zram *z, struct zram_stream *st, uint32_t f,
		     uint64_t off, unsigned char *dst)
{
	struct zram_backing *b =
		atomic_load_explicit(&z->backing, memory_order_acquire);
	const unsigned char *src;

	if (!b)
		return -EIO;
	src = backing_read(b, st->bd_buf, off, f & SLOT_SIZE_MASK);
	if (!src)
		return -EIO;
	counter_add(&z->stats.bd_reads, 1);
	return obj_decompress(z, st, f, src, dst) ? -EIO : 0;
}

/*
 * Content in memory (@h, @f: a pool object, raw or compressed, or a
 * frame's member) into @dst; the test hook may delay slot @index's read
 * while it holds the mapping. Locking: whatever keeps @h (the slot lock, or
 * a reference and the entry's read lock); zspage read lock inside.
 */
static int mem_decode(struct zram *z, struct zram_stream *st, uint64_t index,
		      uint64_t h, uint32_t f, unsigned char *dst)
{
	void *src;
	int err;

	if (f & SLOT_GROUPED) /* a reference keeps the frame */
		return slot_group_read(z, st, h, dst);
	src = zs_obj_read_begin(z->pool, h,
				(f & SLOT_HUGE) ? NULL : st->local_copy);
	err = obj_decompress(z, st, f, src, dst);
	read_delay(z, index);
	zs_obj_read_end(z->pool, h, src);
	return err;
}

/*
 * A shared page: the entry's content and meta word, not the slot's copy of
 * them (a rewrite may have moved it since this slot shared it), held still
 * by the entry's read lock. Locking: slot lock held.
 */
static int shared_decode(struct zram *z, struct zram_stream *st, uint64_t index,
			 uint32_t id, unsigned char *dst)
{
	struct zram_dedup *d = z->dedup;
	uint32_t f;
	uint64_t h;
	int err;

	dedup_obj_begin(d, id, &h, &f);
	err = mem_decode(z, st, index, h, f, dst);
	dedup_obj_end(d, id);
	return err;
}

int slot_decode(struct zram *z, struct zram_stream *st, uint64_t index,
		unsigned char *dst)
{
	struct zram_slot *slot = &z->table[index];
	uint32_t f = LOAD(slot->flags);
	uint64_t h = LOAD(slot->handle);

	/* a ZRAM_IO_NOWAIT request backs out before a disk read or a delay */
	if ((slot_kind(f) == SLOT_KIND_WB || read_delay_due(z, index)) &&
	    io_would_wait())
		return -EAGAIN;
	switch (slot_kind(f)) {
	case SLOT_KIND_EMPTY:
		memset(dst, 0, ZRAM_PAGE_SIZE);
		return 0;
	case SLOT_KIND_SAME:
		page_fill(dst, h);
		return 0;
	case SLOT_KIND_SHARED: /* our reference keeps the entry */
		return shared_decode(z, st, index, (uint32_t)h, dst);
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED:
	case SLOT_KIND_GROUPED: /* our reference keeps the frame */
		return mem_decode(z, st, index, h, f, dst);
	case SLOT_KIND_WB:
		return wb_decode(z, st, f, h, dst);
	}
	return -EIO;
}

bool slot_wb_takes(enum slot_kind k)
{
	return k == SLOT_KIND_HUGE || k == SLOT_KIND_COMPRESSED ||
	       k == SLOT_KIND_SHARED || k == SLOT_KIND_GROUPED;
}

/* Copy the pool object @h described by @f (its size bytes) to @dst.
 * Locking: whatever keeps @h; zspage read lock inside. */
static void obj_copy(struct zram *z, struct zram_stream *st, uint64_t h,
		     uint32_t f, unsigned char *dst)
{
	void *src = zs_obj_read_begin(z->pool, h,
				      (f & SLOT_HUGE) ? NULL : st->local_copy);

	memcpy(dst, src, f & SLOT_SIZE_MASK);
	zs_obj_read_end(z->pool, h, src);
}

int slot_group_encode(struct zram *z, struct zram_stream *st, uint64_t h,
		      bool count, uint32_t *flags)
{
	_Atomic uint64_t *pages;
	struct slot_codec c;
	int n;

	n = slot_group_read(z, st, h, st->page);
	if (n)
		return n;
	for (;;) {
		n = slot_codec_get(z, 0, &c);
		if (n)
			return n;
		n = slot_compress(z, st, &c, st->page);
		if (n == -EAGAIN)
			continue;
		if (n == -E2BIG) {
			memcpy(st->cbuf, st->page, ZRAM_PAGE_SIZE);
			*flags = SLOT_HUGE | ZRAM_PAGE_SIZE;
			return ZRAM_PAGE_SIZE;
		}
		if (n < 0)
			return n;
		*flags = (uint32_t)n | slot_codec_flags(&c);
		if (!count)
			return n;
		pages = slot_dict_pages(z, *flags);
		atomic_fetch_add_explicit(pages, 1, memory_order_seq_cst);
		if (atomic_load_explicit(&slot_params(z, *flags)->cur,
					 memory_order_seq_cst) == c.dict_cur)
			return n;
		atomic_fetch_sub_explicit(pages, 1, memory_order_seq_cst);
	}
}

/*
 * The content of dedup entry @id as a page of its own at @dst (may be
 * @st->cbuf): its object's bytes, or its member encoded
 * (slot_group_encode()). Returns the length, with its content bits in
 * *@content, or -errno. With @count, a compressed copy holds its own count
 * on its dictionary (the entry's keeps the dictionary alive until then).
 * Locking: a reference keeps the entry; its read lock inside.
 */
static int entry_copy(struct zram *z, struct zram_stream *st, uint32_t id,
		      bool count, unsigned char *dst, uint32_t *content)
{
	struct zram_dedup *d = z->dedup;
	uint32_t m;
	uint64_t h;
	int n;

	dedup_obj_begin(d, id, &h, &m);
	if (m & SLOT_GROUPED) {
		n = slot_group_encode(z, st, h, count, content);
		if (n > 0) /* memmove: @dst may be st->cbuf itself */
			memmove(dst, st->cbuf, (size_t)n);
	} else {
		*content = m & SLOT_CONTENT_BITS;
		n = (int)(m & SLOT_SIZE_MASK);
		obj_copy(z, st, h, m, dst);
		if (count && !(m & SLOT_HUGE))
			atomic_fetch_add_explicit(slot_dict_pages(z, m), 1,
						  memory_order_seq_cst);
	}
	dedup_obj_end(d, id);
	return n;
}

int slot_wb_encode(struct zram *z, struct zram_stream *st,
		   struct zram_slot *slot, struct slot_wb *wb)
{
	uint32_t f = LOAD(slot->flags);
	uint64_t h = LOAD(slot->handle);
	int n;

	assert(f & SLOT_LOCK);
	wb->from = slot_kind(f);
	wb->dict_ref = false;
	switch (wb->from) {
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED: /* the slot's dictionary count goes on */
		wb->flags = f & SLOT_CONTENT_BITS;
		wb->len = f & SLOT_SIZE_MASK;
		obj_copy(z, st, h, f, st->cbuf);
		return 0;
	case SLOT_KIND_SHARED: /* our reference keeps the entry */
		n = entry_copy(z, st, (uint32_t)h, true, st->cbuf, &wb->flags);
		break;
	case SLOT_KIND_GROUPED: /* our reference keeps the frame */
		n = slot_group_encode(z, st, h, true, &wb->flags);
		break;
	default:
		assert(!"slot_wb_encode: not a kind writeback takes");
		return -EINVAL;
	}
	if (n < 0)
		return n;
	wb->len = (uint32_t)n;
	wb->dict_ref = !(wb->flags & SLOT_HUGE);
	return 0;
}

void slot_wb_abandon(struct zram *z, const struct slot_wb *wb)
{
	if (wb->dict_ref)
		atomic_fetch_sub_explicit(slot_dict_pages(z, wb->flags), 1,
					  memory_order_seq_cst);
}

uint64_t slot_wb_install(struct zram *z, struct zram_slot *slot, uint64_t off,
			 const struct slot_wb *wb)
{
	uint32_t f = LOAD(slot->flags);
	struct zram_counters *s = &z->stats;
	uint64_t freed;

	assert(f & SLOT_LOCK);
	assert(slot_kind(f) == wb->from && slot_wb_takes(wb->from));
	/* a compressed object's dictionary count stays the slot's */
	freed = mem_release(z, f, LOAD(slot->handle), false, true);
	if (f & SLOT_IDLE)
		counter_add(&s->idle_pages, -1);
	counter_add(&s->wb_pages, 1);
	counter_add(&s->backing_bytes, wb->len);
	counter_add(&s->bd_writes, 1);
	atomic_store_explicit(&slot->handle, off, memory_order_relaxed);
	slot_flags_update(slot,
			  SLOT_CONTENT_BITS | SLOT_SHARED | SLOT_GROUPED |
				  SLOT_IDLE | SLOT_PP,
			  wb->flags | SLOT_WB);
	return freed;
}

/* Only touched table pages are visited (see slot.c): a walk over an
 * untouched 16 TiB disk is a scan of 2 MiB of bits. */
int slot_walk(struct zram *z, uint64_t first, uint64_t end,
	      int (*fn)(struct zram *z, uint64_t index, void *arg), void *arg)
{
	uint64_t i, page, stop;
	int ret;

	if (end > z->nr_slots)
		end = z->nr_slots;
	for (i = first; i < end;) {
		page = table_page_next(z, i / SLOTS_PER_TABLE_PAGE,
				       z->nr_table_pages);
		if (page * SLOTS_PER_TABLE_PAGE > i)
			i = page * SLOTS_PER_TABLE_PAGE;
		stop = (page + 1) * SLOTS_PER_TABLE_PAGE;
		for (; i < end && i < stop; i++) {
			if (!LOAD(z->table[i].flags))
				continue;
			ret = fn(z, i, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int slot_content_copy(struct zram *z, struct zram_stream *st, uint32_t f,
		      uint64_t h, unsigned char *dst, uint32_t *flags)
{
	uint32_t len = f & SLOT_SIZE_MASK, content;
	struct zram_backing *b;
	const unsigned char *src;
	int n;

	*flags = f;
	switch (slot_kind(f)) {
	case SLOT_KIND_SHARED: /* a reference keeps the entry */
		n = entry_copy(z, st, (uint32_t)h, false, dst, &content);
		if (n < 0)
			return n;
		*flags = (f & ~SLOT_CONTENT_BITS) | content;
		return 0;
	case SLOT_KIND_HUGE:
	case SLOT_KIND_COMPRESSED:
		obj_copy(z, st, h, f, dst);
		return 0;
	case SLOT_KIND_WB:
		b = atomic_load_explicit(&z->backing, memory_order_acquire);
		src = b ? backing_read(b, st->bd_buf, h, len) : NULL;
		if (!src)
			return -EIO;
		memcpy(dst, src, len);
		return 0;
	default:
		return -EINVAL;
	}
}

int slot_copy_object(struct zram *z, struct zram_stream *st, uint64_t index,
		     unsigned char *dst, uint32_t *flags)
{
	struct zram_slot *slot = &z->table[index];

	return slot_content_copy(z, st, LOAD(slot->flags), LOAD(slot->handle),
				 dst, flags);
}
