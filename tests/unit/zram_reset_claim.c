/*
 * zram_reset_claim.c - reset claims the store as the kernel's zram does: it
 * is refused while the disk is open, and while it runs an open of the disk
 * is refused (-EBUSY), so no write that succeeded on an open disk is wiped
 * by a reset, and the counters agree with what is stored afterwards.
 *
 * The race of the report: a 1 TiB disk holding one page; one thread resets,
 * another opens, writes a page near the end and keeps the disk open until
 * the reset has returned. Either the open is refused, or the reset is, or
 * the write came after the reset: the page must read back, and mm_stat
 * must count it. Then many rounds of the same on a disk whose reset takes a
 * while (one page in every table page).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "harness.h"
#include "zram.h"

#define MIB (1024ull * 1024)

struct race {
	struct zram *z;
	uint64_t off;	       /* where the opener writes */
	unsigned int delay_us; /* opener: wait this long after the start */
	atomic_int phase;      /* 0 wait, 1 reset running, 2 reset returned */
	int reset_err;	       /* reset's result */
	bool opened;	       /* the opener got the disk */
	ssize_t written;       /* its zram_write() */
	unsigned long refused; /* opens refused with -EBUSY */
	unsigned long bad;     /* opens failed otherwise */
	unsigned char data[ZRAM_PAGE_SIZE];
};

static void *resetter(void *arg)
{
	struct race *r = arg;

	atomic_store(&r->phase, 1);
	/* (no CHECK in threads: the harness counters are not atomic) */
	r->reset_err = zram_reset(r->z);
	atomic_store(&r->phase, 2);
	return NULL;
}

/* Open as soon as the reset has started; write; hold until it returned. */
static void *opener(void *arg)
{
	struct race *r = arg;
	int err;

	while (atomic_load(&r->phase) == 0)
		sched_yield();
	if (r->delay_us)
		usleep(r->delay_us);
	while ((err = zram_open_get(r->z))) {
		if (err == -EBUSY)
			r->refused++;
		else
			r->bad++;
		usleep(20); /* leave the reset its CPU on a loaded machine */
	}
	r->opened = true;
	r->written = zram_write(r->z, r->data, sizeof(r->data), r->off);
	while (atomic_load(&r->phase) != 2)
		usleep(100);
	return NULL;
}

/* One race; returns with the opener's open still held (caller puts it). */
static void race_run(struct zram *z, struct race *r, uint64_t off,
		     uint64_t word, unsigned int delay_us)
{
	pthread_t a, b;

	memset(r, 0, sizeof(*r));
	r->z = z;
	r->off = off;
	r->delay_us = delay_us;
	for (size_t i = 0; i < sizeof(r->data); i += 8)
		memcpy(r->data + i, &word, 8);
	r->data[5] ^= 0x77; /* not same-filled: a pool object */
	REQUIRE(pthread_create(&b, NULL, opener, r) == 0);
	REQUIRE(pthread_create(&a, NULL, resetter, r) == 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
}

/* After a race: the opener's page survived and is counted. */
static void race_check(struct zram *z, struct race *r, uint64_t others)
{
	unsigned char back[ZRAM_PAGE_SIZE];
	struct zram_stats s;

	CHECK(r->opened);
	CHECK_EQ(r->written, ZRAM_PAGE_SIZE);
	CHECK_EQ(r->bad, 0);
	CHECK(r->reset_err == 0 || r->reset_err == -EBUSY);
	CHECK_EQ(zram_read(z, back, sizeof(back), r->off), ZRAM_PAGE_SIZE);
	CHECK(!memcmp(back, r->data, sizeof(back)));
	zram_stats_get(z, &s);
	/* a refused reset left the other pages; a done one took them */
	CHECK_EQ(s.pages_stored, 1 + (r->reset_err ? others : 0));
	CHECK_EQ(s.same_pages, r->reset_err ? others : 0);
	CHECK(s.compr_data_size > 0);
	CHECK(s.mem_used_total > 0);
	zram_open_put(z);
}

static void test_1tib(void)
{
	struct zram_config cfg = {.disksize = 1024 * 1024 * MIB};
	unsigned char p[ZRAM_PAGE_SIZE];
	struct race r;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	memset(p, 0x11, sizeof(p));
	CHECK_EQ(zram_write(z, p, sizeof(p), 0), ZRAM_PAGE_SIZE);
	/* as reported: the open 0.3 s into the reset, a page near the end */
	race_run(z, &r, cfg.disksize - 3 * ZRAM_PAGE_SIZE, 0x0123456789abcdef,
		 300000);
	fprintf(stderr, "1 TiB: reset %d, %lu opens refused\n", r.reset_err,
		r.refused);
	race_check(z, &r, 1);
	/* later frees must not drive the counters below zero */
	CHECK_EQ(zram_discard(z, 0, cfg.disksize), 0);
	{
		struct zram_stats s;

		zram_stats_get(z, &s);
		CHECK_EQ(s.pages_stored, 0);
		CHECK_EQ(s.compr_data_size, 0);
		CHECK_EQ(s.same_pages, 0);
	}
	zram_destroy(z);
}

/* One same-filled page in every table page of a 1 GiB disk: each reset
 * walks 1024 table pages, a window of milliseconds to open in. */
static void test_rounds(void)
{
	struct zram_config cfg = {.disksize = 1024 * MIB};
	unsigned int i, rounds = (unsigned int)(12 * harness_scale()) + 2;
	unsigned long refused = 0, resets = 0;
	unsigned char p[ZRAM_PAGE_SIZE];
	uint64_t off, others;
	struct race r;
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	for (i = 0; i < rounds; i++) {
		CHECK_EQ(zram_reset(z), 0);
		others = 0;
		for (off = 0; off < cfg.disksize; off += MIB) {
			memset(p, (int)(off / MIB) | 1, sizeof(p));
			CHECK_EQ(zram_write(z, p, sizeof(p), off),
				 ZRAM_PAGE_SIZE);
			others++;
		}
		/* the open lands anywhere in the first 4 ms of the reset
		 * (about its length); the page near the end is walked last */
		race_run(z, &r, cfg.disksize - (i % 8 + 1) * ZRAM_PAGE_SIZE,
			 0xfeed0000ull + i, i * 4000 / rounds);
		race_check(z, &r, others);
		refused += r.refused;
		resets += r.reset_err == 0;
	}
	fprintf(stderr, "%u rounds: %lu resets done, %lu opens refused\n",
		rounds, resets, refused);
	zram_destroy(z);
}

/* The claim's rules, one by one. */
static void test_claim_rules(void)
{
	struct zram_config cfg = {.disksize = 16 * MIB};
	struct zram *z;

	REQUIRE(zram_create(&cfg, &z) == 0);
	CHECK_EQ(zram_open_count(z), 0);
	CHECK_EQ(zram_open_get(z), 0);
	CHECK_EQ(zram_open_get(z), 0);
	CHECK_EQ(zram_open_count(z), 2);
	CHECK_EQ(zram_reset(z), -EBUSY);
	zram_open_put(z);
	CHECK_EQ(zram_reset(z), -EBUSY);
	zram_open_put(z);
	CHECK_EQ(zram_open_count(z), 0);
	CHECK_EQ(zram_reset(z), 0);
	CHECK_EQ(zram_open_get(z), 0); /* the claim was given back */
	CHECK_EQ(zram_open_count(z), 1);
	zram_open_put(z);
	zram_destroy(z);
}

int main(void)
{
	test_claim_rules();
	test_1tib();
	test_rounds();
	return harness_finish("zram_reset_claim");
}
