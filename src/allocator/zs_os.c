/*
 * zs_os.c - the OS layer: the only code of the allocator that calls mmap,
 * madvise and munmap.
 *
 * Everything the pool holds (page chunks, chunk descriptors, id-table blocks
 * and directories) comes from here as private anonymous mappings, so memory
 * the pool gives back really leaves the process: os_release() drops a range's
 * pages (MADV_DONTNEED) while keeping the address range, and the next touch
 * gets fresh zero pages.
 *
 * Locked memory (the daemon's --mlock, mlockall(MCL_CURRENT | MCL_FUTURE |
 * MCL_ONFAULT)): the kernel refuses MADV_DONTNEED on a locked range with
 * EINVAL, which would pin every page the pool ever used. So a refused
 * release unlocks the range, drops it, and locks it again on fault only
 * (mlock2 MLOCK_ONFAULT, which populates nothing): the memory leaves, and
 * the next touch of the range is locked again as mlockall would have done.
 * The three calls are made only for ranges that were locked, so an unlocked
 * process pays one madvise per release as before.
 */
#include <errno.h>
#include <malloc.h>
#include <sys/mman.h>

#include "zs_internal.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

/* os_map - @bytes of zeroed memory, or NULL with errno set. */
void *os_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * Transparent huge pages would make a 4 KiB write resident 2 MiB and
	 * split on every release: resident memory must follow the pages used.
	 * EINVAL: a kernel without THP, where there is nothing to turn off.
	 */
	if (madvise(p, bytes, MADV_NOHUGEPAGE) && errno != EINVAL) {
		int err = errno;

		munmap(p, bytes); /* the whole new mapping: cannot fail */
		errno = err;
		return NULL;
	}
	return p;
}

void os_unmap(void *addr, size_t bytes)
{
	int ret;

	if (!addr)
		return;
	zs_unpoison(addr, bytes);
	/* a whole mapping from os_map(): no split, so it cannot fail */
	ret = munmap(addr, bytes);
	assert(!ret);
	(void)ret;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * os_populate - make a range resident now, in one call (a hint: a kernel
 * without MADV_POPULATE_WRITE, or no memory now, leaves it to the faults).
 */
void os_populate(void *addr, size_t bytes)
{
	(void)madvise(addr, bytes, MADV_POPULATE_WRITE);
}

/* os_release - give the pages of a range back to the OS, keep the range. */
int os_release(void *addr, size_t bytes)
{
	return zs_os_release(addr, bytes);
}

int zs_os_release(void *addr, size_t bytes)
{
	int err;

	if (!madvise(addr, bytes, MADV_DONTNEED))
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* locked (mlockall): unlock, drop, lock again on the next fault */
	if (munlock(addr, bytes))
		return -errno;
	err = madvise(addr, bytes, MADV_DONTNEED) ? -errno : 0;
	if (mlock2(addr, bytes, MLOCK_ONFAULT) && !err)
		err = -errno;
	return err;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ZS_SANITIZED 1
#endif
#endif

void zs_os_heap_trim(void)
{
#if defined(__GLIBC__) && !defined(ZS_SANITIZED)
	malloc_trim(0);
#endif
}
