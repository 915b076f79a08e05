/*
 * backing.h - the backing store of written-back pages (private to
 * src/zram/): a regular file or a block device holding compressed objects
 * packed back to back, with its own free-space map.
 *
 * Layout: the store is cut into 4 KiB blocks. A writeback pass fills a
 * batch buffer with objects exactly as they were in the pool (compressed,
 * or raw for huge pages) and writes it with one pwrite per run of adjacent
 * blocks; an object never spans two blocks that are not adjacent. An
 * object's address is its byte offset on the store; its length is the
 * slot's size.
 *
 * Free-space map: one 16-bit word per block, the number of live object
 * bytes in it (0 = free; BLOCK_PUNCH = every object freed, the hole not
 * punched yet; BLOCK_PUNCHING = being punched). A block is handed out again
 * only once it is free: when its last object goes, the block waits for
 * backing_punch(), which punches the hole (FALLOC_FL_PUNCH_HOLE on a file,
 * BLKDISCARD on a device) outside the lock, so the file's allocated size
 * follows the live data. A batch's last block keeps its unused tail until
 * all its objects are freed (no compaction of the backing store).
 *
 * Locking: `lock` (mutex) guards the map, the cursor and the counters; it is
 * a leaf (taken under a slot lock by backing_release()) and is never held
 * across I/O.
 */
#ifndef UZRAM_BACKING_H
#define UZRAM_BACKING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKING_BLOCK 4096u
#define BACKING_BATCH_BLOCKS 64u /* 256 KiB per write */

struct zram_backing {
	int fd;
	bool is_blk;
	bool direct; /* opened O_DIRECT */
	char *path;
	uint64_t nr_blocks;

	pthread_mutex_t lock;
	uint16_t *live;	       /* protected by lock */
	uint64_t cursor;       /* next-fit start; protected by lock */
	uint64_t free_blocks;  /* protected by lock */
	uint64_t punch_blocks; /* BLOCK_PUNCH blocks; protected by lock */
	_Atomic bool punch_pending;
	unsigned int punchers; /* in backing_punch; protected by lock */
	bool dead;	       /* retired: punch nothing; protected by lock */
	_Atomic uint64_t used_blocks; /* not free: live or waiting */
	_Atomic uint64_t punched;     /* blocks given back, ever */
	struct zram_backing *retired; /* older stores, see backing_retire */
};

/* A batch of objects being packed for one write. */
struct backing_batch {
	unsigned char *buf; /* BACKING_BATCH_BLOCKS blocks, 4 KiB aligned */
	size_t used;	    /* bytes of buf placed */
	unsigned int nr_runs;
	struct {
		uint64_t block;	  /* first block on the store */
		uint32_t nblocks; /* adjacent blocks */
		uint32_t buf_off; /* where the run starts in buf */
	} runs[BACKING_BATCH_BLOCKS];
};

/*
 * backing_open - open @path (a block device or a regular file of at least
 * one block) read-write, O_DIRECT where the file system allows, exclusively
 * (O_EXCL for a device, a lock for a file).
 * Returns 0 and *@out, -ENOENT (and other open errors), -EINVAL (not a
 * regular file or block device, or smaller than 4 KiB), -EBUSY (in use by
 * someone else), -ENOMEM.
 */
int backing_open(const char *path, struct zram_backing **out);

/* backing_close - close and free @b and the stores it retired. NULL: no-op.
 * Locking: no other thread may use it. */
void backing_close(struct zram_backing *b);

/*
 * backing_retire - @old was replaced: close its file and free its map now,
 * but keep the struct (path, counters) on *@list until backing_close(),
 * since stat readers load the store pointer without a lock.
 * Locking: pp_lock held; no slot is WB.
 */
void backing_retire(struct zram_backing *old, struct zram_backing **list);

/* backing_batch_init / _fini - a batch buffer (malloc'ed). 0 or -ENOMEM. */
int backing_batch_init(struct backing_batch *bt);
void backing_batch_fini(struct backing_batch *bt);

/*
 * backing_place - reserve room for an object of @len bytes in the batch.
 * Returns 0 with its store offset in *@off and where to copy it in *@dst,
 * -EAGAIN if the batch buffer is full (write it, then place again), -ENOSPC
 * if the store has no free block. Locking: takes b->lock.
 */
int backing_place(struct zram_backing *b, struct backing_batch *bt, size_t len,
		  uint64_t *off, unsigned char **dst);

/*
 * backing_write - write the batch's runs and empty the batch.
 * Returns 0, -ENOSPC (the file system is full), -EIO (any other error).
 * On error the caller releases every object it placed. Locking: none held.
 */
int backing_write(struct zram_backing *b, struct backing_batch *bt);

/*
 * backing_read - read the object at @off, @len bytes, into @buf (two
 * blocks, 4 KiB aligned). Returns a pointer to the object inside @buf, or
 * NULL on an I/O error.
 */
const unsigned char *backing_read(struct zram_backing *b, unsigned char *buf,
				  uint64_t off, size_t len);

/*
 * backing_release - the object at @off, @len bytes, is gone: its blocks
 * lose those live bytes; an emptied block waits for backing_punch().
 * Locking: takes b->lock (may be called under a slot lock).
 */
void backing_release(struct zram_backing *b, uint64_t off, size_t len);

/*
 * backing_punch - give the emptied blocks back to the file system or the
 * device, then make them free. Locking: takes b->lock, never across I/O;
 * call with no slot lock held.
 */
void backing_punch(struct zram_backing *b);

#endif
