/*
 * zram.h - the compressed block store: zram's data path in user space.
 *
 * A store is a fixed-size disk of 4 KiB pages ("slots"). Each written page is
 * kept as a same-filled word (no allocation), a compressed object, or a raw
 * ("huge") object in a zsmalloc pool. Any thread may call any function at any
 * time; each calling thread gets its own codec contexts and one-page buffers
 * on first use (freed when the thread exits), so no codec work ever runs under
 * a lock shared by all threads. A slot is locked only while its own page is
 * read or written; the holder may sleep.
 *
 * This header is the whole public interface of libuzram (installed as
 * <uzram/zram.h>, `pkg-config --cflags --libs uzram`); libuzram.so exports
 * exactly the functions marked ZRAM_API. Every control has a typed function
 * here (zram_compact(), zram_mem_limit_set(), zram_algorithm_set(), ...).
 * The control files (comp_algorithm, mem_limit, ...) are the attribute table
 * at the end: a thin layer that parses text into those same calls, which the
 * daemon shows as files and the nbdkit plugin mounts next to its disk.
 *
 * The store never prints and never exits. Functions return 0 (or a count) or
 * -errno.
 */
#ifndef UZRAM_ZRAM_H
#define UZRAM_ZRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__GNUC__)
#define ZRAM_API __attribute__((visibility("default")))
#else
#define ZRAM_API
#endif

#define ZRAM_PAGE_SIZE 4096u

/* Largest disk zram_create() takes: 2^32 slots, 16 TiB. */
#define ZRAM_DISKSIZE_MAX (1ull << 44)

struct zram;

struct zram_config {
	/* bytes, > 0; rounded up to 4 KiB */
	uint64_t disksize;
	/* "lz4" (NULL = lz4), "lz4hc", "zstd" */
	const char *algorithm;
	/* as the algorithm_params file, or NULL */
	const char *algorithm_params;
	/* bytes of pool memory, 0 = no limit */
	uint64_t mem_limit;
	/* the caller's worker threads, shown in stats.json as "threads"
	 * (0: unknown) */
	unsigned int threads;
	/* backing file or block device for writeback, or NULL */
	const char *backing_dev;
	/* policy as "key=value,key=value" (see zram_policy), or NULL; its
	 * thread starts with the first write or discard, so the caller may
	 * fork() (daemonize) after zram_create() */
	const char *policy;
	/* deduplicate identical pages from the start (the `dedup` file) */
	bool dedup;
};

/*
 * zram_create - make an empty store.
 * Returns 0 and *@out, -EINVAL for a zero or too large disksize, an unknown
 * algorithm or bad params, -ENOMEM.
 */
ZRAM_API int zram_create(const struct zram_config *config, struct zram **out);

/* zram_destroy - free everything. No other thread may use @z. NULL: no-op. */
ZRAM_API void zram_destroy(struct zram *z);

/* zram_disksize - the disk's size in bytes (a multiple of 4 KiB). */
ZRAM_API uint64_t zram_disksize(const struct zram *z);

/*
 * zram_resize - change the disk's size online, while I/O runs: @disksize
 * bytes, rounded up to 4 KiB. Growing adds empty pages. Shrinking is
 * refused with -EBUSY, changing nothing, if a page past the new end holds
 * data (discard it first); requests past the new end then fail as past
 * any end. The slot table's memory still follows the pages touched.
 * The disksize attribute file writes here. Returns 0, -EINVAL (0 or more
 * than 16 TiB), -EBUSY or -ENOMEM.
 */
ZRAM_API int zram_resize(struct zram *z, uint64_t disksize);

/*
 * zram_read - read @len bytes at byte offset @off, any alignment.
 * Returns the bytes read: @len, fewer if the range runs past the end of the
 * disk, 0 at or past the end; -EIO if a page fails to decompress
 * (failed_reads counts it).
 */
ZRAM_API ssize_t zram_read(struct zram *z, void *buf, size_t len, uint64_t off);

/*
 * zram_write - write @len bytes at byte offset @off, any alignment.
 * Returns @len; or, when a page fails part way, the bytes written before it
 * if any, else: -ENOSPC if the range runs past the end of the disk (nothing is
 * written; invalid_io counts it) or the memory limit is reached
 * (failed_writes counts it; that page keeps its old content), -ENOMEM.
 */
ZRAM_API ssize_t zram_write(struct zram *z, const void *buf, size_t len,
			    uint64_t off);

/* zram_read_flags()/zram_write_flags(): never wait, as RWF_NOWAIT */
#define ZRAM_IO_NOWAIT 1u

/*
 * zram_read_flags, zram_write_flags - zram_read() and zram_write() with
 * @flags: 0 or ZRAM_IO_NOWAIT. With ZRAM_IO_NOWAIT the call returns -EAGAIN
 * instead of waiting for anything but the CPU: a page whose lock another
 * thread holds, a page on the backing device, a shrink deciding about a
 * page, a save holding writes back, the policy slowing writers over
 * mem_target (and the debug_read_delay hook). It is then to be done again
 * without the flag, from the start: pages before the one that would have
 * waited may have been read or written already (the same bytes again), and
 * num_reads/num_writes count them twice. For callers that serve many
 * requests on one thread (the FUSE ring's workers) and hand the few that
 * would wait to threads that may.
 */
ZRAM_API ssize_t zram_read_flags(struct zram *z, void *buf, size_t len,
				 uint64_t off, unsigned int flags);
ZRAM_API ssize_t zram_write_flags(struct zram *z, const void *buf, size_t len,
				  uint64_t off, unsigned int flags);

/*
 * zram_discard - free every whole page in [@off, @off + @len) and zero the
 * partial pages at its ends. Returns 0, or -EINVAL if the range runs past the
 * end of the disk (nothing changed). Zeroing a partial end page is a
 * read-modify-write, so it can also fail as zram_write() does (-ENOSPC at the
 * memory limit, -ENOMEM, -EIO): whole pages before it are already freed.
 */
ZRAM_API int zram_discard(struct zram *z, uint64_t off, uint64_t len);

/*
 * zram_write_zeroes - make [@off, @off + @len) read as zeros, storing whole
 * pages as same-filled (no pool memory). Returns as zram_discard().
 */
ZRAM_API int zram_write_zeroes(struct zram *z, uint64_t off, uint64_t len);

/* zram_flush - nothing is buffered: succeeds at once. Returns 0. */
ZRAM_API int zram_flush(struct zram *z);

/*
 * zram_open_get / zram_open_put - count users of the disk (the daemon calls
 * them on open/release of disk.img). I/O (read, write, discard) must only be
 * issued by a user between its get and its put. `reset` is refused with
 * -EBUSY while the count is above zero, as zram refuses it while the block
 * device is open; and while a reset (or any whole-store operation) runs,
 * zram_open_get() fails with -EBUSY, as an open of /dev/zramN does, so no
 * write can land in the middle of it. zram_open_get() returns 0 or -EBUSY;
 * each success needs exactly one zram_open_put(). Lock-free, never waits.
 */
ZRAM_API int zram_open_get(struct zram *z);
ZRAM_API void zram_open_put(struct zram *z);

/*
 * zram_open_count - the current count (0 while a reset runs). Lock-free, so
 * a signal handler may call it (the daemon refuses a stop signal while the
 * disk is in use).
 */
ZRAM_API long zram_open_count(struct zram *z);

/*
 * Tiering: writeback to a backing store, recompression and the policy that
 * runs them. Typed calls; the control files (backing_dev, writeback,
 * recompress, recomp_algorithm, writeback_limit*, policy) parse text into
 * these and call them. Every call changes nothing when it returns an error
 * before doing any work; a pass that fails part way keeps every page it did
 * not finish in memory, readable.
 */

/* Which pages a writeback or recompress pass takes (zram's type=). */
enum zram_pp_type {
	ZRAM_PP_ANY = 0, /* every stored page (page_index= without type=) */
	ZRAM_PP_IDLE,
	ZRAM_PP_HUGE,
	ZRAM_PP_HUGE_IDLE,
	ZRAM_PP_INCOMPRESSIBLE, /* writeback only */
};

#define ZRAM_WB_MAX_RANGES 64u

struct zram_wb_req {
	enum zram_pp_type type;
	/* page-index ranges, both ends included; 0 ranges: the whole disk */
	unsigned int nr_ranges;
	struct {
		uint64_t lo, hi;
	} ranges[ZRAM_WB_MAX_RANGES];
};

/*
 * zram_backing_dev_set - use @path (a block device or a regular file) as the
 * backing store; NULL or "none" detaches it. Only while the store holds no
 * data. Returns 0, -EBUSY (the store holds data, or the file is in use),
 * -ENOENT / -errno of open, -EINVAL (a directory or other kind of file, or
 * smaller than 4 KiB), -ENOMEM.
 */
ZRAM_API int zram_backing_dev_set(struct zram *z, const char *path);

/*
 * zram_writeback - write the selected pages (HUGE or compressed, in memory)
 * to the backing store, largest first (64-byte buckets), packed.
 * Returns 0; -ENODEV (no backing store), -ERANGE (a range past the end of
 * the disk or lo > hi: nothing done), -EIO (the writeback limit is used up,
 * or an I/O error), -ENOSPC (the backing store is full), -ENOMEM. On error
 * the pages not yet written stay in memory. Waits for a pass in progress.
 */
ZRAM_API int zram_writeback(struct zram *z, const struct zram_wb_req *req);

/* writeback_limit_enable (0/1) and writeback_limit (4 KiB units). */
ZRAM_API void zram_writeback_limit_enable(struct zram *z, bool on);
ZRAM_API void zram_writeback_limit_set(struct zram *z, uint64_t pages);

struct zram_recompress_req {
	enum zram_pp_type type; /* ANY, IDLE, HUGE or HUGE_IDLE */
	uint64_t threshold;	/* bytes: only objects at least this big */
	uint64_t max_pages;	/* 0: no limit */
	char algo[16];		/* codec name, "" = by priority */
	int prio;		/* 1..3, or -1: every secondary */
};

/*
 * zram_recomp_algorithm_set - codec @algo at priority @prio (1..3).
 * Returns 0 or -EINVAL (unknown codec, priority out of range).
 */
ZRAM_API int zram_recomp_algorithm_set(struct zram *z, const char *algo,
				       unsigned int prio);

/*
 * zram_recompress - recompress the selected in-memory pages with the
 * secondary codecs, largest first; keep a new object only if it lands in a
 * smaller size class; mark a page no codec shrinks INCOMPRESSIBLE.
 * Returns 0, -EINVAL (no secondary codec, @algo not one of them, threshold
 * at or above the huge size, a type recompress does not take), -ENOMEM.
 */
ZRAM_API int zram_recompress(struct zram *z,
			     const struct zram_recompress_req *req);

/* The policy thread's settings (the `policy` file, --policy). */
struct zram_policy {
	uint32_t idle_after; /* seconds untouched before a page is idle */
	bool recompress;     /* recompress idle pages (secondary codecs) */
	bool writeback;	     /* write idle pages back */
	uint64_t mem_target; /* bytes: soft target for mem_used_total, 0 off */
	uint32_t interval;   /* seconds between passes, >= 1 */
	/* train a dictionary for the primary codec once 64 MiB were written,
	 * again when the compression ratio drifts 10 % below what it was
	 * then, and rewrite idle pages of older dictionaries with it */
	bool auto_dict;
	/* group idle neighbours, this many pages per zstd frame
	 * (2..32; "on" is 4), 0: make no new groups (existing ones stay) */
	uint32_t group;
	/* zstd level of new grouped frames (1..19); 0 is the default, 3.
	 * A frame also uses the zstd dictionary new writes use, if any */
	uint32_t group_level;
};

/*
 * zram_policy_set - apply @p; the thread starts on the first setting that
 * asks for work. A group_level of 0 is stored as the default (3).
 * Returns 0, -EINVAL (interval 0, group neither 0 nor 2..32, or
 * group_level above 19; writeback or mem_target without a backing store
 * is accepted and waits for one), -errno of thread creation.
 */
ZRAM_API int zram_policy_set(struct zram *z, const struct zram_policy *p);
ZRAM_API void zram_policy_get(struct zram *z, struct zram_policy *p);

/*
 * zram_thread_idle - the calling thread will not use @z for a while: free
 * its codec contexts and buffers now instead of at its exit, and give the
 * pool's free-page cache back to the OS. Its next call into the store
 * makes them again (one allocation per codec).
 */
ZRAM_API void zram_thread_idle(struct zram *z);

/*
 * zram_transport_set - how the caller's requests reach the store, shown
 * in stats.json as "transport" (@name: a string that outlives @z, such as
 * "uring" or "dev"; NULL: not shown). Any thread, any time.
 */
ZRAM_API void zram_transport_set(struct zram *z, const char *name);

/* Every counter, by zram's names, copied out by zram_stats_get(). */
struct zram_stats {
	/* mm_stat, in its column order */
	/* bytes of stored pages (pages_stored * 4K) */
	uint64_t orig_data_size;
	/* bytes of compressed (or raw huge) objects */
	uint64_t compr_data_size;
	uint64_t mem_used_total;   /* bytes of pool pages */
	uint64_t mem_limit;	   /* bytes, 0 = none */
	uint64_t mem_used_max;	   /* peak of mem_used_total, bytes */
	uint64_t same_pages;	   /* same-filled pages (no pool memory) */
	uint64_t pages_compacted;  /* pages freed by compaction, ever */
	uint64_t huge_pages;	   /* pages stored raw now */
	uint64_t huge_pages_since; /* pages stored raw, ever (since reset) */
	/* io_stat */
	uint64_t failed_reads;
	uint64_t failed_writes;
	uint64_t invalid_io;
	uint64_t notify_free; /* pages freed by discard */
	/* bd_stat (writeback; 4 KiB units) */
	uint64_t bd_count;
	uint64_t bd_reads;
	uint64_t bd_writes;
	/* debug_stat */
	uint64_t miss_free;
	/* more */
	uint64_t pages_stored; /* slots holding data (incl. same-filled) */
	uint64_t idle_pages;   /* slots marked idle */
	uint64_t num_reads;    /* pages read */
	uint64_t num_writes;   /* pages written */
	uint64_t slot_count;   /* disksize / 4K */
	uint64_t slot_bytes;   /* bytes per slot table entry */
	uint64_t table_bytes;  /* slot table memory */
	uint64_t streams;      /* threads that hold codec contexts now */
	/* tiering */
	uint64_t backing_bytes;	     /* object bytes on the backing store */
	uint64_t backing_used;	     /* bytes of backing blocks in use */
	uint64_t backing_size;	     /* bytes of the backing store, 0: none */
	uint64_t pages_recompressed; /* recompressions kept, ever */
	uint64_t policy_passes;	     /* policy thread passes, ever */
	uint64_t dicts_trained;	     /* dictionaries trained, ever */
	uint64_t dict_rewrites;	     /* idle pages moved to a newer dict */
	/* dedup (all 0 while it was never on) */
	uint64_t dup_pages;	  /* pages stored by reference to another */
	uint64_t dup_data_size;	  /* compressed bytes those did not store */
	uint64_t dedup_objects;	  /* distinct objects in the index */
	uint64_t dedup_meta_size; /* bytes of the index itself */
	uint64_t dedup_hits; /* pages stored by reference, ever (since reset) */
	/* grouped frames of cold pages (policy group=) */
	uint64_t grouped_pages; /* pages stored as a member of a frame */
	uint64_t group_objects; /* live frames */
	uint64_t
		group_data_size; /* their compressed bytes (in compr_data_size) */
	uint64_t group_meta_size; /* bytes of the frame table itself */
};

ZRAM_API void zram_stats_get(struct zram *z, struct zram_stats *stats);

/*
 * Extents: what a range of the disk holds, without reading it (the nbdkit
 * plugin's .extents, `nbdinfo --map`). A page is a HOLE if it was never
 * written or was discarded, ZERO if it is a same-filled page of zero bytes
 * (written zeros, write_zeroes), DATA otherwise.
 */
enum zram_extent_kind {
	ZRAM_EXTENT_DATA = 0,
	ZRAM_EXTENT_ZERO = 1,
	ZRAM_EXTENT_HOLE = 2,
};

/*
 * zram_extent - the kind of the page holding byte @off and how far that kind
 * runs: *@kind and the length in bytes (a multiple of 4 KiB from the page
 * start, at most to the end of the page holding @off + @max - 1).
 * Lock-free: each page's state is read once, so a page written concurrently
 * may be reported as it was just before or just after that write.
 * Returns the length (> 0), or -EINVAL if @off is at or past the end of the
 * disk or @max is 0.
 */
ZRAM_API int64_t zram_extent(struct zram *z, uint64_t off, uint64_t max,
			     enum zram_extent_kind *kind);

/*
 * Control commands: one typed function per control file. Each changes
 * nothing when it returns an error. They may run at any time, concurrently
 * with I/O and with each other (they serialise among themselves).
 */

/*
 * zram_compact - move objects out of sparse zspages (`compact`), as zram's
 * synchronous write does: returns once a compaction that started after the
 * call has finished, with the pool pages that run freed (also added to
 * pages_compacted). It runs in the store's background compaction thread at
 * the lowest CPU priority, paced to leave the CPU to I/O while the disk is
 * busy (docs/allocator.md): the caller sleeps meanwhile.
 */
ZRAM_API uint64_t zram_compact(struct zram *z);

/*
 * A zram_compact_async() request: the caller owns it and fills in @done;
 * the other fields are the store's until @done is called.
 */
struct zram_compact_wait {
	/* called once, from the compaction thread, with no store lock held;
	 * may free @w */
	void (*done)(struct zram_compact_wait *w, uint64_t freed);
	struct zram_compact_wait *next;
	uint64_t ticket;
};

/*
 * zram_compact_async - zram_compact() without waiting: @w->done(w, freed)
 * runs once a compaction that started after the call has finished (a FUSE
 * daemon replies from there, so no worker sleeps). Returns 0, or -errno
 * with @w untouched (the thread cannot start, or the store is being
 * destroyed): then call zram_compact().
 */
ZRAM_API int zram_compact_async(struct zram *z, struct zram_compact_wait *w);

/*
 * zram_compact_drain - wait until every request made so far is served and
 * its callback has returned (before tearing down what callbacks use).
 */
ZRAM_API void zram_compact_drain(struct zram *z);

/*
 * zram_mem_limit_set - cap the pool at @bytes, rounded up to 4 KiB; 0 lifts
 * the cap (`mem_limit`). Writes that would pass it fail with -ENOSPC.
 * Pages already stored stay. Returns 0, or -EINVAL if rounding overflows.
 */
ZRAM_API int zram_mem_limit_set(struct zram *z, uint64_t bytes);

/* zram_mem_limit_get - the cap in bytes, 0 for none. */
ZRAM_API uint64_t zram_mem_limit_get(struct zram *z);

/* zram_mem_used_max_reset - restart the peak from the current use
 * (`echo 0 > mem_used_max`). */
ZRAM_API void zram_mem_used_max_reset(struct zram *z);

/*
 * zram_algorithm_name - name of codec @index: "lz4", "lz4hc", "zstd", then
 * NULL past the last one (`comp_algorithm` lists them in this order).
 */
ZRAM_API const char *zram_algorithm_name(unsigned int index);

/* zram_algorithm_get - name of the codec new writes use. */
ZRAM_API const char *zram_algorithm_get(struct zram *z);

/*
 * zram_algorithm_set - codec for new writes (`comp_algorithm`). Pages keep
 * the codec that wrote them and stay readable. Returns 0 or -EINVAL for an
 * unknown name.
 */
ZRAM_API int zram_algorithm_set(struct zram *z, const char *name);

/* Parameters of one codec, for zram_algorithm_params_set(). */
struct zram_algorithm_params {
	/* 0: the primary codec; 1..3: recompression (recomp_algorithm) */
	unsigned int priority;
	/* the codec they are for; NULL: the one set at that priority */
	const char *algorithm;
	/* set the level (lz4: acceleration) to @level */
	bool set_level;
	int level;
	/* path of a dictionary file to load and use from now on, or NULL */
	const char *dict;
};

/*
 * zram_algorithm_params_set - `algorithm_params`. Returns 0; -EINVAL for an
 * unknown codec, a priority past 3 or with no codec set, a level out of its
 * range or a codec that takes no dictionary (or refuses the file); -EBUSY
 * to change the dictionary while pages need all four older ones (old pages
 * keep theirs); -errno of reading the dictionary.
 */
ZRAM_API int zram_algorithm_params_set(struct zram *z,
				       const struct zram_algorithm_params *p);

/*
 * zram_algorithm_level_get - the level codec @name compresses with as the
 * primary codec (priority 0).
 * Returns 0 and *@level, or -EINVAL for an unknown name.
 */
ZRAM_API int zram_algorithm_level_get(struct zram *z, const char *name,
				      int *level);

/* For zram_idle_mark(): every stored page, whatever its age. */
#define ZRAM_IDLE_ALL UINT64_MAX

/*
 * zram_idle_mark - `idle`: mark idle every stored page not accessed for
 * @min_age seconds and unmark the others; ZRAM_IDLE_ALL marks them all.
 * Same-filled pages are never idle (as zram). Returns the idle pages now.
 */
ZRAM_API uint64_t zram_idle_mark(struct zram *z, uint64_t min_age);

/*
 * zram_reset - `reset`: drop every page and zero the counters; size, codec,
 * params and mem_limit stay. Returns 0, or -EBUSY while the disk is open
 * (zram_open_get()).
 */
ZRAM_API int zram_reset(struct zram *z);

/*
 * zram_dedup_set - `dedup`: store identical pages of new writes once (a
 * content hash, then a full byte compare before sharing). Off keeps the
 * pages already shared as they are. The index is made the first time it is
 * turned on. Returns 0 or -ENOMEM.
 */
ZRAM_API int zram_dedup_set(struct zram *z, bool on);

/* zram_dedup_get - whether new writes are deduplicated. */
ZRAM_API bool zram_dedup_get(struct zram *z);

/*
 * zram_dict_train - `train_dict`: train a dictionary of at most @size bytes
 * (1 KiB .. 1 MiB) on @samples (16 .. 16384) resident compressed pages
 * spread over the disk, and use it for new writes of the current codec
 * (zstd: a zstd dictionary; lz4, lz4hc: raw content). Returns 0; -EINVAL
 * (out of range); -ENODATA (too few resident pages, or nothing to learn);
 * -EBUSY (pages need all four older dictionaries); -ENOMEM. Nothing changes
 * unless it returns 0.
 */
ZRAM_API int zram_dict_train(struct zram *z, uint64_t samples, uint64_t size);

/*
 * Snapshots (format: docs/snapshot.md).
 *
 * zram_save - write a point-in-time snapshot of the whole store to @path
 * (`save`): every stored object as it is (no recompression; written-back
 * pages are read from the backing store), same-filled pages, dictionaries,
 * codec settings, mem_limit, disk size, as they were when it began: writes
 * (zram_write, zram_discard, zram_write_zeroes) go on meanwhile, the old
 * content of a page they change is kept for the save (copy-on-write);
 * neither they nor reads wait for it. The file appears at @path only when
 * complete (written next to it, fsync'ed, renamed). One save or control
 * command runs at a time.
 * Returns 0, -EINVAL (empty path), -errno of creating or writing the file
 * (nothing is left behind), -EIO (a backing store read), -ENOMEM.
 */
ZRAM_API int zram_save(struct zram *z, const char *path);

/* zram_save_flags() flags: no fsync of the file before its rename (a save
 * at the speed of the page cache; after a crash PATH may be missing or
 * refused as truncated, never taken for a whole snapshot). */
#define ZRAM_SAVE_NOSYNC 1u

/*
 * zram_save_flags - zram_save() with @flags (ZRAM_SAVE_NOSYNC). Returns as
 * zram_save(), and -EINVAL for an unknown flag.
 */
ZRAM_API int zram_save_flags(struct zram *z, const char *path,
			     unsigned int flags);

/*
 * zram_restore - create a store from the snapshot at @path, as it was
 * saved. The snapshot gives the disk size, the codecs, their levels and
 * dictionaries, and mem_limit; @config (or NULL) gives the rest (threads,
 * dedup, backing_dev, policy) and may override: a disksize other than 0
 * must match the snapshot's, an algorithm / algorithm_params / mem_limit
 * (non-zero) set there applies on top. A file that is not a snapshot, of
 * another version, truncated or corrupt anywhere (each record has a
 * checksum) is refused whole: nothing is created.
 * Returns 0 and *@out, or -errno with one line (no newline) naming @path and
 * the reason in @err (@err_size bytes): -ENOENT etc. of opening it, -EINVAL
 * (not a snapshot, corrupt, truncated, unsupported version, size mismatch,
 * overrides refused), -ENOMEM.
 */
ZRAM_API int zram_restore(const char *path, const struct zram_config *config,
			  struct zram **out, char *err, size_t err_size);

/*
 * The control and stat files, as text. Each store() parses its input into
 * one of the typed calls above; each show() formats zram_stats_get() or a
 * getter in the kernel's format (docs/store.md).
 */

/* Size of a buffer large enough for any attribute's show(). */
#define ZRAM_ATTR_SHOW_MAX (64u * 1024u)

/*
 * One control or stat file. @show and @store are NULL when the file is not
 * readable or not writable. store() parses @buf (@len bytes, not
 * NUL-terminated; one trailing newline is accepted) whole: anything malformed
 * is -EINVAL and changes nothing.
 */
struct zram_attr {
	const char *name;
	unsigned int mode; /* permission bits: 0444, 0200 or 0644 */
	/* Writes at most @size bytes; returns the length or -errno. */
	ssize_t (*show)(struct zram *z, char *buf, size_t size);
	int (*store)(struct zram *z, const char *buf, size_t len);
};

/* zram_attrs - the attribute table; *@count receives its length. */
ZRAM_API const struct zram_attr *zram_attrs(size_t *count);

/* zram_attr_find - the attribute named @name, or NULL. */
ZRAM_API const struct zram_attr *zram_attr_find(const char *name);

#endif
