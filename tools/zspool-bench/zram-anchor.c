/*
 * zram-anchor.c - the kernel anchor: the same pages written to /dev/zram0
 * (lz4), its mm_stat read back, and the device reset afterwards on every
 * exit path: normal return, error, and the fatal signals (the handler
 * resets and re-raises). Only an unused device is touched (initstate 0).
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

#define ZRAM_DEV "/dev/zram0"
#define ZRAM_SYS "/sys/block/zram0/"

static const int fatal_signals[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
				    SIGSEGV, SIGBUS,  SIGABRT};
#define NR_FATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

/* The open device, closed by the signal handler: reset refuses while open. */
static volatile sig_atomic_t zram_fd = -1;

/* Async-signal-safe: open + write + close. */
static int sys_write(const char *attr, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), ZRAM_SYS "%s", attr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static void zram_reset(void)
{
	int fd = open(ZRAM_SYS "reset", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			/* nothing more we can do */
		}
		close(fd);
	}
}

static void on_fatal(int sig)
{
	if (zram_fd >= 0)
		close(zram_fd);
	zram_reset();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void handlers_set(struct sigaction *old)
{
	struct sigaction sa;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NR_FATAL; i++)
		sigaction(fatal_signals[i], &sa, &old[i]);
}

static void handlers_restore(const struct sigaction *old)
{
	unsigned int i;

	for (i = 0; i < NR_FATAL; i++)
		sigaction(fatal_signals[i], &old[i], NULL);
}

static int sys_read_u64s(const char *attr, uint64_t *v, int n)
{
	char path[128];
	FILE *f;
	int got = 0;

	snprintf(path, sizeof(path), ZRAM_SYS "%s", attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (got < n && fscanf(f, "%" SCNu64, &v[got]) == 1)
		got++;
	fclose(f);
	return got == n ? 0 : -EIO;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int pages_write(const unsigned char *pages, size_t nr)
{
	int fd = open(ZRAM_DEV, O_WRONLY | O_DIRECT);
	size_t i;
	int err = 0;

	if (fd < 0)
		return -errno;
	zram_fd = fd;
	for (i = 0; i < nr && !err; i++)
		if (pwrite(fd, pages + i * 4096, 4096, (off_t)i * 4096) != 4096)
			err = -errno ? -errno : -EIO;
	if (!err && fsync(fd))
		err = -errno;
	zram_fd = -1;
	close(fd);
	return err;
}

int zram_anchor_run(const unsigned char *pages, size_t nr,
		    struct zram_result *out, const char **why)
{
	struct sigaction old[NR_FATAL];
	uint64_t init, mm[9];
	char size[32];
	struct stat st;
	double t0;
	int err;

	if (stat(ZRAM_DEV, &st) || !S_ISBLK(st.st_mode)) {
		*why = ZRAM_DEV " is missing";
		return -ENODEV;
	}
	if (sys_read_u64s("initstate", &init, 1) || init != 0) {
		*why = ZRAM_DEV " is in use (initstate != 0)";
		return -EBUSY;
	}
	handlers_set(old);
	err = sys_write("comp_algorithm", "lz4");
	if (err) {
		*why = "cannot select lz4 on " ZRAM_DEV;
		goto err_reset;
	}
	snprintf(size, sizeof(size), "%zu", nr * 4096);
	err = sys_write("disksize", size);
	if (err) {
		*why = "cannot set the disksize of " ZRAM_DEV;
		goto err_reset;
	}
	t0 = now();
	err = pages_write(pages, nr);
	out->seconds = now() - t0;
	if (err) {
		*why = "writing " ZRAM_DEV " failed";
		goto err_reset;
	}
	err = sys_read_u64s("mm_stat", mm, 9);
	if (err) {
		*why = "cannot read mm_stat";
		goto err_reset;
	}
	out->orig_data_size = mm[0];
	out->compr_data_size = mm[1];
	out->mem_used_total = mm[2];
	out->same_pages = mm[5];
	out->huge_pages = mm[7];
err_reset:
	zram_reset();
	handlers_restore(old);
	return err;
}
