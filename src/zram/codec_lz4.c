/*
 * codec_lz4.c - lz4 behind struct zram_codec_ops.
 *
 * The level is lz4's acceleration (1 = default, higher is faster and
 * compresses less), as the kernel's lz4 backend reads it. The context is
 * LZ4's external state, so no call allocates.
 *
 * Dictionaries are raw content (dict_train.c strips a trained zstd
 * dictionary to its content; dict=PATH takes any file). The dictionary's
 * LZ4_stream_t is loaded once (LZ4_loadDict hashes all of it) and shared
 * read-only by every thread: a compression copies it into the thread's own
 * state (16 KiB) and continues from there, which is what LZ4 documents for
 * reusing one dictionary; a copy costs far less than loading 64 KiB again.
 */
#include <errno.h>
#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zram_internal.h"

static int lz4_ctx_create(void **ctx)
{
	*ctx = malloc((size_t)LZ4_sizeofState());
	return *ctx ? 0 : -ENOMEM;
}

static void lz4_ctx_destroy(void *ctx)
{
	free(ctx);
}

static int lz4_compress(void *ctx, int level, const struct zram_dict *dict,
			const void *src, void *dst, size_t dst_cap)
{
	int n;

	if (dict) {
		memcpy(ctx, dict->prepared, sizeof(LZ4_stream_t));
		n = LZ4_compress_fast_continue(ctx, src, dst,
					       (int)ZRAM_PAGE_SIZE,
					       (int)dst_cap, level);
	} else {
		n = LZ4_compress_fast_extState(ctx, src, dst,
					       (int)ZRAM_PAGE_SIZE,
					       (int)dst_cap, level);
	}
	return n > 0 ? n : -EINVAL;
}

/* Shared with lz4hc, whose output is plain lz4. */
int zram_lz4_decompress(void *ctx, const struct zram_dict *dict,
			const void *src, size_t src_len, void *dst)
{
	int n;

	(void)ctx;
	if (dict)
		n = LZ4_decompress_safe_usingDict(src, dst, (int)src_len,
						  (int)ZRAM_PAGE_SIZE,
						  dict->data, (int)dict->size);
	else
		n = LZ4_decompress_safe(src, dst, (int)src_len,
					(int)ZRAM_PAGE_SIZE);
	return n == (int)ZRAM_PAGE_SIZE ? 0 : -EIO;
}

static int lz4_dict_prepare(struct zram_dict *dict)
{
	LZ4_stream_t *ds;

	if (dict->size > INT32_MAX)
		return -EINVAL;
	ds = LZ4_createStream();
	if (!ds)
		return -ENOMEM;
	LZ4_loadDict(ds, dict->data, (int)dict->size);
	dict->prepared = ds;
	return 0;
}

static void lz4_dict_release(struct zram_dict *dict)
{
	LZ4_freeStream(dict->prepared);
	dict->prepared = NULL;
}

const struct zram_codec_ops zram_codec_lz4 = {
	.name = "lz4",
	.level_min = 1,
	.level_max = 65537,
	.level_default = 1,
	.ctx_create = lz4_ctx_create,
	.ctx_destroy = lz4_ctx_destroy,
	.compress = lz4_compress,
	.decompress = zram_lz4_decompress,
	.dict_prepare = lz4_dict_prepare,
	.dict_release = lz4_dict_release,
};
