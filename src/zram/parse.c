/*
 * parse.c - the control-file grammar (see zram_parse.h).
 *
 * Parsers are pure: they read a buffer and fill a result, nothing else, so
 * the tests drive them without a store and the callers apply a result only
 * once the whole input is known good. Numbers are decimal only; the kernel's
 * kstrto*() also take 0x/0 prefixes, we refuse them as malformed rather than
 * guess.
 */
#include <errno.h>
#include <string.h>

#include "zram_internal.h"
#include "zram_parse.h"

size_t parse_strip(const char *buf, size_t len)
{
	if (len && buf[len - 1] == '\n')
		return len - 1;
	return len;
}

static int digits_parse(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int parse_u64(const char *buf, size_t len, uint64_t *out)
{
	return digits_parse(buf, parse_strip(buf, len), out);
}

static unsigned int suffix_shift(char c)
{
	switch (c) {
	case 'K':
	case 'k':
		return 10;
	case 'M':
	case 'm':
		return 20;
	case 'G':
	case 'g':
		return 30;
	case 'T':
	case 't':
		return 40;
	}
	return 0;
}

int parse_size(const char *buf, size_t len, uint64_t *out)
{
	unsigned int shift = 0;
	uint64_t v;

	len = parse_strip(buf, len);
	if (len && buf[len - 1] > '9') {
		shift = suffix_shift(buf[len - 1]);
		if (!shift)
			return -EINVAL;
		len--;
	}
	if (digits_parse(buf, len, &v))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int parse_int(const char *buf, size_t len, int *out)
{
	bool neg = len && buf[0] == '-';
	uint64_t v;

	if (digits_parse(buf + neg, len - neg, &v))
		return -EINVAL;
	if (v > (uint64_t)INT_MAX + neg)
		return -EINVAL;
	*out = neg ? (int)-(int64_t)v : (int)v;
	return 0;
}

int parse_algo(const char *buf, size_t len)
{
	return zram_codec_find(buf, parse_strip(buf, len));
}

static bool key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && !memcmp(key, name, klen);
}

/* One "key=value" pair into @req. Returns 0 or -EINVAL. */
static int pair_parse(const char *s, size_t len, struct zram_params_req *req)
{
	const char *eq = memchr(s, '=', len);
	size_t klen, vlen;
	const char *v;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - s);
	v = eq + 1;
	vlen = len - klen - 1;
	if (!klen || !vlen)
		return -EINVAL;
	if (key_is(s, klen, "algo") && req->algo < 0) {
		req->algo = zram_codec_find(v, vlen);
		return req->algo < 0 ? -EINVAL : 0;
	}
	if (key_is(s, klen, "priority") && req->prio < 0) {
		uint64_t prio;

		if (digits_parse(v, vlen, &prio) || prio >= ZRAM_PRIOS)
			return -EINVAL;
		req->prio = (int)prio;
		return 0;
	}
	if (key_is(s, klen, "level") && !req->has_level) {
		req->has_level = true;
		return parse_int(v, vlen, &req->level);
	}
	if (key_is(s, klen, "dict") && !req->has_dict) {
		if (vlen >= sizeof(req->dict) || memchr(v, '\0', vlen))
			return -EINVAL;
		memcpy(req->dict, v, vlen);
		req->dict[vlen] = '\0';
		req->has_dict = true;
		return 0;
	}
	return -EINVAL;
}

int parse_params(const char *buf, size_t len, struct zram_params_req *out)
{
	struct zram_params_req req = {.algo = -1, .prio = -1};
	size_t pos = 0;

	len = parse_strip(buf, len);
	if (!len)
		return -EINVAL;
	while (pos < len) {
		const char *sp = memchr(buf + pos, ' ', len - pos);
		size_t end = sp ? (size_t)(sp - buf) : len;

		/* empty pair: leading, doubled or trailing space */
		if (end == pos || (sp && end + 1 == len))
			return -EINVAL;
		if (pair_parse(buf + pos, end - pos, &req))
			return -EINVAL;
		pos = end + 1;
	}
	*out = req;
	return 0;
}

int parse_idle(const char *buf, size_t len, bool *all, uint64_t *seconds)
{
	uint64_t v;

	len = parse_strip(buf, len);
	if (len == 3 && !memcmp(buf, "all", 3)) {
		*all = true;
		*seconds = 0;
		return 0;
	}
	if (digits_parse(buf, len, &v))
		return -EINVAL;
	*all = false;
	*seconds = v;
	return 0;
}

int parse_delay(const char *buf, size_t len, uint64_t *index, uint32_t *ms)
{
	const char *sp;
	uint64_t i, m;

	len = parse_strip(buf, len);
	if (len == 3 && !memcmp(buf, "off", 3)) {
		*index = 0;
		*ms = 0;
		return 0;
	}
	sp = memchr(buf, ' ', len);
	if (!sp)
		return -EINVAL;
	if (digits_parse(buf, (size_t)(sp - buf), &i))
		return -EINVAL;
	if (digits_parse(sp + 1, len - (size_t)(sp - buf) - 1, &m))
		return -EINVAL;
	if (m > 3600u * 1000u)
		return -EINVAL;
	*index = i;
	*ms = (uint32_t)m;
	return 0;
}

/* Split @buf at single @sep bytes; call @fn for each non-empty token. */
static int tokens_each(const char *buf, size_t len, const char *seps,
		       int (*fn)(const char *s, size_t n, void *arg), void *arg)
{
	size_t pos = 0;

	if (!len)
		return -EINVAL;
	while (pos < len) {
		size_t end = pos;

		while (end < len && !strchr(seps, buf[end]))
			end++;
		/* empty token: leading, doubled or trailing separator */
		if (end == pos || end + 1 == len)
			return -EINVAL;
		if (fn(buf + pos, end - pos, arg))
			return -EINVAL;
		pos = end + 1;
	}
	return 0;
}

/* Split "key=value" (@len bytes): both non-empty. Returns 0 or -EINVAL. */
static int kv_split(const char *s, size_t len, size_t *klen, const char **v,
		    size_t *vlen)
{
	const char *eq = memchr(s, '=', len);

	if (!eq || eq == s || eq + 1 == s + len)
		return -EINVAL;
	*klen = (size_t)(eq - s);
	*v = eq + 1;
	*vlen = len - *klen - 1;
	return 0;
}

static int pp_type_parse(const char *v, size_t n, enum zram_pp_type *type)
{
	static const char *const names[] = {
		[ZRAM_PP_IDLE] = "idle",
		[ZRAM_PP_HUGE] = "huge",
		[ZRAM_PP_HUGE_IDLE] = "huge_idle",
		[ZRAM_PP_INCOMPRESSIBLE] = "incompressible",
	};
	unsigned int i;

	for (i = ZRAM_PP_IDLE; i <= ZRAM_PP_INCOMPRESSIBLE; i++)
		if (key_is(v, n, names[i])) {
			*type = (enum zram_pp_type)i;
			return 0;
		}
	return -EINVAL;
}

struct wb_parse {
	struct zram_wb_req req;
	bool has_type;
};

static int wb_range_add(struct wb_parse *w, uint64_t lo, uint64_t hi)
{
	if (w->req.nr_ranges == ZRAM_WB_MAX_RANGES)
		return -EINVAL;
	w->req.ranges[w->req.nr_ranges].lo = lo;
	w->req.ranges[w->req.nr_ranges++].hi = hi;
	return 0;
}

static int wb_pair(const char *s, size_t len, void *arg)
{
	struct wb_parse *w = arg;
	const char *v, *dash;
	size_t klen, vlen;
	uint64_t lo, hi;

	if (kv_split(s, len, &klen, &v, &vlen))
		return -EINVAL;
	if (key_is(s, klen, "type") && !w->has_type) {
		w->has_type = true;
		return pp_type_parse(v, vlen, &w->req.type);
	}
	if (key_is(s, klen, "page_index")) {
		if (digits_parse(v, vlen, &lo))
			return -EINVAL;
		return wb_range_add(w, lo, lo);
	}
	if (key_is(s, klen, "page_indexes")) {
		dash = memchr(v, '-', vlen);
		if (!dash || digits_parse(v, (size_t)(dash - v), &lo) ||
		    digits_parse(dash + 1, vlen - (size_t)(dash - v) - 1, &hi))
			return -EINVAL;
		return wb_range_add(w, lo, hi);
	}
	return -EINVAL;
}

int parse_writeback(const char *buf, size_t len, struct zram_wb_req *out)
{
	struct wb_parse w;

	memset(&w, 0, sizeof(w));
	len = parse_strip(buf, len);
	/* the old form: one bare word */
	if (!memchr(buf, '=', len)) {
		if (pp_type_parse(buf, len, &w.req.type))
			return -EINVAL;
		*out = w.req;
		return 0;
	}
	if (tokens_each(buf, len, " ", wb_pair, &w))
		return -EINVAL;
	*out = w.req;
	return 0;
}

struct rc_parse {
	struct zram_recompress_req req;
	bool has_type, has_threshold, has_max;
};

static int rc_pair(const char *s, size_t len, void *arg)
{
	struct rc_parse *r = arg;
	const char *v;
	size_t klen, vlen;
	uint64_t n;

	if (kv_split(s, len, &klen, &v, &vlen))
		return -EINVAL;
	if (key_is(s, klen, "type") && !r->has_type) {
		r->has_type = true;
		return pp_type_parse(v, vlen, &r->req.type) ||
				       r->req.type == ZRAM_PP_INCOMPRESSIBLE
			       ? -EINVAL
			       : 0;
	}
	if (key_is(s, klen, "algo") && !r->req.algo[0]) {
		if (zram_codec_find(v, vlen) < 0)
			return -EINVAL;
		memcpy(r->req.algo, v, vlen);
		r->req.algo[vlen] = '\0';
		return 0;
	}
	if (digits_parse(v, vlen, &n))
		return -EINVAL;
	if (key_is(s, klen, "threshold") && !r->has_threshold) {
		r->has_threshold = true;
		r->req.threshold = n;
	} else if (key_is(s, klen, "max_pages") && !r->has_max) {
		r->has_max = true;
		r->req.max_pages = n;
	} else if (key_is(s, klen, "priority") && r->req.prio < 0 &&
		   n < ZRAM_PRIOS) {
		r->req.prio = (int)n;
	} else {
		return -EINVAL;
	}
	return 0;
}

int parse_recompress(const char *buf, size_t len,
		     struct zram_recompress_req *out)
{
	struct rc_parse r;

	memset(&r, 0, sizeof(r));
	r.req.prio = -1;
	len = parse_strip(buf, len);
	/* nothing: every page, every secondary codec (as zram) */
	if (len && tokens_each(buf, len, " ", rc_pair, &r))
		return -EINVAL;
	*out = r.req;
	return 0;
}

struct ra_parse {
	int algo;
	int prio;
};

static int ra_pair(const char *s, size_t len, void *arg)
{
	struct ra_parse *r = arg;
	const char *v;
	size_t klen, vlen;
	uint64_t n;

	if (kv_split(s, len, &klen, &v, &vlen))
		return -EINVAL;
	if (key_is(s, klen, "algo") && r->algo < 0) {
		r->algo = zram_codec_find(v, vlen);
		return r->algo < 0 ? -EINVAL : 0;
	}
	if (key_is(s, klen, "priority") && r->prio < 0 &&
	    !digits_parse(v, vlen, &n) && n >= 1 && n < ZRAM_PRIOS) {
		r->prio = (int)n;
		return 0;
	}
	return -EINVAL;
}

int parse_recomp_algo(const char *buf, size_t len, int *algo,
		      unsigned int *prio)
{
	struct ra_parse r = {-1, -1};

	len = parse_strip(buf, len);
	if (tokens_each(buf, len, " ", ra_pair, &r) || r.algo < 0)
		return -EINVAL;
	*algo = r.algo;
	*prio = r.prio < 0 ? 1 : (unsigned int)r.prio;
	return 0;
}

static int onoff_parse(const char *v, size_t n, bool *out)
{
	if (key_is(v, n, "on")) {
		*out = true;
		return 0;
	}
	if (key_is(v, n, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* group=on|off|PAGES: the pages per frame, 0 for off. */
static int group_parse(const char *v, size_t n, uint32_t *out)
{
	uint64_t pages;
	bool on;

	if (!onoff_parse(v, n, &on)) {
		*out = on ? GROUP_PAGES_DEFAULT : 0;
		return 0;
	}
	if (digits_parse(v, n, &pages) || pages < GROUP_PAGES_MIN ||
	    pages > GROUP_PAGES_MAX)
		return -EINVAL;
	*out = (uint32_t)pages;
	return 0;
}

/* group_level=1..19: the zstd level of new frames. */
static int group_level_parse(const char *v, size_t n, uint32_t *out)
{
	uint64_t level;

	if (digits_parse(v, n, &level) || level < GROUP_LEVEL_MIN ||
	    level > GROUP_LEVEL_MAX)
		return -EINVAL;
	*out = (uint32_t)level;
	return 0;
}

struct policy_parse {
	struct zram_policy p;
	unsigned int seen; /* bit per key */
};

static int policy_pair(const char *s, size_t len, void *arg)
{
	static const char *const keys[] = {
		"idle_after", "recompress", "writeback", "mem_target",
		"interval",   "auto_dict",  "group",	 "group_level"};
	const unsigned int nkeys = sizeof(keys) / sizeof(keys[0]);
	struct policy_parse *pp = arg;
	const char *v;
	size_t klen, vlen;
	uint64_t n = 0;
	unsigned int k;

	if (kv_split(s, len, &klen, &v, &vlen))
		return -EINVAL;
	for (k = 0; k < nkeys && !key_is(s, klen, keys[k]); k++)
		;
	if (k == nkeys || (pp->seen & (1u << k)))
		return -EINVAL;
	pp->seen |= 1u << k;
	switch (k) {
	case 1:
		return onoff_parse(v, vlen, &pp->p.recompress);
	case 2:
		return onoff_parse(v, vlen, &pp->p.writeback);
	case 3:
		return parse_size(v, vlen, &pp->p.mem_target) ? -EINVAL : 0;
	case 5:
		return onoff_parse(v, vlen, &pp->p.auto_dict);
	case 6:
		return group_parse(v, vlen, &pp->p.group);
	case 7:
		return group_level_parse(v, vlen, &pp->p.group_level);
	}
	if (digits_parse(v, vlen, &n) || n > UINT32_MAX / 10 || (k == 4 && !n))
		return -EINVAL;
	if (k == 0)
		pp->p.idle_after = (uint32_t)n;
	else
		pp->p.interval = (uint32_t)n;
	return 0;
}

int parse_policy(const char *buf, size_t len, struct zram_policy *inout)
{
	struct policy_parse pp = {*inout, 0};

	len = parse_strip(buf, len);
	if (tokens_each(buf, len, " ,\n", policy_pair, &pp))
		return -EINVAL;
	*inout = pp.p;
	return 0;
}

int parse_bool01(const char *buf, size_t len, bool *out)
{
	uint64_t v;

	if (parse_u64(buf, len, &v) || v > 1)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_path(const char *buf, size_t len, char *out, size_t size)
{
	len = parse_strip(buf, len);
	if (!len || len >= size || memchr(buf, '\0', len))
		return -EINVAL;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

/* One "samples=N" or "size=BYTES" pair into @req. 0 or -EINVAL. */
static int train_pair_parse(const char *s, size_t len,
			    struct zram_train_req *req, bool *seen)
{
	const char *eq = memchr(s, '=', len);
	size_t klen = eq ? (size_t)(eq - s) : 0;
	uint64_t v;

	if (!eq || eq + 1 == s + len)
		return -EINVAL;
	if (key_is(s, klen, "samples") && !seen[0]) {
		seen[0] = true;
		if (digits_parse(eq + 1, len - klen - 1, &v) ||
		    v < ZRAM_TRAIN_SAMPLES_MIN || v > ZRAM_TRAIN_SAMPLES_MAX)
			return -EINVAL;
		req->samples = v;
		return 0;
	}
	if (key_is(s, klen, "size") && !seen[1]) {
		seen[1] = true;
		/* parse_size strips a newline: the value has none here */
		if (memchr(eq + 1, '\n', len - klen - 1) ||
		    parse_size(eq + 1, len - klen - 1, &v) ||
		    v < ZRAM_TRAIN_SIZE_MIN || v > ZRAM_TRAIN_SIZE_MAX)
			return -EINVAL;
		req->size = v;
		return 0;
	}
	return -EINVAL;
}

int parse_train(const char *buf, size_t len, struct zram_train_req *out)
{
	struct zram_train_req req = {.samples = ZRAM_TRAIN_SAMPLES_DEFAULT,
				     .size = ZRAM_TRAIN_SIZE_DEFAULT};
	bool seen[2] = {false, false};
	size_t pos = 0;

	len = parse_strip(buf, len);
	while (pos < len) {
		const char *sp = memchr(buf + pos, ' ', len - pos);
		size_t end = sp ? (size_t)(sp - buf) : len;

		if (end == pos || (sp && end + 1 == len))
			return -EINVAL;
		if (train_pair_parse(buf + pos, end - pos, &req, seen))
			return -EINVAL;
		pos = end + 1;
	}
	*out = req;
	return 0;
}
