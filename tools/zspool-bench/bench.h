/* bench.h - shared by the two files of zspool-bench. */
#ifndef UZRAM_ZSPOOL_BENCH_H
#define UZRAM_ZSPOOL_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* mm_stat of /dev/zram0 after writing the input pages with lz4. */
struct zram_result {
	uint64_t orig_data_size;
	uint64_t compr_data_size;
	uint64_t mem_used_total;
	uint64_t same_pages;
	uint64_t huge_pages;
	double seconds;
};

/*
 * zram_anchor_run - write @nr pages (4 KiB each, 4 KiB aligned) to
 * /dev/zram0 with lz4 and read mm_stat. The device must be unused
 * (initstate 0); it is reset on every exit path, signals included.
 * Returns 0, or -errno with a message in @why.
 */
int zram_anchor_run(const unsigned char *pages, size_t nr,
		    struct zram_result *out, const char **why);

#endif
