/*
 * zram_parse.c - the control-file grammar, good and bad inputs.
 *
 * Part 1 drives the parsers directly. Part 2 writes a table of inputs to
 * every writable attribute of a real store: each bad input must return its
 * error AND leave every visible setting and counter as it was (compared as
 * the text of every readable attribute plus the codec levels); each good
 * input must take effect.
 */
#include <errno.h>
#include <unistd.h>

#include "harness.h"
#include "zram.h"
#include "zram_internal.h"
#include "zram_parse.h"

static char show_buf[ZRAM_ATTR_SHOW_MAX];

static int store(struct zram *z, const char *name, const char *s)
{
	const struct zram_attr *a = zram_attr_find(name);

	REQUIRE(a && a->store);
	return a->store(z, s, strlen(s));
}

static const char *show(struct zram *z, const char *name)
{
	const struct zram_attr *a = zram_attr_find(name);
	ssize_t n;

	REQUIRE(a && a->show);
	n = a->show(z, show_buf, sizeof(show_buf));
	REQUIRE(n >= 0 && (size_t)n < sizeof(show_buf));
	show_buf[n] = '\0';
	return show_buf;
}

/* Everything a control write could change, as one string. */
static void snapshot(struct zram *z, char *out, size_t size)
{
	static const char *const names[] = {
		"comp_algorithm",   "mem_limit",       "mem_used_max",
		"mm_stat",	    "io_stat",	       "debug_stat",
		"stats.json",	    "disksize",	       "bd_stat",
		"backing_dev",	    "writeback_limit", "writeback_limit_enable",
		"recomp_algorithm", "policy",	       "dedup"};
	size_t pos = 0, i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		pos += (size_t)snprintf(out + pos, size - pos, "%s=%s",
					names[i], show(z, names[i]));
	for (i = 0; i < ZRAM_CODECS; i++)
		pos += (size_t)snprintf(
			out + pos, size - pos, "level%zu=%d dict%zu=%p\n", i,
			atomic_load(&z->params[0][i].level), i,
			(void *)atomic_load(&z->params[0][i].dict));
#ifdef UZRAM_TEST_HOOKS
	snprintf(out + pos, size - pos, "delay=%llu/%u\n",
		 (unsigned long long)atomic_load(&z->dbg_delay_index),
		 atomic_load(&z->dbg_delay_ms));
#endif
}

struct bad {
	const char *attr;
	const char *input;
	int err;
};

static const struct bad bad_inputs[] = {
	{"backing_dev", "", -EINVAL},
	{"backing_dev", "\n", -EINVAL},
	/* the store holds data: refused before the path is looked at, as
	 * zram (zram_tier tests the path errors on an empty store) */
	{"backing_dev", "/nonexistent/backing", -EBUSY},
	{"backing_dev", "/tmp", -EBUSY},
	{"writeback", "", -EINVAL},
	{"writeback", "\n", -EINVAL},
	{"writeback", "idle ", -EINVAL},
	{"writeback", "Idle", -EINVAL},
	{"writeback", "idle huge", -EINVAL},
	{"writeback", "type=", -EINVAL},
	{"writeback", "type=cold", -EINVAL},
	{"writeback", "type=idle type=huge", -EINVAL},
	{"writeback", "type=idle  page_index=1", -EINVAL},
	{"writeback", "page_index=", -EINVAL},
	{"writeback", "page_index=-1", -EINVAL},
	{"writeback", "page_index=1x", -EINVAL},
	{"writeback", "page_indexes=1", -EINVAL},
	{"writeback", "page_indexes=1-", -EINVAL},
	{"writeback", "page_indexes=-5", -EINVAL},
	{"writeback", "page_indexes=1-2-3", -EINVAL},
	{"writeback", "page_index=1 bogus=2", -EINVAL},
	{"writeback", "page_index=256", -ERANGE},
	{"writeback", "page_indexes=3-1", -ERANGE},
	{"writeback", "page_indexes=0-256", -ERANGE},
	{"writeback", "idle", -ENODEV},
	{"writeback", "page_index=0", -ENODEV},
	{"writeback_limit_enable", "", -EINVAL},
	{"writeback_limit_enable", "2", -EINVAL},
	{"writeback_limit_enable", "yes", -EINVAL},
	{"writeback_limit_enable", "1 ", -EINVAL},
	{"writeback_limit", "", -EINVAL},
	{"writeback_limit", "-1", -EINVAL},
	{"writeback_limit", "10K", -EINVAL},
	{"writeback_limit", "99999999999999999999", -EINVAL},
	{"recomp_algorithm", "", -EINVAL},
	{"recomp_algorithm", "zstd", -EINVAL},
	{"recomp_algorithm", "algo=", -EINVAL},
	{"recomp_algorithm", "algo=lzo", -EINVAL},
	{"recomp_algorithm", "priority=1", -EINVAL},
	{"recomp_algorithm", "algo=zstd priority=0", -EINVAL},
	{"recomp_algorithm", "algo=zstd priority=4", -EINVAL},
	{"recomp_algorithm", "algo=zstd algo=lz4", -EINVAL},
	{"recomp_algorithm", "algo=zstd  priority=1", -EINVAL},
	{"recomp_algorithm", "algo=zstd level=3", -EINVAL},
	{"recompress", "type=idle", -EINVAL}, /* no secondary codec */
	{"recompress", "type=incompressible", -EINVAL},
	{"recompress", "type=", -EINVAL},
	{"recompress", "idle", -EINVAL},
	{"recompress", "threshold=x", -EINVAL},
	{"recompress", "max_pages=-1", -EINVAL},
	{"recompress", "priority=4", -EINVAL},
	{"recompress", "algo=lzo", -EINVAL},
	{"recompress", "type=idle type=huge", -EINVAL},
	{"recompress", "type=idle ", -EINVAL},
	{"policy", "", -EINVAL},
	{"policy", "\n", -EINVAL},
	{"policy", "idle_after", -EINVAL},
	{"policy", "idle_after=", -EINVAL},
	{"policy", "idle_after=-1", -EINVAL},
	{"policy", "idle_after=1h", -EINVAL},
	{"policy", "recompress=1", -EINVAL},
	{"policy", "writeback=yes", -EINVAL},
	{"policy", "mem_target=1X", -EINVAL},
	{"policy", "interval=0", -EINVAL},
	{"policy", "interval=5 interval=6", -EINVAL},
	{"policy", "interval=5,,writeback=on", -EINVAL},
	{"policy", "interval=5 writeback=on ", -EINVAL},
	{"policy", "cold_after=5", -EINVAL},
	{"policy", "auto_dict=1", -EINVAL},
	{"policy", "auto_dict=", -EINVAL},
	{"policy", "auto_dict=on auto_dict=off", -EINVAL},
	{"policy", "auto_dict=ON", -EINVAL},
	{"policy", "writeback=on bogus=1", -EINVAL},
	{"policy", "group=", -EINVAL},
	{"policy", "group=1", -EINVAL},
	{"policy", "group=0", -EINVAL},
	{"policy", "group=33", -EINVAL},
	{"policy", "group=-4", -EINVAL},
	{"policy", "group=4x", -EINVAL},
	{"policy", "group=ON", -EINVAL},
	{"policy", "group=yes", -EINVAL},
	{"policy", "group=on group=8", -EINVAL},
	{"policy", "group=99999999999999999999", -EINVAL},
	{"policy", "group=on,bogus=1", -EINVAL},
	{"policy", "group_level=", -EINVAL},
	{"policy", "group_level=0", -EINVAL},
	{"policy", "group_level=20", -EINVAL},
	{"policy", "group_level=22", -EINVAL},
	{"policy", "group_level=-1", -EINVAL},
	{"policy", "group_level=9x", -EINVAL},
	{"policy", "group_level=on", -EINVAL},
	{"policy", "group_level=3 group_level=3", -EINVAL},
	{"policy", "group_level=99999999999999999999", -EINVAL},
	{"policy", "group=on,group_level=20", -EINVAL},
	{"comp_algorithm", "", -EINVAL},
	{"comp_algorithm", "\n", -EINVAL},
	{"comp_algorithm", " lz4", -EINVAL},
	{"comp_algorithm", "lz4 ", -EINVAL},
	{"comp_algorithm", "lz4\n\n", -EINVAL},
	{"comp_algorithm", "LZ4", -EINVAL},
	{"comp_algorithm", "lz", -EINVAL},
	{"comp_algorithm", "lz4hcx", -EINVAL},
	{"comp_algorithm", "lzo", -EINVAL},
	{"comp_algorithm", "zstd level=3", -EINVAL},
	{"algorithm_params", "", -EINVAL},
	{"algorithm_params", "\n", -EINVAL},
	{"algorithm_params", "level", -EINVAL},
	{"algorithm_params", "level=", -EINVAL},
	{"algorithm_params", "=3", -EINVAL},
	{"algorithm_params", "level=3 ", -EINVAL},
	{"algorithm_params", " level=3", -EINVAL},
	{"algorithm_params", "algo=zstd  level=3", -EINVAL},
	{"algorithm_params", "level=abc", -EINVAL},
	{"algorithm_params", "level=3x", -EINVAL},
	{"algorithm_params", "level=+3", -EINVAL},
	{"algorithm_params", "level=--3", -EINVAL},
	{"algorithm_params", "level=99999999999999999999", -EINVAL},
	{"algorithm_params", "level=2147483648", -EINVAL},
	{"algorithm_params", "level=0", -EINVAL},  /* lz4: 1.. */
	{"algorithm_params", "level=-1", -EINVAL}, /* lz4: 1.. */
	{"algorithm_params", "algo=zstd level=23", -EINVAL},
	{"algorithm_params", "algo=zstd level=-200000", -EINVAL},
	{"algorithm_params", "algo=lz4hc level=13", -EINVAL},
	{"algorithm_params", "algo=lzo level=1", -EINVAL},
	{"algorithm_params", "algo=zstd algo=lz4", -EINVAL},
	{"algorithm_params", "level=3 level=4", -EINVAL},
	{"algorithm_params", "foo=1", -EINVAL},
	{"algorithm_params", "priority=1", -EINVAL},
	{"algorithm_params", "level=3\n\n", -EINVAL},
	{"algorithm_params", "dict=/dev/null", -EINVAL}, /* not a file */
	{"algorithm_params", "dict=/etc/hostname level=0", -EINVAL},
	{"algorithm_params", "algo=zstd dict=/nonexistent/dict", -ENOENT},
	{"algorithm_params", "algo=zstd dict=/tmp", -EINVAL},
	{"algorithm_params", "algo=zstd level=5 dict=/nonexistent", -ENOENT},
	{"mem_limit", "", -EINVAL},
	{"mem_limit", "\n", -EINVAL},
	{"mem_limit", "-1", -EINVAL},
	{"mem_limit", " 1", -EINVAL},
	{"mem_limit", "1 ", -EINVAL},
	{"mem_limit", "1X", -EINVAL},
	{"mem_limit", "1KB", -EINVAL},
	{"mem_limit", "K", -EINVAL},
	{"mem_limit", "1.5M", -EINVAL},
	{"mem_limit", "0x10", -EINVAL},
	{"mem_limit", "18446744073709551616", -EINVAL},
	{"mem_limit", "18446744073709551615", -EINVAL}, /* page round-up */
	{"mem_limit", "16777216T", -EINVAL},
	{"mem_limit", "1\n\n", -EINVAL},
	{"mem_used_max", "1", -EINVAL},
	{"mem_used_max", "", -EINVAL},
	{"mem_used_max", " 0", -EINVAL},
	{"mem_used_max", "-0", -EINVAL},
	{"mem_used_max", "0 ", -EINVAL},
	{"mem_used_max", "0K", -EINVAL},
	{"dedup", "", -EINVAL},
	{"dedup", "\n", -EINVAL},
	{"dedup", "2", -EINVAL},
	{"dedup", "on", -EINVAL},
	{"dedup", "1 ", -EINVAL},
	{"dedup", " 1", -EINVAL},
	{"dedup", "01x", -EINVAL},
	{"dedup", "-1", -EINVAL},
	{"dedup", "1\n\n", -EINVAL},
	{"train_dict", "1", -EINVAL},
	{"train_dict", "samples=", -EINVAL},
	{"train_dict", "samples", -EINVAL},
	{"train_dict", "samples=15", -EINVAL},
	{"train_dict", "samples=16385", -EINVAL},
	{"train_dict", "samples=-1", -EINVAL},
	{"train_dict", "samples=1k", -EINVAL},
	{"train_dict", "size=1023", -EINVAL},
	{"train_dict", "size=2M", -EINVAL},
	{"train_dict", "size=4X", -EINVAL},
	{"train_dict", "size=4K\n\n", -EINVAL},
	{"train_dict", "samples=100 samples=100", -EINVAL},
	{"train_dict", "size=4K size=8K", -EINVAL},
	{"train_dict", " size=4K", -EINVAL},
	{"train_dict", "size=4K ", -EINVAL},
	{"train_dict", "size=4K  samples=20", -EINVAL},
	{"train_dict", "foo=1", -EINVAL},
	{"train_dict", "SIZE=4K", -EINVAL},
	/* well formed, but one resident page is too few to learn from */
	{"train_dict", "", -ENODATA},
	{"train_dict", "\n", -ENODATA},
	{"train_dict", "samples=16 size=1K\n", -ENODATA},
	{"train_dict", "size=1M samples=16384", -ENODATA},
	{"idle", "", -EINVAL},
	{"idle", "al", -EINVAL},
	{"idle", "all ", -EINVAL},
	{"idle", "ALL", -EINVAL},
	{"idle", "-1", -EINVAL},
	{"idle", "1s", -EINVAL},
	{"idle", "99999999999999999999", -EINVAL},
	{"reset", "0", -EINVAL},
	{"reset", "", -EINVAL},
	{"reset", "-1", -EINVAL},
	{"reset", "yes", -EINVAL},
	{"reset", "1 ", -EINVAL},
	{"reset", "99999999999999999999", -EINVAL},
#ifdef UZRAM_TEST_HOOKS
	{"debug_read_delay", "", -EINVAL},
	{"debug_read_delay", "1", -EINVAL},
	{"debug_read_delay", "1 ", -EINVAL},
	{"debug_read_delay", " 1 2", -EINVAL},
	{"debug_read_delay", "1  2", -EINVAL},
	{"debug_read_delay", "a b", -EINVAL},
	{"debug_read_delay", "1 2 3", -EINVAL},
	{"debug_read_delay", "1 3600001", -EINVAL},
	{"debug_read_delay", "OFF", -EINVAL},
#endif
};

static void test_parsers(void)
{
	struct zram_params_req req;
	uint64_t v = 7;
	bool all;
	int i = 7;

	CHECK_EQ(parse_u64("0", 1, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(parse_u64("18446744073709551615\n", 21, &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(parse_u64("18446744073709551616", 20, &v), -EINVAL);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(parse_size("4k", 2, &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(parse_size("3G\n", 3, &v), 0);
	CHECK_EQ(v, 3ll << 30);
	CHECK_EQ(parse_size("16777215T", 9, &v), 0);
	CHECK(v == 16777215ull << 40);
	CHECK_EQ(parse_size("16777216T", 9, &v), -EINVAL);
	CHECK_EQ(parse_int("-2147483648", 11, &i), 0);
	CHECK_EQ(i, INT_MIN);
	CHECK_EQ(parse_int("2147483647", 10, &i), 0);
	CHECK_EQ(i, INT_MAX);
	CHECK_EQ(parse_int("-2147483649", 11, &i), -EINVAL);
	CHECK_EQ(parse_int("-", 1, &i), -EINVAL);
	CHECK_EQ(parse_int("", 0, &i), -EINVAL);
	CHECK_EQ(parse_params("algo=zstd level=-7 dict=/x/y\n", 29, &req), 0);
	CHECK_EQ(req.algo, ZRAM_CODEC_ZSTD);
	CHECK(req.has_level && req.level == -7);
	CHECK(req.has_dict && !strcmp(req.dict, "/x/y"));
	CHECK_EQ(parse_params("dict=a\0b", 8, &req), -EINVAL);
	CHECK_EQ(parse_idle("all\n", 4, &all, &v), 0);
	CHECK(all);
	CHECK_EQ(parse_idle("15", 2, &all, &v), 0);
	CHECK(!all && v == 15);
	CHECK_EQ(parse_algo("lz4hc\n", 6), ZRAM_CODEC_LZ4HC);
}

static void test_bad_inputs(struct zram *z)
{
	static char before[32768], after[32768];
	size_t i;

	for (i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		const struct bad *b = &bad_inputs[i];
		int err;

		snapshot(z, before, sizeof(before));
		err = store(z, b->attr, b->input);
		snapshot(z, after, sizeof(after));
		if (err != b->err || strcmp(before, after))
			fprintf(stderr, "bad input %s <- \"%s\": %d\n", b->attr,
				b->input, err);
		CHECK_EQ(err, b->err);
		CHECK(!strcmp(before, after));
	}
}

/* A policy write, and a line its read-back must then hold, in order. */
struct policy_row {
	const char *in, *shows;
};

/* group: on is the default size, a number is the size */
static const struct policy_row group_size_rows[] = {
	{"group=on", "\ngroup=4\n"},
	{"group=32", "\ngroup=32\n"},
	{"group=16\n", "\ngroup=16\n"},
	{"group=2,interval=2", "\ngroup=2\n"},
};

/* off is 0; group_level is its own key, kept when group changes */
static const struct policy_row group_level_rows[] = {
	{"group=off", "\ngroup=off\n"},
	{"group_level=15,group=16", "\ngroup=16\ngroup_level=15\n"},
	{"group=off", "\ngroup_level=15\n"},
	{"group_level=1", "\ngroup_level=1\n"},
	{"group_level=19\n", "\ngroup_level=19\n"},
};

static void policy_rows(struct zram *z, const struct policy_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		CHECK_EQ(store(z, "policy", rows[i].in), 0);
		CHECK(strstr(show(z, "policy"), rows[i].shows) != NULL);
	}
}

static void test_good_tier_inputs(struct zram *z)
{
	CHECK_EQ(store(z, "writeback_limit_enable", "1\n"), 0);
	CHECK(!strcmp(show(z, "writeback_limit_enable"), "1\n"));
	CHECK_EQ(store(z, "writeback_limit", "1234"), 0);
	CHECK(!strcmp(show(z, "writeback_limit"), "1234\n"));
	CHECK_EQ(store(z, "writeback_limit_enable", "0"), 0);
	CHECK_EQ(store(z, "recomp_algorithm", "algo=zstd"), 0);
	CHECK_EQ(store(z, "recomp_algorithm", "algo=lz4hc priority=3\n"), 0);
	CHECK(!strcmp(show(z, "recomp_algorithm"),
		      "#1: lz4 lz4hc [zstd]\n#3: lz4 [lz4hc] zstd\n"));
	int level0 = atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].level);

	CHECK_EQ(store(z, "algorithm_params", "priority=1 level=19"), 0);
	CHECK_EQ(atomic_load(&z->params[1][ZRAM_CODEC_ZSTD].level), 19);
	CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].level), level0);
	CHECK_EQ(store(z, "recompress",
		       "type=huge_idle threshold=1000 "
		       "max_pages=10 priority=1"),
		 0);
	CHECK_EQ(store(z, "recompress", "algo=lz4hc"), 0);
	CHECK_EQ(store(z, "recompress", "\n"), 0);
	CHECK_EQ(store(z, "policy", "idle_after=30 interval=2\nrecompress=on"),
		 0);
	CHECK(!strcmp(show(z, "policy"),
		      "idle_after=30\nrecompress=on\nwriteback=off\n"
		      "mem_target=0\ninterval=2\nauto_dict=off\ngroup=off\n"
		      "group_level=3\n"));
	CHECK_EQ(store(z, "policy", "auto_dict=on,recompress=off"), 0);
	CHECK(!strcmp(show(z, "policy"),
		      "idle_after=30\nrecompress=off\nwriteback=off\n"
		      "mem_target=0\ninterval=2\nauto_dict=on\ngroup=off\n"
		      "group_level=3\n"));
	CHECK_EQ(store(z, "policy", "auto_dict=off"), 0);
	policy_rows(z, group_size_rows,
		    sizeof(group_size_rows) / sizeof(group_size_rows[0]));
	CHECK_EQ(store(z, "policy", show(z, "policy")), 0);
	policy_rows(z, group_level_rows,
		    sizeof(group_level_rows) / sizeof(group_level_rows[0]));
	CHECK_EQ(store(z, "policy", "group_level=3"), 0);
	/* what `cat policy` prints is accepted back */
	CHECK_EQ(store(z, "policy", show(z, "policy")), 0);
	CHECK_EQ(store(z, "policy", "recompress=off,mem_target=1M"), 0);
	CHECK(strstr(show(z, "policy"), "mem_target=1048576\n") != NULL);
	CHECK_EQ(store(z, "policy", "mem_target=0"), 0);
}

static void test_good_inputs(struct zram *z)
{
	CHECK_EQ(store(z, "comp_algorithm", "zstd\n"), 0);
	CHECK(!strcmp(show(z, "comp_algorithm"), "lz4 lz4hc [zstd]\n"));
	CHECK_EQ(store(z, "comp_algorithm", "lz4hc"), 0);
	CHECK(!strcmp(show(z, "comp_algorithm"), "lz4 [lz4hc] zstd\n"));
	CHECK_EQ(store(z, "algorithm_params", "level=4\n"), 0);
	CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_LZ4HC].level), 4);
	CHECK_EQ(store(z, "algorithm_params", "algo=zstd level=-3"), 0);
	CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_ZSTD].level), -3);
	CHECK_EQ(store(z, "algorithm_params", "level=12 algo=lz4"), 0);
	CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_LZ4].level), 12);
	CHECK_EQ(atomic_load(&z->params[0][ZRAM_CODEC_LZ4HC].level), 4);
	CHECK_EQ(store(z, "mem_limit", "1K"), 0);
	CHECK(!strcmp(show(z, "mem_limit"), "4096\n"));
	CHECK_EQ(store(z, "mem_limit", "2m\n"), 0);
	CHECK(!strcmp(show(z, "mem_limit"), "2097152\n"));
	CHECK_EQ(store(z, "mem_limit", "5000"), 0);
	CHECK(!strcmp(show(z, "mem_limit"), "8192\n"));
	CHECK_EQ(store(z, "mem_limit", "1T"), 0);
	CHECK(!strcmp(show(z, "mem_limit"), "1099511627776\n"));
	CHECK_EQ(store(z, "mem_limit", "0"), 0);
	CHECK(!strcmp(show(z, "mem_limit"), "0\n"));
	CHECK_EQ(store(z, "mem_used_max", "0\n"), 0);
	CHECK_EQ(store(z, "compact", "1"), 0);
	CHECK_EQ(store(z, "idle", "all"), 0);
	CHECK_EQ(store(z, "idle", "60\n"), 0);
	CHECK(!strcmp(show(z, "dedup"), "0\n"));
	CHECK_EQ(store(z, "dedup", "1\n"), 0);
	CHECK(!strcmp(show(z, "dedup"), "1\n"));
	CHECK_EQ(store(z, "dedup", "0"), 0);
	CHECK(!strcmp(show(z, "dedup"), "0\n"));
	CHECK_EQ(store(z, "dedup", "1"), 0);
	CHECK_EQ(store(z, "reset", "1\n"), 0);
	CHECK_EQ(store(z, "reset", "42"), 0);
#ifdef UZRAM_TEST_HOOKS
	CHECK_EQ(store(z, "debug_read_delay", "3 10\n"), 0);
	CHECK_EQ(atomic_load(&z->dbg_delay_index), 3);
	CHECK_EQ(store(z, "debug_read_delay", "off"), 0);
	CHECK(atomic_load(&z->dbg_delay_index) == UINT64_MAX);
	CHECK_EQ(store(z, "debug_read_delay", "3 10"), 0);
	CHECK_EQ(store(z, "debug_read_delay", "0 0"), 0);
	CHECK(atomic_load(&z->dbg_delay_index) == UINT64_MAX);
#endif
}

static void test_table(void)
{
	static const struct {
		const char *name;
		unsigned int mode;
	} want[] = {
		{"mm_stat", 0444},	  {"io_stat", 0444},
		{"bd_stat", 0444},	  {"debug_stat", 0444},
		{"classes", 0444},	  {"stats.json", 0444},
		{"comp_algorithm", 0644}, {"algorithm_params", 0200},
		{"mem_limit", 0644},	  {"mem_used_max", 0644},
		{"compact", 0200},	  {"idle", 0200},
		{"reset", 0200},	  {"disksize", 0644},
		{"dedup", 0644},	  {"train_dict", 0200},
	};
	const struct zram_attr *a;
	size_t n, i;

	a = zram_attrs(&n);
	CHECK(n >= sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++) {
		CHECK(zram_attr_find(a[i].name) == &a[i]);
		CHECK(!!a[i].show == !!(a[i].mode & 0444));
		CHECK(!!a[i].store == !!(a[i].mode & 0200));
	}
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct zram_attr *f = zram_attr_find(want[i].name);

		CHECK(f != NULL);
		if (f)
			CHECK_EQ(f->mode, want[i].mode);
	}
	CHECK(zram_attr_find("nonexistent") == NULL);
}

int main(void)
{
	struct zram_config cfg = {.disksize = 1 << 20};
	char page[ZRAM_PAGE_SIZE];
	struct zram *z;

	test_parsers();
	test_table();
	REQUIRE(zram_create(&cfg, &z) == 0);
	/* some content, so stats are not all zero */
	memset(page, 'x', sizeof(page));
	page[100] = 'y';
	CHECK_EQ(zram_write(z, page, sizeof(page), 0), sizeof(page));
	CHECK_EQ(store(z, "mem_limit", "3M"), 0);
	test_bad_inputs(z);
	test_good_inputs(z);
	test_good_tier_inputs(z);
	zram_destroy(z);
	return harness_finish("zram_parse");
}
