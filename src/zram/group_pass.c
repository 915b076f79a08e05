/*
 * group_pass.c - the policy's grouping of cold neighbours (group=on|PAGES).
 *
 * Why: a page compressed alone cannot use what its neighbours on the disk
 * share with it; zstd over 4 consecutive pages of these trees takes 12.8 %
 * off page-by-page zstd-3 (docs/benchmarks.md). Cold pages are read
 * rarely, so the price (a read decompresses the whole frame) is paid
 * rarely; hot pages never are grouped, and a write splits its page out.
 *
 * The level: zstd-3 by default (group_level=, 1..19). A background pass
 * can afford more: on these trees, 16-page frames at level 15 with the
 * store's dictionary are 0.685 x page-by-page zstd-3 against 0.817 x at
 * level 3 without one, for 4.8 MB/s of compression against 106 (one core;
 * docs/benchmarks.md). Reads are the same speed or faster (a smaller frame
 * to decode).
 *
 * A pass walks the slots in ascending order and collects runs of
 * consecutive slots that are idle, COMPRESSED or SHARED (a dedup entry
 * holding a compressed object, however many slots share it) and not
 * INCOMPRESSIBLE or NOGROUP; so never SAME, WB, HUGE, GROUPED, empty, or a
 * sharer whose entry is in a frame already. Each collected member
 * is decoded into the pass's buffer and marked PP under its lock, then let
 * go. When a run has `pages` members, or breaks, and has at least
 * GROUP_PAGES_MIN: compress them as one zstd frame (the group level, the
 * zstd dictionary of new writes if any, whatever the primary codec is:
 * slot_group_compress()); keep it only if it is
 * smaller than the members' objects together (it is compressed into a
 * buffer one byte shorter than that); store it (slot_group_new, one
 * reference for the pass), then for each member, under its lock: if it is
 * still PP (no access, write, discard or free since it was decoded: any of
 * those clears PP, and only a pass under pp_lock sets it), take a reference
 * and install it as GROUPED (its own object is freed, its IDLE mark and
 * access time stay), or, for a sharer, move its entry into the frame
 * (slot_shared_group(): the entry takes the reference and frees its
 * object, for every sharer; it stays in the index, so a later write of the
 * same page shares the member). Finally the pass drops its own reference:
 * a frame whose members all changed meanwhile is freed right there.
 *
 * A second sharer of an entry already in the run cuts it and starts the
 * next one: its entry can be in one frame only, and a frame holding the
 * page twice would keep the second copy's bytes for nothing.
 *
 * A run whose frame was not smaller marks its members NOGROUP: later passes
 * skip them until they are written again (a run cut elsewhere might have
 * shrunk; the price of not compressing the same pages every pass).
 *
 * Known limit: a member that changed between its decode and the install
 * stays out, and the frame keeps its page's bytes until the frame goes (it
 * is still smaller than what the members it kept used, unless most left).
 *
 * Lock order: pp_lock (the caller's) -> slot lock (one at a time) -> group
 * table lock / allocator locks inside slot_content.
 */
#include <errno.h>
#include <stdlib.h>

#include "slot_content.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define FRAME_MAX (GROUP_PAGES_MAX * ZRAM_PAGE_SIZE)

struct group_run {
	struct zram_stream *st;
	unsigned int want; /* pages per frame */
	int level;	   /* zstd level of the frames */
	uint64_t first;	   /* slot of the run's first member */
	unsigned int n;	   /* members collected */
	uint64_t sizes;	   /* their objects' bytes */
	uint64_t grouped;  /* pages installed as GROUPED by this pass */
	uint32_t entries[GROUP_PAGES_MAX]; /* dedup entries of the run */
	unsigned int nentries;
	unsigned char pages[FRAME_MAX];
	unsigned char frame[FRAME_MAX];
};

/*
 * May a slot with flags @f join a group, as far as its flags tell: idle,
 * its own compressed object or a dedup entry's (not raw), not marked.
 * Locking: none needed (a first look, without the slot lock: nothing else
 * of the slot is read then, its handle may belong to other content).
 */
static bool member_flags_ok(uint32_t f)
{
	enum slot_kind k = slot_kind(f);

	return (f & SLOT_IDLE) &&
	       !(f & (SLOT_INCOMPRESSIBLE | SLOT_PP | SLOT_NOGROUP)) &&
	       (k == SLOT_KIND_COMPRESSED ||
		(k == SLOT_KIND_SHARED && !(f & SLOT_HUGE)));
}

/*
 * May @slot (flags @f) join a group: as member_flags_ok(), and a sharer's
 * entry holds a pool object, not a frame's member already.
 * Locking: the slot lock held (its reference keeps the entry).
 */
static bool member_ok(struct zram *z, struct zram_slot *slot, uint32_t f)
{
	return member_flags_ok(f) && (slot_kind(f) != SLOT_KIND_SHARED ||
				      !slot_shared_grouped(z, slot));
}

/* Member @pos of frame @id into its slot if unchanged. Returns 1 if so.
 * Locking: takes the slot lock. */
static int member_install(struct zram *z, uint64_t index, uint32_t id,
			  unsigned int pos, uint32_t share)
{
	struct zram_slot *slot = &z->table[index];
	struct slot_obj obj = {.handle = slot_group_handle(id, pos),
			       .flags = slot_group_flags(share)};
	uint32_t f;
	int done = 0;

	slot_lock(z, slot);
	f = LOAD(slot->flags);
	if (!(f & SLOT_PP)) { /* changed since it was decoded */
	} else if (slot_kind(f) == SLOT_KIND_SHARED) {
		/* for every sharer, the entry taking the frame reference;
		 * not if a sharer earlier in this run moved it already, or
		 * a reader holds it (-EBUSY) */
		if (!slot_shared_grouped(z, slot))
			done = !slot_shared_group(z, slot, obj.handle, share);
		slot_flags_update(slot, SLOT_PP, 0);
	} else if (slot_kind(f) == SLOT_KIND_COMPRESSED) {
		slot_group_get(z, id);
		slot_install(z, slot, &obj); /* clears IDLE and PP */
		if (f & SLOT_IDLE) {	     /* grouping is not an access */
			slot_flags_update(slot, 0, SLOT_IDLE);
			atomic_fetch_add_explicit(&z->stats.idle_pages, 1,
						  memory_order_relaxed);
		}
		done = 1;
	}
	slot_unlock(slot);
	return done;
}

/*
 * Clear PP on the run's members that still have it (unchanged since they
 * were decoded), and mark them NOGROUP if @nogroup (their frame was not
 * smaller). Locking: slot locks.
 */
static void run_release(struct zram *z, struct group_run *r, bool nogroup)
{
	uint32_t set = nogroup ? SLOT_NOGROUP : 0;
	unsigned int i;

	for (i = 0; i < r->n; i++) {
		struct zram_slot *slot = &z->table[r->first + i];

		if (!(LOAD(slot->flags) & SLOT_PP))
			continue;
		slot_lock(z, slot);
		if (LOAD(slot->flags) & SLOT_PP)
			slot_flags_update(slot, SLOT_PP, set);
		slot_unlock(slot);
	}
	r->n = 0;
	r->sizes = 0;
	r->nentries = 0;
}

/* Group the run collected so far, if it is worth it, and start anew. */
static void run_flush(struct zram *z, struct group_run *r)
{
	size_t cap = r->sizes - 1 < FRAME_MAX ? r->sizes - 1 : FRAME_MAX;
	unsigned int i, dict;
	uint32_t id;
	int len;

	if (r->n < GROUP_PAGES_MIN)
		goto out;
	len = slot_group_compress(z, r->st, r->level, r->pages, r->n, r->frame,
				  cap, &dict);
	/* not smaller: leave them, and do not try them again */
	if (len == -E2BIG) {
		run_release(z, r, true);
		return;
	}
	/* no memory, or the dictionary kept changing: leave them */
	if (len <= 0 ||
	    slot_group_new(z, r->frame, (size_t)len, r->n, dict, &id))
		goto out;
	for (i = 0; i < r->n; i++)
		r->grouped += (uint64_t)member_install(
			z, r->first + i, id, i,
			((uint32_t)len + r->n - 1) / r->n);
	slot_group_put(z, id); /* the pass's own reference */
out:
	run_release(z, r, false);
}

/* Is dedup entry @id a member of the run already? */
static bool run_has_entry(const struct group_run *r, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < r->nentries; i++)
		if (r->entries[i] == id)
			return true;
	return false;
}

/* slot_walk() callback: extend the run with slot @index, or end it. */
static int run_one(struct zram *z, uint64_t index, void *arg)
{
	struct group_run *r = arg;
	struct zram_slot *slot = &z->table[index];
	uint32_t f, id;
	bool ok;

	if (r->n && index != r->first + r->n)
		run_flush(z, r);
	/* a lock-free look first: a WB slot's lock may be held across a
	 * backing-store read, which the pass must not wait for */
	if (!member_flags_ok(LOAD(slot->flags))) {
		run_flush(z, r);
		return 0;
	}
	slot_lock(z, slot);
	f = LOAD(slot->flags);
	id = (uint32_t)LOAD(slot->handle);
	ok = member_ok(z, slot, f);
	if (ok && slot_kind(f) == SLOT_KIND_SHARED && run_has_entry(r, id)) {
		/* its entry is in this run: group that, then look again (the
		 * entry is likely a member now, and this slot no candidate) */
		slot_unlock(slot);
		run_flush(z, r);
		return run_one(z, index, arg);
	}
	if (!ok || slot_decode(z, r->st, index,
			       r->pages + (size_t)r->n * ZRAM_PAGE_SIZE)) {
		slot_unlock(slot);
		run_flush(z, r);
		return 0;
	}
	slot_flags_update(slot, 0, SLOT_PP);
	slot_unlock(slot);
	if (slot_kind(f) == SLOT_KIND_SHARED)
		r->entries[r->nentries++] = id;
	if (!r->n)
		r->first = index;
	r->sizes += f & SLOT_SIZE_MASK;
	if (++r->n == r->want)
		run_flush(z, r);
	return 0;
}

uint64_t group_idle(struct zram *z, unsigned int pages, unsigned int level)
{
	struct group_run *r;
	uint64_t grouped;

	if (!level)
		level = GROUP_LEVEL_DEFAULT;
	if (pages < GROUP_PAGES_MIN || pages > GROUP_PAGES_MAX ||
	    level > GROUP_LEVEL_MAX)
		return 0;
	r = malloc(sizeof(*r));
	if (!r)
		return 0;
	r->st = zram_stream_get(z);
	r->want = pages;
	r->level = (int)level;
	r->n = 0;
	r->sizes = 0;
	r->nentries = 0;
	r->grouped = 0;
	if (r->st) {
		slot_walk(z, 0, z->nr_slots, run_one, r);
		run_flush(z, r);
	}
	grouped = r->grouped;
	free(r);
	return grouped;
}
