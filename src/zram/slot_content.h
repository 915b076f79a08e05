/*
 * slot_content.h - what a slot holds: the one module that encodes, decodes,
 * installs, frees and walks slot contents (private to src/zram/).
 *
 * Every path that changes or reads what a slot holds goes through these
 * functions: the read/write/discard paths (io.c), idle marking and reset
 * (control.c), writeback (writeback.c), recompression (recompress.c),
 * deduplication, grouped frames (slot_group.c, group_pass.c) and snapshots.
 * Nothing else looks at the SLOT_* content bits or calls zs_free().
 *
 * Kinds of content (slot_kind()), from the flags word:
 *
 *   kind        flags                          handle
 *   EMPTY       size 0, no SAME, no WB         0
 *   SAME        SAME                           the 8-byte fill word
 *   HUGE        HUGE, size 4096                zsmalloc handle (raw page)
 *   COMPRESSED  size 1..4095, codec, prio      zsmalloc handle
 *   WB          WB, size, codec, prio, HUGE?   byte offset on the backing
 *                                              store (packed: the object's
 *                                              bytes exactly as in the pool)
 *   SHARED      SHARED, size, HUGE?, codec,    id of a dedup entry (dedup.c)
 *               prio (all of the object)       that owns the pool object,
 *                                              or a reference to a frame
 *                                              and a member of it
 *   GROUPED     GROUPED, size = its share of   entry id of a grouped frame
 *               the frame (>= 1), codec zstd   (group.h) | position << 32
 *
 * A GROUPED slot holds one reference to its frame's entry (group.c), as a
 * SHARED slot does to its dedup entry; the frame (zstd at the policy's
 * group_level, with the zstd dictionary new writes use if any,
 * GROUP_PAGES_MIN..MAX pages of consecutive slots) is one or more pool
 * objects the entry names (slot_group.c); a frame with a dictionary counts
 * once in params[0][zstd].pages, as a page would, until its last put. Writing or discarding a
 * member drops its reference only: the other members keep reading the same
 * bytes, and the last one to leave frees the frame. Decoding a member
 * decompresses the whole frame into the thread's frame buffer, which stays
 * valid for the frame's other pages: it is keyed by the entry's generation,
 * unique for the table's life, so a freed and reused id never matches.
 * Only the policy pass makes groups (group_pass.c), from idle COMPRESSED
 * slots and SHARED ones (their entry moves into the frame, below); SAME,
 * WB, HUGE and INCOMPRESSIBLE slots are never grouped.
 * Recompression skips GROUPED slots; writeback takes them one member at a
 * time (slot_wb_encode(): the page is compressed again on its own), and
 * the frame goes when its last member has.
 *
 * A SHARED slot holds one reference to its entry; the entry's meta word is
 * the flags its object would have in a slot of its own (SHARED included),
 * so a sharer decodes exactly as a COMPRESSED or HUGE slot would. Writing a
 * sharer installs another object or entry and drops its reference: the
 * other sharers never change (copy-on-write by construction). New writes
 * look for an equal page in the index when dedup is on (slot_codec.dedup);
 * a candidate is shared only after a full byte compare (dedup_same()), so a
 * hash collision can cost a decode, never another page's data. A new object
 * enters the index in slot_obj_commit(), after the dictionary check, so an
 * entry never names an object whose dictionary is being replaced.
 *
 * An entry may hold a frame's member instead of a pool object (meta
 * SHARED | GROUPED | share | zstd; handle as a GROUPED slot's), with one
 * reference to the frame: the grouping pass puts a shared page's entry into
 * a frame for all its sharers at once (slot_shared_group()), and the entry
 * stays in the index, so a later write of the same page still shares it.
 * Its sharers stay SHARED (their flags copy the content bits, never
 * GROUPED); decoding, comparing, writeback and saving look at the entry's
 * meta. The frame counts in compr_data_size once, as for GROUPED slots;
 * the entry counts in dedup_objs and dedup_obj_bytes (its share).
 *
 * A new kind takes one of the reserved bits and a case in every switch of
 * slot_content.c; the slot stays 16 bytes (static assertion in slot.c).
 *
 * Invariants:
 *   - The codec id and priority bits of a COMPRESSED or WB slot name the
 *     (priority, codec) whose parameters (level, dictionary) wrote it:
 *     z->params[prio][codec]. That entry's `pages` counts those slots, so a
 *     dictionary is never replaced while a slot needs it (see io.c).
 *   - Counters (pages_stored, compr_data_size, same_pages, huge_pages,
 *     wb_pages, backing_bytes, params[][].pages) change only in
 *     slot_install() and slot_free() (and slot_wb_install()), under the
 *     slot lock, together with the slot: they are exact whenever read.
 *     A dedup entry's or a grouped frame's object counts in
 *     compr_data_size once, from its creation to its last reference
 *     (slot_dedup_put(), slot_group_new()/slot_group_put()).
 *   - grouped_pages counts GROUPED slots (install/free); group_objs and
 *     group_bytes the live frames (slot_group.c).
 *   - Every pool object, installed or not, is freed by pool_obj_free().
 *   - IDLE and PP are cleared by any access (slot_touch) and by
 *     install/free; a pass that picked a slot (PP) and dropped its lock
 *     re-checks PP and the handle before it changes the slot.
 *
 * Encoding takes the codec and its parameters as an argument (struct
 * slot_codec), so the same encoder serves new writes (priority 0) and
 * recompression (priorities 1..3); slot_codec_get() snapshots them.
 *
 * Locking: functions that take a slot say "slot lock held"; none takes a
 * lock shared by all threads except inside the allocator and the backing
 * store's map lock (a leaf, never held across I/O).
 */
#ifndef UZRAM_SLOT_CONTENT_H
#define UZRAM_SLOT_CONTENT_H

#include "zram_internal.h"

enum slot_kind {
	SLOT_KIND_EMPTY,
	SLOT_KIND_SAME,
	SLOT_KIND_HUGE,
	SLOT_KIND_COMPRESSED,
	SLOT_KIND_WB,
	SLOT_KIND_SHARED,
	SLOT_KIND_GROUPED,
};

/* A codec with the parameters to encode with. */
struct slot_codec {
	unsigned int codec; /* enum zram_codec_id */
	unsigned int prio;  /* 0 .. ZRAM_PRIOS - 1 */
	int level;
	const struct zram_dict *dict;
	uint64_t dict_cur; /* params' `cur` that @dict belongs to */
	bool dedup; /* look for and index equal pages (new writes only) */
};

/* An encoded page, not yet visible in the table. */
struct slot_obj {
	uint64_t handle; /* zsmalloc handle, or the fill word with SLOT_SAME */
	uint32_t flags;	 /* size | SLOT_SAME / SLOT_HUGE | codec | prio */
	const struct zram_dict *dict; /* the dictionary it used, or NULL */
	uint64_t dict_cur;	      /* its params' `cur` when encoded */
	bool shared;   /* handle is an entry id, with a reference taken */
	bool indexed;  /* a new object, to enter the index under @hash */
	uint64_t hash; /* content hash, if @indexed */
};

/* The kind of content @flags describe. */
enum slot_kind slot_kind(uint32_t flags);

/* Codec id, priority and dictionary index bits of @flags. */
unsigned int slot_codec_id(uint32_t flags);
unsigned int slot_prio(uint32_t flags);
unsigned int slot_dict_idx(uint32_t flags);

/* The flag bits of an object compressed with @c (codec, priority, dict). */
uint32_t slot_codec_flags(const struct slot_codec *c);

/*
 * slot_codec_get - the codec and current parameters of priority @prio.
 * Returns 0, or -ENOENT if no codec is set at that priority.
 */
int slot_codec_get(struct zram *z, unsigned int prio, struct slot_codec *out);

/* slot_codec_of - as slot_codec_get() for codec @id at @prio, set or not. */
void slot_codec_of(struct zram *z, unsigned int prio, unsigned int id,
		   struct slot_codec *out);

/*
 * slot_dict_enter - enter @st's active section (st->active odd) and say
 * whether @c's dictionary may be used there: none, or still the current
 * one of (@c->prio, @c->codec). zram_dict_retire() waits for sections that
 * began before a replacement, so a dictionary found current is not freed
 * before slot_dict_leave(), which must follow in every case.
 */
bool slot_dict_enter(struct zram *z, struct zram_stream *st,
		     const struct slot_codec *c);
void slot_dict_leave(struct zram_stream *st);

/*
 * slot_compress - compress one page with @c into @st->cbuf.
 * Returns the compressed length (> 0), or -E2BIG when the codec cannot
 * shrink it below @z->huge_size, -ENOMEM (no codec context), -EAGAIN if
 * @c's dictionary was replaced since slot_codec_get() (get it again).
 * Locking: none taken; may run under a slot lock.
 */
int slot_compress(struct zram *z, struct zram_stream *st,
		  const struct slot_codec *c, const void *page);

/*
 * slot_encode - encode one page into a new unpublished object: the fill
 * word if it is same-filled, else compressed with @c, else raw (HUGE).
 * Returns 0, -ENOSPC (over mem_limit), -ENOMEM, -EAGAIN (as
 * slot_compress: get the codec again and retry).
 * Locking: none taken; may run under a slot lock.
 */
int slot_encode(struct zram *z, struct zram_stream *st,
		const struct slot_codec *c, const void *page,
		struct slot_obj *obj);

/*
 * slot_obj_store - copy @len bytes of @data into a new pool object (with the
 * memory-limit check) and describe it in @obj with @flags (size included).
 * Returns 0, -ENOSPC (over mem_limit), -ENOMEM.
 */
int slot_obj_store(struct zram *z, const void *data, size_t len, uint32_t flags,
		   const struct zram_dict *dict, struct slot_obj *obj);

/*
 * slot_obj_store_smaller - as slot_obj_store() without the mem_limit check,
 * for an object that replaces a larger one (recompression; as zram, the
 * limit applies to writes). Returns 0, -ENOMEM.
 */
int slot_obj_store_smaller(struct zram *z, const void *data, size_t len,
			   uint32_t flags, const struct zram_dict *dict,
			   struct slot_obj *obj);

/*
 * slot_obj_commit - count a compressed @obj against its (priority, codec)
 * dictionary before installing it. Returns 0, or -EAGAIN if the dictionary
 * changed (or is changing) since @obj was encoded: drop it, encode again.
 * Locking: slot lock held.
 */
int slot_obj_commit(struct zram *z, struct slot_obj *obj);

/* slot_obj_drop - free an object that was never installed. */
void slot_obj_drop(struct zram *z, const struct slot_obj *obj);

/*
 * slot_install - replace the slot's content by the committed @obj.
 * Locking: slot lock held.
 */
void slot_install(struct zram *z, struct zram_slot *slot,
		  const struct slot_obj *obj);

/*
 * slot_free - drop the slot's content and its share of every counter; the
 * slot reads as zeros after. Locking: slot lock held.
 */
void slot_free(struct zram *z, struct zram_slot *slot);

/*
 * slot_decode - the page @slot holds into @dst (one page).
 * Returns 0, -EIO if it does not decompress or the backing store fails,
 * -ENOMEM (no codec context). Locking: slot lock held; holds the zspage
 * read lock inside, or reads the backing store (its own slot only).
 */
int slot_decode(struct zram *z, struct zram_stream *st, uint64_t index,
		unsigned char *dst);

/* What a page in memory will be on the backing store (slot_wb_encode()). */
struct slot_wb {
	enum slot_kind from; /* the slot's kind when it was encoded */
	uint32_t flags;	     /* content bits on the store (size, codec, ...) */
	uint32_t len;	     /* bytes on the store (= the size bits) */
	bool dict_ref; /* this copy holds its own count on its dictionary */
};

/* slot_wb_takes - can a slot of kind @k go to the backing store? */
bool slot_wb_takes(enum slot_kind k);

/*
 * slot_wb_encode - the bytes @slot's page will have on the backing store,
 * into @st->cbuf, described in *@wb:
 *   HUGE, COMPRESSED  the pool object as it is;
 *   SHARED            the entry's object, a copy for this sharer alone
 *                     (the other sharers keep the entry; its object goes
 *                     with the last of them, as on any put);
 *   GROUPED           the page decoded from its frame and compressed again
 *                     with the primary codec (raw if that does not shrink
 *                     it): a frame cannot be split on the store, and its
 *                     other members may stay hot.
 * A SHARED or GROUPED copy that is not raw counts against its dictionary
 * from here (wb->dict_ref), so the dictionary outlives the batch write:
 * slot_wb_install() hands the count to the slot, slot_wb_abandon() gives it
 * back. Returns 0, -ENOMEM (no codec context), -EIO (the frame does not
 * decode). Locking: slot lock held; zspage read lock inside.
 */
int slot_wb_encode(struct zram *z, struct zram_stream *st,
		   struct zram_slot *slot, struct slot_wb *wb);

/* slot_wb_abandon - an encoded copy that did not reach the slot. */
void slot_wb_abandon(struct zram *z, const struct slot_wb *wb);

/*
 * slot_wb_install - the copy @wb of the slot's page now lives at byte @off
 * of the backing store: the slot gives up its memory (frees its object,
 * drops its entry's or frame's reference) and becomes WB. Clears IDLE and
 * PP. Returns the pool bytes that went (0 for a sharer whose entry others
 * still hold; a member's share for GROUPED).
 * Locking: slot lock held; the slot still holds what @wb was encoded from
 * (PP kept since, and of kind wb->from).
 */
uint64_t slot_wb_install(struct zram *z, struct zram_slot *slot, uint64_t off,
			 const struct slot_wb *wb);

/*
 * slot_shared_rewrite - give the shared object of @slot (SHARED) a new
 * encoding of the same page, for all its sharers at once: @len bytes of
 * @data described by @flags (size, HUGE or codec/priority/dictionary bits
 * of @c; @c NULL for a raw page). The entry keeps its id, hash and
 * sharers; the old object is freed; @slot's own copy of the description
 * follows (the other sharers' copies are hints: their reads use the
 * entry's). @check_limit: held to mem_limit (a new dictionary may not
 * shrink a page), else not (a smaller object, recompression).
 * Returns 0, -ENOSPC, -ENOMEM, -EAGAIN (@c's dictionary changed), -EBUSY
 * (a reader holds the entry: try in a later pass); nothing changed then.
 * Locking: slot lock held; tries the entry's write lock.
 */
int slot_shared_rewrite(struct zram *z, struct zram_slot *slot,
			const void *data, size_t len, uint32_t flags,
			const struct slot_codec *c, bool check_limit);

/*
 * slot_shared_sync - bring @slot's (SHARED) copy of its object's
 * description up to date with its entry (a rewrite through another sharer
 * changed it) and return the slot's flags, with GROUPED if the entry holds
 * a frame's member (not an object of its own: no pass rewrites it).
 * Locking: slot lock held.
 */
uint32_t slot_shared_sync(struct zram *z, struct zram_slot *slot);

/*
 * slot_unshare - if @slot (SHARED) holds the only reference to its entry,
 * make it a plain HUGE or COMPRESSED slot with the entry's object, or a
 * GROUPED one with the entry's frame reference (the entry leaves the
 * index), and return true; else false, nothing changed. So a page nobody
 * shares can be written back like any other.
 * Locking: slot lock held; takes one index stripe lock.
 */
bool slot_unshare(struct zram *z, struct zram_slot *slot);

/*
 * slot_shared_grouped - does the entry of @slot (SHARED) hold a frame's
 * member rather than a pool object? (The slot's own flags never say: they
 * copy the entry's content bits, and GROUPED is a kind, not a content bit.)
 * Locking: slot lock held.
 */
bool slot_shared_grouped(struct zram *z, struct zram_slot *slot);

/*
 * slot_shared_group - the entry of @slot (SHARED, holding a compressed pool
 * object) now holds member @gh (slot_group_handle()) of a frame, whose
 * share is @share, for all its sharers at once: the entry takes a
 * reference to the frame and its object is freed. The entry stays in the
 * index, so a later write of the same page shares the member.
 * Returns 0 or -EBUSY (a reader holds the entry: nothing changed).
 * Locking: slot lock held; tries the entry's write lock.
 */
int slot_shared_group(struct zram *z, struct zram_slot *slot, uint64_t gh,
		      uint32_t share);

/*
 * pool_obj_free - the one place a pool object is freed.
 * Locking: any; takes allocator locks.
 */
void pool_obj_free(struct zram *z, uint64_t handle);

/*
 * slot_dedup_put - drop one reference to dedup entry @id; the last one
 * frees its pool object and the object's share of the counters (returns
 * true then). Locking: any; takes the index's and the allocator's locks.
 */
bool slot_dedup_put(struct zram *z, uint32_t id);

/*
 * slot_group_compress - @npages pages at @src as one zstd frame at @level
 * into @dst (@cap bytes), with the zstd dictionary new writes use, if
 * any, counted for the frame as slot_obj_commit() counts a page's: *@dict
 * is its index + 1 (0: none), a count slot_group_new() takes over.
 * Returns the frame's length, -E2BIG (not under @cap), -EINVAL, -ENOMEM,
 * -EAGAIN (the dictionary kept changing; nothing counted).
 * Locking: none taken; the dictionary is used inside an active section.
 */
int slot_group_compress(struct zram *z, struct zram_stream *st, int level,
			const void *src, unsigned int npages, void *dst,
			size_t cap, unsigned int *dict);

/*
 * Grouped frames (slot_group.c). slot_group_new stores the @len bytes of
 * @frame (@npages pages, compressed with dictionary @dict as
 * slot_group_compress() gave it, whose count it takes over: dropped on
 * failure) as pool objects (not held to mem_limit: it replaces larger
 * objects, as recompression) and makes an entry with one reference.
 * Returns 0 and *@id, -ENOMEM, -ENOSPC (no id left).
 * slot_group_get takes one more reference (the caller holds one);
 * slot_group_put drops one, the last frees the frame and its counters.
 * Locking: any; the table lock and allocator locks inside.
 */
int slot_group_new(struct zram *z, const void *frame, size_t len,
		   unsigned int npages, unsigned int dict, uint32_t *id);
void slot_group_get(struct zram *z, uint32_t id);
void slot_group_put(struct zram *z, uint32_t id);

/* The slot words of member @pos of frame @id, whose share is @share. */
uint64_t slot_group_handle(uint32_t id, unsigned int pos);
uint32_t slot_group_flags(uint32_t share);

/*
 * slot_group_read - the page a GROUPED slot with handle @h holds, into @dst.
 * Returns 0, -EIO (does not decompress), -ENOMEM (no frame buffer or codec
 * context). Locking: the member's slot lock held (its reference keeps the
 * frame); zspage read locks inside.
 */
int slot_group_read(struct zram *z, struct zram_stream *st, uint64_t h,
		    unsigned char *dst);

/*
 * slot_group_encode - member @h of a frame as a page of its own: decoded
 * into @st->page, then compressed with the primary codec and its current
 * dictionary into @st->cbuf (raw, HUGE | 4096, if that does not shrink
 * it). Returns the length with its content bits in *@flags, or -errno
 * (-EIO: the frame does not decode, -ENOMEM). With @count, a compressed
 * copy counts against its dictionary as a new write does (still current
 * after the count, else compressed again), for the caller to hand to a
 * slot or give back; without, the caller keeps the dictionary still (a
 * save holds ctrl_lock). Locking: a reference keeps the frame.
 */
int slot_group_encode(struct zram *z, struct zram_stream *st, uint64_t h,
		      bool count, uint32_t *flags);

/*
 * slot_walk - call @fn for every slot in [@first, @end) that may hold data
 * (its flags word is not 0), in ascending order, without its lock; @fn
 * locks it if it needs to and returns 0 to go on or non-zero to stop (that
 * value is returned). Table pages never touched are skipped unread.
 */
int slot_walk(struct zram *z, uint64_t first, uint64_t end,
	      int (*fn)(struct zram *z, uint64_t index, void *arg), void *arg);

/* The parameters (level, dictionary) of the codec a slot's @flags name. */
struct zram_codec_params *slot_params(struct zram *z, uint32_t flags);

/*
 * slot_copy_object - copy the stored object of slot @index (HUGE,
 * COMPRESSED, SHARED or WB) byte for byte into @dst (its size field's
 * length, at most one page): the snapshot's view of a slot, nothing
 * decompressed. *@flags gets the slot's flags with the description of the
 * bytes copied (for SHARED: its entry's, which a rewrite may have changed
 * since the slot shared it).
 * Returns 0, -EIO (backing store read failed), -EINVAL (no object).
 * Locking: slot lock held.
 */
int slot_copy_object(struct zram *z, struct zram_stream *st, uint64_t index,
		     unsigned char *dst, uint32_t *flags);

/*
 * slot_content_copy - as slot_copy_object() for content given by its
 * @flags and @handle (a slot's, or one a save kept). Locking: the caller
 * owns the content (slot lock held, or kept by snap_cow_keep()).
 */
int slot_content_copy(struct zram *z, struct zram_stream *st, uint32_t flags,
		      uint64_t handle, unsigned char *dst, uint32_t *out_flags);

/*
 * slot_content_drop - free content a save kept (snap_cow_keep()): its
 * object, dedup or frame reference, or backing extent. Its counters went when the
 * slot let it go. Locking: none held; takes what slot_free() would.
 */
void slot_content_drop(struct zram *z, uint32_t flags, uint64_t handle);

/*
 * snap_cow_keep - snapshot.c's copy-on-write hook, called by slot_free()
 * (so by every install and free) before the content goes: while a save
 * runs and has not reached this slot, the save takes the content as it was
 * when the save began (once per slot: SLOT_KEPT) and true is returned when
 * it now owns an object (the caller must not free it). Locking: slot lock
 * held; the save's list lock inside (a leaf).
 */
bool snap_cow_keep(struct zram *z, struct zram_slot *slot);

/* Same-filled test and fill of one page (also used by the tests). */
bool page_same_filled(const unsigned char *p, uint64_t *word);
void page_fill(unsigned char *p, uint64_t word);

#endif
