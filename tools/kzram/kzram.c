/*
 * kzram.c - borrow kernel zram (/dev/zram0) and give it back on every exit
 * path (see kzram.h). Process-wide state is inherent here: a signal handler
 * has no other way to the device it must reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kzram.h"

#define KZRAM_DEV "/dev/zram0"
#define KZRAM_SYS "/sys/block/zram0/"

static const int fatal_signals[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
				    SIGSEGV, SIGBUS,  SIGABRT};

static volatile sig_atomic_t kzram_armed;   /* claimed, not yet reset */
static volatile sig_atomic_t kzram_fd = -1; /* open device, closed first */

/* Async-signal-safe: open + write + close. */
static int sys_write(const char *attr, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KZRAM_SYS "%s", attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static int sys_read_u64s(const char *attr, uint64_t *v, int n)
{
	char path[128];
	FILE *f;
	int got = 0;

	snprintf(path, sizeof(path), KZRAM_SYS "%s", attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (got < n && fscanf(f, "%" SCNu64, &v[got]) == 1)
		got++;
	fclose(f);
	return got == n ? 0 : -EIO;
}

/*
 * Async-signal-safe. zram refuses reset (EBUSY) while the device is open,
 * and a signal can land while other threads are inside pread/pwrite on it:
 * closing our fd does not end their calls, so retry for up to two seconds
 * while their I/O drains (their next call fails with EBADF).
 */
void kzram_release(void)
{
	struct timespec pause = {0, 10 * 1000 * 1000};
	int tries;

	if (!kzram_armed)
		return;
	if (kzram_fd >= 0) {
		close(kzram_fd);
		kzram_fd = -1;
	}
	for (tries = 0; tries < 200; tries++) {
		if (!sys_write("reset", "1")) {
			kzram_armed = 0;
			return;
		}
		nanosleep(&pause, NULL);
	}
}

static void kzram_signal(int sig)
{
	kzram_release();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void hooks_install(void)
{
	static int done;
	struct sigaction sa;
	size_t i;

	if (done)
		return;
	done = 1;
	atexit(kzram_release);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kzram_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
}

int kzram_claim(const char *algo, uint64_t disksize, const char **why)
{
	char size[32];
	struct stat st;
	uint64_t init;
	int err;

	if (stat(KZRAM_DEV, &st) || !S_ISBLK(st.st_mode)) {
		*why = KZRAM_DEV " is missing";
		return -ENODEV;
	}
	if (sys_read_u64s("initstate", &init, 1) || init != 0) {
		*why = KZRAM_DEV " is in use (initstate != 0)";
		return -EBUSY;
	}
	hooks_install();
	kzram_armed = 1;
	err = sys_write("comp_algorithm", algo);
	if (err) {
		*why = "cannot select the algorithm of " KZRAM_DEV;
		goto err_reset;
	}
	snprintf(size, sizeof(size), "%" PRIu64, disksize);
	err = sys_write("disksize", size);
	if (err) {
		*why = "cannot set the disksize of " KZRAM_DEV;
		goto err_reset;
	}
	return 0;
err_reset:
	kzram_release();
	return err;
}

int kzram_open(int flags)
{
	int fd = open(KZRAM_DEV, flags | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	kzram_fd = fd;
	return fd;
}

void kzram_close(int fd)
{
	kzram_fd = -1;
	close(fd);
}

int kzram_mm_stat(uint64_t mm[9])
{
	return sys_read_u64s("mm_stat", mm, 9);
}
