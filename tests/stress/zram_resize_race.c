/*
 * zram_resize_race.c - I/O running while the disk grows and shrinks.
 *
 * Writers own interleaved pages of the first MiB (always inside the disk)
 * and rewrite them with versioned pages, checking each one reads back; a
 * racer writes and discards random pages of the part that comes and goes,
 * and a page it wrote must read back and stay inside the disk until it
 * discards it (a shrink is refused while it is there); a resizer grows the
 * disk to 8 MiB and shrinks it to 1 MiB in a loop. Afterwards every
 * writer's pages hold its last version (nothing lost), the disk can shrink
 * to 1 MiB once the racer's pages are discarded, and after growing again
 * nothing past 1 MiB reads as data: no page ever landed past the end.
 * pages_stored must count exactly the pages that read as data, and once
 * everything is discarded the counters and the pool are empty (no page was
 * dropped with its table page behind the counters' back).
 *
 * The scenario runs twice: as is, and (test builds) with dbg_install_yield,
 * which makes a writer's slot_install_check() yield between its steps so
 * that shrinks and grows land inside it. On the code before the fix the
 * plain run met the ghost page (counted, unreadable, its object leaked)
 * about once in thousands of runs (0 of 100 here); the widened run met it,
 * or a written page cut off or past the end, in 29 of 30 (ci build).
 *
 * Scaled by harness_scale() (UZRAM_STRESS_SCALE), seeded by harness_seed().
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness.h"
#include "stress.h"
#include "zram.h"
#include "zram_internal.h"

#define MiB (1ull << 20)
#define STABLE_PAGES (1 * MiB / ZRAM_PAGE_SIZE)
#define BIG (8 * MiB)
#define WRITERS 3

struct ctx {
	struct zram *z;
	unsigned int id;
	uint64_t seed;
	long iters;
	uint64_t version[STABLE_PAGES];
	_Atomic int *stop;
	_Atomic long *bad;
	long ok, busy;
};

static void page_make(unsigned char *p, uint64_t index, uint64_t version)
{
	size_t i;

	for (i = 0; i < ZRAM_PAGE_SIZE; i += 8) {
		uint64_t w = index * 1000003u + version * 7919u + i / 64;

		memcpy(p + i, &w, 8);
	}
}

static void *writer(void *arg)
{
	struct ctx *c = arg;
	unsigned char p[ZRAM_PAGE_SIZE], q[ZRAM_PAGE_SIZE];
	uint64_t rs = c->seed;
	long i;

	for (i = 0; i < c->iters; i++) {
		uint64_t idx =
			harness_rand(&rs) % (STABLE_PAGES / WRITERS) * WRITERS +
			c->id;

		page_make(p, idx, ++c->version[idx]);
		if (zram_write(c->z, p, sizeof(p), idx * ZRAM_PAGE_SIZE) !=
			    (ssize_t)sizeof(p) ||
		    zram_read(c->z, q, sizeof(q), idx * ZRAM_PAGE_SIZE) !=
			    (ssize_t)sizeof(q) ||
		    memcmp(p, q, sizeof(p)))
			atomic_fetch_add(c->bad, 1);
	}
	return NULL;
}

static void *racer(void *arg)
{
	struct ctx *c = arg;
	unsigned char p[ZRAM_PAGE_SIZE], q[ZRAM_PAGE_SIZE];
	uint64_t rs = c->seed;

	while (!atomic_load(c->stop)) {
		uint64_t idx = STABLE_PAGES +
			       harness_rand(&rs) %
				       (BIG / ZRAM_PAGE_SIZE - STABLE_PAGES);
		ssize_t n;
		int err;

		page_make(p, idx, 1);
		n = zram_write(c->z, p, sizeof(p), idx * ZRAM_PAGE_SIZE);
		if (n != (ssize_t)sizeof(p) && n != -ENOSPC)
			atomic_fetch_add(c->bad, 1);
		/* written: no shrink may pass it until the discard below */
		if (n == (ssize_t)sizeof(p) &&
		    (zram_read(c->z, q, sizeof(q), idx * ZRAM_PAGE_SIZE) !=
			     (ssize_t)sizeof(q) ||
		     memcmp(p, q, sizeof(p)))) {
			fprintf(stderr,
				"racer: page %lu lost after its write\n",
				(unsigned long)idx);
			atomic_fetch_add(c->bad, 1);
		}
		err = zram_discard(c->z, idx * ZRAM_PAGE_SIZE, ZRAM_PAGE_SIZE);
		if (err && (err != -EINVAL || n == (ssize_t)sizeof(p))) {
			fprintf(stderr, "racer: discard of page %lu: %d\n",
				(unsigned long)idx, err);
			atomic_fetch_add(c->bad, 1);
		}
	}
	return NULL;
}

static void *resizer(void *arg)
{
	struct ctx *c = arg;

	while (!atomic_load(c->stop)) {
		int err = zram_resize(c->z, BIG);

		if (err)
			atomic_fetch_add(c->bad, 1);
		err = zram_resize(c->z, 1 * MiB);
		if (!err)
			c->ok++;
		else if (err == -EBUSY)
			c->busy++;
		else
			atomic_fetch_add(c->bad, 1);
	}
	return NULL;
}

/* One run of the scenario; @widen: the writers' checks yield (see the top). */
static void run(uint64_t seed, long iters, bool widen)
{
	static struct ctx w[WRITERS], r, rz;
	struct zram_config cfg = {.disksize = BIG};
	unsigned char p[ZRAM_PAGE_SIZE], q[ZRAM_PAGE_SIZE];
	static const unsigned char zero[ZRAM_PAGE_SIZE];
	struct stress_crew crew;
	uint64_t i, data = 0;
	struct zram_stats s;
	struct zram *z;
	unsigned int t;

	REQUIRE(zram_create(&cfg, &z) == 0);
#ifdef UZRAM_TEST_HOOKS
	atomic_store(&z->dbg_install_yield, widen);
#else
	REQUIRE(!widen);
#endif
	stress_crew_init(&crew);
	r = (struct ctx){.z = z,
			 .seed = seed ^ 0xabc,
			 .stop = &crew.stop,
			 .bad = &crew.bad};
	rz = r;
	stress_background(&crew, racer, &r);
	stress_background(&crew, resizer, &rz);
	for (t = 0; t < WRITERS; t++) {
		w[t] = (struct ctx){.z = z,
				    .id = t,
				    .seed = seed + t,
				    .iters = iters,
				    .stop = &crew.stop,
				    .bad = &crew.bad};
		stress_worker(&crew, writer, &w[t]);
	}
	CHECK_EQ(stress_join(&crew), 0);
	printf("%s: shrinks: %ld done, %ld refused (busy)\n",
	       widen ? "widened" : "plain", rz.ok, rz.busy);
	CHECK(rz.ok > 0);

	/* the part past 1 MiB is empty now: the shrink must be allowed */
	CHECK_EQ(zram_resize(z, BIG), 0);
	CHECK_EQ(zram_resize(z, 1 * MiB), 0);
	CHECK_EQ(zram_resize(z, BIG), 0);
	for (i = 0; i < BIG / ZRAM_PAGE_SIZE; i++) {
		CHECK_EQ(zram_read(z, q, sizeof(q), i * ZRAM_PAGE_SIZE),
			 ZRAM_PAGE_SIZE);
		if (memcmp(q, zero, sizeof(q)))
			data++;
		if (i >= STABLE_PAGES) {
			if (memcmp(q, zero, sizeof(q))) {
				fprintf(stderr, "page %lu past the end\n",
					(unsigned long)i);
				CHECK(0);
			}
			continue;
		}
		if (!w[i % WRITERS].version[i])
			continue;
		page_make(p, i, w[i % WRITERS].version[i]);
		if (memcmp(p, q, sizeof(p))) {
			fprintf(stderr, "page %lu lost its last version\n",
				(unsigned long)i);
			CHECK(0);
		}
	}
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, data);

	/* a page a shrink dropped behind the counters' back (a ghost) would
	 * stay counted, and its object would stay in the pool */
	CHECK_EQ(zram_discard(z, 0, BIG), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, 0);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.mem_used_total, 0);
	zram_destroy(z);
}

int main(void)
{
	uint64_t seed = harness_seed();

	run(seed, stress_iters(20000, 100), false);
#ifdef UZRAM_TEST_HOOKS
	run(seed ^ 0x5eed, stress_iters(20000, 100), true);
#endif
	return harness_finish("zram_resize_race");
}
