/*
 * codec_zstd.c - zstd behind struct zram_codec_ops.
 *
 * Levels from zstd's minimum (negative: faster) to 22; 0 is zstd's default.
 * A thread's context holds one CCtx and one DCtx. The CCtx is re-set up only
 * when the level or dictionary it last used changes. A dictionary's
 * compression tables are built once, in a CDict made by reference to the
 * dictionary's bytes (ZSTD_createCDict_byReference) on its first use at the
 * current level, and shared read-only by every thread (ZSTD_CCtx_refCDict:
 * no per-thread copy of the tables); a page at another level than the
 * CDict's loads the dictionary into the thread's CCtx instead.
 * Decompression uses the dictionary's shared DDict. zstd allows both from
 * any number of threads.
 * Frames carry no content size or checksum: every page is 4096 bytes and the
 * slot records the frame's length.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_byReference */
#include <errno.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

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

/* A dictionary's shared CDict, at one level. */
struct zstd_cdict {
	int level;
	ZSTD_CDict *cdict;
};

/*
 * The dictionary's CDict for @level: made and published on first use (a
 * thread that loses the race frees its own) if @make; NULL if the
 * published one is at another level or none can be made. The caller is
 * inside an active section (slot_compress), so the dictionary is not freed
 * meanwhile.
 */
static ZSTD_CDict *zstd_cdict_get(const struct zram_dict *dict, int level,
				  bool make)
{
	/* the one lazily made part of an otherwise immutable dictionary */
	_Atomic(void *) *slot = (_Atomic(void *) *)&dict->cprepared;
	struct zstd_cdict *cd =
		atomic_load_explicit(slot, memory_order_acquire);
	void *none = NULL;

	if (!cd && !make)
		return NULL;
	if (!cd) {
		cd = malloc(sizeof(*cd));
		if (!cd)
			return NULL;
		cd->level = level;
		cd->cdict = ZSTD_createCDict_byReference(dict->data, dict->size,
							 level);
		if (!cd->cdict) {
			free(cd);
			return NULL;
		}
		if (!atomic_compare_exchange_strong_explicit(
			    slot, &none, cd, memory_order_acq_rel,
			    memory_order_acquire)) {
			ZSTD_freeCDict(cd->cdict);
			free(cd);
			cd = none;
		}
	}
	return cd->level == level ? cd->cdict : NULL;
}

/* @share: may publish the dictionary's CDict at @level (see above). */
static int zstd_cctx_setup(struct zstd_ctx *c, int level,
			   const struct zram_dict *dict, bool share)
{
	ZSTD_CDict *cdict = dict ? zstd_cdict_get(dict, level, share) : NULL;

	ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_and_parameters);
	c->ready = false;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(
		    c->cctx, ZSTD_c_compressionLevel, level)))
		return -EINVAL;
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 0);
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0);
	if (cdict && ZSTD_isError(ZSTD_CCtx_refCDict(c->cctx, cdict)))
		return -ENOMEM;
	if (dict && !cdict &&
	    ZSTD_isError(
		    ZSTD_CCtx_loadDictionary(c->cctx, dict->data, dict->size)))
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
		err = zstd_cctx_setup(c, level, dict, true);
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

/*
 * Grouped frames: several pages in one frame, at the policy's group_level,
 * with the dictionary of new writes if there is one. A frame never
 * publishes the dictionary's shared CDict: that is made at the first
 * level that asks, and writes (level 3 by default) must find theirs; at
 * another level the dictionary is loaded into this thread's CCtx (the
 * policy thread's: zstd builds its tables once and keeps them while level
 * and dictionary stay). The CCtx is set up again when the next page or
 * frame differs in level or dictionary (by generation).
 */
int zram_zstd_frame_compress(void *ctx, int level, const struct zram_dict *dict,
			     const void *src, size_t len, void *dst, size_t cap)
{
	struct zstd_ctx *c = ctx;
	size_t n;
	int err;

	if (!c->ready || c->level != level ||
	    c->dict_gen != (dict ? dict->gen : 0)) {
		err = zstd_cctx_setup(c, level, dict, false);
		if (err)
			return err;
	}
	n = ZSTD_compress2(c->cctx, dst, cap, src, len);
	if (ZSTD_isError(n)) {
		c->ready = false;
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall
			       ? -E2BIG
			       : -EINVAL;
	}
	return (int)n;
}

int zram_zstd_frame_decompress(void *ctx, const struct zram_dict *dict,
			       const void *src, size_t len, void *dst,
			       size_t cap)
{
	struct zstd_ctx *c = ctx;
	size_t n;

	if (dict)
		n = ZSTD_decompress_usingDDict(c->dctx, dst, cap, src, len,
					       dict->prepared);
	else
		n = ZSTD_decompressDCtx(c->dctx, dst, cap, src, len);
	return ZSTD_isError(n) ? -EIO : (int)n;
}

static int zstd_dict_prepare(struct zram_dict *dict)
{
	dict->prepared = ZSTD_createDDict(dict->data, dict->size);
	return dict->prepared ? 0 : -EINVAL;
}

static void zstd_dict_release(struct zram_dict *dict)
{
	struct zstd_cdict *cd =
		atomic_load_explicit(&dict->cprepared, memory_order_acquire);

	if (cd) {
		ZSTD_freeCDict(cd->cdict);
		free(cd);
		atomic_store_explicit(&dict->cprepared, NULL,
				      memory_order_relaxed);
	}
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
