/*
 * disk.c - find uzram disks and read their stats.
 *
 * A uzram disk is a mount of type fuse.uzram in /proc/mounts; its image is
 * MOUNTPOINT/disk.img. Its loop devices are found through
 * /sys/block/loopN/loop/backing_file, which the kernel fills with the
 * image's path as seen when it was attached. Every stat is read fresh from
 * the mount's files; nothing is cached between calls.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "uzramctl.h"

ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Strip trailing whitespace in place. */
static void line_chomp(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static void disk_init(struct disk *d, const char *mountpoint)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->mountpoint, sizeof(d->mountpoint), "%s", mountpoint);
	snprintf(d->image, sizeof(d->image), "%s/%s",
		 strcmp(mountpoint, "/") ? mountpoint : "", UZRAM_IMAGE);
}

int disks_list(struct disk **out)
{
	struct disk *v = NULL, *nv;
	struct mntent *m;
	int n = 0, cap = 0;
	FILE *f;

	f = setmntent("/proc/mounts", "r");
	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, UZRAM_FSTYPE))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv)
				goto err_nomem;
			v = nv;
		}
		disk_init(&v[n], m->mnt_dir);
		disk_find_loop(v[n].image, v[n].loopdev, sizeof(v[n].loopdev));
		n++;
	}
	endmntent(f);
	*out = v;
	return n;
err_nomem:
	endmntent(f);
	free(v);
	return -ENOMEM;
}

/* The loop number of "loopN", or -1. */
static long loop_number(const char *name)
{
	char *end;
	long v;

	if (strncmp(name, "loop", 4) || !isdigit((unsigned char)name[4]))
		return -1;
	v = strtol(name + 4, &end, 10);
	return *end ? -1 : v;
}

static int loop_backing(const char *sysdir, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/loop/backing_file", sysdir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	n = read_file(path, buf, size);
	if (n < 0)
		return (int)n;
	line_chomp(buf);
	return 0;
}

static int loop_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int disk_loops(const char *image, long *nums, int max)
{
	char sysdir[PATH_MAX], back[PATH_MAX];
	struct dirent *e;
	int n = 0;
	long num;
	DIR *dir;

	dir = opendir("/sys/block");
	if (!dir)
		return -errno;
	while ((e = readdir(dir)) && n < max) {
		num = loop_number(e->d_name);
		if (num < 0)
			continue;
		if (snprintf(sysdir, sizeof(sysdir), "/sys/block/%s",
			     e->d_name) >= (int)sizeof(sysdir))
			continue;
		if (loop_backing(sysdir, back, sizeof(back)))
			continue;
		if (!strcmp(back, image))
			nums[n++] = num;
	}
	closedir(dir);
	qsort(nums, (size_t)n, sizeof(*nums), loop_cmp);
	return n;
}

int disk_find_loop(const char *image, char *dev, size_t size)
{
	long nums[64];

	dev[0] = '\0';
	if (disk_loops(image, nums, 64) < 1)
		return -ENOENT;
	snprintf(dev, size, "/dev/loop%ld", nums[0]);
	return 0;
}

/* Find the mounted disk whose mountpoint (or image) equals @path. */
static int disk_match(const char *path, bool image, struct disk *d)
{
	struct disk *v;
	int n, i, ret = -ENOENT;

	n = disks_list(&v);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (strcmp(image ? v[i].image : v[i].mountpoint, path))
			continue;
		*d = v[i];
		ret = 0;
		break;
	}
	free(v);
	return ret;
}

static int resolve_blockdev(const char *arg, const struct stat *st,
			    struct disk *d)
{
	char sysdir[PATH_MAX], back[PATH_MAX];

	snprintf(sysdir, sizeof(sysdir), "/sys/dev/block/%u:%u",
		 major(st->st_rdev), minor(st->st_rdev));
	if (loop_backing(sysdir, back, sizeof(back))) {
		fprintf(stderr,
			"uzramctl: %s: not a loop device on a uzram disk\n",
			arg);
		return -1;
	}
	if (disk_match(back, true, d)) {
		fprintf(stderr,
			"uzramctl: %s: not a uzram disk (backing file %s)\n",
			arg, back);
		return -1;
	}
	if (realpath(arg, back) && strlen(back) < sizeof(d->loopdev))
		strcpy(d->loopdev, back);
	return 0;
}

int disk_resolve(const char *arg, struct disk *d)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(arg, &st)) {
		fprintf(stderr, "uzramctl: %s: %s\n", arg, strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode))
		return resolve_blockdev(arg, &st, d);
	if (!realpath(arg, path)) {
		fprintf(stderr, "uzramctl: %s: %s\n", arg, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode) && !disk_match(path, false, d))
		return 0;
	if (S_ISREG(st.st_mode) && !disk_match(path, true, d))
		return 0;
	fprintf(stderr, "uzramctl: %s: not a uzram mount point or device\n",
		arg);
	return -1;
}

/* The bracketed name of "lz4 [zstd] lz4hc" into @out. */
static int algorithm_parse(const char *s, char *out, size_t size)
{
	const char *b = strchr(s, '['), *e;

	if (!b || !(e = strchr(b, ']')))
		return -EINVAL;
	snprintf(out, size, "%.*s", (int)(e - b - 1), b + 1);
	return 0;
}

/* The number after "\"@key\":" in a stats.json text, into @out. */
static int json_u64(const char *json, const char *key, uint64_t *out)
{
	char pat[64];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (!p)
		return -ENOENT;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	errno = 0;
	*out = strtoull(p, &end, 10);
	return end == p || errno ? -EINVAL : 0;
}

static int mm_stat_parse(const char *s, uint64_t *mm)
{
	char *end;
	int i;

	for (i = 0; i < MM_COLS; i++) {
		errno = 0;
		mm[i] = strtoull(s, &end, 10);
		if (end == s || errno)
			return -EINVAL;
		s = end;
	}
	return 0;
}

static int disk_file(const struct disk *d, const char *name, char *buf,
		     size_t size)
{
	char path[PATH_MAX + 32];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", d->mountpoint, name);
	n = read_file(path, buf, size);
	return n < 0 ? (int)n : 0;
}

int disk_read(struct disk *d)
{
	static const size_t json_max = 16384;
	char buf[512], *json;
	struct stat st;
	int ret;

	ret = disk_file(d, "mm_stat", buf, sizeof(buf));
	if (!ret)
		ret = mm_stat_parse(buf, d->mm);
	if (ret)
		return ret;
	if (!disk_file(d, "comp_algorithm", buf, sizeof(buf)))
		algorithm_parse(buf, d->algorithm, sizeof(d->algorithm));
	if (!disk_file(d, "disksize", buf, sizeof(buf)))
		d->disksize = strtoull(buf, NULL, 10);
	else if (!stat(d->image, &st))
		d->disksize = (uint64_t)st.st_size;
	json = malloc(json_max);
	if (!json)
		return -ENOMEM;
	if (!disk_file(d, "stats.json", json, json_max)) {
		json_u64(json, "threads", &d->threads);
		json_u64(json, "idle_pages", &d->idle_pages);
		json_u64(json, "dup_data_size", &d->dup_data_size);
		json_u64(json, "grouped_pages", &d->grouped_pages);
		json_u64(json, "bd_count", &d->wb_pages);
		json_u64(json, "backing_bytes", &d->backing_bytes);
		json_u64(json, "backing_used", &d->backing_used);
	}
	free(json);
	return 0;
}
