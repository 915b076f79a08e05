/*
 * zram_group_race.c - grouped frames under concurrency.
 *
 * Writers own interleaved pages (page % WRITERS), so every frame mixes
 * pages of several writers; each writes new versions of its pages (text,
 * half random, or random: grouped, grouped in parts, huge), discards and
 * zeroes them, and reads one of its own back after every change: the
 * version it wrote last. Now and then a writer writes the one common page
 * instead, which every writer writes, so with dedup on its pages share an
 * entry: grouping moves that entry into a frame for all its sharers, while
 * they write, read and leave it, and writers that find it there share the
 * member. Readers read any page at any time: a page must be
 * all zeros or exactly some version of itself (a header names the page and
 * the version, the body follows from them), never a neighbour's bytes or a
 * freed frame's. Meanwhile one thread marks everything idle and runs
 * grouping passes of varying size in a loop (as the policy thread would),
 * one compacts (frames move under the readers), one turns dedup on
 * and off, and one replaces the zstd dictionary (two in turn) that frames
 * are compressed with: a frame counts against its dictionary, so none is
 * freed while a frame needs it (a reader would decode with freed tables).
 * Run under TSan, this
 * is the race check of group.c's and slot_group.c's rules. At the end:
 * every page reads back as its owner wrote it, each frame's count equals
 * the slots and dedup entries naming it and each entry's the slots naming
 * it, and a discard of the whole disk gives back every
 * frame and pool page and every dictionary count.
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

#define PAGES 128u
#define WRITERS 3u
#define READERS 2u

struct ctx {
	struct zram *z;
	uint64_t seed;
	unsigned int id;
	long iters;
	_Atomic int *stop;
	_Atomic long *bad;
	_Atomic long *groups;
	int64_t last[PAGES]; /* version written last, -1: zeros */
};

/* The page every writer writes now and then (no header: any page may
 * hold it), made in main(). */
static unsigned char common[ZRAM_PAGE_SIZE];
#define VER_COMMON (-2)

/* The content of version @ver of page @page. */
static void page_make(unsigned char *p, uint64_t page, uint64_t ver)
{
	static const char words[] = "grouped frame of cold pages zstd slot ";
	uint64_t rs = page * 1000003u + ver;
	unsigned int kind = (unsigned int)(ver % 7);
	size_t i;

	for (i = 0; i < ZRAM_PAGE_SIZE; i++) {
		bool rnd = kind == 6 || (kind == 5 && i < 2048);

		p[i] = rnd ? (unsigned char)(harness_rand(&rs) >> 33)
			   : (unsigned char)words[(i + page * 3 + ver) %
						  (sizeof(words) - 1)];
	}
	memcpy(p, &page, 8);
	memcpy(p + 8, &ver, 8);
}

/* All zeros, or exactly one version of page @page. */
static bool page_valid(const unsigned char *p, uint64_t page)
{
	static const unsigned char zeros[ZRAM_PAGE_SIZE];
	unsigned char want[ZRAM_PAGE_SIZE];
	uint64_t pg, ver;

	if (!memcmp(p, zeros, ZRAM_PAGE_SIZE) ||
	    !memcmp(p, common, ZRAM_PAGE_SIZE))
		return true;
	memcpy(&pg, p, 8);
	memcpy(&ver, p + 8, 8);
	if (pg != page)
		return false;
	page_make(want, page, ver);
	return !memcmp(p, want, ZRAM_PAGE_SIZE);
}

static bool page_is(struct zram *z, uint64_t page, int64_t ver)
{
	unsigned char buf[ZRAM_PAGE_SIZE], want[ZRAM_PAGE_SIZE];

	if (zram_read(z, buf, ZRAM_PAGE_SIZE, page * ZRAM_PAGE_SIZE) !=
	    (ssize_t)ZRAM_PAGE_SIZE)
		return false;
	if (ver == VER_COMMON)
		memcpy(want, common, sizeof(want));
	else if (ver < 0)
		memset(want, 0, sizeof(want));
	else
		page_make(want, page, (uint64_t)ver);
	return !memcmp(buf, want, ZRAM_PAGE_SIZE);
}

static uint64_t own_page(struct ctx *c, uint64_t *rs)
{
	return harness_rand(rs) % (PAGES / WRITERS) * WRITERS + c->id;
}

static void *writer(void *arg)
{
	struct ctx *c = arg;
	unsigned char buf[ZRAM_PAGE_SIZE];
	uint64_t rs = c->seed, ver = (uint64_t)c->id << 40;
	long i;

	for (i = 0; i < c->iters; i++) {
		uint64_t page = own_page(c, &rs), off = page * ZRAM_PAGE_SIZE;
		uint64_t r = harness_rand(&rs) % 16;

		if (r == 0) {
			zram_discard(c->z, off, ZRAM_PAGE_SIZE);
			c->last[page] = -1;
		} else if (r == 1) {
			zram_write_zeroes(c->z, off, ZRAM_PAGE_SIZE);
			c->last[page] = -1;
		} else if (r == 2) {
			if (zram_write(c->z, common, ZRAM_PAGE_SIZE, off) !=
			    (ssize_t)ZRAM_PAGE_SIZE) {
				atomic_fetch_add(c->bad, 1);
				continue;
			}
			c->last[page] = VER_COMMON;
		} else if (r < 6) {
			page_make(buf, page, ++ver);
			if (zram_write(c->z, buf, ZRAM_PAGE_SIZE, off) !=
			    (ssize_t)ZRAM_PAGE_SIZE) {
				atomic_fetch_add(c->bad, 1);
				continue;
			}
			c->last[page] = (int64_t)ver;
		}
		/* else: leave it alone for a while, so it can go cold */
		page = own_page(c, &rs);
		if (!page_is(c->z, page, c->last[page]))
			atomic_fetch_add(c->bad, 1);
		if (r > 10)
			sched_yield();
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct ctx *c = arg;
	unsigned char buf[ZRAM_PAGE_SIZE];
	uint64_t rs = c->seed;

	while (!atomic_load(c->stop)) {
		uint64_t page = harness_rand(&rs) % PAGES;

		if (zram_read(c->z, buf, ZRAM_PAGE_SIZE,
			      page * ZRAM_PAGE_SIZE) !=
			    (ssize_t)ZRAM_PAGE_SIZE ||
		    !page_valid(buf, page))
			atomic_fetch_add(c->bad, 1);
	}
	return NULL;
}

/* Two zstd dictionaries, trained in main(), installed in turn. */
static void *dicts[2];
static size_t dict_sizes[2];
static _Atomic long dict_swaps;
static uint64_t dict_frames_seen; /* the dictionary thread's alone */

static void dict_swap(struct zram *z, unsigned int n)
{
	void *copy = malloc(dict_sizes[n % 2]);
	unsigned int j;

	/* frames (the only zstd objects here) counted against a dictionary */
	for (j = 0; j < ZRAM_DICT_SLOTS; j++)
		dict_frames_seen +=
			atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].pages[j]);
	if (!copy)
		return;
	memcpy(copy, dicts[n % 2], dict_sizes[n % 2]);
	/* -EBUSY: frames still need all four indexes; taken either way */
	if (!zram_dict_set(z, 0, ZRAM_CODEC_ZSTD, copy, dict_sizes[n % 2]))
		atomic_fetch_add(&dict_swaps, 1);
}

/* The policy's grouping, in a loop; compaction, dedup flips, dictionary
 * replacements. */
static void *background(void *arg)
{
	static const unsigned int sizes[] = {4, 2, 16, 3, 8};
	struct ctx *c = arg;
	unsigned int n = 0;

	while (!atomic_load(c->stop)) {
		if (c->id == 0) {
			attr_store(c->z, "compact", "1");
		} else if (c->id == 2) {
			attr_store(c->z, "dedup", n % 4 == 3 ? "0" : "1");
		} else if (c->id == 3) {
			dict_swap(c->z, n);
		} else {
			attr_store(c->z, "idle", "all");
			pthread_mutex_lock(&c->z->pp_lock);
			atomic_fetch_add(
				c->groups,
				(long)group_idle(c->z, sizes[n % 5], 0));
			pthread_mutex_unlock(&c->z->pp_lock);
		}
		n++;
		sched_yield();
	}
	return NULL;
}

/* Frame @frame's references held by dedup entries (an entry in a frame:
 * each named by some SHARED slot), each entry counted once. */
static uint32_t entry_refs(struct zram *z, uint32_t frame)
{
	uint32_t seen[PAGES], n = 0, refs = 0, id, m, j, p;

	for (p = 0; p < PAGES; p++) {
		if (!(atomic_load(&z->table[p].flags) & SLOT_SHARED))
			continue;
		id = (uint32_t)atomic_load(&z->table[p].handle);
		for (j = 0; j < n && seen[j] != id; j++)
			;
		if (j < n)
			continue;
		seen[n++] = id;
		m = dedup_meta(z->dedup, id);
		refs += (m & SLOT_GROUPED) &&
			(uint32_t)dedup_handle(z->dedup, id) == frame;
	}
	return refs;
}

static void final_check(struct zram *z, struct ctx *w)
{
	struct zram_stats s;
	unsigned int p, q;

	for (p = 0; p < PAGES; p++) {
		uint32_t f = atomic_load(&z->table[p].flags), refs = 0;
		uint32_t id = (uint32_t)atomic_load(&z->table[p].handle);

		uint32_t kind = f & (SLOT_GROUPED | SLOT_SHARED);

		CHECK(page_is(z, p, w[p % WRITERS].last[p]));
		if (!kind)
			continue;
		for (q = 0; q < PAGES; q++)
			refs += (atomic_load(&z->table[q].flags) & kind) &&
				(uint32_t)atomic_load(&z->table[q].handle) ==
					id;
		if (kind == SLOT_GROUPED)
			CHECK_EQ(group_refs(z->groups, id),
				 refs + entry_refs(z, id));
		else
			CHECK_EQ(dedup_refs(z->dedup, id), refs);
	}
	CHECK_EQ(zram_discard(z, 0, zram_disksize(z)), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, 0);
	CHECK_EQ(s.grouped_pages, 0);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.mem_used_total, 0);
	/* frames gave their dictionary counts back (writes are lz4) */
	for (p = 0; p < ZRAM_DICT_SLOTS; p++)
		CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].pages[p]),
			 0);
}

int main(void)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .algorithm = "lz4"};
	struct ctx w[WRITERS], r[READERS], bg[4];
	static unsigned char samples[64][ZRAM_PAGE_SIZE];
	struct stress_crew crew;
	_Atomic long groups = 0;
	uint64_t rs = harness_seed();
	unsigned char buf[ZRAM_PAGE_SIZE];
	unsigned int i;
	struct zram *z;
	size_t j;

	page_make(common, 1u << 20, 1); /* page 2^20: no real page's */
	memset(common, 0, 16);		/* no header either */
	for (j = 0; j < 64; j++)
		page_make(samples[j], j, 0);
	REQUIRE(dict_train_pages(ZRAM_CODEC_ZSTD, samples, 64, 4096, &dicts[0],
				 &dict_sizes[0]) == 0);
	REQUIRE(dict_train_pages(ZRAM_CODEC_ZSTD, samples, 64, 2048, &dicts[1],
				 &dict_sizes[1]) == 0);
	REQUIRE(zram_create(&cfg, &z) == 0);
	/* every page starts as version 0 of itself: the first passes group */
	for (j = 0; j < PAGES; j++) {
		page_make(buf, j, 0);
		REQUIRE(zram_write(z, buf, ZRAM_PAGE_SIZE,
				   j * ZRAM_PAGE_SIZE) ==
			(ssize_t)ZRAM_PAGE_SIZE);
	}
	stress_crew_init(&crew);
	for (i = 0; i < 4; i++) {
		bg[i] = (struct ctx){
			.z = z, .id = i, .stop = &crew.stop, .groups = &groups};
		stress_background(&crew, background, &bg[i]);
	}
	for (i = 0; i < READERS; i++) {
		r[i] = (struct ctx){.z = z,
				    .seed = harness_rand(&rs),
				    .stop = &crew.stop,
				    .bad = &crew.bad};
		stress_background(&crew, reader, &r[i]);
	}
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct ctx){.z = z,
				    .seed = harness_rand(&rs),
				    .id = i,
				    .iters = stress_iters(20000, 1),
				    .stop = &crew.stop,
				    .bad = &crew.bad};
		for (j = 0; j < PAGES; j++)
			w[i].last[j] = 0;
		stress_worker(&crew, writer, &w[i]);
	}
	CHECK_EQ(stress_join(&crew), 0);
	fprintf(stderr, "zram_group_race: %ld pages grouped\n",
		atomic_load(&groups));
	fprintf(stderr, "zram_group_race: %ld dictionary replacements\n",
		atomic_load(&dict_swaps));
	CHECK(atomic_load(&groups) > 0);
	CHECK(atomic_load(&dict_swaps) > 1);
	CHECK(dict_frames_seen > 0);
	final_check(z, w);
	zram_destroy(z);
	free(dicts[0]);
	free(dicts[1]);
	return harness_finish("zram_group_race");
}
