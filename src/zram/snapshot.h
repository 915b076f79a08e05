/*
 * snapshot.h - the snapshot file format shared by the writer (snapshot.c)
 * and the reader (snapshot_restore.c); private to src/zram. The format is
 * documented field by field in docs/snapshot.md: change both together.
 *
 * File: the 8-byte magic "UZRAMSNP", then records, each
 *   u32 type | u32 length | payload (length bytes) | u64 XXH3-64 of the
 *   payload seeded with (type << 32 | length)
 * HEADER first, DICT records, PAGES records in ascending slot order, END
 * last, then end of file. Little-endian.
 *
 * Versions: 1 kept one dictionary per (priority, codec) and stored shared
 * (dedup) pages once per slot. 2 (written now) keeps every live dictionary
 * with its index, shared objects once with their content hash, and counts
 * the shared objects in END. The reader reads both. A new kind of content
 * (grouped frames, issue 9) adds a record type with the next free number
 * (5 is reserved for it) and bumps the version; a reader refuses record
 * types it does not know.
 */
#ifndef UZRAM_SNAPSHOT_H
#define UZRAM_SNAPSHOT_H

#include <endian.h>
#include <string.h>
#include <xxhash.h>

#include "slot_content.h"

#define SNAP_MAGIC "UZRAMSNP"
#define SNAP_VERSION 2u	    /* written */
#define SNAP_VERSION_MIN 1u /* oldest read */
#define SNAP_REC_HEADER 1u
#define SNAP_REC_DICT 2u
#define SNAP_REC_PAGES 3u
#define SNAP_REC_END 4u
/* 5: reserved for grouped frames (issue 9) */

/* a PAGES record is cut once its payload passes this */
#define SNAP_BATCH (1u << 20)
/* no record is longer: a 16 MiB dictionary and its ids */
#define SNAP_REC_MAX ((16u << 20) + 64u)
/* record header (type, length) and trailer (checksum) */
#define SNAP_REC_HDR 8u
#define SNAP_REC_SUM 8u
/* page entry: u64 index, u32 flags, u32 length, then the bytes */
#define SNAP_ENTRY_HDR 16u
/* a shared object's first entry: u32 object number, u32 hash key, object */
#define SNAP_SHARED_HDR 8u
/* a later entry of the same object: u32 object number */
#define SNAP_SHARED_REF 4u
/* DICT payload before the bytes: v1 u32 prio, codec; v2 + u32 index,
 * current */
#define SNAP_DICT_HDR_V1 8u
#define SNAP_DICT_HDR 16u
/* END: u64 page entries, u64 records (v1); + u64 shared objects (v2) */
#define SNAP_END_LEN_V1 16u
#define SNAP_END_LEN 24u

/* flags bits a snapshot keeps: the content, not the state */
#define SNAP_FLAGS_KEEP_V1                                          \
	(SLOT_SIZE_MASK | SLOT_SAME | SLOT_HUGE | SLOT_CODEC_MASK | \
	 SLOT_PRIO_MASK)
#define SNAP_FLAGS_KEEP (SNAP_FLAGS_KEEP_V1 | SLOT_DICT_MASK | SLOT_SHARED)

/* HEADER: the layout is docs/snapshot.md's table, offset by offset. */
#define SNAP_HEADER_LEN (40u + 4u * ZRAM_PRIOS * (ZRAM_CODECS + 1u))

/* Copy-on-write of a running save (snapshot_cow.c has the rules). */
struct snap_kept {
	uint64_t index;
	uint64_t handle;
	uint32_t flags;
};

struct snap_cow {
	_Atomic uint64_t cursor; /* slots below it are saved */
	pthread_mutex_t kept_lock;
	/* protected by kept_lock: */
	struct snap_kept *kept;
	size_t nkept, cap;
	int err; /* a writer could not keep (-ENOMEM): the save fails */
	/* the least index in kept (UINT64_MAX: none); written under
	 * kept_lock, read without it as a hint */
	_Atomic uint64_t kept_min;
};

int snap_cow_start(struct zram *z, struct snap_cow **out);
void snap_cow_free(struct snap_cow *c);
int snap_cow_take(struct snap_cow *c, uint64_t upto, struct snap_kept **out,
		  size_t *n);
void snap_cow_pass(struct snap_cow *c, uint64_t index);
void snap_cow_skip(struct zram *z, struct snap_cow *c, uint64_t first,
		   uint64_t end);

static inline void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* XXH3-64 of the payload, seeded with the type and length (so the sum
 * covers the record's header too). */
static inline uint64_t snap_rec_sum(uint32_t type, uint32_t len,
				    const void *payload)
{
	return XXH3_64bits_withSeed(payload, len, ((uint64_t)type << 32) | len);
}

#endif
