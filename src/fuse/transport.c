/*
 * transport.c - choosing the transport, and the custom I/O hook through
 * which libfuse's FUSE_INIT asks for the ring and the ring's replies go
 * back (see transport.h for the design, transport_uring.c for the ring).
 *
 * The choice in three steps, each able to say why not:
 * 1. before the mount, uzram_transport_probe(): --transport dev, or the
 *    kernel has no FUSE over io_uring (no enable_uring parameter), or it
 *    is off (enable_uring N), or io_uring itself is refused here
 *    (kernel.io_uring_disabled, seccomp): /dev/fuse, without any hook.
 * 2. at FUSE_INIT: the kernel's request must offer FUSE_OVER_IO_URING
 *    (the parameter may have changed since the probe); the hook adds it to
 *    libfuse's reply.
 * 3. after the reply: every entry of every queue must register. If one
 *    does not, the ring is never complete and the kernel goes on using
 *    /dev/fuse; the entries that did register are cancelled.
 * With --transport uring a "no" at step 1 is an error before the mount; at
 * steps 2 and 3 it ends the daemon (exit status 1). With auto it means
 * /dev/fuse. stats.json's "transport" says what is in use.
 *
 * The same hook idles /dev/fuse workers down (on either transport): a
 * worker's read of its own clone fd does not block; when it finds nothing
 * it polls, and after DEV_IDLE_MS without a request gives back its reply
 * buffer, codec contexts and receive buffer pages.
 *
 * Locking: none. The hook's INIT state is written by the one thread that
 * reads FUSE_INIT, before the kernel sends anything else; t->ring is
 * published once with a release store.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon.h"
#include "uring_abi.h"
#include "zsmalloc.h"

#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

/*
 * The ring's helper threads, at least: the requests that may wait (a
 * reader parked in a pool mapping, a page on the backing device, a
 * compaction or save through a control file) each hold one while they
 * wait, and the others must still be served. The ring's entries per
 * queue are transport_uring.c's business.
 */
#define RING_MIN_HELPERS 4

/* A /dev/fuse worker idle this long gives its memory back */
#define DEV_IDLE_MS 2000

/* Step 1. Returns true if the ring may be tried; else the reason. */
static bool uring_usable(char *why, size_t size)
{
	struct io_uring_params p;
	struct io_uring ring;
	char v = 0;
	FILE *f;
	int ret;

	f = fopen(ENABLE_URING, "r");
	if (!f) {
		snprintf(why, size,
			 "this kernel has no FUSE over io_uring (needs Linux "
			 "6.14+ with CONFIG_FUSE_IO_URING)");
		return false;
	}
	if (fscanf(f, " %c", &v) != 1)
		v = 0;
	fclose(f);
	if (v != 'Y' && v != 'y' && v != '1') {
		snprintf(why, size,
			 "FUSE over io_uring is off: %s is N (root may write "
			 "Y to it)",
			 ENABLE_URING);
		return false;
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128;
	ret = io_uring_queue_init_params(2, &ring, &p);
	if (ret) {
		snprintf(why, size,
			 "io_uring is refused here: %s (kernel.io_uring_"
			 "disabled?)",
			 strerror(-ret));
		return false;
	}
	io_uring_queue_exit(&ring);
	snprintf(why, size, "the kernel offers FUSE over io_uring");
	return true;
}

int uzram_transport_probe(struct uzram_transport *t,
			  enum uzram_transport_mode mode, unsigned int threads)
{
	memset(t, 0, sizeof(*t));
	t->mode = mode;
	t->per_queue = threads < RING_MIN_HELPERS ? RING_MIN_HELPERS : threads;
	if (mode == UZRAM_TRANSPORT_DEV) {
		snprintf(t->why, sizeof(t->why), "--transport dev");
		return 0;
	}
	t->want_uring = uring_usable(t->why, sizeof(t->why));
	if (!t->want_uring && mode == UZRAM_TRANSPORT_URING) {
		fprintf(stderr, "uzram: --transport uring: %s\n", t->why);
		return -1;
	}
	return 0;
}

/* Read side: note FUSE_INIT's unique and whether it offers the ring. */
static void init_seen(struct uzram_transport *t, const void *buf, ssize_t n)
{
	const struct fuse_in_header *in = buf;
	const struct fuse_init_in *arg;
	uint64_t flags;

	if (n < (ssize_t)sizeof(*in) || in->opcode != FUSE_INIT ||
	    atomic_load_explicit(&t->init_done, memory_order_relaxed))
		return;
	arg = (const void *)(in + 1);
	if (n < (ssize_t)(sizeof(*in) + sizeof(*arg)))
		return; /* an old kernel's short INIT: no flags2 */
	flags = arg->flags;
	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)arg->flags2 << 32;
	atomic_store_explicit(&t->init_offered,
			      (flags & FUSE_OVER_IO_URING) != 0,
			      memory_order_relaxed);
	atomic_store_explicit(&t->init_unique, in->unique,
			      memory_order_release);
}

/*
 * A /dev/fuse worker that handled a request holds memory: its reply buffer,
 * its codec contexts, the touched pages of libfuse's receive buffer. Per
 * thread (not shared): set when a read returned a request, cleared once
 * the worker gave that memory back.
 */
static __thread bool worker_holds_memory;

/*
 * Idle: nothing arrived for DEV_IDLE_MS. The receive buffer is @buf: the
 * kernel writes it only inside our read(), so its whole pages may go.
 */
static void worker_idle(struct uzram_daemon *d, void *buf, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)buf + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)buf + len) & ~(page - 1);

	uzram_worker_buf_drop(d);
	zram_thread_idle(d->zram);
	if (hi > lo)
		zs_os_release((void *)lo, hi - lo); /* works under --mlock */
	zs_os_heap_trim();
	worker_holds_memory = false;
}

/*
 * The worker's own /dev/fuse clone (clone_fd) is non-blocking, so that a
 * busy worker reads its next request in one system call and polls only
 * when there is none (to notice DEV_IDLE_MS without one). The session's
 * own fd is shared (the ring's commands, a worker without a clone): it
 * stays blocking, and is polled before each read while memory is held.
 */
static __thread int nonblock_fd = -1;

static bool fd_nonblock(struct uzram_daemon *d, int fd)
{
	int fl;

	if (fd == nonblock_fd)
		return true;
	if (fd == fuse_session_fd(d->se))
		return false;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return false;
	nonblock_fd = fd;
	return true;
}

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
	struct uzram_daemon *d = userdata;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (fd_nonblock(d, fd)) {
		while ((n = read(fd, buf, len)) < 0 && errno == EAGAIN) {
			if (poll(&p, 1,
				 worker_holds_memory ? DEV_IDLE_MS : -1) == 0)
				worker_idle(d, buf, len);
		}
	} else {
		/* one poll per request while busy: the price of idling */
		if (worker_holds_memory && poll(&p, 1, DEV_IDLE_MS) == 0)
			worker_idle(d, buf, len);
		n = read(fd, buf, len);
	}
	if (n > 0)
		worker_holds_memory = true;

	if (n > 0 && !atomic_load_explicit(&d->transport.init_done,
					   memory_order_relaxed))
		init_seen(&d->transport, buf, n);
	return n;
}

/* The transport is settled: tell stats.json, and stop if it must. */
static void transport_settle(struct uzram_daemon *d, bool uring,
			     const char *why)
{
	struct uzram_transport *t = &d->transport;

	zram_transport_set(d->zram, uring ? "uring" : "dev");
	if (uring)
		return;
	if (t->mode == UZRAM_TRANSPORT_URING) {
		fprintf(stderr, "uzram: --transport uring: %s; stopping\n",
			why);
		atomic_store(&t->failed, true);
		fuse_session_exit(d->se); /* this worker's loop ends it */
	} else {
		fprintf(stderr, "uzram: transport: dev (%s)\n", why);
	}
}

/* Step 3, in the thread that wrote the INIT reply. */
static void ring_begin(struct uzram_daemon *d)
{
	struct uzram_transport *t = &d->transport;
	struct uzram_ring *r = NULL;
	char why[200];

	if (uzram_ring_start(d, t->per_queue, &r, why, sizeof(why))) {
		transport_settle(d, false, why);
		return;
	}
	atomic_store_explicit(&t->ring, r, memory_order_release);
	transport_settle(d, true, NULL);
}

/*
 * Step 2: write libfuse's INIT reply with FUSE_OVER_IO_URING added if the
 * kernel offered it, then start the ring.
 */
static ssize_t init_reply(struct uzram_daemon *d, int fd, struct iovec *iov,
			  int count)
{
	struct uzram_transport *t = &d->transport;
	const struct fuse_out_header *out = iov[0].iov_base;
	bool offered = atomic_load(&t->init_offered);
	struct fuse_init_out arg;
	struct iovec v[2];
	ssize_t n;

	atomic_store(&t->init_done, true);
	if (!offered || out->error || count != 2 ||
	    iov[1].iov_len < sizeof(arg)) {
		n = writev(fd, iov, count);
		if (n >= 0 && !out->error)
			transport_settle(d, false,
					 "the kernel's FUSE_INIT does not "
					 "offer io_uring");
		return n;
	}
	memcpy(&arg, iov[1].iov_base, sizeof(arg));
	arg.flags |= FUSE_INIT_EXT;
	arg.flags2 |= (uint32_t)(FUSE_OVER_IO_URING >> 32);
	v[0] = iov[0];
	v[1].iov_base = &arg;
	v[1].iov_len = sizeof(arg);
	n = writev(fd, v, 2);
	if (n >= 0)
		ring_begin(d); /* the kernel has initialized the connection */
	return n;
}

/*
 * The FOPEN_* flags uzram_reply_open() adds to the OPEN reply this thread
 * is sending (0: none). Only the sending thread sets and reads it, and
 * only between the call's start and its end.
 */
static _Thread_local uint32_t open_flags_extra;

int uzram_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
		     uint32_t open_flags)
{
	int ret;

	open_flags_extra = open_flags;
	ret = fuse_reply_open(req, fi);
	open_flags_extra = 0;
	return ret;
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct uzram_daemon *d = userdata;
	struct uzram_transport *t = &d->transport;
	const struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_open_out open_out;
	struct iovec patched[2];
	ssize_t res;

	if (open_flags_extra && count == 2 && !out->error &&
	    iov[1].iov_len == sizeof(open_out)) {
		memcpy(&open_out, iov[1].iov_base, sizeof(open_out));
		open_out.open_flags |= open_flags_extra;
		open_flags_extra = 0;
		patched[0] = iov[0];
		patched[1].iov_base = &open_out;
		patched[1].iov_len = sizeof(open_out);
		iov = patched;
	}
	if (uzram_ring_reply(iov, count, &res))
		return res;
	if (!atomic_load_explicit(&t->init_done, memory_order_relaxed) &&
	    iov[0].iov_len >= sizeof(*out) && out->unique &&
	    out->unique ==
		    atomic_load_explicit(&t->init_unique, memory_order_acquire))
		return init_reply(d, fd, iov, count);
	return writev(fd, iov, count);
}

int uzram_transport_attach(struct uzram_daemon *d, struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = hook_read,
		.writev = hook_writev,
	};
	struct uzram_transport *t = &d->transport;

	/* until the ring is up, requests come through /dev/fuse */
	zram_transport_set(d->zram, "dev");
	if (!t->want_uring) /* the hook only idles the workers down */
		atomic_store(&t->init_done, true);
	if (fuse_session_custom_io(se, &io, fuse_session_fd(se))) {
		fprintf(stderr, "uzram: cannot install the I/O hook\n");
		return -1;
	}
	fprintf(stderr, "uzram: transport: %s (%s)\n",
		t->want_uring ? "uring" : "dev", t->why);
	return 0;
}

void uzram_transport_stop(struct uzram_daemon *d)
{
	uzram_ring_stop(atomic_load(&d->transport.ring));
}

void uzram_transport_free(struct uzram_daemon *d)
{
	uzram_ring_free(atomic_exchange(&d->transport.ring, NULL));
}
