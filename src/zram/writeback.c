/*
 * writeback.c - backing_dev, writeback, writeback_limit: move objects from
 * the pool to the backing store.
 *
 * A pass (z->pp_lock held) picks candidates (pp.c), then for each: take the
 * writeback budget, lock the slot, check it is still picked (PP) and in
 * memory, encode what it will be on the store (slot_wb_encode(): the
 * object as it is; a sharer's own copy of its entry's object; a grouped
 * member compressed on its own), reserve room in the batch
 * (backing_place) and copy it there, unlock. When the batch is full, write
 * it with no slot lock held, then re-lock each slot of the batch: if it is
 * still picked, the slot gives up its memory (its object, its entry's or
 * frame's reference) and points at the backing store (slot_wb_install); if
 * it changed meanwhile, its room on the store is released. On any error every object of the failed batch is released.
 * writeback_limit is charged per page as zram does: a page is charged when
 * it is taken and refunded if it does not end up on the backing store (it
 * changed before it was copied, or while its batch was written, or the
 * batch failed): only pages that left memory use up the budget.
 *
 * Lock order: pp_lock -> slot lock -> backing lock (leaf). No slot lock is
 * held across backing I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pp.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

struct wb_entry {
	uint32_t index;
	uint64_t off;
	struct slot_wb wb; /* what was copied, and from what kind */
};

struct wb_pass {
	struct zram *z;
	struct zram_backing *b;
	struct zram_stream *st;
	struct backing_batch bt;
	struct wb_entry ent[BACKING_BATCH_BLOCKS * BACKING_BLOCK / 32];
	unsigned int nr;
	uint64_t target;  /* stop once mem_used_total <= target (0: off) */
	uint64_t freed;	  /* pool bytes freed since the last compaction */
	uint64_t written; /* pages written back by this pass */
};

/* Take one page of budget. Returns 0 or -EIO when it is used up. */
static int budget_take(struct zram *z)
{
	uint64_t v = LOAD(z->wb_limit);

	if (!atomic_load_explicit(&z->wb_limit_enable, memory_order_relaxed))
		return 0;
	do {
		if (!v)
			return -EIO;
	} while (!atomic_compare_exchange_weak_explicit(&z->wb_limit, &v, v - 1,
							memory_order_relaxed,
							memory_order_relaxed));
	return 0;
}

static void budget_refund(struct zram *z, uint64_t pages)
{
	if (atomic_load_explicit(&z->wb_limit_enable, memory_order_relaxed))
		atomic_fetch_add_explicit(&z->wb_limit, pages,
					  memory_order_relaxed);
}

/* Write the batch and publish its slots. Locking: no slot lock held. */
static int batch_flush(struct wb_pass *p)
{
	unsigned int i;
	int err;

	if (!p->nr)
		return 0;
	err = backing_write(p->b, &p->bt);
	for (i = 0; i < p->nr; i++) {
		struct wb_entry *e = &p->ent[i];
		struct zram_slot *slot = &p->z->table[e->index];
		uint32_t f;

		slot_lock(p->z, slot);
		f = LOAD(slot->flags);
		/* PP survives only if nothing wrote, freed or read it */
		if (!err && (f & SLOT_PP) && slot_kind(f) == e->wb.from) {
			p->freed += slot_wb_install(p->z, slot, e->off, &e->wb);
			p->written++;
			slot_unlock(slot);
			continue;
		}
		if (f & SLOT_PP)
			slot_flags_update(slot, SLOT_PP, 0);
		slot_unlock(slot);
		slot_wb_abandon(p->z, &e->wb);
		backing_release(p->b, e->off, e->wb.len);
		budget_refund(p->z, 1); /* it stays in memory */
	}
	p->nr = 0;
	backing_punch(p->b);
	return err;
}

/*
 * Put the page of slot @index into the batch. Returns 1 (taken), 0
 * (skipped: it changed since it was picked, or its frame does not decode),
 * -EAGAIN (batch full: flush and call again), -ENOSPC, -ENOMEM.
 */
static int batch_add(struct wb_pass *p, uint32_t index)
{
	struct zram_slot *slot = &p->z->table[index];
	struct wb_entry *e = &p->ent[p->nr];
	unsigned char *dst;
	uint32_t f;
	int err = 0;

	if (p->nr == sizeof(p->ent) / sizeof(p->ent[0]))
		return -EAGAIN;
	slot_lock(p->z, slot);
	f = LOAD(slot->flags);
	if (!(f & SLOT_PP))
		goto out_unlock;
	/* a page nobody else shares leaves the index and goes as any other;
	 * a sharer of an object others share goes with a copy of its own */
	if (slot_kind(f) == SLOT_KIND_SHARED)
		slot_unshare(p->z, slot);
	if (!slot_wb_takes(slot_kind(LOAD(slot->flags))))
		goto out_unlock;
	err = slot_wb_encode(p->z, p->st, slot, &e->wb);
	if (err) {
		if (err == -EIO) /* stays in memory; a read reports it */
			err = 0;
		goto out_unlock;
	}
	err = backing_place(p->b, &p->bt, e->wb.len, &e->off, &dst);
	if (err) {
		slot_wb_abandon(p->z, &e->wb);
		goto out_unlock;
	}
	memcpy(dst, p->st->cbuf, e->wb.len);
	e->index = index;
	p->nr++;
	err = 1;
out_unlock:
	slot_unlock(slot);
	return err;
}

/* mem_target: once enough is freed, compact and see if we are under. */
static bool target_reached(struct wb_pass *p)
{
	struct zram *z = p->z;
	uint64_t used;

	if (!p->target)
		return false;
	used = (uint64_t)zs_get_total_pages(z->pool) * ZRAM_PAGE_SIZE;
	if (used <= p->target)
		return true;
	if (p->freed < (used - p->target) / 2 + ZRAM_PAGE_SIZE)
		return false;
	p->freed = 0;
	zs_compact(z->pool);
	used = (uint64_t)zs_get_total_pages(z->pool) * ZRAM_PAGE_SIZE;
	return used <= p->target;
}

/* Work through @set. Locking: pp_lock held. */
static int pass_run(struct wb_pass *p, struct pp_set *set)
{
	size_t i;
	int err = 0;

	for (i = 0; i < set->n && !err; i++) {
		if (target_reached(p))
			break;
		err = budget_take(p->z);
		if (err)
			break;
		err = batch_add(p, set->c[i].index);
		if (err == -EAGAIN) {
			err = batch_flush(p);
			if (!err)
				err = batch_add(p, set->c[i].index);
		}
		if (err <= 0) /* skipped or failed: not charged */
			budget_refund(p->z, 1);
		if (err > 0)
			err = 0;
	}
	if (err) {
		batch_flush(p);
	} else {
		err = batch_flush(p);
	}
	pp_release(p->z, set, 0);
	return err;
}

static bool wb_want(struct zram *z, uint32_t flags, const void *arg)
{
	(void)z;
	return pp_type_match(*(const enum zram_pp_type *)arg, flags);
}

/*
 * writeback_run - one writeback pass: @req selects, @order orders, and a
 * @target (bytes, 0: none) stops it once mem_used_total is at or below it.
 * Returns as zram_writeback(); *@written (may be NULL) gets the page count.
 * Locking: pp_lock held.
 */
int writeback_run(struct zram *z, const struct zram_wb_req *req,
		  enum pp_order order, uint64_t target, uint64_t *written)
{
	struct zram_backing *b =
		atomic_load_explicit(&z->backing, memory_order_acquire);
	struct wb_pass *p;
	struct pp_set set;
	int err = -ENOMEM;

	if (!b)
		return -ENODEV;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->z = z;
	p->b = b;
	p->target = target;
	p->st = zram_stream_get(z);
	if (!p->st || backing_batch_init(&p->bt))
		goto out_free;
	err = pp_select(z, req, wb_want, &req->type, order, &set);
	if (!err)
		err = pass_run(p, &set);
	backing_batch_fini(&p->bt);
	if (written)
		*written = p->written;
out_free:
	free(p);
	return err;
}

static int ranges_check(struct zram *z, const struct zram_wb_req *req)
{
	unsigned int r;

	if (req->nr_ranges > ZRAM_WB_MAX_RANGES ||
	    (unsigned int)req->type > ZRAM_PP_INCOMPRESSIBLE)
		return -EINVAL;
	for (r = 0; r < req->nr_ranges; r++)
		if (req->ranges[r].lo > req->ranges[r].hi ||
		    req->ranges[r].hi >= z->nr_slots)
			return -ERANGE;
	return 0;
}

int zram_writeback(struct zram *z, const struct zram_wb_req *req)
{
	int err = ranges_check(z, req);

	if (err)
		return err;
	pthread_mutex_lock(&z->pp_lock);
	err = writeback_run(z, req, PP_LARGEST, 0, NULL);
	pthread_mutex_unlock(&z->pp_lock);
	return err;
}

void tier_punch(struct zram *z)
{
	struct zram_backing *b =
		atomic_load_explicit(&z->backing, memory_order_acquire);

	if (b && atomic_load_explicit(&b->punch_pending, memory_order_relaxed))
		backing_punch(b);
}

void zram_writeback_limit_enable(struct zram *z, bool on)
{
	atomic_store_explicit(&z->wb_limit_enable, on, memory_order_relaxed);
}

void zram_writeback_limit_set(struct zram *z, uint64_t pages)
{
	atomic_store_explicit(&z->wb_limit, pages, memory_order_relaxed);
}

int zram_backing_dev_set(struct zram *z, const char *path)
{
	struct zram_backing *b = NULL, *old;
	int err = 0;

	pthread_mutex_lock(&z->pp_lock);
	if (LOAD(z->stats.pages_stored) || LOAD(z->stats.wb_pages)) {
		err = -EBUSY;
		goto out_unlock;
	}
	if (path && strcmp(path, "none")) {
		err = backing_open(path, &b);
		if (err)
			goto out_unlock;
	}
	old = atomic_exchange_explicit(&z->backing, b, memory_order_acq_rel);
	backing_retire(old, &z->backing_retired);
out_unlock:
	pthread_mutex_unlock(&z->pp_lock);
	return err;
}
