/*
 * dedup.h - the deduplication index (private to src/zram).
 *
 * Maps the content hash of an uncompressed 4 KiB page to a refcounted entry
 * that names one pool object: the store keeps each distinct page once and
 * every slot holding that content refers to the same entry. The index never
 * looks at page data and never calls the allocator or a codec: the caller
 * compares candidates byte for byte (see io.c) and frees the pool object the
 * last dedup_put() hands back. So a hash collision can only cost a compare,
 * never return another page's data.
 *
 * An entry's hash is immutable while it lives. Its object (handle and meta
 * word) is too, except for dedup_rewrite(): a background pass that
 * recompresses the object (a new dictionary, a secondary codec) or moves
 * it into a grouped frame (the handle then names a frame's member, the
 * caller's business: slot_content.h) does it once for all sharers, in
 * place. So whoever uses the object reads both
 * between dedup_obj_begin() and dedup_obj_end() (a read lock a rewrite
 * only ever tries). A page whose content changes gets a new entry; the old
 * one stays for its other sharers (copy-on-write by construction).
 *
 * Ids are 32-bit, stable for the entry's life, and reused after its last
 * reference goes. Functions return 0 or -errno as the rest of the store.
 */
#ifndef UZRAM_ZRAM_DEDUP_H
#define UZRAM_ZRAM_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

struct zram_dedup;

/* Most candidates one lookup returns (each costs the caller a compare). */
#define DEDUP_CANDIDATES 4u

/* Figures for stats.json. */
struct dedup_stats {
	uint64_t entries;    /* distinct objects in the index */
	uint64_t refs;	     /* references to them (slots + in-flight) */
	uint64_t meta_bytes; /* memory of the index itself */
};

/*
 * dedup_create - an empty index for at most @max_entries live entries.
 * Its memory grows with the entries, not with @max_entries.
 * Returns 0 and *@out, -EINVAL (0 or more than 2^32 - 2 entries), -ENOMEM.
 */
int dedup_create(uint64_t max_entries, struct zram_dedup **out);

/* dedup_destroy - free the index (not the pool objects). NULL: no-op. */
void dedup_destroy(struct zram_dedup *d);

/* dedup_hash - the content hash of one page (XXH3 64-bit). */
uint64_t dedup_hash(const struct zram_dedup *d, const void *page);

/*
 * dedup_lookup - entries whose hash matches @hash, at most @max
 * (<= DEDUP_CANDIDATES), newest first. Each returned id carries one new
 * reference, which the caller keeps (the page is shared) or drops with
 * dedup_put(). Returns the number of ids written to @ids.
 * Locking: takes one stripe lock, released on return.
 */
unsigned int dedup_lookup(struct zram_dedup *d, uint64_t hash, uint32_t *ids,
			  unsigned int max);

/*
 * dedup_insert - a new entry for the pool object @handle (content hash
 * @hash; @meta is the caller's description, returned by dedup_meta()) with
 * one reference. Returns 0 and *@id, -ENOSPC if @max_entries are live,
 * -ENOMEM.
 * Locking: one stripe lock, then ids_lock (a new id), and, once the entries
 * outnumber the buckets, every stripe lock in turn (the index doubles).
 */
int dedup_insert(struct zram_dedup *d, uint64_t hash, uint64_t handle,
		 uint32_t meta, uint32_t *id);

/*
 * dedup_get - one more reference to @id; the caller already holds one
 * (directly or through a slot it has locked).
 */
void dedup_get(struct zram_dedup *d, uint32_t id);

/*
 * dedup_put - drop one reference to @id. Returns true if it was the last:
 * the entry is gone and *@handle is its pool object, which the caller frees.
 * Locking: takes one stripe lock, then ids_lock.
 */
bool dedup_put(struct zram_dedup *d, uint32_t id, uint64_t *handle);

/*
 * dedup_put_obj - as dedup_put(), and the last one also gives the entry's
 * meta word in *@meta (may be NULL): the one that goes with *@handle.
 */
bool dedup_put_obj(struct zram_dedup *d, uint32_t id, uint64_t *handle,
		   uint32_t *meta);

/*
 * dedup_take_sole - if the caller's reference is the only one, take the
 * entry out of the index (its id is free after) and give its pool object
 * in *@handle, its meta word in *@meta: the caller now owns the object as a
 * plain one. Returns
 * false (nothing changed) while anyone else holds a reference.
 * Locking: takes one stripe lock (then ids_lock).
 */
bool dedup_take_sole(struct zram_dedup *d, uint32_t id, uint64_t *handle,
		     uint32_t *meta);

/*
 * dedup_obj_begin - the entry's pool object and meta word, held still until
 * dedup_obj_end(): no rewrite swaps them meanwhile. The caller holds a
 * reference. Locking: a read lock of the entry (may be held while the
 * caller sleeps; never take a second one in between).
 */
void dedup_obj_begin(const struct zram_dedup *d, uint32_t id, uint64_t *handle,
		     uint32_t *meta);
void dedup_obj_end(const struct zram_dedup *d, uint32_t id);

/*
 * dedup_rewrite - give entry @id the new pool object @handle described by
 * @meta, for every sharer at once; the old ones come back in *@old_handle
 * and *@old_meta (the caller frees that object: no reader can see it any
 * more). The content must be the same page. Returns 0, or -EBUSY if a
 * reader holds the entry (nothing changed; try again later). The caller
 * holds a reference. Locking: tries the entry's write lock, never waits.
 */
int dedup_rewrite(struct zram_dedup *d, uint32_t id, uint64_t handle,
		  uint32_t meta, uint64_t *old_handle, uint32_t *old_meta);

/* The entry's pool object and meta word now (each read under the entry's
 * lock; use dedup_obj_begin() for a pair that holds). Caller holds a
 * reference. */
uint64_t dedup_handle(const struct zram_dedup *d, uint32_t id);
uint32_t dedup_meta(const struct zram_dedup *d, uint32_t id);

/*
 * dedup_key - what the index keeps of @id's content hash, as a value that
 * dedup_insert() files exactly where the entry is (a snapshot saves it and
 * a restore inserts with it: the restored index finds the same pages
 * without hashing them again). Caller holds a reference.
 */
uint32_t dedup_key(const struct zram_dedup *d, uint32_t id);

/* dedup_refs - @id's reference count now (tests and stats: a hint). */
uint32_t dedup_refs(struct zram_dedup *d, uint32_t id);

void dedup_stats_get(struct zram_dedup *d, struct dedup_stats *s);

#ifdef UZRAM_TEST_HOOKS
/* Make every page hash to @value (forced collisions), or XXH3 again if
 * @on is false. Only while no other thread uses the index. */
void dedup_debug_const_hash(struct zram_dedup *d, bool on, uint64_t value);
#endif

#endif
