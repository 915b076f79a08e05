/*
 * dedup.c - the deduplication index: content hash -> refcounted entry.
 *
 * Data structure: a chained hash table. The bucket array holds one 32-bit
 * link per bucket (entry id + 1, so 0 is "none" and an untouched bucket page
 * of the NORESERVE mapping costs nothing); entries live in chunks of
 * CHUNK_ENTRIES, made on demand and kept until the index is destroyed, and
 * are chained through their `next` link. An entry is 24 bytes: pool handle,
 * 32 bits of hash, the caller's meta word (the slot flags of the object),
 * its reference count and its link. With buckets at half the entries' bound
 * the index costs about 24 + 4..8 bytes per distinct page (dedup_meta_size in
 * stats.json; docs/store.md).
 *
 * Only 32 bits of the hash are kept: the bucket is their low bits, the rest
 * filter the chain. A false candidate costs the caller one compare, which it
 * must make anyway, since equal 64-bit hashes do not prove equal pages.
 *
 * Lock order: stripe lock (one at a time) -> ids_lock.
 *   stripe[s]  mutex; guards the chains of buckets b with b % STRIPES == s:
 *              the bucket words, the `next` links of the entries on them,
 *              a count's drop to 0 (the entry leaves its chain at once),
 *              and the stripe's list of free ids (freed entries go back to
 *              the stripe they were on, and inserts there reuse them), so
 *              a write that replaces a page takes no lock shared by all.
 *   ids_lock   mutex, a leaf; guards the high-water mark and chunk
 *              creation: only taken when a stripe has no free id.
 * Reference counts are atomics. A count rises under the stripe lock
 * (dedup_lookup) or without a lock by a holder of a reference (dedup_get),
 * and falls without a lock while it stays above 0; the last reference is
 * dropped under the stripe lock, so a lookup never revives a dying entry.
 * No lock is held while the caller compares pages or calls the allocator:
 * nothing in here blocks for long.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "dedup.h"

#define STRIPES 64u
#define CHUNK_SHIFT 10u
#define CHUNK_ENTRIES (1u << CHUNK_SHIFT)
#define BUCKETS_MIN 1024u
#define DEDUP_MAX_ENTRIES (UINT32_MAX - 1ull)

struct dedup_entry {
	uint64_t handle; /* pool object; immutable while refs > 0 */
	uint32_t hash32; /* immutable while refs > 0 */
	uint32_t meta;	 /* immutable while refs > 0 */
	_Atomic uint32_t refs;
	uint32_t next; /* chain (stripe lock) or free list (ids_lock) */
};

_Static_assert(sizeof(struct dedup_entry) == 24, "dedup entry is 24 bytes");

struct zram_dedup {
	uint32_t *buckets; /* protected by the stripes */
	uint64_t nbuckets; /* a power of two */
	size_t buckets_bytes;
	pthread_mutex_t stripe[STRIPES];
	uint32_t free_head[STRIPES]; /* id + 1 of a free entry, per stripe */

	pthread_mutex_t ids_lock;
	uint64_t high_water; /* ids ever handed out; protected by ids_lock */
	uint64_t max_entries;
	uint64_t nchunks;
	/* chunk k holds ids k * CHUNK_ENTRIES ...; a slot is written once,
	 * under ids_lock, before any id in it is handed out */
	struct dedup_entry **chunks;
	_Atomic uint64_t chunks_made;

	_Atomic uint64_t entries;
	_Atomic uint64_t refs;
#ifdef UZRAM_TEST_HOOKS
	bool const_hash;
	uint64_t const_value;
#endif
};

static struct dedup_entry *entry_of(const struct zram_dedup *d, uint32_t id)
{
	return &d->chunks[id >> CHUNK_SHIFT][id & (CHUNK_ENTRIES - 1)];
}

static uint32_t hash32_of(uint64_t hash)
{
	return (uint32_t)(hash ^ (hash >> 32));
}

static uint64_t bucket_of(const struct zram_dedup *d, uint32_t hash32)
{
	return hash32 & (d->nbuckets - 1);
}

static pthread_mutex_t *stripe_of(struct zram_dedup *d, uint64_t bucket)
{
	return &d->stripe[bucket % STRIPES];
}

static unsigned int stripe_no(uint64_t bucket)
{
	return (unsigned int)(bucket % STRIPES);
}

int dedup_create(uint64_t max_entries, struct zram_dedup **out)
{
	struct zram_dedup *d;
	unsigned int i;

	if (!max_entries || max_entries > DEDUP_MAX_ENTRIES)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->max_entries = max_entries;
	d->nchunks = (max_entries + CHUNK_ENTRIES - 1) / CHUNK_ENTRIES;
	d->chunks = calloc(d->nchunks, sizeof(*d->chunks));
	d->nbuckets = BUCKETS_MIN;
	while (d->nbuckets < max_entries / 2)
		d->nbuckets *= 2;
	d->buckets_bytes = d->nbuckets * sizeof(*d->buckets);
	d->buckets = mmap(NULL, d->buckets_bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!d->chunks || d->buckets == MAP_FAILED) {
		if (d->buckets != MAP_FAILED)
			munmap(d->buckets, d->buckets_bytes);
		free(d->chunks);
		free(d);
		return -ENOMEM;
	}
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_init(&d->stripe[i], NULL);
	pthread_mutex_init(&d->ids_lock, NULL);
	*out = d;
	return 0;
}

void dedup_destroy(struct zram_dedup *d)
{
	uint64_t k;
	unsigned int i;

	if (!d)
		return;
	for (k = 0; k < d->nchunks; k++)
		free(d->chunks[k]);
	free(d->chunks);
	munmap(d->buckets, d->buckets_bytes);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&d->stripe[i]);
	pthread_mutex_destroy(&d->ids_lock);
	free(d);
}

uint64_t dedup_hash(const struct zram_dedup *d, const void *page)
{
#ifdef UZRAM_TEST_HOOKS
	if (d->const_hash)
		return d->const_value;
#else
	(void)d;
#endif
	return XXH3_64bits(page, 4096);
}

/*
 * A free id for stripe @st: its own free list, else a new one (its entry's
 * chunk made if needed). Locking: stripe @st held; takes ids_lock if the
 * list is empty.
 */
static int id_alloc(struct zram_dedup *d, unsigned int st, uint32_t *id)
{
	uint64_t next;
	int err = 0;

	if (d->free_head[st]) {
		*id = d->free_head[st] - 1;
		d->free_head[st] = entry_of(d, *id)->next;
		return 0;
	}
	pthread_mutex_lock(&d->ids_lock);
	next = d->high_water;
	if (next >= d->max_entries) {
		err = -ENOSPC;
		goto out_unlock;
	}
	if (!d->chunks[next >> CHUNK_SHIFT]) {
		d->chunks[next >> CHUNK_SHIFT] =
			calloc(CHUNK_ENTRIES, sizeof(struct dedup_entry));
		if (!d->chunks[next >> CHUNK_SHIFT]) {
			err = -ENOMEM;
			goto out_unlock;
		}
		atomic_fetch_add_explicit(&d->chunks_made, 1,
					  memory_order_relaxed);
	}
	d->high_water = next + 1;
	*id = (uint32_t)next;
out_unlock:
	pthread_mutex_unlock(&d->ids_lock);
	return err;
}

/* Locking: stripe @st held. */
static void id_free(struct zram_dedup *d, unsigned int st, uint32_t id)
{
	entry_of(d, id)->next = d->free_head[st];
	d->free_head[st] = id + 1;
}

unsigned int dedup_lookup(struct zram_dedup *d, uint64_t hash, uint32_t *ids,
			  unsigned int max)
{
	uint32_t h32 = hash32_of(hash);
	uint64_t b = bucket_of(d, h32);
	pthread_mutex_t *lock = stripe_of(d, b);
	unsigned int n = 0;
	uint32_t link;

	pthread_mutex_lock(lock);
	for (link = d->buckets[b]; link && n < max;) {
		struct dedup_entry *e = entry_of(d, link - 1);

		if (e->hash32 == h32) {
			atomic_fetch_add_explicit(&e->refs, 1,
						  memory_order_relaxed);
			ids[n++] = link - 1;
		}
		link = e->next;
	}
	pthread_mutex_unlock(lock);
	atomic_fetch_add_explicit(&d->refs, n, memory_order_relaxed);
	return n;
}

int dedup_insert(struct zram_dedup *d, uint64_t hash, uint64_t handle,
		 uint32_t meta, uint32_t *id)
{
	uint32_t h32 = hash32_of(hash);
	uint64_t b = bucket_of(d, h32);
	pthread_mutex_t *lock = stripe_of(d, b);
	struct dedup_entry *e;
	int err;

	pthread_mutex_lock(lock);
	err = id_alloc(d, stripe_no(b), id);
	if (err) {
		pthread_mutex_unlock(lock);
		return err;
	}
	e = entry_of(d, *id);
	e->handle = handle;
	e->hash32 = h32;
	e->meta = meta;
	atomic_store_explicit(&e->refs, 1, memory_order_relaxed);
	e->next = d->buckets[b];
	d->buckets[b] = *id + 1;
	pthread_mutex_unlock(lock);
	atomic_fetch_add_explicit(&d->entries, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	return 0;
}

void dedup_get(struct zram_dedup *d, uint32_t id)
{
	atomic_fetch_add_explicit(&entry_of(d, id)->refs, 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
}

/* Take @id off its chain. Locking: its stripe lock held. */
static void chain_unlink(struct zram_dedup *d, uint64_t b, uint32_t id)
{
	uint32_t *link = &d->buckets[b];

	while (*link != id + 1)
		link = &entry_of(d, *link - 1)->next;
	*link = entry_of(d, id)->next;
}

bool dedup_put(struct zram_dedup *d, uint32_t id, uint64_t *handle)
{
	struct dedup_entry *e = entry_of(d, id);
	uint32_t refs = atomic_load_explicit(&e->refs, memory_order_relaxed);
	uint64_t b;
	pthread_mutex_t *lock;

	atomic_fetch_sub_explicit(&d->refs, 1, memory_order_relaxed);
	/* not the last: no lock needed (see the rules at the top) */
	while (refs > 1)
		if (atomic_compare_exchange_weak_explicit(
			    &e->refs, &refs, refs - 1, memory_order_release,
			    memory_order_relaxed))
			return false;
	b = bucket_of(d, e->hash32);
	lock = stripe_of(d, b);
	pthread_mutex_lock(lock);
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) > 1) {
		/* a lookup took a reference meanwhile */
		pthread_mutex_unlock(lock);
		return false;
	}
	chain_unlink(d, b, id);
	*handle = e->handle;
	id_free(d, stripe_no(b), id);
	pthread_mutex_unlock(lock);
	atomic_fetch_sub_explicit(&d->entries, 1, memory_order_relaxed);
	return true;
}

uint64_t dedup_handle(const struct zram_dedup *d, uint32_t id)
{
	return entry_of(d, id)->handle;
}

uint32_t dedup_meta(const struct zram_dedup *d, uint32_t id)
{
	return entry_of(d, id)->meta;
}

/* hash32_of() of a value below 2^32 is the value itself */
uint32_t dedup_key(const struct zram_dedup *d, uint32_t id)
{
	return entry_of(d, id)->hash32;
}

uint32_t dedup_refs(struct zram_dedup *d, uint32_t id)
{
	return atomic_load_explicit(&entry_of(d, id)->refs,
				    memory_order_relaxed);
}

void dedup_stats_get(struct zram_dedup *d, struct dedup_stats *s)
{
	s->entries = atomic_load_explicit(&d->entries, memory_order_relaxed);
	s->refs = atomic_load_explicit(&d->refs, memory_order_relaxed);
	s->meta_bytes =
		sizeof(*d) + d->buckets_bytes +
		d->nchunks * sizeof(*d->chunks) +
		atomic_load_explicit(&d->chunks_made, memory_order_relaxed) *
			CHUNK_ENTRIES * sizeof(struct dedup_entry);
}

#ifdef UZRAM_TEST_HOOKS
void dedup_debug_const_hash(struct zram_dedup *d, bool on, uint64_t value)
{
	d->const_hash = on;
	d->const_value = value;
}
#endif
