/*
 * stats.c - the stat lines, in zram's exact formats.
 *
 * mm_stat, io_stat, bd_stat and debug_stat print the columns and widths of
 * drivers/block/zram (see docs/store.md); io_stat's third column is our
 * invalid_io counter, as zram printed it before it became a constant 0.
 * `classes` is zsmalloc's debugfs table. stats.json names every counter of
 * struct zram_stats. Columns are only ever appended to.
 *
 * Locking: none here; the counters are atomics read one by one, each exact
 * on its own (zram_stats_get()); classes takes each class lock in turn inside
 * zs_class_stats_get().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "zram_internal.h"

/* Append to @buf (@size bytes, *@pos used). Returns 0 or -EFBIG. */
static int __attribute__((format(printf, 4, 5)))
out_printf(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= size)
		return -EFBIG;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *pos)
		return -EFBIG;
	*pos += (size_t)n;
	return 0;
}

static ssize_t out_result(int err, size_t pos)
{
	return err ? err : (ssize_t)pos;
}

ssize_t zram_mm_stat_show(struct zram *z, char *buf, size_t size)
{
	struct zram_stats s;
	size_t pos = 0;
	int err;

	zram_stats_get(z, &s);
	err = out_printf(buf, size, &pos,
			 "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
			 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
			 " %8" PRIu64 "\n",
			 s.orig_data_size, s.compr_data_size, s.mem_used_total,
			 s.mem_limit, s.mem_used_max, s.same_pages,
			 s.pages_compacted, s.huge_pages, s.huge_pages_since);
	return out_result(err, pos);
}

ssize_t zram_io_stat_show(struct zram *z, char *buf, size_t size)
{
	struct zram_stats s;
	size_t pos = 0;
	int err;

	zram_stats_get(z, &s);
	err = out_printf(
		buf, size, &pos,
		"%8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
		s.failed_reads, s.failed_writes, s.invalid_io, s.notify_free);
	return out_result(err, pos);
}

ssize_t zram_bd_stat_show(struct zram *z, char *buf, size_t size)
{
	struct zram_stats s;
	size_t pos = 0;
	int err;

	zram_stats_get(z, &s);
	err = out_printf(buf, size, &pos,
			 "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", s.bd_count,
			 s.bd_reads, s.bd_writes);
	return out_result(err, pos);
}

/* The first column was zram's writestall, removed in 2025: always 0. */
ssize_t zram_debug_stat_show(struct zram *z, char *buf, size_t size)
{
	struct zram_stats s;
	size_t pos = 0;
	int err;

	zram_stats_get(z, &s);
	err = out_printf(buf, size, &pos, "version: %d\n0 %8" PRIu64 "\n", 1,
			 s.miss_free);
	return out_result(err, pos);
}

static int classes_header(char *buf, size_t size, size_t *pos)
{
	return out_printf(buf, size, pos,
			  " %5s %5s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s "
			  "%9s %13s %10s %10s %16s %8s\n",
			  "class", "size", "10%", "20%", "30%", "40%", "50%",
			  "60%", "70%", "80%", "90%", "99%", "100%",
			  "obj_allocated", "obj_used", "pages_used",
			  "pages_per_zspage", "freeable");
}

static int classes_row(char *buf, size_t size, size_t *pos,
		       const struct zs_class_stats *c, struct zs_class_stats *t)
{
	int err = out_printf(buf, size, pos, " %5u %5u ", c->index, c->size);
	unsigned int g;

	for (g = 0; !err && g < ZS_FULLNESS_COLUMNS; g++) {
		t->zspages_by_fullness[g] += c->zspages_by_fullness[g];
		err = out_printf(buf, size, pos, "%9" PRIu64 " ",
				 c->zspages_by_fullness[g]);
	}
	t->obj_allocated += c->obj_allocated;
	t->obj_used += c->obj_used;
	t->pages_used += c->pages_used;
	t->freeable += c->freeable;
	return err ? err
		   : out_printf(buf, size, pos,
				"%13" PRIu64 " %10" PRIu64 " %10" PRIu64
				" %16u %8" PRIu64 "\n",
				c->obj_allocated, c->obj_used, c->pages_used,
				c->pages_per_zspage, c->freeable);
}

ssize_t zram_classes_show(struct zram *z, char *buf, size_t size)
{
	struct zs_class_stats c, t = {0};
	size_t pos = 0;
	unsigned int i, g;
	int err;

	err = classes_header(buf, size, &pos);
	for (i = 0; !err && i < ZS_SIZE_CLASSES; i++) {
		if (zs_class_stats_get(z->pool, i, &c))
			continue;
		err = classes_row(buf, size, &pos, &c, &t);
	}
	if (!err)
		err = out_printf(buf, size, &pos, "\n %5s %5s ", "Total", "");
	for (g = 0; !err && g < ZS_FULLNESS_COLUMNS; g++)
		err = out_printf(buf, size, &pos, "%9" PRIu64 " ",
				 t.zspages_by_fullness[g]);
	if (!err)
		err = out_printf(buf, size, &pos,
				 "%13" PRIu64 " %10" PRIu64 " %10" PRIu64
				 " %16s %8" PRIu64 "\n",
				 t.obj_allocated, t.obj_used, t.pages_used, "",
				 t.freeable);
	return out_result(err, pos);
}

#define STAT_FIELD(f)                              \
	{                                          \
#f, offsetof(struct zram_stats, f) \
	}

static const struct {
	const char *name;
	size_t offset;
} json_fields[] = {
	STAT_FIELD(orig_data_size),
	STAT_FIELD(compr_data_size),
	STAT_FIELD(mem_used_total),
	STAT_FIELD(mem_limit),
	STAT_FIELD(mem_used_max),
	STAT_FIELD(same_pages),
	STAT_FIELD(pages_compacted),
	STAT_FIELD(huge_pages),
	STAT_FIELD(huge_pages_since),
	STAT_FIELD(failed_reads),
	STAT_FIELD(failed_writes),
	STAT_FIELD(invalid_io),
	STAT_FIELD(notify_free),
	STAT_FIELD(bd_count),
	STAT_FIELD(bd_reads),
	STAT_FIELD(bd_writes),
	STAT_FIELD(miss_free),
	STAT_FIELD(pages_stored),
	STAT_FIELD(idle_pages),
	STAT_FIELD(num_reads),
	STAT_FIELD(num_writes),
	STAT_FIELD(slot_count),
	STAT_FIELD(slot_bytes),
	STAT_FIELD(table_bytes),
	STAT_FIELD(streams),
	STAT_FIELD(backing_bytes),
	STAT_FIELD(backing_used),
	STAT_FIELD(backing_size),
	STAT_FIELD(pages_recompressed),
	STAT_FIELD(policy_passes),
	STAT_FIELD(dicts_trained),
	STAT_FIELD(dict_rewrites),
	STAT_FIELD(dup_pages),
	STAT_FIELD(dup_data_size),
	STAT_FIELD(dedup_objects),
	STAT_FIELD(dedup_meta_size),
	STAT_FIELD(dedup_hits),
	STAT_FIELD(grouped_pages),
	STAT_FIELD(group_objects),
	STAT_FIELD(group_data_size),
	STAT_FIELD(group_meta_size),
};

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

ssize_t zram_json_show(struct zram *z, char *buf, size_t size)
{
	unsigned int algo = (unsigned int)atomic_load_explicit(
		&z->algo, memory_order_relaxed);
	const char *transport =
		atomic_load_explicit(&z->transport, memory_order_acquire);
	struct zram_stats s;
	size_t pos = 0, i;
	int err;

	zram_stats_get(z, &s);
	err = out_printf(buf, size, &pos, "{\n");
	for (i = 0; !err && i < sizeof(json_fields) / sizeof(json_fields[0]);
	     i++)
		err = out_printf(buf, size, &pos, "  \"%s\": %" PRIu64 ",\n",
				 json_fields[i].name,
				 *(const uint64_t *)((const char *)&s +
						     json_fields[i].offset));
	if (!err && transport)
		err = out_printf(buf, size, &pos, "  \"transport\": \"%s\",\n",
				 transport);
	if (!err)
		err = out_printf(
			buf, size, &pos,
			"  \"algorithm\": \"%s\",\n  \"threads\": %u,\n"
			"  \"compression_ratio\": %.3f,\n"
			"  \"memory_ratio\": %.3f\n}\n",
			zram_codec_get(algo)->name, z->threads,
			ratio(s.orig_data_size, s.compr_data_size),
			ratio(s.orig_data_size, s.mem_used_total));
	return out_result(err, pos);
}
