/*
 * group.h - the table of grouped frames (private to src/zram).
 *
 * Cold neighbouring pages are compressed together, as one zstd frame
 * (group_pass.c); each member slot is GROUPED and names an entry of this
 * table and its page's position in the frame. An entry is refcounted: one
 * reference per member slot (and the creator's while it installs them);
 * the last put hands the frame's pool objects back to the caller, who frees
 * them (slot_group.c). As dedup.c, the table never calls the allocator or a
 * codec and never looks at page data.
 *
 * A frame may be longer than the largest pool object (one page), so it is
 * stored in parts: whole 4096-byte pieces (each one huge-class object, a
 * page with no waste) and a tail in an ordinary size class.
 *
 * An entry is immutable while it lives (parts, size, pages, dictionary,
 * generation): a holder of a reference reads them without a lock. Its
 * generation is unique in the table's life (a 64-bit counter, never 0) and
 * keys the readers' per-thread frame cache, so an id that is freed and
 * reused never serves the old frame's bytes.
 *
 * Ids are 32-bit, stable for the entry's life, reused after its last put.
 * Functions return 0 or -errno as the rest of the store.
 */
#ifndef UZRAM_ZRAM_GROUP_H
#define UZRAM_ZRAM_GROUP_H

#include <stdbool.h>
#include <stdint.h>

struct zram_group;

/* Pages per frame: the policy's group=PAGES bounds, and its "on". 32
 * pages (128 KiB) at zstd-15 with a dictionary are ~2 % smaller than 16
 * on the trees measured, for twice the work per cold read. */
#define GROUP_PAGES_MIN 2u
#define GROUP_PAGES_MAX 32u
#define GROUP_PAGES_DEFAULT 4u
/* zstd level of the frames: the policy's group_level=1..19, 0 meaning
 * the default (docs/benchmarks.md: why 4 pages at level 3, and what
 * higher levels give); 19 is zstd's highest level that needs no
 * --ultra window: a frame's window is its own 64 KiB anyway */
#define GROUP_LEVEL_MIN 1u
#define GROUP_LEVEL_MAX 19u
#define GROUP_LEVEL_DEFAULT 3u
/* a frame is kept only if smaller than its members' objects, each below a
 * page, so it never needs more parts than pages */
#define GROUP_PARTS_MAX GROUP_PAGES_MAX
#define GROUP_PART_SIZE 4096u

/* One frame as its holder sees it. */
struct group_frame {
	uint64_t handles[GROUP_PARTS_MAX]; /* pool objects, in order */
	uint32_t size;			   /* frame bytes, over all parts */
	unsigned int nparts;
	unsigned int npages;
	/* the zstd dictionary it was compressed with: index into
	 * params[0][ZRAM_CODEC_ZSTD].dicts, + 1; 0: none */
	unsigned int dict;
	uint64_t gen; /* unique in the table's life, never 0 */
};

/* Figures for stats.json. */
struct group_stats {
	uint64_t entries;    /* live frames */
	uint64_t meta_bytes; /* memory of the table itself */
};

/* group_table_create - an empty table. Returns 0 and *@out, or -ENOMEM. */
int group_table_create(struct zram_group **out);

/* group_table_destroy - free the table (not the pool objects). NULL: no-op. */
void group_table_destroy(struct zram_group *g);

/*
 * group_insert - a new entry for the frame @f (handles, nparts, size,
 * npages, dict; gen is given here) with one reference. Returns 0 and *@id,
 * -ENOSPC (2^32 - 1 entries live), -ENOMEM.
 * Locking: takes the table lock (a leaf).
 */
int group_insert(struct zram_group *g, const struct group_frame *f,
		 uint32_t *id);

/* group_get - one more reference to @id; the caller holds one. */
void group_get(struct zram_group *g, uint32_t id);

/*
 * group_put - drop one reference to @id. Returns true if it was the last:
 * the entry is gone and *@f holds its frame, whose objects the caller
 * frees. Locking: the table lock on the last put only.
 */
bool group_put(struct zram_group *g, uint32_t id, struct group_frame *f);

/* group_frame_get - @id's frame into *@f. Caller holds a reference. */
void group_frame_get(const struct zram_group *g, uint32_t id,
		     struct group_frame *f);

/* group_refs - @id's reference count now (tests: a hint). */
uint32_t group_refs(struct zram_group *g, uint32_t id);

void group_stats_get(struct zram_group *g, struct group_stats *s);

#endif
