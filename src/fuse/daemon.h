/*
 * daemon.h - private to src/fuse/: the FUSE userdata shared by the ops
 * (ops.c), the control files (ctlfiles.c) and the life cycle (session.c).
 *
 * The inode numbers are fixed: 1 is the root, 2 is disk.img and 3 + i is
 * attribute i of zram_attrs(). Nothing is ever created or removed, so there
 * is no inode table, no lookup count and no lock in the daemon: every field
 * of struct uzram_daemon is written once before the session starts and only
 * read by the workers (except `transport`, which documents its own). All shared mutable state lives in the store.
 */
#ifndef UZRAM_FUSE_DAEMON_H
#define UZRAM_FUSE_DAEMON_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>

#include "transport.h"
#include "uzram.h"
#include "zram.h"

#define UZRAM_INO_ROOT 1u
#define UZRAM_INO_DISK 2u
#define UZRAM_INO_ATTR0 3u /* first attribute; 3 + index in zram_attrs() */

#define UZRAM_DISK_NAME "disk.img"

/*
 * Asynchronous requests (the loop device's direct I/O) the kernel keeps in
 * flight to us before it makes the submitter sleep; the kernel's default is
 * 12, fewer than one fio job at iodepth 16 (see op_init()).
 */
#define UZRAM_MAX_BACKGROUND 64u

/* Seconds the kernel may cache names and attributes: only disk.img's size
 * ever changes, and a resize invalidates it (ctlfiles.c, ops.c). */
#define UZRAM_ATTR_TIMEOUT 3600.0

struct uzram_daemon {
	struct zram *zram;
	/* no disk.img: the control files of a store served by someone else
	 * (the nbdkit plugin's controls=DIR, controls.c) */
	bool controls_only;
	uid_t uid; /* owner shown for every file */
	gid_t gid;
	time_t started;		       /* every file's atime, mtime, ctime */
	const struct zram_attr *attrs; /* zram_attrs() */
	size_t nr_attrs;
	/*
	 * Each worker's reply buffer for disk.img reads, @buf_size bytes,
	 * allocated on the worker's first read and freed by the key's
	 * destructor when the worker exits. Workers persist (max_idle_threads
	 * equals the pool size), so this is one allocation per thread
	 * (dropped again when the worker idles, transport.c).
	 */
	pthread_key_t buf_key;
	size_t buf_size;
	struct fuse_session *se; /* for the stop signals (signals.c) */
	/* /dev/fuse or io_uring (transport.c); its own rules for its fields */
	struct uzram_transport transport;
	/*
	 * CLOCK_MONOTONIC milliseconds of the last stop signal refused
	 * because disk.img was open, 0: none since the guard was (re)armed.
	 */
	_Atomic int64_t stop_refused_ms;
	/* open control/stat files and the bytes they hold (ctlfiles.c) */
	_Atomic uint64_t ctl_opens;
	_Atomic uint64_t ctl_bytes;
};

/*
 * The stop guard (signals.c). While disk.img is open, a stop signal is
 * refused unless it comes within UZRAM_STOP_WINDOW_MS of a refused one;
 * closing the last open of disk.img re-arms it.
 */
#define UZRAM_STOP_WINDOW_MS 5000

enum uzram_stop {
	UZRAM_STOP_REFUSED, /* disk in use: warn, keep serving */
	UZRAM_STOP_NOW,	    /* end the session */
};

/*
 * uzram_stop_decide - what a stop signal arriving at @now_ms (monotonic)
 * does. Async-signal-safe (the handler calls it); the tests call it with a
 * simulated clock.
 */
enum uzram_stop uzram_stop_decide(struct uzram_daemon *d, int64_t now_ms);

/* uzram_stop_rearm - disk.img's last open was closed (ops.c). */
void uzram_stop_rearm(struct uzram_daemon *d);

/*
 * uzram_signals_install - route SIGINT, SIGTERM and SIGHUP (those at their
 * default) to the stop guard of @d and @se, and let libfuse ignore SIGPIPE.
 * uzram_signals_install_set() takes the signals (@sigs, @nr; the tests
 * pass others). Returns 0, or -1 with nothing installed and no pointer to
 * @d kept.
 */
int uzram_signals_install_set(struct uzram_daemon *d, struct fuse_session *se,
			      const int *sigs, size_t nr);
int uzram_signals_install(struct uzram_daemon *d, struct fuse_session *se);

/* uzram_signals_remove - undo uzram_signals_install(); drops @d. */
void uzram_signals_remove(struct fuse_session *se);

/*
 * uzram_mountpoint_check - @path must be an empty directory; its real path
 * goes to @resolved (PATH_MAX bytes). Returns 0, or -1 after printing one
 * line on stderr (session.c).
 */
int uzram_mountpoint_check(const char *path, char *resolved);

/* The lowlevel ops table (ops.c). */
extern const struct fuse_lowlevel_ops uzram_ll_ops;

/* uzram_ino_is_disk - @ino is disk.img (not a controls-only mount). */
bool uzram_ino_is_disk(const struct uzram_daemon *d, uint64_t ino);

/*
 * uzram_disk_read, uzram_disk_write - a FUSE READ or WRITE of disk.img
 * without libfuse (ops.c): read up to @size bytes at @off into @buf
 * (at most d->buf_size), or write @size bytes from @buf. @flags as
 * zram_read_flags(): ZRAM_IO_NOWAIT returns -EAGAIN where the request would
 * wait (the ring's inline path; see transport_uring.c). Return the bytes
 * for the reply or -errno.
 */
ssize_t uzram_disk_read(struct uzram_daemon *d, char *buf, size_t size,
			int64_t off, unsigned int flags);
ssize_t uzram_disk_write(struct uzram_daemon *d, const char *buf, size_t size,
			 int64_t off, unsigned int flags);

/*
 * uzram_worker_buf - the calling worker's reply buffer (d->buf_size bytes),
 * allocated on its first use (ops.c). Returns NULL if out of memory.
 */
char *uzram_worker_buf(struct uzram_daemon *d);

/*
 * uzram_worker_buf_drop - free the calling /dev/fuse worker's reply buffer
 * (it went idle); its next read allocates it again. Not for ring workers,
 * whose buffer is their entry's payload.
 */
void uzram_worker_buf_drop(struct uzram_daemon *d);

/*
 * The control and stat files (ctlfiles.c): open takes a fresh show()
 * snapshot for readers, write passes each write whole to store(), release
 * frees the snapshot. @attr is d->attrs[i] for inode UZRAM_INO_ATTR0 + i.
 * Each replies to @req exactly once.
 */
void uzram_ctl_open(fuse_req_t req, struct uzram_daemon *d,
		    const struct zram_attr *attr, struct fuse_file_info *fi);
void uzram_ctl_read(fuse_req_t req, struct uzram_daemon *d, size_t size,
		    off_t off, struct fuse_file_info *fi);
void uzram_ctl_write(fuse_req_t req, struct uzram_daemon *d, const char *buf,
		     size_t size, struct fuse_file_info *fi);
void uzram_ctl_release(fuse_req_t req, struct uzram_daemon *d,
		       struct fuse_file_info *fi);

/*
 * Per mount, open control and stat files are capped: at most
 * UZRAM_CTL_OPENS_MAX at once (then EMFILE), holding at most
 * UZRAM_CTL_BYTES_MAX of snapshots (then ENOMEM), so that with
 * --allow-other no user can make the daemon hold unbounded memory.
 */
#define UZRAM_CTL_OPENS_MAX 4096u
#define UZRAM_CTL_BYTES_MAX (16u << 20)

struct ctl_file;

/*
 * uzram_ctl_file_new / uzram_ctl_file_free - one open control file: its
 * snapshot if @reads, counted against the caps. Returns 0 and *@out,
 * -EMFILE (too many open), -ENOMEM (snapshot memory cap, or out of memory),
 * or show()'s -errno. uzram_ctl_open() and uzram_ctl_release() use them.
 */
int uzram_ctl_file_new(struct uzram_daemon *d, const struct zram_attr *attr,
		       bool reads, struct ctl_file **out);
void uzram_ctl_file_free(struct uzram_daemon *d, struct ctl_file *cf);

#endif
