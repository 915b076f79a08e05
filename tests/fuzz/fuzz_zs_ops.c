/*
 * fuzz_zs_ops.c - the allocator driven by arbitrary operation streams.
 *
 * Input: 4-byte records [op, slot, size_lo, size_hi]. Ops: allocate and
 * write an object of (size % 4098) bytes (0 and 4097 must fail with -EINVAL
 * and -ENOSPC), free, read and verify, rewrite a prefix, compact, check a
 * class row. Every object's bytes are derived from its slot and a seed, so
 * any corruption, misplaced move or lost handle is caught; at the end
 * everything is verified, freed and compacted and the pool must hold no
 * page. Any failure aborts (what a fuzzer reports).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zsmalloc.h"

#define SLOTS 64

struct fuzz_slot {
	zs_handle_t handle;
	unsigned int len;  /* allocated size */
	unsigned int used; /* bytes written with seed */
	uint8_t seed;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Object bytes: a slice of a fixed random table chosen by slot and seed. */
static const unsigned char *pattern(unsigned int slot, uint8_t seed)
{
	static unsigned char table[2 * ZS_PAGE_SIZE];
	static int ready;

	if (!ready) {
		uint32_t x = 2463534242u;

		for (unsigned int i = 0; i < sizeof(table); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			table[i] = (unsigned char)x;
		}
		ready = 1;
	}
	return table + (slot * 97 + seed * 13u) % ZS_PAGE_SIZE;
}

static void verify(struct zs_pool *pool, struct fuzz_slot *s, unsigned int slot,
		   unsigned char *local)
{
	const unsigned char *p;

	p = zs_obj_read_begin(pool, s->handle, local);
	if (memcmp(p, pattern(slot, s->seed), s->used))
		abort();
	zs_obj_read_end(pool, s->handle, (void *)p);
}

static void store(struct zs_pool *pool, struct fuzz_slot *s, unsigned int slot,
		  unsigned int used, uint8_t seed)
{
	zs_obj_write(pool, s->handle, pattern(slot, seed), used);
	s->used = used;
	s->seed = seed;
}

static void op_alloc(struct zs_pool *pool, struct fuzz_slot *s,
		     unsigned int slot, unsigned int len)
{
	int err = zs_malloc(pool, len, &s->handle);

	if (len == 0 || len > ZS_MAX_ALLOC_SIZE) {
		if (err != (len ? -ENOSPC : -EINVAL))
			abort();
		s->handle = 0;
		return;
	}
	if (err || !s->handle)
		abort();
	s->len = len;
	store(pool, s, slot, len, (uint8_t)(len ^ slot));
}

static void op_class_check(struct zs_pool *pool, unsigned int len)
{
	struct zs_class_stats st;
	int idx = zs_lookup_class_index(pool, len);

	if (len == 0 || len > ZS_MAX_ALLOC_SIZE) {
		if (idx != (len ? -ENOSPC : -EINVAL))
			abort();
		return;
	}
	if (idx < 0 || zs_class_stats_get(pool, (unsigned int)idx, &st))
		abort();
	if (st.size < len + 8 && !(st.objs_per_zspage == 1 && st.size == 4096))
		abort();
	if (st.obj_used > st.obj_allocated)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char local[ZS_PAGE_SIZE];
	struct fuzz_slot slots[SLOTS];
	struct zs_pool *pool = zs_create_pool("fuzz");
	size_t i;

	if (!pool)
		return 0;
	memset(slots, 0, sizeof(slots));
	for (i = 0; i + 4 <= size; i += 4) {
		unsigned int slot = data[i + 1] % SLOTS;
		unsigned int arg = data[i + 2] | (unsigned int)data[i + 3] << 8;
		struct fuzz_slot *s = &slots[slot];

		switch (data[i] % 8) {
		case 0:
		case 1:
		case 2:
			if (!s->handle)
				op_alloc(pool, s, slot, arg % 4098);
			break;
		case 3:
			zs_free(pool, s->handle);
			s->handle = 0;
			break;
		case 4:
			if (s->handle)
				verify(pool, s, slot, local);
			break;
		case 5:
			if (s->handle)
				store(pool, s, slot, arg % (s->len + 1),
				      data[i + 2]);
			break;
		case 6:
			zs_compact(pool);
			for (unsigned int k = 0; k < SLOTS; k++)
				if (slots[k].handle)
					verify(pool, &slots[k], k, local);
			break;
		default:
			op_class_check(pool, arg % 4098);
		}
	}
	for (i = 0; i < SLOTS; i++) {
		if (!slots[i].handle)
			continue;
		verify(pool, &slots[i], (unsigned int)i, local);
		zs_free(pool, slots[i].handle);
	}
	zs_compact(pool);
	if (zs_get_total_pages(pool) != 0)
		abort();
	zs_destroy_pool(pool);
	return 0;
}
