/*
 * recompress.c - recomp_algorithm and recompress: re-encode in-memory
 * objects with the secondary codecs (priorities 1..3).
 *
 * As zram: candidates are the in-memory (HUGE or compressed) slots that
 * fit type=, are not INCOMPRESSIBLE and were not written by the highest
 * priority in range; they are taken largest first (64-byte buckets). For
 * each, under its slot lock (no backing I/O here): skip it if it is smaller
 * than threshold=; decode it; try each priority above the one that wrote
 * it, in order; keep the first result that lands in a strictly smaller
 * zsmalloc size class (and is below threshold= if given). If none does and
 * the last configured priority was tried, mark it INCOMPRESSIBLE so later
 * passes skip it. max_pages= counts the slots that passed the threshold.
 *
 * A shared (deduplicated) object is recompressed once, in place, for all
 * its sharers (slot_shared_rewrite()). A sharer is selected by its slot's
 * copy of the object's description, and decided on by the object's own
 * (slot_shared_sync()), so its other sharers find it done.
 *
 * Departure from zram: the page keeps its IDLE mark (recompression is not
 * an access), so a policy pass can recompress idle pages and then write the
 * same pages back.
 *
 * Lock order: pp_lock -> slot lock -> allocator locks.
 */
#include <errno.h>
#include <string.h>

#include "pp.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

struct rc_pass {
	enum zram_pp_type type;
	unsigned int prio_min, prio_max; /* priorities [min, max) */
	bool last;			 /* max is past the last codec */
	uint64_t threshold;
	uint64_t budget; /* max_pages left, UINT64_MAX: none */
	uint64_t kept;
};

static bool rc_want(struct zram *z, uint32_t flags, const void *arg)
{
	const struct rc_pass *rc = arg;

	(void)z;
	/* a frame's member (a GROUPED slot, or a shared entry in a frame:
	 * slot_shared_sync()) is not an object of its own to recompress */
	return !(flags & SLOT_GROUPED) && pp_type_match(rc->type, flags) &&
	       !(flags & SLOT_INCOMPRESSIBLE) &&
	       slot_prio(flags) + 1 < rc->prio_max;
}

/*
 * Try the priorities above @f's for @page. Returns the compressed length
 * in st->cbuf with *@c its codec, 0 if none shrinks it, or -errno.
 */
static int rc_try(struct zram *z, struct zram_stream *st,
		  const struct rc_pass *rc, uint32_t f, const void *page,
		  struct slot_codec *c)
{
	unsigned int prio = slot_prio(f) + 1;
	int old_class = zs_lookup_class_index(z->pool, f & SLOT_SIZE_MASK);
	int n;

	if (prio < rc->prio_min)
		prio = rc->prio_min;
	for (; prio < rc->prio_max; prio++) {
		if (slot_codec_get(z, prio, c))
			continue;
		n = slot_compress(z, st, c, page);
		if (n == -E2BIG || n == -EAGAIN) /* EAGAIN: its dict changed */
			continue;
		if (n < 0)
			return n;
		if (zs_lookup_class_index(z->pool, (size_t)n) < old_class &&
		    (!rc->threshold || (uint64_t)n < rc->threshold))
			return n;
	}
	return 0;
}

/* Install the smaller object, keeping IDLE. Locking: slot lock held. */
static int rc_keep(struct zram *z, struct zram_stream *st,
		   struct zram_slot *slot, const struct slot_codec *c, int n)
{
	bool idle = LOAD(slot->flags) & SLOT_IDLE;
	struct slot_obj obj = {0}; /* not shared, not indexed */
	int err;

	/* not held to mem_limit: it replaces a larger object (as zram) */
	err = slot_obj_store_smaller(z, st->cbuf, (size_t)n,
				     (uint32_t)n | slot_codec_flags(c), c->dict,
				     &obj);
	if (err)
		return err;
	obj.dict_cur = c->dict_cur;
	if (slot_obj_commit(z, &obj)) {
		/* the dictionary changed under us: keep the old object */
		slot_obj_drop(z, &obj);
		return 0;
	}
	slot_install(z, slot, &obj);
	if (idle) {
		slot_flags_update(slot, 0, SLOT_IDLE);
		atomic_fetch_add_explicit(&z->stats.idle_pages, 1,
					  memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&z->stats.pages_recompressed, 1,
				  memory_order_relaxed);
	return 1;
}

/*
 * A shared object: rewritten in place, once for all its sharers. Returns 1
 * if kept, 0 if not (a reader held it, or a dictionary changed: a later
 * pass tries again), -errno. Locking: slot lock held.
 */
static int rc_keep_shared(struct zram *z, struct zram_stream *st,
			  struct zram_slot *slot, const struct slot_codec *c,
			  int n)
{
	int err = slot_shared_rewrite(z, slot, st->cbuf, (size_t)n,
				      (uint32_t)n | slot_codec_flags(c), c,
				      false);

	if (err == -EBUSY || err == -EAGAIN)
		return 0;
	if (err)
		return err;
	atomic_fetch_add_explicit(&z->stats.pages_recompressed, 1,
				  memory_order_relaxed);
	return 1;
}

/* One candidate. Returns 0 or -errno (ends the pass). */
static int rc_one(struct zram *z, struct zram_stream *st, struct rc_pass *rc,
		  uint32_t index)
{
	struct zram_slot *slot = &z->table[index];
	struct slot_codec c;
	enum slot_kind k;
	uint32_t f;
	int err = 0, n;

	slot_lock(z, slot);
	f = LOAD(slot->flags);
	k = slot_kind(f);
	if (!(f & SLOT_PP) ||
	    (k != SLOT_KIND_HUGE && k != SLOT_KIND_COMPRESSED &&
	     k != SLOT_KIND_SHARED))
		goto out_unlock;
	slot_flags_update(slot, SLOT_PP, 0);
	/* a shared object may have been recompressed through another sharer
	 * (or moved into a frame): its own description decides */
	if (k == SLOT_KIND_SHARED &&
	    !rc_want(z, f = slot_shared_sync(z, slot), rc))
		goto out_unlock;
	if (rc->threshold && (f & SLOT_SIZE_MASK) < rc->threshold)
		goto out_unlock;
	rc->budget--;
	err = slot_decode(z, st, index, st->page);
	if (err)
		goto out_unlock;
	n = rc_try(z, st, rc, f, st->page, &c);
	if (n > 0 && k == SLOT_KIND_SHARED)
		err = rc_keep_shared(z, st, slot, &c, n);
	else if (n > 0)
		err = rc_keep(z, st, slot, &c, n);
	else if (!n && rc->last)
		slot_flags_update(slot, 0, SLOT_INCOMPRESSIBLE);
	else
		err = n;
	rc->kept += err > 0;
	err = err > 0 ? 0 : err;
out_unlock:
	slot_unlock(slot);
	return err;
}

/* The highest configured secondary priority + 1, or 1 if none. */
static unsigned int prio_end(struct zram *z)
{
	unsigned int p, end = 1;

	for (p = 1; p < ZRAM_PRIOS; p++)
		if (LOAD(z->recomp_algo[p]) >= 0)
			end = p + 1;
	return end;
}

static int rc_setup(struct zram *z, const struct zram_recompress_req *req,
		    struct rc_pass *rc)
{
	unsigned int end = prio_end(z), p;
	int id;

	if (end == 1 || req->type == ZRAM_PP_INCOMPRESSIBLE ||
	    (unsigned int)req->type > ZRAM_PP_INCOMPRESSIBLE ||
	    req->threshold >= z->huge_size || req->prio >= (int)ZRAM_PRIOS)
		return -EINVAL;
	rc->type = req->type;
	rc->threshold = req->threshold;
	rc->budget = req->max_pages ? req->max_pages : UINT64_MAX;
	rc->prio_min = 1;
	rc->prio_max = end;
	if (req->prio >= 0) {
		rc->prio_min = req->prio ? (unsigned int)req->prio : 1;
		rc->prio_max = rc->prio_min + 1;
	}
	if (req->algo[0]) {
		id = zram_codec_find(req->algo, strlen(req->algo));
		for (p = 1; p < end; p++)
			if (id >= 0 && LOAD(z->recomp_algo[p]) == id)
				break;
		if (p == end || (req->prio > 0 && (int)p != req->prio))
			return -EINVAL;
		rc->prio_min = p;
		rc->prio_max = p + 1;
	}
	if (LOAD(z->recomp_algo[rc->prio_min]) < 0)
		return -EINVAL;
	rc->last = rc->prio_max >= end;
	return 0;
}

/*
 * recompress_run - one pass. *@kept (may be NULL) gets the number of pages
 * that kept a smaller object. Locking: pp_lock held.
 */
int recompress_run(struct zram *z, const struct zram_recompress_req *req,
		   uint64_t *kept)
{
	struct zram_wb_req all = {.type = ZRAM_PP_ANY};
	struct rc_pass rc = {0};
	struct zram_stream *st;
	struct pp_set set;
	size_t i;
	int err;

	err = rc_setup(z, req, &rc);
	if (err)
		return err;
	st = zram_stream_get(z);
	if (!st)
		return -ENOMEM;
	err = pp_select(z, &all, rc_want, &rc, PP_LARGEST, &set);
	if (err)
		return err;
	for (i = 0; i < set.n && !err && rc.budget; i++)
		err = rc_one(z, st, &rc, set.c[i].index);
	pp_release(z, &set, i);
	if (kept)
		*kept = rc.kept;
	return err;
}

int zram_recompress(struct zram *z, const struct zram_recompress_req *req)
{
	int err;

	pthread_mutex_lock(&z->pp_lock);
	err = recompress_run(z, req, NULL);
	pthread_mutex_unlock(&z->pp_lock);
	return err;
}

int zram_recomp_algorithm_set(struct zram *z, const char *algo,
			      unsigned int prio)
{
	int id = zram_codec_find(algo, strlen(algo));

	if (id < 0 || prio < 1 || prio >= ZRAM_PRIOS)
		return -EINVAL;
	atomic_store_explicit(&z->recomp_algo[prio], id, memory_order_relaxed);
	return 0;
}
