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
 *
 * Tiering steps run in the same sequence: `writeback page_indexes=LO-HI`
 * and `writeback huge` to a backing file (the model moves those pages to
 * its written-back set: they leave compr_data_size and enter bd_count and
 * backing_bytes; a member of a frame in the range goes too, compressed
 * again with the primary codec, and its frame leaves compr_data_size with
 * its last member), and `recompress` with zstd as the secondary codec (the
 * model compresses each candidate with zstd itself and keeps the result
 * only if it lands in a smaller size class, else marks it incompressible).
 * Any later write, partial write or discard of such a page must bring it
 * back to the primary codec in memory.
 *
 * Grouping steps (the policy's group=PAGES, run synchronously): `idle all`,
 * a few reads that make their pages hot again, then one grouping pass with
 * a random group size. The model finds the same runs itself (consecutive
 * idle pages compressed in memory, not huge, same-filled, written back or
 * incompressible, cut every PAGES pages, at least 2), compresses each with
 * the same zstd frame function and keeps it only if it is smaller than its
 * members' objects; a kept frame counts once in compr_data_size until its
 * last member is rewritten or discarded. Compaction runs after grouping
 * (and now and then on its own), so frames move under the reads; a reset
 * now and then empties everything, frames included.
 */
#include <errno.h>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"
#include "zsmalloc.h"

#define PAGES 37u
#define DISK ((uint64_t)PAGES * ZRAM_PAGE_SIZE)
#define STEPS 1500

struct model {
	unsigned char ref[DISK];
	bool stored[PAGES];
	uint32_t csize[PAGES]; /* 0: same-filled; 4096: huge */
	bool wb[PAGES];	       /* written back */
	bool recomp[PAGES];    /* recompressed (priority 1) */
	bool incompr[PAGES];   /* no secondary codec shrinks it */
	bool nogroup[PAGES];   /* its run's frame did not shrink */
	int grp[PAGES];	       /* model frame it is a member of, or -1 */
	bool idle[PAGES];
	uint64_t huge_since;
	uint64_t notify_free;
	uint64_t invalid_io;
	uint64_t num_reads;
	uint64_t num_writes;
	uint64_t frames_made;	      /* over the run: some must be */
	uint64_t multipart;	      /* frames of more than one part, made */
	uint64_t bd_writes, bd_reads; /* counted before resets */
};

static struct model m;
/* model frame k's size; k counts the frames made in one run */
static uint32_t frame_size[STEPS * PAGES];
static char dir[] = "/tmp/zram_model.XXXXXX", path[64];
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

/* What the primary codec makes of @page: its size, 4096 if raw. */
static uint32_t primary_size(struct zram *z, void *ctx, unsigned int id,
			     uint64_t page)
{
	int n = zram_codec_get(id)->compress(
		ctx, atomic_load(&z->params[0][id].level),
		atomic_load(&z->params[0][id].dict),
		m.ref + page * ZRAM_PAGE_SIZE, cbuf, sizeof(cbuf));

	return n <= 0 || (size_t)n >= z->huge_size ? ZRAM_PAGE_SIZE
						   : (uint32_t)n;
}

/* The page was (re)stored by the store: compute what it must hold. */
static void model_store(struct zram *z, void *ctx, unsigned int id,
			uint64_t page)
{
	m.stored[page] = true;
	m.wb[page] = m.recomp[page] = m.incompr[page] = false;
	m.nogroup[page] = false;
	m.grp[page] = -1;
	if (same_filled(m.ref + page * ZRAM_PAGE_SIZE)) {
		m.csize[page] = 0;
		return;
	}
	m.csize[page] = primary_size(z, ctx, id, page);
	m.huge_since += m.csize[page] == ZRAM_PAGE_SIZE;
}

static void fill(unsigned char *p, size_t len, uint64_t *rs)
{
	static const char words[] = "the quick brown fox jumps over lazy dog "
				    "zram zsmalloc page slot handle ";
	uint64_t w = harness_rand(rs);
	size_t i;

	switch (harness_rand(rs) % 5) {
	case 4: /* half random: about 2 KiB compressed, frames in parts */
		for (i = 0; i < len; i++)
			p[i] = i % ZRAM_PAGE_SIZE < 2048
				       ? (unsigned char)(harness_rand(rs) >> 33)
				       : (unsigned char)words[i % 16];
		break;
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
			m.wb[p] = m.recomp[p] = m.incompr[p] = false;
			m.nogroup[p] = false;
			m.grp[p] = -1;
		} else if (whole) {
			m.notify_free += m.stored[p];
			m.stored[p] = false;
			m.wb[p] = false;
			m.grp[p] = -1;
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

/* An object of its own in the pool (what writeback and recompress take). */
static bool in_memory(uint64_t p)
{
	return m.stored[p] && m.csize[p] && !m.wb[p] && m.grp[p] < 0;
}

static int store_attr(struct zram *z, const char *name, const char *v)
{
	return zram_attr_find(name)->store(z, v, strlen(v));
}

/*
 * writeback of a random range, or of every huge page; a member of a frame
 * in the range goes as a page of its own (never huge: "huge" skips it)
 */
static void step_writeback(struct zram *z, void *ctx, unsigned int id,
			   uint64_t *rs)
{
	uint64_t lo = harness_rand(rs) % PAGES, hi, p;
	bool huge = harness_rand(rs) % 4 == 0;
	char cmd[64];

	hi = lo + harness_rand(rs) % 8;
	if (hi >= PAGES)
		hi = PAGES - 1;
	if (huge)
		snprintf(cmd, sizeof(cmd), "huge");
	else
		snprintf(cmd, sizeof(cmd), "page_indexes=%llu-%llu",
			 (unsigned long long)lo, (unsigned long long)hi);
	CHECK_EQ(store_attr(z, "writeback", cmd), 0);
	for (p = 0; p < PAGES; p++) {
		if (in_memory(p) &&
		    (huge ? m.csize[p] == ZRAM_PAGE_SIZE : p >= lo && p <= hi))
			m.wb[p] = true;
		if (m.stored[p] && m.grp[p] >= 0 && !huge && p >= lo &&
		    p <= hi) {
			m.grp[p] = -1;
			m.wb[p] = true;
			m.recomp[p] = false; /* the primary codec's now */
			m.csize[p] = primary_size(z, ctx, id, p);
		}
	}
}

/* recompress everything in memory with zstd (priority 1) */
static void step_recompress(struct zram *z, void *zctx)
{
	const struct zram_codec_ops *zstd = zram_codec_get(ZRAM_CODEC_ZSTD);
	uint64_t p;
	int n;

	CHECK_EQ(store_attr(z, "recompress", ""), 0);
	for (p = 0; p < PAGES; p++) {
		if (!in_memory(p) || m.recomp[p] || m.incompr[p])
			continue;
		n = zstd->compress(zctx, atomic_load(&z->params[1][2].level),
				   NULL, m.ref + p * ZRAM_PAGE_SIZE, cbuf,
				   sizeof(cbuf));
		if (n > 0 && (size_t)n < z->huge_size &&
		    zs_lookup_class_index(z->pool, (size_t)n) <
			    zs_lookup_class_index(z->pool, m.csize[p])) {
			m.csize[p] = (uint32_t)n;
			m.recomp[p] = true;
			m.nogroup[p] = false; /* a new object */
		} else {
			m.incompr[p] = true;
		}
	}
}

/* May page @p join a group (group_pass.c's member_ok)? */
static bool model_member(uint64_t p)
{
	return in_memory(p) && m.csize[p] < ZRAM_PAGE_SIZE && !m.incompr[p] &&
	       !m.nogroup[p] && m.idle[p];
}

/* The model's own grouping of pages [@first, @first + @n). */
static void model_group(struct zram *z, void *zctx, uint64_t first,
			unsigned int n)
{
	static unsigned char pages[GROUP_PAGES_MAX * ZRAM_PAGE_SIZE];
	static unsigned char frame[GROUP_PAGES_MAX * ZRAM_PAGE_SIZE];
	uint64_t sizes = 0, i;
	int len;

	if (n < GROUP_PAGES_MIN)
		return;
	for (i = 0; i < n; i++)
		sizes += m.csize[first + i];
	memcpy(pages, m.ref + first * ZRAM_PAGE_SIZE,
	       (size_t)n * ZRAM_PAGE_SIZE);
	len = zram_zstd_frame_compress(
		zctx, GROUP_LEVEL_DEFAULT, NULL, pages,
		(size_t)n * ZRAM_PAGE_SIZE, frame,
		sizes - 1 < sizeof(frame) ? sizes - 1 : sizeof(frame));
	(void)z;
	if (len == -E2BIG)
		for (i = 0; i < n; i++)
			m.nogroup[first + i] = true;
	if (len <= 0)
		return;
	frame_size[m.frames_made] = (uint32_t)len;
	m.multipart += (uint32_t)len > GROUP_PART_SIZE;
	for (i = 0; i < n; i++)
		m.grp[first + i] = (int)m.frames_made;
	m.frames_made++;
}

/*
 * idle all, a few pages made hot again by a read, then one grouping pass
 * of @rs's size, then compaction (frames move); the model groups the same
 * runs.
 */
static void step_group(struct zram *z, void *zctx, uint64_t *rs)
{
	static const unsigned int sizes[] = {2, 3, 4, 4, 8, 16};
	unsigned int want = sizes[harness_rand(rs) % 6], n = 0, k;
	uint64_t p, first = 0;

	CHECK_EQ(store_attr(z, "idle", "all"), 0);
	for (p = 0; p < PAGES; p++)
		m.idle[p] = m.stored[p] && m.csize[p] && !m.wb[p];
	for (k = harness_rand(rs) % 4; k; k--) {
		p = harness_rand(rs) % PAGES;
		CHECK_EQ(zram_read(z, rd, 100, p * ZRAM_PAGE_SIZE + 7), 100);
		m.num_reads++;
		m.idle[p] = false;
	}
	pthread_mutex_lock(&z->pp_lock);
	group_idle(z, want, 0);
	pthread_mutex_unlock(&z->pp_lock);
	for (p = 0; p < PAGES; p++) {
		if (model_member(p)) {
			if (!n)
				first = p;
			if (++n == want) {
				model_group(z, zctx, first, n);
				n = 0;
			}
			continue;
		}
		model_group(z, zctx, first, n);
		n = 0;
	}
	model_group(z, zctx, first, n);
	for (p = 0; p < PAGES; p++)
		m.idle[p] = false; /* model_check reads every page */
	zram_compact(z);
}

/* reset: everything goes, counters too */
static void step_reset(struct zram *z)
{
	struct zram_stats s;
	uint64_t p;

	zram_stats_get(z, &s);
	m.bd_writes += s.bd_writes;
	m.bd_reads += s.bd_reads;
	CHECK_EQ(zram_reset(z), 0);
	for (p = 0; p < PAGES; p++) {
		m.stored[p] = m.wb[p] = m.recomp[p] = m.incompr[p] = false;
		m.nogroup[p] = false;
		m.grp[p] = -1;
	}
	memset(m.ref, 0, sizeof(m.ref));
	m.huge_since = m.notify_free = m.invalid_io = 0;
	m.num_reads = m.num_writes = 0;
}

static void model_check(struct zram *z)
{
	uint64_t stored = 0, same = 0, huge = 0, compr = 0, p;
	uint64_t wb = 0, wb_bytes = 0, grouped = 0, frames = 0, fbytes = 0;
	struct zram_stats s;

	for (p = 0; p < PAGES; p++) {
		/* a frame lives while one of its members does: count it at
		 * its first live member */
		uint64_t q;

		if (m.grp[p] < 0)
			continue;
		for (q = 0; q < p && m.grp[q] != m.grp[p]; q++)
			;
		if (q == p) {
			frames++;
			fbytes += frame_size[m.grp[p]];
		}
	}
	for (p = 0; p < PAGES; p++) {
		if (!m.stored[p])
			continue;
		stored++;
		same += m.csize[p] == 0;
		if (m.grp[p] >= 0) {
			grouped++;
			continue;
		}
		if (m.wb[p]) {
			wb++;
			wb_bytes += m.csize[p];
			continue;
		}
		huge += m.csize[p] == ZRAM_PAGE_SIZE;
		compr += m.csize[p];
	}
	compr += fbytes;
	zram_stats_get(z, &s);
	CHECK_EQ(s.grouped_pages, grouped);
	CHECK_EQ(s.group_objects, frames);
	CHECK_EQ(s.group_data_size, fbytes);
	CHECK_EQ(s.bd_count, wb);
	CHECK_EQ(s.backing_bytes, wb_bytes);
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
	CHECK(s.mem_used_total <=
	      (stored - same - wb + frames * GROUP_PARTS_MAX) * 16 *
		      ZRAM_PAGE_SIZE);
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
				  .algorithm_params = params,
				  .backing_dev = path};
	uint64_t rs = seed;
	unsigned int id;
	struct zram *z;
	void *ctx, *zctx;
	struct zram_stats s;
	int i, fd;

	fprintf(stderr, "model: %s %s\n", algo, params ? params : "");
	memset(&m, 0, sizeof(m));
	for (i = 0; i < (int)PAGES; i++)
		m.grp[i] = -1;
	if (!path[0]) {
		REQUIRE(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/backing", dir);
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, 4 << 20) == 0);
	close(fd);
	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_disksize(z), DISK);
	CHECK_EQ(store_attr(z, "recomp_algorithm", "algo=zstd"), 0);
	id = (unsigned int)atomic_load(&z->algo);
	REQUIRE(zram_codec_get(id)->ctx_create(&ctx) == 0);
	REQUIRE(zram_codec_get(ZRAM_CODEC_ZSTD)->ctx_create(&zctx) == 0);
	for (i = 0; i < STEPS; i++) {
		switch (harness_rand(&rs) % 10) {
		case 8:
			step_writeback(z, ctx, id, &rs);
			break;
		case 9:
			if (harness_rand(&rs) % 3 == 0)
				step_recompress(z, zctx);
			else if (harness_rand(&rs) % 2)
				step_group(z, zctx, &rs);
			else if (harness_rand(&rs) % 8 == 0)
				step_reset(z);
			else if (harness_rand(&rs) % 2)
				zram_compact(z);
			else
				step_read(z, &rs);
			break;
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
	zram_stats_get(z, &s);
	fprintf(stderr,
		"model: %llu pages written back, %llu read back, "
		"%llu recompressed, %llu frames of %llu pages (%llu B) now, "
		"%llu frames made\n",
		(unsigned long long)s.bd_writes, (unsigned long long)s.bd_reads,
		(unsigned long long)s.pages_recompressed,
		(unsigned long long)s.group_objects,
		(unsigned long long)s.grouped_pages,
		(unsigned long long)s.group_data_size,
		(unsigned long long)m.frames_made);
	CHECK(s.bd_writes + m.bd_writes > 0 && s.bd_reads + m.bd_reads > 0);
	CHECK(m.frames_made > 0 && m.multipart > 0);
	zram_codec_get(id)->ctx_destroy(ctx);
	zram_codec_get(ZRAM_CODEC_ZSTD)->ctx_destroy(zctx);
	zram_destroy(z);
	unlink(path);
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
	rmdir(dir);
	return harness_finish("zram_model");
}
