/*
 * backing.c - the backing store: open, pack, write, read, release, punch.
 *
 * See backing.h for the layout and the free-space map. Why packed: zram
 * writes one 4 KiB block per page even when the page compressed to 300
 * bytes; here the store holds about compr_data_size, and whole blocks whose
 * objects are all gone are given back (hole punch / discard).
 *
 * Lock order: slot lock -> b->lock (a leaf). No I/O under b->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"

#define BLOCK_PUNCH 0xffffu
#define BLOCK_PUNCHING 0xfffeu
#define PUNCH_RANGES 64u

static int fd_open(const char *path, bool blk, bool *direct)
{
	int flags = O_RDWR | O_CLOEXEC | O_LARGEFILE | (blk ? O_EXCL : 0);
	int fd = open(path, flags | O_DIRECT);

	*direct = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (!blk && flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return -EBUSY;
	}
	return fd;
}

static int size_get(int fd, bool blk, uint64_t *size)
{
	struct stat sb;

	if (blk)
		return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
	if (fstat(fd, &sb))
		return -errno;
	*size = (uint64_t)sb.st_size;
	return 0;
}

int backing_open(const char *path, struct zram_backing **out)
{
	struct zram_backing *b;
	struct stat sb;
	uint64_t size;
	int err;

	if (stat(path, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->is_blk = S_ISBLK(sb.st_mode);
	b->fd = fd_open(path, b->is_blk, &b->direct);
	err = b->fd;
	if (err < 0)
		goto err_free;
	err = size_get(b->fd, b->is_blk, &size);
	if (!err && size < BACKING_BLOCK)
		err = -EINVAL;
	if (err)
		goto err_close;
	b->nr_blocks = size / BACKING_BLOCK;
	b->free_blocks = b->nr_blocks;
	err = -ENOMEM;
	b->live = calloc(b->nr_blocks, sizeof(*b->live));
	b->path = strdup(path);
	if (!b->live || !b->path)
		goto err_close;
	err = -pthread_mutex_init(&b->lock, NULL);
	if (err)
		goto err_close;
	*out = b;
	return 0;
err_close:
	free(b->live);
	free(b->path);
	close(b->fd);
err_free:
	free(b);
	return err;
}

/*
 * A discard that freed the last written-back page may still be punching
 * holes in @old (it loaded z->backing before the exchange): mark it dead so
 * no new punch starts, and wait for the running ones before the fd is
 * closed, so no hole is punched through a reused descriptor number and
 * `live` is not freed under them. The store is empty here (the caller
 * checked), so whatever they would still punch does not matter.
 */
void backing_retire(struct zram_backing *old, struct zram_backing **list)
{
	if (!old)
		return;
	pthread_mutex_lock(&old->lock);
	old->dead = true;
	while (old->punchers) {
		pthread_mutex_unlock(&old->lock);
		usleep(100);
		pthread_mutex_lock(&old->lock);
	}
	pthread_mutex_unlock(&old->lock);
	close(old->fd);
	old->fd = -1;
	free(old->live);
	old->live = NULL;
	old->retired = *list;
	*list = old;
}

void backing_close(struct zram_backing *b)
{
	while (b) {
		struct zram_backing *next = b->retired;

		pthread_mutex_destroy(&b->lock);
		if (b->fd >= 0)
			close(b->fd);
		free(b->live);
		free(b->path);
		free(b);
		b = next;
	}
}

int backing_batch_init(struct backing_batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	bt->buf = aligned_alloc(BACKING_BLOCK,
				(size_t)BACKING_BATCH_BLOCKS * BACKING_BLOCK);
	return bt->buf ? 0 : -ENOMEM;
}

void backing_batch_fini(struct backing_batch *bt)
{
	free(bt->buf);
	bt->buf = NULL;
}

/* Add @n live bytes from store offset @off. Locking: b->lock held. */
static void live_add(struct zram_backing *b, uint64_t off, size_t n)
{
	while (n) {
		uint64_t blk = off / BACKING_BLOCK;
		size_t in = BACKING_BLOCK - off % BACKING_BLOCK;

		if (in > n)
			in = n;
		b->live[blk] += (uint16_t)in;
		off += in;
		n -= in;
	}
}

/* Take block @blk (free). Locking: b->lock held. */
static void block_take(struct zram_backing *b, uint64_t blk)
{
	b->free_blocks--;
	atomic_fetch_add_explicit(&b->used_blocks, 1, memory_order_relaxed);
	(void)blk;
}

/*
 * Find @n adjacent free blocks, next-fit from the cursor. Returns the first
 * or UINT64_MAX. Locking: b->lock held.
 */
static uint64_t blocks_find(struct zram_backing *b, unsigned int n)
{
	uint64_t i, run = 0;
	uint64_t start = b->cursor < b->nr_blocks ? b->cursor : 0;

	if (b->free_blocks < n)
		return UINT64_MAX;
	for (i = 0; i < b->nr_blocks; i++) {
		uint64_t blk = (start + i) % b->nr_blocks;

		if (blk == 0)
			run = 0;
		run = b->live[blk] ? 0 : run + 1;
		if (run == n) {
			b->cursor = blk + 1;
			return blk + 1 - n;
		}
	}
	return UINT64_MAX;
}

/* Grow the last run by the blocks an object at its end needs. */
static bool run_extend(struct zram_backing *b, struct backing_batch *bt,
		       size_t len)
{
	unsigned int r = bt->nr_runs - 1;
	size_t pos = bt->used - bt->runs[r].buf_off;
	uint64_t need = (pos + len + BACKING_BLOCK - 1) / BACKING_BLOCK;
	uint64_t end = bt->runs[r].block + bt->runs[r].nblocks, i;

	if (need <= bt->runs[r].nblocks)
		return true;
	need -= bt->runs[r].nblocks;
	if (bt->runs[r].buf_off + (bt->runs[r].nblocks + need) * BACKING_BLOCK >
		    (size_t)BACKING_BATCH_BLOCKS * BACKING_BLOCK ||
	    end + need > b->nr_blocks)
		return false;
	for (i = 0; i < need; i++)
		if (b->live[end + i])
			return false;
	for (i = 0; i < need; i++)
		block_take(b, end + i);
	bt->runs[r].nblocks += (uint32_t)need;
	return true;
}

/* Start a new run for an object of @len bytes. Locking: b->lock held. */
static int run_start(struct zram_backing *b, struct backing_batch *bt,
		     size_t len)
{
	unsigned int n =
		(unsigned int)((len + BACKING_BLOCK - 1) / BACKING_BLOCK);
	size_t buf_off = 0;
	uint64_t blk, i;

	if (bt->nr_runs) {
		unsigned int r = bt->nr_runs - 1;

		buf_off = bt->runs[r].buf_off +
			  (size_t)bt->runs[r].nblocks * BACKING_BLOCK;
	}
	if (bt->nr_runs == BACKING_BATCH_BLOCKS ||
	    buf_off + (size_t)n * BACKING_BLOCK >
		    (size_t)BACKING_BATCH_BLOCKS * BACKING_BLOCK)
		return -EAGAIN;
	blk = blocks_find(b, n);
	if (blk == UINT64_MAX)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		block_take(b, blk + i);
	bt->runs[bt->nr_runs].block = blk;
	bt->runs[bt->nr_runs].nblocks = n;
	bt->runs[bt->nr_runs].buf_off = (uint32_t)buf_off;
	bt->nr_runs++;
	bt->used = buf_off;
	return 0;
}

int backing_place(struct zram_backing *b, struct backing_batch *bt, size_t len,
		  uint64_t *off, unsigned char **dst)
{
	unsigned int r;
	int err = 0;

	pthread_mutex_lock(&b->lock);
	if (!bt->nr_runs || !run_extend(b, bt, len))
		err = run_start(b, bt, len);
	if (!err) {
		r = bt->nr_runs - 1;
		*off = bt->runs[r].block * BACKING_BLOCK + bt->used -
		       bt->runs[r].buf_off;
		*dst = bt->buf + bt->used;
		live_add(b, *off, len);
		bt->used += len;
	}
	pthread_mutex_unlock(&b->lock);
	return err;
}

static int pio(int fd, bool wr, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? pwrite(fd, (char *)buf + done, len - done,
					(off_t)(off + done))
			       : pread(fd, (char *)buf + done, len - done,
				       (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ENOSPC || errno == EDQUOT ? -ENOSPC
								  : -EIO;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int backing_write(struct zram_backing *b, struct backing_batch *bt)
{
	unsigned int r;
	int err = 0;

	if (bt->nr_runs) {
		unsigned int last = bt->nr_runs - 1;
		size_t end = bt->runs[last].buf_off +
			     (size_t)bt->runs[last].nblocks * BACKING_BLOCK;

		/* the unused tail goes out as zeros, not stale bytes */
		memset(bt->buf + bt->used, 0, end - bt->used);
	}
	for (r = 0; !err && r < bt->nr_runs; r++)
		err = pio(b->fd, true, bt->buf + bt->runs[r].buf_off,
			  (size_t)bt->runs[r].nblocks * BACKING_BLOCK,
			  bt->runs[r].block * BACKING_BLOCK);
	bt->nr_runs = 0;
	bt->used = 0;
	return err;
}

const unsigned char *backing_read(struct zram_backing *b, unsigned char *buf,
				  uint64_t off, size_t len)
{
	uint64_t first = off / BACKING_BLOCK * BACKING_BLOCK;
	uint64_t end =
		(off + len + BACKING_BLOCK - 1) / BACKING_BLOCK * BACKING_BLOCK;

	if (end - first > 2 * BACKING_BLOCK ||
	    pio(b->fd, false, buf, (size_t)(end - first), first))
		return NULL;
	return buf + (off - first);
}

void backing_release(struct zram_backing *b, uint64_t off, size_t len)
{
	pthread_mutex_lock(&b->lock);
	while (len) {
		uint64_t blk = off / BACKING_BLOCK;
		size_t in = BACKING_BLOCK - off % BACKING_BLOCK;

		if (in > len)
			in = len;
		b->live[blk] -= (uint16_t)in;
		if (!b->live[blk]) {
			b->live[blk] = BLOCK_PUNCH;
			b->punch_blocks++;
			atomic_store_explicit(&b->punch_pending, true,
					      memory_order_relaxed);
		}
		off += in;
		len -= in;
	}
	pthread_mutex_unlock(&b->lock);
}

static void hole_punch(struct zram_backing *b, uint64_t blk, uint64_t n)
{
	uint64_t range[2] = {blk * BACKING_BLOCK, n * BACKING_BLOCK};

	/* failures (no discard support) only cost space */
	if (b->is_blk)
		(void)ioctl(b->fd, BLKDISCARD, range);
	else
		(void)fallocate(b->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)range[0], (off_t)range[1]);
}

/* Mark up to PUNCH_RANGES runs of BLOCK_PUNCH blocks PUNCHING. */
static unsigned int punch_collect(struct zram_backing *b, uint64_t (*r)[2])
{
	unsigned int nr = 0;
	uint64_t i;

	for (i = 0; i < b->nr_blocks && b->punch_blocks && nr < PUNCH_RANGES;
	     i++) {
		if (b->live[i] != BLOCK_PUNCH)
			continue;
		if (nr && r[nr - 1][0] + r[nr - 1][1] == i) {
			r[nr - 1][1]++;
		} else {
			r[nr][0] = i;
			r[nr++][1] = 1;
		}
		b->live[i] = BLOCK_PUNCHING;
		b->punch_blocks--;
	}
	if (!b->punch_blocks)
		atomic_store_explicit(&b->punch_pending, false,
				      memory_order_relaxed);
	return nr;
}

void backing_punch(struct zram_backing *b)
{
	uint64_t r[PUNCH_RANGES][2], i, n;
	unsigned int nr, k;

	while (atomic_load_explicit(&b->punch_pending, memory_order_relaxed)) {
		pthread_mutex_lock(&b->lock);
		nr = b->dead ? 0 : punch_collect(b, r);
		if (nr)
			b->punchers++; /* backing_retire waits for us */
		pthread_mutex_unlock(&b->lock);
		if (!nr)
			return;
		for (k = 0; k < nr; k++)
			hole_punch(b, r[k][0], r[k][1]);
		pthread_mutex_lock(&b->lock);
		for (k = 0, n = 0; k < nr; k++) {
			for (i = 0; i < r[k][1]; i++)
				b->live[r[k][0] + i] = 0;
			n += r[k][1];
		}
		b->free_blocks += n;
		b->punchers--;
		pthread_mutex_unlock(&b->lock);
		atomic_fetch_sub_explicit(&b->used_blocks, n,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&b->punched, n, memory_order_relaxed);
	}
}
