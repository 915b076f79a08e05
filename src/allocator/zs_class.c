/*
 * zs_class.c - size classes: geometry, merging, lookup, per-class stats.
 *
 * Class i holds slots of 32 + 16 * i bytes (the 8-byte handle header
 * included). Its zspage chains the number of pages, 1..ZS_MAX_PAGES_PER_ZSPAGE,
 * that wastes the least tail space (first minimum wins). Classes are built
 * from the largest to the smallest; a class with the same (pages, objects)
 * pair as the last class built is merged into it (size_class[i] points at
 * the larger class), as the kernel does. A class of one object in one page
 * is huge: its objects own a page each and carry no header.
 *
 * Locking: geometry is immutable after classes_init(); the stats row is
 * copied under the class lock.
 */
#include <errno.h>
#include <string.h>

#include "zs_internal.h"

static unsigned int class_chain_size(unsigned int size)
{
	unsigned int k, best_k = 1, waste, best_waste = ZS_PAGE_SIZE;

	for (k = 1; k <= ZS_MAX_PAGES_PER_ZSPAGE; k++) {
		waste = (k * ZS_PAGE_SIZE) % size;
		if (waste < best_waste) {
			best_waste = waste;
			best_k = k;
		}
	}
	return best_k;
}

static void class_setup(struct zs_size_class *class, unsigned int index,
			unsigned int size, unsigned int pages,
			unsigned int objs)
{
	unsigned int g;

	memset(class, 0, sizeof(*class));
	zs_mutex_init(&class->lock);
	class->index = index;
	class->size = size;
	class->pages_per_zspage = pages;
	class->objs_per_zspage = objs;
	class->huge = pages == 1 && objs == 1;
	for (g = 0; g < ZS_NR_FULLNESS; g++)
		class->fullness_list[g] = 0;
}

/* classes_init - build every class, merge, and derive huge_class_size. */
void classes_init(struct zs_pool *pool)
{
	struct zs_size_class *prev = NULL;
	unsigned int size, pages, objs;
	int i;

	for (i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
		size = ZS_MIN_ALLOC_SIZE +
		       (unsigned int)i * ZS_SIZE_CLASS_DELTA;
		if (size > ZS_MAX_ALLOC_SIZE)
			size = ZS_MAX_ALLOC_SIZE;
		pages = class_chain_size(size);
		objs = pages * ZS_PAGE_SIZE / size;
		/*
		 * The first class from the top that is not huge fixes the
		 * huge threshold; zs_malloc() adds the header before lookup.
		 */
		if (pages != 1 && objs != 1 && !pool->huge_class_size)
			pool->huge_class_size = size - (ZS_HANDLE_SIZE - 1);
		if (prev && prev->pages_per_zspage == pages &&
		    prev->objs_per_zspage == objs) {
			pool->size_class[i] = prev;
			continue;
		}
		class_setup(&pool->classes[i], (unsigned int)i, size, pages,
			    objs);
		pool->size_class[i] = &pool->classes[i];
		prev = &pool->classes[i];
	}
}

/* class_index_of - raw class index of a slot of @size bytes (header in). */
int class_index_of(size_t size)
{
	size_t idx = 0;

	if (size > ZS_MIN_ALLOC_SIZE)
		idx = (size - ZS_MIN_ALLOC_SIZE + ZS_SIZE_CLASS_DELTA - 1) /
		      ZS_SIZE_CLASS_DELTA;
	if (idx > ZS_SIZE_CLASSES - 1)
		idx = ZS_SIZE_CLASSES - 1;
	return (int)idx;
}

/* fullness_of - the kernel's fullness group for @inuse objects. */
unsigned int fullness_of(const struct zs_size_class *class, unsigned int inuse)
{
	if (inuse == 0)
		return ZS_INUSE_RATIO_0;
	if (inuse == class->objs_per_zspage)
		return ZS_INUSE_RATIO_100;
	return 100 * inuse / class->objs_per_zspage / 10 + 1;
}

int zs_lookup_class_index(struct zs_pool *pool, size_t size)
{
	if (size == 0)
		return -EINVAL;
	if (size > ZS_MAX_ALLOC_SIZE)
		return -ENOSPC;
	return (int)pool->size_class[class_index_of(size + ZS_HANDLE_SIZE)]
		->index;
}

size_t zs_huge_class_size(struct zs_pool *pool)
{
	return pool->huge_class_size;
}

/* Locking: class lock held. Pages zs_compact() could free now. */
uint64_t class_freeable(const struct zs_size_class *class)
{
	uint64_t wasted = class->objs_allocated - class->objs_inuse;

	return wasted / class->objs_per_zspage * class->pages_per_zspage;
}

int zs_class_stats_get(struct zs_pool *pool, unsigned int index,
		       struct zs_class_stats *out)
{
	struct zs_size_class *class;
	unsigned int g;

	if (index >= ZS_SIZE_CLASSES)
		return -EINVAL;
	class = pool->size_class[index];
	if (class->index != index)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->index = index;
	out->size = class->size;
	out->pages_per_zspage = class->pages_per_zspage;
	out->objs_per_zspage = class->objs_per_zspage;
	class_lock(class);
	for (g = ZS_INUSE_RATIO_10; g <= ZS_INUSE_RATIO_100; g++)
		out->zspages_by_fullness[g - ZS_INUSE_RATIO_10] =
			class->nr_by_fullness[g];
	out->obj_allocated = class->objs_allocated;
	out->obj_used = class->objs_inuse;
	out->freeable = class_freeable(class);
	class_unlock(class);
	out->pages_used = out->obj_allocated / class->objs_per_zspage *
			  class->pages_per_zspage;
	return 0;
}
