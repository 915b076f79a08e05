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
 *   writeback := type | kv (' ' kv)*      (zram 6.16+: the old bare word or
 *               kv: type=T | page_index=N | page_indexes=LO-HI
 *               T: idle | huge | huge_idle | incompressible
 *               type at most once; index keys repeat (64 ranges at most);
 *               unknown keys are -EINVAL (zram ignores them)
 *   recompress := kv (' ' kv)*   kv: type=idle|huge|huge_idle |
 *               threshold=number | max_pages=number | algo=NAME |
 *               priority=0..3; each at most once
 *   recomp_algorithm := algo=NAME [' ' priority=1..3]  (default priority 1)
 *   policy   := kv ([ ,\n] kv)*   kv: idle_after=number | recompress=on|off
 *               | writeback=on|off | mem_target=size | interval=number(>0)
 *               | auto_dict=on|off | group=on|off|2..32 (on: 4)
 *               | group_level=1..19;
 *               each at most once; keys not given keep their value
 *   bool01   := 0 | 1
 *   path     := any bytes but NUL, not empty, < PATH_MAX
 *   train    := '' | tpair (' ' tpair)*    tpair := 'samples=' number
 *               | 'size=' size;  each at most once; samples 16 .. 16384
 *               pages (default 4096), size 1K .. 1M (default 64K)
 */
#ifndef UZRAM_ZRAM_PARSE_H
#define UZRAM_ZRAM_PARSE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zram.h"

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

/* The tiering controls; each returns 0 or -EINVAL. */
int parse_writeback(const char *buf, size_t len, struct zram_wb_req *out);
int parse_recompress(const char *buf, size_t len,
		     struct zram_recompress_req *out);
int parse_recomp_algo(const char *buf, size_t len, int *algo,
		      unsigned int *prio);
/* Updates only the keys given in @buf; *@inout unchanged on error. */
int parse_policy(const char *buf, size_t len, struct zram_policy *inout);
int parse_bool01(const char *buf, size_t len, bool *out);
int parse_path(const char *buf, size_t len, char *out, size_t size);

/* train_dict: how many resident pages to sample, the dictionary's size. */
#define ZRAM_TRAIN_SAMPLES_MIN 16u
#define ZRAM_TRAIN_SAMPLES_MAX 16384u
#define ZRAM_TRAIN_SAMPLES_DEFAULT 4096u
#define ZRAM_TRAIN_SIZE_MIN 1024u
#define ZRAM_TRAIN_SIZE_MAX (1u << 20)
#define ZRAM_TRAIN_SIZE_DEFAULT (64u << 10)

struct zram_train_req {
	uint64_t samples;
	uint64_t size;
};

/* train_dict. Returns 0 or -EINVAL (unknown or repeated key, out of range). */
int parse_train(const char *buf, size_t len, struct zram_train_req *out);

#endif
