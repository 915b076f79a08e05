/*
 * codec_zstd.c - zstd behind struct zram_codec_ops.
 *
 * Levels from zstd's minimum (negative: faster) to 22; 0 is zstd's default.
 * A thread's context holds one CCtx and one DCtx. The CCtx is re-set up only
 * when the level or dictionary it last used changes; a dictionary is loaded
 * into it (zstd builds its own tables per CCtx), and decompression uses the
 * dictionary's shared DDict, which zstd allows from any number of threads.
 * Frames carry no content size or checksum: every page is 4096 bytes and the
 * slot records the frame's length.
 */
#include <errno.h>
#include <stdlib.h>
#include <zstd.h>

#include "zram_internal.h"

struct zstd_ctx {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	bool ready;
	int level;
	uint64_t dict_gen; /* generation of the loaded dictionary, 0: none */
};

static void zstd_ctx_destroy(void *ctx)
{
	struct zstd_ctx *c = ctx;

	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c);
}

static int zstd_ctx_create(void **ctx)
{
	struct zstd_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->cctx || !c->dctx) {
		zstd_ctx_destroy(c);
		return -ENOMEM;
	}
	*ctx = c;
	return 0;
}

static int zstd_cctx_setup(struct zstd_ctx *c, int level,
			   const struct zram_dict *dict)
{
	ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_and_parameters);
	c->ready = false;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
		    c->cctx, ZSTD_c_compressionLevel, level)))
		return -EINVAL;
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 0);
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0);
	if (dict && ZSTD_isError(ZSTD_CCtx_loadDictionary(c->cctx, dict->data,
							  dict->size)))
		return -ENOMEM;
	c->ready = true;
	c->level = level;
	c->dict_gen = dict ? dict->gen : 0;
	return 0;
}

static int zstd_compress(void *ctx, int level, const struct zram_dict *dict,
			 const void *src, void *dst, size_t dst_cap)
{
	struct zstd_ctx *c = ctx;
	size_t n;
	int err;

	/* by generation: a freed dictionary's address may come back */
	if (!c->ready || c->level != level ||
	    c->dict_gen != (dict ? dict->gen : 0)) {
		err = zstd_cctx_setup(c, level, dict);
		if (err)
			return err;
	}
	n = ZSTD_compress2(c->cctx, dst, dst_cap, src, ZRAM_PAGE_SIZE);
	if (ZSTD_isError(n)) {
		c->ready = false;
		return -EINVAL;
	}
	return (int)n;
}

static int zstd_decompress(void *ctx, const struct zram_dict *dict,
			   const void *src, size_t src_len, void *dst)
{
	struct zstd_ctx *c = ctx;
	size_t n;

	if (dict)
		n = ZSTD_decompress_usingDDict(c->dctx, dst, ZRAM_PAGE_SIZE,
					       src, src_len, dict->prepared);
	else
		n = ZSTD_decompressDCtx(c->dctx, dst, ZRAM_PAGE_SIZE, src,
					src_len);
	return !ZSTD_isError(n) && n == ZRAM_PAGE_SIZE ? 0 : -EIO;
}

static int zstd_dict_prepare(struct zram_dict *dict)
{
	dict->prepared = ZSTD_createDDict(dict->data, dict->size);
	return dict->prepared ? 0 : -EINVAL;
}

static void zstd_dict_release(struct zram_dict *dict)
{
	ZSTD_freeDDict(dict->prepared);
	dict->prepared = NULL;
}

const struct zram_codec_ops zram_codec_zstd = {
	.name = "zstd",
	.level_min = -(1 << 17), /* ZSTD_minCLevel() in zstd 1.4 .. 1.5 */
	.level_max = 22,	 /* ZSTD_maxCLevel() */
	.level_default = 3,
	.ctx_create = zstd_ctx_create,
	.ctx_destroy = zstd_ctx_destroy,
	.compress = zstd_compress,
	.decompress = zstd_decompress,
	.dict_prepare = zstd_dict_prepare,
	.dict_release = zstd_dict_release,
};
