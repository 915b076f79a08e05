/*
 * uzram.h - the uzram daemon as a library: command-line options and the
 * FUSE session that serves disk.img and the control files of one store.
 *
 * main() is three calls: uzram_options_parse(), uzram_run(),
 * uzram_options_free(). Everything else (the lowlevel ops, the control
 * files, the worker threads) is private to src/fuse/.
 *
 * Functions return 0 or -errno unless they say otherwise. Nothing here
 * keeps process-wide state except what libfuse itself keeps for its signal
 * handlers (one session per process).
 */
#ifndef UZRAM_UZRAM_H
#define UZRAM_UZRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest read or write one FUSE request carries (max_write, max_read). */
#define UZRAM_MAX_IO (1024u * 1024u)

/* Most worker threads --threads accepts. */
#define UZRAM_MAX_THREADS 1024u

/* Room for the one-line message uzram_options_parse() leaves in @err. */
#define UZRAM_ERR_MAX 256u

/* --transport: how requests travel (src/fuse/transport.h) */
enum uzram_transport_mode {
	UZRAM_TRANSPORT_AUTO,  /* io_uring if the kernel offers it, else dev */
	UZRAM_TRANSPORT_URING, /* FUSE over io_uring, or fail */
	UZRAM_TRANSPORT_DEV,   /* /dev/fuse read and write */
};

struct uzram_options {
	const char *source;	 /* SOURCE of `uzram SOURCE MOUNTPOINT` (as
				  * mount.fuse3 runs us): the fsname; or NULL */
	const char *mountpoint;	 /* as given; uzram_run() resolves it */
	uint64_t size;		 /* --size, bytes, > 0 */
	const char *algo;	 /* --algo: "lz4" (default), "lz4hc", "zstd" */
	bool algo_set;		 /* --algo was given (not the default) */
	const char *algo_params; /* --algo-params, or NULL */
	uint64_t mem_limit;	 /* --mem-limit, bytes, 0 = none */
	const char *backing_dev; /* --backing-dev, or NULL */
	const char *policy;	 /* --policy "k=v,...", or NULL */
	const char *restore;	 /* --restore PATH (a snapshot), or NULL;
				  * then --size may be 0 (the snapshot's) */
	unsigned int threads;	 /* --threads; 0 until parsed: then the
				  * number of online cores, at least 2 */
	bool dedup;		 /* --dedup */
	enum uzram_transport_mode transport; /* --transport, default auto */
	bool mlock;			     /* --mlock */
	bool allow_other;		     /* --allow-other */
	bool foreground;		     /* -f (also set by -d) */
	bool debug;			     /* -d: libfuse's request trace */
	bool help;		/* --help / -h: print usage, nothing else */
	bool version;		/* --version / -V */
	const char **fuse_opts; /* the -o items for libfuse, in order
				  * (into argv or @owned) */
	size_t nr_fuse_opts;
	char **owned; /* copies of -o lists the values point into */
	size_t nr_owned;
};

/*
 * uzram_parse_size - parse a byte count: decimal digits and an optional
 * K, M, G or T suffix (powers of 1024, either case).
 * Returns 0 and *@out, or -EINVAL (empty, junk, fractional) or -ERANGE
 * (does not fit in 64 bits).
 */
int uzram_parse_size(const char *s, uint64_t *out);

/*
 * uzram_options_parse - parse argv[1..argc-1] into @opts (zeroed first).
 * Options and the mountpoint may come in any order; `--opt=value` and
 * `--opt value` are both accepted, as are `-oOPT` and `-o OPT`; `--` ends
 * the options. With --help or --version nothing else is required.
 * Two positional arguments are SOURCE and MOUNTPOINT (mount.fuse3's call).
 * -o takes a comma-separated list; each item is a long option's name
 * (with '_' or '-') and its value (`size=4G`, `mlock`), a generic mount
 * option (passed to libfuse, or dropped if libfuse has no use for it:
 * noauto, _netdev, x-*, ...), or an error.
 * Returns 0, -EINVAL with a one-line message (no newline) in @err
 * (UZRAM_ERR_MAX bytes), or -ENOMEM. Call uzram_options_free() either way.
 */
int uzram_options_parse(int argc, char *const argv[],
			struct uzram_options *opts, char *err);

/* uzram_options_free - free what uzram_options_parse() allocated. */
void uzram_options_free(struct uzram_options *opts);

/* uzram_usage - print the --help text to @out. */
void uzram_usage(FILE *out);

/* uzram_version - the version string, e.g. "0.1.0". */
const char *uzram_version(void);

/*
 * uzram_run - check the mountpoint, create the store, mount, detach (unless
 * foreground), serve until unmounted or signalled (SIGINT, SIGTERM, SIGHUP),
 * then unmount and free everything. Errors before the mount is live are one
 * line on stderr. In daemon mode the parent returns (exit 0) only once the
 * mount is live.
 * Returns the process exit status: 0 after a clean shutdown, 1 on error.
 */
int uzram_run(const struct uzram_options *opts);

/*
 * The control files alone, for a store served by another program (the
 * nbdkit plugin's controls=DIR): the same files as the daemon's mount, no
 * disk.img, served by @threads libfuse worker threads of the caller's
 * process until uzram_controls_unmount(). No signal handlers are touched.
 */
struct uzram_controls;
struct zram;

/*
 * uzram_controls_check - whether @dir can take the controls (an empty
 * directory), so a caller can refuse a bad one before it starts serving.
 * Prints nothing (the caller words the error; inside nbdkit under ASan a
 * strerror() before exit() hung it, so callers use strerrordesc_np()).
 * Returns 0, -ENOTDIR, -ENOTEMPTY, or -errno of resolving or reading it.
 */
int uzram_controls_check(const char *dir);
/*
 * uzram_controls_mount - mount @z's control files on the empty directory
 * @dir and start serving them in the background. @z must outlive the
 * mount. Returns 0 and *@out; or -errno: as uzram_controls_check() (no
 * message), or after one line on stderr (the mount or thread failed).
 */
int uzram_controls_mount(struct zram *z, const char *dir, unsigned int threads,
			 struct uzram_controls **out);

/*
 * uzram_controls_unmount - unmount, wait for the workers, free. A reader
 * still in a control file finishes first. NULL: no-op.
 */
void uzram_controls_unmount(struct uzram_controls *c);

#endif
