/*
 * bench.h - zram-bench: store-level throughput of uzram's block store on
 * real data, next to the raw codecs and (optionally) kernel zram.
 */
#ifndef UZRAM_ZRAM_BENCH_H
#define UZRAM_ZRAM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pages.h"

/* One measured row. */
struct result {
	char what[32]; /* "uzram", "raw", "kernel-zram" */
	char codec[16];
	int threads;
	double write_mbs; /* store write / raw compress */
	double read_mbs;  /* store read / raw decompress */
	/* the same per CPU second of the process (user + system): what one
	 * core does, which a shared machine's load hardly changes */
	double write_cpu_mbs;
	double read_cpu_mbs;
	uint64_t orig;	/* bytes of data stored */
	uint64_t compr; /* compressed bytes */
	uint64_t mem;	/* memory used (mem_used_total), 0 for raw */
	uint64_t same;	/* same-filled pages (store: not compressed) */
	uint64_t huge;	/* pages stored raw */
	int verified;	/* read data compared equal */
};

double now_sec(void);
/*
 * Run @fn(@arg, thread index) on @threads threads; returns the wall time
 * and puts the process's CPU time (every thread) over the run in *@cpu.
 */
double threads_run(int threads, void (*fn)(void *, int), void *arg,
		   double *cpu);

/* --dedup: the store runs deduplicate (zram_config.dedup). */
extern bool bench_dedup;
/* --level: the codec level for the store and the raw runs; 0: each
 * codec's default (lz4 acceleration 1, lz4hc 9, zstd 3) */
extern int bench_level;

int store_bench(const struct pages *p, const char *codec, int threads,
		struct result *r);
int raw_bench(const struct pages *p, const char *codec, int threads,
	      struct result *r);
/* Returns 0, 1 if kernel zram is not usable (reason printed), -1 on error. */
int kzram_bench(const struct pages *p, int threads, struct result *r);

#endif
