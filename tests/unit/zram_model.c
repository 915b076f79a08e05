/*
 * zram_model.c - model-based test of the store's data path and counters.
 *
 * Seeded random reads, writes, discards and write_zeroes, at random offsets
 * and lengths (aligned or not, spanning pages, running into and past the end
 * of the disk) run against the store and against a flat reference buffer,
 * for every codec, with compressible, random, same-filled and zero data.
 * After every step the whole disk is read back and compared, and every
 * counter is checked against the model: which pages are stored (history),
 * same-filled (from the reference bytes), huge and their compressed sizes
 * (by compressing the reference page with the codec's own ops, exactly as
 * the store does).
 */
#include <errno.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 37u
#define DISK ((uint64_t)PAGES * ZRAM_PAGE_SIZE)
#define STEPS 1500

struct model {
	unsigned char ref[DISK];
	bool stored[PAGES];
	uint32_t csize[PAGES]; /* 0: same-filled; 4096: huge */
	uint64_t huge_since;
	uint64_t notify_free;
	uint64_t invalid_io;
	uint64_t num_reads;
	uint64_t num_writes;
};

static struct model m;
static unsigned char buf[DISK + 3 * ZRAM_PAGE_SIZE];
static unsigned char rd[DISK + 3 * ZRAM_PAGE_SIZE];
static unsigned char cbuf[2 * ZRAM_PAGE_SIZE];

static bool same_filled(const unsigned char *p)
{
	size_t i;

	for (i = 8; i < ZRAM_PAGE_SIZE; i++)
		if (p[i] != p[i % 8])
			return false;
	return true;
}

/* The page was (re)stored by the store: compute what it must hold. */
static void model_store(struct zram *z, void *ctx, unsigned int id,
			uint64_t page)
{
	const struct zram_codec_ops *ops = zram_codec_get(id);
	const unsigned char *p = m.ref + page * ZRAM_PAGE_SIZE;
	int n;

	m.stored[page] = true;
	if (same_filled(p)) {
		m.csize[page] = 0;
		return;
	}
	n = ops->compress(ctx, atomic_load(&z->params[0][id].level),
			  atomic_load(&z->params[0][id].dict), p, cbuf,
			  sizeof(cbuf));
	if (n <= 0 || (size_t)n >= z->huge_size) {
		m.csize[page] = ZRAM_PAGE_SIZE;
		m.huge_since++;
	} else {
		m.csize[page] = (uint32_t)n;
	}
}

static void fill(unsigned char *p, size_t len, uint64_t *rs)
{
	static const char words[] = "the quick brown fox jumps over lazy dog "
				    "zram zsmalloc page slot handle ";
	uint64_t w = harness_rand(rs);
	size_t i;

	switch (harness_rand(rs) % 4) {
	case 0: /* compressible text */
		for (i = 0; i < len; i++)
			p[i] = (unsigned char)words[(i * 7 + w % 13 + i / 64) %
						    (sizeof(words) - 1)];
		break;
	case 1: /* incompressible */
		for (i = 0; i < len; i++)
			p[i] = (unsigned char)(harness_rand(rs) >> 33);
		break;
	case 2: /* same-filled by an 8-byte word, phase of the disk offset */
		for (i = 0; i < len; i++)
			p[i] = (unsigned char)(w >> (8 * (i % 8)));
		break;
	default:
		memset(p, 0, len);
	}
}

/* Random range: aligned or not, sometimes running to or past the end. */
static void range_pick(uint64_t *rs, uint64_t *off, size_t *len)
{
	uint64_t r = harness_rand(rs);

	*off = harness_rand(rs) % DISK;
	if (r % 3 == 0)
		*off &= ~(uint64_t)(ZRAM_PAGE_SIZE - 1);
	*len = (size_t)(harness_rand(rs) % (3 * ZRAM_PAGE_SIZE)) + 1;
	if (r % 3 == 0 && r % 2)
		*len = (*len + ZRAM_PAGE_SIZE - 1) & ~(ZRAM_PAGE_SIZE - 1);
	if (r % 11 == 0)
		*len = (size_t)(DISK - *off); /* exactly to the end */
	if (r % 13 == 0)
		*len = (size_t)(DISK - *off) + 1 + r % 100; /* past the end */
}

static bool range_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static void step_write(struct zram *z, void *ctx, unsigned int id, uint64_t *rs)
{
	uint64_t off, p;
	size_t len;
	ssize_t n;

	range_pick(rs, &off, &len);
	/* the same-fill pattern must follow disk phase to stay same */
	fill(buf, len + 8, rs);
	if (off % 8)
		memmove(buf, buf + off % 8, len);
	n = zram_write(z, buf, len, off);
	if (off + len > DISK) {
		CHECK_EQ(n, -ENOSPC);
		m.invalid_io++;
		return;
	}
	CHECK_EQ(n, (ssize_t)len);
	memcpy(m.ref + off, buf, len);
	for (p = off / ZRAM_PAGE_SIZE; p <= (off + len - 1) / ZRAM_PAGE_SIZE;
	     p++) {
		uint64_t lo = p * ZRAM_PAGE_SIZE, hi = lo + ZRAM_PAGE_SIZE;

		m.num_writes++;
		/* zeros into part of an empty page: nothing to store */
		if (!m.stored[p] && (lo < off || hi > off + len) &&
		    range_zero(m.ref + lo, ZRAM_PAGE_SIZE))
			continue;
		model_store(z, ctx, id, p);
	}
}

static void step_clear(struct zram *z, void *ctx, unsigned int id, uint64_t *rs,
		       bool zeroes)
{
	uint64_t off, pos;
	size_t len;
	int err;

	range_pick(rs, &off, &len);
	err = zeroes ? zram_write_zeroes(z, off, len)
		     : zram_discard(z, off, len);
	if (off + len > DISK) {
		CHECK_EQ(err, -EINVAL);
		m.invalid_io++;
		return;
	}
	CHECK_EQ(err, 0);
	memset(m.ref + off, 0, len);
	for (pos = off; pos < off + len;) {
		uint64_t p = pos / ZRAM_PAGE_SIZE;
		uint64_t end = (p + 1) * ZRAM_PAGE_SIZE;
		bool whole = pos % ZRAM_PAGE_SIZE == 0 && off + len >= end;

		if (whole && zeroes) {
			m.stored[p] = true;
			m.csize[p] = 0;
		} else if (whole) {
			m.notify_free += m.stored[p];
			m.stored[p] = false;
		} else if (m.stored[p]) {
			model_store(z, ctx, id, p);
		}
		pos = end;
	}
}

static void step_read(struct zram *z, uint64_t *rs)
{
	uint64_t off;
	size_t len, want;
	ssize_t n;

	range_pick(rs, &off, &len);
	if (harness_rand(rs) % 17 == 0)
		off = DISK + harness_rand(rs) % 5000; /* at/after the end */
	want = off >= DISK ? 0 : (off + len > DISK ? DISK - off : len);
	n = zram_read(z, rd, len, off);
	CHECK_EQ(n, (ssize_t)want);
	if (n > 0)
		CHECK(!memcmp(rd, m.ref + off, want));
	if (want)
		m.num_reads += (off + want - 1) / ZRAM_PAGE_SIZE -
			       off / ZRAM_PAGE_SIZE + 1;
}

static void model_check(struct zram *z)
{
	uint64_t stored = 0, same = 0, huge = 0, compr = 0, p;
	struct zram_stats s;

	for (p = 0; p < PAGES; p++) {
		if (!m.stored[p])
			continue;
		stored++;
		same += m.csize[p] == 0;
		huge += m.csize[p] == ZRAM_PAGE_SIZE;
		compr += m.csize[p];
	}
	zram_stats_get(z, &s);
	CHECK_EQ(s.pages_stored, stored);
	CHECK_EQ(s.orig_data_size, stored * ZRAM_PAGE_SIZE);
	CHECK_EQ(s.same_pages, same);
	CHECK_EQ(s.huge_pages, huge);
	CHECK_EQ(s.huge_pages_since, m.huge_since);
	CHECK_EQ(s.compr_data_size, compr);
	CHECK_EQ(s.notify_free, m.notify_free);
	CHECK_EQ(s.invalid_io, m.invalid_io);
	CHECK_EQ(s.num_writes, m.num_writes);
	CHECK_EQ(s.failed_writes, 0);
	CHECK_EQ(s.failed_reads, 0);
	CHECK(s.mem_used_max >= s.mem_used_total);
	/* at worst one zspage (<= 16 pages) per object; none when empty */
	CHECK(s.mem_used_total >= (compr ? ZRAM_PAGE_SIZE : 0));
	CHECK(s.mem_used_total <= (stored - same) * 16 * ZRAM_PAGE_SIZE);
	CHECK_EQ(s.slot_bytes, 16);
	CHECK_EQ(s.slot_count, PAGES);
	/* the whole disk, as one read (counts pages read too) */
	CHECK_EQ(zram_read(z, rd, DISK, 0), (ssize_t)DISK);
	CHECK(!memcmp(rd, m.ref, DISK));
	m.num_reads += PAGES;
	zram_stats_get(z, &s);
	CHECK_EQ(s.num_reads, m.num_reads);
}

static void run(const char *algo, const char *params, uint64_t seed)
{
	struct zram_config cfg = {.disksize = DISK - 100, /* rounds up */
				  .algorithm = algo,
				  .algorithm_params = params};
	uint64_t rs = seed;
	unsigned int id;
	struct zram *z;
	void *ctx;
	int i;

	fprintf(stderr, "model: %s %s\n", algo, params ? params : "");
	memset(&m, 0, sizeof(m));
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_disksize(z), DISK);
	id = (unsigned int)atomic_load(&z->algo);
	REQUIRE(zram_codec_get(id)->ctx_create(&ctx) == 0);
	for (i = 0; i < STEPS; i++) {
		switch (harness_rand(&rs) % 8) {
		case 0:
		case 1:
		case 2:
			step_write(z, ctx, id, &rs);
			break;
		case 3:
			step_clear(z, ctx, id, &rs, false);
			break;
		case 4:
			step_clear(z, ctx, id, &rs, true);
			break;
		default:
			step_read(z, &rs);
		}
		model_check(z);
		if (harness_failed) {
			fprintf(stderr, "model: first failure at step %d\n", i);
			break;
		}
	}
	zram_codec_get(id)->ctx_destroy(ctx);
	zram_destroy(z);
}

int main(void)
{
	uint64_t seed = harness_seed();

	run("lz4", NULL, seed);
	run("lz4", "level=50", seed + 1);
	run("lz4hc", NULL, seed + 2);
	run("lz4hc", "level=3", seed + 3);
	run("zstd", NULL, seed + 4);
	run("zstd", "level=-5", seed + 5);
	run("zstd", "level=19", seed + 6);
	return harness_finish("zram_model");
}
