/*
 * zs_lock.c - the zspage lock on its own (zs_internal.h): readers share it,
 * the writer only try-locks and fails while a reader holds it, readers that
 * meet a writer sleep on the futex (they are counted as waiters, do not
 * get in, and burn no CPU) until the writer's unlock wakes them.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "zs_internal.h"

struct waiter {
	struct zspage *zspage;
	atomic_int got;
	double cpu_seconds;
};

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *reader_main(void *arg)
{
	struct waiter *w = arg;
	double start = thread_cpu();

	zspage_read_lock(w->zspage);
	w->cpu_seconds = thread_cpu() - start;
	atomic_store(&w->got, 1);
	zspage_read_unlock(w->zspage);
	return NULL;
}

int main(void)
{
	static struct zspage zspage;
	struct waiter w[2] = {{&zspage, 0, 0}, {&zspage, 0, 0}};
	pthread_t t[2];
	int i;

	/* Readers share; the writer cannot get in while one holds it. */
	zspage_read_lock(&zspage);
	zspage_read_lock(&zspage);
	CHECK(!zspage_write_trylock(&zspage));
	zspage_read_unlock(&zspage);
	CHECK(!zspage_write_trylock(&zspage));
	zspage_read_unlock(&zspage);
	CHECK(zspage_write_trylock(&zspage));
	CHECK(!zspage_write_trylock(&zspage));

	/* Readers meeting the writer wait, asleep, until it unlocks. */
	for (i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, reader_main, &w[i]) == 0);
	/* Both go to sleep (after a few yields; slow on a loaded machine). */
	for (i = 0; i < 1000 && atomic_load(&zspage.waiters) < 2; i++)
		usleep(10 * 1000);
	CHECK_EQ(atomic_load(&zspage.waiters), 2);
	usleep(200 * 1000);
	CHECK_EQ(atomic_load(&w[0].got) + atomic_load(&w[1].got), 0);
	CHECK_EQ(atomic_load(&zspage.waiters), 2);
	zspage_write_unlock(&zspage);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(atomic_load(&w[i].got), 1);
		/* 200 ms and more blocked, far less of it on the CPU. */
		CHECK(w[i].cpu_seconds < 0.1);
	}
	CHECK_EQ(atomic_load(&zspage.lock), 0);
	CHECK_EQ(atomic_load(&zspage.waiters), 0);
	CHECK(zspage_write_trylock(&zspage));
	zspage_write_unlock(&zspage);
	return harness_finish("zs_lock");
}
