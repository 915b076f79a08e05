/*
 * zs_os.c - the OS layer: the only code of the allocator that calls mmap,
 * madvise and munmap.
 *
 * Everything the pool holds (page chunks, chunk descriptors, id-table blocks
 * and directories) comes from here as private anonymous mappings, so memory
 * the pool gives back really leaves the process: os_release() drops a range's
 * pages (MADV_DONTNEED) while keeping the address range, and the next touch
 * gets fresh zero pages.
 */
#include <errno.h>
#include <sys/mman.h>

#include "zs_internal.h"

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
	 */
	madvise(p, bytes, MADV_NOHUGEPAGE);
	return p;
}

void os_unmap(void *addr, size_t bytes)
{
	if (addr) {
		zs_unpoison(addr, bytes);
		munmap(addr, bytes);
	}
}

/* os_release - give the pages of a range back to the OS, keep the range. */
void os_release(void *addr, size_t bytes)
{
	madvise(addr, bytes, MADV_DONTNEED);
}
