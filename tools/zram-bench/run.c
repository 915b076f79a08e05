/*
 * run.c - the timed runs: uzram's store (zram_write/zram_read of 4 KiB
 * pages) and the raw codecs on the same pages, 1..N threads each taking a
 * contiguous share of the pages.
 */
#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "bench.h"
#include "zram.h"

double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct thread_arg {
	void (*fn)(void *, int);
	void *arg;
	int index;
	pthread_barrier_t *barrier;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;

	pthread_barrier_wait(t->barrier);
	t->fn(t->arg, t->index);
	return NULL;
}

static double cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double threads_run(int threads, void (*fn)(void *, int), void *arg, double *cpu)
{
	struct thread_arg t[16];
	pthread_t tid[16];
	pthread_barrier_t barrier;
	double start, cpu0;
	int i;

	pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
	for (i = 0; i < threads; i++) {
		t[i] = (struct thread_arg){fn, arg, i, &barrier};
		pthread_create(&tid[i], NULL, thread_main, &t[i]);
	}
	start = now_sec();
	cpu0 = cpu_sec();
	pthread_barrier_wait(&barrier);
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	*cpu = cpu_sec() - cpu0;
	pthread_barrier_destroy(&barrier);
	return now_sec() - start;
}

static void share(size_t count, int threads, int i, size_t *from, size_t *to)
{
	*from = count * (size_t)i / (size_t)threads;
	*to = count * (size_t)(i + 1) / (size_t)threads;
}

struct store_run {
	const struct pages *p;
	struct zram *z;
	int threads;
	_Atomic long errors;
	_Atomic long mismatches;
};

static void store_write(void *arg, int i)
{
	struct store_run *s = arg;
	size_t from, to, k;

	share(s->p->count, s->threads, i, &from, &to);
	for (k = from; k < to; k++)
		if (zram_write(s->z, s->p->data + k * PAGE, PAGE,
			       (uint64_t)k * PAGE) != PAGE)
			s->errors++;
}

static void store_read(void *arg, int i)
{
	static _Thread_local unsigned char buf[PAGE];
	struct store_run *s = arg;
	size_t from, to, k;

	share(s->p->count, s->threads, i, &from, &to);
	for (k = from; k < to; k++) {
		if (zram_read(s->z, buf, PAGE, (uint64_t)k * PAGE) != PAGE)
			s->errors++;
		else if (memcmp(buf, s->p->data + k * PAGE, PAGE))
			s->mismatches++;
	}
}

bool bench_dedup;
int bench_level;

/* MB of @p per @sec seconds */
static double mbs(const struct pages *p, double sec)
{
	return (double)p->count * PAGE / 1e6 / sec;
}

int store_bench(const struct pages *p, const char *codec, int threads,
		struct result *r)
{
	struct zram_config cfg = {.disksize = (uint64_t)p->count * PAGE,
				  .algorithm = codec,
				  .threads = (unsigned)threads,
				  .dedup = bench_dedup};
	struct store_run s = {.p = p, .threads = threads};
	struct zram_stats st;
	char params[32];
	double t, cpu;
	int err;

	if (bench_level) {
		snprintf(params, sizeof(params), "level=%d", bench_level);
		cfg.algorithm_params = params;
	}
	err = zram_create(&cfg, &s.z);
	if (err)
		return err;
	memset(r, 0, sizeof(*r));
	snprintf(r->what, sizeof(r->what), "uzram");
	snprintf(r->codec, sizeof(r->codec), "%s", codec);
	r->threads = threads;
	t = threads_run(threads, store_write, &s, &cpu);
	r->write_mbs = mbs(p, t);
	r->write_cpu_mbs = mbs(p, cpu);
	t = threads_run(threads, store_read, &s, &cpu);
	r->read_mbs = mbs(p, t);
	r->read_cpu_mbs = mbs(p, cpu);
	zram_stats_get(s.z, &st);
	r->orig = st.orig_data_size;
	r->compr = st.compr_data_size;
	r->mem = st.mem_used_total;
	r->same = st.same_pages;
	r->huge = st.huge_pages;
	r->verified = !s.errors && !s.mismatches;
	zram_destroy(s.z);
	return 0;
}

/* Raw codec runs: each thread keeps its own context and output region. */
struct raw_run {
	const struct pages *p;
	const char *codec;
	int threads;
	unsigned char *out; /* count * 2 pages */
	uint32_t *len;	    /* compressed length per page */
	_Atomic long mismatches;
};

static size_t raw_compress(const char *codec, void *ctx, const void *src,
			   void *dst)
{
	if (!strcmp(codec, "lz4"))
		return (size_t)LZ4_compress_fast_extState(
			ctx, src, dst, PAGE, 2 * PAGE,
			bench_level > 0 ? bench_level : 1);
	if (!strcmp(codec, "lz4hc"))
		return (size_t)LZ4_compress_HC_extStateHC(
			ctx, src, dst, PAGE, 2 * PAGE,
			bench_level ? bench_level : LZ4HC_CLEVEL_DEFAULT);
	return ZSTD_compressCCtx(ctx, dst, 2 * PAGE, src, PAGE,
				 bench_level ? bench_level : 3);
}

static void raw_comp_thread(void *arg, int i)
{
	struct raw_run *r = arg;
	void *ctx;
	size_t from, to, k;

	if (!strcmp(r->codec, "zstd"))
		ctx = ZSTD_createCCtx();
	else if (!strcmp(r->codec, "lz4hc"))
		ctx = malloc((size_t)LZ4_sizeofStateHC());
	else
		ctx = malloc((size_t)LZ4_sizeofState());
	share(r->p->count, r->threads, i, &from, &to);
	for (k = from; k < to; k++)
		r->len[k] = (uint32_t)raw_compress(r->codec, ctx,
						   r->p->data + k * PAGE,
						   r->out + k * 2 * PAGE);
	if (!strcmp(r->codec, "zstd"))
		ZSTD_freeCCtx(ctx);
	else
		free(ctx);
}

static void raw_decomp_thread(void *arg, int i)
{
	static _Thread_local unsigned char buf[PAGE];
	struct raw_run *r = arg;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t from, to, k, n;

	share(r->p->count, r->threads, i, &from, &to);
	for (k = from; k < to; k++) {
		const unsigned char *src = r->out + k * 2 * PAGE;

		if (!strcmp(r->codec, "zstd"))
			n = ZSTD_decompressDCtx(d, buf, PAGE, src, r->len[k]);
		else
			n = (size_t)LZ4_decompress_safe((const char *)src,
							(char *)buf,
							(int)r->len[k], PAGE);
		if (n != PAGE || memcmp(buf, r->p->data + k * PAGE, PAGE))
			r->mismatches++;
	}
	ZSTD_freeDCtx(d);
}

int raw_bench(const struct pages *p, const char *codec, int threads,
	      struct result *res)
{
	struct raw_run r = {.p = p, .codec = codec, .threads = threads};
	double t, cpu;
	size_t k;

	r.out = malloc(p->count * 2 * PAGE);
	r.len = malloc(p->count * sizeof(*r.len));
	if (!r.out || !r.len) {
		free(r.out);
		free(r.len);
		return -ENOMEM;
	}
	/* fault the output in first: time the codec, not page faults */
	memset(r.out, 0, p->count * 2 * PAGE);
	memset(res, 0, sizeof(*res));
	snprintf(res->what, sizeof(res->what), "raw");
	snprintf(res->codec, sizeof(res->codec), "%s", codec);
	res->threads = threads;
	t = threads_run(threads, raw_comp_thread, &r, &cpu);
	res->write_mbs = mbs(p, t);
	res->write_cpu_mbs = mbs(p, cpu);
	t = threads_run(threads, raw_decomp_thread, &r, &cpu);
	res->read_mbs = mbs(p, t);
	res->read_cpu_mbs = mbs(p, cpu);
	res->orig = (uint64_t)p->count * PAGE;
	for (k = 0; k < p->count; k++)
		res->compr += r.len[k];
	res->verified = !r.mismatches;
	free(r.out);
	free(r.len);
	return 0;
}
