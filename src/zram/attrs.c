/*
 * attrs.c - the attribute table: one entry per control or stat file.
 *
 * Reads (show) format a fresh value; writes (store) parse the whole buffer
 * (parse.c) and only then make the one typed call of zram.h (control.c), so
 * a malformed write changes nothing. This file is the whole text layer: the
 * daemon, the nbdkit plugin's control files and the fuzz target all come
 * through here. The table is const and shared by every store.
 *
 * Locking: none here (see control.c and stats.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "zram_internal.h"
#include "zram_parse.h"

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

int zram_params_text_apply(struct zram *z, const char *buf, size_t len)
{
	struct zram_params_req req;
	int err = parse_params(buf, len, &req);

	if (err)
		return err;
	return zram_params_change(z, req.prio >= 0 ? (unsigned int)req.prio : 0,
				  req.algo, req.has_level, req.level,
				  req.has_dict ? req.dict : NULL);
}

static int algo_store(struct zram *z, const char *buf, size_t len)
{
	int id = parse_algo(buf, len);

	if (id < 0)
		return id;
	return zram_algorithm_set(z, zram_algorithm_name((unsigned int)id));
}

static int mem_limit_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_size(buf, len, &v))
		return -EINVAL;
	return zram_mem_limit_set(z, v);
}

/* A size with K/M/G/T: an online resize (zram_resize()). */
static int disksize_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_size(buf, len, &v))
		return -EINVAL;
	return zram_resize(z, v);
}

/* Only "0": the peak restarts from the current usage. */
static int mem_used_max_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_u64(buf, len, &v) || v)
		return -EINVAL;
	zram_mem_used_max_reset(z);
	return 0;
}

/* Any value, as zram's compact. */
static int compact_store(struct zram *z, const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	zram_compact(z);
	return 0;
}

/* "all", or seconds since the last access. */
static int idle_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t secs;
	bool all;

	if (parse_idle(buf, len, &all, &secs))
		return -EINVAL;
	/* ZRAM_IDLE_ALL seconds written as a number means "none is that old" */
	if (!all && secs == ZRAM_IDLE_ALL)
		secs--;
	zram_idle_mark(z, all ? ZRAM_IDLE_ALL : secs);
	return 0;
}

/* A positive integer, as zram. */
static int reset_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_u64(buf, len, &v) || !v)
		return -EINVAL;
	return zram_reset(z);
}

/*
 * save: "PATH [sync=0|1]", PATH absolute, as written (one trailing newline
 * dropped). A last word "sync=0" or "sync=1" is the option, so a PATH that
 * ends in " sync=0" needs a trailing " sync=1".
 */
static int save_store(struct zram *z, const char *buf, size_t len)
{
	static const char opt[] = " sync=";
	const size_t olen = sizeof(opt) - 1;
	unsigned int flags = 0;
	char path[PATH_MAX];

	len = parse_strip(buf, len);
	if (len > olen + 1 && !memcmp(buf + len - olen - 1, opt, olen) &&
	    (buf[len - 1] == '0' || buf[len - 1] == '1')) {
		if (buf[len - 1] == '0')
			flags = ZRAM_SAVE_NOSYNC;
		len -= olen + 1;
	}
	if (!len || len >= sizeof(path) || buf[0] != '/' ||
	    memchr(buf, '\0', len))
		return -EINVAL;
	memcpy(path, buf, len);
	path[len] = '\0';
	return zram_save_flags(z, path, flags);
}

#ifdef UZRAM_TEST_HOOKS
/* "INDEX MS": reads of page INDEX sleep MS inside the mapping; "off". */
static int read_delay_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t index;
	uint32_t ms;

	if (parse_delay(buf, len, &index, &ms))
		return -EINVAL;
	zram_read_delay_set(z, index, ms);
	return 0;
}

/* "MS" (at most 60000; 0: off): reset sleeps MS with the store claimed. */
static int reset_delay_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t ms;

	if (parse_u64(buf, len, &ms) || ms > 60000)
		return -EINVAL;
	atomic_store_explicit(&z->dbg_reset_delay_ms, (uint32_t)ms,
			      memory_order_relaxed);
	return 0;
}

/* "MS" (at most 60000; 0: off): a save sleeps MS with writes held off. */
static int save_delay_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t ms;

	if (parse_u64(buf, len, &ms) || ms > 60000)
		return -EINVAL;
	atomic_store_explicit(&z->dbg_save_delay_ms, (uint32_t)ms,
			      memory_order_relaxed);
	return 0;
}
#endif

static ssize_t dedup_show(struct zram *z, char *buf, size_t size)
{
	return u64_show(buf, size, zram_dedup_get(z));
}

/* "1" or "0". */
static int dedup_store(struct zram *z, const char *buf, size_t len)
{
	bool on;

	if (parse_bool01(buf, len, &on))
		return -EINVAL;
	return zram_dedup_set(z, on);
}

/* "[samples=N] [size=BYTES]" (zram_parse.h). */
static int train_dict_store(struct zram *z, const char *buf, size_t len)
{
	struct zram_train_req req;
	int err = parse_train(buf, len, &req);

	if (err)
		return err;
	return zram_dict_train(z, req.samples, req.size);
}

static const struct zram_attr attrs[] = {
	{"mm_stat", 0444, zram_mm_stat_show, NULL},
	{"io_stat", 0444, zram_io_stat_show, NULL},
	{"bd_stat", 0444, zram_bd_stat_show, NULL},
	{"debug_stat", 0444, zram_debug_stat_show, NULL},
	{"classes", 0444, zram_classes_show, NULL},
	{"stats.json", 0444, zram_json_show, NULL},
	{"comp_algorithm", 0644, comp_algorithm_show, algo_store},
	{"algorithm_params", 0200, NULL, zram_params_text_apply},
	{"mem_limit", 0644, mem_limit_show, mem_limit_store},
	{"mem_used_max", 0644, mem_used_max_show, mem_used_max_store},
	{"compact", 0200, NULL, compact_store},
	{"idle", 0200, NULL, idle_store},
	{"reset", 0200, NULL, reset_store},
	{"save", 0200, NULL, save_store},
	{"disksize", 0644, disksize_show, disksize_store},
	{"backing_dev", 0644, zram_backing_dev_show, zram_backing_dev_store},
	{"writeback", 0200, NULL, zram_writeback_store},
	{"writeback_limit_enable", 0644, zram_wb_limit_enable_show,
	 zram_wb_limit_enable_store},
	{"writeback_limit", 0644, zram_wb_limit_show, zram_wb_limit_store},
	{"recomp_algorithm", 0644, zram_recomp_algo_show,
	 zram_recomp_algo_store},
	{"recompress", 0200, NULL, zram_recompress_store},
	{"policy", 0644, zram_policy_show, zram_policy_store},
	{"dedup", 0644, dedup_show, dedup_store},
	{"train_dict", 0200, NULL, train_dict_store},
#ifdef UZRAM_TEST_HOOKS
	{"debug_read_delay", 0200, NULL, read_delay_store},
	{"debug_reset_delay", 0200, NULL, reset_delay_store},
	{"debug_save_delay", 0200, NULL, save_delay_store},
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
