/*
 * options.c - the uzram command line.
 *
 * A small hand-written parser rather than getopt_long(3): getopt keeps its
 * position in process-wide variables (optind), which the unit tests would
 * have to reset between calls, and libfuse's fuse_opt_parse() would accept
 * FUSE options we do not want to pass through unnamed. Every mistake ends
 * in -EINVAL with exactly one line of text for main() to print.
 *
 * mount(8) and fstab: mount.fuse3 runs `uzram SOURCE MOUNTPOINT -o OPTS`,
 * so every long option is also an -o key, found in the same table below
 * (`size=4G`, `algo_params=level=3`, `mlock`; '_' and '-' are the same).
 * A key needs no code of its own: a new entry in opt_specs is at once a
 * command-line option and a mount option. The generic mount options that
 * mount(8) hands every helper are passed to libfuse (rw, nosuid, ...) or
 * dropped (noauto, _netdev, x-*, ...); anything else is an error here, so
 * a typo in fstab is one line naming the key and nothing is mounted.
 *
 * The libfuse options from -o are handed to libfuse by session.c. Values
 * point into argv or into the copies of -o strings kept in opts->owned.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "uzram.h"
#include "zram.h"

/* Room for a value's key name in messages ("algo-params"). */
#define OPT_NAME_MAX 64

enum opt_id {
	OPT_SIZE,
	OPT_ALGO,
	OPT_ALGO_PARAMS,
	OPT_MEM_LIMIT,
	OPT_BACKING_DEV,
	OPT_POLICY,
	OPT_RESTORE,
	OPT_THREADS,
	OPT_TRANSPORT,
	OPT_DEDUP,
	OPT_MLOCK,
	OPT_ALLOW_OTHER,
	OPT_FOREGROUND,
	OPT_DEBUG,
	OPT_FUSE,
	OPT_HELP,
	OPT_VERSION,
};

struct opt_spec {
	const char *name; /* long name without "--", or NULL */
	char letter;	  /* short name, or 0 */
	bool has_arg;
	enum opt_id id;
};

static const struct opt_spec opt_specs[] = {
	{"size", 0, true, OPT_SIZE},
	{"algo", 0, true, OPT_ALGO},
	{"algo-params", 0, true, OPT_ALGO_PARAMS},
	{"mem-limit", 0, true, OPT_MEM_LIMIT},
	{"backing-dev", 0, true, OPT_BACKING_DEV},
	{"policy", 0, true, OPT_POLICY},
	{"restore", 0, true, OPT_RESTORE},
	{"threads", 0, true, OPT_THREADS},
	{"transport", 0, true, OPT_TRANSPORT},
	{"dedup", 0, false, OPT_DEDUP},
	{"mlock", 0, false, OPT_MLOCK},
	{"allow-other", 0, false, OPT_ALLOW_OTHER},
	{"foreground", 'f', false, OPT_FOREGROUND},
	{"debug", 'd', false, OPT_DEBUG},
	{NULL, 'o', true, OPT_FUSE},
	{"help", 'h', false, OPT_HELP},
	{"version", 'V', false, OPT_VERSION},
};

#define OPT_COUNT (sizeof(opt_specs) / sizeof(opt_specs[0]))

/* The codecs the store knows (zram.h, struct zram_config). */
static const char *const codec_names[] = {"lz4", "lz4hc", "zstd"};

const char *uzram_version(void)
{
	return UZRAM_VERSION;
}

void uzram_usage(FILE *out)
{
	fputs("usage: uzram MOUNTPOINT --size SIZE [options]\n"
	      "       uzram SOURCE MOUNTPOINT -o size=SIZE[,option...]\n"
	      "\n"
	      "Mount a compressed RAM disk: MOUNTPOINT/disk.img is a SIZE-byte\n"
	      "disk image kept as compressed 4 KiB pages; the other files at\n"
	      "the mount show statistics and take commands, as zram's sysfs.\n"
	      "\n"
	      "  --size SIZE            size of disk.img (K, M, G, T suffixes)\n"
	      "  --algo lz4|lz4hc|zstd  codec for new writes (default lz4)\n"
	      "  --algo-params PARAMS   codec parameters, e.g. 'level=3'\n"
	      "  --mem-limit SIZE       most pool memory; writes past it fail\n"
	      "                         with ENOSPC (default 0: no limit)\n"
	      "  --backing-dev PATH     file or block device for writeback\n"
	      "  --policy K=V,...       tiering policy: idle_after=SECONDS,\n"
	      "                         recompress=on|off, writeback=on|off,\n"
	      "                         mem_target=SIZE, interval=SECONDS,\n"
	      "                         auto_dict=on|off, group=on|off|PAGES,\n"
	      "                         group_level=1..19\n"
	      "  --restore PATH         start from the snapshot at PATH (see\n"
	      "                         the `save` file); --size optional\n"
	      "  --threads N            FUSE worker threads (default: online\n"
	      "                         cores, at least 2); with io_uring,\n"
	      "                         helper threads, at least 4 (a worker a core\n"
	      "                         serves reads and writes)\n"
	      "  --transport auto|uring|dev\n"
	      "                         FUSE over io_uring or /dev/fuse\n"
	      "                         (default auto: io_uring if offered)\n"
	      "  --dedup                store identical pages once (the\n"
	      "                         `dedup` file turns it on and off)\n"
	      "  --mlock                lock the daemon's memory (mlockall)\n"
	      "  --allow-other          let other users in (file modes apply)\n"
	      "  -f, --foreground       stay in the foreground\n"
	      "  -d, --debug            print every FUSE request (implies -f)\n"
	      "  -o OPT[,OPT...]        mount options: every long option is a\n"
	      "                         key too (size=4G,algo=zstd,mlock);\n"
	      "                         generic ones (rw, nosuid, ...) go to\n"
	      "                         libfuse, fstab-only ones (noauto,\n"
	      "                         _netdev, x-*) are ignored\n"
	      "  -h, --help             print this help\n"
	      "  -V, --version          print the version\n"
	      "\n"
	      "SOURCE (any word, e.g. uzram) names the mount in /proc/mounts,\n"
	      "as mount(8) passes it: `mount -t fuse.uzram uzram MOUNTPOINT\n"
	      "-o size=4G` and fstab lines work through mount.fuse3.\n"
	      "Unmount with `umount MOUNTPOINT`, `fusermount3 -u MOUNTPOINT`\n"
	      "or SIGTERM.\n",
	      out);
}

static int opt_fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, UZRAM_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int uzram_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int size_opt_parse(const char *name, const char *value, uint64_t *out,
			  char *err)
{
	int ret = uzram_parse_size(value, out);

	if (ret == -ERANGE)
		return opt_fail(err, "--%s '%s': too large", name, value);
	if (ret)
		return opt_fail(err,
				"--%s '%s': not a size (digits and an optional "
				"K, M, G or T suffix)",
				name, value);
	return 0;
}

static int algo_opt_parse(const char *value, struct uzram_options *opts,
			  char *err)
{
	size_t i;

	for (i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++) {
		if (!strcmp(value, codec_names[i])) {
			opts->algo = codec_names[i];
			opts->algo_set = true;
			return 0;
		}
	}
	return opt_fail(err, "--algo '%s': unknown codec (lz4, lz4hc, zstd)",
			value);
}

static int threads_opt_parse(const char *value, struct uzram_options *opts,
			     char *err)
{
	unsigned long n = 0;
	const char *p;

	for (p = value; *p >= '0' && *p <= '9' && n <= UZRAM_MAX_THREADS; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (p == value || *p || n < 1 || n > UZRAM_MAX_THREADS)
		return opt_fail(err,
				"--threads '%s': not a number from 1 to %u",
				value, UZRAM_MAX_THREADS);
	opts->threads = (unsigned int)n;
	return 0;
}

static int transport_opt_parse(const char *value, struct uzram_options *opts,
			       char *err)
{
	static const char *const names[] = {
		[UZRAM_TRANSPORT_AUTO] = "auto",
		[UZRAM_TRANSPORT_URING] = "uring",
		[UZRAM_TRANSPORT_DEV] = "dev",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(value, names[i])) {
			opts->transport = (enum uzram_transport_mode)i;
			return 0;
		}
	}
	return opt_fail(err, "--transport '%s': not auto, uring or dev", value);
}

static int fuse_opt_add(const char *value, struct uzram_options *opts)
{
	const char **v;

	v = realloc(opts->fuse_opts, (opts->nr_fuse_opts + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[opts->nr_fuse_opts++] = value;
	opts->fuse_opts = v;
	return 0;
}

static int mount_opts_parse(const char *list, struct uzram_options *opts,
			    char *err);

/* Keep @s (malloc'ed) until uzram_options_free(). */
static int owned_add(char *s, struct uzram_options *opts)
{
	char **v;

	v = realloc(opts->owned, (opts->nr_owned + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	v[opts->nr_owned++] = s;
	opts->owned = v;
	return 0;
}

/* Apply one recognised option; @value is NULL for flags. */
static int opt_apply(const struct opt_spec *spec, const char *value,
		     struct uzram_options *opts, char *err)
{
	switch (spec->id) {
	case OPT_SIZE:
		if (size_opt_parse("size", value, &opts->size, err))
			return -EINVAL;
		if (!opts->size)
			return opt_fail(err, "--size must be more than 0");
		/* the store's limit, said here rather than as EINVAL later */
		if (opts->size > ZRAM_DISKSIZE_MAX)
			return opt_fail(err,
					"--size '%s': at most 16T (2^32 pages "
					"of 4 KiB)",
					value);
		return 0;
	case OPT_ALGO:
		return algo_opt_parse(value, opts, err);
	case OPT_ALGO_PARAMS:
		if (!*value)
			return opt_fail(err, "--algo-params: empty");
		opts->algo_params = value;
		return 0;
	case OPT_MEM_LIMIT:
		return size_opt_parse("mem-limit", value, &opts->mem_limit,
				      err);
	case OPT_BACKING_DEV:
		if (!*value)
			return opt_fail(err, "--backing-dev: empty");
		opts->backing_dev = value;
		return 0;
	case OPT_POLICY:
		if (!*value)
			return opt_fail(err, "--policy: empty");
		opts->policy = value;
		return 0;
	case OPT_RESTORE:
		if (!*value)
			return opt_fail(err, "--restore: empty");
		opts->restore = value;
		return 0;
	case OPT_THREADS:
		return threads_opt_parse(value, opts, err);
	case OPT_TRANSPORT:
		return transport_opt_parse(value, opts, err);
	case OPT_DEDUP:
		opts->dedup = true;
		return 0;
	case OPT_MLOCK:
		opts->mlock = true;
		return 0;
	case OPT_ALLOW_OTHER:
		opts->allow_other = true;
		return 0;
	case OPT_DEBUG:
		opts->debug = true;
		opts->foreground = true; /* the trace goes to the terminal */
		return 0;
	case OPT_FOREGROUND:
		opts->foreground = true;
		return 0;
	case OPT_FUSE:
		if (!*value)
			return opt_fail(err, "-o: empty mount option");
		return mount_opts_parse(value, opts, err);
	case OPT_HELP:
		opts->help = true;
		return 0;
	case OPT_VERSION:
		opts->version = true;
		return 0;
	}
	return opt_fail(err, "internal error: option %d", (int)spec->id);
}

static const struct opt_spec *spec_find_long(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < OPT_COUNT; i++) {
		const char *n = opt_specs[i].name;

		if (n && strlen(n) == len && !strncmp(n, name, len))
			return &opt_specs[i];
	}
	return NULL;
}

static const struct opt_spec *spec_find_short(char letter)
{
	size_t i;

	for (i = 0; i < OPT_COUNT; i++)
		if (opt_specs[i].letter == letter)
			return &opt_specs[i];
	return NULL;
}

/* "--name", "--name=value" or "--name value"; advances *@i past a value. */
static int long_opt_parse(int argc, char *const argv[], int *i,
			  struct uzram_options *opts, char *err)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct opt_spec *spec = spec_find_long(arg, len);
	const char *value = NULL;

	if (!spec)
		return opt_fail(err, "unknown option '--%.*s' (see --help)",
				(int)len, arg);
	if (spec->has_arg) {
		if (eq)
			value = eq + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else
			return opt_fail(err, "option '--%s' needs a value",
					spec->name);
	} else if (eq) {
		return opt_fail(err, "option '--%s' takes no value",
				spec->name);
	}
	return opt_apply(spec, value, opts, err);
}

/* "-f", "-oVALUE" or "-o VALUE"; advances *@i past a value. */
static int short_opt_parse(int argc, char *const argv[], int *i,
			   struct uzram_options *opts, char *err)
{
	const char *arg = argv[*i];
	const struct opt_spec *spec = spec_find_short(arg[1]);
	const char *value = NULL;

	if (!spec || (!spec->has_arg && arg[2]))
		return opt_fail(err, "unknown option '%s' (see --help)", arg);
	if (spec->has_arg) {
		if (arg[2])
			value = arg + 2;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else
			return opt_fail(err, "option '-%c' needs a value",
					spec->letter);
	}
	return opt_apply(spec, value, opts, err);
}

/*
 * The generic mount options, as mount(8) and mount.fuse3 hand them on.
 * Kernel flags and FUSE options libfuse knows go to libfuse unchanged.
 * mount(8)'s own (fstab-only) options and the atime variants FUSE has no
 * use for (disk.img is direct_io; nothing is cached) are dropped, as
 * mount.fuse3 itself drops user, noauto and _netdev. fsname, subtype and
 * max_read are set by the daemon itself (session.c): fsname=NAME names
 * the mount as SOURCE does, the other two are refused here.
 */
static const char *const mount_passed[] = {
	"rw",	   "ro",	 "suid",	 "nosuid",
	"dev",	   "nodev",	 "exec",	 "noexec",
	"async",   "sync",	 "dirsync",	 "atime",
	"noatime", "allow_root", "auto_unmount", "default_permissions",
	NULL,
};
static const char *const mount_passed_prefix[] = {
	"context=", "fscontext=", "defcontext=", "rootcontext=", NULL,
};
static const char *const mount_dropped[] = {
	"defaults",   "auto",	    "noauto",	   "user",	    "users",
	"nouser",     "owner",	    "group",	   "nofail",	    "_netdev",
	"relatime",   "norelatime", "strictatime", "nostrictatime", "lazytime",
	"nolazytime", "diratime",   "nodiratime",  "loud",	    "silent",
	NULL,
};
static const char *const mount_dropped_prefix[] = {
	"x-", "X-", "comment=", "user=", "helper=", "uhelper=", NULL,
};
static const char *const mount_reserved_prefix[] = {
	"fsname=",
	"subtype=",
	"max_read=",
	NULL,
};

static bool word_in(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

static bool prefix_in(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strncmp(*list, s, strlen(*list)))
			return true;
	return false;
}

/* One "key" or "key=value" of an -o list; @item is ours to keep. */
static int mount_opt_apply(char *item, struct uzram_options *opts, char *err)
{
	char *eq = strchr(item, '=');
	size_t len = eq ? (size_t)(eq - item) : strlen(item);
	const struct opt_spec *spec = NULL;
	char key[OPT_NAME_MAX];
	size_t i;

	/* a long option by its name, with '_' for '-' (fstab style) */
	if (len < sizeof(key)) {
		for (i = 0; i < len; i++)
			key[i] = item[i] == '_' ? '-' : item[i];
		key[len] = '\0';
		spec = spec_find_long(key, len);
	}
	if (spec) {
		if (spec->has_arg && !eq)
			return opt_fail(err, "-o %s: needs a value (%s=VALUE)",
					item, item);
		if (!spec->has_arg && eq)
			return opt_fail(err, "-o %s: takes no value", item);
		return opt_apply(spec, eq ? eq + 1 : NULL, opts, err);
	}
	if (!strncmp(item, "fsname=", 7) && item[7]) {
		opts->source = item + 7;
		return 0;
	}
	if (word_in(mount_dropped, item) ||
	    prefix_in(mount_dropped_prefix, item))
		return 0;
	if (word_in(mount_passed, item) || prefix_in(mount_passed_prefix, item))
		return fuse_opt_add(item, opts);
	if (prefix_in(mount_reserved_prefix, item))
		return opt_fail(err, "-o %.*s: set by uzram itself", (int)len,
				item);
	return opt_fail(err,
			"-o %s: unknown mount option (the long options are "
			"keys too, e.g. size=4G,algo=zstd; see --help)",
			item);
}

/*
 * An -o list: comma-separated items, each applied in order. A comma or
 * backslash inside a value is written "\," or "\\" (as libfuse's own
 * option parser takes it), e.g. algo_params=level=3\,dict=/x.
 */
static int mount_opts_parse(const char *list, struct uzram_options *opts,
			    char *err)
{
	char *copy = strdup(list), *item, *out;
	const char *p;
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = owned_add(copy, opts);
	if (ret)
		return ret;
	item = out = copy;
	for (p = list;; p++) {
		if (*p == '\\' && (p[1] == ',' || p[1] == '\\')) {
			*out++ = *++p;
			continue;
		}
		if (*p && *p != ',') {
			*out++ = *p;
			continue;
		}
		*out++ = '\0';
		if (*item) { /* empty items, as mount.fuse3 drops them */
			ret = mount_opt_apply(item, opts, err);
			if (ret)
				return ret;
		}
		if (!*p)
			return 0;
		item = out;
	}
}

static unsigned int threads_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		return 2;
	if (n > (long)UZRAM_MAX_THREADS)
		return UZRAM_MAX_THREADS;
	return (unsigned int)n;
}

/*
 * One positional argument: MOUNTPOINT, or SOURCE then MOUNTPOINT as
 * mount.fuse3 calls us (`uzram SOURCE MOUNTPOINT -o ...`).
 */
static int mountpoint_set(const char *arg, struct uzram_options *opts,
			  char *err)
{
	if (opts->source)
		return opt_fail(err,
				"too many arguments ('%s'): expected "
				"[SOURCE] MOUNTPOINT",
				arg);
	if (opts->mountpoint)
		opts->source = opts->mountpoint; /* checked non-empty */
	if (!*arg)
		return opt_fail(err, "MOUNTPOINT is empty");
	opts->mountpoint = arg;
	return 0;
}

int uzram_options_parse(int argc, char *const argv[],
			struct uzram_options *opts, char *err)
{
	bool options_done = false;
	int i, ret;

	memset(opts, 0, sizeof(*opts));
	opts->algo = "lz4";
	err[0] = '\0';
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && !strcmp(arg, "--")) {
			options_done = true;
			continue;
		}
		if (!options_done && !strncmp(arg, "--", 2))
			ret = long_opt_parse(argc, argv, &i, opts, err);
		else if (!options_done && arg[0] == '-' && arg[1])
			ret = short_opt_parse(argc, argv, &i, opts, err);
		else
			ret = mountpoint_set(arg, opts, err);
		if (ret)
			return ret;
	}
	if (opts->help || opts->version)
		return 0;
	if (!opts->mountpoint)
		return opt_fail(err, "missing MOUNTPOINT (see --help)");
	if (!opts->size && !opts->restore)
		return opt_fail(err, "missing --size SIZE (see --help)");
	if (!opts->threads)
		opts->threads = threads_default();
	return 0;
}

void uzram_options_free(struct uzram_options *opts)
{
	size_t i;

	for (i = 0; i < opts->nr_owned; i++)
		free(opts->owned[i]);
	free(opts->owned);
	opts->owned = NULL;
	opts->nr_owned = 0;
	free(opts->fuse_opts);
	opts->fuse_opts = NULL;
	opts->nr_fuse_opts = 0;
}
