/*
 * zs_compact.c - compaction details that need the private header: a second
 * zs_compact() while one runs returns 0 at once; compaction keeps contents
 * and handles when objects straddle pages on both sides of the move; it
 * frees exactly the freeable pages of a class and no more; it backs off
 * (drops its locks) between zspages only when another thread waits.
 */
#include <pthread.h>
#include <unistd.h>

#include "harness.h"
#include "zs_internal.h"

struct compactor {
	struct zs_pool *pool;
	size_t freed;
};

static void *compactor_main(void *arg)
{
	struct compactor *c = arg;

	c->freed = zs_compact(c->pool);
	return NULL;
}

static void obj_fill(unsigned char *buf, size_t len, unsigned int n)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(n * 31 + i);
}

/*
 * @zspages zspages of 40-byte objects (class 48: objects straddle every
 * third page boundary), keeping @keep[z] objects of zspage z.
 */
static void pool_fill(struct zs_pool *pool, zs_handle_t (*h)[256],
		      unsigned int zspages, const unsigned int *keep)
{
	unsigned char buf[40];
	unsigned int z, i;

	for (z = 0; z < zspages; z++)
		for (i = 0; i < 256; i++) {
			REQUIRE(zs_malloc(pool, 40, &h[z][i]) == 0);
			obj_fill(buf, sizeof(buf), z * 256 + i);
			zs_obj_write(pool, h[z][i], buf, sizeof(buf));
		}
	/* Free from the top so the kept ones straddle boundaries too. */
	for (z = 0; z < zspages; z++)
		for (i = 0; i < 256 - keep[z]; i++)
			zs_free(pool, h[z][255 - i]);
}

static unsigned long pool_check(struct zs_pool *pool, zs_handle_t (*h)[256],
				unsigned int zspages, const unsigned int *keep)
{
	static unsigned char local[ZS_PAGE_SIZE];
	unsigned char buf[40], *p;
	unsigned long bad = 0;

	for (unsigned int z = 0; z < zspages; z++)
		for (unsigned int i = 0; i < keep[z]; i++) {
			obj_fill(buf, sizeof(buf), z * 256 + i);
			p = zs_obj_read_begin(pool, h[z][i], local);
			bad += memcmp(p, buf, sizeof(buf)) != 0;
			zs_obj_read_end(pool, h[z][i], p);
		}
	return bad;
}

static void test_single_compactor(void)
{
	static zs_handle_t h[3][256];
	const unsigned int keep[3] = {100, 100, 100};
	struct zs_pool *pool = zs_create_pool("one");
	struct compactor c = {pool, 0};
	pthread_t t;
	int i;

	REQUIRE(pool != NULL);
	pool_fill(pool, h, 3, keep);
	/* Hold the class lock: the first compactor stalls inside. */
	class_lock(pool->size_class[class_index_of(40 + ZS_HANDLE_SIZE)]);
	REQUIRE(pthread_create(&t, NULL, compactor_main, &c) == 0);
	for (i = 0; i < 1000 && !atomic_load(&pool->compaction_in_progress);
	     i++)
		usleep(1000);
	CHECK_EQ(atomic_load(&pool->compaction_in_progress), 1);
	CHECK_EQ(zs_compact(pool), 0); /* second caller: at once, nothing */
	class_unlock(pool->size_class[class_index_of(40 + ZS_HANDLE_SIZE)]);
	pthread_join(t, NULL);
	/* 300 objects of 256 a zspage: one zspage (3 pages) freed. */
	CHECK_EQ(c.freed, 3);
	CHECK_EQ(zs_get_total_pages(pool), 6);
	CHECK_EQ(atomic_load(&pool->compaction_in_progress), 0);
	CHECK_EQ(pool_check(pool, h, 3, keep), 0);
	zs_destroy_pool(pool);
}

/* Frees exactly what class_freeable() promised, over many shapes. */
static void test_exact(void)
{
	static zs_handle_t h[8][256];
	uint64_t rng = harness_seed();
	struct zs_class_stats st;

	for (int round = 0; round < 20; round++) {
		struct zs_pool *pool = zs_create_pool("exact");
		unsigned int keep[8], z, used = 0;
		size_t expect;

		REQUIRE(pool != NULL);
		for (z = 0; z < 8; z++) {
			keep[z] = 1 + (unsigned int)(harness_rand(&rng) % 256);
			used += keep[z];
		}
		pool_fill(pool, h, 8, keep);
		REQUIRE(zs_class_stats_get(pool, 1, &st) == 0);
		expect = st.freeable;
		CHECK_EQ(expect, (8 - (used + 255) / 256) * 3);
		CHECK_EQ(zs_compact(pool), expect);
		CHECK_EQ(zs_get_total_pages(pool), 24 - expect);
		REQUIRE(zs_class_stats_get(pool, 1, &st) == 0);
		CHECK_EQ(st.freeable, 0);
		CHECK_EQ(st.obj_used, used);
		CHECK_EQ(pool_check(pool, h, 8, keep), 0);
		zs_destroy_pool(pool);
	}
}

/*
 * Compaction drops its locks between source zspages only when a thread
 * waits: one 50 %-full destination and 100 one-object sources move with no
 * drop at all; with a (simulated) waiter it backs off after every source.
 */
static void test_backoff(void)
{
	static zs_handle_t h[101][256];
	unsigned int keep[101], z, waiting;

	keep[0] = 128;
	for (z = 1; z < 101; z++)
		keep[z] = 1;
	for (waiting = 0; waiting < 2; waiting++) {
		struct zs_pool *pool = zs_create_pool("backoff");

		REQUIRE(pool != NULL);
		pool_fill(pool, h, 101, keep);
		atomic_store(
			&pool->size_class[class_index_of(40 + ZS_HANDLE_SIZE)]
				 ->lock_waiters,
			waiting);
		CHECK_EQ(zs_compact(pool), 100 * 3);
		atomic_store(
			&pool->size_class[class_index_of(40 + ZS_HANDLE_SIZE)]
				 ->lock_waiters,
			0);
		CHECK_EQ(pool->compact_backoffs, waiting ? 100 : 0);
		CHECK_EQ(zs_get_total_pages(pool), 3);
		CHECK_EQ(pool_check(pool, h, 101, keep), 0);
		zs_destroy_pool(pool);
	}
}

int main(void)
{
	test_single_compactor();
	test_exact();
	test_backoff();
	return harness_finish("zs_compact");
}
