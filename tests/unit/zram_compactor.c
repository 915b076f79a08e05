/*
 * zram_compactor.c - `compact` through the store's compaction thread
 * (src/zram/compactor.c) keeps zram's synchronous meaning.
 *
 * - zram_compact() returns after a compaction that started after the call:
 *   pages freed by it are returned, counted in pages_compacted, and
 *   mem_used_total is down when it returns.
 * - zram_compact_async() calls back exactly once, from another thread, with
 *   the pages freed; zram_compact_drain() returns only after every
 *   callback has returned.
 * - many concurrent requests are all served, and the pool stays right: every
 *   page reads back.
 * - a request made after the pool was fragmented again is served by a new
 *   run (frees pages), not answered from an older one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "zram.h"

#define PAGES 4096u /* 16 MiB */

static unsigned char page[ZRAM_PAGE_SIZE];

/* Distinct, compressible (about 1.5 KiB under lz4) content per index. */
static void fill(uint64_t i, unsigned char *p)
{
	uint64_t rs = i * 2654435761u + 1;
	unsigned int k;

	for (k = 0; k < ZRAM_PAGE_SIZE; k++)
		p[k] = (unsigned char)(k % 13 < 6 ? 'a' + (i + k / 64) % 26
						  : harness_rand(&rs));
}

/*
 * From an empty disk, so the objects of neighbouring pages share zspages
 * (a rewrite of a compacted disk refills its holes instead).
 */
static void write_all(struct zram *z)
{
	uint64_t i;

	CHECK_EQ(zram_discard(z, 0, (uint64_t)PAGES * ZRAM_PAGE_SIZE), 0);
	for (i = 0; i < PAGES; i++) {
		fill(i, page);
		CHECK_EQ(
			zram_write(z, page, ZRAM_PAGE_SIZE, i * ZRAM_PAGE_SIZE),
			ZRAM_PAGE_SIZE);
	}
}

/* Discard every other page: half-empty zspages for compaction. */
static void fragment(struct zram *z)
{
	uint64_t i;

	for (i = 0; i < PAGES; i += 2)
		CHECK_EQ(zram_discard(z, i * ZRAM_PAGE_SIZE, ZRAM_PAGE_SIZE),
			 0);
}

static void check_all(struct zram *z)
{
	static unsigned char want[ZRAM_PAGE_SIZE];
	unsigned int bad = 0;
	uint64_t i;

	for (i = 1; i < PAGES; i += 2) {
		fill(i, want);
		if (zram_read(z, page, ZRAM_PAGE_SIZE, i * ZRAM_PAGE_SIZE) !=
			    ZRAM_PAGE_SIZE ||
		    memcmp(page, want, ZRAM_PAGE_SIZE))
			bad++;
	}
	CHECK_EQ(bad, 0);
}

struct async_req {
	struct zram_compact_wait w; /* first */
	_Atomic int calls;
	_Atomic uint64_t freed;
	pthread_t caller;
	_Atomic int other_thread;
};

static void async_done(struct zram_compact_wait *w, uint64_t freed)
{
	struct async_req *r = (struct async_req *)w;

	atomic_store(&r->freed, freed);
	atomic_store(&r->other_thread,
		     !pthread_equal(pthread_self(), r->caller));
	usleep(20 * 1000); /* the drain must wait for this */
	atomic_fetch_add(&r->calls, 1);
}

static void *sync_compactor(void *arg)
{
	struct zram *z = arg;
	int i;

	for (i = 0; i < 50; i++)
		zram_compact(z);
	return NULL;
}

int main(void)
{
	struct zram_config cfg = {.disksize = (uint64_t)PAGES * ZRAM_PAGE_SIZE};
	struct async_req r = {0};
	struct zram_stats s0, s1;
	pthread_t t[4];
	struct zram *z;
	uint64_t freed;
	int i;

	REQUIRE(zram_create(&cfg, &z) == 0);

	/* synchronous: the result is there when it returns */
	write_all(z);
	fragment(z);
	zram_stats_get(z, &s0);
	freed = zram_compact(z);
	zram_stats_get(z, &s1);
	fprintf(stderr, "sync: freed %llu pages, mem %llu -> %llu\n",
		(unsigned long long)freed,
		(unsigned long long)s0.mem_used_total,
		(unsigned long long)s1.mem_used_total);
	CHECK(freed > 0);
	CHECK_EQ(s1.pages_compacted - s0.pages_compacted, freed);
	CHECK(s1.mem_used_total < s0.mem_used_total);
	check_all(z);

	/* a second request right away finds nothing more to move */
	CHECK_EQ(zram_compact(z), 0);

	/* asynchronous: one callback, from the compaction thread */
	write_all(z);
	fragment(z);
	r.w.done = async_done;
	r.caller = pthread_self();
	zram_stats_get(z, &s0);
	CHECK_EQ(zram_compact_async(z, &r.w), 0);
	zram_compact_drain(z);
	zram_stats_get(z, &s1);
	CHECK_EQ(atomic_load(&r.calls), 1); /* drained: the callback returned */
	CHECK(atomic_load(&r.other_thread));
	CHECK(atomic_load(&r.freed) > 0);
	CHECK_EQ(s1.pages_compacted - s0.pages_compacted,
		 atomic_load(&r.freed));
	check_all(z);

	/* many callers at once: all served, the data intact */
	write_all(z);
	fragment(z);
	zram_stats_get(z, &s0);
	for (i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, sync_compactor, z) == 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	zram_stats_get(z, &s1);
	CHECK(s1.pages_compacted > s0.pages_compacted);
	CHECK(s1.mem_used_total < s0.mem_used_total);
	check_all(z);

	/* fragmented again after the last run: a new run frees pages */
	write_all(z);
	fragment(z);
	CHECK(zram_compact(z) > 0);
	check_all(z);

	/* a request left pending is served before destroy returns */
	memset(&r, 0, sizeof(r));
	r.w.done = async_done;
	r.caller = pthread_self();
	write_all(z);
	fragment(z);
	CHECK_EQ(zram_compact_async(z, &r.w), 0);
	zram_destroy(z);
	CHECK_EQ(atomic_load(&r.calls), 1);
	return harness_finish("zram_compactor");
}
