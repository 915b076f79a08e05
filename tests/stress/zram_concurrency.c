/*
 * zram_concurrency.c - threads on overlapping pages, with compaction and
 * discards running alongside.
 *
 * Part 1 (whole pages): writers store self-describing pages (page number,
 * version, kind, checksum of the body; bodies compressible, random or
 * same-filled) on a small shared range; readers read single pages and
 * multi-page ranges and check every page is either zeros (never written or
 * discarded) or a valid page for that index; a thread compacts in a loop,
 * one discards and zeroes random ranges, one flips the codec and level.
 * A torn or misplaced page fails the checksum or the page number.
 *
 * Part 2 (partial pages): each thread owns interleaved 64-byte lanes of the
 * same few pages and rewrites them with unaligned small writes, while a
 * compactor runs; at the end every lane must hold its owner's last version
 * (read-modify-write under the slot lock loses nothing).
 *
 * Scaled by harness_scale() (UZRAM_STRESS_SCALE), seeded by harness_seed().
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness.h"
#include "stress.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 48u
#define WRITERS 3
#define READERS 2
#define LANE 64u
#define LANE_PAGES 4u
#define LANE_THREADS 4

struct hdr {
	uint64_t page;
	uint64_t version;
	uint64_t kind;
	uint64_t sum;
};

struct ctx {
	struct zram *z;
	uint64_t seed;
	unsigned int id;
	long iters;
	_Atomic int *stop;
	_Atomic long *bad;
	uint64_t last[LANE_PAGES * ZRAM_PAGE_SIZE / LANE];
};

static uint64_t body_sum(const unsigned char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void page_make(unsigned char *p, uint64_t page, uint64_t version,
		      uint64_t *rs)
{
	struct hdr h = {page, version, harness_rand(rs) % 3, 0};
	size_t i;

	for (i = sizeof(h); i < ZRAM_PAGE_SIZE; i++) {
		if (h.kind == 0)
			p[i] = (unsigned char)('a' + (i / 9 + version) % 23);
		else if (h.kind == 1)
			p[i] = (unsigned char)(harness_rand(rs) >> 40);
		else
			p[i] = (unsigned char)version;
	}
	h.sum = body_sum(p + sizeof(h), ZRAM_PAGE_SIZE - sizeof(h));
	memcpy(p, &h, sizeof(h));
}

static bool page_valid(const unsigned char *p, uint64_t page)
{
	struct hdr h;
	size_t i;

	memcpy(&h, p, sizeof(h));
	if (!h.page && !h.version && !h.kind && !h.sum) {
		for (i = 0; i < ZRAM_PAGE_SIZE; i++)
			if (p[i])
				return false;
		return true;
	}
	return h.page == page &&
	       h.sum == body_sum(p + sizeof(h), ZRAM_PAGE_SIZE - sizeof(h));
}

static void *writer(void *arg)
{
	struct ctx *c = arg;
	unsigned char p[ZRAM_PAGE_SIZE];
	uint64_t rs = c->seed;
	long i;

	for (i = 0; i < c->iters; i++) {
		uint64_t page = harness_rand(&rs) % PAGES;

		page_make(p, page, ((uint64_t)c->id << 32) | (uint64_t)i, &rs);
		if (zram_write(c->z, p, sizeof(p), page * ZRAM_PAGE_SIZE) !=
		    ZRAM_PAGE_SIZE)
			atomic_fetch_add(c->bad, 1);
	}
	return NULL;
}

static void *reader(void *arg)
{
	static _Thread_local unsigned char buf[4 * ZRAM_PAGE_SIZE];
	struct ctx *c = arg;
	uint64_t rs = c->seed;
	long i;

	for (i = 0; i < c->iters * 2; i++) {
		uint64_t first = harness_rand(&rs) % PAGES;
		uint64_t n = 1 + harness_rand(&rs) % 4, k;

		if (first + n > PAGES)
			n = PAGES - first;
		if (zram_read(c->z, buf, n * ZRAM_PAGE_SIZE,
			      first * ZRAM_PAGE_SIZE) !=
		    (ssize_t)(n * ZRAM_PAGE_SIZE)) {
			atomic_fetch_add(c->bad, 1);
			continue;
		}
		for (k = 0; k < n; k++)
			if (!page_valid(buf + k * ZRAM_PAGE_SIZE, first + k)) {
				fprintf(stderr, "torn page %llu\n",
					(unsigned long long)(first + k));
				atomic_fetch_add(c->bad, 1);
			}
	}
	return NULL;
}

static void *compactor(void *arg)
{
	struct ctx *c = arg;
	const struct zram_attr *a = zram_attr_find("compact");

	while (!atomic_load(c->stop))
		if (a->store(c->z, "1", 1))
			atomic_fetch_add(c->bad, 1);
	return NULL;
}

static void *discarder(void *arg)
{
	struct ctx *c = arg;
	uint64_t rs = c->seed;

	while (!atomic_load(c->stop)) {
		uint64_t first = harness_rand(&rs) % PAGES;
		uint64_t n = 1 + harness_rand(&rs) % 3;
		int err;

		if (first + n > PAGES)
			n = PAGES - first;
		if (harness_rand(&rs) % 2)
			err = zram_discard(c->z, first * ZRAM_PAGE_SIZE,
					   n * ZRAM_PAGE_SIZE);
		else
			err = zram_write_zeroes(c->z, first * ZRAM_PAGE_SIZE,
						n * ZRAM_PAGE_SIZE);
		if (err)
			atomic_fetch_add(c->bad, 1);
	}
	return NULL;
}

static void *switcher(void *arg)
{
	static const char *const cmds[][2] = {
		{"comp_algorithm", "zstd"},
		{"algorithm_params", "level=-3"},
		{"comp_algorithm", "lz4hc"},
		{"algorithm_params", "level=2"},
		{"comp_algorithm", "lz4"},
		{"algorithm_params", "level=3"},
		{"algorithm_params", "algo=zstd level=5"},
	};
	struct ctx *c = arg;
	unsigned int i = 0;

	while (!atomic_load(c->stop)) {
		const struct zram_attr *a = zram_attr_find(cmds[i][0]);

		if (a->store(c->z, cmds[i][1], strlen(cmds[i][1])))
			atomic_fetch_add(c->bad, 1);
		i = (i + 1) % (sizeof(cmds) / sizeof(cmds[0]));
		sched_yield();
	}
	return NULL;
}

static void lane_make(unsigned char *p, unsigned int id, uint64_t lane,
		      uint64_t version)
{
	uint64_t w[LANE / 8];
	size_t i;

	for (i = 0; i < LANE / 8; i++)
		w[i] = ((uint64_t)id << 56) ^ (lane << 32) ^ version ^
		       (i << 48);
	memcpy(p, w, LANE);
}

static void *lane_writer(void *arg)
{
	struct ctx *c = arg;
	unsigned char p[LANE];
	uint64_t rs = c->seed;
	uint64_t lanes = LANE_PAGES * ZRAM_PAGE_SIZE / LANE;
	long i;

	for (i = 1; i <= c->iters * 4; i++) {
		uint64_t lane = (harness_rand(&rs) % (lanes / LANE_THREADS)) *
					LANE_THREADS +
				c->id;

		lane_make(p, c->id, lane, (uint64_t)i);
		if (zram_write(c->z, p, LANE, lane * LANE) != LANE)
			atomic_fetch_add(c->bad, 1);
		c->last[lane] = (uint64_t)i;
	}
	return NULL;
}

static void table_check(struct zram *z, const struct zram_stats *s)
{
	uint64_t stored = 0, same = 0, huge = 0, compr = 0, i;

	for (i = 0; i < PAGES; i++) {
		uint32_t f = atomic_load(&z->table[i].flags);

		CHECK(!(f & SLOT_LOCK_BITS));
		if (!(f & SLOT_SAME) && !(f & SLOT_SIZE_MASK))
			continue;
		stored++;
		same += !!(f & SLOT_SAME);
		huge += !!(f & SLOT_HUGE);
		if (!(f & SLOT_SAME))
			compr += f & SLOT_SIZE_MASK;
	}
	CHECK_EQ(s->pages_stored, stored);
	CHECK_EQ(s->same_pages, same);
	CHECK_EQ(s->huge_pages, huge);
	CHECK_EQ(s->compr_data_size, compr);
	CHECK(stored > 0);
}

static void part_pages(uint64_t seed, long iters)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE};
	struct ctx c[WRITERS + READERS + 3];
	struct stress_crew crew;
	struct zram_stats s;
	struct zram *z;
	int i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	stress_crew_init(&crew);
	for (i = 0; i < WRITERS + READERS + 3; i++)
		c[i] = (struct ctx){z,		 seed + (uint64_t)i * 7919,
				    (unsigned)i, iters,
				    &crew.stop,	 &crew.bad,
				    {0}};
	for (i = 0; i < WRITERS; i++)
		stress_worker(&crew, writer, &c[i]);
	for (; i < WRITERS + READERS; i++)
		stress_worker(&crew, reader, &c[i]);
	stress_background(&crew, compactor, &c[i++]);
	stress_background(&crew, discarder, &c[i++]);
	stress_background(&crew, switcher, &c[i]);
	CHECK_EQ(stress_join(&crew), 0);
	/* quiescent: every counter agrees with a scan of the slot table */
	zram_stats_get(z, &s);
	table_check(z, &s);
	CHECK_EQ(s.failed_reads, 0);
	CHECK_EQ(s.failed_writes, 0);
	CHECK_EQ(zram_discard(z, 0, PAGES * ZRAM_PAGE_SIZE), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.huge_pages, 0);
	CHECK_EQ(s.same_pages, 0);
	zram_destroy(z);
}

static void part_lanes(uint64_t seed, long iters)
{
	struct zram_config cfg = {.disksize = LANE_PAGES * ZRAM_PAGE_SIZE};
	static struct ctx c[LANE_THREADS + 1];
	static unsigned char disk[LANE_PAGES * ZRAM_PAGE_SIZE];
	struct stress_crew crew;
	struct zram *z;
	uint64_t lane;
	int i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	stress_crew_init(&crew);
	for (i = 0; i < LANE_THREADS + 1; i++)
		c[i] = (struct ctx){z,		 seed + (uint64_t)i * 104729,
				    (unsigned)i, iters,
				    &crew.stop,	 &crew.bad,
				    {0}};
	for (i = 0; i < LANE_THREADS; i++)
		stress_worker(&crew, lane_writer, &c[i]);
	stress_background(&crew, compactor, &c[i]);
	CHECK_EQ(stress_join(&crew), 0);
	CHECK_EQ(zram_read(z, disk, sizeof(disk), 0), sizeof(disk));
	for (lane = 0; lane < sizeof(disk) / LANE; lane++) {
		unsigned int id = (unsigned int)(lane % LANE_THREADS);
		unsigned char want[LANE] = {0};

		if (c[id].last[lane])
			lane_make(want, id, lane, c[id].last[lane]);
		if (memcmp(want, disk + lane * LANE, LANE)) {
			fprintf(stderr, "lane %llu lost its last write\n",
				(unsigned long long)lane);
			CHECK(0);
		}
	}
	zram_destroy(z);
}

int main(void)
{
	uint64_t seed = harness_seed();
	long iters = stress_iters(10000, 200);

	part_pages(seed, iters);
	part_lanes(seed, iters);
	return harness_finish("zram_concurrency");
}
