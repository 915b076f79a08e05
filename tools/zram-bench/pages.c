/*
 * pages.c - the zram-bench tools' loader of real data (pages.h).
 *
 * nftw() hands its callback no pointer of the caller's, so the set being
 * loaded and its capacity are the file's two statics: one load at a time.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pages.h"

static struct pages *load_target;
static size_t load_cap; /* pages */

/* nftw() callback: append @path's pages; 1 (stop the walk) once full. */
static int load_file(const char *path, const struct stat *sb, int type,
		     struct FTW *ftw)
{
	struct pages *p = load_target;
	ssize_t n;
	int fd;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(sb->st_mode) || !sb->st_size)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0;
	while (p->count < load_cap) {
		unsigned char *pg = p->data + p->count * PAGE;

		n = read(fd, pg, PAGE);
		if (n <= 0)
			break;
		memset(pg + n, 0, PAGE - (size_t)n);
		p->count++;
	}
	p->files++;
	close(fd);
	return p->count >= load_cap;
}

int pages_load(struct pages *p, const char *const *dirs, size_t ndirs,
	       size_t max_mb)
{
	size_t i;
	int err;

	load_cap = max_mb * (1u << 20) / PAGE;
	p->count = 0;
	p->files = 0;
	p->data = load_cap ? aligned_alloc(PAGE, load_cap * PAGE) : NULL;
	if (!p->data)
		return -ENOMEM;
	load_target = p;
	for (i = 0; i < ndirs && p->count < load_cap; i++) {
		if (nftw(dirs[i], load_file, 64, FTW_PHYS) < 0) {
			err = -errno;
			goto err_free;
		}
	}
	if (p->count)
		return 0;
	err = -ENODATA;
err_free:
	free(p->data);
	p->data = NULL;
	return err;
}
