/*
 * uzram_ctl_cap.c - open control and stat files cannot make the daemon
 * hold unbounded memory: at most UZRAM_CTL_OPENS_MAX open at once (then
 * EMFILE) and UZRAM_CTL_BYTES_MAX of snapshots (then ENOMEM), counted per
 * mount and given back on close. Before, any user (--allow-other) could
 * hold as many 64 KiB snapshots as it could open files.
 */
#include <errno.h>

#include "daemon.h"
#include "harness.h"

static struct ctl_file *files[UZRAM_CTL_OPENS_MAX + 1];

static void test_caps(void)
{
	struct zram_config cfg = {.disksize = 1 << 20};
	const struct zram_attr *mm, *classes, *reset;
	struct uzram_daemon d;
	unsigned int i, n;
	struct ctl_file *cf;
	int err = 0;

	memset(&d, 0, sizeof(d));
	REQUIRE(zram_create(&cfg, &d.zram) == 0);
	mm = zram_attr_find("mm_stat");
	classes = zram_attr_find("classes");
	reset = zram_attr_find("reset");
	REQUIRE(mm && classes && reset);

	/* the count: readers and writers alike, EMFILE beyond it */
	for (i = 0; i < UZRAM_CTL_OPENS_MAX; i++) {
		err = uzram_ctl_file_new(&d, i % 2 ? mm : reset, i % 2,
					 &files[i]);
		if (err)
			break;
	}
	CHECK_EQ(err, 0);
	CHECK_EQ(i, UZRAM_CTL_OPENS_MAX);
	CHECK_EQ(uzram_ctl_file_new(&d, mm, true, &cf), -EMFILE);
	CHECK_EQ(uzram_ctl_file_new(&d, reset, false, &cf), -EMFILE);
	CHECK(atomic_load(&d.ctl_bytes) <= UZRAM_CTL_BYTES_MAX);
	uzram_ctl_file_free(&d, files[7]); /* one closed: one may open */
	CHECK_EQ(uzram_ctl_file_new(&d, mm, true, &files[7]), 0);
	for (i = 0; i < UZRAM_CTL_OPENS_MAX; i++)
		uzram_ctl_file_free(&d, files[i]);
	CHECK_EQ(atomic_load(&d.ctl_opens), 0);
	CHECK_EQ(atomic_load(&d.ctl_bytes), 0);

	/* the bytes: the largest table, until one of the caps refuses */
	for (n = 0; n < UZRAM_CTL_OPENS_MAX; n++) {
		err = uzram_ctl_file_new(&d, classes, true, &files[n]);
		if (err)
			break;
		CHECK(atomic_load(&d.ctl_bytes) <= UZRAM_CTL_BYTES_MAX);
	}
	fprintf(stderr, "%u classes snapshots, %llu bytes held, then %d\n", n,
		(unsigned long long)atomic_load(&d.ctl_bytes), err);
	CHECK(err == -ENOMEM || err == -EMFILE);
	/* near the byte cap a reader's 64 KiB show() buffer does not fit */
	for (i = 0; i < n; i++)
		uzram_ctl_file_free(&d, files[i]);
	atomic_store(&d.ctl_bytes, UZRAM_CTL_BYTES_MAX - 4096);
	CHECK_EQ(uzram_ctl_file_new(&d, mm, true, &cf), -ENOMEM);
	CHECK_EQ(atomic_load(&d.ctl_bytes), UZRAM_CTL_BYTES_MAX - 4096);
	CHECK_EQ(atomic_load(&d.ctl_opens), 0);
	zram_destroy(d.zram);
}

int main(void)
{
	test_caps();
	return harness_finish("uzram_ctl_cap");
}
