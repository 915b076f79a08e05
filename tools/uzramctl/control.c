/*
 * control.c - the commands that change things: --setup, --reset, --compact,
 * --mem-limit and --resize.
 *
 * --setup starts the daemon (which returns once mounted) and attaches a
 * loop device with direct I/O; if a later step fails, the earlier ones are
 * undone, so a failed setup leaves nothing behind. --reset refuses while a
 * loop device of the disk is claimed (mounted, or open O_EXCL), before it
 * changes anything. External programs (uzram, losetup, fusermount3) are run
 * with fork/exec, never through a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <mntent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uzramctl.h"

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	const char *u;
	uint64_t v;
	char *end;
	int shift;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	u = strchr(units, *end >= 'a' ? *end - 'a' + 'A' : *end);
	if (!u || !*end)
		return -EINVAL;
	shift = 10 * (int)(u - units + 1);
	end++;
	if (!strcmp(end, "iB") || !strcmp(end, "B"))
		end += strlen(end);
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/*
 * Run @argv; with @out, its stdout (trimmed) goes there. Returns the exit
 * status, or -1 if it could not run (after printing why).
 */
int cmd_run(char *const argv[], char *out, size_t size)
{
	int pipefd[2] = {-1, -1}, status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (out && pipe2(pipefd, O_CLOEXEC))
		goto err_sys;
	pid = fork();
	if (pid < 0)
		goto err_close;
	if (pid == 0) {
		if (out && dup2(pipefd[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "uzramctl: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		char drain[4096];

		close(pipefd[1]);
		/*
		 * Read to the end even past @size (the rest is dropped):
		 * closing the pipe early kills a chatty program (mkfs.ext4
		 * without -q) with SIGPIPE half way.
		 */
		for (;;) {
			bool room = len + 1 < size;

			n = read(pipefd[0], room ? out + len : drain,
				 room ? size - 1 - len : sizeof(drain));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (room)
				len += (size_t)n;
		}
		out[len] = '\0';
		while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
			out[--len] = '\0';
		close(pipefd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			goto err_sys;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
err_close:
	if (out) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
err_sys:
	fprintf(stderr, "uzramctl: %s: %s\n", argv[0], strerror(errno));
	return -1;
}

/* The daemon: $UZRAM_BIN, next to us, in our build tree, else on PATH. */
void daemon_path(char *out, size_t size)
{
	static const char *const rel[] = {"uzram", "../../src/fuse/uzram"};
	char self[PATH_MAX], *slash;
	const char *env = getenv("UZRAM_BIN");
	ssize_t n;
	size_t i;

	if (env && *env) {
		snprintf(out, size, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			if (snprintf(out, size, "%s/%s", self, rel[i]) >=
			    (int)size)
				continue;
			if (!access(out, X_OK))
				return;
		}
	}
#ifdef UZRAM_INSTALLED_BIN
	if (!access(UZRAM_INSTALLED_BIN, X_OK)) {
		snprintf(out, size, "%s", UZRAM_INSTALLED_BIN);
		return;
	}
#endif
	snprintf(out, size, "uzram");
}

bool path_is_mount(const char *path)
{
	char real[PATH_MAX];
	struct mntent *m;
	bool found = false;
	FILE *f;

	if (!realpath(path, real))
		return false;
	f = setmntent("/proc/mounts", "r");
	if (!f)
		return false;
	while (!found && (m = getmntent(f)))
		found = !strcmp(m->mnt_dir, real);
	endmntent(f);
	return found;
}

int fuse_unmount(const char *mountpoint)
{
	char *argv[] = {"fusermount3", "-u", (char *)mountpoint, NULL};
	int i, ret = -1;

	/* A loop device that was just detached may hold the file briefly. */
	for (i = 0; i < 20; i++) {
		ret = cmd_run(argv, NULL, 0);
		if (ret == 0 || !path_is_mount(mountpoint))
			return 0;
		usleep(100 * 1000);
	}
	return ret;
}

/* Build the daemon's command line from @o; @argv has room for 16. */
static void setup_argv(const struct setup_opts *o, const char *bin, char **argv)
{
	int n = 0;

	argv[n++] = (char *)bin;
	argv[n++] = (char *)o->mountpoint;
	argv[n++] = "--size";
	argv[n++] = (char *)o->size;
	if (o->algorithm) {
		argv[n++] = "--algo";
		argv[n++] = (char *)o->algorithm;
	}
	if (o->algo_params) {
		argv[n++] = "--algo-params";
		argv[n++] = (char *)o->algo_params;
	}
	if (o->mem_limit) {
		argv[n++] = "--mem-limit";
		argv[n++] = (char *)o->mem_limit;
	}
	if (o->threads) {
		argv[n++] = "--threads";
		argv[n++] = (char *)o->threads;
	}
	argv[n] = NULL;
}

static int setup_check(const struct setup_opts *o, bool *create)
{
	struct stat st;
	uint64_t v;

	if (!o->size || parse_size(o->size, &v) || !v) {
		fprintf(stderr, "uzramctl: --setup needs a valid --size\n");
		return -1;
	}
	if (o->mem_limit && parse_size(o->mem_limit, &v)) {
		fprintf(stderr, "uzramctl: invalid --mem-limit '%s'\n",
			o->mem_limit);
		return -1;
	}
	*create = stat(o->mountpoint, &st) && errno == ENOENT;
	if (!*create && stat(o->mountpoint, &st)) {
		fprintf(stderr, "uzramctl: %s: %s\n", o->mountpoint,
			strerror(errno));
		return -1;
	}
	if (!*create && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "uzramctl: %s: not a directory\n",
			o->mountpoint);
		return -1;
	}
	if (!*create && path_is_mount(o->mountpoint)) {
		fprintf(stderr, "uzramctl: %s: already a mount point\n",
			o->mountpoint);
		return -1;
	}
	return 0;
}

int ctl_setup(const struct setup_opts *o)
{
	char bin[PATH_MAX], dev[128], *argv[16];
	bool create;
	struct disk d;
	int ret;

	if (setup_check(o, &create))
		return -1;
	if (create && mkdir(o->mountpoint, 0755)) {
		fprintf(stderr, "uzramctl: mkdir %s: %s\n", o->mountpoint,
			strerror(errno));
		return -1;
	}
	daemon_path(bin, sizeof(bin));
	setup_argv(o, bin, argv);
	ret = cmd_run(argv, NULL, 0);
	if (ret) {
		if (ret > 0 && ret != 127) /* 127: exec failed, said so */
			fprintf(stderr,
				"uzramctl: %s failed (exit status %d)\n", bin,
				ret);
		goto err_rmdir;
	}
	if (disk_resolve(o->mountpoint, &d))
		goto err_unmount;
	{
		char *lo[] = {"losetup",	"--find", "--show",
			      "--direct-io=on", d.image,  NULL};

		ret = cmd_run(lo, dev, sizeof(dev));
	}
	if (ret || strncmp(dev, "/dev/", 5)) {
		fprintf(stderr, "uzramctl: losetup %s failed\n", d.image);
		goto err_unmount;
	}
	printf("%s\n", dev);
	return 0;
err_unmount:
	fuse_unmount(o->mountpoint);
err_rmdir:
	if (create)
		rmdir(o->mountpoint);
	return -1;
}

/*
 * Open every loop device of @d exclusively: that fails with EBUSY if one is
 * mounted or claimed. Returns the count of fds in @fds, or -1 (all closed).
 */
static int loops_claim(const struct disk *d, int *fds, char (*devs)[64],
		       int max)
{
	long nums[64];
	int n, i;

	n = disk_loops(d->image, nums, max < 64 ? max : 64);
	if (n < 0) {
		fprintf(stderr, "uzramctl: /sys/block: %s\n", strerror(-n));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(devs[i], 64, "/dev/loop%ld", nums[i]);
		fds[i] = open(devs[i], O_RDONLY | O_EXCL | O_CLOEXEC);
		if (fds[i] >= 0)
			continue;
		if (errno == EBUSY)
			fprintf(stderr,
				"uzramctl: %s: busy (mounted or in use); "
				"unmount it before --reset\n",
				devs[i]);
		else
			fprintf(stderr, "uzramctl: %s: %s\n", devs[i],
				strerror(errno));
		while (i--)
			close(fds[i]);
		return -1;
	}
	return n;
}

int ctl_reset(const char *arg)
{
	char devs[64][64];
	int fds[64], n, i, ret = 0;
	struct disk d;

	if (disk_resolve(arg, &d))
		return -1;
	n = loops_claim(&d, fds, devs, 64);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (ioctl(fds[i], LOOP_CLR_FD, 0) && errno != ENXIO) {
			fprintf(stderr, "uzramctl: %s: detach: %s\n", devs[i],
				strerror(errno));
			ret = -1;
		}
		close(fds[i]);
	}
	if (ret)
		return ret;
	if (fuse_unmount(d.mountpoint)) {
		fprintf(stderr,
			"uzramctl: %s: could not unmount (is %s open?)\n",
			d.mountpoint, d.image);
		return -1;
	}
	return 0;
}

/*
 * Write @text to @file of the resolved disk @d. 0, or -errno (said why on
 * stderr if @report).
 */
static int disk_write(const struct disk *d, const char *file, const char *text,
		      bool report)
{
	char path[PATH_MAX + 32];
	size_t len = strlen(text);
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", d->mountpoint, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		goto err;
	n = write(fd, text, len);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		close(fd);
		goto err;
	}
	if (close(fd))
		goto err;
	return 0;
err:
	err = errno;
	if (report)
		fprintf(stderr, "uzramctl: %s: %s\n", path, strerror(err));
	return -err;
}

static int ctl_write(const char *arg, const char *file, const char *text)
{
	struct disk d;

	if (disk_resolve(arg, &d))
		return -1;
	return disk_write(&d, file, text, true) ? -1 : 0;
}

int ctl_compact(const char *arg)
{
	return ctl_write(arg, "compact", "1\n");
}

int ctl_mem_limit(const char *arg, const char *size)
{
	char text[32];
	uint64_t v;

	if (parse_size(size, &v)) {
		fprintf(stderr, "uzramctl: invalid size '%s'\n", size);
		return -1;
	}
	snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	return ctl_write(arg, "mem_limit", text);
}

/* The daemon writes the snapshot, so a relative FILE is made absolute. */
int ctl_save(const char *arg, const char *file, bool sync)
{
	char abs[PATH_MAX], text[PATH_MAX + 16];

	if (file[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", file);
	} else {
		if (!getcwd(abs, sizeof(abs)) ||
		    strlen(abs) + 1 + strlen(file) >= sizeof(abs)) {
			fprintf(stderr, "uzramctl: %s: path too long\n", file);
			return -1;
		}
		strcat(abs, "/");
		strcat(abs, file);
	}
	snprintf(text, sizeof(text), "%s%s\n", abs, sync ? "" : " sync=0");
	return ctl_write(arg, "save", text);
}

/*
 * Wait until the kernel's own copy of @image's size (the inode's i_size,
 * read with AT_STATX_DONT_SYNC) is @size. A plain stat is not enough: the
 * kernel hands the caller the GETATTR reply but drops it from the inode if
 * a write to the file completed while the request was out (FUSE's
 * attr_version check), and LOOP_SET_CAPACITY takes the size from such a
 * reply too. The loop device would then be grown while the kernel still
 * thinks disk.img is small, and FUSE answers its direct reads past the old
 * i_size with 0 bytes, which the loop driver turns into EIO (xfs_growfs
 * reading the new last sector; fio verify). The attributes stay invalid
 * until a reply sticks, so each stat asks the daemon again.
 */
static int image_size_settle(const char *image, uint64_t size)
{
	struct statx stx;
	struct stat st;
	int i;

	for (i = 0; i < 10000; i++) {
		if (stat(image, &st) || (uint64_t)st.st_size != size)
			return -1;
		if (!statx(AT_FDCWD, image, AT_STATX_DONT_SYNC, STATX_SIZE,
			   &stx) &&
		    stx.stx_size == size)
			return 0;
		if (i > 100)
			usleep(1000); /* a busy machine: let the writes go by */
	}
	return -1;
}

/*
 * --resize: write the new size to disksize (the daemon grows or shrinks
 * disk.img online; a shrink over data is EBUSY), then tell every loop
 * device on the image (LOOP_SET_CAPACITY, as `losetup -c`). A file system
 * on it is the user's to grow (resize2fs) or to shrink first.
 */
/* ZRAM_DISKSIZE_MAX of the store (uzramctl links no uzram library) */
#define UZRAM_DISKSIZE_MAX (1ull << 44)

int ctl_resize(const char *arg, const char *size)
{
	char text[32], dev[64];
	struct disk d;
	long nums[64];
	uint64_t v;
	int n, i, fd, ret = 0;

	if (parse_size(size, &v) || !v || v % 4096) {
		fprintf(stderr,
			"uzramctl: invalid size '%s' (a multiple of 4 KiB, "
			"more than 0)\n",
			size);
		return -1;
	}
	if (disk_resolve(arg, &d))
		return -1;
	snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	ret = disk_write(&d, "disksize", text, false);
	if (ret == -EBUSY)
		fprintf(stderr,
			"uzramctl: %s: pages past %s hold data: shrink the "
			"file system and discard them first\n",
			d.mountpoint, size);
	else if (ret == -EINVAL && v > UZRAM_DISKSIZE_MAX)
		/* the store's limit; say it instead of a bare EINVAL */
		fprintf(stderr,
			"uzramctl: invalid size '%s': at most 16T (2^32 pages "
			"of 4 KiB)\n",
			size);
	else if (ret)
		fprintf(stderr, "uzramctl: %s/disksize: %s\n", d.mountpoint,
			strerror(-ret));
	if (ret)
		return -1;
	if (image_size_settle(d.image, v)) {
		fprintf(stderr, "uzramctl: %s: size not updated\n", d.image);
		return -1;
	}
	n = disk_loops(d.image, nums, 64);
	for (i = 0; i < n; i++) {
		snprintf(dev, sizeof(dev), "/dev/loop%ld", nums[i]);
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, LOOP_SET_CAPACITY, 0)) {
			fprintf(stderr, "uzramctl: %s: set capacity: %s\n", dev,
				strerror(errno));
			ret = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	return ret;
}
