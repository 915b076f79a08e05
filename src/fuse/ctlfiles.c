/*
 * ctlfiles.c - the control and stat files next to disk.img.
 *
 * Each file is one entry of the store's attribute table (zram_attrs()). As
 * with sysfs, a reader sees one consistent snapshot: open() calls show()
 * once into a buffer that belongs to that open file, and every read() of
 * that open file is served from it, at any offset. A fresh open() sees
 * fresh numbers. Writes are commands: each write(2) is passed whole to
 * store(), which parses all of it or changes nothing, and its error is the
 * write's error (EINVAL for a malformed command, EBUSY for `reset` while
 * disk.img is open, ...).
 *
 * The files are opened with direct_io: their size is not known before
 * show() runs, so getattr reports 4096 (as sysfs does) and direct_io makes
 * the kernel pass every read through instead of stopping at that size or
 * caching a stale copy.
 *
 * No locks: a snapshot is private to its open file, and the store
 * serialises its own attributes. A `compact` write on /dev/fuse is
 * answered later, from the store's compaction thread (compact_async());
 * whoever ends the session drains those replies first
 * (zram_compact_drain()).
 *
 * Memory is capped per mount: with --allow-other any user can open the stat
 * files, and each open holds a snapshot until it is closed. d->ctl_opens
 * counts open control files (at most UZRAM_CTL_OPENS_MAX, then EMFILE) and
 * d->ctl_bytes the memory they hold (at most UZRAM_CTL_BYTES_MAX, then
 * ENOMEM; a reader's 64 KiB show() buffer is counted whole until it is cut
 * to the snapshot's length). Both are atomics: opens run on any worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

struct ctl_file {
	const struct zram_attr *attr;
	size_t len;   /* bytes of @snap; 0 for a write-only open */
	size_t bytes; /* counted in d->ctl_bytes */
	char snap[];  /* show() output taken at open */
};

/* Count @bytes against the mount's cap. Returns 0 or -ENOMEM. */
static int ctl_bytes_get(struct uzram_daemon *d, size_t bytes)
{
	uint64_t old = atomic_fetch_add_explicit(&d->ctl_bytes, bytes,
						 memory_order_relaxed);

	if (old + bytes <= UZRAM_CTL_BYTES_MAX)
		return 0;
	atomic_fetch_sub_explicit(&d->ctl_bytes, bytes, memory_order_relaxed);
	return -ENOMEM;
}

static void ctl_bytes_put(struct uzram_daemon *d, size_t bytes)
{
	atomic_fetch_sub_explicit(&d->ctl_bytes, bytes, memory_order_relaxed);
}

/* Take the show() snapshot for a reader. Returns 0 or -errno. */
static int ctl_snapshot(struct uzram_daemon *d, const struct zram_attr *attr,
			struct ctl_file **out)
{
	size_t full = sizeof(struct ctl_file) + ZRAM_ATTR_SHOW_MAX;
	struct ctl_file *cf, *small;
	ssize_t n;
	int err;

	err = ctl_bytes_get(d, full);
	if (err)
		return err;
	cf = malloc(full);
	if (!cf) {
		ctl_bytes_put(d, full);
		return -ENOMEM;
	}
	cf->attr = attr;
	n = attr->show(d->zram, cf->snap, ZRAM_ATTR_SHOW_MAX);
	if (n < 0) {
		free(cf);
		ctl_bytes_put(d, full);
		return (int)n;
	}
	cf->len =
		(size_t)n < ZRAM_ATTR_SHOW_MAX ? (size_t)n : ZRAM_ATTR_SHOW_MAX;
	small = realloc(cf, sizeof(*cf) + cf->len);
	if (small) {
		cf = small;
		ctl_bytes_put(d, ZRAM_ATTR_SHOW_MAX - cf->len);
		cf->bytes = sizeof(*cf) + cf->len;
	} else {
		cf->bytes = full;
	}
	*out = cf;
	return 0;
}

int uzram_ctl_file_new(struct uzram_daemon *d, const struct zram_attr *attr,
		       bool reads, struct ctl_file **out)
{
	struct ctl_file *cf;
	int err;

	if (atomic_fetch_add_explicit(&d->ctl_opens, 1, memory_order_relaxed) >=
	    UZRAM_CTL_OPENS_MAX) {
		err = -EMFILE;
		goto err_count;
	}
	if (reads) {
		err = ctl_snapshot(d, attr, out);
		if (err)
			goto err_count;
		return 0;
	}
	err = ctl_bytes_get(d, sizeof(*cf));
	if (err)
		goto err_count;
	cf = calloc(1, sizeof(*cf));
	if (!cf) {
		ctl_bytes_put(d, sizeof(*cf));
		err = -ENOMEM;
		goto err_count;
	}
	cf->attr = attr;
	cf->bytes = sizeof(*cf);
	*out = cf;
	return 0;
err_count:
	atomic_fetch_sub_explicit(&d->ctl_opens, 1, memory_order_relaxed);
	return err;
}

void uzram_ctl_file_free(struct uzram_daemon *d, struct ctl_file *cf)
{
	ctl_bytes_put(d, cf->bytes);
	free(cf);
	atomic_fetch_sub_explicit(&d->ctl_opens, 1, memory_order_relaxed);
}

void uzram_ctl_open(fuse_req_t req, struct uzram_daemon *d,
		    const struct zram_attr *attr, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	bool reads = acc != O_WRONLY, writes = acc != O_RDONLY;
	struct ctl_file *cf = NULL;
	int ret;

	/* root passes the mode check; the table still says what works */
	if ((reads && !attr->show) || (writes && !attr->store)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	ret = uzram_ctl_file_new(d, attr, reads, &cf);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)cf;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* nothing is buffered: no FLUSH round trip on each close(2) (a
	 * shell's `echo 1 > compact` closes twice, after a dup2) */
	fi->noflush = 1;
	/* any failed reply: the kernel has no open file, no release comes */
	if (fuse_reply_open(req, fi))
		uzram_ctl_file_free(d, cf);
}

/*
 * The reply goes out from the worker's own buffer, not from the snapshot:
 * the reader's read(2) returns while our writev(2) to /dev/fuse is still
 * in progress, so a close(2) and our release of the snapshot may overlap
 * the end of that writev. The kernel has copied the data by then, but a
 * copy (at most ZRAM_ATTR_SHOW_MAX, off the hot path) keeps every byte we
 * hand to writev ours until it returns, which ThreadSanitizer can verify.
 */
void uzram_ctl_read(fuse_req_t req, struct uzram_daemon *d, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	const struct ctl_file *cf = (const struct ctl_file *)(uintptr_t)fi->fh;
	char *buf = uzram_worker_buf(d);

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off < 0 || (uint64_t)off >= cf->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > cf->len - (size_t)off)
		size = cf->len - (size_t)off;
	if (size > d->buf_size)
		size = d->buf_size;
	memcpy(buf, cf->snap + off, size);
	fuse_reply_buf(req, buf, size);
}

/* A `compact` write whose reply waits for the store's compaction. */
struct ctl_compact {
	struct zram_compact_wait w; /* first: done() gets it back */
	fuse_req_t req;
	size_t size;
};

static void compact_done(struct zram_compact_wait *w, uint64_t freed)
{
	struct ctl_compact *cc = (struct ctl_compact *)w;

	(void)freed;
	fuse_reply_write(cc->req, cc->size);
	free(cc);
}

/*
 * `compact` on /dev/fuse: the write is answered from the compaction thread
 * once the compaction is done (zram's write is synchronous), and this
 * worker goes back to serving I/O meanwhile. A ring worker must commit
 * its reply itself, so it waits (it holds one entry of its queue; the
 * others serve). Returns true if the request was taken.
 */
static bool compact_async(fuse_req_t req, struct uzram_daemon *d,
			  const struct ctl_file *cf, size_t size)
{
	struct ctl_compact *cc;

	if (strcmp(cf->attr->name, "compact") || uzram_ring_worker())
		return false;
	cc = malloc(sizeof(*cc));
	if (!cc)
		return false; /* then synchronously */
	cc->w.done = compact_done;
	cc->req = req;
	cc->size = size;
	if (zram_compact_async(d->zram, &cc->w)) {
		free(cc);
		return false;
	}
	return true;
}

void uzram_ctl_write(fuse_req_t req, struct uzram_daemon *d, const char *buf,
		     size_t size, struct fuse_file_info *fi)
{
	const struct ctl_file *cf = (const struct ctl_file *)(uintptr_t)fi->fh;
	uint64_t disksize = zram_disksize(d->zram);
	int ret;

	if (compact_async(req, d, cf, size))
		return;
	ret = cf->attr->store(d->zram, buf, size);
	/*
	 * A resize (the disksize file): the kernel keeps disk.img's size for
	 * UZRAM_ATTR_TIMEOUT; drop it (offset -1: the attributes only, no
	 * page-cache walk), so that stat and `losetup -c` see the new size.
	 */
	if (ret >= 0 && d->se && zram_disksize(d->zram) != disksize)
		fuse_lowlevel_notify_inval_inode(d->se, UZRAM_INO_DISK, -1, 0);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

void uzram_ctl_release(fuse_req_t req, struct uzram_daemon *d,
		       struct fuse_file_info *fi)
{
	uzram_ctl_file_free(d, (struct ctl_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
