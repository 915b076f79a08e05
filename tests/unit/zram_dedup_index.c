/*
 * zram_dedup_index.c - the dedup index on its own: lookups return exactly
 * the live entries of a hash (each with a reference taken), the last put of
 * an entry hands back its pool object and takes it out of every later
 * lookup, ids are reused (within their stripe), the entry bound gives
 * -ENOSPC, and under forced
 * collisions (one constant hash) every live entry is a candidate, never more
 * than the caller's bound. Checked against a reference count kept here.
 */
#include <errno.h>

#include "dedup.h"
#include "harness.h"
#include "zram.h"

#define MAXE 3000u

static uint32_t ref_refs[MAXE];
static uint64_t ref_hash[MAXE];
static bool ref_live[MAXE];

static void test_basic(void)
{
	struct zram_dedup *d;
	uint32_t ids[DEDUP_CANDIDATES], a, b, c;
	uint64_t h = 0;
	struct dedup_stats s;

	CHECK_EQ(dedup_create(0, &d), -EINVAL);
	CHECK_EQ(dedup_create(1ull << 33, &d), -EINVAL);
	REQUIRE(dedup_create(2, &d) == 0);
	CHECK_EQ(dedup_lookup(d, 42, ids, DEDUP_CANDIDATES), 0);
	REQUIRE(dedup_insert(d, 42, 1000, 77, &a) == 0);
	REQUIRE(dedup_insert(d, 43, 2000, 88, &b) == 0);
	CHECK(a != b);
	CHECK_EQ(dedup_insert(d, 44, 3000, 99, &c), -ENOSPC);
	CHECK_EQ(dedup_handle(d, a), 1000);
	CHECK_EQ(dedup_meta(d, b), 88);
	CHECK_EQ(dedup_lookup(d, 42, ids, DEDUP_CANDIDATES), 1);
	CHECK_EQ(ids[0], a);
	CHECK_EQ(dedup_refs(d, a), 2);
	dedup_get(d, a);
	CHECK_EQ(dedup_refs(d, a), 3);
	dedup_stats_get(d, &s);
	CHECK_EQ(s.entries, 2);
	CHECK_EQ(s.refs, 4);
	CHECK(s.meta_bytes >= 2 * 24);
	CHECK(!dedup_put(d, a, &h));
	CHECK(!dedup_put(d, a, &h));
	CHECK(dedup_put(d, a, &h));
	CHECK_EQ(h, 1000);
	CHECK_EQ(dedup_lookup(d, 42, ids, DEDUP_CANDIDATES), 0);
	/* the freed id is reused by its own stripe (hash 42 + 64: the same
	 * stripe of buckets); another stripe finds the bound reached */
	CHECK_EQ(dedup_insert(d, 45, 4000, 1, &c), -ENOSPC);
	REQUIRE(dedup_insert(d, 42 + 64, 4000, 1, &c) == 0);
	CHECK_EQ(c, a);
	CHECK_EQ(dedup_lookup(d, 42 + 64, ids, 1), 1);
	CHECK(!dedup_put(d, c, &h));
	CHECK(dedup_put(d, c, &h));
	CHECK_EQ(h, 4000);
	CHECK(dedup_put(d, b, &h));
	CHECK_EQ(h, 2000);
	dedup_stats_get(d, &s);
	CHECK_EQ(s.entries, 0);
	CHECK_EQ(s.refs, 0);
	dedup_destroy(d);
	dedup_destroy(NULL);
}

/* Hashes in one bucket whose kept 32 bits differ are not candidates. */
static void test_same_bucket(void)
{
	struct zram_dedup *d;
	uint32_t ids[DEDUP_CANDIDATES], a, b;
	uint64_t h;

	REQUIRE(dedup_create(16, &d) == 0);
	REQUIRE(dedup_insert(d, 5, 1, 0, &a) == 0);
	REQUIRE(dedup_insert(d, 5 + (1ull << 20), 2, 0, &b) == 0);
	CHECK_EQ(dedup_lookup(d, 5, ids, DEDUP_CANDIDATES), 1);
	CHECK_EQ(ids[0], a);
	CHECK(!dedup_put(d, ids[0], &h));
	CHECK(dedup_put(d, a, &h));
	CHECK_EQ(dedup_lookup(d, 5, ids, DEDUP_CANDIDATES), 0);
	CHECK_EQ(dedup_lookup(d, 5 + (1ull << 20), ids, DEDUP_CANDIDATES), 1);
	CHECK(!dedup_put(d, b, &h));
	CHECK(dedup_put(d, b, &h));
	dedup_destroy(d);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random inserts, lookups, gets and puts against the reference. */
static void test_model(uint64_t nhashes)
{
	struct zram_dedup *d;
	struct dedup_stats s;
	uint64_t step, live = 0, refs = 0, h;
	uint32_t ids[DEDUP_CANDIDATES], id;
	unsigned int i, n, expect;
	int err;

	REQUIRE(dedup_create(MAXE, &d) == 0);
	memset(ref_live, 0, sizeof(ref_live));
	for (step = 0; step < 40000; step++) {
		uint64_t hash = rng() % nhashes;

		switch (rng() % 4) {
		case 0:
			err = dedup_insert(d, hash, hash * 7 + 1,
					   (uint32_t)hash, &id);
			if (err) {
				/* at most 16 free ids wait in each of the 64
				 * stripes for an insert there */
				CHECK_EQ(err, -ENOSPC);
				CHECK(live + 64 * 16 >= MAXE);
				break;
			}
			REQUIRE(id < MAXE && !ref_live[id]);
			ref_live[id] = true;
			ref_refs[id] = 1;
			ref_hash[id] = hash;
			live++;
			refs++;
			break;
		case 1:
			expect = 0;
			for (id = 0; id < MAXE; id++)
				expect += ref_live[id] && ref_hash[id] == hash;
			n = dedup_lookup(d, hash, ids, DEDUP_CANDIDATES);
			CHECK_EQ(n, expect < DEDUP_CANDIDATES
					    ? expect
					    : DEDUP_CANDIDATES);
			for (i = 0; i < n; i++) {
				REQUIRE(ref_live[ids[i]]);
				CHECK_EQ(ref_hash[ids[i]], hash);
				CHECK_EQ(dedup_meta(d, ids[i]), hash);
				ref_refs[ids[i]]++;
				refs++;
			}
			break;
		case 2:
		case 3:
			id = (uint32_t)(rng() % MAXE);
			if (!ref_live[id])
				break;
			if (rng() % 3 == 0) {
				dedup_get(d, id);
				ref_refs[id]++;
				refs++;
				break;
			}
			h = 0;
			ref_refs[id]--;
			refs--;
			CHECK_EQ(dedup_put(d, id, &h), ref_refs[id] == 0);
			if (!ref_refs[id]) {
				CHECK_EQ(h, ref_hash[id] * 7 + 1);
				ref_live[id] = false;
				live--;
			}
			break;
		}
		if (ref_live[0])
			CHECK_EQ(dedup_refs(d, 0), ref_refs[0]);
	}
	dedup_stats_get(d, &s);
	CHECK_EQ(s.entries, live);
	CHECK_EQ(s.refs, refs);
	for (id = 0; id < MAXE; id++)
		if (ref_live[id])
			CHECK_EQ(dedup_refs(d, id), ref_refs[id]);
	dedup_destroy(d);
}

/*
 * Ids freed by one stripe serve the others: 2000 entries in stripe 0 (hash
 * multiples of 64), all dropped, then 2000 in stripe 1 within a bound of
 * 2100 live ones. And the index grows with its entries: after 2000 of
 * them it holds about 28 bytes each, not a table sized by its bound.
 */
static void test_ids_shared(void)
{
	static uint32_t ids[2000];
	uint32_t c[DEDUP_CANDIDATES];
	struct zram_dedup *d;
	struct dedup_stats s;
	uint64_t h;
	unsigned int i;

	REQUIRE(dedup_create(2100, &d) == 0);
	for (i = 0; i < 2000; i++)
		REQUIRE(dedup_insert(d, (uint64_t)i * 64, i, i, &ids[i]) == 0);
	for (i = 0; i < 2000; i++) {
		CHECK_EQ(dedup_lookup(d, (uint64_t)i * 64, c, 1), 1);
		CHECK_EQ(c[0], ids[i]);
		CHECK(!dedup_put(d, c[0], &h));
		CHECK(dedup_put(d, ids[i], &h));
		CHECK_EQ(h, i);
	}
	for (i = 0; i < 2000; i++)
		CHECK_EQ(dedup_insert(d, (uint64_t)i * 64 + 1, i, i, &ids[i]),
			 0);
	for (i = 0; i < 2000; i++)
		CHECK(dedup_put(d, ids[i], &h));
	dedup_destroy(d);

	REQUIRE(dedup_create(UINT32_MAX - 1ull, &d) == 0);
	for (i = 0; i < 2000; i++)
		REQUIRE(dedup_insert(d, rng(), i, i, &ids[i]) == 0);
	dedup_stats_get(d, &s);
	fprintf(stderr, "2000 entries, bound 2^32: %llu bytes of index\n",
		(unsigned long long)s.meta_bytes);
	CHECK(s.meta_bytes < 2000 * 64 + 64 * 1024);
	for (i = 0; i < 2000; i++)
		CHECK(dedup_put(d, ids[i], &h));
	dedup_destroy(d);
}

/* A rewrite swaps an entry's object for every holder; refused (-EBUSY)
 * while a reader holds it. */
static void test_rewrite(void)
{
	struct zram_dedup *d;
	uint64_t h, oh;
	uint32_t id, m, om;

	REQUIRE(dedup_create(16, &d) == 0);
	REQUIRE(dedup_insert(d, 7, 100, 1, &id) == 0);
	dedup_obj_begin(d, id, &h, &m);
	CHECK_EQ(h, 100);
	CHECK_EQ(m, 1);
	CHECK_EQ(dedup_rewrite(d, id, 200, 2, &oh, &om), -EBUSY);
	dedup_obj_end(d, id);
	CHECK_EQ(dedup_handle(d, id), 100);
	CHECK_EQ(dedup_rewrite(d, id, 200, 2, &oh, &om), 0);
	CHECK_EQ(oh, 100);
	CHECK_EQ(om, 1);
	CHECK_EQ(dedup_handle(d, id), 200);
	CHECK_EQ(dedup_meta(d, id), 2);
	/* the last put hands back the object it has now */
	CHECK(dedup_put_obj(d, id, &h, &m));
	CHECK_EQ(h, 200);
	CHECK_EQ(m, 2);
	/* a sole holder may take the object out of the index */
	REQUIRE(dedup_insert(d, 8, 300, 3, &id) == 0);
	dedup_get(d, id);
	CHECK(!dedup_take_sole(d, id, &h, &m));
	CHECK(!dedup_put(d, id, &h));
	CHECK(dedup_take_sole(d, id, &h, &m));
	CHECK_EQ(h, 300);
	CHECK_EQ(m, 3);
	CHECK_EQ(dedup_lookup(d, 8, &id, 1), 0);
	dedup_destroy(d);
}

int main(void)
{
	rng_state = harness_seed() | 1;
	test_basic();
	test_ids_shared();
	test_rewrite();
	test_same_bucket();
	test_model(5000); /* few collisions */
	test_model(3);	  /* long chains: more candidates than the bound */
	return harness_finish("zram_dedup_index");
}
