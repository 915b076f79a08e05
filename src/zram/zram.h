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
 * Control files (comp_algorithm, mem_limit, ...) are the attribute table
 * below: the daemon shows each as a file and passes reads and writes through.
 *
 * The store never prints and never exits. Functions return 0 (or a count) or
 * -errno.
 */
#ifndef UZRAM_ZRAM_H
#define UZRAM_ZRAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ZRAM_PAGE_SIZE 4096u

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
};

/*
 * zram_create - make an empty store.
 * Returns 0 and *@out, -EINVAL for a zero or too large disksize, an unknown
 * algorithm or bad params, -ENOMEM.
 */
int zram_create(const struct zram_config *config, struct zram **out);

/* zram_destroy - free everything. No other thread may use @z. NULL: no-op. */
void zram_destroy(struct zram *z);

/* zram_disksize - the disk's size in bytes (a multiple of 4 KiB). */
uint64_t zram_disksize(const struct zram *z);

/*
 * zram_read - read @len bytes at byte offset @off, any alignment.
 * Returns the bytes read: @len, fewer if the range runs past the end of the
 * disk, 0 at or past the end; -EIO if a page fails to decompress
 * (failed_reads counts it).
 */
ssize_t zram_read(struct zram *z, void *buf, size_t len, uint64_t off);

/*
 * zram_write - write @len bytes at byte offset @off, any alignment.
 * Returns @len; or, when a page fails part way, the bytes written before it
 * if any, else: -ENOSPC if the range runs past the end of the disk (nothing is
 * written; invalid_io counts it) or the memory limit is reached
 * (failed_writes counts it; that page keeps its old content), -ENOMEM.
 */
ssize_t zram_write(struct zram *z, const void *buf, size_t len, uint64_t off);

/*
 * zram_discard - free every whole page in [@off, @off + @len) and zero the
 * partial pages at its ends. Returns 0, or -EINVAL if the range runs past the
 * end of the disk (nothing changed). Zeroing a partial end page is a
 * read-modify-write, so it can also fail as zram_write() does (-ENOSPC at the
 * memory limit, -ENOMEM, -EIO): whole pages before it are already freed.
 */
int zram_discard(struct zram *z, uint64_t off, uint64_t len);

/*
 * zram_write_zeroes - make [@off, @off + @len) read as zeros, storing whole
 * pages as same-filled (no pool memory). Returns as zram_discard().
 */
int zram_write_zeroes(struct zram *z, uint64_t off, uint64_t len);

/* zram_flush - nothing is buffered: succeeds at once. Returns 0. */
int zram_flush(struct zram *z);

/*
 * zram_open_get / zram_open_put - count users of the disk (the daemon calls
 * them on open/release of disk.img). `reset` is refused with -EBUSY while the
 * count is above zero, as zram refuses it while the block device is open.
 */
void zram_open_get(struct zram *z);
void zram_open_put(struct zram *z);

/*
 * zram_open_count - the current count. Lock-free, so a signal handler may
 * call it (the daemon refuses a first SIGTERM while the disk is in use).
 */
long zram_open_count(struct zram *z);

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
};

void zram_stats_get(struct zram *z, struct zram_stats *stats);

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
const struct zram_attr *zram_attrs(size_t *count);

/* zram_attr_find - the attribute named @name, or NULL. */
const struct zram_attr *zram_attr_find(const char *name);

#endif
