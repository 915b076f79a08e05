/*
 * zram-group-bench - what grouped frames of cold pages save in memory and
 * cost a read, in the store alone (no FUSE, no file system).
 *
 *   zram-group-bench [--max-mb N] [--group PAGES] [--reads N] DIR...
 *
 * Loads up to --max-mb (default 256) MiB of 4 KiB pages from the files
 * under each DIR (default /usr/include), file after file (a file's pages
 * consecutive, as ext4 lays out its blocks; a last page zero-padded), and
 * writes them to two zstd stores side by side. One is left page by page;
 * the other gets the policy `idle_after=0,interval=1,group=PAGES` (default
 * 4) and is measured once a pass grouped nothing new. Both are compacted,
 * then: mem_used_total and compr_data_size of each; the latency of --reads
 * (default 20000) single-page reads at random pages (a read of a grouped
 * page then nearly always decompresses its frame) and of a sequential read
 * of every page (the neighbours come from the thread's frame buffer).
 * Prints the load average with the figures: a benchmark, not a test.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pages.h"
#include "zram.h"

/* the data set, loaded once in main() */
static struct pages set;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct zram *store_fill(void)
{
	struct zram_config cfg = {.disksize = set.count * PAGE,
				  .algorithm = "zstd"};
	struct zram *z;
	size_t i;

	if (zram_create(&cfg, &z))
		return NULL;
	for (i = 0; i < set.count; i++)
		if (zram_write(z, set.data + i * PAGE, PAGE, i * PAGE) != PAGE)
			return NULL;
	return z;
}

/* Wait until a pass grouped nothing new (two passes, same count). */
static void group_settle(struct zram *z)
{
	uint64_t last = UINT64_MAX, passes;
	struct zram_stats s;

	for (;;) {
		zram_stats_get(z, &s);
		passes = s.policy_passes;
		do {
			usleep(200000);
			zram_stats_get(z, &s);
		} while (s.policy_passes < passes + 1);
		if (s.grouped_pages == last)
			return;
		last = s.grouped_pages;
	}
}

/* Random single-page reads: median, p90, p99 in us into @out. */
static void lat_random(struct zram *z, size_t reads, double *out)
{
	static unsigned char buf[PAGE];
	double *t = malloc(reads * sizeof(*t));
	uint64_t rs = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < reads; i++) {
		size_t p;
		double t0;

		rs ^= rs << 13;
		rs ^= rs >> 7;
		rs ^= rs << 17;
		p = (size_t)(rs % set.count);
		t0 = now_us();
		if (zram_read(z, buf, PAGE, p * PAGE) != PAGE)
			fprintf(stderr, "read of page %zu failed\n", p);
		t[i] = now_us() - t0;
	}
	qsort(t, reads, sizeof(*t), dbl_cmp);
	out[0] = t[reads / 2];
	out[1] = t[reads * 9 / 10];
	out[2] = t[reads * 99 / 100];
	free(t);
}

/* A sequential read of every page, one page per call: us per page. */
static double lat_seq(struct zram *z)
{
	static unsigned char buf[PAGE];
	double t0 = now_us();
	size_t i;

	for (i = 0; i < set.count; i++)
		if (zram_read(z, buf, PAGE, i * PAGE) != PAGE ||
		    memcmp(buf, set.data + i * PAGE, PAGE))
			fprintf(stderr, "page %zu reads back wrong\n", i);
	return (now_us() - t0) / (double)set.count;
}

int main(int argc, char **argv)
{
	size_t max_mb = 256, reads = 20000;
	struct zram_policy pol = {.idle_after = 0, .interval = 1, .group = 4};
	struct zram *plain, *grouped;
	struct zram_stats sp, sg;
	double lp[3], lg[3], seq_p, seq_g, load[3];
	static const char *const usr_include[] = {"/usr/include"};
	const char *const *dirs = usr_include;
	size_t ndirs = 1;
	unsigned int gsize;
	int c;

	while ((c = getopt(argc, argv, "m:g:r:")) != -1) {
		if (c == 'm')
			max_mb = strtoul(optarg, NULL, 10);
		else if (c == 'g')
			pol.group = (uint32_t)strtoul(optarg, NULL, 10);
		else if (c == 'r')
			reads = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind < argc) {
		dirs = (const char *const *)argv + optind;
		ndirs = (size_t)(argc - optind);
	}
	if (!reads || pages_load(&set, dirs, ndirs, max_mb))
		return 1;
	plain = store_fill();
	grouped = store_fill();
	if (!plain || !grouped || zram_policy_set(grouped, &pol)) {
		fprintf(stderr, "store setup failed\n");
		return 1;
	}
	group_settle(grouped);
	gsize = pol.group;
	/* no more passes while the reads are timed */
	pol.group = 0;
	pol.interval = 3600;
	zram_policy_set(grouped, &pol);
	sleep(1);
	zram_compact(plain);
	zram_compact(grouped);
	zram_stats_get(plain, &sp);
	zram_stats_get(grouped, &sg);
	lat_random(plain, reads, lp);
	lat_random(grouped, reads, lg);
	seq_p = lat_seq(plain);
	seq_g = lat_seq(grouped);
	getloadavg(load, 3);
	printf("pages %zu (%.1f MB), group=%u, load %.2f %.2f %.2f\n",
	       set.count, set.count * PAGE / 1e6, gsize, load[0], load[1],
	       load[2]);
	printf("%-10s %12s %12s %9s %8s %8s %8s %8s\n", "store", "mem_used MB",
	       "compr MB", "grouped", "rnd p50", "rnd p90", "rnd p99",
	       "seq us");
	printf("%-10s %12.2f %12.2f %9llu %8.1f %8.1f %8.1f %8.2f\n", "plain",
	       sp.mem_used_total / 1e6, sp.compr_data_size / 1e6, 0ull, lp[0],
	       lp[1], lp[2], seq_p);
	printf("%-10s %12.2f %12.2f %9llu %8.1f %8.1f %8.1f %8.2f\n", "grouped",
	       sg.mem_used_total / 1e6, sg.compr_data_size / 1e6,
	       (unsigned long long)sg.grouped_pages, lg[0], lg[1], lg[2],
	       seq_g);
	printf("grouped / plain: mem_used_total %.3f, compr_data_size %.3f, "
	       "random read p50 %.2f, sequential %.2f\n",
	       (double)sg.mem_used_total / (double)sp.mem_used_total,
	       (double)sg.compr_data_size / (double)sp.compr_data_size,
	       lg[0] / lp[0], seq_g / seq_p);
	zram_destroy(plain);
	zram_destroy(grouped);
	free(set.data);
	return 0;
}
