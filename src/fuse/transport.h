/*
 * transport.h - private to src/fuse/: how requests travel between the
 * kernel and the workers. Two transports carry the same libfuse request
 * handlers (ops.c):
 * - dev: libfuse's multi-threaded /dev/fuse loop (read a request, write
 *   the reply: two system calls per request);
 * - uring: FUSE over io_uring (Linux 6.14+): per-CPU queues of ring
 *   entries, each queue one worker thread that serves the disk's reads and
 *   writes in batches, one io_uring_enter() committing a batch of replies
 *   and waiting for the next, and hands whatever may wait to helper
 *   threads (transport_uring.c).
 *
 * libfuse 3.14 stays the mounter and the request decoder. It cannot ask
 * for the ring, so the FUSE_INIT exchange passes through a custom I/O
 * hook (fuse_session_custom_io): the read side notes what the kernel
 * offered, the write side adds FUSE_OVER_IO_URING to libfuse's reply and,
 * once the kernel has taken it, starts the ring. Requests that arrive on
 * a ring entry are handed to fuse_session_process_buf() and their replies
 * come back through the same hook, which puts them into the entry instead
 * of writing /dev/fuse. The /dev/fuse loop keeps running in either case:
 * the kernel still sends FORGET and INTERRUPT there, and everything
 * until the ring is complete. See docs/decisions.md.
 *
 * Life cycle (session.c): uzram_transport_probe() before the mount,
 * uzram_transport_attach() after it, the /dev/fuse loop, then
 * uzram_transport_stop() (joins the ring's workers) before the unmount
 * and uzram_transport_free() after it (the kernel may touch the ring's
 * buffers until the connection is gone).
 */
#ifndef UZRAM_FUSE_TRANSPORT_H
#define UZRAM_FUSE_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "uzram.h"

struct uzram_daemon;
struct uzram_ring;
struct fuse_session;

struct uzram_transport {
	enum uzram_transport_mode mode; /* --transport */
	/* the probe found the ring usable and the mode allows it */
	bool want_uring;
	unsigned int per_queue; /* the ring's helper threads (--threads) */
	/* -d: every ring request through libfuse, which prints it */
	bool trace;
	char why[160]; /* the reason the probe gave */
	/* FUSE_INIT: the unique the read hook saw, and what it offered */
	_Atomic uint64_t init_unique;
	atomic_bool init_offered;
	atomic_bool init_done;
	/* --transport uring and the ring did not start: exit status 1 */
	atomic_bool failed;
	/* the running ring, or NULL (set once by the thread that starts it) */
	_Atomic(struct uzram_ring *) ring;
};

/*
 * uzram_transport_probe - decide whether to try the ring: the kernel
 * offers it (enable_uring) and io_uring is allowed here. Sets @t up.
 * Returns 0, or -1 after printing one line if --transport uring cannot be
 * had. Before the mount: nothing to undo.
 */
int uzram_transport_probe(struct uzram_transport *t,
			  enum uzram_transport_mode mode, unsigned int threads);

/*
 * uzram_transport_attach - after the mount: install the I/O hook if the
 * ring is wanted, and print the one line saying which transport and why.
 * Returns 0 or -1 (printed).
 */
int uzram_transport_attach(struct uzram_daemon *d, struct fuse_session *se);

/*
 * uzram_reply_open - fuse_reply_open() with @open_flags (FOPEN_*) added to
 * the reply: flags the kernel knows and libfuse 3.14 cannot set
 * (FOPEN_PARALLEL_DIRECT_WRITES). The hook patches the one reply this
 * thread sends from inside the call. Returns fuse_reply_open()'s result.
 */
int uzram_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
		     uint32_t open_flags);

/* uzram_transport_stop - stop and join the ring's workers (if any). */
void uzram_transport_stop(struct uzram_daemon *d);

/* uzram_transport_free - after the unmount: free the ring's buffers. */
void uzram_transport_free(struct uzram_daemon *d);

/*
 * The ring (transport_uring.c).
 * uzram_ring_start - called by the thread that wrote the FUSE_INIT reply,
 * once the kernel took it: set up two workers per queue with its entries (at
 * least @per_queue) and @per_queue helpers, and wait until every entry has
 * registered. Returns 0 with *@out
 * running, or -errno with the reason in @why (@why_size bytes) and
 * nothing left running.
 */
int uzram_ring_start(struct uzram_daemon *d, unsigned int per_queue,
		     struct uzram_ring **out, char *why, size_t why_size);

/*
 * uzram_ring_reply - the writev hook's ring side: if the calling thread is
 * a ring worker handling the request @unique, copy the reply (iov[0] is
 * the fuse_out_header) into its entry for the commit and return true with
 * *@res the bytes taken (or -1 with errno). Otherwise return false.
 */
bool uzram_ring_reply(const struct iovec *iov, int count, ssize_t *res);

/*
 * uzram_ring_worker - true in a ring worker's thread: its replies must go
 * through its own entry, from that thread, before it takes another
 * request.
 */
bool uzram_ring_worker(void);

/* uzram_ring_stop - wake every worker, join them. Idempotent. */
void uzram_ring_stop(struct uzram_ring *r);

/* uzram_ring_free - free a stopped ring (after the unmount). */
void uzram_ring_free(struct uzram_ring *r);

#endif
