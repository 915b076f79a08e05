/*
 * zram_parse.h - the control-file grammar, parsed without side effects.
 *
 * Every parser takes the whole buffer (@buf, @len bytes, not NUL-terminated)
 * as written to a control file. One trailing newline is accepted; anything
 * else that is not in the grammar returns -EINVAL and leaves *@out untouched
 * (the caller changes nothing then).
 *
 *   number   := [0-9]+                      (no sign, no spaces, fits u64)
 *   size     := number [KkMmGgTt]?          (times 2^10 .. 2^40, no overflow)
 *   level    := '-'? [0-9]+                 (fits int)
 *   params   := pair (' ' pair)*            pair := key '=' value
 *               key: algo | level | dict | priority (0..3);
 *               each at most once; value non-empty
 *   idle     := 'all' | number
 *   delay    := number ' ' number | 'off'
 */
#ifndef UZRAM_ZRAM_PARSE_H
#define UZRAM_ZRAM_PARSE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of @buf without its one optional trailing newline. */
size_t parse_strip(const char *buf, size_t len);

/* A decimal number. Returns 0 or -EINVAL. */
int parse_u64(const char *buf, size_t len, uint64_t *out);

/* A byte count with an optional K/M/G/T suffix. Returns 0 or -EINVAL. */
int parse_size(const char *buf, size_t len, uint64_t *out);

/* A signed decimal that fits an int (no newline accepted). 0 or -EINVAL. */
int parse_int(const char *buf, size_t len, int *out);

/* One algorithm_params write. */
struct zram_params_req {
	int algo; /* codec id from algo=NAME, or -1 */
	int prio; /* priority=0..3, or -1 */
	bool has_level;
	int level;
	bool has_dict;
	char dict[PATH_MAX];
};

/* Returns 0 or -EINVAL (unknown key or codec, repeated key, bad value). */
int parse_params(const char *buf, size_t len, struct zram_params_req *out);

/* A codec name. Returns its id or -EINVAL. */
int parse_algo(const char *buf, size_t len);

/* idle: "all" (*@all = true) or seconds. Returns 0 or -EINVAL. */
int parse_idle(const char *buf, size_t len, bool *all, uint64_t *seconds);

/* debug_read_delay: "INDEX MS" or "off" (both 0). Returns 0 or -EINVAL. */
int parse_delay(const char *buf, size_t len, uint64_t *index, uint32_t *ms);

#endif
