/*
 * zram_group.c - grouped frames of cold pages: the cases the model test
 * does not aim at.
 *
 * - Which pages: a run with a same-filled page and a huge page in it
 *   groups only the compressed pages around them, cut at those; a shared
 *   (dedup) page joins a run, its entry moved into the frame for all its
 *   sharers, and stays in the index: a later write of the same page shares
 *   the member (no new object), a sharer rewritten leaves the others
 *   reading the frame; two neighbours sharing one entry cut the run
 *   between them (a frame never holds one entry's page twice); non-idle
 *   pages are left alone; a run of one is not grouped.
 * - Entries in frames (dedup on): pages and their copies elsewhere on the
 *   disk, grouped: every entry in a frame, the pool holds frames only; a
 *   snapshot saves and restores every page, shared as before; writeback of
 *   one sharer gives it a page of its own, `writeback idle` takes all and
 *   every frame goes; a discard gives every byte, block and dictionary
 *   count back.
 * - The per-thread frame buffer: a frame read into it, then every member
 *   rewritten (the frame dies and its id, and likely its pool objects, are
 *   reused by the next frame of other bytes): a read must return the new
 *   bytes, never the buffered old frame.
 * - Frames longer than one pool object (in parts), compaction after three
 *   quarters of the plain objects around them and of their members were
 *   discarded (the frames' tails move), every survivor read back, and a
 *   discard of the whole disk giving every byte back.
 * - Resize: a shrink that would cut a grouped page is refused (-EBUSY) and
 *   changes nothing; once the pages past the new end are discarded (their
 *   frame loses those members, keeps the others) it succeeds, and the
 *   frame's pages before the end still read back.
 * - The policy: group= range checked by zram_policy_set(); the policy
 *   thread with idle_after=0,group=on groups by itself.
 * - group_level: every level from 1 to 19 reads back what was written, and
 *   a higher level makes smaller frames of these pages (19 below 1: a pass
 *   that ignored the level would fail); levels out of range are refused by
 *   zram_policy_set() and change nothing, 0 is the default (3).
 * - The dictionary: with a zstd dictionary live, frames are compressed
 *   with it (entry's dict set, its index counted once per frame in the
 *   params' pages, frames smaller than without it); a new dictionary does
 *   not free the old one while frames need it, the frames still read back;
 *   the last member's discard gives the count back.
 * - Writeback of members (frames made with a dictionary): one member by
 *   page_index goes with a page of its own (compressed again with the
 *   primary codec and the current dictionary, counted on it) while its
 *   frame stays for the others; then `writeback idle` takes the rest and
 *   the frames go. A new dictionary does not free the one the written-back
 *   copies need; every page reads back; a discard of the whole disk gives
 *   back every block and every dictionary count.
 * - NOGROUP (set on the members of a run whose frame did not shrink):
 *   such a page is left out of runs (it cuts them) until it is written
 *   again, which clears the mark.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "harness.h"
#include "zram_fixture.h"
#include "zram.h"
#include "zram_attr.h"
#include "slot_content.h"

#define PG ZRAM_PAGE_SIZE

static void random_page(unsigned char *p, uint64_t seed, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(harness_rand(&seed) >> 33);
}

static uint64_t group_now(struct zram *z, unsigned int pages)
{
	uint64_t n;

	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	pthread_mutex_lock(&z->pp_lock);
	n = group_idle(z, pages, 0);
	pthread_mutex_unlock(&z->pp_lock);
	return n;
}

static bool slot_grouped(struct zram *z, uint64_t i)
{
	return atomic_load(&z->table[i].flags) & SLOT_GROUPED;
}

static void page_check(struct zram *z, uint64_t i, const unsigned char *want)
{
	unsigned char back[PG];

	CHECK_EQ(zram_read(z, back, PG, i * PG), PG);
	CHECK(!memcmp(back, want, PG));
}

/* pages 0..11: T T S T H T T D T T T (T text, S same, H huge, D shared) */
static void test_kinds(void)
{
	struct zram_config cfg = {.disksize = 64 * PG, .algorithm = "lz4"};
	unsigned char pg[12][PG];
	struct zram_stats s, s2;
	struct zram *z;
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 12; i++)
		harness_text_fill(pg[i], PG, i);
	memset(pg[2], 0x5a, PG);
	random_page(pg[4], 4, PG);
	harness_text_fill(pg[7], PG, 100); /* the same as page 20: shared */
	for (i = 0; i < 12; i++)
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	CHECK_EQ(zram_dedup_set(z, true), 0);
	CHECK_EQ(zram_write(z, pg[7], PG, 20 * PG), PG);
	CHECK_EQ(zram_write(z, pg[7], PG, 7 * PG), PG);
	CHECK(atomic_load(&z->table[7].flags) & SLOT_SHARED);
	/* an entry of one slot */
	CHECK_EQ(zram_write(z, pg[11], PG, 11 * PG), PG);
	CHECK(atomic_load(&z->table[11].flags) & SLOT_SHARED);
	/* runs: [0,1] [3] [5..8] [9..11] -> 2 + 4 + 3 pages (20: alone) */
	CHECK_EQ(group_now(z, 4), 9);
	for (i = 0; i < 12; i++)
		CHECK(slot_grouped(z, i) ==
		      (i <= 1 || (i >= 5 && i != 7 && i != 11)));
	for (i = 7; i <= 11; i += 4) { /* sharers whose entry is a member */
		CHECK(slot_kind(atomic_load(&z->table[i].flags)) ==
		      SLOT_KIND_SHARED);
		CHECK(dedup_meta(z->dedup,
				 (uint32_t)atomic_load(&z->table[i].handle)) &
		      SLOT_GROUPED);
	}
	zram_stats_get(z, &s);
	CHECK_EQ(s.grouped_pages, 9); /* 7 slots, 2 entries */
	CHECK_EQ(s.group_objects, 3);
	CHECK_EQ(s.same_pages, 1);
	CHECK_EQ(s.huge_pages, 1);
	CHECK_EQ(s.dedup_objects, 2); /* both entries stayed, in frames */
	CHECK_EQ(s.dup_pages, 1);
	CHECK_EQ(s.dedup_hits, 1); /* page 7's write found page 20's */
	/* the pool: the frames, page 3's object and page 4 raw */
	CHECK_EQ(s.compr_data_size,
		 s.group_data_size + PG +
			 (atomic_load(&z->table[3].flags) & SLOT_SIZE_MASK));
	for (i = 0; i < 12; i++)
		page_check(z, i, pg[i]);
	page_check(z, 20, pg[7]);
	/* a later write of a grouped page's content shares its member */
	CHECK_EQ(zram_write(z, pg[11], PG, 30 * PG), PG);
	zram_stats_get(z, &s2);
	CHECK_EQ(s2.dup_pages, 2);
	CHECK_EQ(s2.dedup_hits, 2);
	CHECK_EQ(s2.compr_data_size, s.compr_data_size);
	CHECK_EQ(s2.dedup_objects, 2);
	page_check(z, 30, pg[11]);
	/* a sharer rewritten: the others keep reading the frame */
	CHECK_EQ(zram_write(z, pg[0], PG, 7 * PG), PG);
	page_check(z, 20, pg[7]);
	page_check(z, 7, pg[0]);
	/* nothing idle: nothing grouped (reads made every page hot) */
	pthread_mutex_lock(&z->pp_lock);
	CHECK_EQ(group_idle(z, 4, 0), 0);
	pthread_mutex_unlock(&z->pp_lock);
	CHECK_EQ(zram_discard(z, 0, 64 * PG), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, 0);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.mem_used_total, 0);
	CHECK_EQ(s.dedup_hits, 2); /* ever: a discard keeps it */
	CHECK_EQ(zram_reset(z), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.dedup_hits, 0); /* since the reset */
	zram_destroy(z);
}

/* pages 0..3: A S S B, the two S one entry: runs [0,1] and [3] (alone) */
static void test_twin_sharers(void)
{
	struct zram_config cfg = {
		.disksize = 16 * PG, .algorithm = "zstd", .dedup = true};
	unsigned char pg[4][PG];
	struct group_frame f;
	struct zram_stats s;
	struct zram *z;
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 4; i++)
		harness_text_fill(pg[i], PG, i == 2 ? 1 : i);
	for (i = 0; i < 4; i++)
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	CHECK_EQ(group_now(z, 4), 2);
	group_frame_get(z->groups, (uint32_t)atomic_load(&z->table[0].handle),
			&f);
	CHECK_EQ(f.npages, 2);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, 1);
	CHECK_EQ(s.grouped_pages, 2); /* slot 0 and the entry of 1 and 2 */
	CHECK(!slot_grouped(z, 3));
	for (i = 0; i < 4; i++)
		page_check(z, i, pg[i]);
	zram_destroy(z);
}

/* The frame buffer never answers for a dead frame. */
static void test_stale_buffer(void)
{
	struct zram_config cfg = {.disksize = 16 * PG, .algorithm = "zstd"};
	unsigned char a[PG], b[PG];
	struct zram *z;
	uint32_t id0;
	uint64_t i;
	int round;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 4; i++) {
			harness_text_fill(a, PG, i + 1000 * (uint64_t)round);
			CHECK_EQ(zram_write(z, a, PG, i * PG), PG);
		}
		CHECK_EQ(group_now(z, 4), 4);
		id0 = (uint32_t)atomic_load(&z->table[0].handle);
		CHECK_EQ(id0, 0); /* the one id, reused every round */
		harness_text_fill(b, PG, 1 + 1000 * (uint64_t)round);
		page_check(z, 1, b); /* the frame is in the buffer now */
		harness_text_fill(b, PG, 2 + 1000 * (uint64_t)round);
		page_check(z, 2, b); /* a neighbour, from the buffer */
	}
	CHECK_EQ(group_refs(z->groups, 0), 4);
	zram_destroy(z);
}

/*
 * Frames in parts; compaction moving them: plain filler objects of many
 * sizes around the frames' tails, three quarters of them discarded, then
 * compact; then everything back.
 */
static void test_parts_compaction(void)
{
	struct zram_config cfg = {.disksize = 2048 * PG, .algorithm = "lz4"};
	static unsigned char pg[1024][PG];
	unsigned char fill[PG];
	struct zram_stats s;
	struct zram *z;
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 1024; i++) {
		harness_text_fill(pg[i], PG, i);
		random_page(pg[i], i, 1000); /* 16 of them > 4 parts */
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	}
	CHECK_EQ(group_now(z, 16), 1024);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, 64);
	CHECK(s.group_data_size > 64 * 4 * GROUP_PART_SIZE); /* in parts */
	for (i = 0; i < 1024; i++) {
		harness_text_fill(fill, PG, i + 5000);
		random_page(fill, i, (i % 40) * 60);
		CHECK_EQ(zram_write(z, fill, PG, (1024 + i) * PG), PG);
	}
	for (i = 0; i < 1024; i++)
		if (i % 4)
			CHECK_EQ(zram_discard(z, (1024 + i) * PG, PG), 0);
	/* three of every four members go too: frames stay */
	for (i = 0; i < 1024; i++)
		if (i % 4)
			CHECK_EQ(zram_discard(z, i * PG, PG), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.grouped_pages, 256);
	CHECK_EQ(s.group_objects, 64);
	CHECK(zram_compact(z) > 0);
	for (i = 0; i < 1024; i += 4)
		page_check(z, i, pg[i]);
	CHECK_EQ(zram_discard(z, 0, 2048 * PG), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, 0);
	CHECK_EQ(s.grouped_pages, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.mem_used_total, 0);
	zram_destroy(z);
}

static void test_resize(void)
{
	struct zram_config cfg = {.disksize = 64 * PG, .algorithm = "zstd"};
	unsigned char pg[PG];
	struct zram_stats s;
	struct zram *z;
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 64; i++) {
		harness_text_fill(pg, PG, i);
		CHECK_EQ(zram_write(z, pg, PG, i * PG), PG);
	}
	CHECK_EQ(group_now(z, 8), 64);
	/* the frame of pages 24..31 straddles the new end, 28 */
	CHECK_EQ(zram_resize(z, 28 * PG), -EBUSY);
	CHECK_EQ(zram_disksize(z), 64 * PG);
	CHECK_EQ(zram_discard(z, 28 * PG, 36 * PG), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.grouped_pages, 28);
	CHECK_EQ(s.group_objects, 4); /* 0..7, 8..15, 16..23, 24..27 */
	CHECK_EQ(zram_resize(z, 28 * PG), 0);
	for (i = 0; i < 28; i++) {
		harness_text_fill(pg, PG, i);
		page_check(z, i, pg);
	}
	zram_destroy(z);
}

/* The policy's group= key, through the typed call and the thread. */
static void test_policy(void)
{
	struct zram_config cfg = {.disksize = 64 * PG, .algorithm = "zstd"};
	struct zram_policy p = {.idle_after = 0, .interval = 1};
	unsigned char pg[PG];
	struct zram_stats s;
	struct zram *z;
	uint64_t i;
	int waits;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 64; i++) {
		harness_text_fill(pg, PG, i);
		CHECK_EQ(zram_write(z, pg, PG, i * PG), PG);
	}
	p.group = 1;
	CHECK_EQ(zram_policy_set(z, &p), -EINVAL);
	p.group = GROUP_PAGES_MAX + 1;
	CHECK_EQ(zram_policy_set(z, &p), -EINVAL);
	p.group = GROUP_PAGES_DEFAULT;
	CHECK_EQ(zram_policy_set(z, &p), 0);
	for (waits = 0; waits < 100; waits++) {
		zram_stats_get(z, &s);
		if (s.grouped_pages == 64)
			break;
		usleep(100 * 1000);
	}
	CHECK_EQ(s.grouped_pages, 64);
	CHECK_EQ(s.group_objects, 16);
	for (i = 0; i < 64; i++) {
		harness_text_fill(pg, PG, i);
		page_check(z, i, pg);
	}
	zram_destroy(z);
}

/* @n pages of shared-vocabulary text (what a dictionary learns) */
static void vocab_pages(unsigned char (*pg)[PG], uint64_t n, uint64_t seed)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		harness_text_fill(pg[i], PG, seed * 1000 + i);
}

/* Frames of 16 of @n pages at @level, with a dictionary trained on the
 * pages themselves if @dict; returns group_data_size. */
static uint64_t group_at(unsigned char (*pg)[PG], uint64_t n,
			 unsigned int level, bool dict)
{
	struct zram_config cfg = {.disksize = 256 * PG, .algorithm = "zstd"};
	struct zram_stats s;
	struct zram *z;
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < n; i++)
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	if (dict)
		CHECK_EQ(zram_dict_train(z, n, 4096), 0);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	pthread_mutex_lock(&z->pp_lock);
	CHECK_EQ(group_idle(z, 16, level), n);
	pthread_mutex_unlock(&z->pp_lock);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, n / 16);
	for (i = 0; i < n; i++)
		page_check(z, i, pg[i]);
	zram_destroy(z);
	return s.group_data_size;
}

static void test_levels(void)
{
	static unsigned char pg[64][PG];
	uint64_t size[GROUP_LEVEL_MAX + 1];
	unsigned int level;

	vocab_pages(pg, 64, 7);
	for (level = GROUP_LEVEL_MIN; level <= GROUP_LEVEL_MAX; level++)
		size[level] = group_at(pg, 64, level, false);
	CHECK(size[19] < size[1]);
	/* 0 is the default level */
	CHECK_EQ(group_at(pg, 64, 0, false), size[GROUP_LEVEL_DEFAULT]);
	/* a dictionary trained on these pages makes smaller frames */
	CHECK(group_at(pg, 64, 9, true) < size[9]);
}

/* zram_policy_set(): group_level's range; 0 stands for the default. */
static void test_level_policy(void)
{
	struct zram_config cfg = {.disksize = 64 * PG, .algorithm = "zstd"};
	struct zram_policy p = {.idle_after = 60, .interval = 5, .group = 8};
	struct zram_policy got;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	zram_policy_get(z, &got);
	CHECK_EQ(got.group_level, GROUP_LEVEL_DEFAULT);
	p.group_level = GROUP_LEVEL_MAX + 1;
	CHECK_EQ(zram_policy_set(z, &p), -EINVAL);
	zram_policy_get(z, &got);
	CHECK_EQ(got.group, 0); /* the refused setting changed nothing */
	p.group_level = 0;
	CHECK_EQ(zram_policy_set(z, &p), 0);
	zram_policy_get(z, &got);
	CHECK_EQ(got.group_level, GROUP_LEVEL_DEFAULT);
	CHECK_EQ(got.group, 8);
	p.group_level = GROUP_LEVEL_MAX;
	CHECK_EQ(zram_policy_set(z, &p), 0);
	zram_policy_get(z, &got);
	CHECK_EQ(got.group_level, GROUP_LEVEL_MAX);
	zram_destroy(z);
}

static uint64_t dict_pages(struct zram *z, unsigned int idx)
{
	return atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].pages[idx]);
}

/* Frames with the store's dictionary, across a replacement. */
static void test_dict(void)
{
	struct zram_config cfg = {.disksize = 256 * PG, .algorithm = "zstd"};
	static unsigned char pg[128][PG];
	struct zram_codec_params *par;
	struct group_frame f;
	struct zram_dict *d0;
	unsigned int idx;
	uint64_t i, before;
	struct zram *z;

	vocab_pages(pg, 128, 11);
	REQUIRE(zram_create(&cfg, &z) == 0);
	par = &z->params[0][ZRAM_CODEC_ZSTD];
	for (i = 0; i < 128; i++) /* no dictionary yet */
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	CHECK_EQ(zram_dict_train(z, 128, 4096), 0);
	d0 = atomic_load(&par->dict);
	REQUIRE(d0 != NULL);
	idx = (unsigned int)(atomic_load(&par->cur) % ZRAM_DICT_SLOTS);
	before = dict_pages(z, idx); /* no page of the new one yet: 0 */
	CHECK_EQ(before, 0);
	CHECK_EQ(group_now(z, 16), 128);
	/* one count per frame */
	CHECK_EQ(dict_pages(z, idx), 8);
	group_frame_get(z->groups, (uint32_t)atomic_load(&z->table[5].handle),
			&f);
	CHECK_EQ(f.dict, idx + 1);
	CHECK_EQ(zram_discard(z, 0, 32 * PG), 0); /* two frames go */
	CHECK_EQ(dict_pages(z, idx), 6);
	/* a new dictionary: the old one stays while frames need it */
	CHECK_EQ(zram_dict_train(z, 64, 2048), 0);
	CHECK(atomic_load(&par->dict) != d0);
	CHECK(atomic_load(&par->dicts[idx]) == d0);
	for (i = 32; i < 128; i++)
		page_check(z, i, pg[i]);
	/* the last members go: the count is back to none */
	CHECK_EQ(zram_discard(z, 32 * PG, 96 * PG), 0);
	CHECK_EQ(dict_pages(z, idx), 0);
	zram_destroy(z);
}

static void test_writeback(void)
{
	char dir[] = "/tmp/zram_group.XXXXXX", path[64];
	struct zram_config cfg = {.disksize = 256 * PG, .algorithm = "zstd"};
	static unsigned char pg[128][PG];
	struct zram_codec_params *par;
	struct zram_stats s;
	struct zram_dict *d0;
	unsigned int idx;
	struct zram *z;
	uint64_t i;

	fixture_backing(dir, path, sizeof(path), 16 << 20);
	cfg.backing_dev = path;
	vocab_pages(pg, 128, 12);
	REQUIRE(zram_create(&cfg, &z) == 0);
	par = &z->params[0][ZRAM_CODEC_ZSTD];
	for (i = 0; i < 128; i++)
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	CHECK_EQ(zram_dict_train(z, 128, 4096), 0);
	d0 = atomic_load(&par->dict);
	idx = (unsigned int)(atomic_load(&par->cur) % ZRAM_DICT_SLOTS);
	CHECK_EQ(group_now(z, 16), 128);
	CHECK_EQ(dict_pages(z, idx), 8); /* one count per frame */
	/* one member: its frame stays for the 15 others */
	CHECK_EQ(attr_store(z, "writeback", "page_index=5"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 1);
	CHECK_EQ(s.grouped_pages, 127);
	CHECK_EQ(s.group_objects, 8);
	CHECK(!slot_grouped(z, 5));
	CHECK_EQ(dict_pages(z, idx), 9); /* the copy uses the dictionary */
	for (i = 0; i < 16; i++)
		page_check(z, i, pg[i]);
	/* the rest: every frame goes */
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "writeback", "idle"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 128);
	CHECK_EQ(s.grouped_pages, 0);
	CHECK_EQ(s.group_objects, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(dict_pages(z, idx), 128);
	/* a new dictionary: the copies keep the old one */
	for (i = 0; i < 64; i++)
		CHECK_EQ(zram_write(z, pg[i], PG, i * PG), PG);
	CHECK_EQ(zram_dict_train(z, 64, 2048), 0);
	CHECK(atomic_load(&par->dict) != d0);
	CHECK(atomic_load(&par->dicts[idx]) == d0);
	for (i = 0; i < 128; i++)
		page_check(z, i, pg[i]);
	CHECK_EQ(zram_discard(z, 0, 256 * PG), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(s.backing_used, 0);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(dict_pages(z, idx), 0);
	CHECK_EQ(dict_pages(z, (idx + 1) % ZRAM_DICT_SLOTS), 0);
	zram_destroy(z);
	unlink(path);
	rmdir(dir);
}

/*
 * Pages 0..63 (text) and their copies at 64..127 (dedup on): grouping
 * moves every entry into a frame through the first sharer it meets; the
 * copies' runs find their entries members already and group nothing.
 */
static void test_dedup_frames(void)
{
	char dir[] = "/tmp/zram_group.XXXXXX", path[64], snap[64], err[256];
	struct zram_config cfg = {
		.disksize = 256 * PG, .algorithm = "zstd", .dedup = true};
	static unsigned char pg[64][PG];
	struct zram_stats s, s2;
	struct zram *z, *r;
	uint64_t i;

	fixture_backing(dir, path, sizeof(path), 16 << 20);
	snprintf(snap, sizeof(snap), "%s/snap", dir);
	cfg.backing_dev = path;
	vocab_pages(pg, 64, 13);
	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 128; i++)
		CHECK_EQ(zram_write(z, pg[i % 64], PG, i * PG), PG);
	CHECK_EQ(group_now(z, 8), 64);
	zram_stats_get(z, &s);
	CHECK_EQ(s.group_objects, 8);
	CHECK_EQ(s.grouped_pages, 64); /* entries: each page once */
	CHECK_EQ(s.dedup_objects, 64);
	CHECK_EQ(s.dup_pages, 64);
	CHECK_EQ(s.compr_data_size, s.group_data_size); /* frames only */
	for (i = 0; i < 128; i++)
		page_check(z, i, pg[i % 64]);
	/* the rewriting passes leave entries in frames alone: auto_dict's
	 * move to a new dictionary, recompression with a secondary codec */
	CHECK_EQ(zram_dict_train(z, 64, 4096), 0);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	pthread_mutex_lock(&z->pp_lock);
	CHECK_EQ(dict_refresh_idle(z), 0);
	pthread_mutex_unlock(&z->pp_lock);
	CHECK_EQ(attr_store(z, "recomp_algorithm", "algo=lz4hc"), 0);
	CHECK_EQ(attr_store(z, "recompress", "type=idle"), 0);
	zram_stats_get(z, &s2);
	CHECK_EQ(s2.group_objects, 8);
	CHECK_EQ(s2.grouped_pages, 64);
	CHECK_EQ(s2.compr_data_size, s.compr_data_size);
	for (i = 0; i < 64; i++)
		CHECK(dedup_meta(z->dedup,
				 (uint32_t)atomic_load(&z->table[i].handle)) &
		      SLOT_GROUPED);
	for (i = 0; i < 128; i++)
		page_check(z, i, pg[i % 64]);
	/* a snapshot: every page, shared as before */
	CHECK_EQ(zram_save(z, snap), 0);
	CHECK_EQ(zram_restore(snap, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	for (i = 0; i < 128; i++)
		page_check(r, i, pg[i % 64]);
	zram_stats_get(r, &s2);
	CHECK_EQ(s2.dup_pages, 64);
	CHECK_EQ(s2.dedup_objects, 64);
	zram_destroy(r);
	/* one sharer written back: a page of its own; its twin reads on */
	CHECK_EQ(attr_store(z, "writeback", "page_index=64"), 0);
	zram_stats_get(z, &s2);
	CHECK_EQ(s2.bd_count, 1);
	CHECK_EQ(s2.dup_pages, 63);
	CHECK_EQ(s2.compr_data_size, s.compr_data_size);
	page_check(z, 64, pg[0]);
	page_check(z, 0, pg[0]);
	/* then everything: every entry and frame goes */
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "writeback", "idle"), 0);
	zram_stats_get(z, &s2);
	CHECK_EQ(s2.bd_count, 128);
	CHECK_EQ(s2.group_objects, 0);
	CHECK_EQ(s2.grouped_pages, 0);
	CHECK_EQ(s2.dedup_objects, 0);
	CHECK_EQ(s2.compr_data_size, 0);
	for (i = 0; i < 128; i++)
		page_check(z, i, pg[i % 64]);
	CHECK_EQ(zram_discard(z, 0, 256 * PG), 0);
	zram_stats_get(z, &s2);
	CHECK_EQ(s2.bd_count, 0);
	CHECK_EQ(s2.backing_used, 0);
	CHECK_EQ(s2.pages_stored, 0);
	for (i = 0; i < ZRAM_DICT_SLOTS; i++)
		CHECK_EQ(dict_pages(z, (unsigned int)i), 0);
	zram_destroy(z);
	unlink(snap);
	unlink(path);
	rmdir(dir);
}

/* A NOGROUP page cuts runs; a write of it clears the mark. */
static void test_nogroup(void)
{
	struct zram_config cfg = {.disksize = 16 * PG, .algorithm = "zstd"};
	unsigned char pg[PG];
	struct zram_slot *slot;
	struct zram *z;
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 8; i++) {
		harness_text_fill(pg, PG, i);
		CHECK_EQ(zram_write(z, pg, PG, i * PG), PG);
	}
	slot = &z->table[3];
	slot_lock(z, slot);
	slot_flags_update(slot, 0, SLOT_NOGROUP);
	slot_unlock(slot);
	/* runs [0..2] and [4..7] */
	CHECK_EQ(group_now(z, 16), 7);
	CHECK(!slot_grouped(z, 3));
	CHECK(atomic_load(&slot->flags) & SLOT_NOGROUP);
	harness_text_fill(pg, PG, 3);
	CHECK_EQ(zram_write(z, pg, PG, 3 * PG), PG);
	CHECK(!(atomic_load(&slot->flags) & SLOT_NOGROUP));
	CHECK_EQ(group_now(z, 16), 0); /* a run of one: not grouped */
	harness_text_fill(pg, PG, 2);  /* page 2 rewritten: a run [2, 3] */
	CHECK_EQ(zram_write(z, pg, PG, 2 * PG), PG);
	CHECK_EQ(group_now(z, 16), 2);
	CHECK(slot_grouped(z, 3));
	for (i = 0; i < 8; i++) {
		harness_text_fill(pg, PG, i);
		page_check(z, i, pg);
	}
	zram_destroy(z);
}

int main(void)
{
	test_kinds();
	test_twin_sharers();
	test_stale_buffer();
	test_parts_compaction();
	test_resize();
	test_policy();
	test_levels();
	test_level_policy();
	test_dict();
	test_writeback();
	test_dedup_frames();
	test_nogroup();
	return harness_finish("zram_group");
}
