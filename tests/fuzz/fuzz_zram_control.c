/*
 * fuzz_zram_control.c - libFuzzer target for the control-file parsers.
 *
 * Input: one selector byte (which writable attribute, modulo their count),
 * then the bytes written to it. For every input: a refused write must leave
 * every readable attribute unchanged; whatever happened, the page stored
 * before must still read back and a new write must work. Any violation
 * aborts (a crash for libFuzzer, a failure for the corpus replay).
 *
 * The store always holds a page when the input is written, so backing_dev
 * is refused (EBUSY) before it looks at the path: the fuzzer never opens,
 * locks or writes back to a real file or device.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char before[16384], after[16384];

static void snapshot(struct zram *z, char *out, size_t size)
{
	static char buf[ZRAM_ATTR_SHOW_MAX];
	const struct zram_attr *a;
	size_t n, i, pos = 0;

	a = zram_attrs(&n);
	for (i = 0; i < n; i++) {
		ssize_t len;

		if (!a[i].show || !strcmp(a[i].name, "classes"))
			continue;
		len = a[i].show(z, buf, sizeof(buf));
		if (len < 0)
			abort();
		pos += (size_t)snprintf(out + pos, size - pos, "%s=%.*s",
					a[i].name, (int)len, buf);
	}
}

static void check_data(struct zram *z, const unsigned char *page)
{
	unsigned char buf[ZRAM_PAGE_SIZE];
	ssize_t n;

	if (zram_read(z, buf, sizeof(buf), ZRAM_PAGE_SIZE) != ZRAM_PAGE_SIZE)
		abort();
	/* reset drops the data: then the page reads as zeros */
	if (memcmp(buf, page, sizeof(buf))) {
		static const unsigned char zero[ZRAM_PAGE_SIZE];

		if (memcmp(buf, zero, sizeof(buf)))
			abort();
	}
	/* a small mem_limit may refuse it, nothing else may */
	n = zram_write(z, page, ZRAM_PAGE_SIZE, 2 * ZRAM_PAGE_SIZE);
	if (n != ZRAM_PAGE_SIZE && n != -ENOSPC)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zram_config cfg = {.disksize = 8 * ZRAM_PAGE_SIZE,
				  .algorithm = "zstd"};
	const struct zram_attr *attrs, *w[32];
	unsigned char page[ZRAM_PAGE_SIZE];
	size_t n, nw = 0, i;
	struct zram *z;
	int err;

	if (!size)
		return 0;
	attrs = zram_attrs(&n);
	/* not the test hook, and not save: it writes a file at any path */
	for (i = 0; i < n && nw < 32; i++)
		if (attrs[i].store &&
		    strcmp(attrs[i].name, "debug_read_delay") &&
		    strcmp(attrs[i].name, "save"))
			w[nw++] = &attrs[i];
	if (zram_create(&cfg, &z))
		abort();
	for (i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)("uzram"[i % 5] + i / 512);
	if (zram_write(z, page, sizeof(page), ZRAM_PAGE_SIZE) != ZRAM_PAGE_SIZE)
		abort();
	snapshot(z, before, sizeof(before));
	err = w[data[0] % nw]->store(z, (const char *)data + 1, size - 1);
	snapshot(z, after, sizeof(after));
	if (err && strcmp(before, after))
		abort();
	check_data(z, page);
	zram_destroy(z);
	return 0;
}
