/*
 * transport_uring.c - FUSE over io_uring: the ring's queues, their
 * workers and helpers (the kernel ABI is in uring_abi.h, the why in
 * transport.h and docs/decisions.md).
 *
 * The kernel keeps one queue per possible CPU and gives a request to the
 * queue of the CPU its submitter runs on, to a free entry there; a
 * request finds no entry of another queue. Each queue has two worker
 * threads (RING_WORKERS_PER_QUEUE), each with its own io_uring holding
 * half of the queue's entries. A pass of a worker takes every request that
 * has arrived on its entries, serves the disk's READs and WRITEs itself and
 * stages their replies; the next io_uring_enter() commits them all and
 * waits for more: one system call and no thread switch for a whole batch
 * (the /dev/fuse path and a thread per entry cost a system call and a
 * wake-up per request; measured here: the daemon's CPU time per 4 KiB read
 * went from 12-15 to 6-9 us).
 *
 * A worker never waits, so that one slow request cannot hold up its
 * queue (the preemptible-worker guarantee of the /dev/fuse path): it asks
 * the store with ZRAM_IO_NOWAIT, which backs out with -EAGAIN where it
 * would wait (a page locked by another thread, for instance a reader
 * asleep inside a pool mapping; a page on the backing device; a save
 * holding writes; the policy slowing writers). Such requests, and every
 * other opcode (control files may run a compaction or a save; discards;
 * fsync; lookups), go to a pool of helper threads, which run them through
 * libfuse as the /dev/fuse workers do, stage the reply in the entry and
 * hand the entry back through the worker's done list and eventfd; the
 * worker commits it with its next batch. A helper asleep holds up only its
 * own request.
 *
 * An entry's memory is one mapping: the kernel's request header at its
 * start, the payload from the next page on. The payload is also the reply
 * buffer (uzram_worker_buf(), via the daemon's buf_key, for helpers), so
 * a read decompresses straight into the page the kernel copies from, and a
 * write's data is passed from where the kernel put it: no copy in between.
 * libfuse wants a request as one buffer (fuse_in_header, the opcode's
 * argument, then its data); for a helper the few header bytes are copied
 * in just before the payload, so the data stays where it is.
 *
 * Each ring is created by its worker and only ever entered by it
 * (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN): the kernel copies a
 * request into an entry's buffers only while that worker is inside
 * io_uring_enter(), which is what lets an idle worker give its entries'
 * payload pages back (MADV_DONTNEED) without racing the kernel's copy;
 * entries away at helpers are left alone.
 *
 * Stopping: an eventfd polled by every ring wakes all workers at once
 * (uzram_ring_stop), then the helpers are told to end. A worker also ends
 * when all its entries' commands completed with an error: -ENOTCONN at
 * unmount or abort. Closing a ring cancels its commands; the kernel may
 * still write to an entry until the connection is torn down, so the
 * mappings are freed only after the unmount.
 *
 * Lock order: r->lock (start-up reports) and r->away_lock (the helpers'
 * list) and w->done_lock (a worker's done list) are leaves, never held
 * together. Each entry belongs to its worker, or, while on the away list
 * or in a helper's hands (e->away), to the helpers until it is on the done
 * list again.
 */
#include <errno.h>
#include <liburing.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "uring_abi.h"
#include "zsmalloc.h"

/* user_data of the non-entry commands; an entry's is its address */
#define RING_TAG_STOP 1u /* the stop eventfd's poll */
#define RING_TAG_DONE 2u /* the read of the worker's done eventfd */

/* A worker or helper idle this long gives its memory back */
#define RING_IDLE_MS 2000

/*
 * Ring entries per queue, at least (more if there are more helpers). A
 * worker takes in one pass only what has arrived on its own entries (half
 * of the queue's), so this caps the batch one io_uring_enter() commits and
 * fetches. With 4 a worker served 1.9 requests a pass and the daemon's
 * share of the machine went mostly to the kernel's per-enter costs (the
 * wake-up of ksoftirqd that completes the loop device's requests was 11 %
 * of the machine): 4 KiB random reads, 2 jobs x QD16 through a loop
 * device, measured 169k IOPS at 4 entries a queue, 204k at 16 (5.3 a
 * pass), 200k at 32, 163k at 64; random writes 127k, 155k, 149k, 127k.
 * Pages are touched only as requests fill them (under --mlock too:
 * MCL_ONFAULT); those of large requests go back soon (below).
 */
#define RING_MIN_ENTRIES 16

/*
 * The payload pages an entry keeps between large requests. A request or
 * reply larger than this touches up to 1 MiB of its entry, and with 16
 * entries a queue that would be 32 MiB held on this 2-CPU machine after a
 * burst of large I/O until the worker idles (RING_IDLE_MS). Instead the
 * pages past the first RING_SMALL_PAYLOAD bytes go back once a worker has
 * seen no large request for RING_LARGE_IDLE_MS: streams of large I/O keep
 * their pages (faulting 1 MiB back in per request would cost about what
 * compressing it does), 4 KiB I/O never touches them.
 */
#define RING_SMALL_PAYLOAD (64u << 10)
#define RING_LARGE_IDLE_MS 200
/* worker_wait() takes the large pages' timer first: it must be the sooner */
_Static_assert(RING_LARGE_IDLE_MS < RING_IDLE_MS,
	       "large release before idling");

/*
 * Workers per queue. A queue gets every request of its CPU (a loop
 * device's worker often sits on one), and the kernel copies a reply's
 * payload in the thread that commits it: with one worker, 1 MiB requests
 * of one queue were decoded and copied one after another while the other
 * core idled, and handing them to the helpers instead cost two more
 * wake-ups per request (1 MiB reads 0.87-0.92 x /dev/fuse, measured). Two
 * workers share a queue's entries and serve large requests side by side;
 * small ones still come in batches.
 */
#define RING_WORKERS_PER_QUEUE 2u

/*
 * The entry the calling thread is serving, NULL outside ring threads and
 * between requests. Per thread, not shared: the writev hook uses it to
 * tell a ring reply from one for /dev/fuse, from the first request on (the
 * ring may carry requests before uzram_ring_start() has returned).
 */
static __thread struct ring_ent *current_ent;

struct ring_worker;

struct ring_ent {
	struct ring_worker *w;
	char *map; /* header page + payload */
	struct uzram_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];   /* REGISTER's buffers: read by the kernel */
	uint64_t unique;       /* the request being handled, 0 if none */
	uint64_t commit_id;    /* its ring_ent_in_out.commit_id */
	bool replied;	       /* the reply is staged in the entry */
	bool away;	       /* at the helpers (worker-owned flag) */
	bool big;	       /* may hold pages past RING_SMALL_PAYLOAD */
	struct ring_ent *next; /* on the away or a done list */
};

/* A thread and its io_uring, serving its share of one queue's entries. */
struct ring_worker {
	struct uzram_ring *ring;
	unsigned int qid;
	pthread_t thread;
	bool started; /* thread was created */
	struct io_uring uring;
	struct ring_ent *ents;
	unsigned int nr_ents, nr_open;
	bool idle_dropped;	 /* payload pages were given back */
	bool large_held;	 /* some entry is big */
	unsigned int pass_large; /* large writes taken in this pass */
	uint64_t large_ms;	 /* when the last large request came */
	int done_fd;		 /* eventfd: a helper staged a reply */
	uint64_t done_val;	 /* where the ring's read of done_fd lands */
	pthread_mutex_t done_lock;
	struct ring_ent *done; /* staged by helpers (done_lock) */
};

struct uzram_ring {
	struct uzram_daemon *d;
	struct fuse_session *se;
	int fuse_fd;
	int stop_fd; /* eventfd: readable once the ring is stopping */
	unsigned int nr_queues, per_queue, nr_helpers;
	unsigned int nr_workers,
		per_worker; /* RING_WORKERS_PER_QUEUE a queue */
	size_t payload_size, map_size;
	pthread_mutex_t lock;
	pthread_cond_t reported_cond;
	unsigned int nr_reported; /* protected by lock */
	int first_error;	  /* protected by lock */
	bool stopped;
	/* requests for the helpers, oldest first (away_lock) */
	pthread_mutex_t away_lock;
	pthread_cond_t away_cond;
	struct ring_ent *away_head, *away_tail;
	bool helpers_stop; /* protected by away_lock */
	pthread_t *helpers;
	unsigned int helpers_started;
	struct ring_ent *ents; /* nr_queues * per_queue */
	struct ring_worker workers[];
};

/* The kernel's queue count: possible CPUs, "0-N" in sysfs. */
static unsigned int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned int lo = 0, hi = 0;
	int n = 0;

	if (f) {
		n = fscanf(f, "%u-%u", &lo, &hi);
		fclose(f);
	}
	if (n == 2 && hi >= lo)
		return hi + 1;
	if (n == 1)
		return lo + 1;
	n = (int)sysconf(_SC_NPROCESSORS_CONF);
	return n > 0 ? (unsigned int)n : 1;
}

/* Room for every entry's command and two more: see worker_uring_init. */
static struct io_uring_sqe *ring_cmd_sqe(struct ring_ent *e, uint32_t op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->w->uring);
	struct uzram_uring_cmd_req *req;

	if (!sqe)
		return NULL;
	memset(sqe, 0, 128); /* an SQE128 slot */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->w->ring->fuse_fd;
	sqe->cmd_op = op;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	req = (struct uzram_uring_cmd_req *)sqe->cmd;
	req->qid = (uint16_t)e->w->qid;
	return sqe;
}

static int ent_register_prep(struct ring_ent *e)
{
	struct io_uring_sqe *sqe = ring_cmd_sqe(e, UZRAM_URING_CMD_REGISTER);

	if (!sqe)
		return -EBUSY;
	e->iov[0].iov_base = e->hdr;
	e->iov[0].iov_len = sizeof(*e->hdr);
	e->iov[1].iov_base = e->payload;
	e->iov[1].iov_len = e->w->ring->payload_size;
	sqe->addr = (uint64_t)(uintptr_t)e->iov;
	sqe->len = 2;
	return 0;
}

static int ent_commit_prep(struct ring_ent *e)
{
	struct io_uring_sqe *sqe =
		ring_cmd_sqe(e, UZRAM_URING_CMD_COMMIT_AND_FETCH);

	if (!sqe)
		return -EBUSY;
	((struct uzram_uring_cmd_req *)sqe->cmd)->commit_id = e->commit_id;
	e->unique = 0;
	return 0;
}

/* The poll on the stop eventfd, so that uzram_ring_stop() wakes us. */
static int worker_stop_poll_prep(struct ring_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->uring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128);
	io_uring_prep_poll_add(sqe, w->ring->stop_fd, POLLIN);
	sqe->user_data = RING_TAG_STOP;
	return 0;
}

/* The read of the done eventfd: completes when a helper staged a reply. */
static int worker_done_read_prep(struct ring_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->uring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128);
	io_uring_prep_read(sqe, w->done_fd, &w->done_val, sizeof(w->done_val),
			   0);
	sqe->user_data = RING_TAG_DONE;
	return 0;
}

/*
 * One submission slot per entry, one for the stop poll and one for the
 * done read, so preparing a command never finds the queue full;
 * completions are at most as many.
 */
static int worker_uring_init(struct ring_worker *w)
{
	struct io_uring_params p;
	unsigned int depth = w->nr_ents + 2;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(depth, &w->uring, &p);
	if (ret == -EINVAL) { /* before Linux 6.1; the ABI needs 6.14 anyway */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		ret = io_uring_queue_init_params(depth, &w->uring, &p);
	}
	return ret;
}

/* Tell uzram_ring_start() how registration went (0 or -errno). */
static void worker_report(struct ring_worker *w, int err)
{
	struct uzram_ring *r = w->ring;

	pthread_mutex_lock(&r->lock);
	if (err && !r->first_error)
		r->first_error = err;
	r->nr_reported++;
	pthread_cond_broadcast(&r->reported_cond);
	pthread_mutex_unlock(&r->lock);
}

/*
 * Set up the worker's ring and register its entries. A REGISTER that
 * fails does so at once (inline completion); one that succeeds completes
 * only when a request arrives. Returns 0 or -errno.
 */
static int worker_register(struct ring_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int i, head;
	int ret;

	ret = worker_uring_init(w);
	if (ret)
		return ret;
	ret = worker_stop_poll_prep(w);
	if (!ret)
		ret = worker_done_read_prep(w);
	for (i = 0; !ret && i < w->nr_ents; i++)
		ret = ent_register_prep(&w->ents[i]);
	if (!ret) {
		ret = io_uring_submit(&w->uring);
		ret = ret == (int)w->nr_ents + 2 ? 0 : ret < 0 ? ret : -EIO;
	}
	/* only failures are looked at; requests are left for the loop */
	if (!ret)
		io_uring_for_each_cqe(&w->uring, head, cqe)
		{
			if (cqe->user_data == RING_TAG_STOP)
				ret = -ECANCELED;
			else if (cqe->user_data != RING_TAG_DONE &&
				 cqe->res < 0)
				ret = cqe->res;
		}
	if (ret)
		io_uring_queue_exit(&w->uring);
	w->nr_open = w->nr_ents;
	return ret;
}

/* Stage an error reply (@err < 0) for @unique in @e. */
static void ent_reply_err(struct ring_ent *e, uint64_t unique, int err)
{
	struct fuse_out_header out = {
		.len = sizeof(out), .error = err, .unique = unique};

	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ring_ent_in_out.payload_sz = 0;
	e->replied = true;
}

/*
 * The worker's own path: a READ or WRITE of disk.img, straight to the
 * store with ZRAM_IO_NOWAIT, reply staged without libfuse. Returns false
 * if the request is not one of those or would have to wait: then it goes
 * to a helper, from the start.
 */
static bool ent_serve_inline(struct ring_ent *e,
			     const struct fuse_in_header *in, size_t arg0,
			     size_t payload)
{
	struct uzram_ring *r = e->w->ring;
	struct fuse_out_header out = {.error = 0, .unique = in->unique};
	ssize_t n;

	if (!uzram_ino_is_disk(r->d, in->nodeid) || r->d->transport.trace)
		return false;
	if (in->opcode == FUSE_READ && arg0 >= sizeof(struct fuse_read_in) &&
	    !payload) {
		const struct fuse_read_in *rd = (const void *)e->hdr->op_in;

		n = uzram_disk_read(r->d, e->payload, rd->size,
				    (int64_t)rd->offset, ZRAM_IO_NOWAIT);
	} else if (in->opcode == FUSE_WRITE &&
		   arg0 >= sizeof(struct fuse_write_in)) {
		const struct fuse_write_in *wr = (const void *)e->hdr->op_in;

		if (wr->size != payload)
			return false; /* libfuse's checks, then */
		n = uzram_disk_write(r->d, e->payload, payload,
				     (int64_t)wr->offset, ZRAM_IO_NOWAIT);
		if (n >= 0) { /* the reply is a fuse_write_out */
			struct fuse_write_out wo = {.size = (uint32_t)n};

			memcpy(e->payload, &wo, sizeof(wo));
			n = sizeof(wo);
		}
	} else {
		return false;
	}
	if (n == -EAGAIN)
		return false;
	if (n < 0) {
		ent_reply_err(e, in->unique, (int)n);
		return true;
	}
	out.len = (uint32_t)(sizeof(out) + (size_t)n);
	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)n;
	e->replied = true;
	return true;
}

/*
 * The sizes of a request that arrived in @e: its first argument's, its
 * payload's. False if they do not add up (a request not to be trusted).
 */
static bool ent_request(struct ring_ent *e, struct fuse_in_header *in,
			size_t *arg0, size_t *payload)
{
	const struct uzram_uring_ent_in_out *io = &e->hdr->ring_ent_in_out;

	memcpy(in, e->hdr->in_out, sizeof(*in));
	*payload = io->payload_sz;
	if (*payload > e->w->ring->payload_size ||
	    in->len < sizeof(*in) + *payload ||
	    in->len - sizeof(*in) - *payload > UZRAM_URING_OP_IN_OUT_SZ)
		return false;
	*arg0 = in->len - sizeof(*in) - *payload;
	return true;
}

/*
 * Through libfuse, as /dev/fuse would carry it: the in header and the
 * opcode's first argument are rebuilt right before the payload. Runs on a
 * helper (or on the worker for a request with bad sizes, which gets EIO
 * without reaching libfuse).
 */
static void ent_handle(struct ring_ent *e)
{
	struct uzram_ring *r = e->w->ring;
	struct fuse_in_header in;
	struct fuse_buf fb;
	size_t payload, arg0;
	char *start;

	e->replied = false;
	if (!ent_request(e, &in, &arg0, &payload)) {
		ent_reply_err(e, in.unique, -EIO);
		return;
	}
	e->unique = in.unique;
	start = e->payload - arg0 - sizeof(in);
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), e->hdr->op_in, arg0);
	memset(&fb, 0, sizeof(fb));
	fb.mem = start;
	fb.size = in.len;
	/* the reply buffer is the payload: see the file comment */
	current_ent = e;
	pthread_setspecific(r->d->buf_key, e->payload);
	fuse_session_process_buf(r->se, &fb);
	pthread_setspecific(r->d->buf_key, NULL); /* not ours to free */
	current_ent = NULL;
	/* every op replies before it returns; a request that needs no
	 * reply (FORGET) never comes this way: answer it anyway */
	if (!e->replied)
		ent_reply_err(e, in.unique, -EIO);
}

bool uzram_ring_worker(void)
{
	return current_ent != NULL;
}

bool uzram_ring_reply(const struct iovec *iov, int count, ssize_t *res)
{
	struct ring_ent *e = current_ent;
	struct uzram_ring *r;
	struct fuse_out_header out;
	size_t n = 0, total;
	int i;

	if (!e || count < 1 || iov[0].iov_len < sizeof(out))
		return false;
	r = e->w->ring;
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (!e->unique || out.unique != e->unique || e->replied)
		return false;
	for (i = 1; i < count; i++) {
		if (iov[i].iov_len > r->payload_size - n) {
			errno = EINVAL; /* larger than max_read: a bug */
			*res = -1;
			return true;
		}
		if (iov[i].iov_base != e->payload + n)
			memmove(e->payload + n, iov[i].iov_base,
				iov[i].iov_len);
		n += iov[i].iov_len;
	}
	total = sizeof(out) + n;
	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)n;
	e->replied = true;
	*res = (ssize_t)total;
	return true;
}

/* Give @e to the helpers (it is the worker's until now). */
static void ent_send_away(struct ring_ent *e)
{
	struct uzram_ring *r = e->w->ring;

	e->away = true;
	e->next = NULL;
	pthread_mutex_lock(&r->away_lock);
	if (r->away_tail)
		r->away_tail->next = e;
	else
		r->away_head = e;
	r->away_tail = e;
	pthread_cond_signal(&r->away_cond);
	pthread_mutex_unlock(&r->away_lock);
}

/* A helper is done with @e: back to its worker, whose ring is woken. */
static void ent_send_back(struct ring_ent *e)
{
	struct ring_worker *w = e->w;
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&w->done_lock);
	e->next = w->done;
	w->done = e;
	pthread_mutex_unlock(&w->done_lock);
	n = write(w->done_fd, &one, sizeof(one));
	(void)n; /* an eventfd write of 1 cannot fail here */
}

/* Stage the commits of what the helpers sent back. Returns 0 or -errno. */
static int worker_take_done(struct ring_worker *w)
{
	struct ring_ent *e;
	int ret = 0;

	pthread_mutex_lock(&w->done_lock);
	e = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->done_lock);
	for (; e; e = e->next) {
		e->away = false;
		if (!ret)
			ret = ent_commit_prep(e);
	}
	if (!ret)
		ret = worker_done_read_prep(w);
	return ret;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Milliseconds until the big entries' pages are due to go back (0: now),
 * or -1 if there are none.
 */
static int64_t worker_large_due(const struct ring_worker *w)
{
	uint64_t since;

	if (!w->large_held)
		return -1;
	since = now_ms() - w->large_ms;
	return since >= RING_LARGE_IDLE_MS
		       ? 0
		       : (int64_t)(RING_LARGE_IDLE_MS - since);
}

/*
 * Give back @e's pages from @from bytes into its mapping on (0: all). Only
 * where the kernel cannot be writing a request into them (the worker
 * between its io_uring_enter() calls: with DEFER_TASKRUN the kernel copies
 * a request in only from inside them) and nothing staged there is still to
 * be committed. Works under --mlock.
 */
static void ent_release(struct ring_ent *e, size_t from)
{
	zs_os_release(e->map + from, e->w->ring->map_size - from);
	e->big = false;
}

/* Where an entry's pages past the first RING_SMALL_PAYLOAD of payload start */
static size_t ent_large_from(const struct ring_ent *e)
{
	return (size_t)(e->payload - e->map) + RING_SMALL_PAYLOAD;
}

/*
 * A request of @bytes (its payload, or the reply a read writes in place)
 * is in @e and about to be served. Note a large one; before a small one,
 * @e's pages past RING_SMALL_PAYLOAD are free to go, if due.
 */
static void ent_note_size(struct ring_ent *e, size_t bytes)
{
	struct ring_worker *w = e->w;

	if (bytes > RING_SMALL_PAYLOAD) {
		e->big = true;
		w->large_held = true;
		w->large_ms = now_ms();
	} else if (e->big && worker_large_due(w) == 0) {
		ent_release(e, ent_large_from(e));
	}
}

/*
 * Give back the pages of the entries the worker holds: all of them
 * (@large_only false), or those of big entries past their first
 * RING_SMALL_PAYLOAD. Called when no request has come since the last
 * io_uring_enter(), which committed every staged reply. Entries at the
 * helpers are theirs until they come back: a big one there is retried
 * when due again.
 */
static void worker_release(struct ring_worker *w, bool large_only)
{
	unsigned int i;

	w->large_held = false;
	for (i = 0; i < w->nr_ents; i++) {
		struct ring_ent *e = &w->ents[i];

		if (e->away)
			w->large_held = w->large_held || e->big;
		else if (!large_only)
			ent_release(e, 0);
		else if (e->big)
			ent_release(e, ent_large_from(e));
	}
	if (w->large_held)
		w->large_ms = now_ms();
}

/*
 * Idle: give the entries' pages and the codec contexts back (safe while
 * the entries are registered: see ent_release()).
 */
static void worker_idle(struct ring_worker *w)
{
	worker_release(w, false);
	zram_thread_idle(w->ring->d->zram);
	zs_os_heap_trim(); /* what the codec contexts left in malloc's arenas */
	w->idle_dropped = true;
}

/*
 * Submit the staged commits and wait for a completion; after RING_IDLE_MS
 * without one, drop the idle memory once and wait on (the pages of large
 * requests go back sooner, when due). Returns 0 once a completion is
 * there, or -errno.
 */
static int worker_wait(struct ring_worker *w)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int64_t large, ms;
	int ret;

	for (;;) {
		large = worker_large_due(w);
		/* the next timer: the large pages' release, else idling */
		ms = large;
		if (ms < 0 && !w->idle_dropped)
			ms = RING_IDLE_MS;
		if (ms < 0) {
			ret = io_uring_submit_and_wait(&w->uring, 1);
		} else {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000L;
			ret = io_uring_submit_and_wait_timeout(&w->uring, &cqe,
							       1, &ts, NULL);
		}
		if (ret >= 0 || ret == -ETIME || ret == -EINTR) {
			if (!io_uring_peek_cqe(&w->uring, &cqe)) {
				w->idle_dropped = false;
				return 0;
			}
			if (ret == -ETIME && ms == large)
				worker_release(w, true);
			else if (ret == -ETIME)
				worker_idle(w);
			continue;
		}
		return ret;
	}
}

/* An entry's command ended with @res < 0: the entry is done. */
static void ent_close(struct ring_ent *e, int res)
{
	if (res != -ENOTCONN && res != -ECONNABORTED && res != -ECANCELED)
		fprintf(stderr, "uzram: io_uring queue %u: %s; entry closed\n",
			e->w->qid, strerror(-res));
	e->w->nr_open--;
}

/*
 * A large write: true if this pass already took one. The kernel hands a
 * queue's requests to the entry that became free last (its list of free
 * entries is LIFO), so once a worker has committed a batch, the next
 * requests tend to land on its own entries again: with 8 entries a worker
 * and 8 requests of 1 MiB in flight all of them can stay on one worker,
 * served one after another while the other core idles (1 MiB zstd writes
 * at 306 MB/s against 575 on /dev/fuse in one run). The second and later
 * large writes of a pass go to the helpers, which compress on the other
 * cores meanwhile (costs 2-3 % when the load was spread anyway). Reads
 * stay: the kernel copies a read's 1 MiB reply out in the committing
 * thread, so helpers gained little there and cost 10 %.
 */
static bool pass_large_write(struct ring_worker *w)
{
	return w->pass_large++ > 0;
}

/* A request arrived in @e: serve it here, or send it to the helpers. */
static int worker_take_request(struct ring_ent *e)
{
	struct fuse_in_header in;
	size_t arg0, payload, touched;

	e->replied = false;
	e->commit_id = e->hdr->ring_ent_in_out.commit_id;
	if (!ent_request(e, &in, &arg0, &payload)) {
		ent_reply_err(e, in.unique, -EIO);
		return ent_commit_prep(e);
	}
	touched = payload;
	if (in.opcode == FUSE_READ && arg0 >= sizeof(struct fuse_read_in)) {
		const struct fuse_read_in *rd = (const void *)e->hdr->op_in;

		if (rd->size > touched) /* the reply, written in place */
			touched = rd->size;
	}
	ent_note_size(e, touched);
	if ((in.opcode == FUSE_WRITE && payload > RING_SMALL_PAYLOAD &&
	     pass_large_write(e->w)) ||
	    !ent_serve_inline(e, &in, arg0, payload)) {
		ent_send_away(e);
		return 0;
	}
	return ent_commit_prep(e);
}

/*
 * Serve requests until stopped or every entry is closed. Each pass takes
 * every completion there is, serves those requests one after another and
 * stages their commits, which the next io_uring_enter() submits together
 * with the wait: one system call for a whole batch.
 */
static void worker_loop(struct ring_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen;
	bool stop = false;
	int err = 0;

	while (!stop && !err && w->nr_open) {
		if (worker_wait(w))
			return;
		seen = 0;
		w->pass_large = 0;
		io_uring_for_each_cqe(&w->uring, head, cqe)
		{
			struct ring_ent *e =
				(struct ring_ent *)(uintptr_t)cqe->user_data;

			seen++;
			if (cqe->user_data == RING_TAG_STOP)
				stop = true;
			else if (cqe->user_data == RING_TAG_DONE)
				err = err ? err : worker_take_done(w);
			else if (cqe->res < 0)
				ent_close(e, cqe->res);
			else if (!stop && !err)
				err = worker_take_request(e);
		}
		io_uring_cq_advance(&w->uring, seen);
	}
	if (err) /* cannot be: a submission slot for each command */
		fprintf(stderr, "uzram: io_uring queue %u: %s; queue closed\n",
			w->qid, strerror(-err));
}

static void *worker_thread(void *arg)
{
	struct ring_worker *w = arg;
	int ret;

	ret = worker_register(w);
	worker_report(w, ret);
	if (!ret) {
		worker_loop(w);
		io_uring_queue_exit(&w->uring);
	}
	return NULL;
}

/*
 * Next request for a helper; NULL once the ring stops. Idle for
 * RING_IDLE_MS, the helper gives its codec contexts back once.
 */
static struct ring_ent *helper_next(struct uzram_ring *r)
{
	struct ring_ent *e = NULL;
	bool dropped = false;
	struct timespec ts;

	pthread_mutex_lock(&r->away_lock);
	while (!r->away_head && !r->helpers_stop) {
		if (dropped) {
			pthread_cond_wait(&r->away_cond, &r->away_lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += RING_IDLE_MS / 1000;
		if (pthread_cond_timedwait(&r->away_cond, &r->away_lock, &ts) ==
			    ETIMEDOUT &&
		    !r->away_head) {
			pthread_mutex_unlock(&r->away_lock);
			zram_thread_idle(r->d->zram);
			zs_os_heap_trim();
			dropped = true;
			pthread_mutex_lock(&r->away_lock);
		}
	}
	if (r->away_head && !r->helpers_stop) {
		e = r->away_head;
		r->away_head = e->next;
		if (!r->away_head)
			r->away_tail = NULL;
	}
	pthread_mutex_unlock(&r->away_lock);
	return e;
}

static void *helper_thread(void *arg)
{
	struct uzram_ring *r = arg;
	struct ring_ent *e;

	while ((e = helper_next(r))) {
		ent_handle(e);
		ent_send_back(e);
	}
	return NULL;
}

static int ring_alloc(struct uzram_daemon *d, unsigned int per_queue,
		      struct uzram_ring **out)
{
	unsigned int nr_queues = possible_cpus(), i;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct uzram_ring *r;

	if (nr_queues > 0xffff)
		return -EINVAL;
	const unsigned int wpq = RING_WORKERS_PER_QUEUE;

	r = calloc(1, sizeof(*r) +
			      (size_t)nr_queues * wpq * sizeof(r->workers[0]));
	if (!r)
		return -ENOMEM;
	*out = r;
	r->d = d;
	r->se = d->se;
	r->fuse_fd = fuse_session_fd(d->se);
	r->nr_queues = nr_queues;
	r->nr_helpers = per_queue;
	if (per_queue < RING_MIN_ENTRIES)
		per_queue = RING_MIN_ENTRIES;
	r->nr_workers = nr_queues * wpq;
	r->per_worker = (per_queue + wpq - 1) / wpq;
	r->per_queue = r->per_worker * wpq;
	/* the kernel wants max(max_write, max_pages pages): both 1 MiB */
	r->payload_size = d->buf_size;
	r->map_size = page + r->payload_size;
	r->stop_fd = -1;
	for (i = 0; i < r->nr_workers; i++)
		r->workers[i].done_fd = -1;
	r->ents = calloc((size_t)nr_queues * r->per_queue, sizeof(r->ents[0]));
	r->helpers = calloc(r->nr_helpers, sizeof(r->helpers[0]));
	if (!r->ents || !r->helpers)
		return -ENOMEM;
	for (i = 0; i < nr_queues * r->per_queue; i++) {
		struct ring_ent *e = &r->ents[i];

		e->w = &r->workers[i / r->per_worker];
		e->map = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (e->map == MAP_FAILED) {
			e->map = NULL;
			return -ENOMEM;
		}
		e->hdr = (struct uzram_uring_req_header *)e->map;
		e->payload = e->map + page;
	}
	for (i = 0; i < r->nr_workers; i++) {
		struct ring_worker *w = &r->workers[i];

		w->ring = r;
		w->qid = i / wpq;
		w->ents = &r->ents[(size_t)i * r->per_worker];
		w->nr_ents = r->per_worker;
		w->done_fd = eventfd(0, EFD_CLOEXEC);
		if (w->done_fd < 0)
			return -errno;
		pthread_mutex_init(&w->done_lock, NULL);
	}
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->stop_fd < 0)
		return -errno;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->reported_cond, NULL);
	pthread_mutex_init(&r->away_lock, NULL);
	pthread_cond_init(&r->away_cond, NULL);
	return 0;
}

/* Start the helpers, then every worker; returns the workers started. */
static unsigned int ring_threads_start(struct uzram_ring *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_helpers; i++) {
		if (pthread_create(&r->helpers[i], NULL, helper_thread, r))
			return 0;
		r->helpers_started++;
	}
	for (i = 0; i < r->nr_workers; i++) {
		if (pthread_create(&r->workers[i].thread, NULL, worker_thread,
				   &r->workers[i]))
			break;
		r->workers[i].started = true;
	}
	return i;
}

int uzram_ring_start(struct uzram_daemon *d, unsigned int per_queue,
		     struct uzram_ring **out, char *why, size_t why_size)
{
	struct uzram_ring *r = NULL;
	unsigned int started;
	int ret;

	ret = ring_alloc(d, per_queue, &r);
	if (ret) {
		snprintf(why, why_size, "cannot set the ring up: %s",
			 strerror(-ret));
		goto err_free;
	}
	started = ring_threads_start(r);
	pthread_mutex_lock(&r->lock);
	while (r->nr_reported < started)
		pthread_cond_wait(&r->reported_cond, &r->lock);
	ret = r->first_error;
	pthread_mutex_unlock(&r->lock);
	if (!ret && started < r->nr_workers)
		ret = -EAGAIN;
	if (ret) {
		snprintf(why, why_size,
			 "the kernel refused the ring (REGISTER: %s)",
			 strerror(-ret));
		goto err_stop;
	}
	*out = r;
	return 0;

err_stop:
	uzram_ring_stop(r);
err_free:
	uzram_ring_free(r);
	return ret;
}

void uzram_ring_stop(struct uzram_ring *r)
{
	uint64_t one = 1;
	unsigned int i;
	ssize_t n;

	if (!r || r->stopped)
		return;
	if (r->stop_fd >= 0) {
		n = write(r->stop_fd, &one, sizeof(one));
		(void)n; /* an eventfd write of 1 cannot fail here */
	}
	for (i = 0; i < r->nr_workers; i++)
		if (r->workers[i].started)
			pthread_join(r->workers[i].thread, NULL);
	if (r->helpers_started) {
		pthread_mutex_lock(&r->away_lock);
		r->helpers_stop = true;
		pthread_cond_broadcast(&r->away_cond);
		pthread_mutex_unlock(&r->away_lock);
	}
	for (i = 0; i < r->helpers_started; i++)
		pthread_join(r->helpers[i], NULL);
	r->stopped = true;
}

void uzram_ring_free(struct uzram_ring *r)
{
	unsigned int i;

	if (!r)
		return;
	for (i = 0; r->ents && i < r->nr_queues * r->per_queue; i++)
		if (r->ents[i].map)
			munmap(r->ents[i].map, r->map_size);
	for (i = 0; i < r->nr_workers; i++)
		if (r->workers[i].done_fd >= 0) {
			close(r->workers[i].done_fd);
			pthread_mutex_destroy(&r->workers[i].done_lock);
		}
	free(r->ents);
	free(r->helpers);
	if (r->stop_fd >= 0) {
		close(r->stop_fd);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->reported_cond);
		pthread_mutex_destroy(&r->away_lock);
		pthread_cond_destroy(&r->away_cond);
	}
	free(r);
}
