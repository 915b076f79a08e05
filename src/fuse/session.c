/*
 * session.c - the daemon's life cycle: check, create, mount, detach, serve,
 * and take everything down again in the reverse order.
 *
 * Order, and why:
 * 1. The mountpoint is checked (an empty directory) and the store is
 *    created before anything is mounted, so that every mistake is reported
 *    on the terminal and leaves nothing behind.
 * 2. PR_SET_IO_FLUSHER after fuse_session_new(), before any thread exists, so that every
 *    worker inherits it: the loop device's writeback of dirty pages under
 *    memory pressure ends up in our workers, and their own allocations must
 *    not recurse into that same writeback (see docs/daemon.md).
 * 3. fuse_session_mount(), then fuse_daemonize(): the parent exits 0 only
 *    after the mount exists and the child is ready to serve; a failed mount
 *    exits non-zero from the foreground. The store has no threads of its
 *    own, so it survives the fork.
 * 4. mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) after the fork
 *    (memory locks are not inherited), but it is also tried once before it
 *    so a failure still reaches the terminal. On fault only, so nothing is
 *    populated; the store unlocks what it gives back (docs/daemon.md).
 * 5. The multi-threaded loop with clone_fd and max_idle_threads = max_threads
 *    = --threads: a fixed pool of persistent workers, each reading its own
 *    /dev/fuse clone, each with its own read buffer and codec contexts.
 * 6. SIGINT, SIGTERM, SIGHUP or an unmount ends the loop; libfuse joins
 *    every worker before it returns, so the store and the buffers are freed
 *    when no request can reach them. While disk.img is open (a loop device
 *    holds it, or a filesystem on that loop device is mounted), a stop
 *    signal is refused with a warning unless it follows a refused one
 *    within UZRAM_STOP_WINDOW_MS (signals.c has the rule).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

static void io_flusher_set(void)
{
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
		fprintf(stderr,
			"uzram: warning: PR_SET_IO_FLUSHER: %s (needs "
			"CAP_SYS_RESOURCE, Linux 5.6); continuing\n",
			strerror(errno));
}

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/*
 * --mlock: every page the daemon touches is locked when it is faulted in
 * (MCL_ONFAULT), never before: the slot table of a 16 TiB disk is 64 GiB of
 * address space and must not be populated, and the pool maps chunks it has
 * not used yet. Memory the store gives back is unlocked first and dropped
 * (zs_os_release()), so the pool and the table still shrink. A kernel
 * without MCL_ONFAULT (before 4.4) gets no lock at all rather than one that
 * pins every mapping whole.
 */
static void memory_lock(bool verbose)
{
	if (!mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || !verbose)
		return;
	if (errno == EINVAL)
		fprintf(stderr, "uzram: warning: mlockall: this kernel has no "
				"MCL_ONFAULT (Linux 4.4); not locking "
				"memory\n");
	else
		fprintf(stderr, "uzram: warning: mlockall: %s; continuing\n",
			strerror(errno));
}

/* The mountpoint must be an empty directory. @resolved has PATH_MAX bytes. */
int uzram_mountpoint_check(const char *path, char *resolved)
{
	struct dirent *de;
	struct stat st;
	bool empty = true;
	DIR *dir;

	if (!realpath(path, resolved) || stat(resolved, &st)) {
		fprintf(stderr, "uzram: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "uzram: %s: not a directory\n", path);
		return -1;
	}
	dir = opendir(resolved);
	if (!dir) {
		fprintf(stderr, "uzram: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (empty && (de = readdir(dir)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(dir);
	if (!empty) {
		fprintf(stderr,
			"uzram: %s: not empty (already mounted?); need an "
			"empty directory\n",
			path);
		return -1;
	}
	return 0;
}

static int daemon_setup(struct uzram_daemon *d,
			const struct uzram_options *opts)
{
	struct zram_config cfg = {
		.disksize = opts->size,
		/* with --restore only an explicit --algo overrides */
		.algorithm =
			opts->restore && !opts->algo_set ? NULL : opts->algo,
		.algorithm_params = opts->algo_params,
		.mem_limit = opts->mem_limit,
		.dedup = opts->dedup,
		.threads = opts->threads,
		.backing_dev = opts->backing_dev,
		.policy = opts->policy,
	};
	int ret;

	memset(d, 0, sizeof(*d));
	if (opts->restore) {
		char err[UZRAM_ERR_MAX + PATH_MAX];

		ret = zram_restore(opts->restore, &cfg, &d->zram, err,
				   sizeof(err));
		if (ret) {
			fprintf(stderr, "uzram: --restore %s\n", err);
			return ret;
		}
	} else {
		ret = zram_create(&cfg, &d->zram);
	}
	if (ret) {
		fprintf(stderr,
			"uzram: cannot create a %llu-byte %s store%s%s%s%s%s%s: "
			"%s\n",
			(unsigned long long)opts->size, opts->algo,
			opts->algo_params ? " with --algo-params " : "",
			opts->algo_params ? opts->algo_params : "",
			opts->backing_dev ? " with --backing-dev " : "",
			opts->backing_dev ? opts->backing_dev : "",
			opts->policy ? " with --policy " : "",
			opts->policy ? opts->policy : "", strerror(-ret));
		return ret;
	}
	d->uid = getuid();
	d->gid = getgid();
	d->started = time(NULL);
	d->attrs = zram_attrs(&d->nr_attrs);
	d->buf_size = UZRAM_MAX_IO;
	ret = pthread_key_create(&d->buf_key, free);
	if (ret) {
		fprintf(stderr, "uzram: pthread_key_create: %s\n",
			strerror(ret));
		zram_destroy(d->zram);
		return -ret;
	}
	return 0;
}

static void daemon_teardown(struct uzram_daemon *d)
{
	/* the workers' buffers went with them; the main thread has none */
	free(pthread_getspecific(d->buf_key));
	pthread_key_delete(d->buf_key);
	zram_destroy(d->zram);
}

/*
 * "fsname=NAME": SOURCE as mount(8) was given it (so /proc/mounts matches
 * the fstab line and `mount -a` sees the disk is mounted), else "uzram";
 * commas and backslashes escaped for libfuse's option parser.
 */
static void fsname_opt(const struct uzram_options *opts, char *buf, size_t size)
{
	const char *s = opts->source ? opts->source : "uzram";
	size_t n = (size_t)snprintf(buf, size, "fsname=");

	for (; *s && n + 3 < size; s++) {
		if (*s == ',' || *s == '\\')
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
}

/*
 * argv for fuse_session_new(): the user's -o options first, ours last so
 * that the names other tools look for (fsname, subtype) and the request
 * size cannot be overridden.
 */
static int fuse_args_build(const struct uzram_options *opts,
			   struct fuse_args *args)
{
	char own[PATH_MAX + 160], fsname[PATH_MAX + 16];
	size_t i;

	fsname_opt(opts, fsname, sizeof(fsname));
	snprintf(own, sizeof(own),
		 "%s,subtype=uzram,default_permissions,max_read=%u%s", fsname,
		 UZRAM_MAX_IO, opts->allow_other ? ",allow_other" : "");
	if (fuse_opt_add_arg(args, "uzram"))
		return -ENOMEM;
	if (opts->debug && fuse_opt_add_arg(args, "-d"))
		return -ENOMEM;
	for (i = 0; i < opts->nr_fuse_opts; i++)
		if (fuse_opt_add_arg(args, "-o") ||
		    fuse_opt_add_arg(args, opts->fuse_opts[i]))
			return -ENOMEM;
	if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, own))
		return -ENOMEM;
	return 0;
}

/* Serve until unmounted or signalled. Returns the loop's result. */
static int session_serve(struct fuse_session *se, unsigned int threads)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int ret;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, threads);
	fuse_loop_cfg_set_idle_threads(cfg, threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

int uzram_run(const struct uzram_options *opts)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct uzram_daemon d;
	char mnt[PATH_MAX];
	int ret = 1, served;

	if (uzram_mountpoint_check(opts->mountpoint, mnt))
		return 1;
	if (daemon_setup(&d, opts))
		return 1;
	/* --transport uring that cannot be had: one line, nothing mounted */
	if (uzram_transport_probe(&d.transport, opts->transport, opts->threads))
		goto err_free_args;
	d.transport.trace = opts->debug;
	if (fuse_args_build(opts, &args)) {
		fprintf(stderr, "uzram: %s\n", strerror(ENOMEM));
		goto err_free_args;
	}
	/* on a bad -o option libfuse prints the one line itself */
	se = fuse_session_new(&args, &uzram_ll_ops, sizeof(uzram_ll_ops), &d);
	if (!se)
		goto err_free_args;
	io_flusher_set(); /* after the checks, so each error is one line */
	if (uzram_signals_install(&d, se)) {
		fprintf(stderr, "uzram: cannot install signal handlers\n");
		goto err_destroy_session;
	}
	if (fuse_session_mount(se, mnt)) {
		fprintf(stderr, "uzram: cannot mount on %s\n", mnt);
		goto err_remove_signals;
	}
	if (uzram_transport_attach(&d, se))
		goto err_unmount;
	if (opts->mlock)
		memory_lock(true);
	if (fuse_daemonize(opts->foreground))
		goto err_unmount;
	if (opts->mlock && !opts->foreground)
		memory_lock(false);
	served = session_serve(se, opts->threads);
	uzram_transport_stop(&d); /* the ring's workers, before the unmount */
	/* `compact` writes answered from the store's thread (ctlfiles.c) */
	zram_compact_drain(d.zram);
	/* 0: unmounted, > 0: the signal */
	ret = served < 0 || atomic_load(&d.transport.failed) ? 1 : 0;
err_unmount:
	fuse_session_unmount(se);
	uzram_transport_free(&d); /* the kernel is done with its buffers */
err_remove_signals:
	uzram_signals_remove(se);
err_destroy_session:
	fuse_session_destroy(se);
err_free_args:
	fuse_opt_free_args(&args);
	daemon_teardown(&d);
	return ret;
}
