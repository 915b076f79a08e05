/*
 * control_tier.c - the tiering control files: a thin text layer over the
 * typed calls of zram.h (zram_backing_dev_set, zram_writeback,
 * zram_recompress, zram_recomp_algorithm_set, zram_policy_set, ...).
 *
 * Each store() parses the whole buffer (parse.c) before it calls anything,
 * so malformed input is -EINVAL and changes nothing; the typed call's own
 * errors pass through (ENODEV, ERANGE, ENOSPC, EIO, EBUSY as zram).
 *
 * Locking: none here beyond what the typed calls take (pp_lock, ctl->lock).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "zram_internal.h"
#include "zram_parse.h"

static ssize_t text_show(char *buf, size_t size, const char *s)
{
	int n = snprintf(buf, size, "%s\n", s);

	return n < 0 || (size_t)n >= size ? -EFBIG : n;
}

static ssize_t num_show(char *buf, size_t size, uint64_t v)
{
	int n = snprintf(buf, size, "%" PRIu64 "\n", v);

	return n < 0 || (size_t)n >= size ? -EFBIG : n;
}

ssize_t zram_backing_dev_show(struct zram *z, char *buf, size_t size)
{
	/* a replaced store's struct lives on (backing_retire) */
	struct zram_backing *b =
		atomic_load_explicit(&z->backing, memory_order_acquire);

	return text_show(buf, size, b ? b->path : "none");
}

int zram_backing_dev_store(struct zram *z, const char *buf, size_t len)
{
	char path[PATH_MAX];

	if (parse_path(buf, len, path, sizeof(path)))
		return -EINVAL;
	return zram_backing_dev_set(z, path);
}

int zram_writeback_store(struct zram *z, const char *buf, size_t len)
{
	struct zram_wb_req req;

	if (parse_writeback(buf, len, &req))
		return -EINVAL;
	return zram_writeback(z, &req);
}

ssize_t zram_wb_limit_enable_show(struct zram *z, char *buf, size_t size)
{
	return num_show(buf, size, atomic_load(&z->wb_limit_enable));
}

int zram_wb_limit_enable_store(struct zram *z, const char *buf, size_t len)
{
	bool on;

	if (parse_bool01(buf, len, &on))
		return -EINVAL;
	zram_writeback_limit_enable(z, on);
	return 0;
}

ssize_t zram_wb_limit_show(struct zram *z, char *buf, size_t size)
{
	return num_show(buf, size, atomic_load(&z->wb_limit));
}

int zram_wb_limit_store(struct zram *z, const char *buf, size_t len)
{
	uint64_t v;

	if (parse_u64(buf, len, &v))
		return -EINVAL;
	zram_writeback_limit_set(z, v);
	return 0;
}

/* "#1: lz4 lz4hc [zstd]" for each configured secondary, as zram. */
ssize_t zram_recomp_algo_show(struct zram *z, char *buf, size_t size)
{
	size_t pos = 0;
	unsigned int p, i;
	int n, cur;

	buf[0] = '\0';
	for (p = 1; p < ZRAM_PRIOS; p++) {
		cur = atomic_load(&z->recomp_algo[p]);
		if (cur < 0)
			continue;
		n = snprintf(buf + pos, size - pos, "#%u:", p);
		for (i = 0; n >= 0 && (size_t)n < size - pos && i < ZRAM_CODECS;
		     i++) {
			pos += (size_t)n;
			n = snprintf(buf + pos, size - pos,
				     (int)i == cur ? " [%s]" : " %s",
				     zram_codec_get(i)->name);
		}
		if (n < 0 || (size_t)n + 1 >= size - pos)
			return -EFBIG;
		pos += (size_t)n;
		buf[pos++] = '\n';
		buf[pos] = '\0';
	}
	return (ssize_t)pos;
}

int zram_recomp_algo_store(struct zram *z, const char *buf, size_t len)
{
	unsigned int prio;
	int algo;

	if (parse_recomp_algo(buf, len, &algo, &prio))
		return -EINVAL;
	return zram_recomp_algorithm_set(
		z, zram_codec_get((unsigned)algo)->name, prio);
}

int zram_recompress_store(struct zram *z, const char *buf, size_t len)
{
	struct zram_recompress_req req;

	if (parse_recompress(buf, len, &req))
		return -EINVAL;
	return zram_recompress(z, &req);
}

ssize_t zram_policy_show(struct zram *z, char *buf, size_t size)
{
	struct zram_policy p;
	char group[16] = "off";
	int n;

	zram_policy_get(z, &p);
	if (p.group)
		snprintf(group, sizeof(group), "%" PRIu32, p.group);
	n = snprintf(buf, size,
		     "idle_after=%" PRIu32 "\nrecompress=%s\nwriteback=%s\n"
		     "mem_target=%" PRIu64 "\ninterval=%" PRIu32
		     "\nauto_dict=%s\ngroup=%s\ngroup_level=%" PRIu32 "\n",
		     p.idle_after, p.recompress ? "on" : "off",
		     p.writeback ? "on" : "off", p.mem_target, p.interval,
		     p.auto_dict ? "on" : "off", group, p.group_level);
	return n < 0 || (size_t)n >= size ? -EFBIG : n;
}

int zram_policy_store(struct zram *z, const char *buf, size_t len)
{
	struct zram_policy p;
	int err;

	pthread_mutex_lock(&z->ctrl_lock);
	zram_policy_get(z, &p);
	err = parse_policy(buf, len, &p);
	if (!err)
		err = zram_policy_set(z, &p);
	pthread_mutex_unlock(&z->ctrl_lock);
	return err;
}
