/*
 * zs_model.c - model-based test: seeded random zs_malloc / zs_obj_write /
 * read / zs_free / zs_compact against a shadow table (each live object's
 * size and content seed). Every live object is checked after every
 * compaction. At the end everything is freed and compacted: the pool must
 * hold no page and the process's resident memory must be back near where it
 * started (the pages went back to the OS).
 */
#include <errno.h>
#include <unistd.h>

#include "harness.h"
#include "zsmalloc.h"

#define PAGE ZS_PAGE_SIZE
#define NR_SLOTS 20000

struct shadow {
	zs_handle_t handle;
	unsigned int size;
	uint32_t seed;
};

static struct shadow slots[NR_SLOTS];
static unsigned char local[PAGE];

static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	uint64_t x = seed | ((uint64_t)len << 32);

	for (size_t i = 0; i < len; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (unsigned char)(x >> 56);
	}
}

/* Sizes like zram's: mostly compressed pages, some tiny, some huge. */
static unsigned int size_pick(uint64_t *rng)
{
	uint64_t r = harness_rand(rng);

	switch (r % 8) {
	case 0:
		return 1 + (unsigned int)(r >> 8) % 64;
	case 1:
		return PAGE - (unsigned int)(r >> 8) % 600;
	default:
		return 200 + (unsigned int)(r >> 8) % 3000;
	}
}

static int slot_check(struct zs_pool *pool, struct shadow *s)
{
	static unsigned char want[PAGE];
	void *p;
	int ok;

	fill(want, s->size, s->seed);
	p = zs_obj_read_begin(pool, s->handle, local);
	ok = memcmp(p, want, s->size) == 0;
	zs_obj_read_end(pool, s->handle, p);
	return ok;
}

static void slot_store(struct zs_pool *pool, struct shadow *s, uint64_t *rng)
{
	static unsigned char buf[PAGE];

	s->seed = (uint32_t)harness_rand(rng);
	fill(buf, s->size, s->seed);
	zs_obj_write(pool, s->handle, buf, s->size);
}

static unsigned long check_all(struct zs_pool *pool)
{
	unsigned long bad = 0;

	for (unsigned int i = 0; i < NR_SLOTS; i++)
		if (slots[i].handle && !slot_check(pool, &slots[i]))
			bad++;
	return bad;
}

static void op_random(struct zs_pool *pool, uint64_t *rng, uint64_t *live)
{
	struct shadow *s = &slots[harness_rand(rng) % NR_SLOTS];
	unsigned int r = (unsigned int)(harness_rand(rng) % 10);

	if (!s->handle) {
		s->size = size_pick(rng);
		REQUIRE(zs_malloc(pool, s->size, &s->handle) == 0);
		slot_store(pool, s, rng);
		*live += s->size;
	} else if (r < 4) {
		zs_free(pool, s->handle);
		*live -= s->size;
		s->handle = 0;
	} else if (r < 7) {
		CHECK(slot_check(pool, s));
	} else {
		slot_store(pool, s, rng);
	}
}

int main(void)
{
	uint64_t rng = harness_seed(), live = 0, ops, i, compacted = 0;
	uint64_t meta_peak;
	struct zs_pool *pool = zs_create_pool("model");
	struct zs_pool_stats st;
	long rss_start, rss_peak = 0, rss_end;

	REQUIRE(pool != NULL);
	rss_start = harness_rss_kib();
	ops = (uint64_t)(400000 * harness_scale());
	for (i = 1; i <= ops; i++) {
		op_random(pool, &rng, &live);
		/* Phases of mass frees make compaction worth something. */
		if (i % 50000 == 25000)
			for (unsigned int j = 0; j < NR_SLOTS; j += 2)
				if (slots[j].handle) {
					zs_free(pool, slots[j].handle);
					live -= slots[j].size;
					slots[j].handle = 0;
				}
		if (i % 10000 == 0) {
			long rss = harness_rss_kib();

			if (rss > rss_peak)
				rss_peak = rss;
			compacted += zs_compact(pool);
			CHECK_EQ(check_all(pool), 0);
		}
	}
	zs_pool_stats(pool, &st);
	printf("live %" PRIu64 " B in %" PRIu64 " pages (%.1f%% used), "
	       "compacted %" PRIu64 " pages, metadata %" PRIu64 " B\n",
	       live, st.pages_allocated,
	       st.pages_allocated ? 100.0 * live / (st.pages_allocated * PAGE)
				  : 0.0,
	       compacted, st.metadata_bytes);
	CHECK(compacted > 0);
	CHECK_EQ(st.pages_compacted, compacted);
	meta_peak = st.metadata_bytes;
	CHECK_EQ(check_all(pool), 0);
	for (i = 0; i < NR_SLOTS; i++) {
		zs_free(pool, slots[i].handle);
		slots[i].handle = 0;
	}
	zs_compact(pool);
	zs_pool_stats(pool, &st);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	CHECK_EQ(st.objs_used, 0);
	CHECK_EQ(st.objs_allocated, 0);
	CHECK_EQ(st.zspages, 0);
	/* Empty handle and zspage tables gave their memory back. */
	printf("metadata: %" PRIu64 " B live, %" PRIu64 " B empty\n", meta_peak,
	       st.metadata_bytes);
	CHECK(st.metadata_bytes < meta_peak / 2);
	rss_end = harness_rss_kib();
	printf("rss: start %ld KiB, peak %ld KiB, end %ld KiB\n", rss_start,
	       rss_peak, rss_end);
#if defined(UZRAM_ASAN) || defined(UZRAM_TSAN)
	printf("rss check not meaningful under a sanitizer (shadow memory)\n");
#else
	/* The pool reached tens of MiB; what is left is metadata + cache. */
	CHECK(rss_peak - rss_start > 16 * 1024);
	CHECK(rss_end - rss_start < 3 * 1024);
#endif
	zs_destroy_pool(pool);
	return harness_finish("zs_model");
}
