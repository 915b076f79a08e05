/*
 * signals.c - the stop signals and the guard that keeps a disk in use.
 *
 * SIGINT, SIGTERM and SIGHUP end the session, as for any FUSE daemon, with
 * one guard: while disk.img is open (a loop device holds it, a filesystem
 * on it may be mounted), stopping would throw away the disk's only copy,
 * which `fusermount3 -u` and `reset` refuse too. The rule:
 *
 *   - disk not open: the signal stops the daemon;
 *   - disk open: the signal is refused with a warning, and arms the guard
 *     for UZRAM_STOP_WINDOW_MS (5 s); a second signal within that window
 *     stops the daemon anyway (Ctrl-C twice; a shutdown script's TERM,
 *     TERM); a signal after the window is refused again and re-arms;
 *   - closing the last open of disk.img disarms: the next refusal starts
 *     afresh.
 *
 * So a refused signal is never a licence for a later one: two signals an
 * hour (or a re-attach) apart both leave a disk in use alone. Before, the
 * first refusal was remembered for ever and any later signal, days later,
 * dropped a mounted disk.
 *
 * The handler's only way in is a process-wide pointer (libfuse keeps its
 * session in a static for the same reason). It is set before the first
 * handler is installed and cleared after the last one is removed, on
 * every path: a failed install undoes what it did, so no handler outlives
 * the daemon it points to. Only async-signal-safe calls in the handler
 * (clock_gettime, atomics, write, fuse_session_exit).
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

static struct uzram_daemon *signal_daemon;

static const int stop_sigs[] = {SIGINT, SIGTERM, SIGHUP};

enum uzram_stop uzram_stop_decide(struct uzram_daemon *d, int64_t now_ms)
{
	int64_t last;

	if (zram_open_count(d->zram) <= 0)
		return UZRAM_STOP_NOW;
	last = atomic_load_explicit(&d->stop_refused_ms, memory_order_relaxed);
	if (last && now_ms >= last && now_ms - last <= UZRAM_STOP_WINDOW_MS)
		return UZRAM_STOP_NOW;
	/* 0 means "none": a refusal at the clock's 0 counts as 1 */
	atomic_store_explicit(&d->stop_refused_ms, now_ms ? now_ms : 1,
			      memory_order_relaxed);
	return UZRAM_STOP_REFUSED;
}

void uzram_stop_rearm(struct uzram_daemon *d)
{
	atomic_store_explicit(&d->stop_refused_ms, 0, memory_order_relaxed);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stop_signal(int sig)
{
	static const char busy[] =
		"uzram: disk.img is in use (loop device or open file): detach "
		"it first; signal again within 5 s to stop anyway and lose "
		"its data\n";
	struct uzram_daemon *d = signal_daemon;
	ssize_t n;

	(void)sig;
	if (!d)
		return;
	if (uzram_stop_decide(d, now_ms()) == UZRAM_STOP_REFUSED) {
		n = write(STDERR_FILENO, busy, sizeof(busy) - 1);
		(void)n;
		return;
	}
	fuse_session_exit(d->se);
}

/* Our handler back to the default wherever it is installed. */
static void handlers_remove(const int *sigs, size_t nr)
{
	struct sigaction old;
	size_t i;

	for (i = 0; i < nr; i++)
		if (!sigaction(sigs[i], NULL, &old) &&
		    old.sa_handler == stop_signal)
			signal(sigs[i], SIG_DFL);
}

/*
 * Install stop_signal() for the signals that are at their default (a
 * script's background job starts with SIGINT ignored: leave it so, as
 * libfuse does), then let libfuse ignore SIGPIPE.
 */
int uzram_signals_install_set(struct uzram_daemon *d, struct fuse_session *se,
			      const int *sigs, size_t nr)
{
	struct sigaction sa, old;
	size_t i;

	d->se = se;
	atomic_store(&d->stop_refused_ms, 0);
	signal_daemon = d;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < nr; i++) {
		if (sigaction(sigs[i], NULL, &old))
			goto err_remove;
		if (old.sa_handler == SIG_DFL && sigaction(sigs[i], &sa, NULL))
			goto err_remove;
	}
	if (fuse_set_signal_handlers(se)) {
		fuse_remove_signal_handlers(se); /* whatever it set */
		goto err_remove;
	}
	return 0;
err_remove:
	handlers_remove(sigs, nr);
	signal_daemon = NULL;
	return -1;
}

int uzram_signals_install(struct uzram_daemon *d, struct fuse_session *se)
{
	return uzram_signals_install_set(
		d, se, stop_sigs, sizeof(stop_sigs) / sizeof(*stop_sigs));
}

void uzram_signals_remove(struct fuse_session *se)
{
	fuse_remove_signal_handlers(se);
	handlers_remove(stop_sigs, sizeof(stop_sigs) / sizeof(*stop_sigs));
	signal_daemon = NULL;
}
