/*
 * main.c - uzramctl: zramctl for uzram disks.
 *
 *   uzramctl [options] [MOUNTPOINT|DEVICE...]      status table
 *   uzramctl --setup MOUNTPOINT --size SIZE [...]  start a disk, print its
 *                                                  loop device
 *   uzramctl --reset MOUNTPOINT|DEVICE             detach and unmount
 *   uzramctl --compact MOUNTPOINT|DEVICE           run compaction
 *   uzramctl --save MOUNTPOINT|DEVICE FILE         write a snapshot
 *   uzramctl --mem-limit SIZE MOUNTPOINT|DEVICE    set the memory limit
 *   uzramctl --resize MOUNTPOINT|DEVICE SIZE       grow or shrink online
 *   uzramctl --up NAME [--conf-dir DIR]            swap or file system from
 *                                                  /etc/uzram/NAME.conf
 *   uzramctl --down NAME                           take it down again
 *   uzramctl --watch [SECONDS]                     live status
 *
 * Exit status, as zramctl: 0 on success, 1 on any error (one line on
 * stderr). Unlike zramctl, -r is --raw (as in lsblk); --reset is long only.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uzramctl.h"

enum mode {
	MODE_LIST,
	MODE_SETUP,
	MODE_RESET,
	MODE_COMPACT,
	MODE_MEMLIMIT,
	MODE_SAVE,
	MODE_RESIZE,
	MODE_UP,
	MODE_DOWN,
	MODE_WATCH
};

struct cli {
	enum mode mode;
	bool mode_set;
	const char *target;   /* --reset, --compact, --save, --resize, --up,
			       * --down */
	const char *save;     /* --save: the snapshot's path */
	bool no_sync;	      /* --no-sync: save without the fsync */
	const char *size;     /* --resize */
	const char *conf_dir; /* --conf-dir */
	double interval;      /* --watch */
	struct table_opts table;
	struct setup_opts setup;
};

enum {
	OPT_OUTPUT_ALL = 256,
	OPT_SETUP,
	OPT_RESET,
	OPT_COMPACT,
	OPT_MEM_LIMIT,
	OPT_SAVE,
	OPT_WATCH,
	OPT_RESIZE,
	OPT_UP,
	OPT_DOWN,
	OPT_CONF_DIR,
	OPT_NO_SYNC,
};

static const struct option long_opts[] = {
	{"bytes", no_argument, NULL, 'b'},
	{"noheadings", no_argument, NULL, 'n'},
	{"raw", no_argument, NULL, 'r'},
	{"json", no_argument, NULL, 'J'},
	{"output", required_argument, NULL, 'o'},
	{"output-all", no_argument, NULL, OPT_OUTPUT_ALL},
	{"setup", required_argument, NULL, OPT_SETUP},
	{"size", required_argument, NULL, 's'},
	{"algorithm", required_argument, NULL, 'a'},
	{"algorithm-params", required_argument, NULL, 'p'},
	{"threads", required_argument, NULL, 't'},
	{"streams", required_argument, NULL, 't'},
	{"mem-limit", required_argument, NULL, OPT_MEM_LIMIT},
	{"reset", required_argument, NULL, OPT_RESET},
	{"compact", required_argument, NULL, OPT_COMPACT},
	{"save", required_argument, NULL, OPT_SAVE},
	{"no-sync", no_argument, NULL, OPT_NO_SYNC},
	{"resize", required_argument, NULL, OPT_RESIZE},
	{"up", required_argument, NULL, OPT_UP},
	{"down", required_argument, NULL, OPT_DOWN},
	{"conf-dir", required_argument, NULL, OPT_CONF_DIR},
	{"watch", optional_argument, NULL, OPT_WATCH},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage:\n"
		" uzramctl [options] [<mountpoint>|<device>...]\n"
		" uzramctl --setup <mountpoint> --size <size> [-a <algorithm>]\n"
		"          [-p <params>] [--mem-limit <size>] [-t <threads>]\n"
		" uzramctl --reset <mountpoint>|<device>\n"
		" uzramctl --compact <mountpoint>|<device>\n"
		" uzramctl --save <mountpoint>|<device> <file> [--no-sync]\n"
		" uzramctl --mem-limit <size> <mountpoint>|<device>\n"
		" uzramctl --resize <mountpoint>|<device> <size>\n"
		" uzramctl --up <name> [--conf-dir <dir>]\n"
		" uzramctl --down <name>\n"
		" uzramctl --watch [<seconds>]\n"
		"\nShow and control uzram disks (user-space zram).\n"
		"\nOptions:\n"
		" -b, --bytes               print sizes in bytes\n"
		" -n, --noheadings          don't print headings\n"
		" -o, --output <list>       columns to use (+LIST adds to the "
		"default)\n"
		"     --output-all          output all columns\n"
		" -r, --raw                 use raw output format\n"
		" -J, --json                use JSON output format\n"
		"     --setup <mountpoint>  start a disk and attach a loop "
		"device\n"
		" -s, --size <size>         disk size for --setup\n"
		" -a, --algorithm <name>    lz4, lz4hc or zstd for --setup\n"
		" -p, --algorithm-params <params>  e.g. 'level=3' for --setup\n"
		" -t, --threads <number>    daemon worker threads for --setup\n"
		"     --mem-limit <size>    memory limit (--setup, or a running "
		"disk)\n"
		"     --reset <disk>        detach the loop device and unmount\n"
		"     --compact <disk>      compact the disk's memory now\n"
		"     --save <disk> <file>  write a snapshot of the disk to "
		"<file>\n"
		"                           (restore: uzram --restore <file>)\n"
		"     --no-sync             --save without the fsync (faster; "
		"not\n"
		"                           durable across a crash)\n"
		"     --resize <disk> <size>  grow or shrink the disk online "
		"and its\n"
		"                           loop devices (then resize2fs)\n"
		"     --up <name>           swap or file system from "
		"<dir>/<name>.conf:\n"
		"                           daemon, loop device, mkswap+swapon "
		"or\n"
		"                           mkfs+mount (see uzram.conf(5))\n"
		"     --down <name>         swapoff or umount, detach, stop "
		"the daemon\n"
		"     --conf-dir <dir>      config directory for --up (default\n"
		"                           $UZRAM_CONF_DIR, else /etc/uzram)\n"
		"     --watch [<seconds>]   refresh the table until Ctrl-C "
		"(default 1)\n"
		" -h, --help                display this help\n"
		" -V, --version             display version\n"
		"\nA <disk> is a uzram mount point or a loop device on its "
		"disk.img.\n"
		"The daemon is $UZRAM_BIN, else uzram next to uzramctl, else "
		"on $PATH.\n");
	table_help_columns(f);
}

static int mode_set(struct cli *c, enum mode m)
{
	if (c->mode_set && c->mode != m) {
		fprintf(stderr, "uzramctl: --setup, --reset, --compact, "
				"--save, --mem-limit, --resize, --up, --down "
				"and --watch are exclusive\n");
		return -1;
	}
	c->mode = m;
	c->mode_set = true;
	return 0;
}

static int watch_interval(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || *out < 0.1 || *out > 86400) {
		fprintf(stderr, "uzramctl: invalid --watch interval '%s'\n", s);
		return -1;
	}
	return 0;
}

static bool is_number(const char *s)
{
	char *end;

	strtod(s, &end);
	return *s && !*end;
}

/* One option; returns 0, 1 to stop with success, or -1 on error. */
static int cli_option(struct cli *c, int opt, int argc, char **argv)
{
	switch (opt) {
	case 'b':
		c->table.bytes = true;
		return 0;
	case 'n':
		c->table.noheadings = true;
		return 0;
	case 'r':
		c->table.raw = true;
		return 0;
	case 'J':
		c->table.json = true;
		return 0;
	case 'o':
		return table_set_columns(&c->table, optarg) ? -1 : 0;
	case OPT_OUTPUT_ALL:
		table_all_columns(&c->table);
		return 0;
	case 's':
		c->setup.size = optarg;
		return 0;
	case 'a':
		c->setup.algorithm = optarg;
		return 0;
	case 'p':
		c->setup.algo_params = optarg;
		return 0;
	case 't':
		c->setup.threads = optarg;
		return 0;
	case OPT_MEM_LIMIT:
		c->setup.mem_limit = optarg;
		return 0;
	case OPT_SETUP:
		c->setup.mountpoint = optarg;
		return mode_set(c, MODE_SETUP);
	case OPT_RESET:
		c->target = optarg;
		return mode_set(c, MODE_RESET);
	case OPT_COMPACT:
		c->target = optarg;
		return mode_set(c, MODE_COMPACT);
	case OPT_SAVE:
		c->target = optarg;
		if (optind >= argc || argv[optind][0] == '-') {
			fprintf(stderr, "uzramctl: --save <disk> <file>: "
					"missing <file>\n");
			return -1;
		}
		c->save = argv[optind++];
		return mode_set(c, MODE_SAVE);
	case OPT_NO_SYNC:
		c->no_sync = true;
		return 0;
	case OPT_RESIZE:
		c->target = optarg;
		return mode_set(c, MODE_RESIZE);
	case OPT_UP:
		c->target = optarg;
		return mode_set(c, MODE_UP);
	case OPT_DOWN:
		c->target = optarg;
		return mode_set(c, MODE_DOWN);
	case OPT_CONF_DIR:
		c->conf_dir = optarg;
		return 0;
	case OPT_WATCH:
		if (!optarg && optind < argc && is_number(argv[optind]))
			optarg = argv[optind++];
		if (optarg && watch_interval(optarg, &c->interval))
			return -1;
		return mode_set(c, MODE_WATCH);
	case 'h':
		usage(stdout);
		return 1;
	case 'V':
		printf("uzramctl %s\n", UZRAMCTL_VERSION);
		return 1;
	}
	fprintf(stderr, "Try 'uzramctl --help' for more information.\n");
	return -1;
}

static int cli_parse(struct cli *c, int argc, char **argv)
{
	int opt, ret;

	memset(c, 0, sizeof(*c));
	c->interval = 1.0;
	table_default_columns(&c->table);
	while ((opt = getopt_long(argc, argv, "bnrJo:s:a:p:t:hV", long_opts,
				  NULL)) != -1) {
		ret = cli_option(c, opt, argc, argv);
		if (ret)
			return ret;
	}
	/* --mem-limit without --setup sets the limit of a running disk. */
	if (c->setup.mem_limit && c->mode == MODE_LIST) {
		if (argc - optind != 1) {
			fprintf(stderr, "uzramctl: --mem-limit needs one "
					"mount point or device\n");
			return -1;
		}
		c->mode = MODE_MEMLIMIT;
		c->target = argv[optind++];
	}
	if (c->mode == MODE_RESIZE) {
		if (argc - optind != 1) {
			fprintf(stderr, "uzramctl: --resize needs a disk and "
					"one size\n");
			return -1;
		}
		c->size = argv[optind++];
	}
	if (c->mode != MODE_LIST && optind < argc) {
		fprintf(stderr, "uzramctl: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (c->no_sync && c->mode != MODE_SAVE) {
		fprintf(stderr, "uzramctl: --no-sync needs --save\n");
		return -1;
	}
	if (c->mode != MODE_SETUP &&
	    (c->setup.size || c->setup.algorithm || c->setup.threads ||
	     c->setup.algo_params)) {
		fprintf(stderr,
			"uzramctl: --size, --algorithm, "
			"--algorithm-params and --threads need --setup\n");
		return -1;
	}
	return 0;
}

/*
 * The disks to show: the named ones, or every mounted one. A disk whose
 * files cannot be read is reported and left out (*@failed set) -- except,
 * when listing every mount, one that was unmounted between /proc/mounts and
 * the read (ENOENT): it is gone, not broken, as zramctl skips a device that
 * is reset while it lists.
 */
static int disks_gather(char **names, int count, struct disk **out,
			bool *failed)
{
	struct disk *v;
	int n, i, k = 0;

	if (count) {
		v = calloc((size_t)count, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (n = 0; n < count; n++)
			if (disk_resolve(names[n], &v[n]))
				goto err_free;
	} else {
		n = disks_list(&v);
		if (n < 0)
			return n;
	}
	for (i = 0; i < n; i++) {
		int ret = disk_read(&v[i]);

		/* listing every disk: one unmounted since /proc/mounts was
		 * read is gone, not an error */
		if (!count && (ret == -ENOENT || ret == -ENOTCONN))
			continue;
		if (ret) {
			fprintf(stderr, "uzramctl: %s: %s\n", v[i].mountpoint,
				strerror(-ret));
			*failed = true;
			continue;
		}
		v[k++] = v[i];
	}
	*out = v;
	return k;
err_free:
	free(v);
	*failed = true;
	return -EINVAL;
}

static int cmd_list(struct cli *c, char **names, int count)
{
	struct disk *v = NULL;
	bool failed = false;
	int n;

	n = disks_gather(names, count, &v, &failed);
	if (n < 0) {
		if (n != -EINVAL)
			fprintf(stderr, "uzramctl: %s\n", strerror(-n));
		return 1;
	}
	table_print(stdout, &c->table, v, n);
	free(v);
	return failed ? 1 : 0;
}

static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static int cmd_watch(struct cli *c)
{
	struct sigaction sa = {.sa_handler = watch_signal};
	struct timespec ts;
	char when[64];
	time_t now;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!watch_stop) {
		struct disk *v = NULL;
		bool failed = false;
		int n;

		now = time(NULL);
		strftime(when, sizeof(when), "%F %T", localtime(&now));
		printf("\033[H\033[2J");
		printf("Every %gs: uzramctl        %s\n\n", c->interval, when);
		n = disks_gather(NULL, 0, &v, &failed);
		if (n >= 0)
			table_print(stdout, &c->table, v, n);
		if (n == 0)
			printf("(no uzram disks mounted)\n");
		free(v);
		fflush(stdout);
		ts.tv_sec = (time_t)c->interval;
		ts.tv_nsec = (long)((c->interval - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c;
	int ret;

	ret = cli_parse(&c, argc, argv);
	if (ret)
		return ret < 0 ? 1 : 0;
	switch (c.mode) {
	case MODE_SETUP:
		return ctl_setup(&c.setup) ? 1 : 0;
	case MODE_RESET:
		return ctl_reset(c.target) ? 1 : 0;
	case MODE_COMPACT:
		return ctl_compact(c.target) ? 1 : 0;
	case MODE_MEMLIMIT:
		return ctl_mem_limit(c.target, c.setup.mem_limit) ? 1 : 0;
	case MODE_SAVE:
		return ctl_save(c.target, c.save, !c.no_sync) ? 1 : 0;
	case MODE_RESIZE:
		return ctl_resize(c.target, c.size) ? 1 : 0;
	case MODE_UP:
		return ctl_up(c.target, c.conf_dir) ? 1 : 0;
	case MODE_DOWN:
		return ctl_down(c.target) ? 1 : 0;
	case MODE_WATCH:
		return cmd_watch(&c);
	case MODE_LIST:
		break;
	}
	return cmd_list(&c, argv + optind, argc - optind);
}
