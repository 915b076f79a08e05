/*
 * zram_dict_train.c - trained dictionaries, codec by codec.
 *
 * Pages of "source files" that share a vocabulary but differ page to page
 * (what a dictionary is for) train a dictionary of at most the asked size,
 * for zstd (a full zstd dictionary) and for lz4 and lz4hc (raw content).
 * With it, every codec compresses the pages smaller than without it, and
 * each page decompresses back to its bytes only with the dictionary.
 * Content with nothing to learn (a handful of pages) gives -ENODATA.
 * A training through the store gives its memory back: after a first one
 * (which raises glibc's mmap threshold), three more leave the process's
 * RSS within a few MiB, not the tens of MiB of samples and ZDICT buffers
 * they used.
 */
#include <errno.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"

#define NPAGES 512u

static unsigned char pages[NPAGES][ZRAM_PAGE_SIZE];
static unsigned char cbuf[2 * ZRAM_PAGE_SIZE];
static unsigned char back[ZRAM_PAGE_SIZE];

static void pages_make(uint64_t *rs)
{
	unsigned int p;

	for (p = 0; p < NPAGES; p++)
		harness_text_fill(pages[p], ZRAM_PAGE_SIZE, harness_rand(rs));
}

/* Total compressed bytes of every page with @dict (NULL: none). */
static uint64_t total(unsigned int id, void *ctx, const struct zram_dict *d)
{
	const struct zram_codec_ops *ops = zram_codec_get(id);
	uint64_t sum = 0;
	unsigned int p;

	for (p = 0; p < NPAGES; p++) {
		int n = ops->compress(ctx, ops->level_default, d, pages[p],
				      cbuf, sizeof(cbuf));

		REQUIRE(n > 0);
		sum += (uint64_t)n;
		CHECK_EQ(ops->decompress(ctx, d, cbuf, (size_t)n, back), 0);
		CHECK(!memcmp(back, pages[p], ZRAM_PAGE_SIZE));
		if (d && p % 64 == 0) /* needs the dictionary to read */
			CHECK(ops->decompress(ctx, NULL, cbuf, (size_t)n,
					      back) != 0 ||
			      memcmp(back, pages[p], ZRAM_PAGE_SIZE));
	}
	return sum;
}

static void test_codec(unsigned int id)
{
	const struct zram_codec_ops *ops = zram_codec_get(id);
	struct zram_dict *d;
	uint64_t plain, with;
	void *ctx, *data;
	size_t size;

	REQUIRE(ops->ctx_create(&ctx) == 0);
	CHECK_EQ(dict_train_pages(id, pages, NPAGES, 8192, &data, &size), 0);
	CHECK(size > 0 && size <= 8192);
	REQUIRE(zram_dict_make(ops, data, size, &d) == 0);
	d->gen = 1; /* as dict_replace() numbers them */
	plain = total(id, ctx, NULL);
	with = total(id, ctx, d);
	fprintf(stderr, "%s: %llu bytes plain, %llu with a %zu-byte dict\n",
		ops->name, (unsigned long long)plain, (unsigned long long)with,
		size);
	CHECK(with < plain);
	zram_dict_free(d);
	/* nothing to learn from two pages */
	CHECK_EQ(dict_train_pages(id, pages, 2, 8192, &data, &size), -ENODATA);
	ops->ctx_destroy(ctx);
}

static void test_train_rss(uint64_t *rs)
{
	struct zram_config cfg = {.disksize = 4 * NPAGES * ZRAM_PAGE_SIZE,
				  .algorithm = "zstd"};
	struct zram *z;
	long rss0, rss1;
	unsigned int round, p;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (round = 0; round < 4; round++) {
		pages_make(rs);
		for (p = 0; p < NPAGES; p++)
			REQUIRE(zram_write(z, pages[p], ZRAM_PAGE_SIZE,
					   (uint64_t)(round * NPAGES + p) *
						   ZRAM_PAGE_SIZE) ==
				ZRAM_PAGE_SIZE);
	}
	/* the auto_dict default: 4096 samples (a 16 MiB buffer) */
	CHECK_EQ(zram_dict_train(z, 4096, 65536), 0);
	rss0 = harness_rss_kib();
	for (round = 0; round < 3; round++)
		CHECK_EQ(zram_dict_train(z, 4096, 65536), 0);
	rss1 = harness_rss_kib();
	fprintf(stderr, "RSS after one training %ld KiB, after four %ld KiB\n",
		rss0, rss1);
#if !defined(UZRAM_TSAN) && !defined(UZRAM_ASAN) /* their own allocators */
	CHECK(rss1 < rss0 + 6144);
#endif
	zram_destroy(z);
}

int main(void)
{
	uint64_t rs = harness_seed();

	test_train_rss(&rs);
	pages_make(&rs);
	test_codec(ZRAM_CODEC_ZSTD);
	test_codec(ZRAM_CODEC_LZ4);
	test_codec(ZRAM_CODEC_LZ4HC);
	return harness_finish("zram_dict_train");
}
