/*
 * zram_tier.c - writeback to a backing file, recompression and the policy
 * thread, through the store's control files and typed calls.
 *
 * Properties: a written-back page reads back unchanged and its pool memory
 * is gone; the backing file holds about compr_data_size and emptied blocks
 * are punched; overwriting or discarding a written-back page frees its
 * backing room; every refused request (no backing store, index out of
 * range, budget used up, store full) leaves every page readable and the
 * counters as they were; recompression keeps only objects that land in a
 * smaller size class and marks pages no codec shrinks; the policy thread
 * brings memory under mem_target by itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zram_fixture.h"
#include "zram_attr.h"
#include "slot_content.h"
#include "zram.h"

#define PAGES 256u

static unsigned char data[PAGES][ZRAM_PAGE_SIZE];
static char dir[] = "/tmp/zram_tier.XXXXXX";
static char bpath[256];

/* Text-like pages (compress 3-5x), every 8th random (huge), every 16th
 * zero (same-filled). */
static unsigned char byte_make(unsigned int i, size_t k, uint64_t *rs)
{
	if (i % 8 == 7)
		return (unsigned char)harness_rand(rs);
	if (i % 16 == 0)
		return 0;
	return (unsigned char)("the quick brown fox "[(k / 3 + i) % 20] +
			       (harness_rand(rs) % 13 == 0));
}

static void data_make(uint64_t *rs)
{
	unsigned int i;
	size_t k;

	for (i = 0; i < PAGES; i++)
		for (k = 0; k < ZRAM_PAGE_SIZE; k++)
			data[i][k] = byte_make(i, k, rs);
}

static void write_all(struct zram *z)
{
	unsigned int i;

	for (i = 0; i < PAGES; i++)
		CHECK_EQ(zram_write(z, data[i], ZRAM_PAGE_SIZE,
				    (uint64_t)i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
}

static void check_all(struct zram *z)
{
	static unsigned char buf[ZRAM_PAGE_SIZE];
	unsigned int i, bad = 0;

	for (i = 0; i < PAGES; i++) {
		CHECK_EQ(zram_read(z, buf, ZRAM_PAGE_SIZE,
				   (uint64_t)i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
		bad += !!memcmp(buf, data[i], ZRAM_PAGE_SIZE);
	}
	CHECK_EQ(bad, 0);
}

static void backing_make(uint64_t bytes)
{
	int fd = open(bpath, O_RDWR | O_CREAT | O_TRUNC, 0600);

	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, (off_t)bytes) == 0);
	close(fd);
}

static uint64_t allocated(void)
{
	struct stat sb;

	REQUIRE(stat(bpath, &sb) == 0);
	return (uint64_t)sb.st_blocks * 512;
}

static struct zram *store_make(const char *algo)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .algorithm = algo};
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	return z;
}

static void test_backing_dev(void)
{
	struct zram *z = store_make(NULL);
	char path[300];

	CHECK(!strcmp(attr_show(z, "backing_dev"), "none\n"));
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK_EQ(attr_store(z, "backing_dev", path), -ENOENT);
	CHECK_EQ(attr_store(z, "backing_dev", dir), -EINVAL);
	CHECK_EQ(attr_store(z, "backing_dev", "/dev/null"), -EINVAL);
	CHECK_EQ(attr_store(z, "backing_dev", ""), -EINVAL);
	backing_make(0);
	CHECK_EQ(attr_store(z, "backing_dev", bpath), -EINVAL); /* empty file */
	CHECK(!strcmp(attr_show(z, "backing_dev"), "none\n"));
	CHECK_EQ(attr_store(z, "writeback", "idle"), -ENODEV);
	backing_make(1 << 20);
	CHECK_EQ(attr_store(z, "backing_dev", bpath), 0);
	snprintf(path, sizeof(path), "%s\n", bpath);
	CHECK(!strcmp(attr_show(z, "backing_dev"), path));
	CHECK_EQ(zram_write(z, data[1], ZRAM_PAGE_SIZE, 0), ZRAM_PAGE_SIZE);
	CHECK_EQ(attr_store(z, "backing_dev", bpath), -EBUSY);
	CHECK(!strcmp(attr_show(z, "backing_dev"), path));
	zram_destroy(z);
}

static void test_writeback(void)
{
	struct zram *z = store_make(NULL);
	struct zram_stats s0, s;
	unsigned char buf[ZRAM_PAGE_SIZE];
	uint64_t alloc;

	backing_make(64ull << 20);
	CHECK_EQ(attr_store(z, "backing_dev", bpath), 0);
	write_all(z);
	zram_stats_get(z, &s0);
	CHECK_EQ(attr_store(z, "writeback", "idle"), 0); /* nothing idle */
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "writeback", "idle\n"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, s0.pages_stored - s0.same_pages);
	CHECK_EQ(s.bd_writes, s.bd_count);
	CHECK_EQ(s.backing_bytes, s0.compr_data_size);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.huge_pages, 0);
	CHECK_EQ(s.idle_pages, 0);
	CHECK_EQ(s.mem_used_total, 0);
	CHECK_EQ(s.orig_data_size, s0.orig_data_size);
	alloc = allocated();
	CHECK(alloc <= s0.compr_data_size + 2 * 4096);
	CHECK(alloc >= s0.compr_data_size);
	CHECK(strstr(attr_show(z, "bd_stat"), "") != NULL);
	/* a page on the backing device needs I/O: NOWAIT backs out, counts
	 * nothing; a same-filled one (16) needs none */
	CHECK_EQ(zram_read_flags(z, buf, sizeof(buf), 1 * ZRAM_PAGE_SIZE,
				 ZRAM_IO_NOWAIT),
		 -EAGAIN);
	CHECK_EQ(zram_read_flags(z, buf, 100, 1 * ZRAM_PAGE_SIZE + 9,
				 ZRAM_IO_NOWAIT),
		 -EAGAIN);
	CHECK_EQ(zram_write_flags(z, buf, 100, 1 * ZRAM_PAGE_SIZE + 9,
				  ZRAM_IO_NOWAIT),
		 -EAGAIN);
	CHECK_EQ(zram_read_flags(z, buf, sizeof(buf), 16 * ZRAM_PAGE_SIZE,
				 ZRAM_IO_NOWAIT),
		 ZRAM_PAGE_SIZE);
	CHECK(!memcmp(buf, data[16], sizeof(buf)));
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_reads, 0);
	CHECK_EQ(s.failed_reads, 0);
	CHECK_EQ(s.failed_writes, 0);
	check_all(z);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_reads, s0.pages_stored - s0.same_pages);
	/* overwrite one page and discard the rest: backing space comes back */
	memset(data[3], 'x', 100);
	CHECK_EQ(zram_write(z, data[3], ZRAM_PAGE_SIZE, 3 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, s0.pages_stored - s0.same_pages - 1);
	check_all(z);
	CHECK_EQ(zram_discard(z, 0, PAGES * ZRAM_PAGE_SIZE), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(s.backing_bytes, 0);
	CHECK_EQ(s.backing_used, 0);
	CHECK(allocated() <= 4096);
	memset(buf, 1, sizeof(buf));
	CHECK_EQ(zram_read(z, buf, sizeof(buf), 5 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK_EQ(buf[0], 0);
	zram_destroy(z);
}

static void test_writeback_select(void)
{
	struct zram *z = store_make(NULL);
	struct zram_stats s;

	backing_make(64ull << 20);
	CHECK_EQ(attr_store(z, "backing_dev", bpath), 0);
	write_all(z);
	CHECK_EQ(attr_store(z, "writeback", "page_index=256"), -ERANGE);
	CHECK_EQ(attr_store(z, "writeback", "page_indexes=9-3"), -ERANGE);
	CHECK_EQ(attr_store(z, "writeback", "page_index=1 page_indexes=2-999"),
		 -ERANGE);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(attr_store(z, "writeback", "page_index=1 page_index=2"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 2);
	/* the same page again: already written back, nothing to do */
	CHECK_EQ(attr_store(z, "writeback", "page_index=1"), 0);
	CHECK_EQ(attr_store(z, "writeback", "page_indexes=16-31 type=huge"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 4); /* pages 23 and 31 are the random ones */
	CHECK_EQ(attr_store(z, "writeback", "huge"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 2 + PAGES / 8);
	CHECK_EQ(s.huge_pages, 0);
	/* the writeback budget, in pages; refused runs change nothing */
	CHECK_EQ(attr_store(z, "writeback_limit_enable", "1"), 0);
	CHECK_EQ(attr_store(z, "writeback", "page_indexes=32-63"), -EIO);
	CHECK_EQ(attr_store(z, "writeback_limit", "3"), 0);
	CHECK_EQ(attr_store(z, "writeback", "page_indexes=32-63"), -EIO);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 2 + PAGES / 8 + 3);
	CHECK(!strcmp(attr_show(z, "writeback_limit"), "0\n"));
	CHECK_EQ(attr_store(z, "writeback_limit_enable", "0"), 0);
	CHECK_EQ(attr_store(z, "writeback", "page_indexes=0-255"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, s.pages_stored - s.same_pages);
	check_all(z);
	CHECK_EQ(attr_store(z, "reset", "1"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(s.backing_used, 0);
	zram_destroy(z);
}

/* A backing store too small for everything: ENOSPC, pages stay readable. */
static void test_writeback_full(void)
{
	struct zram *z = store_make(NULL);
	struct zram_stats s0, s;

	backing_make(8 * 4096);
	CHECK_EQ(attr_store(z, "backing_dev", bpath), 0);
	write_all(z);
	zram_stats_get(z, &s0);
	CHECK_EQ(attr_store(z, "writeback", "type=idle"), 0);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "writeback", "type=idle"), -ENOSPC);
	zram_stats_get(z, &s);
	CHECK(s.bd_count > 0 && s.bd_count < s0.pages_stored);
	CHECK(s.backing_bytes <= 8 * 4096);
	CHECK_EQ(s.compr_data_size + s.backing_bytes, s0.compr_data_size);
	check_all(z);
	CHECK_EQ(s.failed_reads, 0);
	zram_destroy(z);
}

static void test_recompress(void)
{
	struct zram *z = store_make("lz4");
	struct zram_stats s0, s;
	unsigned int i, incompressible = 0;

	CHECK_EQ(attr_store(z, "recompress", "type=idle"), -EINVAL); /* none */
	CHECK(!strcmp(attr_show(z, "recomp_algorithm"), ""));
	CHECK_EQ(attr_store(z, "recomp_algorithm", "algo=zstd"), 0);
	CHECK(!strcmp(attr_show(z, "recomp_algorithm"),
		      "#1: lz4 lz4hc [zstd]\n"));
	CHECK_EQ(attr_store(z, "algorithm_params", "priority=1 level=9"), 0);
	write_all(z);
	zram_stats_get(z, &s0);
	CHECK_EQ(attr_store(z, "recompress", "type=idle"),
		 0); /* nothing idle */
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_recompressed, 0);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	/* largest first: the 5 biggest are random pages, no codec helps */
	CHECK_EQ(attr_store(z, "recompress", "type=idle max_pages=5"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_recompressed, 0);
	CHECK_EQ(s.compr_data_size, s0.compr_data_size);
	CHECK_EQ(attr_store(z, "recompress", "type=idle algo=lz4"), -EINVAL);
	CHECK_EQ(attr_store(z, "recompress", "threshold=4096"), -EINVAL);
	CHECK_EQ(attr_store(z, "recompress", "type=idle"), 0);
	zram_stats_get(z, &s);
	CHECK(s.compr_data_size < s0.compr_data_size * 9 / 10);
	CHECK_EQ(s.idle_pages, s0.pages_stored - s0.same_pages);
	for (i = 0; i < PAGES; i++) {
		uint32_t f = atomic_load(&z->table[i].flags);

		if (slot_kind(f) == SLOT_KIND_COMPRESSED)
			CHECK_EQ(slot_prio(f), 1);
		incompressible += !!(f & SLOT_INCOMPRESSIBLE);
	}
	CHECK_EQ(incompressible, PAGES / 8); /* the random pages */
	check_all(z);
	/* a second pass finds nothing left to do */
	s0 = s;
	CHECK_EQ(attr_store(z, "recompress", ""), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_recompressed, s0.pages_recompressed);
	/* and the recompressed pages can be written back */
	backing_make(16ull << 20);
	CHECK_EQ(attr_store(z, "reset", "1"), 0);
	zram_destroy(z);
}

/*
 * mem_limit is a limit on writes, as in zram: a recompress at the limit
 * still replaces objects with smaller ones (it frees more than it takes),
 * and does not stop with ENOSPC.
 */
static void test_recompress_at_limit(void)
{
	struct zram *z = store_make("lz4");
	struct zram_stats s0, s;
	char lim[32];

	CHECK_EQ(attr_store(z, "recomp_algorithm", "algo=zstd"), 0);
	CHECK_EQ(attr_store(z, "algorithm_params", "priority=1 level=9"), 0);
	write_all(z);
	zram_stats_get(z, &s0);
	snprintf(lim, sizeof(lim), "%llu",
		 (unsigned long long)s0.mem_used_total);
	CHECK_EQ(attr_store(z, "mem_limit", lim), 0);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "recompress", "type=idle"), 0);
	zram_stats_get(z, &s);
	CHECK(s.compr_data_size < s0.compr_data_size * 9 / 10);
	CHECK_EQ(s.failed_writes, 0);
	CHECK_EQ(attr_store(z, "compact", "1"), 0);
	zram_stats_get(z, &s);
	CHECK(s.mem_used_total <= s0.mem_used_total);
	check_all(z);
	zram_destroy(z);
}

static void test_policy(void)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .backing_dev = bpath,
				  .policy = "idle_after=0,interval=1"};
	struct zram_stats s;
	struct timespec t0, t1;
	uint64_t passes;
	struct zram *z;
	long ms;

	backing_make(16ull << 20);
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK(!strcmp(attr_show(z, "policy"),
		      "idle_after=0\nrecompress=off\nwriteback=off\n"
		      "mem_target=0\ninterval=1\nauto_dict=off\ngroup=off\n"
		      "group_level=3\n"));
	write_all(z);
	CHECK_EQ(attr_store(z, "policy", "mem_target=4K writeback=maybe"),
		 -EINVAL);
	CHECK_EQ(attr_store(z, "policy", "mem_target=4K\nmem_target=4K"),
		 -EINVAL);
	CHECK_EQ(attr_store(z, "policy", "interval=0"), -EINVAL);
	CHECK(strstr(attr_show(z, "policy"), "mem_target=0\n") != NULL);
	zram_stats_get(z, &s);
	passes = s.policy_passes;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(attr_store(z, "policy", "mem_target=64K"), 0);
	/*
	 * Memory drops under the target inside a pass (writeback compacts as
	 * it goes); the pass is counted only after its closing compaction. So
	 * wait for a counted pass too, else a load that preempts the thread
	 * there fails the check. A pass takes milliseconds; 30 s is for a
	 * loaded machine, and the time taken is printed.
	 */
	for (;;) {
		zram_stats_get(z, &s);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if ((s.mem_used_total <= 64 * 1024 && s.bd_count &&
		     s.policy_passes > passes) ||
		    ms > 30000)
			break;
		usleep(10000);
	}
	fprintf(stderr,
		"policy: under mem_target after %ld ms, %" PRIu64 " passes\n",
		ms, s.policy_passes - passes);
	CHECK(s.mem_used_total <= 64 * 1024);
	CHECK(s.bd_count > 0);
	CHECK(s.policy_passes > passes);
	check_all(z);
	zram_destroy(z);
}

/*
 * mem_target with dedup and grouping on: pages [0, PAGES/2) are written
 * twice (the second copy at PAGES + i shares their objects: never
 * grouped), pages [PAGES/2, PAGES) are unique (the policy groups them
 * first). Writeback used to take neither a sharer of an object others
 * share nor a grouped page, so memory stayed at the shared objects and the
 * frames, far above the target. Now both go: every sharer with a copy of
 * its own, every member compressed on its own, and every page reads back;
 * a discard of the whole disk gives back every byte, block and
 * dictionary count.
 */
static void test_policy_every_kind(void)
{
	struct zram_config cfg = {.disksize = 2 * PAGES * ZRAM_PAGE_SIZE,
				  .algorithm = "zstd",
				  .backing_dev = bpath,
				  .dedup = true};
	static unsigned char buf[ZRAM_PAGE_SIZE];
	unsigned int i, bad = 0;
	struct zram_stats s;
	struct zram *z;
	int waits;

	backing_make(16ull << 20);
	REQUIRE(zram_create(&cfg, &z) == 0);
	write_all(z);
	for (i = 0; i < PAGES / 2; i++)
		CHECK_EQ(zram_write(z, data[i], ZRAM_PAGE_SIZE,
				    (uint64_t)(PAGES + i) * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	zram_stats_get(z, &s);
	CHECK(s.dup_pages >= PAGES / 2 - PAGES / 16); /* less the zero pages */
	CHECK_EQ(attr_store(z, "policy",
			    "idle_after=0 interval=1 group=on writeback=on "
			    "mem_target=64K"),
		 0);
	for (waits = 0; waits < 3000; waits++) {
		zram_stats_get(z, &s);
		if (s.mem_used_total <= 64 * 1024 && s.bd_count)
			break;
		usleep(10000);
	}
	fprintf(stderr,
		"policy (dedup, group): mem_used_total %" PRIu64
		" after %d ms, %" PRIu64 " pages written back, %" PRIu64
		" grouped, %" PRIu64 " shared\n",
		s.mem_used_total, waits * 10, s.bd_count, s.grouped_pages,
		s.dup_pages);
	CHECK(s.mem_used_total <= 64 * 1024);
	CHECK_EQ(attr_store(z, "policy", "group=off writeback=off"), 0);
	zram_stats_get(z, &s);
	CHECK(s.bd_count > PAGES); /* sharers and members both went */
	check_all(z);
	for (i = 0; i < PAGES / 2; i++) {
		CHECK_EQ(zram_read(z, buf, ZRAM_PAGE_SIZE,
				   (uint64_t)(PAGES + i) * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
		bad += !!memcmp(buf, data[i], ZRAM_PAGE_SIZE);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(zram_discard(z, 0, zram_disksize(z)), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.group_objects, 0);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(s.backing_used, 0);
	CHECK_EQ(fixture_dict_counts_held(z), 0);
	zram_destroy(z);
}

/*
 * A policy given at creation starts with the first read too, not only
 * with a write: a restored disk that is only read gets its passes.
 */
static void test_policy_starts_on_read(void)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .policy = "idle_after=0,interval=1,group=on"};
	unsigned char page[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;
	int i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	usleep(100000);
	zram_stats_get(z, &s);
	CHECK_EQ(s.policy_passes, 0); /* not started before any I/O */
	CHECK_EQ(zram_read(z, page, sizeof(page), 0), (ssize_t)sizeof(page));
	for (i = 0; i < 3000; i++) { /* 30 s for a loaded machine */
		zram_stats_get(z, &s);
		if (s.policy_passes)
			break;
		usleep(10000);
	}
	fprintf(stderr, "policy after a read: %" PRIu64 " passes in %d ms\n",
		s.policy_passes, i * 10);
	CHECK(s.policy_passes > 0);
	zram_destroy(z);
}

int main(void)
{
	uint64_t rs = harness_seed();

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(bpath, sizeof(bpath), "%s/backing", dir);
	data_make(&rs);
	test_backing_dev();
	test_writeback();
	test_writeback_select();
	test_writeback_full();
	test_recompress();
	test_recompress_at_limit();
	test_policy();
	test_policy_starts_on_read();
	test_policy_every_kind();
	unlink(bpath);
	rmdir(dir);
	return harness_finish("zram_tier");
}
