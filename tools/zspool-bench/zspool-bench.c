/*
 * zspool-bench - the allocator on real page sizes.
 *
 *   zspool-bench [--dir DIR] [--max-mib N] [--rounds N] [--json FILE] [--zram]
 *
 * Reads up to --max-mib MiB (default 256) of 4 KiB pages from the files under
 * DIR (default /usr/lib), compresses each with lz4 and with zstd level 3 and
 * stores them as zram would: same-filled pages are skipped, a page that
 * compresses to huge_class_size or more is stored raw (4096 B). Reports:
 *   - memory efficiency per codec: pool bytes (mem_used_total) over live
 *     payload bytes (compr_data_size), before and after freeing every
 *     other object and compacting;
 *   - throughput (ops/s) of malloc+write, read begin/end and free with the
 *     lz4 size distribution, on 1 and 2 threads, best of --rounds (5);
 *   - with --zram, if /dev/zram0 is unused: the same pages written to it
 *     with lz4, its mm_stat next to ours (the device is reset afterwards).
 * A table on stdout; JSON with --json FILE. A benchmark, not a test.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "bench.h"
#include "zsmalloc.h"

#define PAGE 4096u

struct input {
	unsigned char *pages; /* nr pages, page-aligned */
	size_t nr, cap;
	size_t files;
};

struct codec_result {
	const char *name;
	size_t stored, same, huge;
	uint64_t compr_data_size;
	uint64_t mem_used_total;
	uint64_t metadata_bytes;
	uint64_t half_compr, half_mem; /* after freeing half + compaction */
	uint64_t pages_compacted;
	double compress_seconds;
};

struct tput {
	unsigned int threads;
	double malloc_write, read, free; /* ops/s */
};

/* The input pages; nftw() has no user pointer, so one static. */
static struct input in;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int file_add(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	FILE *f;
	size_t n;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || st->st_size == 0)
		return 0;
	f = fopen(path, "rb");
	if (!f)
		return 0;
	while (in.nr < in.cap) {
		unsigned char *p = in.pages + in.nr * PAGE;

		n = fread(p, 1, PAGE, f);
		if (n == 0)
			break;
		memset(p + n, 0, PAGE - n);
		in.nr++;
	}
	fclose(f);
	in.files++;
	return in.nr < in.cap ? 0 : 1;
}

static int input_load(const char *dir, size_t max_mib)
{
	in.cap = max_mib * 256;
	in.pages = mmap(NULL, in.cap * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (in.pages == MAP_FAILED)
		return -ENOMEM;
	if (nftw(dir, file_add, 32, FTW_PHYS) < 0)
		return -errno;
	return in.nr ? 0 : -ENOENT;
}

static int page_same_filled(const unsigned char *p)
{
	uint64_t first, w;

	memcpy(&first, p, 8);
	for (unsigned int i = 8; i < PAGE; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != first)
			return 0;
	}
	return 1;
}

/* Compressed length of page @p with @codec (0 lz4, 1 zstd-3). */
static size_t page_compress(int codec, const unsigned char *p,
			    unsigned char *dst, size_t dst_cap, ZSTD_CCtx *cctx)
{
	if (codec == 0)
		return (size_t)LZ4_compress_default(
			(const char *)p, (char *)dst, PAGE, (int)dst_cap);
	return ZSTD_compressCCtx(cctx, dst, dst_cap, p, PAGE, 3);
}

/*
 * Store every page as zram would into a fresh pool. @sizes receives each
 * stored page's length, 0 for same-filled pages.
 */
static int codec_run(int codec, struct codec_result *r, uint32_t *sizes)
{
	struct zs_pool *pool = zs_create_pool(codec ? "zstd" : "lz4");
	size_t cap = ZSTD_compressBound(PAGE), i, len, huge;
	unsigned char *dst = malloc(cap);
	zs_handle_t *h = calloc(in.nr, sizeof(*h));
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct zs_pool_stats st;
	double t0;
	int err = 0;

	if (!pool || !dst || !h || !cctx) {
		err = -ENOMEM;
		goto out;
	}
	huge = zs_huge_class_size(pool);
	r->name = codec ? "zstd-3" : "lz4";
	for (i = 0; i < in.nr; i++) {
		const unsigned char *p = in.pages + i * PAGE, *src = dst;

		if (page_same_filled(p)) {
			r->same++;
			if (sizes)
				sizes[i] = 0;
			continue;
		}
		t0 = now();
		len = page_compress(codec, p, dst, cap, cctx);
		r->compress_seconds += now() - t0;
		if (len == 0 || (codec && ZSTD_isError(len)) || len >= huge) {
			len = PAGE;
			src = p;
			r->huge++;
		}
		sizes[i] = (uint32_t)len;
		err = zs_malloc(pool, len, &h[i]);
		if (err)
			goto out;
		zs_obj_write(pool, h[i], src, len);
		r->stored++;
		r->compr_data_size += len;
	}
	zs_pool_stats(pool, &st);
	r->mem_used_total = st.pages_allocated * PAGE;
	r->metadata_bytes = st.metadata_bytes;
	/* Fragment: free every other stored page, then compact. */
	r->half_compr = r->compr_data_size;
	for (i = 0; i < in.nr; i += 2) {
		if (!h[i])
			continue;
		zs_free(pool, h[i]);
		r->half_compr -= sizes[i];
	}
	r->pages_compacted = zs_compact(pool);
	r->half_mem = (uint64_t)zs_get_total_pages(pool) * PAGE;
out:
	ZSTD_freeCCtx(cctx);
	free(h);
	free(dst);
	zs_destroy_pool(pool);
	return err;
}

struct worker {
	struct zs_pool *pool;
	pthread_barrier_t *barrier;
	const uint32_t *sizes;
	zs_handle_t *h;
	size_t nr, tid, threads;
	unsigned int rounds;
	int err;
	double start[3],
		end[3]; /* this round's phases, as the worker saw them */
	volatile unsigned char sink;
};

static void worker_malloc(struct worker *w)
{
	for (size_t i = w->tid; i < w->nr; i += w->threads) {
		size_t len = w->sizes[i];

		if (!len)
			continue;
		if (zs_malloc(w->pool, len, &w->h[i])) {
			w->err = -ENOMEM;
			return;
		}
		zs_obj_write(w->pool, w->h[i], in.pages + i * PAGE, len);
	}
}

static void worker_read(struct worker *w, unsigned char *local)
{
	for (size_t i = w->tid; i < w->nr; i += w->threads) {
		unsigned char *p;

		if (!w->h[i])
			continue;
		p = zs_obj_read_begin(w->pool, w->h[i], local);
		w->sink ^= p[0] ^ p[w->sizes[i] - 1];
		zs_obj_read_end(w->pool, w->h[i], p);
	}
}

static void worker_free(struct worker *w)
{
	for (size_t i = w->tid; i < w->nr; i += w->threads) {
		zs_free(w->pool, w->h[i]);
		w->h[i] = 0;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char *local = malloc(PAGE);

	for (unsigned int r = 0; r < w->rounds; r++) {
		pthread_barrier_wait(w->barrier);
		for (int p = 0; p < 3; p++) {
			w->start[p] = now();
			if (p == 0)
				worker_malloc(w);
			else if (p == 1)
				worker_read(w, local);
			else
				worker_free(w);
			w->end[p] = now();
			pthread_barrier_wait(w->barrier);
		}
	}
	free(local);
	return NULL;
}

/* A phase lasts from its first worker's start to its last worker's end. */
static double phase_seconds(const struct worker *w, unsigned int threads, int p)
{
	double start = w[0].start[p], end = w[0].end[p];

	for (unsigned int k = 1; k < threads; k++) {
		if (w[k].start[p] < start)
			start = w[k].start[p];
		if (w[k].end[p] > end)
			end = w[k].end[p];
	}
	return end - start;
}

/* ops/s of each phase on @threads threads, best of @rounds rounds. */
static int tput_run(const uint32_t *sizes, unsigned int threads,
		    unsigned int rounds, struct tput *t)
{
	struct worker w[2];
	pthread_t tid[2];
	pthread_barrier_t barrier;
	zs_handle_t *h = calloc(in.nr, sizeof(*h));
	struct zs_pool *pool = zs_create_pool("tput");
	double phase[3] = {1e9, 1e9, 1e9}, d;
	size_t ops = 0, i;
	unsigned int k, p;

	if (!h || !pool) {
		free(h);
		zs_destroy_pool(pool);
		return -ENOMEM;
	}
	for (i = 0; i < in.nr; i++)
		ops += sizes[i] != 0;
	pthread_barrier_init(&barrier, NULL, threads + 1);
	for (k = 0; k < threads; k++) {
		w[k] = (struct worker){.pool = pool,
				       .barrier = &barrier,
				       .sizes = sizes,
				       .h = h,
				       .nr = in.nr,
				       .tid = k,
				       .threads = threads,
				       .rounds = rounds};
		pthread_create(&tid[k], NULL, worker_main, &w[k]);
	}
	for (k = 0; k < rounds; k++) {
		pthread_barrier_wait(&barrier);
		for (p = 0; p < 3; p++) {
			pthread_barrier_wait(&barrier);
			d = phase_seconds(w, threads, (int)p);
			if (d < phase[p]) /* best round: least disturbed */
				phase[p] = d;
		}
	}
	for (k = 0; k < threads; k++)
		pthread_join(tid[k], NULL);
	pthread_barrier_destroy(&barrier);
	t->threads = threads;
	t->malloc_write = (double)ops / phase[0];
	t->read = (double)ops / phase[1];
	t->free = (double)ops / phase[2];
	zs_destroy_pool(pool);
	free(h);
	return w[0].err ? w[0].err : (threads > 1 ? w[1].err : 0);
}

static void codec_print(const struct codec_result *r)
{
	printf("%-7s %8zu %7zu %7zu %12" PRIu64 " %12" PRIu64
	       " %7.4f %9.4f %10" PRIu64 "\n",
	       r->name, r->stored, r->same, r->huge, r->compr_data_size,
	       r->mem_used_total,
	       (double)r->mem_used_total / (double)r->compr_data_size,
	       r->half_compr ? (double)r->half_mem / (double)r->half_compr : 0,
	       r->metadata_bytes);
}

static void codec_json(FILE *f, const struct codec_result *r)
{
	fprintf(f,
		"    \"%s\": {\"stored_pages\": %zu, \"same_pages\": %zu, "
		"\"huge_pages\": %zu, \"compr_data_size\": %" PRIu64
		", \"mem_used_total\": %" PRIu64 ", \"efficiency\": %.5f, "
		"\"metadata_bytes\": %" PRIu64
		", \"half_freed_compr\": %" PRIu64
		", \"half_freed_mem_after_compact\": %" PRIu64
		", \"half_freed_efficiency\": %.5f, \"pages_compacted\": %" PRIu64
		", \"compress_seconds\": %.3f}",
		r->name, r->stored, r->same, r->huge, r->compr_data_size,
		r->mem_used_total,
		(double)r->mem_used_total / (double)r->compr_data_size,
		r->metadata_bytes, r->half_compr, r->half_mem,
		r->half_compr ? (double)r->half_mem / (double)r->half_compr : 0,
		r->pages_compacted, r->compress_seconds);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: zspool-bench [--dir DIR] [--max-mib N] "
		   "[--rounds N] [--json FILE] [--zram]\n");
}

struct opts {
	const char *dir, *json;
	size_t max_mib;
	unsigned int rounds;
	int zram;
};

static int opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"dir", required_argument, NULL, 'd'},
		{"max-mib", required_argument, NULL, 'm'},
		{"rounds", required_argument, NULL, 'r'},
		{"json", required_argument, NULL, 'j'},
		{"zram", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	char *end;
	int c;

	*o = (struct opts){"/usr/lib", NULL, 256, 5, 0};
	while ((c = getopt_long(argc, argv, "d:m:r:j:zh", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'm':
			o->max_mib = strtoul(optarg, &end, 10);
			if (*end || !o->max_mib || o->max_mib > 65536)
				goto err_usage;
			break;
		case 'r':
			o->rounds = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !o->rounds || o->rounds > 1000)
				goto err_usage;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'z':
			o->zram = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto err_usage;
		}
	}
	if (optind == argc)
		return 0;
err_usage:
	usage(stderr);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct codec_result cr[2];
	struct tput tp[2];
	struct zram_result zr;
	const char *why = NULL;
	uint32_t *sizes;
	struct opts o;
	FILE *jf;
	int err, zerr = -1, i;

	if (opts_parse(argc, argv, &o))
		return 2;
	err = input_load(o.dir, o.max_mib);
	if (err) {
		fprintf(stderr, "zspool-bench: no pages read under %s: %s\n",
			o.dir, strerror(-err));
		return 1;
	}
	sizes = calloc(2 * in.nr, sizeof(*sizes));
	memset(cr, 0, sizeof(cr));
	for (i = 0; i < 2; i++) {
		err = sizes ? codec_run(i, &cr[i], sizes + i * in.nr) : -ENOMEM;
		if (err) {
			fprintf(stderr, "zspool-bench: pool error %s\n",
				strerror(-err));
			return 1;
		}
	}
	for (i = 0; i < 2; i++) {
		err = tput_run(sizes, (unsigned int)i + 1, o.rounds, &tp[i]);
		if (err) {
			fprintf(stderr, "zspool-bench: pool error %s\n",
				strerror(-err));
			return 1;
		}
	}
	if (o.zram) {
		memset(&zr, 0, sizeof(zr));
		zerr = zram_anchor_run(in.pages, in.nr, &zr, &why);
		if (zerr)
			fprintf(stderr, "zspool-bench: zram: %s: %s\n", why,
				strerror(-zerr));
	}

	printf("input: %zu pages (%.1f MiB) from %zu files under %s\n", in.nr,
	       in.nr / 256.0, in.files, o.dir);
	printf("\n%-7s %8s %7s %7s %12s %12s %7s %9s %10s\n", "codec", "stored",
	       "same", "huge", "compr_data", "mem_used", "mem/cmp", "half+cmp",
	       "metadata");
	for (i = 0; i < 2; i++)
		codec_print(&cr[i]);
	if (!zerr) {
		printf("%-7s %8s %7" PRIu64 " %7" PRIu64 " %12" PRIu64
		       " %12" PRIu64 " %7.4f\n",
		       "kzram", "-", zr.same_pages, zr.huge_pages,
		       zr.compr_data_size, zr.mem_used_total,
		       (double)zr.mem_used_total / (double)zr.compr_data_size);
		printf("ours/kernel mem_used_total (lz4): %.4f\n",
		       (double)cr[0].mem_used_total /
			       (double)zr.mem_used_total);
	}
	printf("\n%-8s %14s %14s %14s   (ops/s, lz4 sizes, best of %u)\n",
	       "threads", "malloc+write", "read", "free", o.rounds);
	for (i = 0; i < 2; i++)
		printf("%-8u %14.0f %14.0f %14.0f\n", tp[i].threads,
		       tp[i].malloc_write, tp[i].read, tp[i].free);

	if (!o.json)
		return 0;
	jf = fopen(o.json, "w");
	if (!jf) {
		fprintf(stderr, "zspool-bench: %s: %s\n", o.json,
			strerror(errno));
		return 1;
	}
	fprintf(jf,
		"{\n  \"input\": {\"dir\": \"%s\", \"pages\": %zu, "
		"\"files\": %zu},\n  \"codecs\": {\n",
		o.dir, in.nr, in.files);
	codec_json(jf, &cr[0]);
	fprintf(jf, ",\n");
	codec_json(jf, &cr[1]);
	fprintf(jf, "\n  },\n  \"throughput\": [\n");
	for (i = 0; i < 2; i++)
		fprintf(jf,
			"    {\"threads\": %u, \"malloc_write_ops\": %.0f, "
			"\"read_ops\": %.0f, \"free_ops\": %.0f}%s\n",
			tp[i].threads, tp[i].malloc_write, tp[i].read,
			tp[i].free, i ? "" : ",");
	fprintf(jf, "  ]");
	if (!zerr)
		fprintf(jf,
			",\n  \"kernel_zram_lz4\": {\"orig_data_size\": %" PRIu64
			", \"compr_data_size\": %" PRIu64
			", \"mem_used_total\": %" PRIu64
			", \"same_pages\": %" PRIu64
			", \"huge_pages\": %" PRIu64
			", \"ours_over_kernel_mem_used\": %.5f}",
			zr.orig_data_size, zr.compr_data_size,
			zr.mem_used_total, zr.same_pages, zr.huge_pages,
			(double)cr[0].mem_used_total /
				(double)zr.mem_used_total);
	fprintf(jf, "\n}\n");
	return fclose(jf) ? 1 : 0;
}
