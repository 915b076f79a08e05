/*
 * zram_auto_dict.c - the policy's auto_dict trains a dictionary by itself
 * once enough has been written, and moves idle pages to it.
 *
 * A zstd store with policy idle_after=0, interval=1, auto_dict=on (and, in
 * test builds, a training threshold of 2048 pages instead of 64 MiB) gets
 * 2560 pages that share a vocabulary. Within a few passes: one dictionary
 * is trained (dicts_trained), every page is rewritten with it
 * (dict_rewrites, and every slot names the current dictionary), the
 * compressed size falls, and every page still reads back as written. A
 * second batch of the same kind of data does not retrain (the ratio did not
 * drift). Before the threshold nothing is trained. The same again with
 * --dedup and every page written twice: the shared pages move to objects
 * of the new dictionary and stay shared (dup_pages unchanged).
 */
#include <errno.h>
#include <time.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 2560u

static unsigned char page[ZRAM_PAGE_SIZE], back[ZRAM_PAGE_SIZE];

/* content seed of page @i: with dedup, pages i and i + PAGES / 2 match */
static bool twins;

static uint64_t seed_of(uint32_t i)
{
	return twins ? i % (PAGES / 2) : i;
}

static void write_range(struct zram *z, uint32_t first, uint32_t end)
{
	uint32_t i;

	for (i = first; i < end; i++) {
		harness_text_fill(page, ZRAM_PAGE_SIZE, seed_of(i));
		REQUIRE(zram_write(z, page, ZRAM_PAGE_SIZE,
				   (uint64_t)i * ZRAM_PAGE_SIZE) ==
			ZRAM_PAGE_SIZE);
	}
}

/* Every slot compressed with the current dictionary? */
static bool all_current(struct zram *z, uint32_t end)
{
	struct zram_codec_params *p = &z->params[0][ZRAM_CODEC_ZSTD];
	uint64_t cur = atomic_load(&p->cur);
	uint32_t i, f;

	for (i = 0; i < end; i++) {
		f = atomic_load(&z->table[i].flags);
		if ((f & SLOT_SIZE_MASK) && !(f & (SLOT_SAME | SLOT_HUGE)) &&
		    ((f & SLOT_DICT_MASK) >> SLOT_DICT_SHIFT) !=
			    cur % ZRAM_DICT_SLOTS)
			return false;
	}
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static int run(bool dedup)
{
	struct zram_config cfg = {.disksize = 2 * PAGES * ZRAM_PAGE_SIZE,
				  .algorithm = "zstd",
				  .dedup = dedup};
	struct zram_policy pol = {
		.idle_after = 0, .interval = 1, .auto_dict = true};
	struct zram_stats s0, s1;
	struct zram *z;
	uint32_t i;
	int waited;

	twins = dedup;
	REQUIRE(zram_create(&cfg, &z) == 0);
#ifdef UZRAM_TEST_HOOKS
	atomic_store(&z->dbg_auto_dict_pages, 2048);
#else
	zram_destroy(z);
	return 77;
#endif
	CHECK_EQ(zram_policy_set(z, &pol), 0);
	write_range(z, 0, 1024);
	sleep_ms(2500); /* two passes: under the threshold, nothing */
	zram_stats_get(z, &s0);
	CHECK_EQ(s0.dicts_trained, 0);
	write_range(z, 1024, PAGES);
	zram_stats_get(z, &s0);
	for (waited = 0; waited < 30000; waited += 100) {
		zram_stats_get(z, &s1);
		if (s1.dicts_trained && all_current(z, PAGES))
			break;
		sleep_ms(100);
	}
	fprintf(stderr,
		"after %d ms: %llu trained, %llu rewritten, compressed %llu -> "
		"%llu\n",
		waited, (unsigned long long)s1.dicts_trained,
		(unsigned long long)s1.dict_rewrites,
		(unsigned long long)s0.compr_data_size,
		(unsigned long long)s1.compr_data_size);
	CHECK_EQ(s1.dicts_trained, 1);
	CHECK(all_current(z, PAGES));
	CHECK(s1.dict_rewrites >= (dedup ? PAGES / 2 : PAGES - 10));
	CHECK(s1.compr_data_size < s0.compr_data_size);
	CHECK_EQ(s1.dup_pages, s0.dup_pages);
	if (dedup)
		CHECK_EQ(s1.dup_pages, PAGES / 2);
	for (i = 0; i < PAGES; i++) {
		harness_text_fill(page, ZRAM_PAGE_SIZE, seed_of(i));
		REQUIRE(zram_read(z, back, ZRAM_PAGE_SIZE,
				  (uint64_t)i * ZRAM_PAGE_SIZE) ==
			ZRAM_PAGE_SIZE);
		CHECK(!memcmp(page, back, ZRAM_PAGE_SIZE));
	}
	/* more of the same: the ratio holds, no retraining */
	write_range(z, PAGES, 2 * PAGES);
	sleep_ms(2500);
	zram_stats_get(z, &s1);
	CHECK_EQ(s1.dicts_trained, 1);
	zram_destroy(z);
	return 0;
}

int main(void)
{
	(void)harness_seed();
	if (run(false) == 77 || run(true) == 77) {
		printf("SKIP: needs test hooks (the 64 MiB threshold is too "
		       "slow)\n");
		return 77;
	}
	return harness_finish("zram_auto_dict");
}
