/*
 * zram_codec.c - codec switch and level changes at run time, the zstd
 * dictionary, reset and the open count.
 *
 * Pages written under one codec or level must read back after the codec or
 * level changed; each slot must record the codec that wrote it; a zstd
 * dictionary loaded from a file must be used (a random page equal to the
 * dictionary compresses to a few bytes instead of being stored huge) and
 * cannot be swapped while pages need it.
 */
#include <errno.h>
#include <unistd.h>

#include "harness.h"
#include "zram_attr.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 64u

static unsigned char pages[PAGES][ZRAM_PAGE_SIZE];
static unsigned char rnd[ZRAM_PAGE_SIZE];

static void page_make(unsigned int i, uint64_t *rs)
{
	size_t k;

	for (k = 0; k < ZRAM_PAGE_SIZE; k++)
		pages[i][k] = (unsigned char)("abcdefgh"[(k / 7 + i) % 8] +
					      (harness_rand(rs) % 16 == 0));
}

static void write_pages(struct zram *z, unsigned int from, unsigned int to,
			uint64_t *rs)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		page_make(i, rs);
		CHECK_EQ(zram_write(z, pages[i], ZRAM_PAGE_SIZE,
				    (uint64_t)i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	}
}

static void check_all(struct zram *z, unsigned int n)
{
	static unsigned char buf[ZRAM_PAGE_SIZE];
	unsigned int i;

	for (i = 0; i < n; i++) {
		CHECK_EQ(zram_read(z, buf, ZRAM_PAGE_SIZE,
				   (uint64_t)i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
		CHECK(!memcmp(buf, pages[i], ZRAM_PAGE_SIZE));
	}
}

static unsigned int slot_codec(struct zram *z, unsigned int i)
{
	return (atomic_load(&z->table[i].flags) & SLOT_CODEC_MASK) >>
	       SLOT_CODEC_SHIFT;
}

static uint32_t slot_size(struct zram *z, unsigned int i)
{
	return atomic_load(&z->table[i].flags) & SLOT_SIZE_MASK;
}

static void test_switch(struct zram *z, uint64_t *rs)
{
	unsigned int i;

	write_pages(z, 0, 8, rs);
	CHECK_EQ(attr_store(z, "comp_algorithm", "zstd"), 0);
	write_pages(z, 8, 16, rs);
	CHECK_EQ(attr_store(z, "algorithm_params", "level=-20"), 0);
	write_pages(z, 16, 20, rs);
	CHECK_EQ(attr_store(z, "algorithm_params", "level=19"), 0);
	write_pages(z, 20, 24, rs);
	CHECK_EQ(attr_store(z, "comp_algorithm", "lz4hc"), 0);
	CHECK_EQ(attr_store(z, "algorithm_params", "level=12"), 0);
	write_pages(z, 24, 28, rs);
	CHECK_EQ(attr_store(z, "algorithm_params", "level=1"), 0);
	write_pages(z, 28, 32, rs);
	CHECK_EQ(attr_store(z, "comp_algorithm", "lz4"), 0);
	CHECK_EQ(attr_store(z, "algorithm_params", "level=10"), 0);
	write_pages(z, 32, 36, rs);
	for (i = 0; i < 36; i++) {
		unsigned int want = i < 8    ? ZRAM_CODEC_LZ4
				    : i < 24 ? ZRAM_CODEC_ZSTD
				    : i < 32 ? ZRAM_CODEC_LZ4HC
					     : ZRAM_CODEC_LZ4;

		CHECK_EQ(slot_codec(z, i), want);
		CHECK(slot_size(z, i) > 0 && slot_size(z, i) < 3000);
	}
	/* zstd -20 compresses worse than zstd 19 on the same kind of data */
	CHECK(slot_size(z, 16) > slot_size(z, 20));
	check_all(z, 36);
	/* a partial write re-encodes with the current codec */
	pages[9][5] ^= 0xff;
	CHECK_EQ(zram_write(z, &pages[9][5], 1, 9 * ZRAM_PAGE_SIZE + 5), 1);
	CHECK_EQ(slot_codec(z, 9), ZRAM_CODEC_LZ4);
	check_all(z, 36);
}

static void dict_file(char *path, const void *data, size_t len)
{
	int fd;

	strcpy(path, "/tmp/zram-dict-XXXXXX");
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void test_dict(struct zram *z, uint64_t *rs)
{
	char path[4][64], cmd[128];
	struct zram_stats s;
	unsigned int i;
	size_t k;

	for (k = 0; k < sizeof(rnd); k++)
		rnd[k] = (unsigned char)(harness_rand(rs) >> 40);
	for (i = 0; i < 4; i++) {
		rnd[0] ^= (unsigned char)(1u << i);
		dict_file(path[i], rnd, sizeof(rnd));
		rnd[0] ^= (unsigned char)(1u << i);
	}
	/* zstd pages 8..23 exist with no dictionary: they keep theirs */
	snprintf(cmd, sizeof(cmd), "algo=zstd dict=%s", path[0]);
	CHECK_EQ(attr_store(z, "algorithm_params", cmd), 0);
	REQUIRE(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].dict) != NULL);
	check_all(z, 40);
	CHECK_EQ(attr_store(z, "comp_algorithm", "zstd"), 0);
	/* the random page next to the dictionary's bytes is tiny, not huge */
	rnd[0] ^= 1;
	memcpy(pages[40], rnd, sizeof(rnd));
	CHECK_EQ(zram_write(z, rnd, sizeof(rnd), 40 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	rnd[0] ^= 1;
	CHECK(slot_size(z, 40) > 0 && slot_size(z, 40) < 200);
	zram_stats_get(z, &s);
	CHECK_EQ(s.huge_pages, 0);
	write_pages(z, 41, 44, rs);
	/* two more dictionaries, each with pages: four generations alive */
	for (i = 1; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "dict=%s", path[i]);
		CHECK_EQ(attr_store(z, "algorithm_params", cmd), 0);
		write_pages(z, 44 + 2 * (i - 1), 46 + 2 * (i - 1), rs);
	}
	check_all(z, 48);
	/* a fifth while all four indexes are needed: refused, nothing hurt */
	snprintf(cmd, sizeof(cmd), "dict=%s", path[3]);
	CHECK_EQ(attr_store(z, "algorithm_params", cmd), -EBUSY);
	check_all(z, 48);
	/* the no-dictionary pages go: their index is free again */
	CHECK_EQ(zram_discard(z, 8 * ZRAM_PAGE_SIZE, 16 * ZRAM_PAGE_SIZE), 0);
	memset(pages[8], 0, 16 * sizeof(pages[0]));
	CHECK_EQ(attr_store(z, "algorithm_params", cmd), 0);
	write_pages(z, 48, 50, rs);
	check_all(z, 50);
	/* the same bytes again, and level changes: fine */
	snprintf(cmd, sizeof(cmd), "dict=%s level=7", path[3]);
	CHECK_EQ(attr_store(z, "algorithm_params", cmd), 0);
	CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].level), 7);
	CHECK_EQ(attr_store(z, "algorithm_params", "level=-1"), 0);
	write_pages(z, 50, 52, rs);
	check_all(z, 52);
	for (i = 0; i < 4; i++)
		unlink(path[i]);
}

static void test_reset(struct zram *z)
{
	static unsigned char buf[ZRAM_PAGE_SIZE], zero[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	unsigned int i;

	CHECK_EQ(zram_open_get(z), 0);
	CHECK_EQ(attr_store(z, "reset", "1"), -EBUSY);
	zram_stats_get(z, &s);
	CHECK(s.pages_stored > 0);
	zram_open_put(z);
	CHECK_EQ(attr_store(z, "reset", "1"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(s.orig_data_size, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.huge_pages_since, 0);
	CHECK_EQ(s.num_reads, 0);
	CHECK_EQ(s.num_writes, 0);
	CHECK_EQ(s.mem_used_total, 0);
	CHECK_EQ(s.pages_compacted, 0);
	CHECK_EQ(zram_read(z, buf, sizeof(buf), 40 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(!memcmp(buf, zero, sizeof(buf)));
	for (i = 0; i < ZRAM_DICT_SLOTS; i++)
		CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].pages[i]),
			 0);
}

/* zram_config.algorithm_params may load the dictionary at creation. */
static void test_create_dict(uint64_t *rs)
{
	struct zram_config cfg = {.disksize = 4 * ZRAM_PAGE_SIZE,
				  .algorithm = "zstd"};
	static unsigned char buf[ZRAM_PAGE_SIZE];
	char path[64], params[128];
	struct zram *z;
	size_t k;

	for (k = 0; k < sizeof(rnd); k++)
		rnd[k] = (unsigned char)(harness_rand(rs) >> 40);
	dict_file(path, rnd, sizeof(rnd));
	snprintf(params, sizeof(params), "level=-1 dict=%s\n", path);
	cfg.algorithm_params = params;
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_write(z, rnd, sizeof(rnd), ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(slot_size(z, 1) > 0 && slot_size(z, 1) < 200);
	CHECK_EQ(zram_read(z, buf, sizeof(buf), ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK(!memcmp(buf, rnd, sizeof(buf)));
	zram_destroy(z);
	/* a bad dictionary path fails the creation */
	snprintf(params, sizeof(params), "dict=%s.missing", path);
	CHECK_EQ(zram_create(&cfg, &z), -ENOENT);
	unlink(path);
}

int main(void)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE};
	uint64_t rs = harness_seed();
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	test_switch(z, &rs);
	test_dict(z, &rs);
	test_reset(z);
	zram_destroy(z);
	test_create_dict(&rs);
	return harness_finish("zram_codec");
}
