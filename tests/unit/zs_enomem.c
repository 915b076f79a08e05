/*
 * zs_enomem.c - running out of memory: with the address space capped
 * (RLIMIT_AS), zs_malloc fails cleanly with -ENOMEM, the objects already
 * stored keep their bytes, and once some are freed allocation works again.
 * Under a sanitizer the cap cannot be set (the shadow mappings need the
 * address space), so the test says so and checks the rest.
 */
#include <errno.h>
#include <sys/resource.h>

#include "harness.h"
#include "zsmalloc.h"

#define MAX_OBJS (1u << 16)

static zs_handle_t h[MAX_OBJS];

#if !defined(UZRAM_ASAN) && !defined(UZRAM_TSAN)
static long vm_bytes(void)
{
	long size = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld", &size) != 1)
			size = -1;
		fclose(f);
	}
	return size * 4096;
}
#endif

static int obj_ok(struct zs_pool *pool, zs_handle_t handle, unsigned int n)
{
	static unsigned char local[ZS_PAGE_SIZE];
	const unsigned char *p = zs_obj_read_begin(pool, handle, local);
	int ok = p[0] == (unsigned char)n && p[3000] == (unsigned char)(n >> 8);

	zs_obj_read_end(pool, handle, (void *)p);
	return ok;
}

static void obj_store(struct zs_pool *pool, zs_handle_t handle, unsigned int n)
{
	static unsigned char buf[3100];

	buf[0] = (unsigned char)n;
	buf[3000] = (unsigned char)(n >> 8);
	zs_obj_write(pool, handle, buf, sizeof(buf));
}

#if defined(UZRAM_ASAN) || defined(UZRAM_TSAN)
static unsigned int pool_fill(struct zs_pool *pool)
{
	unsigned int n;

	printf("address-space cap not possible under a sanitizer\n");
	for (n = 0; n < 1000; n++) {
		REQUIRE(zs_malloc(pool, 3100, &h[n]) == 0);
		obj_store(pool, h[n], n);
	}
	return n;
}
#else
/* Fill the pool until -ENOMEM under a cap, free a tenth, refill it. */
static unsigned int pool_fill(struct zs_pool *pool)
{
	long cap = vm_bytes() + (48l << 20);
	struct rlimit rl, old;
	unsigned int n = 0, i;
	int err = 0;

	REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
	rl = old;
	rl.rlim_cur = (rlim_t)cap; /* the soft limit only */
	REQUIRE(setrlimit(RLIMIT_AS, &rl) == 0);
	while (n < MAX_OBJS) {
		err = zs_malloc(pool, 3100, &h[n]);
		if (err)
			break;
		obj_store(pool, h[n], n);
		n++;
	}
	CHECK_EQ(err, -ENOMEM);
	printf("%u objects (%zu pages) before -ENOMEM\n", n,
	       zs_get_total_pages(pool));
	CHECK(n > 1000);
	for (i = 0; i < n; i += 10)
		zs_free(pool, h[i]);
	for (i = 0; i < n; i += 10) {
		CHECK_EQ(zs_malloc(pool, 3100, &h[i]), 0);
		obj_store(pool, h[i], i);
	}
	REQUIRE(setrlimit(RLIMIT_AS, &old) == 0);
	return n;
}
#endif

int main(void)
{
	struct zs_pool *pool = zs_create_pool("enomem");
	unsigned int n, i, bad = 0;

	REQUIRE(pool != NULL);
	n = pool_fill(pool);
	for (i = 0; i < n; i++)
		bad += !obj_ok(pool, h[i], i);
	CHECK_EQ(bad, 0);
	for (i = 0; i < n; i++)
		zs_free(pool, h[i]);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);
	return harness_finish("zs_enomem");
}
