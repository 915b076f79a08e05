/*
 * options.c - the uzram command line.
 *
 * A small hand-written parser rather than getopt_long(3): getopt keeps its
 * position in process-wide variables (optind), which the unit tests would
 * have to reset between calls, and libfuse's fuse_opt_parse() would accept
 * FUSE options we do not want to pass through unnamed. Every mistake ends
 * in -EINVAL with exactly one line of text for main() to print.
 *
 * Only -o values are handed to libfuse, later, by session.c; they are kept
 * as pointers into argv. Nothing here allocates except the -o array.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "uzram.h"

enum opt_id {
	OPT_SIZE,
	OPT_ALGO,
	OPT_ALGO_PARAMS,
	OPT_MEM_LIMIT,
	OPT_THREADS,
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
	{"threads", 0, true, OPT_THREADS},
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
	      "  --threads N            FUSE worker threads (default: online\n"
	      "                         cores, at least 2)\n"
	      "  --mlock                lock the daemon's memory (mlockall)\n"
	      "  --allow-other          let other users in (file modes apply)\n"
	      "  -f, --foreground       stay in the foreground\n"
	      "  -d, --debug            print every FUSE request (implies -f)\n"
	      "  -o OPTION              pass a mount option to libfuse\n"
	      "  -h, --help             print this help\n"
	      "  -V, --version          print the version\n"
	      "\n"
	      "Unmount with `fusermount3 -u MOUNTPOINT` or SIGTERM.\n",
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
	case OPT_THREADS:
		return threads_opt_parse(value, opts, err);
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
		return fuse_opt_add(value, opts);
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

static unsigned int threads_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		return 2;
	if (n > (long)UZRAM_MAX_THREADS)
		return UZRAM_MAX_THREADS;
	return (unsigned int)n;
}

static int mountpoint_set(const char *arg, struct uzram_options *opts,
			  char *err)
{
	if (opts->mountpoint)
		return opt_fail(err, "more than one MOUNTPOINT ('%s' and '%s')",
				opts->mountpoint, arg);
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
	if (!opts->size)
		return opt_fail(err, "missing --size SIZE (see --help)");
	if (!opts->threads)
		opts->threads = threads_default();
	return 0;
}

void uzram_options_free(struct uzram_options *opts)
{
	free(opts->fuse_opts);
	opts->fuse_opts = NULL;
	opts->nr_fuse_opts = 0;
}
