/*
 * kzram_anchor.c - the same pages through kernel zram (/dev/zram0, lz4):
 * O_DIRECT 4 KiB writes and reads, the anchor for speed and memory.
 *
 * Claiming the device (only when unused) and resetting it on every way out
 * is tools/kzram's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "kzram.h"

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
	double bytes = (double)r->p->count * PAGE / 1e6;
	uint64_t mm[9];
	double t, cpu;
	int err;

	/* the kernel compresses in our threads: system time, counted */
	t = threads_run(r->threads, kz_write, r, &cpu);
	res->write_mbs = bytes / t;
	res->write_cpu_mbs = bytes / cpu;
	t = threads_run(r->threads, kz_read, r, &cpu);
	res->read_mbs = bytes / t;
	res->read_cpu_mbs = bytes / cpu;
	err = kzram_mm_stat(mm);
	if (err)
		return err;
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
	const char *why = "";
	int err;

	err = kzram_claim("lz4", (uint64_t)p->count * PAGE, &why);
	if (err == -ENODEV || err == -EBUSY) {
		fprintf(stderr, "kernel zram: %s, skipped\n", why);
		return 1;
	}
	if (err) {
		fprintf(stderr, "kernel zram: %s: %s\n", why, strerror(-err));
		return -1;
	}
	memset(res, 0, sizeof(*res));
	snprintf(res->what, sizeof(res->what), "kernel-zram");
	snprintf(res->codec, sizeof(res->codec), "lz4");
	res->threads = threads;
	r.fd = kzram_open(O_RDWR | O_DIRECT);
	if (r.fd < 0) {
		err = r.fd;
	} else {
		err = kz_measure(&r, res);
		kzram_close(r.fd);
	}
	kzram_release();
	if (err)
		fprintf(stderr, "kernel zram: %s\n", strerror(-err));
	return err ? -1 : 0;
}
