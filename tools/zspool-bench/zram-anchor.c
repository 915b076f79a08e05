/*
 * zram-anchor.c - the kernel anchor: the same pages written to /dev/zram0
 * (lz4) and its mm_stat read back. Claiming the device and resetting it on
 * every exit path is tools/kzram's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kzram.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pages_write(const unsigned char *pages, size_t nr)
{
	int fd = kzram_open(O_WRONLY | O_DIRECT);
	size_t i;
	int err = 0;

	if (fd < 0)
		return fd;
	for (i = 0; i < nr && !err; i++)
		if (pwrite(fd, pages + i * 4096, 4096, (off_t)i * 4096) != 4096)
			err = -errno ? -errno : -EIO;
	if (!err && fsync(fd))
		err = -errno;
	kzram_close(fd);
	return err;
}

int zram_anchor_run(const unsigned char *pages, size_t nr,
		    struct zram_result *out, const char **why)
{
	uint64_t mm[9];
	double t0;
	int err;

	err = kzram_claim("lz4", (uint64_t)nr * 4096, why);
	if (err)
		return err;
	t0 = now();
	err = pages_write(pages, nr);
	out->seconds = now() - t0;
	if (err) {
		*why = "writing /dev/zram0 failed";
		goto out_release;
	}
	err = kzram_mm_stat(mm);
	if (err) {
		*why = "cannot read mm_stat";
		goto out_release;
	}
	out->orig_data_size = mm[0];
	out->compr_data_size = mm[1];
	out->mem_used_total = mm[2];
	out->same_pages = mm[5];
	out->huge_pages = mm[7];
out_release:
	kzram_release();
	return err;
}
