/*
 * transport_uring.c - FUSE over io_uring: the ring's queues, entries and
 * workers (the kernel ABI is in uring_abi.h, the why in transport.h and
 * docs/decisions.md).
 *
 * The kernel keeps one queue per possible CPU and gives a request to the
 * queue of the CPU its submitter runs on, to the first free entry there;
 * a request finds no entry of another queue. So each queue gets at least
 * four entries (RING_MIN_ENTRIES in transport.c), and each entry is
 * served by its own worker thread with its own small io_uring: a worker
 * that sleeps inside a request (a reader parked in a pool mapping, a slow
 * codec) holds up exactly one entry, and the kernel hands the next request
 * of that CPU to another. A worker
 * costs one system call per request: io_uring_enter() submits the
 * COMMIT_AND_FETCH of the reply and waits for the next request.
 *
 * An entry's memory is one mapping: the kernel's request header at its
 * start, the payload from the next page on. The payload is also the
 * worker's reply buffer (uzram_worker_buf(), via the daemon's buf_key), so
 * a read decompresses straight into the page the kernel copies from, and a
 * write's data is passed from where the kernel put it: no copy in between.
 * libfuse wants a request as one buffer (fuse_in_header, the opcode's
 * argument, then its data); the few header bytes are copied in just before
 * the payload, so the data stays where it is.
 *
 * Each ring is created by its worker and only ever entered by it
 * (IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN): the kernel copies a
 * request into the entry's buffers only while that worker is inside
 * io_uring_enter(), which is what lets an idle worker give its payload
 * pages back (MADV_DONTNEED) without racing the kernel's copy.
 *
 * Stopping: an eventfd polled by every ring wakes all workers at once
 * (uzram_ring_stop). A worker also ends when its command completes with an
 * error: -ENOTCONN at unmount or abort. Closing a ring cancels its
 * command; the kernel may still write to an entry until the connection is
 * torn down, so the mappings are freed only after the unmount.
 *
 * Locking: r->lock guards r->nr_reported and r->nr_failed while the
 * workers register (start-up only). Nothing else is shared between the
 * workers: each entry belongs to its thread.
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
#include <unistd.h>

#include "daemon.h"
#include "uring_abi.h"
#include "zsmalloc.h"

#define RING_TAG_ENT 1u	 /* the entry's command */
#define RING_TAG_STOP 2u /* the stop eventfd's poll */

/* A worker idle this long gives its payload pages and codec contexts back */
#define RING_IDLE_MS 2000

/*
 * The entry the calling thread serves, NULL outside ring workers. Per
 * thread, not shared: the writev hook uses it to tell a ring worker's
 * reply from one for /dev/fuse, from the worker's first request on (the
 * ring may carry requests before uzram_ring_start() has returned).
 */
static __thread struct ring_ent *current_ent;

struct ring_ent {
	struct uzram_ring *ring;
	unsigned int qid;
	pthread_t thread;
	bool started; /* thread was created */
	struct io_uring uring;
	char *map; /* header page + payload */
	struct uzram_uring_req_header *hdr;
	char *payload;
	uint64_t unique;    /* the request being handled, 0 if none */
	uint64_t commit_id; /* its ring_ent_in_out.commit_id */
	bool replied;	    /* the reply is staged in the entry */
	bool idle_dropped;  /* payload pages were given back */
};

struct uzram_ring {
	struct uzram_daemon *d;
	struct fuse_session *se;
	int fuse_fd;
	int stop_fd; /* eventfd: readable once the ring is stopping */
	unsigned int nr_queues, per_queue, nr_ents;
	size_t payload_size, map_size;
	pthread_mutex_t lock;
	pthread_cond_t reported_cond;
	unsigned int nr_reported; /* protected by lock */
	int first_error;	  /* protected by lock */
	bool stopped;
	struct ring_ent ents[];
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

static struct io_uring_sqe *ring_cmd_sqe(struct ring_ent *e, uint32_t op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->uring);
	struct uzram_uring_cmd_req *req;

	if (!sqe)
		return NULL;
	memset(sqe, 0, 128); /* an SQE128 slot */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = e->ring->fuse_fd;
	sqe->cmd_op = op;
	sqe->user_data = RING_TAG_ENT;
	req = (struct uzram_uring_cmd_req *)sqe->cmd;
	req->qid = (uint16_t)e->qid;
	return sqe;
}

static int ent_register_prep(struct ring_ent *e, struct iovec *iov)
{
	struct io_uring_sqe *sqe = ring_cmd_sqe(e, UZRAM_URING_CMD_REGISTER);

	if (!sqe)
		return -EBUSY;
	iov[0].iov_base = e->hdr;
	iov[0].iov_len = sizeof(*e->hdr);
	iov[1].iov_base = e->payload;
	iov[1].iov_len = e->ring->payload_size;
	sqe->addr = (uint64_t)(uintptr_t)iov;
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
static int ent_stop_poll_prep(struct ring_ent *e)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&e->uring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128);
	io_uring_prep_poll_add(sqe, e->ring->stop_fd, POLLIN);
	sqe->user_data = RING_TAG_STOP;
	return 0;
}

static int ent_uring_init(struct ring_ent *e)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(4, &e->uring, &p);
	if (ret == -EINVAL) { /* before Linux 6.1; the ABI needs 6.14 anyway */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		ret = io_uring_queue_init_params(4, &e->uring, &p);
	}
	return ret;
}

/* Tell uzram_ring_start() how registration went (0 or -errno). */
static void ent_report(struct ring_ent *e, int err)
{
	struct uzram_ring *r = e->ring;

	pthread_mutex_lock(&r->lock);
	if (err && !r->first_error)
		r->first_error = err;
	r->nr_reported++;
	pthread_cond_broadcast(&r->reported_cond);
	pthread_mutex_unlock(&r->lock);
}

/*
 * Set up the entry's ring and register it. A REGISTER that fails does so
 * at once (inline completion); one that succeeds completes only when a
 * request arrives. Returns 0 or -errno.
 */
static int ent_register(struct ring_ent *e)
{
	struct iovec iov[2]; /* the kernel reads it during the submit */
	struct io_uring_cqe *cqe;
	int ret;

	ret = ent_uring_init(e);
	if (ret)
		return ret;
	ret = ent_stop_poll_prep(e);
	if (!ret)
		ret = ent_register_prep(e, iov);
	if (!ret) {
		ret = io_uring_submit(&e->uring);
		ret = ret == 2 ? 0 : ret < 0 ? ret : -EIO;
	}
	while (!ret && !io_uring_peek_cqe(&e->uring, &cqe)) {
		if (cqe->user_data == RING_TAG_ENT && cqe->res < 0)
			ret = cqe->res;
		else if (cqe->user_data == RING_TAG_STOP)
			ret = -ECANCELED;
		else
			break; /* a request already: leave it for the loop */
		io_uring_cqe_seen(&e->uring, cqe);
	}
	if (ret)
		io_uring_queue_exit(&e->uring);
	return ret;
}

/*
 * Rebuild the request as libfuse reads it from /dev/fuse: the in header
 * and the opcode's first argument right before the payload. The argument's
 * size is what in.len leaves after the header and the payload.
 */
static void ent_handle(struct ring_ent *e)
{
	const struct uzram_uring_ent_in_out *io = &e->hdr->ring_ent_in_out;
	struct fuse_in_header in;
	struct fuse_buf fb;
	size_t payload = io->payload_sz, arg0;
	char *start;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	e->unique = in.unique;
	e->commit_id = io->commit_id;
	e->replied = false;
	if (payload > e->ring->payload_size || in.len < sizeof(in) + payload ||
	    in.len - sizeof(in) - payload > UZRAM_URING_OP_IN_OUT_SZ)
		goto bad;
	arg0 = in.len - sizeof(in) - payload;
	start = e->payload - arg0 - sizeof(in);
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), e->hdr->op_in, arg0);
	memset(&fb, 0, sizeof(fb));
	fb.mem = start;
	fb.size = in.len;
	fuse_session_process_buf(e->ring->se, &fb);
	if (e->replied)
		return;
	/* every op replies before it returns; a request that needs no
	 * reply (FORGET) never comes this way: answer it anyway */
bad:
	memset(e->hdr->in_out, 0, sizeof(struct fuse_out_header));
	((struct fuse_out_header *)e->hdr->in_out)->unique = in.unique;
	((struct fuse_out_header *)e->hdr->in_out)->error = -EIO;
	((struct fuse_out_header *)e->hdr->in_out)->len =
		sizeof(struct fuse_out_header);
	e->hdr->ring_ent_in_out.payload_sz = 0;
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
	r = e->ring;
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

/*
 * Idle: give the payload pages and the codec contexts back. Safe while the
 * entry is registered: the kernel writes a request into it only from our
 * own io_uring_enter() (DEFER_TASKRUN), never while we are here.
 */
static void ent_idle(struct ring_ent *e)
{
	zs_os_release(e->map, e->ring->map_size); /* works under --mlock */
	zram_thread_idle(e->ring->d->zram);
	zs_os_heap_trim(); /* what the codec contexts left in malloc's arenas */
	e->idle_dropped = true;
}

/*
 * Wait for the next completion; after RING_IDLE_MS without one, drop the
 * idle memory once and wait on. Returns 0 with *@cqe, or -errno.
 */
static int ent_wait(struct ring_ent *e, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ts = {.tv_sec = RING_IDLE_MS / 1000,
				       .tv_nsec = (RING_IDLE_MS % 1000) *
						  1000000L};
	int ret;

	for (;;) {
		if (e->idle_dropped)
			ret = io_uring_submit_and_wait(&e->uring, 1);
		else
			ret = io_uring_submit_and_wait_timeout(&e->uring, cqe,
							       1, &ts, NULL);
		if (ret >= 0 || ret == -ETIME || ret == -EINTR) {
			if (!io_uring_peek_cqe(&e->uring, cqe)) {
				e->idle_dropped = false;
				return 0;
			}
			if (ret == -ETIME)
				ent_idle(e);
			continue;
		}
		return ret;
	}
}

/* Serve requests until stopped or the connection goes. */
static void ent_loop(struct ring_ent *e)
{
	struct io_uring_cqe *cqe;
	int res;

	for (;;) {
		if (ent_wait(e, &cqe))
			return;
		res = cqe->res;
		if (cqe->user_data == RING_TAG_STOP) {
			io_uring_cqe_seen(&e->uring, cqe);
			return;
		}
		io_uring_cqe_seen(&e->uring, cqe);
		if (res < 0) {
			if (res != -ENOTCONN && res != -ECONNABORTED &&
			    res != -ECANCELED)
				fprintf(stderr,
					"uzram: io_uring queue %u: %s; entry "
					"closed\n",
					e->qid, strerror(-res));
			return;
		}
		ent_handle(e);
		if (ent_commit_prep(e))
			return;
	}
}

static void *ent_thread(void *arg)
{
	struct ring_ent *e = arg;
	struct uzram_ring *r = e->ring;
	int ret;

	current_ent = e;
	/* the reply buffer is the payload: see the file comment */
	pthread_setspecific(r->d->buf_key, e->payload);
	ret = ent_register(e);
	ent_report(e, ret);
	if (!ret) {
		ent_loop(e);
		io_uring_queue_exit(&e->uring);
	}
	pthread_setspecific(r->d->buf_key, NULL); /* not ours to free */
	current_ent = NULL;
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
	r = calloc(1, sizeof(*r) + (size_t)nr_queues * per_queue *
					   sizeof(r->ents[0]));
	if (!r)
		return -ENOMEM;
	r->d = d;
	r->se = d->se;
	r->fuse_fd = fuse_session_fd(d->se);
	r->nr_queues = nr_queues;
	r->per_queue = per_queue;
	r->nr_ents = nr_queues * per_queue;
	/* the kernel wants max(max_write, max_pages pages): both 1 MiB */
	r->payload_size = d->buf_size;
	r->map_size = page + r->payload_size;
	r->stop_fd = -1;
	*out = r;
	for (i = 0; i < r->nr_ents; i++) {
		struct ring_ent *e = &r->ents[i];

		e->ring = r;
		e->qid = i / per_queue;
		e->map = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (e->map == MAP_FAILED) {
			e->map = NULL;
			return -ENOMEM;
		}
		e->hdr = (struct uzram_uring_req_header *)e->map;
		e->payload = e->map + page;
	}
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->stop_fd < 0)
		return -errno;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->reported_cond, NULL);
	return 0;
}

/* Start every worker; returns the number started. */
static unsigned int ring_threads_start(struct uzram_ring *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_ents; i++) {
		if (pthread_create(&r->ents[i].thread, NULL, ent_thread,
				   &r->ents[i]))
			break;
		r->ents[i].started = true;
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
	if (!ret && started < r->nr_ents)
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
	for (i = 0; i < r->nr_ents; i++)
		if (r->ents[i].started)
			pthread_join(r->ents[i].thread, NULL);
	r->stopped = true;
}

void uzram_ring_free(struct uzram_ring *r)
{
	unsigned int i;

	if (!r)
		return;
	for (i = 0; i < r->nr_ents; i++)
		if (r->ents[i].map)
			munmap(r->ents[i].map, r->map_size);
	if (r->stop_fd >= 0) {
		close(r->stop_fd);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->reported_cond);
	}
	free(r);
}
