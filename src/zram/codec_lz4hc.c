/*
 * codec_lz4hc.c - lz4hc behind struct zram_codec_ops.
 *
 * Levels 1..12 (LZ4HC_CLEVEL_MAX), default 9. Output is plain lz4, so it
 * decompresses with LZ4_decompress_safe(). The context is LZ4HC's external
 * state (about 256 KiB per thread).
 */
#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdlib.h>

#include "zram_internal.h"

static int lz4hc_ctx_create(void **ctx)
{
	*ctx = malloc((size_t)LZ4_sizeofStateHC());
	return *ctx ? 0 : -ENOMEM;
}

static void lz4hc_ctx_destroy(void *ctx)
{
	free(ctx);
}

static int lz4hc_compress(void *ctx, int level, const struct zram_dict *dict,
			  const void *src, void *dst, size_t dst_cap)
{
	int n;

	(void)dict;
	n = LZ4_compress_HC_extStateHC(ctx, src, dst, (int)ZRAM_PAGE_SIZE,
				       (int)dst_cap, level);
	return n > 0 ? n : -EINVAL;
}

const struct zram_codec_ops zram_codec_lz4hc = {
	.name = "lz4hc",
	.level_min = 1,
	.level_max = LZ4HC_CLEVEL_MAX,
	.level_default = LZ4HC_CLEVEL_DEFAULT,
	.ctx_create = lz4hc_ctx_create,
	.ctx_destroy = lz4hc_ctx_destroy,
	.compress = lz4hc_compress,
	.decompress = zram_lz4_decompress,
};
