/*
 * uzram_stop_guard.c - the stop-signal guard re-arms, and a failed install
 * of the signal handlers leaves none behind.
 *
 * With a simulated clock: while the disk is open a stop signal is refused;
 * a second one within UZRAM_STOP_WINDOW_MS stops; two signals an hour
 * apart are both refused (before, the first refusal was remembered for
 * ever, so any later signal dropped a disk in use); closing the disk
 * re-arms the guard. Then the real handler on a FUSE session (not
 * mounted), and an install that fails half way (SIGKILL cannot be caught):
 * the handler it had installed must be gone again, so no signal can reach
 * a daemon that no longer exists.
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <signal.h>

#include "daemon.h"
#include "harness.h"

#define HOUR_MS (3600 * 1000ll)

static void test_rule(void)
{
	struct zram_config cfg = {.disksize = 1 << 20};
	struct uzram_daemon d;
	int64_t t = 1000;

	memset(&d, 0, sizeof(d));
	REQUIRE(zram_create(&cfg, &d.zram) == 0);
	/* nobody has the disk: a signal stops at once */
	CHECK_EQ(uzram_stop_decide(&d, t), UZRAM_STOP_NOW);
	REQUIRE(zram_open_get(d.zram) == 0);
	/* in use: refused; an hour later refused again; then twice quickly */
	CHECK_EQ(uzram_stop_decide(&d, t), UZRAM_STOP_REFUSED);
	t += HOUR_MS;
	CHECK_EQ(uzram_stop_decide(&d, t), UZRAM_STOP_REFUSED);
	t += UZRAM_STOP_WINDOW_MS + 1;
	CHECK_EQ(uzram_stop_decide(&d, t), UZRAM_STOP_REFUSED);
	t += UZRAM_STOP_WINDOW_MS - 1;
	CHECK_EQ(uzram_stop_decide(&d, t), UZRAM_STOP_NOW);
	/* a refusal, then the disk is closed and opened again: re-armed */
	t += HOUR_MS;
	CHECK_EQ(uzram_stop_decide(&d, t), UZRAM_STOP_REFUSED);
	zram_open_put(d.zram);
	uzram_stop_rearm(&d); /* what op_release does on the last close */
	REQUIRE(zram_open_get(d.zram) == 0);
	CHECK_EQ(uzram_stop_decide(&d, t + 10), UZRAM_STOP_REFUSED);
	CHECK_EQ(uzram_stop_decide(&d, t + 20), UZRAM_STOP_NOW);
	/* a clock at 0 is a time like any other */
	uzram_stop_rearm(&d);
	CHECK_EQ(uzram_stop_decide(&d, 0), UZRAM_STOP_REFUSED);
	CHECK_EQ(uzram_stop_decide(&d, 1), UZRAM_STOP_NOW);
	zram_open_put(d.zram);
	zram_destroy(d.zram);
}

static bool handler_is_default(int sig)
{
	struct sigaction old;

	REQUIRE(sigaction(sig, NULL, &old) == 0);
	return old.sa_handler == SIG_DFL;
}

static void test_handler_and_failed_install(void)
{
	static const struct fuse_lowlevel_ops ops;
	char *argv[] = {"uzram_stop_guard", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct zram_config cfg = {.disksize = 1 << 20};
	const int good[] = {SIGUSR1, SIGUSR2};
	const int bad[] = {SIGUSR1, SIGKILL};
	struct fuse_session *se;
	struct uzram_daemon d;

	memset(&d, 0, sizeof(d));
	REQUIRE(zram_create(&cfg, &d.zram) == 0);
	se = fuse_session_new(&args, &ops, sizeof(ops), &d);
	REQUIRE(se);

	/* half way: SIGUSR1 was installed, SIGKILL fails; all undone */
	CHECK_EQ(uzram_signals_install_set(&d, se, bad, 2), -1);
	CHECK(handler_is_default(SIGUSR1));

	/* the real handler: refused while open, a second signal stops */
	CHECK_EQ(uzram_signals_install_set(&d, se, good, 2), 0);
	CHECK(!handler_is_default(SIGUSR1));
	REQUIRE(zram_open_get(d.zram) == 0);
	raise(SIGUSR1);
	CHECK(!fuse_session_exited(se));
	raise(SIGUSR2);
	CHECK(fuse_session_exited(se));
	zram_open_put(d.zram);
	uzram_signals_remove(se);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	zram_destroy(d.zram);
}

int main(void)
{
	test_rule();
	test_handler_and_failed_install();
	return harness_finish("uzram_stop_guard");
}
