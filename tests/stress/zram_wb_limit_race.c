/*
 * zram_wb_limit_race.c - writeback_limit is charged only for pages that
 * really went to the backing store, while writers race the passes.
 *
 * As zram: a page picked by a writeback pass but written or discarded
 * before the pass gets to it (or while its batch is on the way to the
 * backing store) stays in memory, so it must not use up the budget. Two
 * writers overwrite and discard pages of a small range as fast as they can
 * while a third thread loops `writeback page_indexes=...` with the limit
 * enabled. At the end the budget used must equal bd_writes (the pages
 * installed on the backing store), and every page must read back as the
 * writers' model says.
 *
 * Scaled by harness_scale() (UZRAM_STRESS_SCALE), seeded by harness_seed().
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "stress.h"
#include "zram_attr.h"
#include "slot_content.h"
#include "zram.h"

#define WRITERS 2
#define PER_WRITER 64u
#define PAGES (WRITERS * PER_WRITER)
#define BUDGET 100000000ull

struct writer {
	struct zram *z;
	unsigned int id;
	uint64_t seed;
	long iters;
	long bad;
	unsigned char model[PER_WRITER][ZRAM_PAGE_SIZE];
};

/* stop: the writeback thread's; bad: every thread's failures */
static struct stress_crew crew;

static void *writer_main(void *arg)
{
	static _Thread_local unsigned char buf[ZRAM_PAGE_SIZE];
	struct writer *w = arg;
	uint64_t rs = w->seed;
	long i;

	for (i = 0; i < w->iters; i++) {
		unsigned int pg =
			(unsigned int)(harness_rand(&rs) % PER_WRITER);
		uint64_t off = (w->id * PER_WRITER + pg) * ZRAM_PAGE_SIZE;
		uint64_t v = harness_rand(&rs);
		size_t k;

		if (harness_rand(&rs) % 8 == 0) {
			if (zram_discard(w->z, off, ZRAM_PAGE_SIZE))
				w->bad++;
			memset(w->model[pg], 0, ZRAM_PAGE_SIZE);
			continue;
		}
		for (k = 0; k < ZRAM_PAGE_SIZE; k++)
			buf[k] = (unsigned char)"uzramwb!"[(k / 7 + v) % 8];
		memcpy(buf, &v, sizeof(v)); /* not same-filled */
		if (zram_write(w->z, buf, ZRAM_PAGE_SIZE, off) !=
		    ZRAM_PAGE_SIZE)
			w->bad++;
		memcpy(w->model[pg], buf, ZRAM_PAGE_SIZE);
	}
	atomic_fetch_add(&crew.bad, w->bad);
	return NULL;
}

static void *wb_main(void *arg)
{
	struct zram *z = arg;
	long bad = 0;
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "page_indexes=0-%u", PAGES - 1);
	while (!atomic_load(&crew.stop))
		bad += attr_store(z, "writeback", cmd) != 0;
	atomic_fetch_add(&crew.bad, bad);
	return NULL;
}

int main(void)
{
	static struct writer w[WRITERS];
	static char dir[] = "/tmp/zram_wb_limit_race.XXXXXX";
	static unsigned char buf[ZRAM_PAGE_SIZE];
	char path[128], lim[32];
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .backing_dev = path};
	uint64_t seed = harness_seed(), used;
	struct zram_stats s;
	struct zram *z;
	unsigned int i, pg;
	int fd;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/backing", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, 64 << 20) == 0);
	close(fd);
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(attr_store(z, "writeback_limit_enable", "1"), 0);
	snprintf(lim, sizeof(lim), "%llu", BUDGET);
	CHECK_EQ(attr_store(z, "writeback_limit", lim), 0);
	stress_crew_init(&crew);
	for (i = 0; i < WRITERS; i++) {
		w[i].z = z;
		w[i].id = i;
		w[i].seed = seed + i * 104729;
		w[i].iters = stress_iters(60000, 1);
		stress_worker(&crew, writer_main, &w[i]);
	}
	stress_background(&crew, wb_main, z);
	CHECK_EQ(stress_join(&crew), 0);

	zram_stats_get(z, &s);
	used = BUDGET - atomic_load(&z->wb_limit);
	fprintf(stderr, "budget used %llu, bd_writes %llu, bd_count %llu\n",
		(unsigned long long)used, (unsigned long long)s.bd_writes,
		(unsigned long long)s.bd_count);
	CHECK(s.bd_writes > 0);
	CHECK_EQ(used, s.bd_writes);

	for (i = 0; i < WRITERS; i++)
		for (pg = 0; pg < PER_WRITER; pg++) {
			CHECK_EQ(zram_read(z, buf, ZRAM_PAGE_SIZE,
					   (uint64_t)(i * PER_WRITER + pg) *
						   ZRAM_PAGE_SIZE),
				 ZRAM_PAGE_SIZE);
			CHECK(!memcmp(buf, w[i].model[pg], ZRAM_PAGE_SIZE));
		}
	CHECK_EQ(zram_discard(z, 0, PAGES * ZRAM_PAGE_SIZE), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.backing_used, 0);
	CHECK_EQ(s.bd_count, 0);
	zram_destroy(z);
	unlink(path);
	rmdir(dir);
	return harness_finish("zram_wb_limit_race");
}
