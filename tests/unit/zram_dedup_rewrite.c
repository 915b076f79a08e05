/*
 * zram_dedup_rewrite.c - the background passes move a shared
 * (deduplicated) object once, for all its sharers, and keep the sharing:
 *   - auto_dict's rewrite of idle pages with a new dictionary
 *     (dict_refresh_idle) rewrites a shared entry's object in place, so a
 *     sharer that is not idle moves with the idle one: dup_pages and
 *     dedup_objects unchanged, every entry on the current dictionary, the
 *     pool smaller, every page as written (it used to move only the idle
 *     sharer to a new object: two objects for one page), and a snapshot
 *     taken then restores every page, shared as before;
 *   - recompress type=idle rewrites each shared entry once with the
 *     secondary codec (it used to skip shared pages, and with dedup on
 *     every page is in the index);
 *   - writeback with dedup on: one sharer of a pair goes with a copy of
 *     its own (its twin keeps the entry, alone now; the object stays);
 *     then `writeback idle` takes every page, sharers or not, and frees
 *     every object (it used to keep shared objects in memory: mem_target
 *     could not go below them); all read back, and a discard gives every
 *     byte, block and dictionary count back.
 * Layout: pages [0, UNIQ) hold UNIQ different pages; pages [UNIQ, PAGES)
 * repeat the first PAGES - UNIQ of them, so dup_pages = PAGES - UNIQ.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "zram_fixture.h"
#include "slot_content.h"
#include "zram.h"
#include "zram_attr.h"
#include "zram_internal.h"

#define UNIQ 1024u
#define PAGES 1536u
#define DUPS (PAGES - UNIQ)

static unsigned char page[ZRAM_PAGE_SIZE], back[ZRAM_PAGE_SIZE];

/* Page @i's content: text of a shared vocabulary, one of UNIQ kinds. */
static void page_make(unsigned char *p, uint32_t i)
{
	harness_text_fill(p, ZRAM_PAGE_SIZE, i % UNIQ);
}

/* A dedup store of @algo (with the backing file @backing, or NULL) that
 * holds the layout. */
static struct zram *store_make(const char *algo, const char *backing)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .algorithm = algo,
				  .dedup = true};
	struct zram *z;
	uint32_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	if (backing)
		REQUIRE(attr_store(z, "backing_dev", backing) == 0);
	for (i = 0; i < PAGES; i++) {
		page_make(page, i);
		REQUIRE(zram_write(z, page, ZRAM_PAGE_SIZE,
				   (uint64_t)i * ZRAM_PAGE_SIZE) ==
			ZRAM_PAGE_SIZE);
	}
	return z;
}

static void check_all(struct zram *z)
{
	unsigned int i, bad = 0;

	for (i = 0; i < PAGES; i++) {
		page_make(page, i);
		CHECK_EQ(zram_read(z, back, ZRAM_PAGE_SIZE,
				   (uint64_t)i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
		bad += !!memcmp(page, back, ZRAM_PAGE_SIZE);
	}
	CHECK_EQ(bad, 0);
}

/* The object description of every shared page's entry. */
static uint32_t entry_meta(struct zram *z, uint32_t i)
{
	uint32_t f = atomic_load(&z->table[i].flags);

	REQUIRE(slot_kind(f) == SLOT_KIND_SHARED);
	return dedup_meta(z->dedup, (uint32_t)atomic_load(&z->table[i].handle));
}

/* Touch the repeats: only their twins in [0, DUPS) stay idle. */
static void touch_repeats(struct zram *z)
{
	uint32_t i;

	for (i = UNIQ; i < PAGES; i++)
		REQUIRE(zram_read(z, back, ZRAM_PAGE_SIZE,
				  (uint64_t)i * ZRAM_PAGE_SIZE) ==
			ZRAM_PAGE_SIZE);
}

/*
 * A snapshot right after a rewrite, while the repeats' slots still hold
 * their old copy of the object's description: it saves the object's own,
 * and restores every page, shared as before.
 */
static void snapshot_check(struct zram *z)
{
	char dir[] = "/tmp/zram_dedup_rewrite.XXXXXX", path[64], err[256];
	struct zram_stats s;
	struct zram *r = NULL;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/snap", dir);
	CHECK_EQ(zram_save(z, path), 0);
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	unlink(path);
	rmdir(dir);
	if (!r) {
		fprintf(stderr, "restore: %s\n", err);
		return;
	}
	check_all(r);
	zram_stats_get(r, &s);
	CHECK_EQ(s.dup_pages, DUPS);
	zram_destroy(r);
}

static void test_dict_refresh(void)
{
	struct zram *z = store_make("zstd", NULL);
	struct zram_codec_params *p = &z->params[0][ZRAM_CODEC_ZSTD];
	struct zram_stats s0, s1;
	uint32_t i, stale = 0;
	uint64_t n, cur;

	zram_stats_get(z, &s0);
	CHECK_EQ(s0.dup_pages, DUPS);
	CHECK_EQ(s0.dedup_objects, UNIQ);
	CHECK_EQ(zram_dict_train(z, 1024, 16384), 0);
	CHECK_EQ(zram_idle_mark(z, ZRAM_IDLE_ALL), PAGES);
	touch_repeats(z);
	pthread_mutex_lock(&z->pp_lock);
	n = dict_refresh_idle(z);
	pthread_mutex_unlock(&z->pp_lock);
	zram_stats_get(z, &s1);
	fprintf(stderr,
		"dict refresh: %llu rewritten, compressed %llu -> %llu, "
		"dup_pages %llu -> %llu\n",
		(unsigned long long)n, (unsigned long long)s0.compr_data_size,
		(unsigned long long)s1.compr_data_size,
		(unsigned long long)s0.dup_pages,
		(unsigned long long)s1.dup_pages);
	/* one rewrite per object, none per sharer */
	CHECK(n >= UNIQ - 8 && n <= UNIQ);
	CHECK_EQ(s1.dup_pages, DUPS);
	CHECK_EQ(s1.dedup_objects, UNIQ);
	CHECK(s1.compr_data_size < s0.compr_data_size);
	cur = atomic_load(&p->cur);
	for (i = 0; i < PAGES; i++) {
		uint32_t m = entry_meta(z, i);

		stale += !(m & SLOT_HUGE) &&
			 slot_dict_idx(m) != cur % ZRAM_DICT_SLOTS;
	}
	CHECK(stale <= UNIQ - n);
	check_all(z);
	snapshot_check(z);
	/* a second pass finds nothing to do */
	zram_idle_mark(z, ZRAM_IDLE_ALL);
	pthread_mutex_lock(&z->pp_lock);
	CHECK(dict_refresh_idle(z) <= UNIQ - n);
	pthread_mutex_unlock(&z->pp_lock);
	zram_destroy(z);
}

static void test_recompress(void)
{
	struct zram *z = store_make("lz4", NULL);
	struct zram_stats s0, s1;
	uint32_t i, moved = 0;

	CHECK_EQ(attr_store(z, "recomp_algorithm", "algo=zstd"), 0);
	CHECK_EQ(attr_store(z, "algorithm_params", "priority=1 level=9"), 0);
	zram_stats_get(z, &s0);
	CHECK_EQ(zram_idle_mark(z, ZRAM_IDLE_ALL), PAGES);
	touch_repeats(z);
	CHECK_EQ(attr_store(z, "recompress", "type=idle"), 0);
	zram_stats_get(z, &s1);
	fprintf(stderr, "recompress: %llu kept, compressed %llu -> %llu\n",
		(unsigned long long)s1.pages_recompressed,
		(unsigned long long)s0.compr_data_size,
		(unsigned long long)s1.compr_data_size);
	CHECK(s1.pages_recompressed >= UNIQ - 8 &&
	      s1.pages_recompressed <= UNIQ);
	CHECK_EQ(s1.dup_pages, DUPS);
	CHECK_EQ(s1.dedup_objects, UNIQ);
	CHECK(s1.compr_data_size < s0.compr_data_size * 9 / 10);
	for (i = 0; i < PAGES; i++)
		moved += slot_prio(entry_meta(z, i)) == 1;
	CHECK(moved >= PAGES - 16);
	check_all(z);
	zram_destroy(z);
}

static void test_writeback(const char *algo)
{
	char dir[] = "/tmp/zram_dedup_rewrite.XXXXXX", path[64], req[64];
	struct zram_stats s0, s;
	struct zram *z;
	uint32_t i;

	fixture_backing(dir, path, sizeof(path), 16 << 20);
	z = store_make(algo, path);
	if (!strcmp(algo, "zstd")) { /* objects and copies that need one */
		CHECK_EQ(attr_store(z, "train_dict", "samples=256 size=8K"), 0);
		CHECK_EQ(zram_discard(z, 0, zram_disksize(z)), 0);
		for (i = 0; i < PAGES; i++) {
			page_make(page, i);
			REQUIRE(zram_write(z, page, ZRAM_PAGE_SIZE,
					   (uint64_t)i * ZRAM_PAGE_SIZE) ==
				ZRAM_PAGE_SIZE);
		}
		CHECK(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD]
					   .dicts[slot_dict_idx(
						   entry_meta(z, 0))]) != NULL);
	}
	zram_stats_get(z, &s0);
	CHECK_EQ(s0.dup_pages, DUPS);
	/* one sharer of page 0's object: the entry stays for page UNIQ */
	snprintf(req, sizeof(req), "page_index=%u", UNIQ);
	CHECK_EQ(attr_store(z, "writeback", req), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 1);
	CHECK_EQ(s.dup_pages, DUPS - 1);
	CHECK_EQ(s.dedup_objects, s0.dedup_objects);
	CHECK_EQ(s.compr_data_size, s0.compr_data_size);
	CHECK(slot_kind(atomic_load(&z->table[UNIQ].flags)) == SLOT_KIND_WB);
	CHECK(slot_kind(atomic_load(&z->table[0].flags)) == SLOT_KIND_SHARED);
	check_all(z);
	/* every page, shared or not */
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "writeback", "idle"), 0);
	zram_stats_get(z, &s);
	fprintf(stderr, "writeback (%s): %llu pages on the backing store\n",
		algo, (unsigned long long)s.bd_count);
	CHECK_EQ(s.bd_count, PAGES);
	CHECK_EQ(s.dup_pages, 0);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.compr_data_size, 0);
	check_all(z);
	zram_stats_get(z, &s);
	CHECK(s.bd_reads >= PAGES);
	/* a written-back page written again: back in memory and the index */
	page_make(page, UNIQ - 1);
	CHECK_EQ(zram_write(z, page, ZRAM_PAGE_SIZE,
			    (uint64_t)(UNIQ - 1) * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	check_all(z);
	CHECK_EQ(zram_discard(z, 0, zram_disksize(z)), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(s.backing_used, 0);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(fixture_dict_counts_held(z), 0);
	CHECK_EQ(zram_reset(z), 0);
	zram_destroy(z);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	(void)harness_seed();
	test_dict_refresh();
	test_recompress();
	test_writeback("lz4");
	test_writeback("zstd");
	return harness_finish("zram_dedup_rewrite");
}
