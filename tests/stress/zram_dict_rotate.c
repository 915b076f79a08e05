/*
 * zram_dict_rotate.c - train_dict rotates dictionaries while pages written
 * with the old ones are read.
 *
 * For zstd and lz4: pages of a shared vocabulary are written, then the main
 * thread repeatedly trains a dictionary on them (train_dict) and rewrites a
 * quarter of the disk with it, while reader threads read every page and
 * check it against what was written. Each round leaves pages of up to four
 * dictionary generations on the disk; a training while all four are still
 * needed is refused with -EBUSY and changes nothing. After the rounds:
 * pages written with a trained dictionary are smaller than the first ones,
 * a dictionary no page needs any more is freed (at most ZRAM_DICT_SLOTS are
 * held), and discarding everything drops every count to zero.
 *
 * Scaled by harness_scale() (UZRAM_STRESS_SCALE), seeded by harness_seed().
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"

#define PAGES 1024u
#define READERS 2

static unsigned char pages[PAGES][ZRAM_PAGE_SIZE];
/* per page: content seed, and a sequence count that is odd while the page
 * is being rewritten (a reader skips a page whose count moved) */
static _Atomic uint32_t seed[PAGES];
static _Atomic uint32_t seq[PAGES];

struct reader {
	struct zram *z;
	_Atomic int *stop;
	long bad, reads;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[ZRAM_PAGE_SIZE], want[ZRAM_PAGE_SIZE];
	uint32_t i = 0, s0, sd;

	while (!atomic_load(r->stop)) {
		i = (i + 7) % PAGES;
		s0 = atomic_load(&seq[i]);
		sd = atomic_load(&seed[i]);
		if (s0 & 1)
			continue;
		if (zram_read(r->z, buf, sizeof(buf),
			      (uint64_t)i * ZRAM_PAGE_SIZE) != sizeof(buf)) {
			r->bad++;
			continue;
		}
		if (atomic_load(&seq[i]) != s0)
			continue; /* rewritten meanwhile */
		harness_text_fill(want, ZRAM_PAGE_SIZE, sd);
		r->bad += memcmp(buf, want, sizeof(buf)) != 0;
		r->reads++;
	}
	return NULL;
}

/* Rewrite pages [first, first + n) with new versions. */
static void rewrite(struct zram *z, uint32_t first, uint32_t n, uint32_t ver)
{
	uint32_t i;

	for (i = first; i < first + n; i++) {
		harness_text_fill(pages[i], ZRAM_PAGE_SIZE, ver * PAGES + i);
		atomic_fetch_add(&seq[i], 1); /* odd: being rewritten */
		atomic_store(&seed[i], ver * PAGES + i);
		REQUIRE(zram_write(z, pages[i], ZRAM_PAGE_SIZE,
				   (uint64_t)i * ZRAM_PAGE_SIZE) ==
			ZRAM_PAGE_SIZE);
		atomic_fetch_add(&seq[i], 1);
	}
}

static unsigned int dicts_held(struct zram *z, unsigned int codec)
{
	unsigned int j, n = 0;

	for (j = 0; j < ZRAM_DICT_SLOTS; j++)
		n += atomic_load(&z->params[0][codec].dicts[j]) != NULL;
	return n;
}

static void run(const char *algo, unsigned int codec)
{
	struct zram_config cfg = {.disksize = PAGES * ZRAM_PAGE_SIZE,
				  .algorithm = algo};
	struct reader r[READERS];
	pthread_t t[READERS];
	_Atomic int stop = 0;
	struct zram_stats s0, s1;
	unsigned int rounds = 4 + (unsigned int)(8 * harness_scale());
	unsigned int i, busy = 0, ok = 0;
	struct zram *z;
	int err;

	REQUIRE(zram_create(&cfg, &z) == 0);
	rewrite(z, 0, PAGES, 0);
	zram_stats_get(z, &s0);
	for (i = 0; i < READERS; i++) {
		r[i] = (struct reader){.z = z, .stop = &stop};
		REQUIRE(!pthread_create(&t[i], NULL, reader, &r[i]));
	}
	for (i = 1; i <= rounds; i++) {
		err = zram_dict_train(z, 256, 16384);
		CHECK(err == 0 || err == -EBUSY);
		ok += err == 0;
		busy += err == -EBUSY;
		CHECK(dicts_held(z, codec) <= ZRAM_DICT_SLOTS);
		/* a quarter of the disk, in turn: old generations linger */
		rewrite(z, (i % 4) * (PAGES / 4), PAGES / 4, i);
	}
	/* everything with the newest dictionary: all older ones go */
	rewrite(z, 0, PAGES, rounds + 1);
	zram_stats_get(z, &s1);
	atomic_store(&stop, 1);
	for (i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(r[i].bad, 0);
		CHECK(r[i].reads > 0);
	}
	fprintf(stderr,
		"%s: %u trainings, %u refused; compressed %llu -> %llu bytes\n",
		algo, ok, busy, (unsigned long long)s0.compr_data_size,
		(unsigned long long)s1.compr_data_size);
	CHECK(ok >= 2);
	CHECK(s1.compr_data_size < s0.compr_data_size);
	CHECK_EQ(zram_dict_train(z, 256, 16384), 0); /* one slot is free */
	CHECK(dicts_held(z, codec) == 2);
	CHECK_EQ(zram_discard(z, 0, zram_disksize(z)), 0);
	for (i = 0; i < ZRAM_DICT_SLOTS; i++)
		CHECK_EQ(atomic_load(&z->params[0][codec].pages[i]), 0);
	CHECK_EQ(zram_dict_train(z, 256, 16384), -ENODATA);
	zram_destroy(z);
}

int main(void)
{
	(void)harness_seed();
	run("zstd", ZRAM_CODEC_ZSTD);
	run("lz4", ZRAM_CODEC_LZ4);
	return harness_finish("zram_dict_rotate");
}
