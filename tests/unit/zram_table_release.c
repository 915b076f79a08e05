/*
 * zram_table_release.c - a discard that covers whole table pages (256 slots,
 * 1 MiB of disk) gives the slot table's memory back to the OS, loses no
 * data outside the range, and leaves the slots usable; concurrent readers
 * and writers of a table page being released neither hang nor see torn
 * pages.
 */
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "harness.h"
#include "zram.h"

#define MIB (1024u * 1024u)
#define DISK (4096ull * MIB) /* 1M slots: a 16 MiB table */

static void fill_page(unsigned char *p, uint64_t word)
{
	for (size_t i = 0; i < ZRAM_PAGE_SIZE; i += 8)
		memcpy(p + i, &word, 8);
}

/* One same-filled page (no pool memory) in every MiB: the table is touched
 * everywhere, the pool not at all, so RSS shows the table alone. */
static void test_rss_comes_back(void)
{
	struct zram_config cfg = {.disksize = DISK};
	unsigned char p[ZRAM_PAGE_SIZE], q[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;
	long base, full, after;
	uint64_t off;

	REQUIRE(zram_create(&cfg, &z) == 0);
	base = harness_rss_kib();
	for (off = 0; off < DISK; off += MIB) {
		fill_page(p, off | 1);
		REQUIRE(zram_write(z, p, sizeof(p), off + 5 * ZRAM_PAGE_SIZE) ==
			ZRAM_PAGE_SIZE);
	}
	full = harness_rss_kib();
	fprintf(stderr, "rss: base %ld KiB, table touched %ld KiB\n", base,
		full);
	CHECK(full - base >= 15 * 1024); /* 4096 table pages */

	/* everything but the first and last MiB, from an unaligned start */
	CHECK_EQ(zram_discard(z, MIB - 512, DISK - 2 * MIB + 1024), 0);
	after = harness_rss_kib();
	fprintf(stderr, "rss after discard: %ld KiB\n", after);
#ifndef UZRAM_TSAN
	/* of the 16 MiB: two table pages, the thread's codec buffers, noise */
	CHECK(after - base < 1024);
#else
	/* TSan's shadow of the table stays resident: RSS says nothing here */
	(void)after;
#endif
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 2);
	CHECK_EQ(s.same_pages, 2);
	CHECK_EQ(s.notify_free, DISK / MIB - 2);

	/* outside the range: intact; inside: zeros; and writable again */
	fill_page(q, 1);
	CHECK_EQ(zram_read(z, p, sizeof(p), 5 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(!memcmp(p, q, sizeof(p)));
	fill_page(q, (DISK - MIB) | 1);
	CHECK_EQ(zram_read(z, p, sizeof(p), DISK - MIB + 5 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(!memcmp(p, q, sizeof(p)));
	memset(q, 0, sizeof(q));
	CHECK_EQ(zram_read(z, p, sizeof(p), 7 * MIB + 5 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(!memcmp(p, q, sizeof(p)));
	for (size_t i = 0; i < sizeof(q); i++)
		q[i] = (unsigned char)(i * 7 + i / 13);
	CHECK_EQ(zram_write(z, q, sizeof(q), 7 * MIB), ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_read(z, p, sizeof(p), 7 * MIB), ZRAM_PAGE_SIZE);
	CHECK(!memcmp(p, q, sizeof(p)));
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 3);
	zram_destroy(z);
}

struct race {
	struct zram *z;
	atomic_bool stop;
	atomic_ulong torn;
	atomic_ulong failed; /* I/O that did not return a whole page */
	atomic_ulong ops;
	unsigned int id;
};

/* Each page holds the word (page << 32 | version); a read sees a whole
 * page of one word, or zeros after a discard — never a mix. */
static void *race_worker(void *arg)
{
	struct race *r = arg;
	unsigned char p[ZRAM_PAGE_SIZE];
	uint64_t rng = 0x1234 + r->id, version = 0;

	while (!atomic_load(&r->stop)) {
		uint64_t page = harness_rand(&rng) % 512; /* two table pages */
		uint64_t w0, w;

		if (harness_rand(&rng) & 1) {
			fill_page(p, page << 32 | ++version);
			if (zram_write(r->z, p, sizeof(p),
				       page * ZRAM_PAGE_SIZE) != ZRAM_PAGE_SIZE)
				atomic_fetch_add(&r->failed, 1);
		} else {
			if (zram_read(r->z, p, sizeof(p),
				      page * ZRAM_PAGE_SIZE) != ZRAM_PAGE_SIZE)
				atomic_fetch_add(&r->failed, 1);
			memcpy(&w0, p, 8);
			for (size_t i = 8; i < sizeof(p); i += 8) {
				memcpy(&w, p + i, 8);
				if (w != w0)
					atomic_fetch_add(&r->torn, 1);
			}
			if (w0 && w0 >> 32 != page)
				atomic_fetch_add(&r->torn, 1);
		}
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static void test_race(void)
{
	struct zram_config cfg = {.disksize = 4 * MIB};
	struct race r[2];
	pthread_t t[2];
	struct zram *z;
	unsigned int i, discards,
		rounds = (unsigned int)(2000 * harness_scale());

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].z = z;
		r[i].id = i;
		REQUIRE(pthread_create(&t[i], NULL, race_worker, &r[i]) == 0);
	}
	/* at least @rounds discards, and until both workers have raced them
	 * for a while (on a loaded machine they may start late); 30 s cap */
	time_t give_up = time(NULL) + 30;
	for (i = 0; i < rounds || atomic_load(&r[0].ops) < 1000 ||
		    atomic_load(&r[1].ops) < 1000;
	     i++) {
		CHECK_EQ(zram_discard(z, (i % 2) * MIB, MIB), 0);
		if (time(NULL) > give_up)
			break;
	}
	discards = i;
	for (i = 0; i < 2; i++) {
		atomic_store(&r[i].stop, true);
		pthread_join(t[i], NULL);
		CHECK_EQ(atomic_load(&r[i].torn), 0);
		CHECK_EQ(atomic_load(&r[i].failed), 0);
		CHECK(atomic_load(&r[i].ops) >= 1000);
	}
	fprintf(stderr, "race: %u discards, %lu + %lu page ops\n", discards,
		atomic_load(&r[0].ops), atomic_load(&r[1].ops));
	zram_destroy(z);
}

int main(void)
{
	test_rss_comes_back();
	test_race();
	return harness_finish("zram_table_release");
}
