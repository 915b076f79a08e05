/*
 * zram_big_disk.c - a disk's size costs address space, not time or memory:
 * walks over the slot table (idle, reset, destroy) skip table pages that
 * were never touched, so `idle all` and `reset` on an untouched 16 TiB disk
 * finish well under a second; and I/O that leaves an empty slot empty
 * (zeros into part of a page, the unaligned ends of a discard) neither
 * locks it nor faults its table page in, as reads of empty slots do not.
 * The dedup index, too, costs what is stored: 16384 distinct pages on a
 * 16 TiB disk with dedup take under 64 bytes of index each (dedup_meta_size)
 * and the process's RSS grows by about their pool memory, not by a bucket
 * page each (the index used to size its buckets by the disk).
 */
#include <errno.h>
#include <time.h>

#include "harness.h"
#include "zram.h"

#define MIB (1024ull * 1024)
#define TIB (1024ull * 1024 * MIB)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* idle all, idle 60 and reset of an untouched and an almost empty 16 TiB
 * disk: each well under a second (a walk of 2^32 slots takes many). */
static void test_walks_skip_untouched(void)
{
	struct zram_config cfg = {.disksize = 16 * TIB};
	unsigned char p[ZRAM_PAGE_SIZE], q[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;
	double t0, dt;

	REQUIRE(zram_create(&cfg, &z) == 0);
	t0 = now_s();
	zram_idle_mark(z, ZRAM_IDLE_ALL);
	zram_idle_mark(z, 60);
	CHECK_EQ(zram_reset(z), 0);
	dt = now_s() - t0;
	fprintf(stderr, "untouched 16 TiB: idle all + idle 60 + reset %.3f s\n",
		dt);
	CHECK(dt < 1.0);

	/* a few pages far apart: still only what is used is walked */
	memset(p, 0x5a, sizeof(p));
	p[100] = 1;
	CHECK_EQ(zram_write(z, p, sizeof(p), 0), ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_write(z, p, sizeof(p), 8 * TIB), ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_write(z, p, sizeof(p), 16 * TIB - ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	t0 = now_s();
	zram_idle_mark(z, ZRAM_IDLE_ALL);
	dt = now_s() - t0;
	zram_stats_get(z, &s);
	CHECK_EQ(s.idle_pages, 3);
	CHECK_EQ(s.pages_stored, 3);
	CHECK(dt < 1.0);
	CHECK_EQ(zram_read(z, q, sizeof(q), 8 * TIB), ZRAM_PAGE_SIZE);
	CHECK(!memcmp(p, q, sizeof(p)));
	t0 = now_s();
	CHECK_EQ(zram_reset(z), 0);
	dt = now_s() - t0;
	fprintf(stderr, "16 TiB with 3 pages: reset %.3f s\n", dt);
	CHECK(dt < 1.0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(s.idle_pages, 0);
	CHECK_EQ(s.mem_used_total, 0);
	CHECK_EQ(zram_read(z, q, sizeof(q), 16 * TIB - ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	memset(p, 0, sizeof(p));
	CHECK(!memcmp(p, q, sizeof(p)));
	/* the store works after the reset: the cleared bits re-arm */
	memset(p, 0x33, sizeof(p));
	p[7] = 9;
	CHECK_EQ(zram_write(z, p, sizeof(p), 8 * TIB), ZRAM_PAGE_SIZE);
	zram_idle_mark(z, ZRAM_IDLE_ALL);
	zram_stats_get(z, &s);
	CHECK_EQ(s.idle_pages, 1);
	t0 = now_s();
	zram_destroy(z);
	CHECK(now_s() - t0 < 1.0);
}

/*
 * Zeros into part of empty pages, and unaligned discards whose ends fall in
 * empty pages, one in every MiB of a 4 GiB disk: the slot table (4096
 * pages, 16 MiB) stays untouched, and nothing is stored.
 */
static void test_partial_zero_no_fault(void)
{
	struct zram_config cfg = {.disksize = 4096 * MIB};
	unsigned char zeros[512] = {0}, data[512], r[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;
	long base, after;
	uint64_t off;

	REQUIRE(zram_create(&cfg, &z) == 0);
	/* the thread's stream (codec buffers) is made on its first I/O */
	CHECK_EQ(zram_read(z, r, sizeof(r), 0), ZRAM_PAGE_SIZE);
	base = harness_rss_kib();
	for (off = 0; off < cfg.disksize; off += MIB) {
		CHECK_EQ(zram_write(z, zeros, sizeof(zeros), off + 1000),
			 sizeof(zeros));
		CHECK_EQ(zram_discard(z, off + 3 * ZRAM_PAGE_SIZE + 100, 5000),
			 0);
		CHECK_EQ(
			zram_write_zeroes(z, off + 9 * ZRAM_PAGE_SIZE + 1, 200),
			0);
	}
	after = harness_rss_kib();
	fprintf(stderr,
		"rss: %ld KiB before, %ld KiB after 4096 partial "
		"zero writes\n",
		base, after);
#ifndef UZRAM_TSAN
	CHECK(after - base < 2048); /* 16 MiB if each faulted its page */
#endif
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(s.failed_writes, 0);

	/* non-zero bytes into part of an empty page are stored, of course,
	 * and zeros into part of a stored page are written into it */
	memset(data, 0xa5, sizeof(data));
	CHECK_EQ(zram_write(z, data, sizeof(data), 7 * MIB + 300),
		 sizeof(data));
	CHECK_EQ(zram_read(z, r, sizeof(r), 7 * MIB), ZRAM_PAGE_SIZE);
	CHECK(!memcmp(r + 300, data, sizeof(data)));
	CHECK(r[299] == 0 && r[300 + sizeof(data)] == 0);
	CHECK_EQ(zram_write(z, zeros, 100, 7 * MIB + 400), 100);
	CHECK_EQ(zram_read(z, r, sizeof(r), 7 * MIB), ZRAM_PAGE_SIZE);
	CHECK(r[399] == 0xa5 && r[400] == 0 && r[499] == 0 && r[500] == 0xa5);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 1);
	zram_destroy(z);
}

static void test_dedup_index_grows(void)
{
	struct zram_config cfg = {.disksize = 16 * TIB, .dedup = true};
	static unsigned char p[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;
	long base, after;
	uint64_t i, rs = 1;
	size_t k;

	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_read(z, p, sizeof(p), 0), ZRAM_PAGE_SIZE);
	base = harness_rss_kib();
	for (i = 0; i < 16384; i++) {
		/* half random (distinct), half zeros: about 2 KiB each */
		for (k = 0; k < sizeof(p) / 2; k += 8) {
			uint64_t r = harness_rand(&rs);

			memcpy(p + k, &r, 8);
		}
		CHECK_EQ(zram_write(z, p, sizeof(p), i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	}
	after = harness_rss_kib();
	zram_stats_get(z, &s);
	fprintf(stderr,
		"16 TiB, dedup, 16384 pages: index %llu bytes (%.1f per "
		"page), pool %llu KiB, rss +%ld KiB\n",
		(unsigned long long)s.dedup_meta_size,
		(double)s.dedup_meta_size / (double)s.dedup_objects,
		(unsigned long long)s.mem_used_total >> 10, after - base);
	CHECK_EQ(s.dedup_objects, 16384);
	CHECK(s.dedup_meta_size < 64 * 16384);
#ifndef UZRAM_TSAN
	/* a bucket page per page would be 64 MiB */
	CHECK(after - base < (long)(s.mem_used_total >> 10) + 8192);
#endif
	for (i = 0; i < 16384; i += 1000)
		CHECK_EQ(zram_read(z, p, sizeof(p), i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	zram_destroy(z);
}

int main(void)
{
	test_dedup_index_grows();
	test_walks_skip_untouched();
	test_partial_zero_no_fault();
	return harness_finish("zram_big_disk");
}
