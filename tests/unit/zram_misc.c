/*
 * zram_misc.c - idle tracking, discard/write_zeroes details, the stat
 * formats, and the slot table's cost (16 bytes a slot, no resident memory
 * until touched).
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "harness.h"
#include "zram_attr.h"
#include "zram.h"

static char out[ZRAM_ATTR_SHOW_MAX];

static const char *show(struct zram *z, const char *name)
{
	ssize_t n = zram_attr_find(name)->show(z, out, sizeof(out));

	REQUIRE(n >= 0 && (size_t)n < sizeof(out));
	out[n] = '\0';
	return out;
}

static void text_page(unsigned char *p, unsigned int seed)
{
	size_t i;

	for (i = 0; i < ZRAM_PAGE_SIZE; i++)
		p[i] = (unsigned char)('a' + (i / 5 + seed) % 20);
}

static void test_idle(void)
{
	struct zram_config cfg = {.disksize = 16 * ZRAM_PAGE_SIZE};
	unsigned char p[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;
	unsigned int i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < 6; i++) {
		text_page(p, i);
		CHECK_EQ(zram_write(z, p, sizeof(p), i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	}
	memset(p, 0, sizeof(p)); /* a same-filled page is never idle */
	CHECK_EQ(zram_write(z, p, sizeof(p), 6 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK_EQ(attr_store(z, "idle", "all\n"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.idle_pages, 6);
	CHECK_EQ(zram_read(z, p, 10, 2 * ZRAM_PAGE_SIZE + 5), 10);
	text_page(p, 3);
	CHECK_EQ(zram_write(z, p, sizeof(p), 3 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_discard(z, 4 * ZRAM_PAGE_SIZE, ZRAM_PAGE_SIZE), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.idle_pages, 3); /* 2 read, 3 rewritten, 4 freed */
	CHECK_EQ(attr_store(z, "idle", "3600"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.idle_pages, 0); /* nothing is an hour old */
	usleep(1300 * 1000);
	CHECK_EQ(zram_read(z, p, 1, 0), 1);
	CHECK_EQ(attr_store(z, "idle", "1"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.idle_pages, 4); /* 1,2,3,5; page 0 was just read */
	zram_destroy(z);
}

static void test_discard(void)
{
	struct zram_config cfg = {.disksize = 8 * ZRAM_PAGE_SIZE};
	unsigned char p[3 * ZRAM_PAGE_SIZE], r[3 * ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	text_page(p, 1);
	text_page(p + ZRAM_PAGE_SIZE, 2);
	text_page(p + 2 * ZRAM_PAGE_SIZE, 3);
	CHECK_EQ(zram_write(z, p, sizeof(p), 0), sizeof(p));
	/* from the middle of page 0 to the middle of page 2 */
	CHECK_EQ(zram_discard(z, 100, 2 * ZRAM_PAGE_SIZE), 0);
	memset(p + 100, 0, 2 * ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_read(z, r, sizeof(r), 0), sizeof(r));
	CHECK(!memcmp(p, r, sizeof(r)));
	zram_stats_get(z, &s);
	CHECK_EQ(s.notify_free, 1);
	CHECK_EQ(s.pages_stored, 2);
	/* a partial discard of an empty page leaves it empty */
	CHECK_EQ(zram_discard(z, 5 * ZRAM_PAGE_SIZE + 9, 10), 0);
	/* write_zeroes: whole pages become same-filled, no pool memory */
	CHECK_EQ(zram_write_zeroes(z, 0, 2 * ZRAM_PAGE_SIZE), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 3);
	CHECK_EQ(s.same_pages, 2);
	CHECK_EQ(zram_write_zeroes(z, 2 * ZRAM_PAGE_SIZE + 200, 100), 0);
	memset(p + 2 * ZRAM_PAGE_SIZE + 200, 0, 100);
	memset(p, 0, 2 * ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_read(z, r, sizeof(r), 0), sizeof(r));
	CHECK(!memcmp(p, r, sizeof(r)));
	/* out of range: refused, counted, nothing changed */
	CHECK_EQ(zram_discard(z, 0, 9 * ZRAM_PAGE_SIZE), -EINVAL);
	CHECK_EQ(zram_write_zeroes(z, 8 * ZRAM_PAGE_SIZE, 1), -EINVAL);
	CHECK_EQ(zram_discard(z, UINT64_MAX - 5, 10), -EINVAL);
	CHECK_EQ(zram_write(z, p, 2, 8 * ZRAM_PAGE_SIZE - 1), -ENOSPC);
	CHECK_EQ(zram_write(z, p, 1, UINT64_MAX), -ENOSPC);
	zram_stats_get(z, &s);
	CHECK_EQ(s.invalid_io, 5);
	CHECK_EQ(s.pages_stored, 3);
	CHECK_EQ(zram_flush(z), 0);
	zram_destroy(z);
}

static void test_formats(void)
{
	struct zram_config cfg = {.disksize = 64 * ZRAM_PAGE_SIZE,
				  .algorithm = "zstd",
				  .threads = 3};
	unsigned long long v[10];
	unsigned char p[ZRAM_PAGE_SIZE];
	uint64_t rs = 42;
	struct zram_stats s;
	char tail[8];
	struct zram *z;
	size_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	text_page(p, 0);
	CHECK_EQ(zram_write(z, p, sizeof(p), 0), ZRAM_PAGE_SIZE);
	for (i = 0; i < sizeof(p); i++)
		p[i] = (unsigned char)(harness_rand(&rs) >> 40);
	CHECK_EQ(zram_write(z, p, sizeof(p), ZRAM_PAGE_SIZE), ZRAM_PAGE_SIZE);
	memset(p, 7, sizeof(p));
	CHECK_EQ(zram_write(z, p, sizeof(p), 2 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	zram_stats_get(z, &s);
	show(z, "mm_stat");
	CHECK_EQ(strlen(out), 9 * 9);
	CHECK_EQ(sscanf(out, "%llu %llu %llu %llu %llu %llu %llu %llu %llu%1s",
			&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
			&v[8], tail),
		 9);
	CHECK_EQ(v[0], 3 * ZRAM_PAGE_SIZE);
	CHECK_EQ(v[1], s.compr_data_size);
	CHECK_EQ(v[5], 1);
	CHECK_EQ(v[7], 1);
	CHECK_EQ(v[8], 1);
	CHECK(!strcmp(show(z, "io_stat"),
		      "       0        0        0        0\n"));
	CHECK(!strcmp(show(z, "bd_stat"), "       0        0        0\n"));
	CHECK(!strcmp(show(z, "debug_stat"), "version: 1\n0        0\n"));
	show(z, "classes");
	CHECK(!strncmp(out, " class  size       10%       20%", 32));
	CHECK(strstr(out, "100% obj_allocated   obj_used pages_used "
			  "pages_per_zspage freeable\n") != NULL);
	CHECK(strstr(out, "\n Total       ") != NULL);
	show(z, "stats.json");
	CHECK(strstr(out, "\"algorithm\": \"zstd\"") != NULL);
	CHECK(strstr(out, "\"threads\": 3,") != NULL);
	CHECK(strstr(out, "\"streams\": 1,") != NULL);
	CHECK(strstr(out, "\"slot_bytes\": 16,") != NULL);
	CHECK(strstr(out, "\"huge_pages_since\": 1,") != NULL);
	CHECK(strstr(out, "\"compression_ratio\": ") != NULL);
	CHECK(strstr(out, "\"memory_ratio\": ") != NULL);
	CHECK(!strcmp(show(z, "disksize"), "262144\n"));
	zram_destroy(z);
}

/*
 * A 256 GiB disk: a 1 GiB table of address space, nothing resident.
 * ThreadSanitizer writes shadow memory for every atomic access, so the
 * resident-size bound is only checked without it.
 */
#ifdef UZRAM_TSAN
#define RSS_BOUND_KIB LONG_MAX
#else
#define RSS_BOUND_KIB (8 * 1024)
#endif

static void test_table_cost(void)
{
	struct zram_config cfg = {.disksize = 256ull << 30};
	static unsigned char buf[1 << 20];
	struct zram_stats s;
	struct zram *z;
	long before;

	before = harness_rss_kib();
	REQUIRE(zram_create(&cfg, &z) == 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.slot_bytes, 16);
	CHECK_EQ(s.slot_count, (256ull << 30) / ZRAM_PAGE_SIZE);
	CHECK_EQ(s.table_bytes, s.slot_count * 16);
	/* reading never-written pages touches nothing either */
	CHECK_EQ(zram_read(z, buf, sizeof(buf), 100ull << 30), sizeof(buf));
	CHECK_EQ(zram_discard(z, 0, 1ull << 30), 0);
	CHECK(harness_rss_kib() - before < RSS_BOUND_KIB);
	CHECK_EQ(zram_write(z, buf, sizeof(buf), (256ull << 30) - sizeof(buf)),
		 sizeof(buf));
	CHECK(harness_rss_kib() - before < RSS_BOUND_KIB);
	zram_destroy(z);
	cfg.disksize = (16ull << 40) + 1;
	CHECK_EQ(zram_create(&cfg, &z), -EINVAL);
	cfg.disksize = 0;
	CHECK_EQ(zram_create(&cfg, &z), -EINVAL);
	cfg.disksize = 4096;
	cfg.algorithm = "lzo";
	CHECK_EQ(zram_create(&cfg, &z), -EINVAL);
	cfg.algorithm = "zstd";
	cfg.algorithm_params = "level=99";
	CHECK_EQ(zram_create(&cfg, &z), -EINVAL);
}

int main(void)
{
	test_idle();
	test_discard();
	test_formats();
	test_table_cost();
	return harness_finish("zram_misc");
}
