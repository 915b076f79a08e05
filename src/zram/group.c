/*
 * group.c - the table of grouped frames: id -> refcounted frame (group.h).
 *
 * Data structure: entries in chunks of CHUNK_ENTRIES, made on demand and
 * kept until the table is destroyed; a directory of chunk pointers for
 * every possible id lives in one NORESERVE mapping (32 MiB of address
 * space, untouched pages cost nothing). An entry is 40 bytes: the frame's
 * first pool object, the others (a malloc'ed array, only for a frame longer
 * than one part), the generation, the frame's size, its page and part
 * counts, its dictionary, the reference count and a free-list link. At 4 pages a frame that
 * is 10 bytes of table per grouped page (plus 8 per extra part).
 *
 * Lock order: the table lock is a leaf (taken under a slot lock, never
 * with another lock of this file).
 *   lock   mutex; guards the free list, the high-water mark and chunk
 *          creation. Taken by group_insert() (the policy pass) and by the
 *          last group_put() of an entry, never by a reader.
 * Reference counts are atomics. A count only rises by a holder of a
 * reference (group_get), so it never rises from 0: the put that takes it
 * to 0 owns the entry and frees it; nothing looks entries up by content,
 * so there is nothing to revive. Fields other than refs and next are
 * written before the id is handed out and published to other threads by
 * the slot lock of the member the id is installed in (release on unlock,
 * acquire on lock).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "group.h"

#define CHUNK_SHIFT 10u
#define CHUNK_ENTRIES (1u << CHUNK_SHIFT)
#define GROUP_MAX_ENTRIES (UINT32_MAX - 1ull)
#define DIR_ENTRIES ((GROUP_MAX_ENTRIES >> CHUNK_SHIFT) + 1)

struct group_entry {
	uint64_t handle; /* part 0; immutable while refs > 0 */
	uint64_t *more;	 /* parts 1..nparts-1, or NULL; immutable */
	uint64_t gen;	 /* immutable while refs > 0 */
	uint32_t size;	 /* frame bytes; immutable while refs > 0 */
	_Atomic uint32_t refs;
	uint8_t npages, nparts; /* immutable while refs > 0 */
	uint8_t dict;		/* index + 1 or 0; immutable while refs > 0 */
	uint32_t next;		/* free list (lock), id + 1 */
};

_Static_assert(sizeof(struct group_entry) == 40, "group entry is 40 bytes");
_Static_assert(GROUP_PAGES_MAX <= UINT8_MAX && GROUP_PARTS_MAX <= UINT8_MAX,
	       "counts fit a byte");

struct zram_group {
	pthread_mutex_t lock;
	uint32_t free_head;  /* id + 1 of a free entry; protected by lock */
	uint64_t high_water; /* ids ever handed out; protected by lock */
	/* chunk k holds ids k * CHUNK_ENTRIES ...; a pointer is written
	 * once, under lock, before any id in it is handed out */
	struct group_entry **dir;
	size_t dir_bytes;
	_Atomic uint64_t chunks_made;
	_Atomic uint64_t entries;
	_Atomic uint64_t gen; /* last generation given */
	_Atomic uint64_t more_bytes;
};

static struct group_entry *entry_of(const struct zram_group *g, uint32_t id)
{
	return &g->dir[id >> CHUNK_SHIFT][id & (CHUNK_ENTRIES - 1)];
}

int group_table_create(struct zram_group **out)
{
	struct zram_group *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->dir_bytes = DIR_ENTRIES * sizeof(*g->dir);
	g->dir = mmap(NULL, g->dir_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->dir == MAP_FAILED) {
		free(g);
		return -ENOMEM;
	}
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void group_table_destroy(struct zram_group *g)
{
	uint64_t k;

	if (!g)
		return;
	for (k = 0; k * CHUNK_ENTRIES < g->high_water; k++) {
		uint32_t i;

		for (i = 0; i < CHUNK_ENTRIES; i++)
			free(g->dir[k][i].more); /* only live entries */
		free(g->dir[k]);
	}
	munmap(g->dir, g->dir_bytes);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* A free id: the free list, else a new one. Locking: lock held. */
static int id_alloc(struct zram_group *g, uint32_t *id)
{
	uint64_t next = g->high_water;
	struct group_entry **chunk;

	if (g->free_head) {
		*id = g->free_head - 1;
		g->free_head = entry_of(g, *id)->next;
		return 0;
	}
	if (next >= GROUP_MAX_ENTRIES)
		return -ENOSPC;
	chunk = &g->dir[next >> CHUNK_SHIFT];
	if (!*chunk) {
		*chunk = calloc(CHUNK_ENTRIES, sizeof(struct group_entry));
		if (!*chunk)
			return -ENOMEM;
		atomic_fetch_add_explicit(&g->chunks_made, 1,
					  memory_order_relaxed);
	}
	g->high_water = next + 1;
	*id = (uint32_t)next;
	return 0;
}

int group_insert(struct zram_group *g, const struct group_frame *f,
		 uint32_t *id)
{
	uint64_t *more = NULL;
	struct group_entry *e;
	size_t more_bytes = 0;
	int err;

	if (!f->nparts || f->nparts > GROUP_PARTS_MAX ||
	    f->npages > GROUP_PAGES_MAX || f->dict > UINT8_MAX)
		return -EINVAL;
	if (f->nparts > 1) {
		more_bytes = (f->nparts - 1) * sizeof(*more);
		more = malloc(more_bytes);
		if (!more)
			return -ENOMEM;
		memcpy(more, f->handles + 1, more_bytes);
	}
	pthread_mutex_lock(&g->lock);
	err = id_alloc(g, id);
	pthread_mutex_unlock(&g->lock);
	if (err) {
		free(more);
		return err;
	}
	e = entry_of(g, *id);
	e->handle = f->handles[0];
	e->more = more;
	e->gen =
		atomic_fetch_add_explicit(&g->gen, 1, memory_order_relaxed) + 1;
	e->size = f->size;
	e->npages = (uint8_t)f->npages;
	e->nparts = (uint8_t)f->nparts;
	e->dict = (uint8_t)f->dict;
	atomic_store_explicit(&e->refs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&g->entries, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&g->more_bytes, more_bytes,
				  memory_order_relaxed);
	return 0;
}

void group_get(struct zram_group *g, uint32_t id)
{
	atomic_fetch_add_explicit(&entry_of(g, id)->refs, 1,
				  memory_order_relaxed);
}

void group_frame_get(const struct zram_group *g, uint32_t id,
		     struct group_frame *f)
{
	const struct group_entry *e = entry_of(g, id);
	unsigned int i;

	f->handles[0] = e->handle;
	for (i = 1; i < e->nparts; i++)
		f->handles[i] = e->more[i - 1];
	f->size = e->size;
	f->nparts = e->nparts;
	f->npages = e->npages;
	f->dict = e->dict;
	f->gen = e->gen;
}

bool group_put(struct zram_group *g, uint32_t id, struct group_frame *f)
{
	struct group_entry *e = entry_of(g, id);

	/* acq_rel: the freeing put sees every holder's use of the entry */
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) > 1)
		return false;
	group_frame_get(g, id, f);
	free(e->more);
	atomic_fetch_sub_explicit(&g->more_bytes,
				  e->more ? (e->nparts - 1) * sizeof(uint64_t)
					  : 0,
				  memory_order_relaxed);
	e->more = NULL;
	e->gen = 0;
	pthread_mutex_lock(&g->lock);
	e->next = g->free_head;
	g->free_head = id + 1;
	pthread_mutex_unlock(&g->lock);
	atomic_fetch_sub_explicit(&g->entries, 1, memory_order_relaxed);
	return true;
}

uint32_t group_refs(struct zram_group *g, uint32_t id)
{
	return atomic_load_explicit(&entry_of(g, id)->refs,
				    memory_order_relaxed);
}

void group_stats_get(struct zram_group *g, struct group_stats *s)
{
	s->entries = atomic_load_explicit(&g->entries, memory_order_relaxed);
	s->meta_bytes =
		sizeof(*g) +
		atomic_load_explicit(&g->chunks_made, memory_order_relaxed) *
			(CHUNK_ENTRIES * sizeof(struct group_entry) +
			 sizeof(*g->dir)) +
		atomic_load_explicit(&g->more_bytes, memory_order_relaxed);
}
