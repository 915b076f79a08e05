/*
 * zram_snapshot.c - save and restore (snapshot.c, docs/snapshot.md).
 *
 * - Round trip: a store holding compressed pages of two codecs, raw (huge)
 *   pages, same-filled pages of zeros and of a pattern, a zstd dictionary,
 *   levels and a mem_limit restores to the same bytes on every page, the
 *   same counters (mm_stat's orig, compr, same, huge; pages_stored; dedup's
 *   dup_pages and objects) and the same settings.
 * - Dedup: shared pages restore shared (dup_pages, objects and compr equal),
 *   a rewrite of one sharer after the restore leaves the others, and the
 *   restored index finds the restored objects for new writes.
 * - Several dictionaries: pages of a replaced zstd dictionary and of the
 *   current one save (no EBUSY), restore and read back; saving the
 *   restored store gives the same bytes; a later dictionary still fits.
 * - Version 1 files (written by hand here, as docs/snapshot.md says) still
 *   restore.
 * - Grouped pages (the policy's group=) are saved as pages of their own and
 *   restore to the same bytes, ungrouped.
 * - Refusals: a missing file, an empty one, a foreign one, another version,
 *   every truncation at a record boundary (and one byte either side), and
 *   random byte flips (UZRAM_STRESS_SCALE-scaled, seeded) are all refused
 *   with -EINVAL (-ENOENT for the missing file) and one message line; none
 *   creates a store. Under the asan preset this runs with ASan/UBSan.
 * - Point in time: a writer updates page HI then page LO with the same
 *   generation number, over and over, while saves run; the walk reaches LO
 *   before HI, so only a save that holds writes back can never see LO newer
 *   than HI.
 * - A save blocks neither reads nor writes: with the save held open by the
 *   test hook (debug_save_delay), reads of every page and a write complete
 *   while it runs, and the write is not in the snapshot.
 * - Copy-on-write: while a held save runs, pages are overwritten (shared
 *   ones too, some twice), a whole table page is discarded and given back
 *   and written again, pages are zeroed and empty ones written; the
 *   snapshot restores to the store as the save began, byte for byte and
 *   counter for counter, and a second save shows nothing of the first.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <dirent.h>
#include <lz4.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 2048u
#define PG ZRAM_PAGE_SIZE

static char dir[] = "/tmp/uzram-snap.XXXXXX";
static char path[512], bad[512], dict_path[512];

static void page_fill_kind(unsigned char *p, uint64_t i, uint64_t *rng)
{
	size_t k;

	switch (i % 7) {
	case 0: /* same-filled zeros */
		memset(p, 0, PG);
		break;
	case 1: /* same-filled pattern */
		for (k = 0; k < PG; k += 8)
			memcpy(p + k, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
		break;
	case 2: /* incompressible: huge */
		for (k = 0; k < PG; k += 8) {
			uint64_t r = harness_rand(rng);

			memcpy(p + k, &r, 8);
		}
		break;
	default:
		harness_text_fill(p, PG, i);
	}
}

static void file_write(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(name, "w");

	REQUIRE(f);
	REQUIRE(len == 0 || fwrite(data, len, 1, f) == 1);
	REQUIRE(fclose(f) == 0);
}

static unsigned char *file_read(const char *name, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	FILE *f = fopen(name, "r");

	REQUIRE(f && !fstat(fileno(f), &st));
	buf = malloc((size_t)st.st_size + 1);
	REQUIRE(buf);
	REQUIRE(st.st_size == 0 || fread(buf, (size_t)st.st_size, 1, f) == 1);
	fclose(f);
	*len = (size_t)st.st_size;
	return buf;
}

/* Whether the files @a and @b hold the same bytes. */
static bool files_same(const char *a, const char *b)
{
	size_t la, lb;
	unsigned char *da = file_read(a, &la), *db = file_read(b, &lb);
	bool same = la == lb && !memcmp(da, db, la);

	free(da);
	free(db);
	return same;
}

static struct zram *store_build(void)
{
	struct zram_config cfg = {.disksize = PAGES * PG,
				  .algorithm = "zstd",
				  .mem_limit = 64u << 20};
	struct zram_algorithm_params p = {.set_level = true, .level = 5};
	unsigned char page[PG];
	uint64_t i, rng = 42;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	harness_text_fill(page, PG, 99);
	file_write(dict_path, page, 2048);
	p.dict = dict_path;
	CHECK_EQ(zram_algorithm_params_set(z, &p), 0);
	for (i = 0; i < PAGES; i += 1 + i % 3) {
		if (i == PAGES / 2) /* the second half with lz4hc */
			CHECK_EQ(zram_algorithm_set(z, "lz4hc"), 0);
		page_fill_kind(page, i, &rng);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	CHECK_EQ(zram_discard(z, 100 * PG, 50 * PG), 0);
	CHECK_EQ(zram_write_zeroes(z, 300 * PG, 20 * PG), 0);
	return z;
}

static void stores_compare(struct zram *a, struct zram *b)
{
	static unsigned char pa[PG * 64], pb[PG * 64];
	struct zram_stats sa, sb;
	uint64_t off;
	int la = 0, lb = 0;

	CHECK(zram_disksize(a) == zram_disksize(b));
	for (off = 0; off < zram_disksize(a); off += sizeof(pa)) {
		CHECK_EQ(zram_read(a, pa, sizeof(pa), off), sizeof(pa));
		CHECK_EQ(zram_read(b, pb, sizeof(pb), off), sizeof(pb));
		CHECK(!memcmp(pa, pb, sizeof(pa)));
	}
	zram_stats_get(a, &sa);
	zram_stats_get(b, &sb);
	CHECK_EQ(sa.orig_data_size, sb.orig_data_size);
	CHECK_EQ(sa.compr_data_size, sb.compr_data_size);
	CHECK_EQ(sa.same_pages, sb.same_pages);
	CHECK_EQ(sa.huge_pages, sb.huge_pages);
	CHECK_EQ(sa.pages_stored, sb.pages_stored);
	CHECK_EQ(sa.dup_pages, sb.dup_pages);
	CHECK_EQ(sa.dup_data_size, sb.dup_data_size);
	CHECK_EQ(sa.dedup_objects, sb.dedup_objects);
	CHECK_EQ(sa.mem_limit, sb.mem_limit);
	CHECK(!strcmp(zram_algorithm_get(a), zram_algorithm_get(b)));
	CHECK_EQ(zram_algorithm_level_get(a, "zstd", &la), 0);
	CHECK_EQ(zram_algorithm_level_get(b, "zstd", &lb), 0);
	CHECK_EQ(la, lb);
	CHECK(sb.mem_used_total <= sa.mem_used_total + 16 * PG);
}

static void test_round_trip(void)
{
	struct zram *z = store_build(), *r = NULL;
	char err[256];

	CHECK_EQ(zram_save(z, path), 0);
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	stores_compare(z, r);
	/* the restored store is a normal one: it saves the same bytes */
	CHECK_EQ(zram_save(r, bad), 0);
	CHECK(files_same(path, bad));
	/* through the control file too */
	CHECK_EQ(zram_attr_find("save")->store(z, "relative", 8), -EINVAL);
	CHECK_EQ(zram_attr_find("save")->store(z, "", 0), -EINVAL);
	CHECK(zram_attr_find("save")->store(z, "/nonexistent/dir/x", 18) < 0);
	CHECK_EQ(zram_attr_find("save")->store(z, "relative sync=0", 15),
		 -EINVAL);
	CHECK_EQ(zram_attr_find("save")->store(z, " sync=0", 7), -EINVAL);
	CHECK_EQ(zram_save_flags(z, path, 2), -EINVAL);
	CHECK_EQ(zram_attr_find("save")->store(z, path, strlen(path)), 0);
	{
		char text[600];

		/* sync=0 writes the same file, without the fsync */
		snprintf(text, sizeof(text), "%s sync=0\n", bad);
		CHECK_EQ(zram_attr_find("save")->store(z, text, strlen(text)),
			 0);
		CHECK(files_same(path, bad));
	}
	zram_destroy(r);
	zram_destroy(z);
}

/* Shared (deduplicated) pages come back shared. */
static void test_dedup(void)
{
	struct zram_config cfg = {.disksize = 256 * PG, .algorithm = "lz4"};
	struct zram_config again = {.dedup = true};
	unsigned char page[PG], back[PG];
	struct zram_stats sa, sb;
	struct zram *z, *r = NULL;
	char err[256];
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_dedup_set(z, true), 0);
	for (i = 0; i < 200; i++) {
		harness_text_fill(
			page, PG,
			i % 4); /* four distinct pages, 50 times each */
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	zram_stats_get(z, &sa);
	CHECK_EQ(sa.dedup_objects, 4);
	CHECK_EQ(sa.dup_pages, 196);
	CHECK_EQ(zram_save(z, path), 0);
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	stores_compare(z, r);
	CHECK(!zram_dedup_get(r)); /* dedup itself is the caller's choice */
	/* copy on write: the other sharers keep their content */
	harness_text_fill(page, PG, 1000);
	CHECK_EQ(zram_write(r, page, PG, 4 * PG), PG);
	for (i = 0; i < 200; i++) {
		harness_text_fill(page, PG, i == 4 ? 1000 : i % 4);
		CHECK_EQ(zram_read(r, back, PG, i * PG), PG);
		CHECK(!memcmp(page, back, PG));
	}
	zram_destroy(r);
	/* restored with dedup on: new writes find the restored objects */
	r = NULL;
	CHECK_EQ(zram_restore(path, &again, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	CHECK(zram_dedup_get(r));
	for (i = 200; i < 256; i++) {
		harness_text_fill(page, PG, i % 4);
		CHECK_EQ(zram_write(r, page, PG, i * PG), PG);
	}
	zram_stats_get(r, &sb);
	CHECK_EQ(sb.dedup_objects, 4);
	CHECK_EQ(sb.dup_pages, 252);
	CHECK_EQ(sb.compr_data_size, sa.compr_data_size);
	zram_destroy(r);
	zram_destroy(z);
}

static void dict_set(struct zram *z, uint64_t seed)
{
	struct zram_algorithm_params p = {.dict = dict_path};
	unsigned char page[PG];

	harness_text_fill(page, PG, seed);
	file_write(dict_path, page, 3000);
	CHECK_EQ(zram_algorithm_params_set(z, &p), 0);
}

/*
 * Pages of a replaced dictionary and of the current one, some shared: the
 * save keeps both dictionaries (it was refused with EBUSY). The snapshot is
 * left at @path for the refusal tests.
 */
static void test_dicts(void)
{
	struct zram_config cfg = {.disksize = 512 * PG, .algorithm = "zstd"};
	unsigned char page[PG];
	struct zram *z, *r = NULL;
	char err[256];
	uint64_t i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_dedup_set(z, true), 0);
	dict_set(z, 11);
	for (i = 0; i < 200; i++) {
		harness_text_fill(page, PG, i % 50);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	dict_set(z, 12); /* the first stays: 200 pages need it */
	for (i = 200; i < 400; i++) {
		harness_text_fill(page, PG, i % 70);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	CHECK_EQ(zram_save(z, path), 0);
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	stores_compare(z, r);
	/* the same store saves the same bytes */
	CHECK_EQ(zram_save(r, bad), 0);
	CHECK(files_same(path, bad));
	/* the restored store goes on: new pages, a third dictionary */
	dict_set(r, 13);
	for (i = 400; i < 450; i++) {
		harness_text_fill(page, PG, i);
		CHECK_EQ(zram_write(r, page, PG, i * PG), PG);
	}
	for (i = 0; i < 450; i++) {
		unsigned char back[PG];

		harness_text_fill(page, PG,
				  i < 200   ? i % 50
				  : i < 400 ? i % 70
					    : i);
		CHECK_EQ(zram_read(r, back, PG, i * PG), PG);
		CHECK(!memcmp(page, back, PG));
	}
	zram_destroy(r);
	zram_destroy(z);
}

/* ---- version 1, written by hand from docs/snapshot.md ---- */

static void put32le(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static size_t rec_put(unsigned char *out, uint32_t type, const void *payload,
		      uint32_t len)
{
	put32le(out, type);
	put32le(out + 4, len);
	memcpy(out + 8, payload, len);
	put64le(out + 8 + len,
		XXH3_64bits_withSeed(payload, len, (uint64_t)type << 32 | len));
	return 16 + len;
}

static void test_version1(void)
{
	static unsigned char file[64 * 1024], pages[3 * (16 + PG) + 4];
	unsigned char hdr[104] = {0}, dict[8 + 2048], end[16], text[PG],
		      raw[PG], back[PG];
	size_t pos = 8, pl = 4;
	uint64_t rng = 7, fill = 0x1122334455667788ull;
	struct zram_stats st;
	struct zram *r = NULL;
	char err[256];
	int n, k;

	memcpy(file, "UZRAMSNP", 8);
	put32le(hdr, 1);
	put32le(hdr + 4, PG);
	put64le(hdr + 8, 64 * PG);
	put32le(hdr + 16, 0); /* lz4 */
	put32le(hdr + 20, 4);
	put32le(hdr + 24, 3);
	for (k = 0; k < 4; k++) {
		unsigned char *q = hdr + 40 + 16 * k;

		put32le(q, (uint32_t)-1);
		put32le(q + 4, 1);
		put32le(q + 8, 9);
		put32le(q + 12, 3);
	}
	pos += rec_put(file + pos, 1, hdr, sizeof(hdr));
	/* v1 DICT: prio, codec, bytes (lz4's dictionary is raw content) */
	harness_text_fill(text, PG, 5);
	put32le(dict, 0);
	put32le(dict + 4, 0);
	memcpy(dict + 8, text, 2048);
	pos += rec_put(file + pos, 2, dict, sizeof(dict));
	/* PAGES: a same-filled page, a raw one, an lz4 one */
	put64le(pages + pl, 3);
	put32le(pages + pl + 8, 1u << 13);
	put32le(pages + pl + 12, 8);
	put64le(pages + pl + 16, fill);
	pl += 24;
	for (k = 0; k < (int)PG; k += 8) {
		uint64_t v = harness_rand(&rng);

		memcpy(raw + k, &v, 8);
	}
	put64le(pages + pl, 9);
	put32le(pages + pl + 8, PG | 1u << 17);
	put32le(pages + pl + 12, PG);
	memcpy(pages + pl + 16, raw, PG);
	pl += 16 + PG;
	harness_text_fill(text, PG, 6);
	n = LZ4_compress_default((const char *)text, (char *)pages + pl + 16,
				 PG, PG);
	REQUIRE(n > 0 && n < 3000);
	put64le(pages + pl, 20);
	put32le(pages + pl + 8, (uint32_t)n);
	put32le(pages + pl + 12, (uint32_t)n);
	pl += 16 + (size_t)n;
	put32le(pages, 3);
	pos += rec_put(file + pos, 3, pages, (uint32_t)pl);
	put64le(end, 3);
	put64le(end + 8, 4);
	pos += rec_put(file + pos, 4, end, sizeof(end));
	file_write(bad, file, pos);

	CHECK_EQ(zram_restore(bad, NULL, &r, err, sizeof(err)), 0);
	if (!r) {
		fprintf(stderr, "version 1: %s\n", err);
		return;
	}
	CHECK_EQ(zram_read(r, back, PG, 3 * PG), PG);
	CHECK(!memcmp(back, &fill, 8) && !memcmp(back + PG - 8, &fill, 8));
	CHECK_EQ(zram_read(r, back, PG, 9 * PG), PG);
	CHECK(!memcmp(back, raw, PG));
	CHECK_EQ(zram_read(r, back, PG, 20 * PG), PG);
	CHECK(!memcmp(back, text, PG));
	zram_stats_get(r, &st);
	CHECK_EQ(st.pages_stored, 3);
	CHECK_EQ(st.same_pages, 1);
	CHECK_EQ(st.huge_pages, 1);
	CHECK_EQ(st.compr_data_size, (uint64_t)PG + (uint64_t)n);
	/* saved again, it is a version 2 file that restores the same */
	CHECK_EQ(zram_save(r, bad), 0);
	zram_destroy(r);
	r = NULL;
	CHECK_EQ(zram_restore(bad, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	CHECK_EQ(zram_read(r, back, PG, 20 * PG), PG);
	CHECK(!memcmp(back, text, PG));
	zram_destroy(r);
}

/* Grouped pages come back as pages of their own, the same bytes. */
static void test_group(void)
{
	static unsigned char pa[PG * 64], pb[PG * 64];
	struct zram *z = store_build(), *r = NULL;
	struct zram_stats sa, sb;
	char err[256];
	uint64_t off, grouped;

	CHECK_EQ(zram_attr_find("idle")->store(z, "all", 3), 0);
	pthread_mutex_lock(&z->pp_lock);
	grouped = group_idle(z, GROUP_PAGES_DEFAULT, 0);
	pthread_mutex_unlock(&z->pp_lock);
	zram_stats_get(z, &sa);
	CHECK(grouped > 50); /* store_build writes runs of 2 */
	CHECK_EQ(sa.grouped_pages, grouped);
	CHECK_EQ(zram_save(z, path), 0);
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	for (off = 0; off < zram_disksize(z); off += sizeof(pa)) {
		CHECK_EQ(zram_read(z, pa, sizeof(pa), off), sizeof(pa));
		CHECK_EQ(zram_read(r, pb, sizeof(pb), off), sizeof(pb));
		CHECK(!memcmp(pa, pb, sizeof(pa)));
	}
	zram_stats_get(r, &sb);
	CHECK_EQ(sb.grouped_pages, 0);
	CHECK_EQ(sb.group_objects, 0);
	CHECK_EQ(sa.orig_data_size, sb.orig_data_size);
	CHECK_EQ(sa.same_pages, sb.same_pages);
	CHECK_EQ(sa.pages_stored, sb.pages_stored);
	zram_destroy(r);
	zram_destroy(z);
}

/* Expect a refusal of @name: -EINVAL (or @want), a message, no store. */
static void refused(const char *name, int want, const char *what)
{
	struct zram *r = (struct zram *)1;
	char err[256] = "";
	int ret = zram_restore(name, NULL, &r, err, sizeof(err));

	if (ret != want || r || !err[0] || strchr(err, '\n'))
		fprintf(stderr, "%s: ret %d, err '%s'\n", what, ret, err);
	CHECK_EQ(ret, want);
	CHECK(r == NULL);
	CHECK(err[0] && !strchr(err, '\n'));
	zram_destroy(r);
}

static void test_refusals(void)
{
	size_t len, pos, n, i, trials;
	unsigned char *snap = file_read(path, &len), *copy;
	size_t bounds[4096], nb = 0;
	uint64_t rng = harness_seed();

	refused("/nonexistent/snapshot", -ENOENT, "missing");
	/* a read error is reported as one, not as "not a snapshot" or
	 * "truncated" (a directory opens, then read() fails: EISDIR) */
	refused("/", -EISDIR, "a directory");
	{
		struct zram *r = NULL;
		char err[256] = "";

		zram_restore("/", NULL, &r, err, sizeof(err));
		CHECK(strstr(err, "Is a directory") != NULL);
	}
	file_write(bad, "", 0);
	refused(bad, -EINVAL, "empty");
	file_write(bad, "root:x:0:0:root:/root:/bin/bash\n", 33);
	refused(bad, -EINVAL, "foreign");
	/* another version: patch it and fix the header record's checksum?
	 * No: a reader must refuse the version before the checksum would
	 * matter, so only the version field changes here. */
	copy = malloc(len);
	REQUIRE(copy);
	memcpy(copy, snap, len);
	copy[16] = 3; /* magic 8 + record header 8: the version's low byte */
	file_write(bad, copy, len);
	refused(bad, -EINVAL, "version 3");
	{
		struct zram *r = NULL;
		char err[256] = "";

		zram_restore(bad, NULL, &r, err, sizeof(err));
		CHECK(strstr(err, "version 3") != NULL);
	}

	/* record boundaries: walk the records as docs/snapshot.md says */
	pos = 8;
	bounds[nb++] = 0;
	bounds[nb++] = 8;
	while (pos + 8 <= len && nb < 4096) {
		uint32_t rl;

		memcpy(&rl, snap + pos + 4, 4);
		pos += 8 + rl + 8;
		bounds[nb++] = pos;
	}
	CHECK_EQ(pos, len);
	CHECK(nb >= 5); /* header, dict, pages..., end */
	for (i = 0; i < nb; i++)
		for (n = bounds[i] ? bounds[i] - 1 : 0; n <= bounds[i] + 1;
		     n++) {
			if (n >= len)
				continue;
			file_write(bad, snap, n);
			refused(bad, -EINVAL, "truncated");
		}
	file_write(bad, snap, len);
	{
		struct zram *r = NULL;
		char err[256];

		CHECK_EQ(zram_restore(bad, NULL, &r, err, sizeof(err)), 0);
		zram_destroy(r);
	}
	/* one extra byte after END */
	memcpy(copy, snap, len);
	file_write(bad, copy, len);
	{
		FILE *f = fopen(bad, "a");

		REQUIRE(f);
		fputc(0, f);
		fclose(f);
	}
	refused(bad, -EINVAL, "trailing byte");

	trials = (size_t)(200 * harness_scale());
	for (i = 0; i < trials; i++) {
		unsigned int flips = 1 + (unsigned int)(harness_rand(&rng) % 4);

		memcpy(copy, snap, len);
		while (flips--) {
			size_t at = harness_rand(&rng) % len;

			copy[at] ^=
				(unsigned char)(1 + harness_rand(&rng) % 255);
		}
		file_write(bad, copy, len);
		refused(bad, -EINVAL, "byte flips");
	}
	free(copy);
	free(snap);
}

/* ---- point in time ---- */

#define LO 10u
#define HI (PAGES - 10u)

struct pit {
	struct zram *z;
	atomic_bool stop;
	atomic_ulong reads;
};

static void *writer(void *arg)
{
	struct pit *t = arg;
	unsigned char page[PG];
	uint64_t gen;

	for (gen = 1; !atomic_load(&t->stop); gen++) {
		memset(page, 0, PG);
		memcpy(page, &gen, 8);
		memcpy(page + 100, "generation", 10);
		/* abort(), not REQUIRE: the harness counters are not atomic */
		if (zram_write(t->z, page, PG, HI * PG) != PG ||
		    zram_write(t->z, page, PG, LO * PG) != PG)
			abort();
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct pit *t = arg;
	unsigned char page[PG];

	while (!atomic_load(&t->stop)) {
		if (zram_read(t->z, page, PG, 500 * PG) != PG)
			abort();
		atomic_fetch_add(&t->reads, 1);
	}
	return NULL;
}

static void test_point_in_time(void)
{
	struct pit t = {.z = store_build()};
	unsigned int round, rounds = (unsigned int)(20 * harness_scale());
	pthread_t w, r;

	{
		unsigned char page[PG] = {0}; /* generation 0 on both */

		CHECK_EQ(zram_write(t.z, page, PG, HI * PG), PG);
		CHECK_EQ(zram_write(t.z, page, PG, LO * PG), PG);
	}
	REQUIRE(!pthread_create(&w, NULL, writer, &t));
	REQUIRE(!pthread_create(&r, NULL, reader, &t));
	for (round = 0; round < rounds; round++) {
		unsigned char lo[PG], hi[PG];
		uint64_t glo, ghi;
		unsigned long before = atomic_load(&t.reads);
		struct zram *s = NULL;
		char err[256];

		CHECK_EQ(zram_save(t.z, path), 0);
		CHECK_EQ(zram_restore(path, NULL, &s, err, sizeof(err)), 0);
		REQUIRE(s);
		CHECK_EQ(zram_read(s, lo, PG, LO * PG), PG);
		CHECK_EQ(zram_read(s, hi, PG, HI * PG), PG);
		memcpy(&glo, lo, 8);
		memcpy(&ghi, hi, 8);
		/* HI is written first: at any instant hi == lo or lo + 1 */
		if (!(ghi == glo || ghi == glo + 1))
			fprintf(stderr,
				"round %u: LO %" PRIu64 " HI %" PRIu64 "\n",
				round, glo, ghi);
		CHECK(ghi == glo || ghi == glo + 1);
		zram_destroy(s);
		(void)before;
	}
	atomic_store(&t.stop, true);
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	CHECK(atomic_load(&t.reads) > 0);
	zram_destroy(t.z);
}

/* ---- a save never blocks reads ---- */

struct held {
	struct zram *z;
	atomic_bool saved, written;
	int err;
};

static void *held_save(void *arg)
{
	struct held *h = arg;

	h->err = zram_save_flags(h->z, path, ZRAM_SAVE_NOSYNC);
	atomic_store(&h->saved, true);
	return NULL;
}

static void *held_write(void *arg)
{
	struct held *h = arg;
	unsigned char page[PG];

	harness_text_fill(page, PG, 4242);
	if (zram_write(h->z, page, PG, 7 * PG) != PG)
		abort();
	atomic_store(&h->written, true);
	return NULL;
}

/* Wait until the save's temporary file "snap.XXXXXX" exists. */
static void save_started(void)
{
	int tries;

	for (tries = 0; tries < 10000; tries++) {
		DIR *d = opendir(dir);
		struct dirent *e;
		bool found = false;

		REQUIRE(d);
		while ((e = readdir(d)))
			found |= !strncmp(e->d_name, "snap.", 5);
		closedir(d);
		if (found)
			return;
		usleep(1000);
	}
	REQUIRE(!"the save never started");
}

static void test_reads_during_save(void)
{
	struct held h = {.z = store_build()};
	const struct zram_attr *delay = zram_attr_find("debug_save_delay");
	unsigned char page[PG], want[PG];
	pthread_t s, w;
	uint64_t i;
	int tries;

	if (!delay) {
		fprintf(stderr, "reads during save: skipped (no test hooks)\n");
		zram_destroy(h.z);
		return;
	}
	unlink(path);
	CHECK_EQ(delay->store(h.z, "60000", 5), 0);
	REQUIRE(!pthread_create(&s, NULL, held_save, &h));
	save_started();
	usleep(200 * 1000); /* from the file to the open gate: microseconds */
	REQUIRE(!pthread_create(&w, NULL, held_write, &h));
	/* every page reads while the save runs, and the write completes */
	for (i = 0; i < PAGES; i++)
		CHECK_EQ(zram_read(h.z, page, PG, i * PG), PG);
	for (tries = 0; tries < 20000 && !atomic_load(&h.written); tries++)
		usleep(1000);
	CHECK(atomic_load(&h.written));
	CHECK(!atomic_load(&h.saved));
	CHECK_EQ(delay->store(h.z, "0", 1), 0); /* let the save go on */
	pthread_join(s, NULL);
	pthread_join(w, NULL);
	CHECK_EQ(h.err, 0);
	/* the write is in the store, not in the snapshot */
	harness_text_fill(want, PG, 4242);
	CHECK_EQ(zram_read(h.z, page, PG, 7 * PG), PG);
	CHECK(!memcmp(page, want, PG));
	{
		struct zram *r = NULL;
		char err[256];

		CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
		REQUIRE(r);
		CHECK_EQ(zram_read(r, page, PG, 7 * PG), PG);
		CHECK(memcmp(page, want, PG) != 0);
		zram_destroy(r);
	}
	zram_destroy(h.z);
}

/* ---- copy-on-write: every kind of change during a save ---- */

#define COW_PAGES 2048u

static void cow_page(unsigned char *p, uint64_t i, uint64_t *rng)
{
	size_t k;

	if (i % 7 == 0) {
		memset(p, 0, PG);
	} else if (i % 11 == 0) {
		for (k = 0; k < PG; k += 8) {
			uint64_t r = harness_rand(rng);

			memcpy(p + k, &r, 8);
		}
	} else {
		harness_text_fill(p, PG, i % 300); /* shared with dedup on */
	}
}

/* What a save held open sees while pages are overwritten (shared ones
 * too), a whole table page is discarded and given back, pages are zeroed,
 * empty pages are written, and some pages change twice. */
static void cow_changes(struct zram *z, uint64_t *rng)
{
	unsigned char page[PG];
	uint64_t i;

	for (i = 0; i < 1024; i += 3) {
		harness_text_fill(page, PG, 5000 + i);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	CHECK_EQ(zram_discard(z, 256 * PG, 256 * PG), 0); /* table page 1 */
	CHECK_EQ(zram_write_zeroes(z, 600 * PG, 50 * PG), 0);
	for (i = 1024; i < 1100; i++) { /* empty when the save began */
		cow_page(page, i, rng);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	for (i = 0; i < 100; i++) { /* a second change */
		harness_text_fill(page, PG, 9000 + i);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
	for (i = 256; i < 300; i++) { /* after the page was given back */
		harness_text_fill(page, PG, 7000 + i);
		CHECK_EQ(zram_write(z, page, PG, i * PG), PG);
	}
}

static void test_cow(void)
{
	struct zram_config cfg = {.disksize = COW_PAGES * PG,
				  .algorithm = "lz4"};
	static unsigned char before[COW_PAGES * PG], back[COW_PAGES * PG];
	const struct zram_attr *delay = zram_attr_find("debug_save_delay");
	struct zram_stats sa, sb;
	struct held h = {0};
	struct zram *r = NULL;
	uint64_t i, rng = 99;
	char err[256];
	pthread_t s;

	if (!delay) {
		fprintf(stderr, "copy-on-write: skipped (no test hooks)\n");
		return;
	}
	REQUIRE(zram_create(&cfg, &h.z) == 0);
	CHECK_EQ(zram_dedup_set(h.z, true), 0);
	for (i = 0; i < 1024; i++) {
		cow_page(before + i * PG, i, &rng);
		CHECK_EQ(zram_write(h.z, before + i * PG, PG, i * PG), PG);
	}
	CHECK_EQ(zram_read(h.z, before, sizeof(before), 0), sizeof(before));
	zram_stats_get(h.z, &sa);
	unlink(path);
	CHECK_EQ(delay->store(h.z, "60000", 5), 0);
	REQUIRE(!pthread_create(&s, NULL, held_save, &h));
	save_started();
	usleep(100 * 1000);
	cow_changes(h.z, &rng);
	CHECK(!atomic_load(&h.saved)); /* none of it waited for the save */
	CHECK_EQ(delay->store(h.z, "0", 1), 0);
	pthread_join(s, NULL);
	CHECK_EQ(h.err, 0);
	/* the snapshot is the store as the save began */
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	CHECK_EQ(zram_read(r, back, sizeof(back), 0), sizeof(back));
	for (i = 0; i < COW_PAGES; i++)
		if (memcmp(before + i * PG, back + i * PG, PG)) {
			fprintf(stderr, "copy-on-write: page %" PRIu64 "\n", i);
			CHECK(!"restored page differs from the start");
			break;
		}
	zram_stats_get(r, &sb);
	CHECK_EQ(sa.orig_data_size, sb.orig_data_size);
	CHECK_EQ(sa.compr_data_size, sb.compr_data_size);
	CHECK_EQ(sa.same_pages, sb.same_pages);
	CHECK_EQ(sa.huge_pages, sb.huge_pages);
	CHECK_EQ(sa.dup_pages, sb.dup_pages);
	zram_destroy(r);
	/* nothing of the first save is left: a second one is the store now */
	CHECK_EQ(zram_save(h.z, path), 0);
	r = NULL;
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	stores_compare(h.z, r);
	zram_destroy(r);
	zram_destroy(h.z);
}

/* Copy-on-write of grouped members: each kept member keeps its frame. */
static void test_cow_group(void)
{
	static unsigned char before[PAGES * PG], back[PAGES * PG];
	const struct zram_attr *delay = zram_attr_find("debug_save_delay");
	struct held h = {.z = store_build()};
	struct zram *r = NULL;
	unsigned char page[PG];
	char err[256];
	uint64_t i;
	pthread_t s;

	if (!delay) {
		fprintf(stderr, "copy-on-write of groups: skipped\n");
		zram_destroy(h.z);
		return;
	}
	CHECK_EQ(zram_attr_find("idle")->store(h.z, "all", 3), 0);
	pthread_mutex_lock(&h.z->pp_lock);
	CHECK(group_idle(h.z, GROUP_PAGES_DEFAULT, 0) > 50);
	pthread_mutex_unlock(&h.z->pp_lock);
	CHECK_EQ(zram_read(h.z, before, sizeof(before), 0), sizeof(before));
	unlink(path);
	CHECK_EQ(delay->store(h.z, "60000", 5), 0);
	REQUIRE(!pthread_create(&s, NULL, held_save, &h));
	save_started();
	usleep(100 * 1000);
	for (i = 0; i < PAGES; i += 2) { /* splits every frame */
		harness_text_fill(page, PG, 3000 + i);
		CHECK_EQ(zram_write(h.z, page, PG, i * PG), PG);
	}
	CHECK_EQ(zram_discard(h.z, 1024 * PG, 256 * PG), 0);
	CHECK(!atomic_load(&h.saved));
	CHECK_EQ(delay->store(h.z, "0", 1), 0);
	pthread_join(s, NULL);
	CHECK_EQ(h.err, 0);
	CHECK_EQ(zram_restore(path, NULL, &r, err, sizeof(err)), 0);
	REQUIRE(r);
	CHECK_EQ(zram_read(r, back, sizeof(back), 0), sizeof(back));
	CHECK(!memcmp(before, back, sizeof(back)));
	zram_destroy(r);
	zram_destroy(h.z);
}

int main(void)
{
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/snap", dir);
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	snprintf(dict_path, sizeof(dict_path), "%s/dict", dir);
	test_round_trip();
	test_dedup();
	test_group();
	test_version1();
	test_reads_during_save();
	test_cow();
	test_cow_group();
	test_dicts(); /* leaves its snapshot for the refusals */
	test_refusals();
	test_point_in_time();
	unlink(path);
	unlink(bad);
	unlink(dict_path);
	rmdir(dir);
	return harness_finish("zram_snapshot");
}
