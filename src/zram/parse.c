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
