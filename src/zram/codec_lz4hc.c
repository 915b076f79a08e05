/*
 * codec_lz4hc.c - lz4hc behind struct zram_codec_ops.
 *
 * Levels 1..12 (LZ4HC_CLEVEL_MAX), default 9. Output is plain lz4, so it
 * decompresses with LZ4_decompress_safe(). The context is LZ4HC's external
 * state (about 256 KiB per thread).
 *
 * Dictionaries are raw content, as lz4's (codec_lz4.c), but loaded into the
 * thread's state for every page: the shared-stream copy lz4 uses would need
 * LZ4_setCompressionLevel() or LZ4_attach_HC_dictionary(), which the shared
 * liblz4 does not export. Loading costs about what copying the 256 KiB
 * state would, and is small next to HC's own search at its usual levels.
 */
#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdint.h>
#include <stdlib.h>

#include "zram_internal.h"

static int lz4hc_ctx_create(void **ctx)
{
	/* initialised once, as LZ4_resetStreamHC_fast() requires */
	*ctx = malloc((size_t)LZ4_sizeofStateHC());
	if (!*ctx)
		return -ENOMEM;
	LZ4_initStreamHC(*ctx, (size_t)LZ4_sizeofStateHC());
	return 0;
}

static void lz4hc_ctx_destroy(void *ctx)
{
	free(ctx);
}

static int lz4hc_compress(void *ctx, int level, const struct zram_dict *dict,
			  const void *src, void *dst, size_t dst_cap)
{
	int n;

	if (dict) {
		LZ4_resetStreamHC_fast(ctx, level);
		LZ4_loadDictHC(ctx, dict->data, (int)dict->size);
		n = LZ4_compress_HC_continue(ctx, src, dst, (int)ZRAM_PAGE_SIZE,
					     (int)dst_cap);
	} else {
		n = LZ4_compress_HC_extStateHC(ctx, src, dst,
					       (int)ZRAM_PAGE_SIZE,
					       (int)dst_cap, level);
	}
	return n > 0 ? n : -EINVAL;
}

/* Nothing to prepare: the content is loaded per page. */
static int lz4hc_dict_prepare(struct zram_dict *dict)
{
	return dict->size > INT32_MAX ? -EINVAL : 0;
}

static void lz4hc_dict_release(struct zram_dict *dict)
{
	(void)dict;
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
	.dict_prepare = lz4hc_dict_prepare,
	.dict_release = lz4hc_dict_release,
};
