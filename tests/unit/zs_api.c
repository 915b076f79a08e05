/*
 * zs_api.c - every function of zsmalloc.h on a single thread: size limits,
 * class geometry and merging against an independent recomputation of the
 * kernel's rules (and the kernel's own numbers for chain size 8), objects
 * straddling a page read both ways and written across the boundary, the
 * fullness columns of the class rows, the pool stats.
 */
#include <errno.h>

#include "harness.h"
#include "zsmalloc.h"

#ifdef UZRAM_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define PAGE ZS_PAGE_SIZE

struct geom {
	unsigned int pages, objs, canon;
};

/* The kernel's rules, recomputed here for chain limit @chain. */
static void geom_compute(unsigned int chain, struct geom *g)
{
	unsigned int prev_pages = 0, prev_objs = 0, prev_idx = 0;
	int i;

	for (i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
		unsigned int size = 32 + 16 * (unsigned int)i, k, best = 1;
		unsigned int best_waste = PAGE;

		for (k = 1; k <= chain; k++)
			if ((k * PAGE) % size < best_waste) {
				best_waste = (k * PAGE) % size;
				best = k;
			}
		g[i].pages = best;
		g[i].objs = best * PAGE / size;
		if (g[i].pages == prev_pages && g[i].objs == prev_objs) {
			g[i].canon = prev_idx;
		} else {
			g[i].canon = (unsigned int)i;
			prev_idx = (unsigned int)i;
			prev_pages = g[i].pages;
			prev_objs = g[i].objs;
		}
	}
}

static unsigned int chain_of(struct zs_pool *pool)
{
	struct zs_class_stats st;
	unsigned int i, max = 0;

	for (i = 0; i < ZS_SIZE_CLASSES; i++)
		if (!zs_class_stats_get(pool, i, &st) &&
		    st.pages_per_zspage > max)
			max = st.pages_per_zspage;
	return max;
}

static void test_geometry(struct zs_pool *pool)
{
	static struct geom g[ZS_SIZE_CLASSES];
	struct zs_class_stats st;
	unsigned int chain = chain_of(pool), i, distinct = 0;

	REQUIRE(chain >= 4 && chain <= 16);
	geom_compute(chain, g);
	for (i = 0; i < ZS_SIZE_CLASSES; i++) {
		int err = zs_class_stats_get(pool, i, &st);

		if (g[i].canon != i) {
			CHECK_EQ(err, -ENOENT);
			continue;
		}
		distinct++;
		CHECK_EQ(err, 0);
		CHECK_EQ(st.index, i);
		CHECK_EQ(st.size, 32 + 16 * i);
		CHECK_EQ(st.pages_per_zspage, g[i].pages);
		CHECK_EQ(st.objs_per_zspage, g[i].objs);
	}
	/* The largest non-huge class, from the top. */
	for (i = ZS_SIZE_CLASSES - 1; g[i].pages == 1 && g[i].objs == 1; i--)
		;
	CHECK_EQ(zs_huge_class_size(pool), 32 + 16 * i - 7);
	CHECK_EQ(zs_class_stats_get(pool, ZS_SIZE_CLASSES, &st), -EINVAL);
	/* Every raw size maps to the canonical class of its raw index. */
	for (size_t s = 1; s <= PAGE; s++) {
		size_t raw = s + 8 <= 32 ? 0 : (s + 8 - 32 + 15) / 16;

		if (raw > 254)
			raw = 254;
		if ((size_t)zs_lookup_class_index(pool, s) != g[raw].canon) {
			CHECK_EQ(zs_lookup_class_index(pool, s), g[raw].canon);
			break;
		}
	}
	printf("chain %u: %u distinct classes, huge_class_size %zu\n", chain,
	       distinct, zs_huge_class_size(pool));
	if (chain != 8)
		return;
	/* The kernel's numbers for CONFIG_ZSMALLOC_CHAIN_SIZE=8. */
	CHECK_EQ(zs_huge_class_size(pool), 3625);
	CHECK_EQ(zs_lookup_class_index(pool, 1560), 96);
	CHECK_EQ(zs_class_stats_get(pool, 96, &st), 0);
	CHECK_EQ(st.size, 1568);
	CHECK_EQ(st.pages_per_zspage, 5);
	CHECK_EQ(st.objs_per_zspage, 13);
	CHECK_EQ(zs_lookup_class_index(pool, 40), 1);
	CHECK_EQ(zs_class_stats_get(pool, 1, &st), 0);
	CHECK_EQ(st.size, 48);
	CHECK_EQ(st.pages_per_zspage, 3);
	CHECK_EQ(st.objs_per_zspage, 256);
	CHECK_EQ(zs_lookup_class_index(pool, 3624), 225);
	CHECK_EQ(zs_class_stats_get(pool, 225, &st), 0);
	CHECK_EQ(st.size, 3632);
	CHECK_EQ(st.pages_per_zspage, 8);
	CHECK_EQ(st.objs_per_zspage, 9);
	CHECK_EQ(zs_lookup_class_index(pool, 3625), 254);
	CHECK_EQ(zs_lookup_class_index(pool, 4095), 254);
	CHECK_EQ(zs_lookup_class_index(pool, 4096), 254);
	CHECK_EQ(zs_class_stats_get(pool, 226, &st), -ENOENT);
	CHECK_EQ(zs_class_stats_get(pool, 254, &st), 0);
	CHECK_EQ(st.pages_per_zspage, 1);
	CHECK_EQ(st.objs_per_zspage, 1);
	CHECK_EQ(zs_lookup_class_index(pool, 528 - 8), 31);
	CHECK_EQ(zs_class_stats_get(pool, 31, &st), 0);
	CHECK_EQ(st.pages_per_zspage, 4);
	CHECK_EQ(st.objs_per_zspage, 31);
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

/* Allocate, write, read back and free one object of @size bytes. */
static void roundtrip(struct zs_pool *pool, size_t size, unsigned char *local)
{
	static unsigned char in[PAGE];
	zs_handle_t h = 0;
	void *p;

	fill(in, size, (unsigned int)size);
	CHECK_EQ(zs_malloc(pool, size, &h), 0);
	CHECK(h != 0);
	if (!h)
		return;
	zs_obj_write(pool, h, in, size);
	p = zs_obj_read_begin(pool, h, local);
	CHECK(memcmp(p, in, size) == 0);
	zs_obj_read_end(pool, h, p);
	zs_free(pool, h);
}

static void test_sizes(struct zs_pool *pool, unsigned char *local)
{
	static const size_t sizes[] = {1, 31, 32, 33, 4095, 4096};
	zs_handle_t h = 77;
	unsigned int i;

	CHECK_EQ(zs_malloc(pool, 0, &h), -EINVAL);
	CHECK_EQ(zs_malloc(pool, PAGE + 1, &h), -ENOSPC);
	CHECK_EQ(h, 77);
	CHECK_EQ(zs_lookup_class_index(pool, 0), -EINVAL);
	CHECK_EQ(zs_lookup_class_index(pool, PAGE + 1), -ENOSPC);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip(pool, sizes[i], local);
	/* Both sides of every class boundary. */
	for (i = 0; i < ZS_SIZE_CLASSES; i++) {
		size_t top = 32 + 16 * i - 8;

		roundtrip(pool, top, local);
		if (top + 1 <= PAGE)
			roundtrip(pool, top + 1, local);
	}
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_free(pool, 0); /* no-op */
}

/* Class 48 (40-byte objects): object 85 starts at 4080 and straddles. */
static void test_straddle(struct zs_pool *pool, unsigned char *local)
{
	zs_handle_t h[86];
	unsigned char in[40], out[40];
	unsigned char *p;
	unsigned int i;

	REQUIRE(zs_get_total_pages(pool) == 0);
	for (i = 0; i < 86; i++) {
		REQUIRE(zs_malloc(pool, 40, &h[i]) == 0);
		fill(in, 40, i);
		zs_obj_write(pool, h[i], in, 40);
	}
	CHECK_EQ(zs_get_total_pages(pool), 3);
	for (i = 0; i < 86; i++) {
		fill(in, 40, i);
		memset(local, 0xee, PAGE);
		p = zs_obj_read_begin(pool, h[i], local);
		CHECK(memcmp(p, in, 40) == 0);
		if (i < 85) /* in one page: a pointer into the pool page */
			CHECK(p < local || p >= local + PAGE);
		else /* straddles: the local copy, past the header */
			CHECK(p == local + 8);
		zs_obj_read_end(pool, h[i], p);
	}
	/* Rewrite the straddling object across the boundary, read again. */
	fill(in, 40, 999);
	zs_obj_write(pool, h[85], in, 40);
	p = zs_obj_read_begin(pool, h[85], local);
	memcpy(out, p, 40);
	zs_obj_read_end(pool, h[85], p);
	CHECK(memcmp(out, in, 40) == 0);
	/* Its neighbours are untouched. */
	fill(in, 40, 84);
	p = zs_obj_read_begin(pool, h[84], local);
	CHECK(memcmp(p, in, 40) == 0);
	zs_obj_read_end(pool, h[84], p);
	/* A huge object is returned in place, local_copy may be NULL. */
	{
		zs_handle_t hh;
		static unsigned char page[PAGE];

		REQUIRE(zs_malloc(pool, PAGE, &hh) == 0);
		fill(page, PAGE, 5);
		zs_obj_write(pool, hh, page, PAGE);
		p = zs_obj_read_begin(pool, hh, NULL);
		CHECK(p != NULL && memcmp(p, page, PAGE) == 0);
		zs_obj_read_end(pool, hh, p);
		CHECK_EQ(zs_get_total_pages(pool), 4);
		zs_free(pool, hh);
	}
	for (i = 0; i < 86; i++)
		zs_free(pool, h[i]);
	CHECK_EQ(zs_get_total_pages(pool), 0);
}

static void check_row(struct zs_pool *pool, unsigned int index,
		      const unsigned int *cols, unsigned int used)
{
	struct zs_class_stats st;
	unsigned int c;

	REQUIRE(zs_class_stats_get(pool, index, &st) == 0);
	for (c = 0; c < ZS_FULLNESS_COLUMNS; c++)
		CHECK_EQ(st.zspages_by_fullness[c], cols[c]);
	CHECK_EQ(st.obj_used, used);
}

/* Class 96 (1568 B, 13 objects a zspage on chain 8): the fullness rows. */
static void test_fullness(struct zs_pool *pool)
{
	unsigned int cols[ZS_FULLNESS_COLUMNS] = {0};
	struct zs_class_stats st;
	struct zs_pool_stats ps;
	zs_handle_t h[26];
	int idx = zs_lookup_class_index(pool, 1560);
	unsigned int objs, i;

	REQUIRE(idx >= 0 && zs_class_stats_get(pool, idx, &st) == 0);
	objs = st.objs_per_zspage;
	REQUIRE(objs <= 13);
	for (i = 0; i < 2 * objs; i++)
		REQUIRE(zs_malloc(pool, 1560, &h[i]) == 0);
	cols[10] = 2;
	check_row(pool, idx, cols, 2 * objs);
	REQUIRE(zs_class_stats_get(pool, idx, &st) == 0);
	CHECK_EQ(st.obj_allocated, 2 * objs);
	CHECK_EQ(st.pages_used, 2 * st.pages_per_zspage);
	CHECK_EQ(st.freeable, 0);
	zs_free(pool, h[0]); /* (objs-1)/objs: 92% for 13 -> the 99% column */
	cols[10] = 1;
	cols[(100 * (objs - 1) / objs) / 10] = 1;
	check_row(pool, idx, cols, 2 * objs - 1);
	/* Leave one object in the first zspage: the 10% column for 13. */
	for (i = 1; i < objs - 1; i++)
		zs_free(pool, h[i]);
	memset(cols, 0, sizeof(cols));
	cols[10] = 1;
	cols[(100 / objs) / 10] = 1;
	check_row(pool, idx, cols, objs + 1);
	REQUIRE(zs_class_stats_get(pool, idx, &st) == 0);
	CHECK_EQ(st.freeable, 0);
	zs_pool_stats(pool, &ps);
	CHECK_EQ(ps.objs_used, objs + 1);
	CHECK_EQ(ps.objs_allocated, 2 * objs);
	CHECK_EQ(ps.zspages, 2);
	CHECK_EQ(ps.pages_allocated, 2 * st.pages_per_zspage);
	CHECK(ps.metadata_bytes > 0);
	/* A second half-empty zspage makes one zspage freeable. */
	for (i = objs + 1; i < 2 * objs - 1; i++)
		zs_free(pool, h[i]);
	REQUIRE(zs_class_stats_get(pool, idx, &st) == 0);
	CHECK_EQ(st.obj_used, 3);
	CHECK_EQ(st.freeable, st.pages_per_zspage);
	CHECK_EQ(zs_compact(pool), st.pages_per_zspage);
	zs_pool_stats(pool, &ps);
	CHECK_EQ(ps.pages_compacted, st.pages_per_zspage);
	CHECK_EQ(ps.zspages, 1);
	CHECK_EQ(zs_get_total_pages(pool), st.pages_per_zspage);
	zs_free(pool, h[objs - 1]);
	zs_free(pool, h[objs]);
	zs_free(pool, h[2 * objs - 1]);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_EQ(zs_compact(pool), 0);
}

/*
 * Under ASan, a freed slot (past its free-list word) and a freed page are
 * poisoned, so a use after free inside the pool is reported.
 */
static void test_poison(struct zs_pool *pool, unsigned char *local)
{
#ifdef UZRAM_ASAN
	zs_handle_t a, b, huge;
	unsigned char *pa, *ph;

	REQUIRE(zs_malloc(pool, 40, &a) == 0);
	REQUIRE(zs_malloc(pool, 40, &b) == 0);
	REQUIRE(zs_malloc(pool, PAGE, &huge) == 0);
	pa = zs_obj_read_begin(pool, a, local);
	zs_obj_read_end(pool, a, pa);
	ph = zs_obj_read_begin(pool, huge, NULL);
	zs_obj_read_end(pool, huge, ph);
	CHECK(!__asan_address_is_poisoned(pa));
	CHECK(!__asan_address_is_poisoned(ph + PAGE - 1));
	zs_free(pool, a);
	zs_free(pool, huge);
	CHECK(__asan_address_is_poisoned(pa));
	CHECK(__asan_address_is_poisoned(pa + 39));
	CHECK(__asan_address_is_poisoned(ph));
	CHECK(__asan_address_is_poisoned(ph + PAGE - 1));
	zs_free(pool, b);
#else
	(void)pool;
	(void)local;
	printf("poisoning checked only under ASan\n");
#endif
}

int main(void)
{
	static unsigned char local[PAGE];
	struct zs_pool *pool = zs_create_pool("api");

	REQUIRE(pool != NULL);
	test_geometry(pool);
	test_sizes(pool, local);
	test_straddle(pool, local);
	test_fullness(pool);
	test_poison(pool, local);
	zs_destroy_pool(pool);
	zs_destroy_pool(NULL);
	return harness_finish("zs_api");
}
