/*
 * ops.c - the FUSE lowlevel operations: a flat directory holding disk.img
 * and the store's attribute files, and the I/O paths of disk.img.
 *
 * disk.img is a fixed-size regular file whose bytes live in the store.
 * - It is opened with direct_io and never kernel_cache: the kernel keeps no
 *   page-cache copy of the uncompressed data, and every read and write
 *   reaches zram_read() / zram_write() at its own offset and length.
 *   FOPEN_PARALLEL_DIRECT_WRITES lets writers of different pages run at
 *   once (the store locks each page; docs/daemon.md "Why direct_io").
 * - Reads past the end are short (0 at or past it), as for any file.
 *   Writes that start at or past the end fail with ENOSPC, as on a block
 *   device; a write that crosses the end is cut short at it.
 * - The size changes only by an online resize: truncate(2) to a multiple
 *   of 4 KiB, or a write to the disksize file, calls zram_resize() (a
 *   shrink over data is EBUSY; see src/zram/resize.c). The size is read
 *   from the store on every use, never cached here; after a resize
 *   through disksize the kernel's cached attributes of disk.img are
 *   invalidated (ctlfiles.c), so `losetup -c` sees the new size. O_TRUNC
 *   is EPERM (it would mean size 0); chmod, chown and utimes are EPERM.
 * - fallocate: PUNCH_HOLE|KEEP_SIZE frees pages (zram_discard), ZERO_RANGE
 *   zeroes them without memory (zram_write_zeroes), plain allocation inside
 *   the file succeeds at once (everything is always "allocated"); any
 *   other mode is EOPNOTSUPP. fsync and flush succeed: nothing is buffered.
 * - open/release count users (zram_open_get/put), so `reset` is EBUSY
 *   while disk.img is open, as zram refuses it while the device is open,
 *   and an open while a reset runs is EBUSY, as for /dev/zramN.
 *
 * Reads decompress into a reply buffer owned by the calling worker thread
 * (struct uzram_daemon, buf_key): one allocation per thread, none per
 * request. Writes pass libfuse's request buffer straight to the store, so
 * the data is copied once, into the pool. No lock is taken here at all.
 *
 * Errors come back from the store as -errno and are turned into the reply
 * once, at the end of each op.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fuse.h> /* FOPEN_PARALLEL_DIRECT_WRITES */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "daemon.h"

static struct uzram_daemon *req_daemon(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* disk.img exists unless the mount shows the control files only. */
static bool ino_is_disk(const struct uzram_daemon *d, fuse_ino_t ino)
{
	return ino == UZRAM_INO_DISK && !d->controls_only;
}

bool uzram_ino_is_disk(const struct uzram_daemon *d, uint64_t ino)
{
	return ino_is_disk(d, (fuse_ino_t)ino);
}

/* The disk's size now: a resize may change it between two requests. */
static uint64_t disk_size(const struct uzram_daemon *d)
{
	return zram_disksize(d->zram);
}

/* The attribute behind @ino, or NULL if @ino is not an attribute file. */
static const struct zram_attr *ino_attr(const struct uzram_daemon *d,
					fuse_ino_t ino)
{
	if (ino < UZRAM_INO_ATTR0 || ino - UZRAM_INO_ATTR0 >= d->nr_attrs)
		return NULL;
	return &d->attrs[ino - UZRAM_INO_ATTR0];
}

/* Fill @st for @ino. Returns 0 or -ENOENT. */
static int ino_stat(const struct uzram_daemon *d, fuse_ino_t ino,
		    struct stat *st)
{
	const struct zram_attr *attr = ino_attr(d, ino);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = d->uid;
	st->st_gid = d->gid;
	st->st_nlink = 1;
	st->st_blksize = ZRAM_PAGE_SIZE;
	st->st_atime = d->started;
	st->st_mtime = d->started;
	st->st_ctime = d->started;
	if (ino == UZRAM_INO_ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (ino_is_disk(d, ino)) {
		uint64_t size = disk_size(d);

		st->st_mode = S_IFREG | 0600;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)(size / 512);
	} else if (attr) {
		st->st_mode = S_IFREG | (attr->mode & 0777);
		/*
		 * Size 0, as procfs: the length is known only once show()
		 * runs at open, and tools that trust st_size (tail, less)
		 * then read to EOF instead of stopping at a made-up size.
		 */
		st->st_size = 0;
	} else {
		return -ENOENT;
	}
	return 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* 1 MiB requests arrive whole; libfuse derives max_pages from this */
	conn->max_write = UZRAM_MAX_IO;
	conn->max_read = UZRAM_MAX_IO; /* must match -o max_read (session.c) */
	/* let the kernel send a direct-I/O request's pieces in parallel */
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	/*
	 * The loop device's direct I/O reaches us as background requests.
	 * With the kernel's default of 12 in flight, deeper queues make the
	 * submitter sleep and every reply wake it: a context switch per
	 * request. 64 keeps a 2 x 16 deep queue flowing (random 4 KiB reads
	 * +20 % IOPS, writes +15 %). congestion_threshold only matters to
	 * page-cache writeback, which direct_io never does.
	 */
	conn->max_background = UZRAM_MAX_BACKGROUND;
	conn->congestion_threshold = UZRAM_MAX_BACKGROUND * 3 / 4;
	/* nothing is cached, so there is nothing to write back */
	conn->want &= ~(unsigned int)FUSE_CAP_WRITEBACK_CACHE;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct uzram_daemon *d = req_daemon(req);
	struct fuse_entry_param e;
	fuse_ino_t ino = 0;
	size_t i;

	if (parent != UZRAM_INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!d->controls_only && !strcmp(name, UZRAM_DISK_NAME))
		ino = UZRAM_INO_DISK;
	for (i = 0; !ino && i < d->nr_attrs; i++)
		if (!strcmp(name, d->attrs[i].name))
			ino = UZRAM_INO_ATTR0 + i;
	memset(&e, 0, sizeof(e));
	if (!ino || ino_stat(d, ino, &e.attr)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.ino = ino;
	e.attr_timeout = UZRAM_ATTR_TIMEOUT;
	e.entry_timeout = UZRAM_ATTR_TIMEOUT;
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int ret;

	(void)fi;
	ret = ino_stat(req_daemon(req), ino, &st);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, UZRAM_ATTR_TIMEOUT);
}

#define SETATTR_TIMES                                                          \
	(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | \
	 FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)

/*
 * A size on disk.img is an online resize (a multiple of 4 KiB, more than
 * 0; shrinking over data is EBUSY); any size on an attribute file is
 * accepted and ignored, so that `echo 1 > compact` (O_TRUNC without
 * atomic_o_trunc) works. The times that truncate(2) sets along with the
 * size are ignored; mode, owner and times on their own are refused.
 */
static int setattr_apply(struct uzram_daemon *d, fuse_ino_t ino,
			 const struct stat *attr, int to_set)
{
	uint64_t size = (uint64_t)attr->st_size;

	if (to_set & ~(FUSE_SET_ATTR_SIZE | SETATTR_TIMES))
		return -EPERM;
	if ((to_set & SETATTR_TIMES) && !(to_set & FUSE_SET_ATTR_SIZE))
		return -EPERM;
	if (!(to_set & FUSE_SET_ATTR_SIZE))
		return 0;
	if (ino == UZRAM_INO_ROOT)
		return -EISDIR;
	if (!ino_is_disk(d, ino) || size == disk_size(d))
		return 0;
	if (attr->st_size <= 0 || size % ZRAM_PAGE_SIZE)
		return -EINVAL;
	return zram_resize(d->zram, size);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);
	struct stat st;
	int ret;

	(void)fi;
	ret = ino_stat(d, ino, &st);
	if (!ret)
		ret = setattr_apply(d, ino, attr, to_set);
	if (!ret)
		ret = ino_stat(d, ino, &st); /* the size may have changed */
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, UZRAM_ATTR_TIMEOUT);
}

struct dirbuf {
	char *p;
	size_t size;
	int err;
};

static void dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name,
		       fuse_ino_t ino)
{
	size_t old = b->size;
	struct stat st;
	char *p;

	if (b->err)
		return;
	b->size += fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	p = realloc(b->p, b->size);
	if (!p) {
		b->err = ENOMEM;
		return;
	}
	b->p = p;
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	fuse_add_direntry(req, b->p + old, b->size - old, name, &st,
			  (off_t)b->size);
}

/* A listing is small (a few dozen names): build it whole on each call. */
static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);
	struct dirbuf b = {NULL, 0, 0};
	size_t i;

	(void)fi;
	if (ino != UZRAM_INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	dirbuf_add(req, &b, ".", UZRAM_INO_ROOT);
	dirbuf_add(req, &b, "..", UZRAM_INO_ROOT);
	if (!d->controls_only)
		dirbuf_add(req, &b, UZRAM_DISK_NAME, UZRAM_INO_DISK);
	for (i = 0; i < d->nr_attrs; i++)
		dirbuf_add(req, &b, d->attrs[i].name, UZRAM_INO_ATTR0 + i);
	if (b.err)
		fuse_reply_err(req, b.err);
	else if (off < 0 || (size_t)off >= b.size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, b.p + off,
			       b.size - (size_t)off < size
				       ? b.size - (size_t)off
				       : size);
	free(b.p);
}

static void disk_open(fuse_req_t req, struct uzram_daemon *d,
		      struct fuse_file_info *fi)
{
	if (fi->flags & O_TRUNC) {
		fuse_reply_err(req, EPERM); /* the size is fixed */
		return;
	}
	if (zram_open_get(d->zram)) {
		fuse_reply_err(req, EBUSY); /* a reset is running */
		return;
	}
	fi->direct_io = 1; /* no uncompressed copy in the page cache */
	fi->keep_cache = 0;
	fi->noflush = 1; /* nothing to flush on close(2) */
	/*
	 * Any failed reply (interrupted: -ENOENT; connection gone, ...) means
	 * the kernel has no open file, so no release will follow.
	 */
	if (uzram_reply_open(req, fi, FOPEN_PARALLEL_DIRECT_WRITES))
		zram_open_put(d->zram);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);
	const struct zram_attr *attr = ino_attr(d, ino);

	if (ino_is_disk(d, ino))
		disk_open(req, d, fi);
	else if (attr)
		uzram_ctl_open(req, d, attr, fi);
	else
		fuse_reply_err(req, ino == UZRAM_INO_ROOT ? EISDIR : ENOENT);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);

	if (ino_is_disk(d, ino)) {
		zram_open_put(d->zram);
		if (!zram_open_count(d->zram))
			uzram_stop_rearm(d); /* a refused stop is forgotten */
		fuse_reply_err(req, 0);
	} else {
		uzram_ctl_release(req, d, fi);
	}
}

void uzram_worker_buf_drop(struct uzram_daemon *d)
{
	char *buf = pthread_getspecific(d->buf_key);

	if (buf && !pthread_setspecific(d->buf_key, NULL))
		free(buf);
}

char *uzram_worker_buf(struct uzram_daemon *d)
{
	char *buf = pthread_getspecific(d->buf_key);

	if (buf)
		return buf;
	buf = malloc(d->buf_size);
	if (buf && pthread_setspecific(d->buf_key, buf)) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

ssize_t uzram_disk_read(struct uzram_daemon *d, char *buf, size_t size,
			int64_t off, unsigned int flags)
{
	if (off < 0 || (uint64_t)off >= disk_size(d))
		return 0;
	if (size > d->buf_size) /* not with max_read = max_pages = 1 MiB */
		size = d->buf_size;
	return zram_read_flags(d->zram, buf, size, (uint64_t)off, flags);
}

static void disk_read(fuse_req_t req, struct uzram_daemon *d, size_t size,
		      off_t off)
{
	char *buf = uzram_worker_buf(d);
	ssize_t n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = uzram_disk_read(d, buf, size, off, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);

	if (ino_is_disk(d, ino))
		disk_read(req, d, size, off);
	else
		uzram_ctl_read(req, d, size, off, fi);
}

ssize_t uzram_disk_write(struct uzram_daemon *d, const char *buf, size_t size,
			 int64_t off, unsigned int flags)
{
	uint64_t end = disk_size(d);

	if (off < 0)
		return -EINVAL;
	if (!size)
		return 0;
	/* at or past the end: the store refuses it and counts invalid_io */
	if ((uint64_t)off < end && size > end - (uint64_t)off)
		size = (size_t)(end - (uint64_t)off);
	return zram_write_flags(d->zram, buf, size, (uint64_t)off, flags);
}

static void disk_write(fuse_req_t req, struct uzram_daemon *d, const char *buf,
		       size_t size, off_t off)
{
	ssize_t n = uzram_disk_write(d, buf, size, off, 0);

	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);

	if (ino_is_disk(d, ino))
		disk_write(req, d, buf, size, off);
	else
		uzram_ctl_write(req, d, buf, size, fi);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);

	(void)datasync;
	(void)fi;
	fuse_reply_err(req, ino_is_disk(d, ino) ? -zram_flush(d->zram) : 0);
}

/*
 * Clip [@off, @off + *@len) to the disk. Returns 1 if something is left,
 * 0 if the range lies past the end and KEEP_SIZE allows ignoring that,
 * -ENOSPC if it would have to grow the file.
 */
static int falloc_clip(const struct uzram_daemon *d, int mode, off_t off,
		       off_t *len)
{
	uint64_t end = (uint64_t)off + (uint64_t)*len, size = disk_size(d);

	if (end <= size)
		return 1;
	if (!(mode & FALLOC_FL_KEEP_SIZE))
		return -ENOSPC;
	if ((uint64_t)off >= size)
		return 0;
	*len = (off_t)(size - (uint64_t)off);
	return 1;
}

static int disk_fallocate(struct uzram_daemon *d, int mode, off_t off,
			  off_t len)
{
	int ret;

	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((uint64_t)off + (uint64_t)len < (uint64_t)off)
		return -EFBIG;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    ((mode & FALLOC_FL_ZERO_RANGE) || !(mode & FALLOC_FL_KEEP_SIZE)))
		return -EOPNOTSUPP; /* as fallocate(2) demands */
	ret = falloc_clip(d, mode, off, &len);
	if (ret <= 0)
		return ret;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		return zram_discard(d->zram, (uint64_t)off, (uint64_t)len);
	if (mode & FALLOC_FL_ZERO_RANGE)
		return zram_write_zeroes(d->zram, (uint64_t)off, (uint64_t)len);
	return 0; /* every byte of the disk is always there */
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	struct uzram_daemon *d = req_daemon(req);

	(void)fi;
	if (!ino_is_disk(d, ino))
		fuse_reply_err(req, EOPNOTSUPP);
	else
		fuse_reply_err(req, -disk_fallocate(d, mode, off, len));
}

/* df shows the disk: its size, and the pages that hold data as used. */
static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct uzram_daemon *d = req_daemon(req);
	struct zram_stats stats;
	struct statvfs sv;
	uint64_t pages = disk_size(d) / ZRAM_PAGE_SIZE;

	(void)ino;
	zram_stats_get(d->zram, &stats);
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = ZRAM_PAGE_SIZE;
	sv.f_frsize = ZRAM_PAGE_SIZE;
	sv.f_blocks = pages;
	sv.f_bfree =
		stats.pages_stored < pages ? pages - stats.pages_stored : 0;
	sv.f_bavail = sv.f_bfree;
	sv.f_files = UZRAM_INO_ATTR0 + d->nr_attrs - 1;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* The directory is fixed: nothing may be created, renamed or removed. */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EPERM);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EPERM);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EPERM);
}

static void op_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

const struct fuse_lowlevel_ops uzram_ll_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.release = op_release,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.statfs = op_statfs,
	.create = op_create,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_remove,
	.rmdir = op_remove,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
};
