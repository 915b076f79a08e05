/*
 * zram_fixture.h - fixtures and whole-store checks the store's tests share
 * (they look inside: zram_internal.h).
 */
#ifndef UZRAM_TESTS_ZRAM_FIXTURE_H
#define UZRAM_TESTS_ZRAM_FIXTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "zram_internal.h"

/*
 * A sparse backing file of @bytes at "<@dir>/backing" in @path (@size
 * bytes); @dir is a mkdtemp() template, made here. The caller unlinks
 * @path and removes @dir.
 */
static inline void fixture_backing(char *dir, char *path, size_t size,
				   uint64_t bytes)
{
	int fd;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, size, "%s/backing", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, (off_t)bytes) == 0);
	close(fd);
}

/* How many dictionary counts of any (priority, codec, index) are held:
 * 0 once the store holds nothing (an under-count shows as a huge count). */
static inline unsigned int fixture_dict_counts_held(struct zram *z)
{
	unsigned int p, c, d, held = 0;

	for (p = 0; p < ZRAM_PRIOS; p++)
		for (c = 0; c < ZRAM_CODECS; c++)
			for (d = 0; d < ZRAM_DICT_SLOTS; d++)
				held += atomic_load(
						&z->params[p][c].pages[d]) != 0;
	return held;
}

#endif
