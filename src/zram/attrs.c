/*
 * attrs.c - the attribute table: one entry per control or stat file.
 *
 * Reads (show) format a fresh value; writes (store) go to control.c, which
 * parses the whole buffer and changes nothing on error. The table is const
 * and shared by every store.
 *
 * Locking: none here (see control.c and stats.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "zram_internal.h"

static ssize_t u64_show(char *buf, size_t size, uint64_t v)
{
	int n = snprintf(buf, size, "%" PRIu64 "\n", v);

	return n < 0 || (size_t)n >= size ? -EFBIG : n;
}

/* "lz4 lz4hc [zstd]\n": every codec, the current one in brackets. */
static ssize_t comp_algorithm_show(struct zram *z, char *buf, size_t size)
{
	unsigned int cur = (unsigned int)atomic_load_explicit(
		&z->algo, memory_order_relaxed);
	size_t pos = 0;
	unsigned int i;

	for (i = 0; i < ZRAM_CODECS; i++) {
		const char *name = zram_codec_get(i)->name;
		int n = snprintf(buf + pos, size - pos,
				 i == cur ? "%s[%s]" : "%s%s", i ? " " : "",
				 name);

		if (n < 0 || (size_t)n >= size - pos)
			return -EFBIG;
		pos += (size_t)n;
	}
	if (pos + 2 > size)
		return -EFBIG;
	buf[pos++] = '\n';
	buf[pos] = '\0';
	return (ssize_t)pos;
}

static ssize_t mem_limit_show(struct zram *z, char *buf, size_t size)
{
	return u64_show(
		buf, size,
		atomic_load_explicit(&z->mem_limit, memory_order_relaxed));
}

static ssize_t mem_used_max_show(struct zram *z, char *buf, size_t size)
{
	struct zram_stats s;

	zram_stats_get(z, &s);
	return u64_show(buf, size, s.mem_used_max);
}

static ssize_t disksize_show(struct zram *z, char *buf, size_t size)
{
	return u64_show(buf, size, zram_disksize(z));
}

static const struct zram_attr attrs[] = {
	{"mm_stat", 0444, zram_mm_stat_show, NULL},
	{"io_stat", 0444, zram_io_stat_show, NULL},
	{"bd_stat", 0444, zram_bd_stat_show, NULL},
	{"debug_stat", 0444, zram_debug_stat_show, NULL},
	{"classes", 0444, zram_classes_show, NULL},
	{"stats.json", 0444, zram_json_show, NULL},
	{"comp_algorithm", 0644, comp_algorithm_show, zram_algo_set},
	{"algorithm_params", 0200, NULL, zram_params_apply},
	{"mem_limit", 0644, mem_limit_show, zram_mem_limit_set},
	{"mem_used_max", 0644, mem_used_max_show, zram_mem_used_max_reset},
	{"compact", 0200, NULL, zram_compact_run},
	{"idle", 0200, NULL, zram_idle_mark},
	{"reset", 0200, NULL, zram_reset_run},
	{"disksize", 0444, disksize_show, NULL},
#ifdef UZRAM_TEST_HOOKS
	{"debug_read_delay", 0200, NULL, zram_read_delay_set},
#endif
};

const struct zram_attr *zram_attrs(size_t *count)
{
	*count = sizeof(attrs) / sizeof(attrs[0]);
	return attrs;
}

const struct zram_attr *zram_attr_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (!strcmp(attrs[i].name, name))
			return &attrs[i];
	return NULL;
}
