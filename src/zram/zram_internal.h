/*
 * zram_internal.h - private structures of the block store.
 *
 * The store is a slot table (slot.c), a set of codecs behind one const ops
 * table each (codec_*.c) with per-thread contexts (codec.c), the I/O paths
 * (io.c), control commands (control.c), the attribute table (attrs.c), the
 * stat lines (stats.c) and the control-file grammar (parse.c).
 *
 * Lock order (whole directory):
 *   ctrl_lock (mutex, control commands only)
 *     -> the store claim (open_count, below; never waited for)
 *     -> pp_lock (mutex: one writeback/recompress/policy pass at a time)
 *       -> slot lock (bit lock in slot->flags, sleepable, one slot at a time)
 *         -> dedup index locks (dedup.c; never held on return)
 *         -> group table lock (group.c: a leaf; a grouping pass holds one
 *            member's slot lock at a time, never the frame's others)
 *         -> allocator locks (inside zs_*, never held on return)
 *         -> backing->lock (leaf: the backing store's free-space map)
 *   policy ctl->lock (mutex) is a leaf: never held across a pass.
 *   compactor c->lock (mutex) is a leaf: never held across a compaction.
 *   streams_lock (mutex) is a leaf: taken when a thread creates or frees
 *   its codec contexts, never with a slot lock held by the same path, and
 *   by a dictionary replacement (under ctrl_lock) waiting out compressions.
 *
 * Claiming the store (zram_claim / zram_unclaim), as the kernel's zram claims
 * its device for a reset: open_count is the number of users of the disk
 * (zram_open_get/put), or ZRAM_CLAIMED while one whole-store operation owns
 * the store. The only transitions are
 *   n -> n + 1 (open, n >= 0),  n -> n - 1 (close, n > 0),
 *   0 -> ZRAM_CLAIMED (claim, ctrl_lock held),  ZRAM_CLAIMED -> 0 (unclaim),
 * each one CAS, so an open never slips in between a claim's check and its
 * walk: opens while claimed fail with -EBUSY, a claim while open fails with
 * -EBUSY, and nobody waits. I/O is only issued between an open and its
 * close, so a claimed store has no I/O in flight: the claimant may walk and
 * change every slot and counter as if single-threaded (it still takes the
 * slot locks, which cost nothing uncontended). Reset uses it; snapshots and
 * online resize are meant to.
 */
#ifndef UZRAM_ZRAM_INTERNAL_H
#define UZRAM_ZRAM_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backing.h"
#include "dedup.h"
#include "group.h"
#include "zram.h"
#include "zsmalloc.h"

/*
 * One slot: 16 bytes. What a slot may hold and how each kind is encoded is
 * owned by slot_content.c (see slot_content.h); the layout is:
 *   handle   zsmalloc handle of a stored object, or the 8-byte fill word of a
 *            same-filled page, or the byte offset of the object on the
 *            backing store (WB), or 0 for an empty slot.
 *   flags    bits 0..12: stored object size (0..4096); 13..: SLOT_* below,
 *            including the lock bit. Also the futex word of the slot lock.
 *   ac_time  last access, in deciseconds since the store was created.
 * A slot "holds data" when SLOT_SAME is set or its size is not 0.
 * Invariant: handle, size and every bit but LOCK/WAITERS change only with
 * the slot lock held; ac_time too. Readers that do not hold the lock (idle
 * scan pre-check, reset) only use the value as a hint.
 */
struct zram_slot {
	_Atomic uint64_t handle;
	_Atomic uint32_t flags;
	_Atomic uint32_t ac_time;
};

#define SLOT_SIZE_MASK 0x1fffu
#define SLOT_SAME (1u << 13)
#define SLOT_LOCK (1u << 14)
#define SLOT_WAITERS (1u << 15) /* someone sleeps on the lock */
#define SLOT_WB (1u << 16)	/* the object lives on the backing store */
#define SLOT_HUGE (1u << 17)	/* stored raw, 4096 bytes */
#define SLOT_IDLE (1u << 18)
#define SLOT_INCOMPRESSIBLE (1u << 19) /* no secondary codec shrinks it */
#define SLOT_CODEC_SHIFT 20
#define SLOT_CODEC_MASK (3u << SLOT_CODEC_SHIFT)
#define SLOT_PRIO_SHIFT 22 /* codec priority: 0 primary, 1..3 recomp */
#define SLOT_PRIO_MASK (3u << SLOT_PRIO_SHIFT)
#define SLOT_PP (1u << 24)	/* picked by a writeback/recompress pass */
#define SLOT_SHARED (1u << 25)	/* handle is a dedup entry id (dedup.c) */
#define SLOT_GROUPED (1u << 26) /* one page of a grouped frame (group.h) */
#define SLOT_DICT_SHIFT 27	/* which of params' dictionaries wrote it */
#define SLOT_DICT_MASK (3u << SLOT_DICT_SHIFT)
/* a running save already keeps this slot's content of its start
 * (snapshot_cow.c); kept across install and free, cleared by the save */
#define SLOT_KEPT (1u << 29)
/* a grouping pass found that the run it was in did not shrink as a frame:
 * not tried again until the slot's content changes (install and free
 * clear it), else every pass compressed the same pages again for nothing
 * (200 ms of CPU a second at group_level=15 on the trees, for ~900 pages) */
#define SLOT_NOGROUP (1u << 30)
/* bit 31 is free */
#define SLOT_LOCK_BITS (SLOT_LOCK | SLOT_WAITERS)
/* what describes a stored object: a dedup entry's meta word has these */
#define SLOT_CONTENT_BITS                                                \
	(SLOT_SIZE_MASK | SLOT_HUGE | SLOT_CODEC_MASK | SLOT_PRIO_MASK | \
	 SLOT_DICT_MASK)

/* The table is given back to the OS a page (256 slots, 1 MiB of disk) at a
 * time, when a discard covers all of it (slot_table_release). */
#define ZRAM_TABLE_PAGE_SIZE 4096u
#define SLOTS_PER_TABLE_PAGE (ZRAM_TABLE_PAGE_SIZE / sizeof(struct zram_slot))
/* bytes of disk one table page describes: 1 MiB */
#define ZRAM_TABLE_PAGE_BYTES_DISK \
	((uint64_t)SLOTS_PER_TABLE_PAGE * ZRAM_PAGE_SIZE)

/* open_count while a whole-store operation owns the store (see the top). */
#define ZRAM_CLAIMED LONG_MIN

/* Codec ids, stored in two bits of each slot: never renumber. */
enum zram_codec_id {
	ZRAM_CODEC_LZ4 = 0,
	ZRAM_CODEC_LZ4HC = 1,
	ZRAM_CODEC_ZSTD = 2,
	ZRAM_CODECS = 3,
};

/* Codec priorities: 0 is the primary (comp_algorithm), 1..3 secondaries
 * (recomp_algorithm), as zram's ZRAM_MAX_COMPS. */
#define ZRAM_PRIOS 4u

/* A dictionary: loaded once, immutable, freed only by zram_destroy(). */
/*
 * A dictionary. Immutable once loaded. Its generation (never 0, unique in
 * its store, given when it becomes current) is its identity for caches such
 * as a zstd context's loaded dictionary: a freed dictionary's address may
 * come back for the next one. Lifetime: it is current for one (priority,
 * codec) until replaced; slots need it through params.pages (a replacement
 * is refused while that is not 0, so a retired one has no slot); threads
 * use it only inside slot_compress()'s "active" section, and a replacement
 * waits for the threads that were in one (zram_dict_retire()), then frees
 * it. Decoders hold a slot that needs it, so they never see it retire.
 */
struct zram_dict {
	uint64_t gen;
	const struct zram_codec_ops *ops;
	void *data;
	size_t size;
	void *prepared; /* codec's decompression form (ZSTD_DDict) */
	/* codec's shared compression form (zstd: a CDict at one level), made
	 * on first use, then immutable until the dictionary is freed */
	_Atomic(void *) cprepared;
};

/*
 * A codec backend. Contexts belong to one thread; compress() and
 * decompress() never take a lock. Levels are plain ints in
 * [level_min, level_max]; lz4 reads its level as the acceleration.
 */
struct zram_codec_ops {
	const char *name;
	int level_min;
	int level_max;
	int level_default;
	/* Returns 0 and *@ctx, or -ENOMEM. */
	int (*ctx_create)(void **ctx);
	void (*ctx_destroy)(void *ctx);
	/*
	 * Compress ZRAM_PAGE_SIZE bytes of @src into @dst (@dst_cap bytes).
	 * Returns the compressed length (> 0) or -errno.
	 */
	int (*compress)(void *ctx, int level, const struct zram_dict *dict,
			const void *src, void *dst, size_t dst_cap);
	/* Decompress @src_len bytes into one page. Returns 0 or -EIO. */
	int (*decompress)(void *ctx, const struct zram_dict *dict,
			  const void *src, size_t src_len, void *dst);
	/* Dictionary support (NULL: the codec takes none). Returns 0/-errno. */
	int (*dict_prepare)(struct zram_dict *dict);
	void (*dict_release)(struct zram_dict *dict);
};

extern const struct zram_codec_ops zram_codec_lz4;
extern const struct zram_codec_ops zram_codec_lz4hc;
int zram_lz4_decompress(void *ctx, const struct zram_dict *dict,
			const void *src, size_t src_len, void *dst);
extern const struct zram_codec_ops zram_codec_zstd;
/*
 * Grouped frames (slot_group.c): zstd over @len bytes (several pages) at
 * @level, with zstd dictionary @dict or none (NULL). compress returns the
 * frame's length, or -E2BIG if it does not fit @cap, -EINVAL, -ENOMEM;
 * decompress returns the bytes made, or -EIO. @ctx is a thread's zstd
 * context (zram_stream_ctx(st, ZRAM_CODEC_ZSTD)). The caller keeps @dict
 * alive: inside an active section to compress (slot_group.c), by a frame
 * counted in its params' pages to decompress.
 */
int zram_zstd_frame_compress(void *ctx, int level, const struct zram_dict *dict,
			     const void *src, size_t len, void *dst,
			     size_t cap);
int zram_zstd_frame_decompress(void *ctx, const struct zram_dict *dict,
			       const void *src, size_t len, void *dst,
			       size_t cap);

/* Run-time parameters of one codec at one priority. */
/* Dictionaries alive at once per (priority, codec): slots record which. */
#define ZRAM_DICT_SLOTS 4u

/*
 * Run-time parameters of one codec at one priority.
 * New writes use `dict` (NULL: none), which is dicts[cur % 4]; `cur` is
 * the dictionary's generation * 4 + its index, so it never repeats. A
 * compressed slot records the index (SLOT_DICT_*), and pages[i] counts the
 * compressed (not huge) objects that need dicts[i]: a replaced dictionary
 * stays while they exist and is freed (dict_gc() in control.c) once none
 * does. dicts[], dict and cur change only under ctrl_lock, in the order
 * dicts[j], dict, cur (seq_cst).
 */
struct zram_codec_params {
	_Atomic int level;
	_Atomic(struct zram_dict *) dict;
	_Atomic uint64_t cur;
	_Atomic(struct zram_dict *) dicts[ZRAM_DICT_SLOTS];
	_Atomic uint64_t pages[ZRAM_DICT_SLOTS];
};

/*
 * The calling thread's codec contexts and buffers, made on its first call
 * and freed by the thread-key destructor or zram_destroy().
 */
struct zram_stream {
	struct zram *z;
	struct zram_stream *prev, *next; /* protected by z->streams_lock */
	void *ctx[ZRAM_CODECS];
	/* odd while this thread compresses (codec.c: dictionary lifetime);
	 * before cbuf, so zram_stream_get() zeroes it */
	_Atomic uint64_t active;
	/* grouped frames: the last one this thread decompressed (struct
	 * group_buf, slot_group.c), made on the first grouped read */
	void *gbuf;
	unsigned char cbuf[2 * ZRAM_PAGE_SIZE];	  /* compressor output */
	unsigned char local_copy[ZRAM_PAGE_SIZE]; /* zs_obj_read_begin */
	unsigned char page[ZRAM_PAGE_SIZE];	  /* partial I/O */
	/* reads from the backing store (O_DIRECT: block aligned) */
	_Alignas(4096) unsigned char bd_buf[2 * ZRAM_PAGE_SIZE];
	unsigned char cmp[ZRAM_PAGE_SIZE]; /* dedup candidate, decoded */
};

/* Counters kept by the store (pool figures come from the allocator). */
struct zram_counters {
	_Atomic uint64_t pages_stored;
	_Atomic uint64_t compr_data_size;
	_Atomic uint64_t same_pages;
	_Atomic uint64_t huge_pages;
	_Atomic uint64_t huge_pages_since;
	_Atomic uint64_t failed_reads;
	_Atomic uint64_t failed_writes;
	_Atomic uint64_t invalid_io;
	_Atomic uint64_t notify_free;
	_Atomic uint64_t miss_free;
	_Atomic uint64_t idle_pages;
	_Atomic uint64_t num_reads;
	_Atomic uint64_t num_writes;
	_Atomic uint64_t wb_pages;	     /* slots on the backing store */
	_Atomic uint64_t backing_bytes;	     /* their object bytes */
	_Atomic uint64_t bd_reads;	     /* pages read from backing */
	_Atomic uint64_t bd_writes;	     /* pages written back, ever */
	_Atomic uint64_t pages_recompressed; /* kept a smaller object */
	_Atomic uint64_t policy_passes;
	_Atomic uint64_t dicts_trained; /* train_dict or auto_dict, ever */
	_Atomic uint64_t dict_rewrites; /* idle pages moved to a newer
						dictionary by auto_dict, ever */
	/* dedup: slots that refer to an entry, and the entries' objects */
	_Atomic uint64_t dedup_slots;
	_Atomic uint64_t dedup_slot_bytes;
	_Atomic uint64_t dedup_objs;
	_Atomic uint64_t dedup_obj_bytes;
	_Atomic uint64_t dedup_hits; /* slots that shared on install, ever */
	/* grouped frames: member slots, live frames and their bytes */
	_Atomic uint64_t grouped_pages;
	_Atomic uint64_t group_objs;
	_Atomic uint64_t group_bytes;
};

struct zram {
	struct zs_pool *pool;
	/*
	 * The slot table: address space for ZRAM_MAX_SLOTS entries reserved
	 * at creation (PROT_NONE), of which the first @table_bytes are
	 * readable and writable; untouched table pages cost no memory.
	 * @table never moves, so a resize (resize.c) needs no lock on I/O.
	 * @table_bytes only grows; protected by ctrl_lock.
	 */
	struct zram_slot *table;
	size_t table_bytes;
	/*
	 * The disk's size in slots. Written only by zram_resize() under
	 * ctrl_lock; read without a lock (seq_cst) by I/O, which checks it
	 * again once it holds a slot lock before it installs anything.
	 */
	_Atomic uint64_t nr_slots;
	/*
	 * While a shrink checks the pages it would cut: its new nr_slots,
	 * else UINT64_MAX. A writer that holds the lock of a slot at or past
	 * it installs nothing and waits for the shrink to decide (resize.c).
	 */
	_Atomic uint64_t cut;
	/*
	 * One bit per table page (SLOTS_PER_TABLE_PAGE slots): set by
	 * slot_lock() before the holder changes any slot of that page,
	 * cleared by the table release (or a shrink) under all of the page's slot locks
	 * before it drops the page. A clear bit means every slot of the page
	 * is empty, so walks (idle, reset, destroy) skip it and cost what is
	 * used, not what the disk could hold: 2 MiB of bits for 16 TiB.
	 */
	_Atomic uint64_t *touched;
	/* table pages of the disk (nr_slots rounded up): walks end here;
	 * changed only by zram_resize() under ctrl_lock */
	_Atomic uint64_t nr_table_pages;
	/* threads asleep on a slot lock (slot.c: a release wakes only then) */
	_Atomic uint64_t lock_sleepers;
	size_t huge_size; /* zs_huge_class_size(): store raw from here */
	unsigned int threads;
	_Atomic(const char *) transport; /* zram_transport_set(), or NULL */
	struct timespec epoch;		 /* CLOCK_MONOTONIC at creation */

	_Atomic int algo; /* codec for new writes (priority 0) */
	/* codec of priorities 1..3 (recomp_algorithm), -1: none; [0] unused */
	_Atomic int recomp_algo[ZRAM_PRIOS];
	/* the write gate (snapshot.c): SAVING bit | writers inside */
	_Atomic uint32_t save_gate;
	/* the running save's copy-on-write state (snapshot_cow.c), or NULL;
	 * set and cleared with the gate closed */
	_Atomic(struct snap_cow *) cow;
	/* level and dictionary per (priority, codec): a slot records both */
	struct zram_codec_params params[ZRAM_PRIOS][ZRAM_CODECS];
	struct zram_counters stats;
	_Atomic uint64_t mem_limit;	       /* bytes, 0 = none */
	_Atomic uint64_t mem_used_max;	       /* bytes */
	_Atomic uint64_t pages_compacted_base; /* pool figure at reset */
	_Atomic long open_count; /* users, or ZRAM_CLAIMED (see the top) */
	/* made by the first zram_dedup_set(on), kept until zram_destroy()
	 * while slots may refer to it; new writes use it while dedup_on */
	_Atomic(struct zram_dedup *) dedup;
	_Atomic bool dedup_on;
	/* grouped frames of cold pages (group.c), made at creation */
	struct zram_group *groups;

	pthread_mutex_t ctrl_lock; /* serialises control commands */

	/*
	 * Tiering. pp_lock serialises post-processing (writeback, recompress,
	 * policy passes) and changes of `backing`; readers of WB slots load
	 * `backing` without it (it only changes while no slot is WB).
	 */
	pthread_mutex_t pp_lock;
	_Atomic(struct zram_backing *) backing;
	struct zram_backing *backing_retired; /* protected by pp_lock */
	_Atomic bool wb_limit_enable;
	_Atomic uint64_t wb_limit;	  /* 4 KiB units */
	struct zram_policy_ctl *policy;	  /* policy.c; NULL until started */
	struct zram_compactor *compactor; /* compactor.c */
	uint64_t dict_gen; /* last generation given; protected by ctrl_lock */

	pthread_key_t stream_key;
	pthread_mutex_t streams_lock;
	struct zram_stream *streams; /* protected by streams_lock */
	_Atomic uint64_t nr_streams;

#ifdef UZRAM_TEST_HOOKS
	_Atomic uint64_t dbg_auto_dict_pages; /* 0: AUTO_DICT_PAGES */
	_Atomic uint64_t dbg_delay_index;     /* UINT64_MAX: off */
	_Atomic uint32_t dbg_delay_ms;
	_Atomic uint32_t dbg_reset_delay_ms; /* reset sleeps, claimed */
	_Atomic uint32_t dbg_save_delay_ms;  /* save sleeps, gate closed */
	_Atomic bool dbg_install_yield;	     /* resize.c: yield in the check */
#endif
};

/* zram.c */
int zram_claim(struct zram *z);
void zram_unclaim(struct zram *z);

/* 2^32 slots: 16 TiB of disk, a 64 GiB table of (reserved) address space. */
#define ZRAM_MAX_SLOTS (ZRAM_DISKSIZE_MAX / ZRAM_PAGE_SIZE)

/* slot.c */
int slot_table_create(struct zram *z, uint64_t nr_slots);
int slot_table_grow(struct zram *z, uint64_t nr_slots);
void slot_table_destroy(struct zram *z);
void slot_lock(struct zram *z, struct zram_slot *slot);
/* slot_trylock - slot_lock() if the lock is free; false (nothing taken) if
 * another thread holds it. */
bool slot_trylock(struct zram *z, struct zram_slot *slot);
/*
 * io.c: io_would_wait - true if the calling thread is serving a
 * ZRAM_IO_NOWAIT request, which then ends with -EAGAIN: call it where the
 * request is about to wait and back out if it says so. False otherwise.
 */
bool io_would_wait(void);
void slot_unlock(struct zram_slot *slot);
uint64_t table_page_next(const struct zram *z, uint64_t page, uint64_t end);
bool table_page_touched(const struct zram *z, uint64_t page);
bool slot_holds_data(uint32_t flags);
void slot_flags_update(struct zram_slot *slot, uint32_t clear, uint32_t set);
void slot_touch(struct zram *z, struct zram_slot *slot);
uint64_t slot_table_release(struct zram *z, uint64_t first);
void slot_table_reset(struct zram *z);
uint32_t zram_now_ds(const struct zram *z);

/* codec.c */
const struct zram_codec_ops *zram_codec_get(unsigned int id);
int zram_codec_find(const char *name, size_t len);
int zram_streams_init(struct zram *z);
void zram_streams_destroy(struct zram *z);
struct zram_stream *zram_stream_get(struct zram *z);
void *zram_stream_ctx(struct zram_stream *st, unsigned int id);
int zram_dict_load(const struct zram_codec_ops *ops, const char *path,
		   struct zram_dict **out);
int zram_dict_make(const struct zram_codec_ops *ops, void *data, size_t size,
		   struct zram_dict **out);
void zram_dict_free(struct zram_dict *d);
void zram_dict_retire(struct zram *z, struct zram_dict *d);

/* io.c */
void zram_mem_used_update(struct zram *z, uint64_t used);

/* dict_train.c */
int dict_train_pages(unsigned int codec, const void *samples, size_t n,
		     size_t cap, void **out, size_t *out_size);
uint64_t dict_refresh_idle(struct zram *z);
/* zram_heap_trim - give the heap's free memory back to the OS (glibc's
 * malloc_trim; a no-op elsewhere). Slow-ish: background work only. */
void zram_heap_trim(void);

/* control.c (Locking: each takes ctrl_lock itself; the rest are in zram.h) */
int zram_params_change(struct zram *z, unsigned int prio, int id,
		       bool has_level, int level, const char *dict);
int zram_dict_install(struct zram *z, unsigned int id, void *data, size_t size);
/* Make @data (@size bytes, malloc'ed, always taken) codec @codec's
 * dictionary at @prio. Returns 0, -EINVAL (refused), -EBUSY, -ENOMEM. */
int zram_dict_set(struct zram *z, unsigned int prio, unsigned int codec,
		  void *data, size_t size);
/*
 * Restore a snapshot's dictionary: @data (@size bytes, malloc'ed, always
 * taken) into index @j of (@prio, @codec)'s dictionaries, and make it the
 * one new writes use if @current. Only on a store no I/O has reached.
 * Returns 0, -EINVAL (the codec refuses it, index @j is taken, or a
 * second current one), -ENOMEM.
 */
int zram_dict_restore(struct zram *z, unsigned int prio, unsigned int codec,
		      unsigned int j, bool current, void *data, size_t size);

/*
 * snapshot.c: the write gate. Every path that changes what the disk reads
 * (write, discard, write_zeroes) runs between enter and exit; a save closes
 * the gate for a moment at its start and its end (to publish and withdraw
 * its copy-on-write state), so those wait only then. Never called with a
 * lock held.
 */
/* Returns true; false only if io_would_wait() (nothing taken then). */
bool zram_write_gate_enter(struct zram *z);
void zram_write_gate_exit(struct zram *z);
#ifdef UZRAM_TEST_HOOKS
void zram_read_delay_set(struct zram *z, uint64_t index, uint32_t ms);
#endif

/* attrs.c: an algorithm_params write. Returns as zram_algorithm_params_set()
 * and -EINVAL for bad grammar. */
int zram_params_text_apply(struct zram *z, const char *buf, size_t len);

/*
 * group_pass.c: the policy's grouping of idle neighbours, @pages per frame
 * (2..GROUP_PAGES_MAX) at zstd level @level (GROUP_LEVEL_MIN..MAX; 0: the
 * default). Returns the pages grouped.
 * Locking: pp_lock held; one slot lock at a time.
 */
uint64_t group_idle(struct zram *z, unsigned int pages, unsigned int level);

/* writeback.c: punch emptied backing blocks. Locking: no slot lock held. */
void tier_punch(struct zram *z);

/* policy.c */
int policy_init(struct zram *z);
void policy_destroy(struct zram *z);
void policy_throttle(struct zram *z);
/* policy_throttle_due - true if policy_throttle() would wait now */
bool policy_throttle_due(struct zram *z);
void policy_start_deferred(struct zram *z, const struct zram_policy *p);
void policy_start_pending(struct zram *z);

/* compactor.c */
int compactor_init(struct zram *z);
void compactor_destroy(struct zram *z);

/* control_tier.c: the tiering control files */
ssize_t zram_backing_dev_show(struct zram *z, char *buf, size_t size);
int zram_backing_dev_store(struct zram *z, const char *buf, size_t len);
int zram_writeback_store(struct zram *z, const char *buf, size_t len);
ssize_t zram_wb_limit_enable_show(struct zram *z, char *buf, size_t size);
int zram_wb_limit_enable_store(struct zram *z, const char *buf, size_t len);
ssize_t zram_wb_limit_show(struct zram *z, char *buf, size_t size);
int zram_wb_limit_store(struct zram *z, const char *buf, size_t len);
ssize_t zram_recomp_algo_show(struct zram *z, char *buf, size_t size);
int zram_recomp_algo_store(struct zram *z, const char *buf, size_t len);
int zram_recompress_store(struct zram *z, const char *buf, size_t len);
ssize_t zram_policy_show(struct zram *z, char *buf, size_t size);
int zram_policy_store(struct zram *z, const char *buf, size_t len);

/* resize.c */
/*
 * slot_install_check - may content be installed in @slot? 0, -ENOSPC (past
 * the end) or -EAGAIN (a shrink is deciding: unlock, slot_cut_wait(), start
 * the page again). Locking: @slot's lock held (taken just before).
 */
int slot_install_check(struct zram *z, struct zram_slot *slot);
/* slot_cut_wait - wait until no shrink is deciding about @slot. No lock. */
void slot_cut_wait(struct zram *z, struct zram_slot *slot);

/* stats.c */
ssize_t zram_mm_stat_show(struct zram *z, char *buf, size_t size);
ssize_t zram_io_stat_show(struct zram *z, char *buf, size_t size);
ssize_t zram_bd_stat_show(struct zram *z, char *buf, size_t size);
ssize_t zram_debug_stat_show(struct zram *z, char *buf, size_t size);
ssize_t zram_classes_show(struct zram *z, char *buf, size_t size);
ssize_t zram_json_show(struct zram *z, char *buf, size_t size);

#endif
