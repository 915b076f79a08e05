/*
 * controls.c - the control files of a store without disk.img, served from
 * threads of a program that serves the disk itself (the nbdkit plugin's
 * controls=DIR).
 *
 * The same ops table, inode numbers and control-file code as the daemon
 * (ops.c, ctlfiles.c) with uzram_daemon.controls_only set, so `cat
 * DIR/mm_stat` and `echo 1 > DIR/compact` behave exactly as on a daemon's
 * mount. Differences from uzram_run(): no signal handlers (the
 * host program owns its signals), no daemonizing, no PR_SET_IO_FLUSHER (no
 * block I/O comes through this mount), and the session loop runs in a
 * thread of ours until uzram_controls_unmount().
 *
 * Shutdown: fuse_session_unmount() makes every worker's read of /dev/fuse
 * fail with ENODEV, which ends fuse_session_loop_mt(); then the thread is
 * joined and the session destroyed. The store is the caller's and is not
 * freed here.
 *
 * Locking: none of our own; the session thread only starts after every field
 * is written, and the store serialises its commands.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

struct uzram_controls {
	struct uzram_daemon d;
	struct fuse_session *se;
	pthread_t thread;
	unsigned int threads;
};

static void *controls_loop(void *arg)
{
	struct uzram_controls *c = arg;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();

	if (!cfg)
		return NULL;
	fuse_loop_cfg_set_max_threads(cfg, c->threads);
	fuse_loop_cfg_set_idle_threads(cfg, c->threads);
	fuse_session_loop_mt(c->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return NULL;
}

static int controls_session(struct uzram_controls *c, const char *mnt)
{
	char opts[128];
	char *argv[] = {"uzram-controls", "-o", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	/*
	 * max_read as op_init() sets it, or libfuse refuses the session. Type
	 * fuse.uzram-controls, not fuse.uzram: there is no disk.img here, and
	 * uzramctl (which lists fuse.uzram mounts as disks) must not list it.
	 */
	snprintf(opts, sizeof(opts),
		 "fsname=uzram-controls,subtype=uzram-controls,"
		 "default_permissions,"
		 "max_read=%u",
		 UZRAM_MAX_IO);

	c->se = fuse_session_new(&args, &uzram_ll_ops, sizeof(uzram_ll_ops),
				 &c->d);
	if (!c->se)
		return -EINVAL;
	if (fuse_session_mount(c->se, mnt)) {
		fprintf(stderr, "uzram: cannot mount the controls on %s\n",
			mnt);
		fuse_session_destroy(c->se);
		return -EIO;
	}
	return 0;
}

/*
 * @dir must be an empty directory; its real path goes to @mnt (PATH_MAX).
 * Silent (no strerror(): see uzram_controls_check() in uzram.h).
 */
static int controls_dir_check(const char *dir, char *mnt)
{
	struct dirent *de;
	struct stat st;
	bool empty = true;
	DIR *d;

	if (!realpath(dir, mnt) || stat(mnt, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	d = opendir(mnt);
	if (!d)
		return -errno;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty ? 0 : -ENOTEMPTY;
}

int uzram_controls_check(const char *dir)
{
	char mnt[PATH_MAX];

	return controls_dir_check(dir, mnt);
}

int uzram_controls_mount(struct zram *z, const char *dir, unsigned int threads,
			 struct uzram_controls **out)
{
	struct uzram_controls *c;
	char mnt[PATH_MAX];
	int err;

	err = controls_dir_check(dir, mnt);
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->threads = threads ? threads : 1;
	c->d.zram = z;
	c->d.controls_only = true;
	c->d.uid = getuid();
	c->d.gid = getgid();
	c->d.started = time(NULL);
	c->d.attrs = zram_attrs(&c->d.nr_attrs);
	c->d.buf_size = UZRAM_MAX_IO;
	err = -pthread_key_create(&c->d.buf_key, free);
	if (err)
		goto err_free;
	err = controls_session(c, mnt);
	if (err)
		goto err_key;
	err = -pthread_create(&c->thread, NULL, controls_loop, c);
	if (err) {
		fprintf(stderr, "uzram: cannot start the controls thread: %s\n",
			strerror(-err));
		goto err_unmount;
	}
	*out = c;
	return 0;
err_unmount:
	fuse_session_unmount(c->se);
	fuse_session_destroy(c->se);
err_key:
	pthread_key_delete(c->d.buf_key);
err_free:
	free(c);
	return err;
}

void uzram_controls_unmount(struct uzram_controls *c)
{
	if (!c)
		return;
	fuse_session_exit(c->se);
	fuse_session_unmount(c->se);
	pthread_join(c->thread, NULL);
	/* `compact` writes answered from the store's thread (ctlfiles.c) */
	zram_compact_drain(c->d.zram);
	fuse_session_destroy(c->se);
	pthread_key_delete(c->d.buf_key);
	free(c);
}
