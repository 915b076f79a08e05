/*
 * uzram_options.c - the daemon's command line: sizes with suffixes, good
 * command lines in several spellings, and every kind of bad one, each of
 * which must fail with one line of text and no newline.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "uzram.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_sizes(void)
{
	uint64_t v = 0;

	CHECK_EQ(uzram_parse_size("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(uzram_parse_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(uzram_parse_size("1K", &v), 0);
	CHECK_EQ(v, 1024);
	CHECK_EQ(uzram_parse_size("3k", &v), 0);
	CHECK_EQ(v, 3072);
	CHECK_EQ(uzram_parse_size("64M", &v), 0);
	CHECK_EQ(v, 64ull << 20);
	CHECK_EQ(uzram_parse_size("1G", &v), 0);
	CHECK_EQ(v, 1ull << 30);
	CHECK_EQ(uzram_parse_size("2t", &v), 0);
	CHECK_EQ(v, 2ull << 40);
	CHECK_EQ(uzram_parse_size("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(uzram_parse_size("16777215T", &v), 0);
	CHECK(v == 16777215ull << 40);

	v = 77;
	CHECK_EQ(uzram_parse_size("", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("G", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("-1", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size(" 1G", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("1.5G", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("1GB", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("1P", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("1G ", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("0x10", &v), -EINVAL);
	CHECK_EQ(uzram_parse_size("18446744073709551616", &v), -ERANGE);
	CHECK_EQ(uzram_parse_size("16777216T", &v), -ERANGE);
	CHECK_EQ(uzram_parse_size(NULL, &v), -EINVAL);
	CHECK_EQ(v, 77); /* untouched on error */
}

/* mount.fuse3's call: uzram SOURCE MOUNTPOINT -o LIST */
static void test_mount_opts(void)
{
	struct uzram_options o;
	char err[UZRAM_ERR_MAX];
	char *a1[] = {
		"uzram", "uzram", "/mnt/z", "-o",
		"rw,size=4G,algo=zstd,algo_params=level=3\\,x=y,"
		"mem-limit=1M,threads=3,transport=dev,mlock,allow_other,nosuid,nodev,"
		"noauto,_netdev,x-systemd.automount,defaults,relatime,"
		"dev,suid,,user,nofail,comment=x,fsname=swap\\,1"};
	char *a2[] = {"uzram", "/mnt/z", "-osize=8K", "-o",
		      "ro",    "-o",	 "foreground"};

	CHECK_EQ(uzram_options_parse(ARGC(a1), a1, &o, err), 0);
	CHECK(o.source && !strcmp(o.source, "swap,1"));
	CHECK(!strcmp(o.mountpoint, "/mnt/z"));
	CHECK(o.size == 4ull << 30);
	CHECK(!strcmp(o.algo, "zstd"));
	CHECK(o.algo_params && !strcmp(o.algo_params, "level=3,x=y"));
	CHECK_EQ(o.mem_limit, 1 << 20);
	CHECK_EQ(o.threads, 3);
	CHECK_EQ(o.transport, UZRAM_TRANSPORT_DEV);
	CHECK(o.mlock && o.allow_other && !o.foreground);
	/* rw nosuid nodev dev suid go to libfuse; the rest is dropped */
	REQUIRE(o.nr_fuse_opts == 5);
	CHECK(!strcmp(o.fuse_opts[0], "rw"));
	CHECK(!strcmp(o.fuse_opts[1], "nosuid"));
	CHECK(!strcmp(o.fuse_opts[2], "nodev"));
	CHECK(!strcmp(o.fuse_opts[3], "dev"));
	CHECK(!strcmp(o.fuse_opts[4], "suid"));
	uzram_options_free(&o);
	CHECK(o.owned == NULL && o.nr_owned == 0);

	CHECK_EQ(uzram_options_parse(ARGC(a2), a2, &o, err), 0);
	CHECK(o.source == NULL);
	CHECK_EQ(o.size, 8192);
	CHECK(o.foreground);
	REQUIRE(o.nr_fuse_opts == 1);
	CHECK(!strcmp(o.fuse_opts[0], "ro"));
	uzram_options_free(&o);
}

static void test_good(void)
{
	struct uzram_options o;
	char err[UZRAM_ERR_MAX];
	char *a1[] = {"uzram", "/mnt/z", "--size", "1G"};
	char *a2[] = {"uzram",
		      "--size=4M",
		      "--algo",
		      "zstd",
		      "--algo-params",
		      "level=-3",
		      "--mem-limit",
		      "1M",
		      "--threads=7",
		      "--transport",
		      "uring",
		      "--mlock",
		      "--dedup",
		      "--allow-other",
		      "-f",
		      "-o",
		      "ro",
		      "-oallow_root",
		      "--",
		      "-odd-dir"};
	char *a3[] = {"uzram", "--help"};
	char *a4[] = {"uzram", "-V"};
	char *a5[] = {"uzram", "-d", "m", "--size", "1k", "--size", "2k"};

	CHECK_EQ(uzram_options_parse(ARGC(a1), a1, &o, err), 0);
	CHECK(!strcmp(o.mountpoint, "/mnt/z"));
	CHECK(o.size == 1ull << 30);
	CHECK(!strcmp(o.algo, "lz4"));
	CHECK(o.algo_params == NULL);
	CHECK_EQ(o.mem_limit, 0);
	CHECK(o.threads >= 2 && o.threads <= UZRAM_MAX_THREADS);
	CHECK(!o.foreground && !o.mlock && !o.allow_other && !o.debug);
	CHECK_EQ(o.transport, UZRAM_TRANSPORT_AUTO);
	CHECK(!o.dedup);
	CHECK_EQ(o.nr_fuse_opts, 0);
	uzram_options_free(&o);

	CHECK_EQ(uzram_options_parse(ARGC(a2), a2, &o, err), 0);
	CHECK(!strcmp(o.mountpoint, "-odd-dir"));
	CHECK_EQ(o.size, 4ull << 20);
	CHECK(!strcmp(o.algo, "zstd"));
	CHECK(o.algo_params && !strcmp(o.algo_params, "level=-3"));
	CHECK_EQ(o.mem_limit, 1 << 20);
	CHECK_EQ(o.threads, 7);
	CHECK_EQ(o.transport, UZRAM_TRANSPORT_URING);
	CHECK(o.mlock && o.allow_other && o.foreground && !o.debug);
	CHECK(o.dedup);
	REQUIRE(o.nr_fuse_opts == 2);
	CHECK(!strcmp(o.fuse_opts[0], "ro"));
	CHECK(!strcmp(o.fuse_opts[1], "allow_root"));
	uzram_options_free(&o);
	CHECK(o.fuse_opts == NULL && o.nr_fuse_opts == 0);

	CHECK_EQ(uzram_options_parse(ARGC(a3), a3, &o, err), 0);
	CHECK(o.help && !o.version);
	uzram_options_free(&o);
	CHECK_EQ(uzram_options_parse(ARGC(a4), a4, &o, err), 0);
	CHECK(o.version && !o.help);
	uzram_options_free(&o);

	/* -d implies -f; a repeated option: the last one wins */
	CHECK_EQ(uzram_options_parse(ARGC(a5), a5, &o, err), 0);
	CHECK(o.debug && o.foreground);
	CHECK_EQ(o.size, 2048);
	uzram_options_free(&o);
}

/* A bad command line: -EINVAL and one line that names the problem. */
static void check_bad(int argc, char **argv, const char *needle)
{
	struct uzram_options o;
	char err[UZRAM_ERR_MAX];
	int ret;

	ret = uzram_options_parse(argc, argv, &o, err);
	CHECK_EQ(ret, -EINVAL);
	CHECK(err[0] != '\0');
	CHECK(strchr(err, '\n') == NULL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", err, needle);
		CHECK(0);
	}
	uzram_options_free(&o);
}

#define BAD(needle, ...)                                \
	do {                                            \
		char *argv_[] = {"uzram", __VA_ARGS__}; \
		check_bad(ARGC(argv_), argv_, needle);  \
	} while (0)

/* --restore: --size becomes optional; an explicit --algo is remembered. */
static void test_restore(void)
{
	struct uzram_options o;
	char err[UZRAM_ERR_MAX];
	char *a1[] = {"uzram", "/mnt/z", "--restore", "/var/snap"};
	char *a2[] = {"uzram", "/mnt/z", "--restore=/s", "--size",
		      "1G",    "--algo", "lz4"};

	CHECK_EQ(uzram_options_parse(ARGC(a1), a1, &o, err), 0);
	CHECK(o.restore && !strcmp(o.restore, "/var/snap"));
	CHECK_EQ(o.size, 0);
	CHECK(!o.algo_set);
	uzram_options_free(&o);
	CHECK_EQ(uzram_options_parse(ARGC(a2), a2, &o, err), 0);
	CHECK(o.restore && !strcmp(o.restore, "/s"));
	CHECK(o.size == 1ull << 30);
	CHECK(o.algo_set && !strcmp(o.algo, "lz4"));
	uzram_options_free(&o);
}

static void test_bad(void)
{
	BAD("--restore: empty", "/mnt/z", "--restore=");
	BAD("missing MOUNTPOINT", "--size", "1G");
	BAD("missing --size", "/mnt/z");
	BAD("not a size", "/mnt/z", "--size", "1X");
	BAD("not a size", "/mnt/z", "--size", "");
	BAD("not a size", "/mnt/z", "--size=-5");
	BAD("too large", "/mnt/z", "--size", "99999999999T");
	BAD("more than 0", "/mnt/z", "--size", "0");
	/* the store's limit: a clear message, not EINVAL from the store */
	BAD("at most 16T", "/mnt/z", "--size", "17T");
	BAD("at most 16T", "/mnt/z", "--size", "17592186044417");
	BAD("at most 16T", "/mnt/z", "-o", "size=64T");
	BAD("not a size", "/mnt/z", "--size", "1G", "--mem-limit", "lots");
	BAD("unknown codec", "/mnt/z", "--size", "1G", "--algo", "lzo");
	BAD("unknown codec", "/mnt/z", "--size", "1G", "--algo=");
	BAD("empty", "/mnt/z", "--size", "1G", "--algo-params", "");
	BAD("unknown option '--bogus'", "/mnt/z", "--size", "1G", "--bogus");
	BAD("unknown option '--siz'", "/mnt/z", "--siz", "1G");
	BAD("unknown option '-x'", "/mnt/z", "--size", "1G", "-x");
	BAD("unknown option '-fd'", "/mnt/z", "--size", "1G", "-fd");
	BAD("needs a value", "/mnt/z", "--size");
	BAD("needs a value", "/mnt/z", "--size", "1G", "-o");
	BAD("takes no value", "/mnt/z", "--size", "1G", "--mlock=yes");
	BAD("takes no value", "/mnt/z", "--size", "1G", "--dedup=1");
	BAD("--threads", "/mnt/z", "--size", "1G", "--threads", "0");
	BAD("--threads", "/mnt/z", "--size", "1G", "--threads", "1025");
	BAD("--threads", "/mnt/z", "--size", "1G", "--threads", "2x");
	BAD("--threads", "/mnt/z", "--size", "1G", "--threads", "");
	BAD("too many arguments", "src", "/mnt/z", "/mnt/y", "--size", "1G");
	BAD("is empty", "", "/mnt/z", "--size", "1G");
	/* -o keys: the same checks as the long options, one line each */
	BAD("unknown mount option", "/mnt/z", "-o", "size=1G,bogus");
	BAD("-o bogus=1", "/mnt/z", "-o", "size=1G,bogus=1");
	BAD("-o sise=1G", "/mnt/z", "-o", "sise=1G");
	BAD("not a size", "/mnt/z", "-o", "size=1X");
	BAD("needs a value", "/mnt/z", "-o", "size");
	BAD("takes no value", "/mnt/z", "-o", "size=1G,mlock=1");
	BAD("unknown codec", "/mnt/z", "-o", "size=1G,algo=lzo");
	BAD("--threads", "/mnt/z", "-o", "size=1G,threads=0");
	BAD("--transport", "/mnt/z", "--size", "1G", "--transport", "io_uring");
	BAD("--transport", "/mnt/z", "-o", "size=1G,transport=");
	BAD("set by uzram", "/mnt/z", "-o", "size=1G,subtype=x");
	BAD("set by uzram", "/mnt/z", "-o", "size=1G,max_read=4096");
	BAD("missing --size", "uzram", "/mnt/z", "-o", "rw,algo=zstd");
	BAD("MOUNTPOINT is empty", "", "--size", "1G");
}

int main(void)
{
	test_sizes();
	test_good();
	test_mount_opts();
	test_restore();
	test_bad();
	return harness_finish("uzram_options");
}
