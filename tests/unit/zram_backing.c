/*
 * zram_backing.c - the backing store's packing and free-space map, alone.
 *
 * Properties: objects are packed back to back (a batch of N bytes takes
 * ceil(N / 4 KiB) blocks), an object may straddle two adjacent blocks and
 * reads back intact from any offset; a batch that cannot grow into the next
 * block starts a new run elsewhere; the map says ENOSPC exactly when no
 * free block is left; a block is reused only after every object in it is
 * released and punched; the file's allocated size follows (holes punched).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"
#include "harness.h"

#define BLOCKS 8u

static char dir[] = "/tmp/zram_backing.XXXXXX";
static char path[128];
static _Alignas(4096) unsigned char rbuf[2 * BACKING_BLOCK];

static uint64_t allocated(void)
{
	struct stat sb;

	REQUIRE(stat(path, &sb) == 0);
	return (uint64_t)sb.st_blocks * 512;
}

static void obj_fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7);
}

static bool obj_check(struct zram_backing *b, uint64_t off, size_t len,
		      unsigned int seed)
{
	static unsigned char want[BACKING_BLOCK];
	const unsigned char *got = backing_read(b, rbuf, off, len);

	obj_fill(want, len, seed);
	return got && !memcmp(got, want, len);
}

/* Place one object of @len bytes, filled by @seed. */
static int place(struct zram_backing *b, struct backing_batch *bt, size_t len,
		 unsigned int seed, uint64_t *off)
{
	unsigned char *dst;
	int err = backing_place(b, bt, len, off, &dst);

	if (!err)
		obj_fill(dst, len, seed);
	return err;
}

static void test_pack(void)
{
	struct zram_backing *b;
	struct backing_batch bt;
	uint64_t off[6];
	static const size_t len[6] = {1000, 3000, 500, 4096, 2000, 100};
	unsigned int i;
	uint64_t total = 0;

	REQUIRE(backing_open(path, &b) == 0);
	REQUIRE(backing_batch_init(&bt) == 0);
	for (i = 0; i < 6; i++) {
		CHECK_EQ(place(b, &bt, len[i], i, &off[i]), 0);
		CHECK_EQ(off[i], total); /* back to back from block 0 */
		total += len[i];
	}
	/* 10696 bytes: three blocks */
	CHECK_EQ(atomic_load(&b->used_blocks), 3);
	CHECK_EQ(backing_write(b, &bt), 0);
	for (i = 0; i < 6; i++)
		CHECK(obj_check(b, off[i], len[i], i));
	CHECK(allocated() <= 3 * BACKING_BLOCK);
	/* a block comes back only once all its objects are gone */
	backing_release(b, off[0], len[0]);
	backing_punch(b);
	CHECK_EQ(atomic_load(&b->used_blocks), 3);
	backing_release(b, off[1], len[1]);
	backing_punch(b);
	/* object 2 (4000..4500) still has 96 bytes in block 0 */
	CHECK_EQ(atomic_load(&b->used_blocks), 3);
	backing_release(b, off[2], len[2]); /* block 0 now empty */
	backing_punch(b);
	CHECK_EQ(atomic_load(&b->used_blocks), 2);
	CHECK(obj_check(b, off[3], len[3], 3)); /* its neighbours intact */
	for (i = 3; i < 6; i++)
		backing_release(b, off[i], len[i]);
	backing_punch(b);
	CHECK_EQ(atomic_load(&b->used_blocks), 0);
	CHECK_EQ(allocated(), 0);
	backing_batch_fini(&bt);
	backing_close(b);
}

static void test_full_and_runs(void)
{
	struct zram_backing *b;
	struct backing_batch bt;
	uint64_t off[BLOCKS + 1], hole;
	unsigned int i;

	REQUIRE(backing_open(path, &b) == 0);
	REQUIRE(backing_batch_init(&bt) == 0);
	for (i = 0; i < BLOCKS; i++)
		CHECK_EQ(place(b, &bt, BACKING_BLOCK, i, &off[i]), 0);
	CHECK_EQ(place(b, &bt, 10, 99, &off[BLOCKS]), -ENOSPC);
	CHECK_EQ(backing_write(b, &bt), 0);
	for (i = 0; i < BLOCKS; i++)
		CHECK(obj_check(b, off[i], BACKING_BLOCK, i));
	/* free block 5 only: a 2-block object cannot fit, a small one can */
	backing_release(b, off[5], BACKING_BLOCK);
	backing_punch(b);
	CHECK_EQ(place(b, &bt, 100, 7, &hole), 0);
	CHECK_EQ(hole, 5 * BACKING_BLOCK);
	/* it does not spill into block 6, which is in use: a new run is
	 * needed, and there is none */
	CHECK_EQ(place(b, &bt, BACKING_BLOCK, 8, &hole), -ENOSPC);
	CHECK_EQ(backing_write(b, &bt), 0);
	CHECK(obj_check(b, 5 * BACKING_BLOCK, 100, 7));
	CHECK(obj_check(b, off[6], BACKING_BLOCK, 6));
	backing_batch_fini(&bt);
	backing_close(b);
}

static void test_open_errors(void)
{
	struct zram_backing *b, *b2;
	char missing[160];

	snprintf(missing, sizeof(missing), "%s/none", dir);
	CHECK_EQ(backing_open(missing, &b), -ENOENT);
	CHECK_EQ(backing_open(dir, &b), -EINVAL);
	CHECK_EQ(backing_open("/dev/null", &b), -EINVAL);
	REQUIRE(backing_open(path, &b) == 0);
	CHECK_EQ(backing_open(path, &b2), -EBUSY); /* one store per file */
	backing_close(b);
	REQUIRE(backing_open(path, &b2) == 0);
	backing_close(b2);
}

int main(void)
{
	int fd;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/backing", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, BLOCKS * BACKING_BLOCK) == 0);
	close(fd);
	test_open_errors();
	test_pack();
	test_full_and_runs();
	unlink(path);
	rmdir(dir);
	return harness_finish("zram_backing");
}
