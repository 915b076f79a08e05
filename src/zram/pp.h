/*
 * pp.h - post-processing candidates: which slots a writeback or recompress
 * pass takes, and in which order (private to src/zram/).
 *
 * A pass walks the slots (slot_walk), and for each that qualifies sets
 * SLOT_PP under its lock and records (index, key). It then works through
 * the candidates by key, highest first. Any access to a slot clears PP
 * (slot_touch, install, free), so a pass that re-locks a candidate and finds
 * PP gone skips it: the page changed or was used since it was picked.
 *
 * Orders: PP_LARGEST is zram's: 64-byte size buckets, largest first.
 * PP_COLDEST (the policy's mem_target) sorts by age class (log2 of the
 * time since last access) first, then by size bucket.
 *
 * Locking: one slot lock at a time; the candidate array is the pass's own.
 * Callers hold z->pp_lock, so at most one pass owns PP bits at a time.
 */
#ifndef UZRAM_PP_H
#define UZRAM_PP_H

#include "slot_content.h"

enum pp_order {
	PP_LARGEST,
	PP_COLDEST,
};

struct pp_cand {
	uint32_t index;
	uint32_t key;
};

struct pp_set {
	struct pp_cand *c;
	size_t n, cap;
};

/* Returns true if a slot with @flags is a candidate. */
typedef bool (*pp_want_fn)(struct zram *z, uint32_t flags, const void *arg);

/*
 * pp_select - pick the candidates in @nr_ranges ranges of @ranges (inclusive
 * page indexes; 0 ranges: the whole disk) for which @want is true, mark them
 * PP and sort them by @order. Returns 0 or -ENOMEM (nothing stays marked).
 * Locking: z->pp_lock held.
 */
int pp_select(struct zram *z, const struct zram_wb_req *ranges, pp_want_fn want,
	      const void *arg, enum pp_order order, struct pp_set *set);

/* pp_release - clear PP on candidates [@from, n) and free the set. */
void pp_release(struct zram *z, struct pp_set *set, size_t from);

/* pp_type_match - does a slot with @flags fit zram's type= @type? */
bool pp_type_match(enum zram_pp_type type, uint32_t flags);

/* writeback.c: one pass (see there). Locking: pp_lock held. */
int writeback_run(struct zram *z, const struct zram_wb_req *req,
		  enum pp_order order, uint64_t target, uint64_t *written);

/* recompress.c: one pass (see there). Locking: pp_lock held. */
int recompress_run(struct zram *z, const struct zram_recompress_req *req,
		   uint64_t *kept);

#endif
