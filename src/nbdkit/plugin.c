/*
 * plugin.c - nbdkit-uzram-plugin: a uzram store served over NBD by nbdkit.
 *
 *   nbdkit uzram size=4G [algo=zstd] [algo-params='level=3'] [mem-limit=1G]
 *          [restore=FILE] [controls=DIR] [threads=N]
 *
 * One store per nbdkit process, created once all parameters are known
 * (config_complete), shared by every connection (can_multi_conn: there is
 * no per-connection cache, a write is visible to every reader as soon as it
 * is answered). Thread model PARALLEL: the store takes only its per-slot
 * locks on the data path, so nbdkit's worker threads run requests of one
 * connection and of different connections at the same time; each thread
 * gets its own codec contexts from the store on first use.
 *
 * Every callback maps one NBD command to one store call and converts the
 * store's -errno once, at the end, with nbdkit_set_error(): -ENOSPC (the
 * mem_limit) reaches the client as NBD_ENOSPC, -EIO as NBD_EIO. A write that
 * stops part way keeps what it wrote (each 4 KiB page is all or nothing),
 * exactly as a disk that returned an error mid-request.
 *
 * controls=DIR mounts the store's control and stat files (the daemon's
 * mm_stat, compact, mem_limit, ...; no disk.img) on DIR through FUSE, from
 * threads of this process, after nbdkit has forked (threads do not survive
 * a fork) and until it unloads the plugin. Every NBD connection holds the
 * store "open", so `echo 1 > DIR/reset` is refused with EBUSY while a
 * client is connected, as on the daemon while disk.img is open.
 *
 * Locking: the globals below are written by nbdkit's main thread before
 * any connection exists (config .. after_fork) and read-only afterwards,
 * until cleanup/unload, which nbdkit runs after the last connection.
 */
#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#include <nbdkit-plugin.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "uzram.h"
#include "zram.h"

/* Parameters, as given (strings point into nbdkit's argv). */
static struct {
	int64_t size;
	const char *algo;
	const char *algo_params;
	int64_t mem_limit;
	const char *controls;
	const char *backing_dev;
	const char *policy;
	const char *restore;
	unsigned int threads;
	bool dedup;
} param = {.size = -1, .threads = 2};

static struct zram *store;
static struct uzram_controls *controls;

/*
 * Messages use strerrordesc_np(), not strerror(): no locale or gettext
 * state is touched, which matters inside nbdkit under the ASan build, where
 * a strerror() before exit() left glibc's locale lock taken and exit hung in
 * a library destructor (libp11-kit's freelocale).
 */

/* The one place a store error becomes an NBD error. Returns -1. */
static int nbd_error(long err, const char *what)
{
	nbdkit_set_error((int)-err);
	if (err != -ENOSPC) /* a full disk is the client's to report */
		nbdkit_debug("uzram: %s: %s", what, strerrordesc_np((int)-err));
	return -1;
}

static bool algo_known(const char *name)
{
	unsigned int i;

	for (i = 0; zram_algorithm_name(i); i++)
		if (!strcmp(name, zram_algorithm_name(i)))
			return true;
	return false;
}

/*
 * A byte count in the daemon's grammar (digits, optional K/M/G/T: one
 * grammar for every uzram front end). Returns 0, or -1 after one error line.
 */
static int size_parse(const char *key, const char *value, int64_t *out)
{
	uint64_t v;

	if (uzram_parse_size(value, &v) || v > INT64_MAX) {
		nbdkit_error(
			"%s=%s: not a size (digits and an optional K, M, G "
			"or T suffix)",
			key, value);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/*
 * A boolean as nbdkit spells them (nbdkit_parse_bool() accepts the same
 * words, but its error line does not name the parameter).
 */
static int bool_parse(const char *value, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
			*out = !strcasecmp(value, yes[i]);
			return 0;
		}
	}
	return -1;
}

static int uzram_config(const char *key, const char *value)
{
	if (!strcmp(key, "size")) {
		if (size_parse(key, value, &param.size))
			return -1;
		if (param.size == 0 ||
		    (uint64_t)param.size > ZRAM_DISKSIZE_MAX) {
			nbdkit_error("size=%s: must be more than 0 and at "
				     "most 16T",
				     value);
			return -1;
		}
	} else if (!strcmp(key, "algo")) {
		if (!algo_known(value)) {
			nbdkit_error("algo=%s: unknown codec (lz4, lz4hc or "
				     "zstd)",
				     value);
			return -1;
		}
		param.algo = value;
	} else if (!strcmp(key, "algo-params")) {
		param.algo_params = value;
	} else if (!strcmp(key, "mem-limit")) {
		if (size_parse(key, value, &param.mem_limit))
			return -1;
	} else if (!strcmp(key, "backing-dev")) {
		if (!*value) {
			nbdkit_error(
				"backing-dev= needs a file or block device");
			return -1;
		}
		param.backing_dev = value;
	} else if (!strcmp(key, "policy")) {
		param.policy = value;
	} else if (!strcmp(key, "controls")) {
		if (!*value) {
			nbdkit_error("controls= needs a directory");
			return -1;
		}
		param.controls = value;
	} else if (!strcmp(key, "restore")) {
		if (!*value) {
			nbdkit_error("restore= needs a snapshot file");
			return -1;
		}
		param.restore = value;
	} else if (!strcmp(key, "dedup")) {
		if (bool_parse(value, &param.dedup)) {
			nbdkit_error("dedup=%s: not a boolean (on, off, true, "
				     "false, yes, no, 1, 0)",
				     value);
			return -1;
		}
	} else if (!strcmp(key, "threads")) {
		if (nbdkit_parse_unsigned("threads", value, &param.threads) ==
		    -1)
			return -1;
		if (param.threads < 1 || param.threads > UZRAM_MAX_THREADS) {
			nbdkit_error("threads=%s: must be 1..%u", value,
				     UZRAM_MAX_THREADS);
			return -1;
		}
	} else {
		nbdkit_error("unknown parameter '%s'", key);
		return -1;
	}
	return 0;
}

/* Create the store: every bad parameter is reported here, before serving. */
static int uzram_config_complete(void)
{
	struct zram_config cfg = {
		.algorithm = param.algo,
		.algorithm_params = param.algo_params,
		.threads = param.threads,
		.backing_dev = param.backing_dev,
		.policy = param.policy,
		.dedup = param.dedup,
	};
	char msg[512];
	int err;

	if (param.size == -1 && !param.restore) {
		nbdkit_error("size= is required (e.g. size=4G)");
		return -1;
	}
	err = param.controls ? uzram_controls_check(param.controls) : 0;
	if (err) {
		nbdkit_error("controls=%s: %s; need an empty directory",
			     param.controls, strerrordesc_np(-err));
		return -1;
	}
	cfg.disksize = param.size > 0 ? (uint64_t)param.size : 0;
	cfg.mem_limit = param.mem_limit > 0 ? (uint64_t)param.mem_limit : 0;
	if (param.restore) {
		err = zram_restore(param.restore, &cfg, &store, msg,
				   sizeof(msg));
		if (err) {
			nbdkit_error("restore=%s", msg);
			return -1;
		}
		return 0;
	}
	err = zram_create(&cfg, &store);
	if (err) {
		nbdkit_error("cannot create a %" PRIi64
			     "-byte %s store%s%s%s%s%s%s: %s",
			     param.size, param.algo ? param.algo : "lz4",
			     param.algo_params ? " with algo-params=" : "",
			     param.algo_params ? param.algo_params : "",
			     param.backing_dev ? " with backing-dev=" : "",
			     param.backing_dev ? param.backing_dev : "",
			     param.policy ? " with policy=" : "",
			     param.policy ? param.policy : "",
			     strerrordesc_np(-err));
		return -1;
	}
	return 0;
}

/* Mount the controls now that this is the process that will serve. */
static int uzram_after_fork(void)
{
	if (!param.controls)
		return 0;
	if (uzram_controls_mount(store, param.controls, param.threads,
				 &controls)) {
		nbdkit_error("controls=%s: cannot mount the control files",
			     param.controls);
		return -1;
	}
	return 0;
}

static void uzram_cleanup(void)
{
	uzram_controls_unmount(controls);
	controls = NULL;
}

static void uzram_unload(void)
{
	uzram_controls_unmount(controls); /* if cleanup did not run */
	controls = NULL;
	zram_destroy(store);
	store = NULL;
}

static void uzram_dump_plugin(void)
{
	unsigned int i;

	printf("uzram_version=%s\n", uzram_version());
	printf("uzram_algorithms=");
	for (i = 0; zram_algorithm_name(i); i++)
		printf("%s%s", i ? " " : "", zram_algorithm_name(i));
	printf("\n");
}

/* The handle is unused: the store is the same for every connection. */
static void *uzram_open(int readonly)
{
	(void)readonly;
	if (zram_open_get(store)) {
		/* a reset through controls=DIR owns the store right now */
		nbdkit_error("the store is being reset; connect again");
		return NULL;
	}
	return NBDKIT_HANDLE_NOT_NEEDED;
}

static void uzram_close(void *handle)
{
	(void)handle;
	zram_open_put(store);
}

static int64_t uzram_get_size(void *handle)
{
	(void)handle;
	return (int64_t)zram_disksize(store);
}

static int uzram_can_true(void *handle)
{
	(void)handle;
	return 1;
}

static int uzram_can_fua(void *handle)
{
	(void)handle;
	return NBDKIT_FUA_NATIVE; /* nothing is buffered: every write is */
}

static int uzram_can_cache(void *handle)
{
	(void)handle;
	return NBDKIT_CACHE_NATIVE; /* it is all in memory already */
}

static int uzram_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
		       uint32_t flags)
{
	ssize_t n;

	(void)handle;
	(void)flags;
	n = zram_read(store, buf, count, offset);
	if (n < 0)
		return nbd_error(n, "read");
	if ((size_t)n != count) /* nbdkit checked the bounds */
		return nbd_error(-EIO, "short read");
	return 0;
}

static int uzram_pwrite(void *handle, const void *buf, uint32_t count,
			uint64_t offset, uint32_t flags)
{
	const char *p = buf;
	ssize_t n;

	(void)handle;
	(void)flags; /* FUA: nothing is ever buffered */
	while (count) {
		n = zram_write(store, p, count, offset);
		if (n <= 0)
			return nbd_error(n ? n : -EIO, "write");
		/* a short count: the next page failed; its call says why */
		p += n;
		count -= (uint32_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int uzram_flush(void *handle, uint32_t flags)
{
	(void)handle;
	(void)flags;
	return zram_flush(store) ? nbd_error(-EIO, "flush") : 0;
}

static int uzram_trim(void *handle, uint32_t count, uint64_t offset,
		      uint32_t flags)
{
	int err;

	(void)handle;
	(void)flags;
	err = zram_discard(store, offset, count);
	return err ? nbd_error(err, "trim") : 0;
}

/*
 * Zeroing is always fast (no page is written, only slots changed), so
 * FAST_ZERO never fails. With MAY_TRIM the pages become holes, which read
 * as zeros and give their memory back; without it they stay allocated as
 * same-filled zero pages (no pool memory either).
 */
static int uzram_zero(void *handle, uint32_t count, uint64_t offset,
		      uint32_t flags)
{
	int err;

	(void)handle;
	if (flags & NBDKIT_FLAG_MAY_TRIM)
		err = zram_discard(store, offset, count);
	else
		err = zram_write_zeroes(store, offset, count);
	return err ? nbd_error(err, "zero") : 0;
}

static int uzram_cache(void *handle, uint32_t count, uint64_t offset,
		       uint32_t flags)
{
	(void)handle;
	(void)count;
	(void)offset;
	(void)flags;
	return 0;
}

static uint32_t extent_type(enum zram_extent_kind k)
{
	switch (k) {
	case ZRAM_EXTENT_HOLE:
		return NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
	case ZRAM_EXTENT_ZERO:
		return NBDKIT_EXTENT_ZERO;
	default:
		return 0;
	}
}

static int uzram_extents(void *handle, uint32_t count, uint64_t offset,
			 uint32_t flags, struct nbdkit_extents *extents)
{
	uint64_t end = offset + count;
	enum zram_extent_kind k;
	int64_t n;

	(void)handle;
	while (offset < end) {
		n = zram_extent(store, offset, end - offset, &k);
		if (n < 0)
			return nbd_error(n, "extents");
		/* runs start on the page holding offset */
		n -= (int64_t)(offset % ZRAM_PAGE_SIZE);
		if (nbdkit_add_extent(extents, offset, (uint64_t)n,
				      extent_type(k)))
			return -1;
		offset += (uint64_t)n;
		if (flags & NBDKIT_FLAG_REQ_ONE)
			break;
	}
	return 0;
}

#define uzram_config_help                                                       \
	"size=<SIZE>      (required) Disk size, e.g. 4G.\n"                     \
	"algo=lz4|lz4hc|zstd         Codec for new writes (default lz4).\n"     \
	"algo-params='level=N ...'   As the algorithm_params control file.\n"   \
	"mem-limit=<SIZE>            Pool memory cap; writes past it fail\n"    \
	"                            with ENOSPC (default: none).\n"            \
	"backing-dev=<PATH>          File or block device for writeback.\n"     \
	"policy='k=v,...'            Tiering policy (idle_after, recompress,\n" \
	"                            writeback, mem_target, interval,\n"        \
	"                            auto_dict, group, group_level).\n"         \
	"dedup=true|false            Store identical pages once (default\n"     \
	"                            false; the dedup control file).\n"         \
	"controls=<DIR>              Mount the control and stat files on\n"     \
	"                            the empty directory DIR.\n"                \
	"threads=<N>                 FUSE threads serving controls=DIR\n"       \
	"                            (default 2)."

static struct nbdkit_plugin plugin = {
	.name = "uzram",
	.longname = "nbdkit uzram plugin (zram's compressed store)",
	.version = UZRAM_VERSION,
	.description = "A compressed RAM disk: zram's store (zsmalloc, "
		       "lz4/zstd) in user space",
	.magic_config_key = "size",
	.config = uzram_config,
	.config_complete = uzram_config_complete,
	.config_help = uzram_config_help,
	.after_fork = uzram_after_fork,
	.cleanup = uzram_cleanup,
	.unload = uzram_unload,
	.dump_plugin = uzram_dump_plugin,
	.open = uzram_open,
	.close = uzram_close,
	.get_size = uzram_get_size,
	.can_write = uzram_can_true,
	.can_flush = uzram_can_true,
	.can_trim = uzram_can_true,
	.can_zero = uzram_can_true,
	.can_fast_zero = uzram_can_true,
	.can_fua = uzram_can_fua,
	.can_multi_conn = uzram_can_true,
	.can_extents = uzram_can_true,
	.can_cache = uzram_can_cache,
	.pread = uzram_pread,
	.pwrite = uzram_pwrite,
	.flush = uzram_flush,
	.trim = uzram_trim,
	.zero = uzram_zero,
	.extents = uzram_extents,
	.cache = uzram_cache,
	.errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
