/*
 * pagestudy - how small can real pages get? A measurement program (it prints
 * numbers; not a test) behind the choices of docs/store.md: deduplication,
 * trained dictionaries and grouped compression of neighbouring pages.
 *
 *   pagestudy [--max-mb N] TREE...
 *
 * Reads every regular file under each TREE in directory order as 4 KiB pages
 * (the last one zero-padded), as a file system lays their data blocks down,
 * drops same-filled pages (the store keeps those as one word), then prints:
 *   - exact duplicate pages (XXH3, confirmed with memcmp) and the share of
 *     compressed bytes they hold;
 *   - lz4 and zstd levels page by page, the bytes a zsmalloc-like pool would
 *     round them to (16-byte classes), and the time to compress and to read
 *     one page back;
 *   - zstd frames of G = 2, 4, 8, 16 consecutive pages at several levels:
 *     bytes, and the time to read one page (the whole frame decompresses);
 *   - a dictionary trained on a sample of the pages (ZDICT_trainFromBuffer,
 *     64 KiB) for zstd, and a raw-content dictionary for lz4, page by page.
 * Every ratio is against zstd-3 or lz4 page by page measured in this run.
 */
#define ZDICT_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zdict.h>
#include <zstd.h>

#define PAGE 4096u

static unsigned char *pages;
static size_t npages, cap_pages;
static uint64_t same_filled, files;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool same_filled_page(const unsigned char *p)
{
	uint64_t w, first;
	size_t i;

	memcpy(&first, p, 8);
	for (i = 8; i < PAGE; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != first)
			return false;
	}
	return true;
}

static int add_file(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	unsigned char buf[PAGE];
	ssize_t n;
	int fd;

	(void)sb;
	(void)ftw;
	if (type != FTW_F || npages >= cap_pages)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	files++;
	while (npages < cap_pages && (n = read(fd, buf, PAGE)) > 0) {
		memset(buf + n, 0, PAGE - (size_t)n);
		if (same_filled_page(buf)) {
			same_filled++;
			continue;
		}
		memcpy(pages + npages * PAGE, buf, PAGE);
		npages++;
	}
	close(fd);
	return 0;
}

/* What a pool with 16-byte size classes from 32 B keeps for @n bytes. */
static uint64_t pool_bytes(size_t n)
{
	if (n >= 3264) /* zsmalloc's huge threshold: stored raw */
		return PAGE;
	if (n < 32)
		return 32;
	return (n + 15) & ~(size_t)15;
}

struct result {
	uint64_t bytes, pooled;
	double comp_s, read_s;
};

static void report(const char *name, const struct result *r,
		   const struct result *base)
{
	printf("%-24s %10.1f MB  pool %10.1f MB  ratio %5.3f  x%s %5.3f  "
	       "comp %6.0f MB/s  read-1-page %6.2f us\n",
	       name, (double)r->bytes / 1e6, (double)r->pooled / 1e6,
	       (double)npages * PAGE / (double)r->bytes, base ? "base" : "    ",
	       base ? (double)r->pooled / (double)base->pooled : 1.0,
	       (double)npages * PAGE / 1e6 / r->comp_s,
	       r->read_s * 1e6 / (double)npages);
}

static void lz4_pages(struct result *r, const char *dict, int dict_len)
{
	char out[LZ4_COMPRESSBOUND(PAGE)], back[PAGE];
	LZ4_stream_t *ls = LZ4_createStream(), *ds = LZ4_createStream();
	size_t i;
	double t;
	int n;

	memset(r, 0, sizeof(*r));
	if (dict_len)
		LZ4_loadDict(ds, dict, dict_len);
	t = now_s();
	for (i = 0; i < npages; i++) {
		const char *src = (const char *)pages + i * PAGE;

		if (dict_len) {
			memcpy(ls, ds, sizeof(*ls));
			n = LZ4_compress_fast_continue(ls, src, out, PAGE,
						       sizeof(out), 1);
		} else {
			n = LZ4_compress_default(src, out, PAGE, sizeof(out));
		}
		r->bytes += (uint64_t)n;
		r->pooled += pool_bytes((size_t)n);
	}
	r->comp_s = now_s() - t;
	/* read time: decompress every 16th page */
	t = now_s();
	for (i = 0; i < npages; i += 16) {
		const char *src = (const char *)pages + i * PAGE;

		if (dict_len) {
			memcpy(ls, ds, sizeof(*ls));
			n = LZ4_compress_fast_continue(ls, src, out, PAGE,
						       sizeof(out), 1);
		} else {
			n = LZ4_compress_default(src, out, PAGE, sizeof(out));
		}
		if (dict_len)
			LZ4_decompress_safe_usingDict(out, back, n, PAGE, dict,
						      dict_len);
		else
			LZ4_decompress_safe(out, back, n, PAGE);
	}
	r->read_s = (now_s() - t) * 16;
	LZ4_freeStream(ls);
	LZ4_freeStream(ds);
}

/* zstd frames of @group pages at @level, with @cdict/@ddict if set. */
static void zstd_groups(struct result *r, int level, size_t group,
			ZSTD_CDict *cdict, ZSTD_DDict *ddict)
{
	size_t cap = ZSTD_compressBound(group * PAGE), i, n;
	unsigned char *out = malloc(cap), *back = malloc(group * PAGE);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	double t, dt = 0;

	memset(r, 0, sizeof(*r));
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	if (cdict)
		ZSTD_CCtx_refCDict(cc, cdict);
	t = now_s();
	for (i = 0; i < npages; i += group) {
		size_t len = (npages - i < group ? npages - i : group) * PAGE;
		double t1;

		n = ZSTD_compress2(cc, out, cap, pages + i * PAGE, len);
		r->bytes += n;
		r->pooled += group == 1 ? pool_bytes(n) : ((n + 15) & ~15ul);
		if ((i / group) % 16)
			continue;
		t1 = now_s();
		if (ddict)
			ZSTD_decompress_usingDDict(dc, back, len, out, n,
						   ddict);
		else
			ZSTD_decompressDCtx(dc, back, len, out, n);
		dt += now_s() - t1;
	}
	r->comp_s = now_s() - t - dt;
	/* one page read = one frame decompressed */
	r->read_s = dt * 16 * (double)group;
	free(out);
	free(back);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
}

static void dedup_study(const struct result *lz4)
{
	uint64_t *h = malloc(npages * sizeof(*h));
	uint64_t dups = 0, dup_bytes = 0;
	size_t i, j, nb = 1;
	uint32_t *tab;
	char out[LZ4_COMPRESSBOUND(PAGE)];

	while (nb < npages * 2)
		nb *= 2;
	tab = calloc(nb, sizeof(*tab));
	for (i = 0; i < npages; i++) {
		const unsigned char *p = pages + i * PAGE;

		h[i] = XXH3_64bits(p, PAGE);
		for (j = h[i] & (nb - 1); tab[j]; j = (j + 1) & (nb - 1))
			if (h[tab[j] - 1] == h[i] &&
			    !memcmp(pages + (tab[j] - 1) * PAGE, p, PAGE))
				break;
		if (tab[j]) {
			dups++;
			dup_bytes += pool_bytes((size_t)LZ4_compress_default(
				(const char *)p, out, PAGE, sizeof(out)));
		} else {
			tab[j] = (uint32_t)i + 1;
		}
	}
	printf("duplicates: %" PRIu64 " of %zu pages (%.1f %%), %.1f %% of "
	       "lz4 pool bytes\n",
	       dups, npages, 100.0 * (double)dups / (double)npages,
	       100.0 * (double)dup_bytes / (double)lz4->pooled);
	free(tab);
	free(h);
}

static void dict_study(const struct result *z3, int level)
{
	size_t nsamples = npages < 4096 ? npages : 4096, i, dsize;
	size_t *sizes = malloc(nsamples * sizeof(*sizes));
	unsigned char *samples = malloc(nsamples * PAGE);
	unsigned char dict[64 << 10];
	struct result r;
	char name[64];
	ZSTD_CDict *cd;
	ZSTD_DDict *dd;
	double t;

	/* an even spread over the data, as a store samples resident pages */
	for (i = 0; i < nsamples; i++) {
		memcpy(samples + i * PAGE,
		       pages + (i * (npages / nsamples)) * PAGE, PAGE);
		sizes[i] = PAGE;
	}
	t = now_s();
	dsize = ZDICT_trainFromBuffer(dict, sizeof(dict), samples, sizes,
				      (unsigned)nsamples);
	if (ZDICT_isError(dsize)) {
		printf("dictionary training failed: %s\n",
		       ZDICT_getErrorName(dsize));
		goto out;
	}
	printf("trained a %zu-byte zstd dictionary on %zu pages in %.2f s\n",
	       dsize, nsamples, now_s() - t);
	if (level == 3) {
		/* the trained content as lz4's raw dictionary */
		size_t hs = ZDICT_getDictHeaderSize(dict, dsize);

		if (!ZDICT_isError(hs)) {
			lz4_pages(&r, (const char *)dict + hs,
				  (int)(dsize - hs));
			report("lz4 page traineddict", &r, NULL);
		}
	}
	cd = ZSTD_createCDict_byReference(dict, dsize, level);
	dd = ZSTD_createDDict_byReference(dict, dsize);
	zstd_groups(&r, level, 1, cd, dd);
	snprintf(name, sizeof(name), "zstd-%d dict64K", level);
	report(name, &r, z3);
	ZSTD_freeCDict(cd);
	ZSTD_freeDDict(dd);
out:
	free(samples);
	free(sizes);
}

int main(int argc, char **argv)
{
	static const int levels[] = {1, 3, 6, 9};
	static const size_t groups[] = {2, 4, 8, 16};
	size_t max_mb = 2048, li, gi;
	struct result lz4, z3, r;
	char name[64];
	int a = 1;

	if (argc > 2 && !strcmp(argv[1], "--max-mb")) {
		max_mb = strtoul(argv[2], NULL, 10);
		a = 3;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: pagestudy [--max-mb N] TREE...\n");
		return 2;
	}
	cap_pages = max_mb * (1u << 20) / PAGE;
	pages = malloc(cap_pages * PAGE);
	if (!pages)
		return 1;
	for (; a < argc; a++)
		nftw(argv[a], add_file, 32, FTW_PHYS);
	printf("%" PRIu64 " files: %zu pages stored (%.1f MB), %" PRIu64
	       " same-filled pages dropped\n",
	       files, npages, (double)npages * PAGE / 1e6, same_filled);
	if (!npages)
		return 1;
	lz4_pages(&lz4, NULL, 0);
	report("lz4 page", &lz4, NULL);
	dedup_study(&lz4);
	lz4_pages(&r, (const char *)pages + (npages / 2) * PAGE, 64 << 10);
	report("lz4 page rawdict64K", &r, &lz4);
	zstd_groups(&z3, 3, 1, NULL, NULL);
	for (li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
		zstd_groups(&r, levels[li], 1, NULL, NULL);
		snprintf(name, sizeof(name), "zstd-%d page", levels[li]);
		report(name, &r, &z3);
	}
	dict_study(&z3, 3);
	dict_study(&z3, 9);
	for (gi = 0; gi < sizeof(groups) / sizeof(groups[0]); gi++)
		for (li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
			zstd_groups(&r, levels[li], groups[gi], NULL, NULL);
			snprintf(name, sizeof(name), "zstd-%d group %zu",
				 levels[li], groups[gi]);
			report(name, &r, &z3);
		}
	free(pages);
	return 0;
}
