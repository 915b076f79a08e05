/*
 * updown.c - `uzramctl --up NAME` and `--down NAME`: a ready compressed
 * swap or file system from /etc/uzram/NAME.conf, as zram-generator makes
 * one from its config; uzram@NAME.service runs exactly these two commands.
 *
 * --up: read NAME.conf (uzram.conf(5)); start the daemon on
 * RUNDIR/NAME (`uzram uzram-NAME RUNDIR/NAME --KEY=VALUE ...`, every key
 * that is not ours passed on, --mlock added for swap); attach a loop device
 * with direct I/O; then mkswap + swapon, or mkfs + mount (+ chmod). A step
 * that fails undoes the earlier ones in reverse, so a failed --up leaves
 * nothing behind.
 * --down: from what is live, not from the config (it may have changed):
 * swapoff or umount each loop device of RUNDIR/NAME/disk.img, detach it,
 * unmount the daemon (which then exits), remove RUNDIR/NAME. Not up: a
 * note, exit 0, so a stop of a unit that never started succeeds.
 *
 * The config directory is $UZRAM_CONF_DIR or --conf-dir (default
 * /etc/uzram), the run directory $UZRAM_RUN_DIR (default /run/uzram): tests
 * use their own. External programs run with fork/exec, never a shell.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <mntent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uzramctl.h"

#define MAX_ARGS 64
#define LINE_MAX_LEN 1024

struct conf {
	char name[128];
	char path[PATH_MAX];
	char fs_type[32];	/* "swap" (default) or a mkfs.TYPE */
	char swap_priority[16]; /* swapon -p, default 100 */
	char mount_point[PATH_MAX];
	char mount_options[512]; /* default "discard" */
	char mkfs_options[512];
	char mode[16]; /* octal, chmod of the mounted root, or "" */
	/* the daemon's options, "--key=value" or "--flag", malloc'ed */
	char *daemon_opts[MAX_ARGS];
	int nr_daemon_opts;
	bool has_size;
};

static const char *conf_dir(const char *override)
{
	const char *e = getenv("UZRAM_CONF_DIR");

	if (override)
		return override;
	return e && *e ? e : "/etc/uzram";
}

static const char *run_dir(void)
{
	const char *e = getenv("UZRAM_RUN_DIR");

	return e && *e ? e : "/run/uzram";
}

static bool name_ok(const char *name)
{
	const char *p;

	if (!*name || strlen(name) >= 128 || name[0] == '.')
		return false;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void conf_free(struct conf *c)
{
	int i;

	for (i = 0; i < c->nr_daemon_opts; i++)
		free(c->daemon_opts[i]);
	c->nr_daemon_opts = 0;
}

static int set_str(struct conf *c, int line, char *dst, size_t size,
		   const char *v)
{
	if (strlen(v) >= size) {
		fprintf(stderr, "uzramctl: %s:%d: value too long\n", c->path,
			line);
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

static bool word_is(const char *v, const char *a, const char *b, const char *c)
{
	return !strcasecmp(v, a) || !strcasecmp(v, b) || !strcasecmp(v, c);
}

/* Any other key is the daemon's: --key=value, or --key for yes/true/on. */
static int daemon_opt_add(struct conf *c, int line, const char *key,
			  const char *v)
{
	char *opt;
	size_t i;

	if (word_is(v, "no", "false", "off"))
		return 0;
	if (c->nr_daemon_opts == MAX_ARGS - 16) {
		fprintf(stderr, "uzramctl: %s:%d: too many options\n", c->path,
			line);
		return -1;
	}
	if (word_is(v, "yes", "true", "on"))
		v = NULL;
	if (asprintf(&opt, "--%s%s%s", key, v ? "=" : "", v ? v : "") < 0)
		return -1;
	for (i = 2; opt[i] && opt[i] != '='; i++)
		if (opt[i] == '_')
			opt[i] = '-';
	c->daemon_opts[c->nr_daemon_opts++] = opt;
	if (!strcmp(key, "size"))
		c->has_size = true;
	return 0;
}

static int conf_key(struct conf *c, int line, char *key, const char *v)
{
	char *p;

	for (p = key; *p; p++)
		if (*p == '-')
			*p = '_';
	if (!strcmp(key, "fs_type"))
		return set_str(c, line, c->fs_type, sizeof(c->fs_type), v);
	if (!strcmp(key, "swap_priority"))
		return set_str(c, line, c->swap_priority,
			       sizeof(c->swap_priority), v);
	if (!strcmp(key, "mount_point"))
		return set_str(c, line, c->mount_point, sizeof(c->mount_point),
			       v);
	if (!strcmp(key, "mount_options"))
		return set_str(c, line, c->mount_options,
			       sizeof(c->mount_options), v);
	if (!strcmp(key, "mkfs_options"))
		return set_str(c, line, c->mkfs_options,
			       sizeof(c->mkfs_options), v);
	if (!strcmp(key, "mode"))
		return set_str(c, line, c->mode, sizeof(c->mode), v);
	return daemon_opt_add(c, line, key, v);
}

/* The checks that need the whole file. */
static int conf_check(struct conf *c)
{
	char *end;
	long v;

	if (!c->has_size) {
		fprintf(stderr, "uzramctl: %s: no size = SIZE\n", c->path);
		return -1;
	}
	if (!strcmp(c->fs_type, "swap")) {
		errno = 0;
		v = strtol(c->swap_priority, &end, 10);
		if (errno || *end || end == c->swap_priority || v < -1 ||
		    v > 32767) {
			fprintf(stderr,
				"uzramctl: %s: swap_priority '%s': not a "
				"number from -1 to 32767\n",
				c->path, c->swap_priority);
			return -1;
		}
		return 0;
	}
	if (!name_ok(c->fs_type)) {
		fprintf(stderr, "uzramctl: %s: fs_type '%s': not a name\n",
			c->path, c->fs_type);
		return -1;
	}
	if (c->mount_point[0] != '/') {
		fprintf(stderr,
			"uzramctl: %s: fs_type %s needs mount_point = "
			"/ABSOLUTE/PATH\n",
			c->path, c->fs_type);
		return -1;
	}
	if (c->mode[0]) {
		v = strtol(c->mode, &end, 8);
		if (*end || v < 0 || v > 07777) {
			fprintf(stderr, "uzramctl: %s: mode '%s': not octal\n",
				c->path, c->mode);
			return -1;
		}
	}
	return 0;
}

/*
 * conf_load - read CONFDIR/NAME.conf: "key = value" lines, '#' comments,
 * blank lines. Returns 0, or -1 after one error line.
 */
static int conf_load(const char *name, const char *dir, struct conf *c)
{
	char buf[LINE_MAX_LEN];
	int line = 0, ret = 0;
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (!name_ok(name)) {
		fprintf(stderr,
			"uzramctl: '%s': not a disk name (letters, digits, "
			"'_', '.', '-')\n",
			name);
		return -1;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->path, sizeof(c->path), "%s/%s.conf", dir, name);
	strcpy(c->fs_type, "swap");
	strcpy(c->swap_priority, "100");
	strcpy(c->mount_options, "discard");
	f = fopen(c->path, "re");
	if (!f) {
		fprintf(stderr, "uzramctl: %s: %s\n", c->path, strerror(errno));
		return -1;
	}
	while (!ret && fgets(buf, sizeof(buf), f)) {
		char *s, *eq;

		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			fprintf(stderr, "uzramctl: %s:%d: line too long\n",
				c->path, line);
			ret = -1;
			break;
		}
		s = trim(buf);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			fprintf(stderr,
				"uzramctl: %s:%d: expected 'key = value'\n",
				c->path, line);
			ret = -1;
			break;
		}
		*eq = '\0';
		s = trim(s);
		if (!*s ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
			    strlen(s)) {
			fprintf(stderr, "uzramctl: %s:%d: bad key '%s'\n",
				c->path, line, s);
			ret = -1;
			break;
		}
		ret = conf_key(c, line, s, trim(eq + 1));
	}
	fclose(f);
	if (!ret)
		ret = conf_check(c);
	if (ret)
		conf_free(c);
	return ret;
}

/* Split @s at spaces into @argv from *@n (at most @max). */
static void words_add(char *s, char **argv, int *n, int max)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, " \t", &save); tok && *n < max;
	     tok = strtok_r(NULL, " \t", &save))
		argv[(*n)++] = tok;
}

/* Run @argv quietly (stdout dropped); say which step failed. 0 or -1. */
static int step(char *const argv[])
{
	char out[256];
	int ret = cmd_run(argv, out, sizeof(out));

	if (ret > 0 && ret != 127)
		fprintf(stderr, "uzramctl: %s failed (exit status %d)\n",
			argv[0], ret);
	return ret ? -1 : 0;
}

static int loop_detach(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || (ioctl(fd, LOOP_CLR_FD, 0) && errno != ENXIO)) {
		fprintf(stderr, "uzramctl: %s: detach: %s\n", dev,
			strerror(errno));
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Start the daemon on @dir for @c. 0 or -1. */
static int daemon_start(const struct conf *c, const char *dir)
{
	char bin[PATH_MAX], source[160], *argv[MAX_ARGS];
	int n = 0, i;

	daemon_path(bin, sizeof(bin));
	snprintf(source, sizeof(source), "uzram-%s", c->name);
	argv[n++] = bin;
	argv[n++] = source;
	argv[n++] = (char *)dir;
	for (i = 0; i < c->nr_daemon_opts; i++)
		argv[n++] = c->daemon_opts[i];
	if (!strcmp(c->fs_type, "swap"))
		argv[n++] = "--mlock"; /* swap must never wait on swap */
	argv[n] = NULL;
	/* the daemon says what is wrong itself, in one line */
	return cmd_run(argv, NULL, 0) ? -1 : 0;
}

/* mkswap + swapon, or mkfs + mount (+ chmod). Undoes itself on failure. */
static int use_setup(struct conf *c, const char *dev)
{
	char *argv[MAX_ARGS], mkfs[64];
	int n = 0;

	if (!strcmp(c->fs_type, "swap")) {
		char *mk[] = {"mkswap", (char *)dev, NULL};
		char *on[] = {"swapon",		"--discard", "-p",
			      c->swap_priority, (char *)dev, NULL};

		return step(mk) || step(on) ? -1 : 0;
	}
	snprintf(mkfs, sizeof(mkfs), "mkfs.%s", c->fs_type);
	argv[n++] = mkfs;
	words_add(c->mkfs_options, argv, &n, MAX_ARGS - 2);
	argv[n++] = (char *)dev;
	argv[n] = NULL;
	if (step(argv))
		return -1;
	if (mkdir(c->mount_point, 0755) && errno != EEXIST) {
		fprintf(stderr, "uzramctl: mkdir %s: %s\n", c->mount_point,
			strerror(errno));
		return -1;
	}
	n = 0;
	argv[n++] = "mount";
	argv[n++] = "-t";
	argv[n++] = c->fs_type;
	if (c->mount_options[0]) {
		argv[n++] = "-o";
		argv[n++] = c->mount_options;
	}
	argv[n++] = (char *)dev;
	argv[n++] = c->mount_point;
	argv[n] = NULL;
	if (step(argv))
		return -1;
	if (c->mode[0] &&
	    chmod(c->mount_point, (mode_t)strtol(c->mode, NULL, 8))) {
		char *um[] = {"umount", c->mount_point, NULL};

		fprintf(stderr, "uzramctl: chmod %s: %s\n", c->mount_point,
			strerror(errno));
		step(um);
		return -1;
	}
	return 0;
}

int ctl_up(const char *name, const char *confdir)
{
	char dir[PATH_MAX], image[PATH_MAX + 16], dev[128];
	struct conf c;
	int ret = -1;

	if (conf_load(name, conf_dir(confdir), &c))
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", run_dir(), name);
	snprintf(image, sizeof(image), "%s/" UZRAM_IMAGE, dir);
	if (path_is_mount(dir)) {
		fprintf(stderr, "uzramctl: %s: already up (%s is mounted)\n",
			name, dir);
		goto out;
	}
	if (mkdir(run_dir(), 0755) && errno != EEXIST) {
		fprintf(stderr, "uzramctl: mkdir %s: %s\n", run_dir(),
			strerror(errno));
		goto out;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "uzramctl: mkdir %s: %s\n", dir,
			strerror(errno));
		goto out;
	}
	if (daemon_start(&c, dir))
		goto err_rmdir;
	{
		char *lo[] = {"losetup",	"--find", "--show",
			      "--direct-io=on", image,	  NULL};

		if (cmd_run(lo, dev, sizeof(dev)) || strncmp(dev, "/dev/", 5)) {
			fprintf(stderr, "uzramctl: losetup %s failed\n", image);
			goto err_unmount;
		}
	}
	if (use_setup(&c, dev))
		goto err_detach;
	printf("%s\n", dev);
	ret = 0;
	goto out;
err_detach:
	loop_detach(dev);
err_unmount:
	fuse_unmount(dir);
err_rmdir:
	rmdir(dir);
out:
	conf_free(&c);
	return ret;
}

/* Is @dev an active swap? */
static bool is_swap(const char *dev)
{
	char line[512];
	bool found = false;
	size_t n = strlen(dev);
	FILE *f = fopen("/proc/swaps", "re");

	while (f && !found && fgets(line, sizeof(line), f))
		found = !strncmp(line, dev, n) &&
			isspace((unsigned char)line[n]);
	if (f)
		fclose(f);
	return found;
}

/* swapoff @dev, or unmount everything mounted from it. 0 or -1. */
static int use_teardown(const char *dev)
{
	char dirs[16][PATH_MAX];
	struct mntent *m;
	int n = 0, i, ret = 0;
	FILE *f;

	if (is_swap(dev)) {
		char *off[] = {"swapoff", (char *)dev, NULL};

		return step(off);
	}
	f = setmntent("/proc/mounts", "r");
	while (f && n < 16 && (m = getmntent(f)))
		if (!strcmp(m->mnt_fsname, dev))
			snprintf(dirs[n++], PATH_MAX, "%s", m->mnt_dir);
	if (f)
		endmntent(f);
	for (i = n - 1; i >= 0; i--) { /* the last mounted first */
		char *um[] = {"umount", dirs[i], NULL};

		if (step(um))
			ret = -1;
	}
	return ret;
}

int ctl_down(const char *name)
{
	char dir[PATH_MAX], image[PATH_MAX + 16], dev[64];
	long nums[64];
	int n, i;

	if (!name_ok(name)) {
		fprintf(stderr, "uzramctl: '%s': not a disk name\n", name);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", run_dir(), name);
	snprintf(image, sizeof(image), "%s/" UZRAM_IMAGE, dir);
	if (!path_is_mount(dir)) {
		fprintf(stderr, "uzramctl: %s: not up\n", name);
		rmdir(dir);
		return 0;
	}
	n = disk_loops(image, nums, 64);
	for (i = 0; i < n; i++) {
		snprintf(dev, sizeof(dev), "/dev/loop%ld", nums[i]);
		if (use_teardown(dev) || loop_detach(dev))
			return -1; /* still in use: keep the daemon */
	}
	if (fuse_unmount(dir)) {
		fprintf(stderr, "uzramctl: %s: could not unmount %s\n", name,
			dir);
		return -1;
	}
	rmdir(dir);
	return 0;
}
