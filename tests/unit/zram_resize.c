/*
 * zram_resize.c - online resize of the store: grow keeps data and adds
 * zeros, shrink is refused while a page past the new end holds data and
 * allowed once it does not, I/O past the end fails as past any end, the
 * disksize attribute takes sizes, and growing a big table costs no memory.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "zram.h"

#define MiB (1ull << 20)

static unsigned char page[ZRAM_PAGE_SIZE], back[ZRAM_PAGE_SIZE];

static void fill(uint64_t tag)
{
	size_t i;

	for (i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(tag * 31 + i / 7);
}

static int page_is(struct zram *z, uint64_t off, uint64_t tag)
{
	fill(tag);
	return zram_read(z, back, sizeof(back), off) == (ssize_t)sizeof(back) &&
	       !memcmp(back, page, sizeof(page));
}

static int page_is_zero(struct zram *z, uint64_t off)
{
	static const unsigned char zero[ZRAM_PAGE_SIZE];

	return zram_read(z, back, sizeof(back), off) == (ssize_t)sizeof(back) &&
	       !memcmp(back, zero, sizeof(zero));
}

static void test_grow_shrink(void)
{
	struct zram_config cfg = {.disksize = 1 * MiB};
	struct zram_stats s;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	fill(1);
	CHECK_EQ(zram_write(z, page, sizeof(page), 1 * MiB - 4096), 4096);
	CHECK_EQ(zram_write(z, page, sizeof(page), 1 * MiB), -ENOSPC);

	/* grow: old data stays, the new part reads as zeros and takes data */
	CHECK_EQ(zram_resize(z, 64 * MiB), 0);
	CHECK(zram_disksize(z) == 64 * MiB);
	CHECK(page_is(z, 1 * MiB - 4096, 1));
	CHECK(page_is_zero(z, 1 * MiB));
	CHECK(page_is_zero(z, 64 * MiB - 4096));
	fill(2);
	CHECK_EQ(zram_write(z, page, sizeof(page), 64 * MiB - 4096), 4096);
	CHECK(page_is(z, 64 * MiB - 4096, 2));
	zram_stats_get(z, &s);
	CHECK_EQ(s.slot_count, 64 * MiB / 4096);
	CHECK_EQ(s.table_bytes, 64 * MiB / 4096 * 16);

	/* shrink over data: refused, nothing changes */
	CHECK_EQ(zram_resize(z, 32 * MiB), -EBUSY);
	CHECK(zram_disksize(z) == 64 * MiB);
	CHECK(page_is(z, 64 * MiB - 4096, 2));
	/* a size that keeps the data: allowed (rounded up to 4 KiB) */
	CHECK_EQ(zram_resize(z, 64 * MiB - 100), 0);
	CHECK(zram_disksize(z) == 64 * MiB);

	/* discard the tail page: the shrink is allowed */
	CHECK_EQ(zram_discard(z, 64 * MiB - 4096, 4096), 0);
	CHECK_EQ(zram_resize(z, 2 * MiB), 0);
	CHECK(zram_disksize(z) == 2 * MiB);
	CHECK(page_is(z, 1 * MiB - 4096, 1));
	CHECK_EQ(zram_read(z, back, sizeof(back), 2 * MiB), 0);
	CHECK_EQ(zram_write(z, page, sizeof(page), 2 * MiB), -ENOSPC);
	CHECK_EQ(zram_discard(z, 2 * MiB, 4096), -EINVAL);
	/* a write crossing the new end is refused whole */
	CHECK_EQ(zram_write(z, page, sizeof(page), 2 * MiB - 2048), -ENOSPC);

	/* same-filled pages are data too */
	memset(page, 0x5a, sizeof(page));
	CHECK_EQ(zram_write(z, page, sizeof(page), 2 * MiB - 4096), 4096);
	CHECK_EQ(zram_resize(z, 1 * MiB), -EBUSY);
	CHECK_EQ(zram_write_zeroes(z, 2 * MiB - 4096, 4096), 0);
	CHECK_EQ(zram_resize(z, 1 * MiB), -EBUSY); /* zeroes are a page */
	CHECK_EQ(zram_discard(z, 2 * MiB - 4096, 4096), 0);
	CHECK_EQ(zram_resize(z, 1 * MiB), 0);

	/* grow again: nothing from before the shrink comes back */
	CHECK_EQ(zram_resize(z, 64 * MiB), 0);
	CHECK(page_is_zero(z, 64 * MiB - 4096));
	CHECK(page_is_zero(z, 2 * MiB - 4096));
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 1);

	CHECK_EQ(zram_resize(z, 0), -EINVAL);
	CHECK_EQ(zram_resize(z, (16ull << 40) + 4096), -EINVAL);
	CHECK(zram_disksize(z) == 64 * MiB);
	zram_destroy(z);
}

static void test_attr(void)
{
	struct zram_config cfg = {.disksize = 1 * MiB};
	const struct zram_attr *a = zram_attr_find("disksize");
	char buf[64];
	struct zram *z;

	REQUIRE(a && a->store && a->show);
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(a->store(z, "8M\n", 3), 0);
	CHECK(zram_disksize(z) == 8 * MiB);
	CHECK_EQ(a->store(z, "16777216", 8), 0);
	CHECK(zram_disksize(z) == 16 * MiB);
	CHECK(a->show(z, buf, sizeof(buf)) > 0 && !strcmp(buf, "16777216\n"));
	CHECK_EQ(a->store(z, "lots", 4), -EINVAL);
	CHECK_EQ(a->store(z, "0", 1), -EINVAL);
	CHECK_EQ(a->store(z, "-1M", 3), -EINVAL);
	CHECK(zram_disksize(z) == 16 * MiB);
	zram_destroy(z);
}

/* Growing to 4 TiB opens a 16 GiB table: address space, not memory. */
static void test_big_grow(void)
{
	struct zram_config cfg = {.disksize = 1ull << 30};
	long before, after;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	before = harness_rss_kib();
	CHECK_EQ(zram_resize(z, 4ull << 40), 0);
	fill(3);
	CHECK_EQ(zram_write(z, page, sizeof(page), (4ull << 40) - 4096), 4096);
	CHECK(page_is(z, (4ull << 40) - 4096, 3));
	after = harness_rss_kib();
	if (after - before > 8192) {
		fprintf(stderr, "RSS grew %ld KiB\n", after - before);
		CHECK(0);
	}
	CHECK_EQ(zram_discard(z, (4ull << 40) - 4096, 4096), 0);
	CHECK_EQ(zram_resize(z, 1ull << 30), 0);
	zram_destroy(z);
}

int main(void)
{
	test_grow_shrink();
	test_attr();
	test_big_grow();
	return harness_finish("zram_resize");
}
