/*
 * zram_attr.h - the store's control files, as the tests drive them: by name
 * through the attribute table, the same path the FUSE layer takes.
 */
#ifndef UZRAM_TESTS_ZRAM_ATTR_H
#define UZRAM_TESTS_ZRAM_ATTR_H

#include <string.h>

#include "harness.h"
#include "zram.h"

/* Write @s to the control file @name. Returns its store()'s 0 or -errno. */
static inline int attr_store(struct zram *z, const char *name, const char *s)
{
	return zram_attr_find(name)->store(z, s, strlen(s));
}

/* Read the file @name; the text lives until the next attr_show(). */
static inline const char *attr_show(struct zram *z, const char *name)
{
	static char out[ZRAM_ATTR_SHOW_MAX];
	ssize_t n = zram_attr_find(name)->show(z, out, sizeof(out));

	REQUIRE(n >= 0 && (size_t)n < sizeof(out));
	out[n] = '\0';
	return out;
}

#endif
