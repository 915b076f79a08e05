/*
 * dedup.c - the deduplication index: content hash -> refcounted entry.
 *
 * Data structure: a chained hash table that grows with the number of
 * entries, not with the disk: the bucket array holds one 32-bit link per
 * bucket (entry id + 1, so 0 is "none") and is doubled, and every chain
 * rehashed, when the entries outnumber the buckets (load factor at most 1,
 * so a lookup walks about one entry). Entries live in chunks of
 * CHUNK_ENTRIES, made on demand and kept until the index is destroyed, and
 * are chained through their `next` link. An entry is 24 bytes: pool handle,
 * 32 bits of hash, the caller's meta word (the slot flags of the object),
 * its reference count and its link; with the buckets, the index costs
 * 28..32 bytes per distinct page plus the last chunk (dedup_meta_size in
 * stats.json; docs/store.md), whatever the disk's size. (It used to size
 * its buckets by the disk: a 16 TiB disk's random bucket writes faulted in
 * a page of buckets per distinct page, 530 MB for 256 MiB of data.)
 *
 * Only 32 bits of the hash are kept: the bucket is their low bits, the rest
 * filter the chain. A false candidate costs the caller one compare, which it
 * must make anyway, since equal 64-bit hashes do not prove equal pages. The
 * stripe of a hash is its low 6 bits, and the bucket array never has fewer
 * than STRIPES buckets, so a hash keeps its stripe across a resize.
 *
 * Lock order: stripe locks (one at a time, or all in ascending order for a
 * resize) -> ids_lock.
 *   stripe[s]  mutex; guards the chains of buckets b with b % STRIPES == s:
 *              the bucket words, the `next` links of the entries on them,
 *              a count's drop to 0 (the entry leaves its chain at once),
 *              and the stripe's short list of free ids. Holding any one
 *              stripe lock is enough to read `buckets` and `nbuckets`; a
 *              resize holds all of them.
 *   ids_lock   mutex, a leaf; guards the high-water mark, chunk creation
 *              and the shared free list: a stripe keeps at most
 *              FREE_LOCAL ids of its own and hands the rest to the shared
 *              list, so ids freed in one stripe are reused by the others.
 *   obj_lock[i] rwlock, never held with the locks above; guards the
 *              handle and meta word of the entries with id % OBJ_LOCKS ==
 *              i: read-locked while a holder of a reference uses the
 *              object (it may sleep meanwhile), write-locked by
 *              dedup_rewrite(), which only ever tries. Once the last
 *              reference is gone nobody rewrites, so the last put reads
 *              them under the stripe lock alone.
 * Reference counts are atomics. A count rises under the stripe lock
 * (dedup_lookup) or without a lock by a holder of a reference (dedup_get),
 * and falls without a lock while it stays above 0; the last reference is
 * dropped under the stripe lock, so a lookup never revives a dying entry.
 * No lock is held while the caller compares pages or calls the allocator:
 * nothing in here blocks for long, except a resize, which rehashes every
 * entry once per doubling (amortised: one move per insert).
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
#define BUCKETS_MIN 1024u /* a power of two, >= STRIPES */
#define DEDUP_MAX_ENTRIES (UINT32_MAX - 1ull)
#define FREE_LOCAL 16u /* free ids a stripe keeps for itself */
#define PAGE_BYTES 4096u
#define OBJ_LOCKS 256u

struct dedup_entry {
	uint64_t handle; /* pool object; protected by its obj_lock */
	uint32_t hash32; /* immutable while refs > 0 */
	uint32_t meta;	 /* protected by its obj_lock */
	_Atomic uint32_t refs;
	uint32_t next; /* chain (stripe lock) or free list (ids_lock) */
};

_Static_assert(sizeof(struct dedup_entry) == 24, "dedup entry is 24 bytes");

struct zram_dedup {
	/* protected by the stripes: any one to read, all to change */
	uint32_t *buckets;
	uint64_t nbuckets; /* a power of two, >= BUCKETS_MIN */
	/* bytes of the current array, for stats (read without a lock) */
	_Atomic uint64_t buckets_bytes;
	_Atomic bool resizing; /* one resize at a time; others go on */
	pthread_mutex_t stripe[STRIPES];
	/* an entry's handle and meta word: read-locked by whoever uses the
	 * object (decode, compare), write-locked (try only) by a rewrite */
	pthread_rwlock_t obj_lock[OBJ_LOCKS];
	uint32_t free_head[STRIPES]; /* id + 1 of a free entry, per stripe */
	uint32_t free_count[STRIPES];

	pthread_mutex_t ids_lock;
	uint64_t high_water;  /* ids ever handed out; protected by ids_lock */
	uint32_t free_shared; /* id + 1; protected by ids_lock */
	uint64_t max_entries;
	uint64_t nchunks;
	/* chunk k holds ids k * CHUNK_ENTRIES ...; a slot is written once,
	 * under ids_lock, before any id in it is handed out. Mapped for all
	 * of max_entries (untouched pages cost nothing); the first
	 * chunks_made are used. */
	struct dedup_entry **chunks;
	size_t chunks_bytes;
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

/* Locking: a stripe lock held (nbuckets changes under all of them). */
static uint64_t bucket_of(const struct zram_dedup *d, uint32_t hash32)
{
	return hash32 & (d->nbuckets - 1);
}

/* A hash's stripe: the same for every size of the bucket array. */
static unsigned int stripe_no(uint32_t hash32)
{
	return hash32 % STRIPES;
}

static pthread_mutex_t *stripe_of(struct zram_dedup *d, uint32_t hash32)
{
	return &d->stripe[stripe_no(hash32)];
}

static pthread_rwlock_t *obj_lock_of(const struct zram_dedup *d, uint32_t id)
{
	return (pthread_rwlock_t *)&d->obj_lock[id % OBJ_LOCKS];
}

/* Zeroed memory straight from the OS, so a free gives it back at once
 * (glibc keeps large freed blocks in its heap once its mmap threshold
 * grew). NULL on failure. */
static void *map_zeroed(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void map_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
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
	d->chunks_bytes = d->nchunks * sizeof(*d->chunks);
	d->chunks = map_zeroed(d->chunks_bytes);
	d->nbuckets = BUCKETS_MIN;
	d->buckets_bytes = d->nbuckets * sizeof(*d->buckets);
	d->buckets = map_zeroed(d->buckets_bytes);
	if (!d->chunks || !d->buckets) {
		map_free(d->buckets, d->buckets_bytes);
		map_free(d->chunks, d->chunks_bytes);
		free(d);
		return -ENOMEM;
	}
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_init(&d->stripe[i], NULL);
	for (i = 0; i < OBJ_LOCKS; i++)
		pthread_rwlock_init(&d->obj_lock[i], NULL);
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
	/* chunks are made in id order: the first chunks_made exist */
	for (k = 0; k < atomic_load(&d->chunks_made); k++)
		free(d->chunks[k]);
	map_free(d->chunks, d->chunks_bytes);
	map_free(d->buckets, d->buckets_bytes);
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&d->stripe[i]);
	for (i = 0; i < OBJ_LOCKS; i++)
		pthread_rwlock_destroy(&d->obj_lock[i]);
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
 * A free id for stripe @st: its own free list, else the shared one, else a
 * new one (its entry's chunk made if needed). Locking: stripe @st held;
 * takes ids_lock if the stripe's list is empty.
 */
static int id_alloc(struct zram_dedup *d, unsigned int st, uint32_t *id)
{
	uint64_t next;
	int err = 0;

	if (d->free_head[st]) {
		*id = d->free_head[st] - 1;
		d->free_head[st] = entry_of(d, *id)->next;
		d->free_count[st]--;
		return 0;
	}
	pthread_mutex_lock(&d->ids_lock);
	if (d->free_shared) {
		*id = d->free_shared - 1;
		d->free_shared = entry_of(d, *id)->next;
		goto out_unlock;
	}
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

/*
 * Give @id back: to stripe @st's list while it is short, else to the
 * shared list, so a stripe that frees more than it inserts does not keep
 * ids the others need. Locking: stripe @st held; may take ids_lock.
 */
static void id_free(struct zram_dedup *d, unsigned int st, uint32_t id)
{
	if (d->free_count[st] < FREE_LOCAL) {
		entry_of(d, id)->next = d->free_head[st];
		d->free_head[st] = id + 1;
		d->free_count[st]++;
		return;
	}
	pthread_mutex_lock(&d->ids_lock);
	entry_of(d, id)->next = d->free_shared;
	d->free_shared = id + 1;
	pthread_mutex_unlock(&d->ids_lock);
}

/* Move every chain of @old (@n buckets) into @nb (@nn, zeroed).
 * Locking: all stripe locks held. */
static void chains_rehash(struct zram_dedup *d, const uint32_t *old, uint64_t n,
			  uint32_t *nb, uint64_t nn)
{
	uint64_t b, to;
	uint32_t link, next;

	for (b = 0; b < n; b++) {
		for (link = old[b]; link; link = next) {
			struct dedup_entry *e = entry_of(d, link - 1);

			next = e->next;
			to = e->hash32 & (nn - 1);
			e->next = nb[to];
			nb[to] = link;
		}
	}
}

/*
 * Double the buckets if the entries outnumber them. One thread resizes at
 * a time (the others go on with the old array, a little fuller); it takes
 * every stripe lock in ascending order, so lookups and inserts wait for
 * one rehash. Locking: no stripe lock held; takes them all.
 */
static void buckets_grow(struct zram_dedup *d)
{
	uint32_t *nb, *old;
	uint64_t n, nn;
	size_t old_bytes;
	unsigned int i;

	if (atomic_exchange_explicit(&d->resizing, true, memory_order_acquire))
		return;
	for (i = 0; i < STRIPES; i++)
		pthread_mutex_lock(&d->stripe[i]);
	n = d->nbuckets;
	nn = n * 2;
	old = d->buckets;
	old_bytes =
		atomic_load_explicit(&d->buckets_bytes, memory_order_relaxed);
	nb = NULL;
	if (atomic_load_explicit(&d->entries, memory_order_relaxed) > n &&
	    n < d->max_entries)
		nb = map_zeroed(nn * sizeof(*nb));
	if (nb) {
		chains_rehash(d, old, n, nb, nn);
		d->buckets = nb;
		d->nbuckets = nn;
		atomic_store_explicit(&d->buckets_bytes, nn * sizeof(*nb),
				      memory_order_relaxed);
	}
	for (i = STRIPES; i-- > 0;)
		pthread_mutex_unlock(&d->stripe[i]);
	if (nb) /* no stripe lock held: nobody can see the old array */
		map_free(old, old_bytes);
	atomic_store_explicit(&d->resizing, false, memory_order_release);
}

unsigned int dedup_lookup(struct zram_dedup *d, uint64_t hash, uint32_t *ids,
			  unsigned int max)
{
	uint32_t h32 = hash32_of(hash);
	pthread_mutex_t *lock = stripe_of(d, h32);
	unsigned int n = 0;
	uint32_t link;

	pthread_mutex_lock(lock);
	for (link = d->buckets[bucket_of(d, h32)]; link && n < max;) {
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
	pthread_mutex_t *lock = stripe_of(d, h32);
	struct dedup_entry *e;
	uint64_t b, n;
	bool grow;
	int err;

	pthread_mutex_lock(lock);
	b = bucket_of(d, h32);
	err = id_alloc(d, stripe_no(h32), id);
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
	n = atomic_fetch_add_explicit(&d->entries, 1, memory_order_relaxed) + 1;
	grow = n > d->nbuckets; /* read under the stripe lock */
	pthread_mutex_unlock(lock);
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	if (grow)
		buckets_grow(d);
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

bool dedup_put_obj(struct zram_dedup *d, uint32_t id, uint64_t *handle,
		   uint32_t *meta)
{
	struct dedup_entry *e = entry_of(d, id);
	uint32_t refs = atomic_load_explicit(&e->refs, memory_order_relaxed);
	pthread_mutex_t *lock;

	atomic_fetch_sub_explicit(&d->refs, 1, memory_order_relaxed);
	/* not the last: no lock needed (see the rules at the top) */
	while (refs > 1)
		if (atomic_compare_exchange_weak_explicit(
			    &e->refs, &refs, refs - 1, memory_order_release,
			    memory_order_relaxed))
			return false;
	lock = stripe_of(d, e->hash32);
	pthread_mutex_lock(lock);
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) > 1) {
		/* a lookup took a reference meanwhile */
		pthread_mutex_unlock(lock);
		return false;
	}
	chain_unlink(d, bucket_of(d, e->hash32), id);
	/* nobody else holds a reference: a rewrite is over */
	*handle = e->handle;
	if (meta)
		*meta = e->meta;
	id_free(d, stripe_no(e->hash32), id);
	atomic_fetch_sub_explicit(&d->entries, 1, memory_order_relaxed);
	pthread_mutex_unlock(lock);
	return true;
}

bool dedup_put(struct zram_dedup *d, uint32_t id, uint64_t *handle)
{
	return dedup_put_obj(d, id, handle, NULL);
}

bool dedup_take_sole(struct zram_dedup *d, uint32_t id, uint64_t *handle,
		     uint32_t *meta)
{
	struct dedup_entry *e = entry_of(d, id);
	pthread_mutex_t *lock = stripe_of(d, e->hash32);
	uint32_t one = 1;

	pthread_mutex_lock(lock);
	/* lookups raise a count only under this lock: 1 stays 1 */
	if (!atomic_compare_exchange_strong_explicit(&e->refs, &one, 0,
						     memory_order_acq_rel,
						     memory_order_relaxed)) {
		pthread_mutex_unlock(lock);
		return false;
	}
	chain_unlink(d, bucket_of(d, e->hash32), id);
	*handle = e->handle;
	*meta = e->meta;
	id_free(d, stripe_no(e->hash32), id);
	atomic_fetch_sub_explicit(&d->entries, 1, memory_order_relaxed);
	pthread_mutex_unlock(lock);
	atomic_fetch_sub_explicit(&d->refs, 1, memory_order_relaxed);
	return true;
}

void dedup_obj_begin(const struct zram_dedup *d, uint32_t id, uint64_t *handle,
		     uint32_t *meta)
{
	const struct dedup_entry *e = entry_of(d, id);

	pthread_rwlock_rdlock(obj_lock_of(d, id));
	*handle = e->handle;
	*meta = e->meta;
}

void dedup_obj_end(const struct zram_dedup *d, uint32_t id)
{
	pthread_rwlock_unlock(obj_lock_of(d, id));
}

int dedup_rewrite(struct zram_dedup *d, uint32_t id, uint64_t handle,
		  uint32_t meta, uint64_t *old_handle, uint32_t *old_meta)
{
	struct dedup_entry *e = entry_of(d, id);

	/* a writer never waits for a reader (as compaction) */
	if (pthread_rwlock_trywrlock(obj_lock_of(d, id)))
		return -EBUSY;
	*old_handle = e->handle;
	*old_meta = e->meta;
	e->handle = handle;
	e->meta = meta;
	pthread_rwlock_unlock(obj_lock_of(d, id));
	return 0;
}

uint64_t dedup_handle(const struct zram_dedup *d, uint32_t id)
{
	uint64_t h;
	uint32_t m;

	dedup_obj_begin(d, id, &h, &m);
	dedup_obj_end(d, id);
	return h;
}

uint32_t dedup_meta(const struct zram_dedup *d, uint32_t id)
{
	uint64_t h;
	uint32_t m;

	dedup_obj_begin(d, id, &h, &m);
	dedup_obj_end(d, id);
	return m;
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

/* Bytes of @n touched from the start of a mapping, in whole pages. */
static uint64_t pages_of(uint64_t n)
{
	return (n + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
}

void dedup_stats_get(struct zram_dedup *d, struct dedup_stats *s)
{
	uint64_t made =
		atomic_load_explicit(&d->chunks_made, memory_order_relaxed);

	s->entries = atomic_load_explicit(&d->entries, memory_order_relaxed);
	s->refs = atomic_load_explicit(&d->refs, memory_order_relaxed);
	/* what is resident: the chunk table is written from its start */
	s->meta_bytes =
		sizeof(*d) +
		atomic_load_explicit(&d->buckets_bytes, memory_order_relaxed) +
		pages_of(made * sizeof(*d->chunks)) +
		made * CHUNK_ENTRIES * sizeof(struct dedup_entry);
}

#ifdef UZRAM_TEST_HOOKS
void dedup_debug_const_hash(struct zram_dedup *d, bool on, uint64_t value)
{
	d->const_hash = on;
	d->const_value = value;
}
#endif
