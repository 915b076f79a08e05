/*
 * A tiny test harness: CHECK* record a failure with file:line and go on, so
 * one run shows every broken assertion; REQUIRE* stop the test at once.
 * main() ends with `return harness_finish("name");`, which prints
 * "N passed, N failed" and returns 1 on any failure.
 *
 * harness_scale() reads UZRAM_STRESS_SCALE (default 1.0) so the stress tests
 * can run shorter under ThreadSanitizer; harness_seed() reads UZRAM_SEED
 * (default: a fixed seed) and prints it, so a failing run can be replayed.
 * harness_text_fill() makes compressible text pages from a seed.
 */
#ifndef UZRAM_TESTS_HARNESS_H
#define UZRAM_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long harness_passed;
static unsigned long harness_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			harness_passed++;                                      \
		} else {                                                       \
			harness_failed++;                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		long long check_a_ = (long long)(a);                         \
		long long check_b_ = (long long)(b);                         \
		if (check_a_ == check_b_) {                                  \
			harness_passed++;                                    \
		} else {                                                     \
			harness_failed++;                                    \
			fprintf(stderr,                                      \
				"%s:%d: CHECK_EQ failed: %s == %s (%lld != " \
				"%lld)\n",                                   \
				__FILE__, __LINE__, #a, #b, check_a_,        \
				check_b_);                                   \
		}                                                            \
	} while (0)

#define REQUIRE(cond)                                                  \
	do {                                                           \
		if (!(cond)) {                                         \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", \
				__FILE__, __LINE__, #cond);            \
			abort();                                       \
		}                                                      \
		harness_passed++;                                      \
	} while (0)

static inline int harness_finish(const char *name)
{
	printf("%s: %lu passed, %lu failed\n", name, harness_passed,
	       harness_failed);
	return harness_failed ? 1 : 0;
}

static inline double harness_scale(void)
{
	const char *s = getenv("UZRAM_STRESS_SCALE");
	double v = s ? strtod(s, NULL) : 1.0;
	return v > 0 ? v : 1.0;
}

static inline uint64_t harness_seed(void)
{
	const char *s = getenv("UZRAM_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed2025u;
	fprintf(stderr, "seed: UZRAM_SEED=%" PRIu64 "\n", seed);
	return seed;
}

/* The process's resident memory in KiB, from /proc/self/statm. */
static inline long harness_rss_kib(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	REQUIRE(f);
	REQUIRE(fscanf(f, "%ld %ld", &size, &resident) == 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* xorshift64*: small, fast, and the same sequence for the same seed. */
static inline uint64_t harness_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/*
 * Fill @len bytes at @p with text from @seed: fragments of C source drawn
 * from one shared vocabulary, with about one token in seven a single
 * letter of the seed's own. It compresses well, as real text does, and
 * pages of different seeds share what a trained dictionary can learn. The
 * same seed gives the same bytes; different seeds give different pages
 * (each starts the generator at its own state), so a test that needs
 * distinct or identical pages picks distinct or equal seeds.
 */
static inline void harness_text_fill(unsigned char *p, size_t len,
				     uint64_t seed)
{
	static const char *const vocab[] = {
		"static int ",		"struct zram_slot *slot",
		"return -EINVAL;\n",	"#include <stdio.h>\n",
		"unsigned long flags;", "if (err)\n\t\tgoto out;",
		"spin_lock(&lock);",	"memcpy(dst, src, len);",
		"/* the page */\n",	"for (i = 0; i < n; i++)",
	};
	uint64_t rs = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i = 0, n;

	while (i < len) {
		uint64_t r = harness_rand(&rs);
		const char *w = vocab[r % 10];

		if (r % 7 == 0) {
			p[i++] = (unsigned char)('a' + (r >> 8) % 26);
			continue;
		}
		n = strlen(w);
		if (n > len - i)
			n = len - i;
		memcpy(p + i, w, n);
		i += n;
	}
}

#endif
