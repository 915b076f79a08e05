/*
 * pages.h - the data of the zram-bench tools: the files of a real tree,
 * read as 4 KiB pages.
 */
#ifndef UZRAM_ZRAM_BENCH_PAGES_H
#define UZRAM_ZRAM_BENCH_PAGES_H

#include <stddef.h>

#define PAGE 4096u

/* The data set: @count pages, page-aligned, back to back, from @files
 * files. */
struct pages {
	unsigned char *data;
	size_t count;
	size_t files;
};

/*
 * Load up to @max_mb MiB of pages from the regular files under each of the
 * @ndirs trees @dirs (links not followed), file after file: a file's pages
 * are consecutive, as ext4 lays out its blocks, and its last page is
 * zero-padded. Files that cannot be opened are passed over.
 * Returns 0 (free @p->data when done), -ENOMEM, -ENODATA if no page was
 * read, or the walk's -errno; on error @p->data is NULL.
 */
int pages_load(struct pages *p, const char *const *dirs, size_t ndirs,
	       size_t max_mb);

#endif
