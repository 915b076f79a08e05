/*
 * pp.c - post-processing candidates (see pp.h).
 *
 * Lock order: pp_lock (held by the caller) -> slot lock. One slot at a time.
 */
#include <errno.h>
#include <stdlib.h>

#include "pp.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

bool pp_type_match(enum zram_pp_type type, uint32_t flags)
{
	switch (type) {
	case ZRAM_PP_ANY:
		return true;
	case ZRAM_PP_IDLE:
		return flags & SLOT_IDLE;
	case ZRAM_PP_HUGE:
		return flags & SLOT_HUGE;
	case ZRAM_PP_HUGE_IDLE:
		return (flags & SLOT_HUGE) && (flags & SLOT_IDLE);
	case ZRAM_PP_INCOMPRESSIBLE:
		return flags & SLOT_INCOMPRESSIBLE;
	}
	return false;
}

struct pp_walk {
	pp_want_fn want;
	const void *arg;
	enum pp_order order;
	struct pp_set *set;
	uint32_t now;
};

static uint32_t age_class(uint32_t now, uint32_t ac)
{
	uint32_t age = now > ac ? now - ac : 0, c = 0;

	while (age) {
		c++;
		age >>= 1;
	}
	return c;
}

static int set_grow(struct pp_set *set)
{
	size_t cap = set->cap ? set->cap * 2 : 1024;
	struct pp_cand *c = realloc(set->c, cap * sizeof(*c));

	if (!c)
		return -ENOMEM;
	set->c = c;
	set->cap = cap;
	return 0;
}

/* In memory: a pass may move it (a shared object or a grouped page:
 * writeback.c and recompress.c say how, and which kinds they take). */
static bool pp_kind(enum slot_kind k)
{
	return slot_wb_takes(k);
}

static int pp_walk_one(struct zram *z, uint64_t index, void *arg)
{
	struct pp_walk *w = arg;
	struct zram_slot *slot = &z->table[index];
	uint32_t f, key;
	enum slot_kind k;

	if (w->set->n == w->set->cap && set_grow(w->set))
		return -ENOMEM;
	/*
	 * A lock-free look first: a written-back or same-filled slot is never
	 * a candidate, and a WB slot's lock may be held by a reader across
	 * its backing-store read, which a pass must not wait for.
	 */
	k = slot_kind(LOAD(slot->flags));
	if (!pp_kind(k))
		return 0;
	slot_lock(z, slot);
	f = LOAD(slot->flags);
	k = slot_kind(f);
	if (!pp_kind(k) || !w->want(z, f, w->arg)) {
		slot_unlock(slot);
		return 0;
	}
	slot_flags_update(slot, 0, SLOT_PP);
	key = (f & SLOT_SIZE_MASK) / 64;
	if (w->order == PP_COLDEST)
		key |= age_class(w->now, LOAD(slot->ac_time)) << 8;
	slot_unlock(slot);
	w->set->c[w->set->n].index = (uint32_t)index;
	w->set->c[w->set->n++].key = key;
	return 0;
}

static int cand_cmp(const void *a, const void *b)
{
	const struct pp_cand *x = a, *y = b;

	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int pp_select(struct zram *z, const struct zram_wb_req *ranges, pp_want_fn want,
	      const void *arg, enum pp_order order, struct pp_set *set)
{
	struct pp_walk w = {want, arg, order, set, zram_now_ds(z)};
	unsigned int r;
	int err = 0;

	set->c = NULL;
	set->n = set->cap = 0;
	if (!ranges->nr_ranges)
		err = slot_walk(z, 0, z->nr_slots, pp_walk_one, &w);
	for (r = 0; !err && r < ranges->nr_ranges; r++)
		err = slot_walk(z, ranges->ranges[r].lo,
				ranges->ranges[r].hi + 1, pp_walk_one, &w);
	if (err) {
		pp_release(z, set, 0);
		return err;
	}
	if (set->n)
		qsort(set->c, set->n, sizeof(*set->c), cand_cmp);
	return 0;
}

void pp_release(struct zram *z, struct pp_set *set, size_t from)
{
	size_t i;

	for (i = from; i < set->n; i++) {
		struct zram_slot *slot = &z->table[set->c[i].index];

		if (!(LOAD(slot->flags) & SLOT_PP))
			continue;
		slot_lock(z, slot);
		if (LOAD(slot->flags) & SLOT_PP)
			slot_flags_update(slot, SLOT_PP, 0);
		slot_unlock(slot);
	}
	free(set->c);
	set->c = NULL;
	set->n = set->cap = 0;
}
