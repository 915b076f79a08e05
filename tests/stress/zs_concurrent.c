/*
 * zs_concurrent.c - readers that hold mappings (and sleep inside them) while
 * writers allocate, write and free and a thread compacts in a loop.
 *
 * Every object is self-describing: a header (slot, version, size, checksum)
 * and a payload derived from (slot, version), so a reader that saw a torn or
 * moved-under-its-feet object, or another object's bytes, fails. Slots are
 * guarded by a per-slot mutex as zram guards its slot table: a reader holds
 * it across read_begin..read_end, a writer only to swap the handle.
 *
 * Phase 1 (deterministic): compaction skips a zspage a reader holds (the
 * object does not move while mapped) yet frees the zspages nobody holds.
 * Phase 2 (threads, seconds * harness_scale()): contents verified by every
 * read and at the end; compaction must have freed pages meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zsmalloc.h"

#define PAGE ZS_PAGE_SIZE
#define NR_SLOTS 4096
#define NR_READERS 2
#define NR_WRITERS 2

struct obj_header {
	uint32_t slot, version, size, csum;
};

struct slot {
	pthread_mutex_t lock;
	zs_handle_t handle; /* protected by lock */
};

struct ctx {
	struct zs_pool *pool;
	struct slot slots[NR_SLOTS];
	atomic_bool stop;
	atomic_ulong reads, writes, bad, compactions;
	atomic_ulong pages_compacted;
	uint64_t seed;
};

static uint32_t payload_fill(unsigned char *p, size_t len, uint32_t slot,
			     uint32_t version)
{
	uint64_t x = ((uint64_t)slot << 32 | version) * 0x9e3779b97f4a7c15ull;
	uint32_t csum = 0;

	for (size_t i = 0; i < len; i++) {
		x ^= x >> 13;
		x ^= x << 7;
		x ^= x >> 17;
		p[i] = (unsigned char)x;
		csum = csum * 31 + p[i];
	}
	return csum;
}

static size_t obj_make(unsigned char *buf, uint32_t slot, uint32_t version,
		       uint64_t r)
{
	struct obj_header h = {slot, version, 0, 0};
	size_t size;

	switch (r % 6) {
	case 0:
		size = sizeof(h) + (r >> 8) % 100;
		break;
	case 1:
		size = PAGE - (r >> 8) % 500;
		break;
	default:
		size = 300 + (r >> 8) % 2800;
	}
	h.size = (uint32_t)size;
	h.csum = payload_fill(buf + sizeof(h), size - sizeof(h), slot, version);
	memcpy(buf, &h, sizeof(h));
	return size;
}

/* Returns 1 if @p holds a whole, consistent object of slot @slot. */
static int obj_verify(const unsigned char *p, uint32_t slot)
{
	static _Thread_local unsigned char want[PAGE];
	struct obj_header h;

	memcpy(&h, p, sizeof(h));
	if (h.slot != slot || h.size < sizeof(h) || h.size > PAGE)
		return 0;
	if (payload_fill(want, h.size - sizeof(h), slot, h.version) != h.csum)
		return 0;
	return memcmp(p + sizeof(h), want, h.size - sizeof(h)) == 0;
}

static void *reader_main(void *arg)
{
	struct ctx *c = arg;
	unsigned char *local = malloc(PAGE);
	uint64_t rng = c->seed ^ (uintptr_t)&rng;

	while (!atomic_load(&c->stop)) {
		uint32_t i = (uint32_t)(harness_rand(&rng) % NR_SLOTS);
		struct slot *s = &c->slots[i];
		void *p;

		pthread_mutex_lock(&s->lock);
		if (s->handle) {
			p = zs_obj_read_begin(c->pool, s->handle, local);
			/* Hold the mapping a while, as a slow codec would. */
			if (harness_rand(&rng) % 16 == 0)
				usleep(200);
			else if (harness_rand(&rng) % 4 == 0)
				sched_yield();
			if (!obj_verify(p, i))
				atomic_fetch_add(&c->bad, 1);
			zs_obj_read_end(c->pool, s->handle, p);
			atomic_fetch_add(&c->reads, 1);
		}
		pthread_mutex_unlock(&s->lock);
	}
	free(local);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct ctx *c = arg;
	unsigned char *buf = malloc(PAGE);
	uint64_t rng = c->seed ^ (uintptr_t)&rng;
	uint32_t version = 0;

	while (!atomic_load(&c->stop)) {
		uint64_t r = harness_rand(&rng);
		uint32_t i = (uint32_t)(r % NR_SLOTS);
		struct slot *s = &c->slots[i];
		zs_handle_t h = 0, old;
		size_t size;

		if (r % 5 != 0) { /* store a new version */
			size = obj_make(buf, i, ++version, harness_rand(&rng));
			if (zs_malloc(c->pool, size, &h)) {
				atomic_fetch_add(&c->bad, 1);
				break;
			}
			zs_obj_write(c->pool, h, buf, size);
		}
		pthread_mutex_lock(&s->lock); /* else discard it */
		old = s->handle;
		s->handle = h;
		pthread_mutex_unlock(&s->lock);
		zs_free(c->pool, old);
		atomic_fetch_add(&c->writes, 1);
	}
	free(buf);
	return NULL;
}

static void *compactor_main(void *arg)
{
	struct ctx *c = arg;

	while (!atomic_load(&c->stop)) {
		atomic_fetch_add(&c->pages_compacted, zs_compact(c->pool));
		atomic_fetch_add(&c->compactions, 1);
		usleep(1000);
	}
	return NULL;
}

/* Phase 1: a held zspage is skipped, the others are compacted. */
static void test_held_zspage_skipped(void)
{
	static unsigned char local[PAGE];
	struct zs_pool *pool = zs_create_pool("held");
	struct zs_class_stats st;
	zs_handle_t h[3][256];
	int idx = zs_lookup_class_index(pool, 40);
	unsigned char *p, *q, buf[40];
	unsigned int z, i, keep[3] = {10, 200, 10};
	size_t pages, freed;

	REQUIRE(zs_class_stats_get(pool, idx, &st) == 0);
	REQUIRE(st.objs_per_zspage == 256);
	pages = st.pages_per_zspage;
	for (z = 0; z < 3; z++)
		for (i = 0; i < 256; i++) {
			REQUIRE(zs_malloc(pool, 40, &h[z][i]) == 0);
			memset(buf, (int)(z * 256 + i), sizeof(buf));
			zs_obj_write(pool, h[z][i], buf, sizeof(buf));
		}
	REQUIRE(zs_get_total_pages(pool) == 3 * pages);
	for (z = 0; z < 3; z++)
		for (i = keep[z]; i < 256; i++)
			zs_free(pool, h[z][i]);
	/* Map an object of zspage 0 and compact meanwhile. */
	p = zs_obj_read_begin(pool, h[0][0], local);
	freed = zs_compact(pool);
	CHECK_EQ(freed, pages); /* zspage 2 went into zspage 1 */
	q = zs_obj_read_begin(pool, h[0][0], local);
	CHECK(p == q); /* zspage 0 did not move under its reader */
	zs_obj_read_end(pool, h[0][0], q);
	zs_obj_read_end(pool, h[0][0], p);
	CHECK_EQ(zs_get_total_pages(pool), 2 * pages);
	/* Released, it is compacted too. */
	CHECK_EQ(zs_compact(pool), pages);
	CHECK_EQ(zs_get_total_pages(pool), pages);
	for (z = 0; z < 3; z++)
		for (i = 0; i < keep[z]; i++) {
			memset(buf, (int)(z * 256 + i), sizeof(buf));
			p = zs_obj_read_begin(pool, h[z][i], local);
			CHECK(memcmp(p, buf, sizeof(buf)) == 0);
			zs_obj_read_end(pool, h[z][i], p);
			zs_free(pool, h[z][i]);
		}
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);
}

static void run_threads(struct ctx *c, double seconds)
{
	pthread_t r[NR_READERS], w[NR_WRITERS], k;
	struct timespec ts = {(time_t)seconds,
			      (long)((seconds - (time_t)seconds) * 1e9)};
	int i;

	for (i = 0; i < NR_READERS; i++)
		REQUIRE(pthread_create(&r[i], NULL, reader_main, c) == 0);
	for (i = 0; i < NR_WRITERS; i++)
		REQUIRE(pthread_create(&w[i], NULL, writer_main, c) == 0);
	REQUIRE(pthread_create(&k, NULL, compactor_main, c) == 0);
	nanosleep(&ts, NULL);
	atomic_store(&c->stop, true);
	for (i = 0; i < NR_READERS; i++)
		pthread_join(r[i], NULL);
	for (i = 0; i < NR_WRITERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(k, NULL);
}

int main(void)
{
	static struct ctx c;
	static unsigned char local[PAGE];
	struct zs_pool_stats st;
	unsigned long final_bad = 0;
	int i;

	test_held_zspage_skipped();
	c.seed = harness_seed();
	c.pool = zs_create_pool("stress");
	REQUIRE(c.pool != NULL);
	for (i = 0; i < NR_SLOTS; i++)
		pthread_mutex_init(&c.slots[i].lock, NULL);
	run_threads(&c, 3.0 * harness_scale());
	zs_pool_stats(c.pool, &st);
	printf("reads %lu writes %lu compactions %lu pages_compacted %lu "
	       "pages %" PRIu64 " objs %" PRIu64 "\n",
	       atomic_load(&c.reads), atomic_load(&c.writes),
	       atomic_load(&c.compactions), atomic_load(&c.pages_compacted),
	       st.pages_allocated, st.objs_used);
	CHECK_EQ(atomic_load(&c.bad), 0);
	CHECK(atomic_load(&c.reads) > 0);
	CHECK(atomic_load(&c.writes) > 0);
	CHECK(atomic_load(&c.pages_compacted) > 0);
	CHECK_EQ(st.pages_compacted, atomic_load(&c.pages_compacted));
	for (i = 0; i < NR_SLOTS; i++) {
		void *p;

		if (!c.slots[i].handle)
			continue;
		p = zs_obj_read_begin(c.pool, c.slots[i].handle, local);
		final_bad += !obj_verify(p, (uint32_t)i);
		zs_obj_read_end(c.pool, c.slots[i].handle, p);
		zs_free(c.pool, c.slots[i].handle);
	}
	CHECK_EQ(final_bad, 0);
	zs_compact(c.pool);
	CHECK_EQ(zs_get_total_pages(c.pool), 0);
	zs_destroy_pool(c.pool);
	return harness_finish("zs_concurrent");
}
