/*
 * zram_api.c - the typed control API of zram.h: each call does what its
 * control file does, the control file and the call agree, bad arguments
 * change nothing, and zram_extent() reports holes, zeros and data exactly
 * (a page reported as a hole or zeros must read as zeros).
 */
#include <errno.h>
#include <limits.h>

#include "harness.h"
#include "zram_attr.h"
#include "zram.h"

static void text_page(unsigned char *p, unsigned int seed)
{
	size_t i;

	for (i = 0; i < ZRAM_PAGE_SIZE; i++)
		p[i] = (unsigned char)('a' + (i / 7 + seed) % 23);
}

static void test_codecs(struct zram *z)
{
	struct zram_algorithm_params p = {0};
	int level = 0;

	CHECK(!strcmp(zram_algorithm_name(0), "lz4"));
	CHECK(!strcmp(zram_algorithm_name(1), "lz4hc"));
	CHECK(!strcmp(zram_algorithm_name(2), "zstd"));
	CHECK(zram_algorithm_name(3) == NULL);
	CHECK(!strcmp(zram_algorithm_get(z), "lz4"));
	CHECK_EQ(zram_algorithm_set(z, "zstd"), 0);
	CHECK(!strcmp(zram_algorithm_get(z), "zstd"));
	CHECK(!strcmp(attr_show(z, "comp_algorithm"), "lz4 lz4hc [zstd]\n"));
	CHECK_EQ(zram_algorithm_set(z, "gzip"), -EINVAL);
	CHECK_EQ(zram_algorithm_set(z, ""), -EINVAL);
	CHECK(!strcmp(zram_algorithm_get(z), "zstd"));

	p.set_level = true;
	p.level = 7;
	CHECK_EQ(zram_algorithm_params_set(z, &p), 0);
	CHECK_EQ(zram_algorithm_level_get(z, "zstd", &level), 0);
	CHECK_EQ(level, 7);
	p.algorithm = "lz4hc";
	p.level = 1000; /* out of range: nothing changes */
	CHECK_EQ(zram_algorithm_params_set(z, &p), -EINVAL);
	CHECK_EQ(zram_algorithm_level_get(z, "lz4hc", &level), 0);
	CHECK(level != 1000);
	p.algorithm = NULL;
	p.level = 3;
	p.priority = 4; /* past the last recompression slot */
	CHECK_EQ(zram_algorithm_params_set(z, &p), -EINVAL);
	p.priority = 2; /* no recomp_algorithm set there */
	CHECK_EQ(zram_algorithm_params_set(z, &p), -EINVAL);
	p.priority = 0;
	p.algorithm = "nope";
	p.level = 3;
	CHECK_EQ(zram_algorithm_params_set(z, &p), -EINVAL);
	CHECK_EQ(zram_algorithm_level_get(z, "nope", &level), -EINVAL);
	p.algorithm = "lz4";
	p.set_level = false;
	p.dict = "/nonexistent/dict";
	CHECK_EQ(zram_algorithm_params_set(z, &p), -ENOENT); /* no file */
	p.dict = "/dev/null";
	CHECK_EQ(zram_algorithm_params_set(z, &p), -EINVAL); /* not a file */
	p.algorithm = "zstd";
	CHECK(zram_algorithm_params_set(z, &p) < 0);
	/* the text layer lands in the same place */
	CHECK_EQ(zram_attr_find("algorithm_params")
			 ->store(z, "algo=zstd level=-5", 18),
		 0);
	CHECK_EQ(zram_algorithm_level_get(z, "zstd", &level), 0);
	CHECK_EQ(level, -5);
}

static void test_limits(struct zram *z)
{
	unsigned char p[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	unsigned int i;

	CHECK_EQ(zram_mem_limit_set(z, 5000), 0);
	CHECK_EQ(zram_mem_limit_get(z), 8192);
	CHECK(!strcmp(attr_show(z, "mem_limit"), "8192\n"));
	CHECK_EQ(zram_mem_limit_set(z, UINT64_MAX), -EINVAL);
	CHECK_EQ(zram_mem_limit_get(z), 8192);
	CHECK_EQ(zram_mem_limit_set(z, 0), 0);
	for (i = 0; i < 64; i++) {
		text_page(p, i);
		CHECK_EQ(zram_write(z, p, sizeof(p), i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
	}
	CHECK_EQ(zram_discard(z, 0, 48 * ZRAM_PAGE_SIZE), 0);
	zram_compact(z);
	zram_mem_used_max_reset(z);
	zram_stats_get(z, &s);
	CHECK(s.mem_used_max == s.mem_used_total);
	CHECK_EQ(zram_idle_mark(z, ZRAM_IDLE_ALL), 16);
	CHECK_EQ(zram_idle_mark(z, 3600), 0);
	CHECK_EQ(zram_open_get(z), 0);
	CHECK_EQ(zram_reset(z), -EBUSY);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 16);
	zram_open_put(z);
	CHECK_EQ(zram_reset(z), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 0);
}

/* Every page reported hole or zero reads as zeros; data is data. */
static void test_extents(void)
{
	struct zram_config cfg = {.disksize = 64 * ZRAM_PAGE_SIZE};
	unsigned char p[ZRAM_PAGE_SIZE], zero[ZRAM_PAGE_SIZE] = {0};
	enum zram_extent_kind k = ZRAM_EXTENT_DATA;
	uint64_t off;
	struct zram *z;
	int64_t n;

	REQUIRE(zram_create(&cfg, &z) == 0);
	/* pages 0..9 hole, 10..11 data, 12..15 zero, 16 fill 0xab, rest hole */
	text_page(p, 1);
	CHECK_EQ(zram_write(z, p, sizeof(p), 10 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_write(z, p, sizeof(p), 11 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	CHECK_EQ(zram_write_zeroes(z, 12 * ZRAM_PAGE_SIZE, 3 * ZRAM_PAGE_SIZE),
		 0);
	CHECK_EQ(zram_write(z, zero, sizeof(zero), 15 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);
	memset(p, 0xab, sizeof(p));
	CHECK_EQ(zram_write(z, p, sizeof(p), 16 * ZRAM_PAGE_SIZE),
		 ZRAM_PAGE_SIZE);

	n = zram_extent(z, 0, 64 * ZRAM_PAGE_SIZE, &k);
	CHECK(n == 10 * ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_HOLE);
	n = zram_extent(z, 10 * ZRAM_PAGE_SIZE + 100, 64 * ZRAM_PAGE_SIZE, &k);
	CHECK(n == 2 * ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_DATA);
	n = zram_extent(z, 12 * ZRAM_PAGE_SIZE, 64 * ZRAM_PAGE_SIZE, &k);
	CHECK(n == 4 * ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_ZERO);
	n = zram_extent(z, 16 * ZRAM_PAGE_SIZE, 1, &k);
	CHECK(n == ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_DATA);
	n = zram_extent(z, 17 * ZRAM_PAGE_SIZE, UINT64_MAX, &k);
	CHECK(n == 47 * ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_HOLE);
	/* @max stops the run at the page holding its last byte */
	n = zram_extent(z, 0, 3 * ZRAM_PAGE_SIZE + 1, &k);
	CHECK(n == 4 * ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_HOLE);
	CHECK_EQ(zram_extent(z, 64 * ZRAM_PAGE_SIZE, 1, &k), -EINVAL);
	CHECK_EQ(zram_extent(z, 0, 0, &k), -EINVAL);
	/* discard turns data back into a hole */
	CHECK_EQ(zram_discard(z, 10 * ZRAM_PAGE_SIZE, 2 * ZRAM_PAGE_SIZE), 0);
	n = zram_extent(z, 0, UINT64_MAX, &k);
	CHECK(n == 12 * ZRAM_PAGE_SIZE && k == ZRAM_EXTENT_HOLE);

	/* whatever it says, holes and zeros read back as zeros */
	for (off = 0; off < 64 * ZRAM_PAGE_SIZE; off += (uint64_t)n) {
		uint64_t i;

		n = zram_extent(z, off, UINT64_MAX, &k);
		REQUIRE(n > 0);
		if (k == ZRAM_EXTENT_DATA)
			continue;
		for (i = 0; i < (uint64_t)n; i += ZRAM_PAGE_SIZE) {
			CHECK_EQ(zram_read(z, p, sizeof(p), off + i),
				 ZRAM_PAGE_SIZE);
			CHECK(!memcmp(p, zero, sizeof(p)));
		}
	}
	zram_destroy(z);
}

/* dedup on and off; train_dict's ranges and its refusal on an empty disk */
static void test_dedup_dict(struct zram *z)
{
	unsigned char page[ZRAM_PAGE_SIZE];
	struct zram_stats st;
	unsigned int i;

	CHECK(!zram_dedup_get(z));
	CHECK_EQ(zram_dedup_set(z, true), 0);
	CHECK(zram_dedup_get(z));
	for (i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * 7 % 251);
	CHECK_EQ(zram_write(z, page, sizeof(page), 0), sizeof(page));
	CHECK_EQ(zram_write(z, page, sizeof(page), ZRAM_PAGE_SIZE),
		 sizeof(page));
	zram_stats_get(z, &st);
	CHECK_EQ(st.dup_pages, 1);
	CHECK_EQ(zram_dedup_set(z, false), 0);
	CHECK(!zram_dedup_get(z));
	CHECK_EQ(zram_write(z, page, sizeof(page), 2 * ZRAM_PAGE_SIZE),
		 sizeof(page));
	zram_stats_get(z, &st);
	CHECK_EQ(st.dup_pages, 1);
	CHECK_EQ(zram_dict_train(z, 15, 65536), -EINVAL);
	CHECK_EQ(zram_dict_train(z, 16385, 65536), -EINVAL);
	CHECK_EQ(zram_dict_train(z, 16, 1023), -EINVAL);
	CHECK_EQ(zram_dict_train(z, 16, (1 << 20) + 1), -EINVAL);
	CHECK_EQ(zram_dict_train(z, 16, 4096), -ENODATA); /* 3 pages */
	CHECK_EQ(zram_discard(z, 0, 3 * ZRAM_PAGE_SIZE), 0);
}

int main(void)
{
	struct zram_config cfg = {.disksize = 64 * ZRAM_PAGE_SIZE};
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	test_codecs(z);
	test_limits(z);
	test_dedup_dict(z);
	zram_destroy(z);
	test_extents();
	return harness_finish("zram_api");
}
