/*
 * zram_tier_stress.c - I/O against writeback, recompression, compaction and
 * the policy thread, all at once.
 *
 * Worker threads each own a range of pages and keep their own model of it:
 * they write whole pages (compressible, random or same-filled), write small
 * unaligned pieces (read-modify-write), discard pages and read pages back,
 * checking every byte against the model. Meanwhile one thread loops over
 * `idle all`, `writeback idle`, `writeback page_indexes=...`, `recompress`
 * and `compact`, and the policy thread runs with idle_after=0, recompress,
 * writeback and grouping (group=4) on and a mem_target. It runs twice:
 * with dedup off, and on (whole pages of one of 8 texts: many sharers of
 * each object, written back each with a copy of its own while the others
 * keep reading the entry). A page lost, torn or mixed up between pool,
 * entries, frames and backing store fails the compare. At the end the
 * counters must agree with the slot table (bd_count, backing_bytes,
 * compr_data_size with each frame and entry once, pages_stored,
 * group_objects, grouped_pages with each entry in a frame once,
 * dedup_objects); `writeback idle` of everything must leave
 * nothing in the pool (every kind goes); and a discard of everything must
 * leave the backing store empty and no dictionary count held.
 *
 * Scaled by harness_scale() (UZRAM_STRESS_SCALE), seeded by harness_seed().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "zram_fixture.h"
#include "stress.h"
#include "zram_attr.h"
#include "slot_content.h"
#include "zram.h"

#define WORKERS 3
#define PER_WORKER 96u
#define PAGES (WORKERS * PER_WORKER)

struct worker {
	struct zram *z;
	unsigned int id;
	uint64_t seed;
	long iters;
	long bad;
	unsigned char model[PER_WORKER][ZRAM_PAGE_SIZE];
};

/* stop: the tier thread's; bad: every thread's failures */
static struct stress_crew crew;

static void fill(unsigned char *p, size_t n, unsigned int kind, uint64_t *rs)
{
	uint64_t v = harness_rand(rs);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = kind == 0   ? (unsigned char)"abcdefgh"[(i / 5 + v) % 8]
		       : kind == 1 ? (unsigned char)harness_rand(rs)
				   : (unsigned char)v;
}

static void worker_step(struct worker *w, uint64_t *rs)
{
	static _Thread_local unsigned char buf[ZRAM_PAGE_SIZE];
	unsigned int pg = (unsigned int)(harness_rand(rs) % PER_WORKER);
	uint64_t idx = w->id * PER_WORKER + pg;
	uint64_t off = idx * ZRAM_PAGE_SIZE;
	unsigned int op = (unsigned int)(harness_rand(rs) % 10);
	size_t pofs, n;

	if (op < 3) {
		fill(buf, ZRAM_PAGE_SIZE, (unsigned int)(harness_rand(rs) % 3),
		     rs);
		if (zram_write(w->z, buf, ZRAM_PAGE_SIZE, off) !=
		    ZRAM_PAGE_SIZE)
			w->bad++;
		memcpy(w->model[pg], buf, ZRAM_PAGE_SIZE);
	} else if (op < 5) {
		pofs = harness_rand(rs) % ZRAM_PAGE_SIZE;
		n = 1 + harness_rand(rs) % (ZRAM_PAGE_SIZE - pofs);
		fill(buf, n, 0, rs);
		if (zram_write(w->z, buf, n, off + pofs) != (ssize_t)n)
			w->bad++;
		memcpy(w->model[pg] + pofs, buf, n);
	} else if (op < 6) {
		if (zram_discard(w->z, off, ZRAM_PAGE_SIZE))
			w->bad++;
		memset(w->model[pg], 0, ZRAM_PAGE_SIZE);
	} else {
		if (zram_read(w->z, buf, ZRAM_PAGE_SIZE, off) !=
			    ZRAM_PAGE_SIZE ||
		    memcmp(buf, w->model[pg], ZRAM_PAGE_SIZE))
			w->bad++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t rs = w->seed;
	long i;

	for (i = 0; i < w->iters; i++)
		worker_step(w, &rs);
	atomic_fetch_add(&crew.bad, w->bad);
	return NULL;
}

static void *tier_main(void *arg)
{
	struct zram *z = arg;
	uint64_t rs = harness_seed() ^ 0x7157;
	char cmd[64];
	long bad = 0;

	while (!atomic_load(&crew.stop)) {
		unsigned int lo = (unsigned int)(harness_rand(&rs) % PAGES);
		unsigned int hi = lo + (unsigned int)(harness_rand(&rs) % 64);
		int err;

		snprintf(cmd, sizeof(cmd), "page_indexes=%u-%u", lo,
			 hi < PAGES ? hi : PAGES - 1);
		bad += attr_store(z, "idle", "all") != 0;
		err = attr_store(z, "writeback", "idle");
		bad += err != 0;
		bad += attr_store(z, "writeback", cmd) != 0;
		bad += attr_store(z, "recompress", "type=huge") != 0;
		bad += attr_store(z, "recompress", "") != 0;
		bad += attr_store(z, "compact", "1") != 0;
	}
	atomic_fetch_add(&crew.bad, bad);
	return NULL;
}

/* Count frame @id once in @frames (its bytes into *@compr). */
static void frame_count(struct zram *z, uint32_t id, uint32_t *frames,
			uint32_t *nframes, uint64_t *compr)
{
	struct group_frame gf;
	uint32_t j;

	for (j = 0; j < *nframes && frames[j] != id; j++)
		;
	if (j < *nframes)
		return;
	frames[(*nframes)++] = id;
	group_frame_get(z->groups, id, &gf);
	*compr += gf.size;
}

/* Counters against the table. Locking: no other thread runs. */
static void check_counters(struct zram *z)
{
	uint64_t wb = 0, wb_bytes = 0, compr = 0, stored = 0, grouped = 0, i;
	uint32_t frames[PAGES], nframes = 0, entries[PAGES], nentries = 0, id;
	uint32_t j, m;
	struct zram_stats s;

	for (i = 0; i < PAGES; i++) {
		uint32_t f = atomic_load(&z->table[i].flags);

		CHECK(!(f & SLOT_PP));
		switch (slot_kind(f)) {
		case SLOT_KIND_EMPTY:
			continue;
		case SLOT_KIND_WB:
			wb++;
			wb_bytes += f & SLOT_SIZE_MASK;
			break;
		case SLOT_KIND_HUGE:
		case SLOT_KIND_COMPRESSED:
			compr += f & SLOT_SIZE_MASK;
			break;
		case SLOT_KIND_SAME:
			break;
		case SLOT_KIND_SHARED: /* each entry counts once */
			id = (uint32_t)atomic_load(&z->table[i].handle);
			for (j = 0; j < nentries && entries[j] != id; j++)
				;
			if (j < nentries)
				break;
			entries[nentries++] = id;
			m = dedup_meta(z->dedup, id);
			if (!(m & SLOT_GROUPED)) {
				compr += m & SLOT_SIZE_MASK;
				break;
			}
			/* an entry in a frame: one grouped page */
			grouped++;
			frame_count(z, (uint32_t)dedup_handle(z->dedup, id),
				    frames, &nframes, &compr);
			break;
		case SLOT_KIND_GROUPED: /* each frame counts once */
			grouped++;
			frame_count(z,
				    (uint32_t)atomic_load(&z->table[i].handle),
				    frames, &nframes, &compr);
			break;
		}
		stored++;
	}
	zram_stats_get(z, &s);
	CHECK_EQ(s.bd_count, wb);
	CHECK_EQ(s.backing_bytes, wb_bytes);
	CHECK_EQ(s.compr_data_size, compr);
	CHECK_EQ(s.pages_stored, stored);
	CHECK_EQ(s.group_objects, nframes);
	CHECK_EQ(s.grouped_pages, grouped);
	/* every entry a slot names; none without one */
	CHECK_EQ(s.dedup_objects, nentries);
}

static void run(bool dedup)
{
	static struct worker w[WORKERS];
	static char dir[] = "/tmp/zram_tier_stress.XXXXXX";
	char path[128];
	struct zram_config cfg = {
		.disksize = PAGES * ZRAM_PAGE_SIZE,
		.backing_dev = path,
		.dedup = dedup,
		.policy = "idle_after=0,interval=1,recompress=on,writeback=on,"
			  "mem_target=256K,group=4"};
	uint64_t seed = harness_seed() + dedup;
	struct zram_stats s;
	struct zram *z;
	unsigned int i;
	int fd;

	strcpy(dir, "/tmp/zram_tier_stress.XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/backing", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, 64 << 20) == 0);
	close(fd);
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(attr_store(z, "recomp_algorithm", "algo=zstd"), 0);
	stress_crew_init(&crew);
	for (i = 0; i < WORKERS; i++) {
		w[i].z = z;
		w[i].id = i;
		w[i].bad = 0;
		w[i].seed = seed + i * 7919;
		w[i].iters = stress_iters(20000, 1);
		memset(w[i].model, 0, sizeof(w[i].model));
		stress_worker(&crew, worker_main, &w[i]);
	}
	stress_background(&crew, tier_main, z);
	CHECK_EQ(stress_join(&crew), 0);
	/* stop the policy before looking at the table */
	CHECK_EQ(attr_store(z, "policy",
			    "recompress=off writeback=off "
			    "mem_target=0 interval=3600"),
		 0);
	/* a pass the policy had started may still run: hold them off */
	pthread_mutex_lock(&z->pp_lock);
	check_counters(z);
	pthread_mutex_unlock(&z->pp_lock);
	CHECK_EQ(attr_store(z, "idle", "all"), 0);
	CHECK_EQ(attr_store(z, "writeback", "idle"), 0);
	check_counters(z);
	zram_stats_get(z, &s);
	CHECK_EQ(s.compr_data_size, 0); /* every kind went */
	CHECK(s.bd_writes > 0);
	CHECK(s.pages_recompressed > 0);
	CHECK(s.policy_passes > 0);
	fprintf(stderr,
		"dedup %d: bd_writes %llu bd_reads %llu recompressed %llu "
		"passes %llu\n",
		dedup, (unsigned long long)s.bd_writes,
		(unsigned long long)s.bd_reads,
		(unsigned long long)s.pages_recompressed,
		(unsigned long long)s.policy_passes);
	for (i = 0; i < WORKERS; i++) {
		for (unsigned int pg = 0; pg < PER_WORKER; pg++) {
			static unsigned char buf[ZRAM_PAGE_SIZE];

			CHECK_EQ(zram_read(z, buf, ZRAM_PAGE_SIZE,
					   (uint64_t)(i * PER_WORKER + pg) *
						   ZRAM_PAGE_SIZE),
				 ZRAM_PAGE_SIZE);
			CHECK(!memcmp(buf, w[i].model[pg], ZRAM_PAGE_SIZE));
		}
	}
	CHECK_EQ(zram_discard(z, 0, PAGES * ZRAM_PAGE_SIZE), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.backing_used, 0);
	CHECK_EQ(s.bd_count, 0);
	CHECK_EQ(fixture_dict_counts_held(z), 0);
	zram_destroy(z);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	run(false);
	run(true);
	return harness_finish("zram_tier_stress");
}
