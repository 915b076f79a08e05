/*
 * uzramctl.h - shared declarations of uzramctl, zramctl for uzram.
 *
 * uzramctl knows nothing of uzram's libraries: a disk is what its mount
 * shows (mm_stat, comp_algorithm, disksize, stats.json, the control files)
 * plus the loop devices whose backing file is its disk.img.
 */
#ifndef UZRAMCTL_H
#define UZRAMCTL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define UZRAMCTL_VERSION "0.1.0"
#define UZRAM_FSTYPE "fuse.uzram"
#define UZRAM_IMAGE "disk.img"

/* mm_stat columns, in the file's order. */
enum mm_col {
	MM_ORIG_DATA_SIZE,
	MM_COMPR_DATA_SIZE,
	MM_MEM_USED_TOTAL,
	MM_MEM_LIMIT,
	MM_MEM_USED_MAX,
	MM_SAME_PAGES,
	MM_PAGES_COMPACTED,
	MM_HUGE_PAGES,
	MM_HUGE_PAGES_SINCE,
	MM_COLS
};

/* One mounted uzram disk, as read from its mount. */
struct disk {
	char mountpoint[PATH_MAX];
	char image[PATH_MAX]; /* mountpoint/disk.img */
	char loopdev[64];     /* first loop device on the image, or "" */
	char algorithm[32];   /* the bracketed entry of comp_algorithm */
	uint64_t disksize;
	uint64_t mm[MM_COLS];
	uint64_t threads; /* stats.json "threads" */
	uint64_t idle_pages;
	uint64_t dup_data_size; /* stats.json; 0 without dedup */
	uint64_t grouped_pages; /* stats.json; 0 without group= */
	uint64_t wb_pages;	/* stats.json "bd_count" */
	uint64_t backing_bytes; /* object bytes on the backing store */
	uint64_t backing_used;	/* backing blocks in use, bytes */
};

/* disk.c */

/*
 * disks_list - every mounted uzram disk, in /proc/mounts order.
 * Returns the count (>= 0) with *@out malloc'ed (free it), or -errno.
 */
int disks_list(struct disk **out);

/*
 * disk_resolve - the disk named by @arg: its mountpoint, its disk.img, or a
 * loop device backed by its disk.img. Fills @d->mountpoint, @d->image and
 * @d->loopdev. Returns 0, or -1 after printing one error line.
 */
int disk_resolve(const char *arg, struct disk *d);

/* disk_read - read the stats of @d (mountpoint and image set). 0 or -errno */
int disk_read(struct disk *d);

/*
 * disk_loops - numbers N of the /dev/loopN backed by @image, ascending, at
 * most @max. Returns the count or -errno.
 */
int disk_loops(const char *image, long *nums, int max);

/* disk_find_loop - first loop device backed by @image into @dev; 0/-ENOENT */
int disk_find_loop(const char *image, char *dev, size_t size);

/* table.c */
struct table_opts {
	bool bytes;
	bool noheadings;
	bool raw;
	bool json;
	int cols[32]; /* column ids, in output order */
	int ncols;
};

/* table_set_columns - parse -o LIST (a leading '+' extends the defaults). */
int table_set_columns(struct table_opts *o, const char *list);
void table_default_columns(struct table_opts *o);
void table_all_columns(struct table_opts *o);
void table_print(FILE *f, const struct table_opts *o, const struct disk *d,
		 int n);
void table_help_columns(FILE *f);

/* control.c */
struct setup_opts {
	const char *mountpoint;
	const char *size;
	const char *algorithm;
	const char *algo_params;
	const char *mem_limit;
	const char *threads;
};

int ctl_setup(const struct setup_opts *o);
int ctl_resize(const char *arg, const char *size);

/* updown.c: --up NAME (config from @confdir, NULL: $UZRAM_CONF_DIR or
 * /etc/uzram) and --down NAME. 0, or -1 after one error line. */
int ctl_up(const char *name, const char *confdir);
int ctl_down(const char *name);
int ctl_reset(const char *arg);
int ctl_compact(const char *arg);
int ctl_mem_limit(const char *arg, const char *size);
/* Write a snapshot of disk @arg to @file (the save control file), fsync'ed
 * unless !@sync ("FILE sync=0"). */
int ctl_save(const char *arg, const char *file, bool sync);

/*
 * parse_size - "4G", "512M", "4096" (K/M/G/T/P, optional iB/B) into bytes.
 * Returns 0 or -EINVAL.
 */
int parse_size(const char *s, uint64_t *out);

/*
 * cmd_run - run @argv (fork/exec, no shell); with @out, its stdout
 * (trimmed) goes there. Returns the exit status, or -1 if it could not run
 * (after printing why).
 */
int cmd_run(char *const argv[], char *out, size_t size);

/* daemon_path - the daemon: $UZRAM_BIN, next to us, in our build tree,
 * else "uzram" on PATH. */
void daemon_path(char *out, size_t size);

/* path_is_mount - is @path a mount point (in /proc/mounts)? */
bool path_is_mount(const char *path);

/* fuse_unmount - fusermount3 -u, retried for a moment. 0 or non-zero. */
int fuse_unmount(const char *mountpoint);

/* read_file - read a small file whole, NUL-terminated. Length or -errno. */
ssize_t read_file(const char *path, char *buf, size_t size);

#endif
