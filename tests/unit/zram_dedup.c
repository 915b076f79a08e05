/*
 * zram_dedup.c - model test of deduplication against a flat reference.
 *
 * Seeded random whole-page and partial writes of a few page contents (so
 * most pages have twins), discards, write-zeroes, compaction, codec and
 * level switches, dedup turned off and on again, and reset. After every step
 * the whole disk must read back as the reference (so a write to one sharer
 * never changed another, and compaction moved shared objects correctly) and
 * the table must be consistent with the index:
 *   - every slot that refers to an entry holds the same bytes as every other
 *     slot that refers to it (no page ever shares another's data);
 *   - each entry's reference count is the number of slots naming it;
 *   - with a real hash, every indexed content is stored once: dup_pages is
 *     indexed slots minus distinct indexed contents;
 *   - compr_data_size counts each object once; dup_data_size the rest.
 * The same run again with every page hashing to one constant (forced
 * collisions): data stays right, and no two different pages share.
 * Finally, discarding everything gives back every object and entry.
 */
#include <errno.h>

#include "harness.h"
#include "zram_attr.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 64u
#define DISK ((uint64_t)PAGES * ZRAM_PAGE_SIZE)
#define CONTENTS 10u

static unsigned char ref[DISK];
static unsigned char rd[DISK];
static unsigned char contents[CONTENTS][ZRAM_PAGE_SIZE];
static uint32_t ids[PAGES];
static bool indexed[PAGES];

static void contents_make(uint64_t *rs)
{
	static const char words[] = "dedup shares one object between slots ";
	unsigned int c;
	size_t i;

	for (c = 0; c < CONTENTS; c++) {
		unsigned char *p = contents[c];

		if (c == CONTENTS - 1) /* incompressible: stored raw */
			for (i = 0; i < ZRAM_PAGE_SIZE; i++)
				p[i] = (unsigned char)(harness_rand(rs) >> 29);
		else if (c == CONTENTS - 2) /* same-filled: never indexed */
			memset(p, 0x5a, ZRAM_PAGE_SIZE);
		else
			for (i = 0; i < ZRAM_PAGE_SIZE; i++)
				p[i] = (unsigned char)
					words[(i * (c + 3) + i / 97) %
					      (sizeof(words) - 1)];
	}
}

/* Table vs index vs reference; see the top of the file. */
static void check(struct zram *z, bool exact_index)
{
	uint64_t compr = 0, dslots = 0, dbytes = 0, distinct = 0, objbytes = 0;
	struct zram_stats s;
	unsigned int p, q;

	CHECK_EQ(zram_read(z, rd, DISK, 0), (ssize_t)DISK);
	CHECK(!memcmp(rd, ref, DISK));
	for (p = 0; p < PAGES; p++) {
		struct zram_slot *slot = &z->table[p];
		uint32_t f = atomic_load(&slot->flags);
		uint32_t refs = 0;
		bool first = true;

		indexed[p] = f & SLOT_SHARED;
		if (!slot_holds_data(f) || (f & SLOT_SAME))
			continue;
		if (!indexed[p]) {
			compr += f & SLOT_SIZE_MASK;
			continue;
		}
		ids[p] = (uint32_t)atomic_load(&slot->handle);
		CHECK_EQ(f & SLOT_SIZE_MASK,
			 dedup_meta(z->dedup, ids[p]) & SLOT_SIZE_MASK);
		dslots++;
		dbytes += f & SLOT_SIZE_MASK;
		for (q = 0; q < PAGES; q++) {
			if (!(atomic_load(&z->table[q].flags) & SLOT_SHARED) ||
			    atomic_load(&z->table[q].handle) != ids[p])
				continue;
			first = first && q >= p;
			refs++;
			CHECK(!memcmp(ref + p * ZRAM_PAGE_SIZE,
				      ref + q * ZRAM_PAGE_SIZE,
				      ZRAM_PAGE_SIZE));
		}
		CHECK_EQ(dedup_refs(z->dedup, ids[p]), refs);
		if (first) {
			distinct++;
			objbytes += f & SLOT_SIZE_MASK;
		}
	}
	zram_stats_get(z, &s);
	CHECK_EQ(s.compr_data_size, compr + objbytes);
	CHECK_EQ(s.dedup_objects, distinct);
	CHECK_EQ(s.dup_pages, dslots - distinct);
	CHECK_EQ(s.dup_data_size, dbytes - objbytes);
	if (!exact_index)
		return;
	/* every indexed content is stored once */
	for (p = 0; p < PAGES; p++)
		for (q = p + 1; q < PAGES && indexed[p]; q++)
			if (indexed[q] && ids[p] != ids[q])
				CHECK(memcmp(ref + p * ZRAM_PAGE_SIZE,
					     ref + q * ZRAM_PAGE_SIZE,
					     ZRAM_PAGE_SIZE));
}

static void step(struct zram *z, uint64_t *rs)
{
	static const char *const algos[] = {"lz4", "lz4hc", "zstd"};
	uint64_t r = harness_rand(rs), page = harness_rand(rs) % PAGES;
	unsigned int c = (unsigned int)(harness_rand(rs) % CONTENTS);
	uint64_t off = page * ZRAM_PAGE_SIZE;
	size_t len;

	switch (r % 16) {
	case 0: /* partial write: a new content, itself deduplicated */
		off += harness_rand(rs) % ZRAM_PAGE_SIZE;
		len = (size_t)(harness_rand(rs) % 300) + 1;
		if (off + len > DISK)
			len = (size_t)(DISK - off);
		CHECK_EQ(zram_write(z, contents[c], len, off), (ssize_t)len);
		memcpy(ref + off, contents[c], len);
		break;
	case 1:
		CHECK_EQ(zram_discard(z, off, ZRAM_PAGE_SIZE), 0);
		memset(ref + off, 0, ZRAM_PAGE_SIZE);
		break;
	case 2:
		CHECK_EQ(zram_write_zeroes(z, off, ZRAM_PAGE_SIZE), 0);
		memset(ref + off, 0, ZRAM_PAGE_SIZE);
		break;
	case 3:
		CHECK_EQ(attr_store(z, "compact", "1"), 0);
		break;
	case 4:
		CHECK_EQ(attr_store(z, "comp_algorithm", algos[r / 16 % 3]), 0);
		break;
	case 5:
		CHECK_EQ(attr_store(z, "algorithm_params",
				    r / 16 % 2 ? "level=1" : "level=9"),
			 0);
		break;
	default:
		CHECK_EQ(zram_write(z, contents[c], ZRAM_PAGE_SIZE, off),
			 (ssize_t)ZRAM_PAGE_SIZE);
		memcpy(ref + off, contents[c], ZRAM_PAGE_SIZE);
	}
}

static void run(uint64_t *rs, bool collide)
{
	struct zram_config cfg = {.disksize = DISK, .dedup = true};
	struct zram_stats s;
	struct zram *z;
	unsigned int i;

	REQUIRE(zram_create(&cfg, &z) == 0);
	memset(ref, 0, sizeof(ref));
#ifdef UZRAM_TEST_HOOKS
	dedup_debug_const_hash(z->dedup, collide, 0x1234);
#else
	if (collide) {
		zram_destroy(z);
		return;
	}
#endif
	for (i = 0; i < 3000; i++) {
		step(z, rs);
		if (i == 1000) /* off: new writes are plain, shares stay */
			CHECK_EQ(attr_store(z, "dedup", "0"), 0);
		if (i == 1500)
			CHECK_EQ(attr_store(z, "dedup", "1"), 0);
		check(z, !collide);
	}
	zram_stats_get(z, &s);
	CHECK(s.dup_pages > 0);
	CHECK(s.dedup_meta_size > 0);
	/* everything back */
	CHECK_EQ(zram_discard(z, 0, DISK), 0);
	memset(ref, 0, sizeof(ref));
	check(z, !collide);
	zram_stats_get(z, &s);
	CHECK_EQ(s.compr_data_size, 0);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.dup_pages, 0);
	CHECK_EQ(s.mem_used_total, 0);
	/* and reset with shares in place */
	for (i = 0; i < PAGES; i++)
		CHECK_EQ(zram_write(z, contents[i % 3], ZRAM_PAGE_SIZE,
				    (uint64_t)i * ZRAM_PAGE_SIZE),
			 (ssize_t)ZRAM_PAGE_SIZE);
	zram_stats_get(z, &s);
	CHECK_EQ(s.dup_pages, collide ? s.dup_pages : PAGES - 3);
	CHECK_EQ(attr_store(z, "reset", "1"), 0);
	zram_stats_get(z, &s);
	CHECK_EQ(s.dedup_objects, 0);
	CHECK_EQ(s.mem_used_total, 0);
	/* destroy with shares in place frees them (ASan: no leak) */
	for (i = 0; i < PAGES; i++)
		zram_write(z, contents[i % 2], ZRAM_PAGE_SIZE,
			   (uint64_t)i * ZRAM_PAGE_SIZE);
	zram_destroy(z);
}

int main(void)
{
	uint64_t rs = harness_seed();

	contents_make(&rs);
	run(&rs, false);
	run(&rs, true);
	return harness_finish("zram_dedup");
}
