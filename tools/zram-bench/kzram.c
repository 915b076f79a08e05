/*
 * kzram.c - the same pages through kernel zram (/dev/zram0, lz4), O_DIRECT
 * 4 KiB writes and reads, as the anchor for speed and memory.
 *
 * Used only when /sys/block/zram0/initstate is 0 (nobody uses it). Once we
 * set it up, `1 > reset` runs on every way out: normal return, error paths,
 * exit() (atexit) and SIGINT/SIGTERM/SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define SYS "/sys/block/zram0/"

static volatile sig_atomic_t kzram_armed;
static volatile sig_atomic_t kzram_fd = -1; /* open device, closed first */

static int sys_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYS "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static int sys_read(const char *name, char *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

/* Async-signal-safe: open/write/close only. */
static void kzram_reset(void)
{
	int fd;

	if (!kzram_armed)
		return;
	/* zram refuses reset while the device is open */
	if (kzram_fd >= 0) {
		close(kzram_fd);
		kzram_fd = -1;
	}
	fd = open(SYS "reset", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) == 1)
			kzram_armed = 0;
		close(fd);
	}
}

static void kzram_signal(int sig)
{
	kzram_reset();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void kzram_hooks(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	atexit(kzram_reset);
	signal(SIGINT, kzram_signal);
	signal(SIGTERM, kzram_signal);
	signal(SIGHUP, kzram_signal);
}

struct kz_run {
	const struct pages *p;
	int fd;
	int threads;
	_Atomic long errors;
};

static void kz_write(void *arg, int i)
{
	struct kz_run *r = arg;
	size_t from = r->p->count * (size_t)i / (size_t)r->threads;
	size_t to = r->p->count * (size_t)(i + 1) / (size_t)r->threads, k;

	for (k = from; k < to; k++)
		if (pwrite(r->fd, r->p->data + k * PAGE, PAGE,
			   (off_t)(k * PAGE)) != PAGE)
			r->errors++;
}

static void kz_read(void *arg, int i)
{
	struct kz_run *r = arg;
	size_t from = r->p->count * (size_t)i / (size_t)r->threads;
	size_t to = r->p->count * (size_t)(i + 1) / (size_t)r->threads, k;
	unsigned char *buf = aligned_alloc(PAGE, PAGE);

	for (k = from; buf && k < to; k++)
		if (pread(r->fd, buf, PAGE, (off_t)(k * PAGE)) != PAGE ||
		    memcmp(buf, r->p->data + k * PAGE, PAGE))
			r->errors++;
	free(buf);
}

static int kz_measure(struct kz_run *r, struct result *res)
{
	unsigned long long mm[9] = {0};
	char line[256];
	double t;

	t = threads_run(r->threads, kz_write, r);
	res->write_mbs = (double)r->p->count * PAGE / 1e6 / t;
	t = threads_run(r->threads, kz_read, r);
	res->read_mbs = (double)r->p->count * PAGE / 1e6 / t;
	if (sys_read("mm_stat", line, sizeof(line)) ||
	    sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu", &mm[0],
		   &mm[1], &mm[2], &mm[3], &mm[4], &mm[5], &mm[6], &mm[7]) != 8)
		return -EIO;
	res->orig = mm[0];
	res->compr = mm[1];
	res->mem = mm[2];
	res->same = mm[5];
	res->huge = mm[7];
	res->verified = !r->errors;
	return 0;
}

int kzram_bench(const struct pages *p, int threads, struct result *res)
{
	struct kz_run r = {.p = p, .threads = threads, .fd = -1};
	char buf[64];
	int err;

	if (sys_read("initstate", buf, sizeof(buf))) {
		fprintf(stderr, "kernel zram: no /dev/zram0, skipped\n");
		return 1;
	}
	if (strcmp(buf, "0\n")) {
		fprintf(stderr, "kernel zram: zram0 in use, skipped\n");
		return 1;
	}
	memset(res, 0, sizeof(*res));
	snprintf(res->what, sizeof(res->what), "kernel-zram");
	snprintf(res->codec, sizeof(res->codec), "lz4");
	res->threads = threads;
	kzram_hooks();
	kzram_armed = 1;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)p->count * PAGE);
	err = sys_write("comp_algorithm", "lz4");
	if (!err)
		err = sys_write("disksize", buf);
	if (err)
		goto out_reset;
	r.fd = open("/dev/zram0", O_RDWR | O_DIRECT | O_CLOEXEC);
	if (r.fd < 0) {
		err = -errno;
		goto out_reset;
	}
	kzram_fd = r.fd;
	err = kz_measure(&r, res);
	kzram_fd = -1;
	close(r.fd);
out_reset:
	kzram_reset();
	if (err)
		fprintf(stderr, "kernel zram: %s\n", strerror(-err));
	return err ? -1 : 0;
}
