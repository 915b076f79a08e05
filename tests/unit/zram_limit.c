/*
 * zram_limit.c - the memory limit.
 *
 * Fill the pool to the limit with incompressible pages over pages that
 * held same-filled words; the write that fails must return -ENOSPC, count a
 * failed write and leave that page reading its old bytes (whole-page and
 * partial writes). A write spanning two pages returns the bytes written
 * before the failing page. After discard + compact, writes succeed again;
 * raising the limit at run time takes effect at once; mem_used_max resets.
 */
#include <errno.h>
#include <stdbool.h>

#include "harness.h"
#include "zram_attr.h"
#include "zram.h"

#define PAGES 256u
#define LIMIT_PAGES 40u

static unsigned char page[2 * ZRAM_PAGE_SIZE];

static void random_page(unsigned char *p, uint64_t *rs)
{
	size_t i;

	for (i = 0; i < ZRAM_PAGE_SIZE; i++)
		p[i] = (unsigned char)(harness_rand(rs) >> 29);
}

static bool reads_word(struct zram *z, unsigned int i, uint64_t word)
{
	uint64_t buf[ZRAM_PAGE_SIZE / 8];
	size_t k;

	if (zram_read(z, buf, sizeof(buf), (uint64_t)i * ZRAM_PAGE_SIZE) !=
	    ZRAM_PAGE_SIZE)
		return false;
	for (k = 0; k < ZRAM_PAGE_SIZE / 8; k++)
		if (buf[k] != word)
			return false;
	return true;
}

/* Write random pages from 0 on until one fails; returns its index. */
static unsigned int fill_to_limit(struct zram *z, uint64_t *rs)
{
	unsigned int i;
	ssize_t n = 0;

	for (i = 0; i < PAGES; i++) {
		random_page(page, rs);
		n = zram_write(z, page, ZRAM_PAGE_SIZE,
			       (uint64_t)i * ZRAM_PAGE_SIZE);
		if (n != ZRAM_PAGE_SIZE)
			break;
	}
	CHECK_EQ(n, -ENOSPC);
	return i;
}

int main(void)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .mem_limit = LIMIT_PAGES * ZRAM_PAGE_SIZE};
	uint64_t rs = harness_seed(), w;
	struct zram_stats s;
	unsigned int i, k;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < PAGES; i++) {
		w = 0x0101010101010101ull * (i + 1);
		for (k = 0; k < ZRAM_PAGE_SIZE; k += 8)
			memcpy(page + k, &w, 8);
		CHECK_EQ(zram_write(z, page, ZRAM_PAGE_SIZE,
				    (uint64_t)i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	}
	zram_stats_get(z, &s);
	CHECK_EQ(s.same_pages, PAGES);
	CHECK_EQ(s.mem_used_total, 0);

	k = fill_to_limit(z, &rs);
	CHECK(k > 0 && k <= LIMIT_PAGES);
	zram_stats_get(z, &s);
	CHECK_EQ(s.failed_writes, 1);
	CHECK(s.mem_used_total <= LIMIT_PAGES * ZRAM_PAGE_SIZE);
	CHECK_EQ(s.huge_pages, k);
	CHECK_EQ(s.same_pages, PAGES - k);
	CHECK(reads_word(z, k, 0x0101010101010101ull * (k + 1)));
	/* a partial write of the full page fails too and changes nothing */
	page[0] = 0x5a;
	CHECK_EQ(zram_write(z, page, 100, (uint64_t)k * ZRAM_PAGE_SIZE + 7),
		 -ENOSPC);
	CHECK(reads_word(z, k, 0x0101010101010101ull * (k + 1)));
	zram_stats_get(z, &s);
	CHECK_EQ(s.failed_writes, 2);

	/* free two pages: a two-page write gets its first page in only */
	CHECK_EQ(zram_discard(z, 0, ZRAM_PAGE_SIZE), 0);
	CHECK_EQ(attr_store(z, "compact", "1"), 0);
	zram_stats_get(z, &s);
	CHECK(s.mem_used_total <= (LIMIT_PAGES - 1) * ZRAM_PAGE_SIZE);
	random_page(page, &rs);
	random_page(page + ZRAM_PAGE_SIZE, &rs);
	CHECK_EQ(zram_write(z, page, 2 * ZRAM_PAGE_SIZE,
			    (uint64_t)k * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(reads_word(z, k + 1, 0x0101010101010101ull * (k + 2)));

	/* discard + compact frees room: writing again succeeds */
	CHECK_EQ(zram_discard(z, ZRAM_PAGE_SIZE, 8 * ZRAM_PAGE_SIZE), 0);
	CHECK_EQ(attr_store(z, "compact", "1"), 0);
	for (i = 0; i < 8; i++) {
		random_page(page, &rs);
		CHECK_EQ(zram_write(z, page, ZRAM_PAGE_SIZE,
				    (uint64_t)(k + 1 + i) * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	}
	CHECK_EQ(zram_write(z, page, ZRAM_PAGE_SIZE,
			    (uint64_t)(k + 9) * ZRAM_PAGE_SIZE),
		 -ENOSPC);

	/* lift the limit at run time */
	CHECK_EQ(attr_store(z, "mem_limit", "0"), 0);
	CHECK_EQ(zram_write(z, page, ZRAM_PAGE_SIZE,
			    (uint64_t)(k + 9) * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	zram_stats_get(z, &s);
	CHECK(s.mem_used_max >= s.mem_used_total);
	CHECK(s.mem_used_total > LIMIT_PAGES * ZRAM_PAGE_SIZE - ZRAM_PAGE_SIZE);

	/* mem_used_max follows a drop only after "0" */
	CHECK_EQ(zram_discard(z, 0, PAGES * ZRAM_PAGE_SIZE), 0);
	CHECK_EQ(attr_store(z, "compact", "1"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.mem_used_total, 0);
	CHECK(s.mem_used_max >= LIMIT_PAGES * ZRAM_PAGE_SIZE);
	CHECK_EQ(attr_store(z, "mem_used_max", "0"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.mem_used_max, 0);
	zram_destroy(z);
	return harness_finish("zram_limit");
}
