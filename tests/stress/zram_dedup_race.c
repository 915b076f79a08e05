/*
 * zram_dedup_race.c - reference counts of shared objects under concurrency.
 *
 * Writers own interleaved pages (page % WRITERS) but all write the same few
 * contents, so their pages share entries across threads; each writer also
 * discards and zeroes its own pages, and reads them back after every change:
 * a sharer's page must never change under it. Meanwhile one thread compacts
 * in a loop (moving shared objects), one flips the codec, one turns
 * dedup off and on, and one recompresses idle pages and trains dictionaries
 * and moves idle pages to them (both rewrite shared objects in place, for
 * all sharers, while the writers read them). Run under TSan, this is the race check of the index's
 * lock rules. At the end: every page reads back as its owner wrote it, each
 * entry's count equals the slots naming it; once every page is written
 * again with dedup on, each content is one entry (dup_pages exact), and a
 * discard of the whole disk gives back every object, entry and pool page.
 *
 * Scaled by harness_scale() (UZRAM_STRESS_SCALE), seeded by harness_seed().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness.h"
#include "stress.h"
#include "zram_attr.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 96u
#define WRITERS 4u
#define CONTENTS 6u

static unsigned char contents[CONTENTS][ZRAM_PAGE_SIZE];

struct ctx {
	struct zram *z;
	uint64_t seed;
	unsigned int id;
	long iters;
	_Atomic int *stop;
	_Atomic long *bad;
	int last[PAGES]; /* content index, -1: zeros */
};

static bool page_is(struct zram *z, uint64_t page, int c, unsigned char *buf)
{
	static const unsigned char zeros[ZRAM_PAGE_SIZE];

	if (zram_read(z, buf, ZRAM_PAGE_SIZE, page * ZRAM_PAGE_SIZE) !=
	    (ssize_t)ZRAM_PAGE_SIZE)
		return false;
	return !memcmp(buf, c < 0 ? zeros : contents[c], ZRAM_PAGE_SIZE);
}

static void *writer(void *arg)
{
	struct ctx *c = arg;
	unsigned char buf[ZRAM_PAGE_SIZE];
	uint64_t rs = c->seed;
	long i;

	for (i = 0; i < c->iters; i++) {
		uint64_t page =
			harness_rand(&rs) % (PAGES / WRITERS) * WRITERS + c->id;
		uint64_t r = harness_rand(&rs) % 10,
			 off = page * ZRAM_PAGE_SIZE;
		int k = (int)(harness_rand(&rs) % CONTENTS);

		if (r == 0) {
			zram_discard(c->z, off, ZRAM_PAGE_SIZE);
			k = -1;
		} else if (r == 1) {
			zram_write_zeroes(c->z, off, ZRAM_PAGE_SIZE);
			k = -1;
		} else if (zram_write(c->z, contents[k], ZRAM_PAGE_SIZE, off) !=
			   (ssize_t)ZRAM_PAGE_SIZE) {
			atomic_fetch_add(c->bad, 1);
			continue;
		}
		c->last[page] = k;
		/* a page of another sharer of mine must not have moved */
		page = harness_rand(&rs) % (PAGES / WRITERS) * WRITERS + c->id;
		if (!page_is(c->z, page, c->last[page], buf))
			atomic_fetch_add(c->bad, 1);
	}
	return NULL;
}

/* Rewrites of shared objects: recompress, or auto_dict's two halves (a
 * training may find nothing to learn or all indexes busy: ignored). */
static void rewrites(struct zram *z, unsigned int n)
{
	attr_store(z, "idle", "all");
	if (n % 8 == 7) {
		attr_store(z, "train_dict", "samples=16 size=4K");
		pthread_mutex_lock(&z->pp_lock);
		dict_refresh_idle(z);
		pthread_mutex_unlock(&z->pp_lock);
	} else {
		attr_store(z, "recompress", "type=idle");
	}
}

static void *background(void *arg)
{
	struct ctx *c = arg;
	static const char *const algos[] = {"lz4", "zstd", "lz4hc"};
	unsigned int n = 0;

	while (!atomic_load(c->stop)) {
		if (c->id == 0)
			attr_store(c->z, "compact", "1");
		else if (c->id == 1)
			attr_store(c->z, "comp_algorithm", algos[n % 3]);
		else if (c->id == 2)
			attr_store(c->z, "dedup", n % 4 == 3 ? "0" : "1");
		else
			rewrites(c->z, n);
		n++;
		sched_yield();
	}
	return NULL;
}

/* Each shared slot's entry counts exactly the slots that name it. */
static void check_refs(struct zram *z)
{
	unsigned int p, q;

	for (p = 0; p < PAGES; p++) {
		uint32_t f = atomic_load(&z->table[p].flags), refs = 0;
		uint64_t id = atomic_load(&z->table[p].handle);

		if (!(f & SLOT_SHARED))
			continue;
		for (q = 0; q < PAGES; q++)
			refs += (atomic_load(&z->table[q].flags) &
				 SLOT_SHARED) &&
				atomic_load(&z->table[q].handle) == id;
		CHECK_EQ(dedup_refs(z->dedup, (uint32_t)id), refs);
	}
}

/*
 * Every page reads back as its owner last wrote it and the counts hold.
 * Then, with dedup on for good, every page is written again with what it
 * holds: whether the race left pages shared depends on the scheduler (a
 * run whose writers all finish while `dedup` is 0 shares nothing), this
 * does not. Same content must then be one entry for all its pages, so
 * dup_pages is the pages holding content less the contents held.
 */
static void final_check(struct zram *z, struct ctx *w)
{
	unsigned char buf[ZRAM_PAGE_SIZE];
	unsigned int p, held[CONTENTS] = {0};
	uint64_t dup = 0;
	struct zram_stats s;
	int k;

	for (p = 0; p < PAGES; p++)
		CHECK(page_is(z, p, w[p % WRITERS].last[p], buf));
	check_refs(z);
	REQUIRE(attr_store(z, "dedup", "1") == 0);
	for (p = 0; p < PAGES; p++) {
		k = w[p % WRITERS].last[p];
		if (k < 0)
			continue;
		dup += held[k]++ > 0;
		CHECK_EQ(zram_write(z, contents[k], ZRAM_PAGE_SIZE,
				    (uint64_t)p * ZRAM_PAGE_SIZE),
			 (ssize_t)ZRAM_PAGE_SIZE);
	}
	for (p = 0; p < PAGES; p++)
		CHECK(page_is(z, p, w[p % WRITERS].last[p], buf));
	check_refs(z);
	zram_stats_get(z, &s);
	REQUIRE(dup > 0); /* 6 contents on 96 pages, a tenth of them zeros */
	CHECK_EQ(s.dup_pages, dup);
	CHECK_EQ(zram_discard(z, 0, zram_disksize(z)), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.mem_used_total, 0);
	CHECK_EQ(s.dup_pages, 0);
}

int main(void)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .dedup = true};
	struct ctx w[WRITERS], bg[4];
	struct stress_crew crew;
	uint64_t rs = harness_seed();
	unsigned int i, k;
	struct zram *z;
	size_t j;

	for (k = 0; k < CONTENTS; k++)
		for (j = 0; j < ZRAM_PAGE_SIZE; j++)
			contents[k][j] =
				k == CONTENTS - 1
					? (unsigned char)(harness_rand(&rs) >>
							  29)
					: (unsigned char)("shared page "
							  "content "[(j * (k +
									   1) +
								      j / 61) %
								     20]);
	REQUIRE(zram_create(&cfg, &z) == 0);
	REQUIRE(attr_store(z, "recomp_algorithm", "algo=zstd") == 0);
	REQUIRE(attr_store(z, "algorithm_params", "priority=1 level=9") == 0);
	stress_crew_init(&crew);
	for (i = 0; i < 4; i++) {
		bg[i] = (struct ctx){.z = z, .id = i, .stop = &crew.stop};
		stress_background(&crew, background, &bg[i]);
	}
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct ctx){.z = z,
				    .seed = harness_rand(&rs),
				    .id = i,
				    .iters = stress_iters(20000, 1),
				    .stop = &crew.stop,
				    .bad = &crew.bad};
		for (j = 0; j < PAGES; j++)
			w[i].last[j] = -1;
		stress_worker(&crew, writer, &w[i]);
	}
	CHECK_EQ(stress_join(&crew), 0);
	final_check(z, w);
	zram_destroy(z);
	return harness_finish("zram_dedup_race");
}
