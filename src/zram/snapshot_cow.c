/*
 * snapshot_cow.c - copy-on-write for a running save: writes go on while a
 * save walks the table, and each slot the walk has not reached yet gives
 * its content as it was when the save began to the save, instead of
 * freeing it, the first time it changes.
 *
 * State: struct snap_cow, published in z->cow with the write gate closed
 * (no writer inside) and withdrawn the same way, so a writer that sees it
 * sees it for its whole request.
 *   cursor  slots below it are done: the walk has saved them. The walk
 *           raises it to index + 1 while it holds that slot's lock, so a
 *           writer that holds a slot lock sees either "done" or "not yet"
 *           for the whole of its change.
 *   kept    the contents taken from slots at or past the cursor: (index,
 *           flags, handle), the object owned by the save until it has
 *           copied it (snap_cow_drain()) and dropped it. Unsorted; the walk
 *           drains the entries below its position in index order, so the
 *           file stays in ascending slot order.
 * A slot gives its content once: SLOT_KEPT marks it, survives install and
 * free, and is cleared by the walk when it passes the slot (the walk saves
 * the kept entry, not what the slot holds by then). An empty slot needs no
 * entry, only the mark. If a discard gives a whole table page back, its
 * marks go with it (the words read 0); a later write there keeps "empty"
 * again, which is right: the page was kept or empty already.
 *
 * A table page the walk finds untouched (every slot empty) is passed by
 * raising the cursor over it, then looking at its bit again: a writer that
 * touched it meanwhile may have marked slots (with nothing kept, since they
 * were empty), and the walk clears those marks. Writer: touch, fence, load
 * cursor; walk: store cursor, fence, load touched -- one of them sees the
 * other.
 *
 * Memory: an entry is 24 bytes, made only for slots that change during a
 * save; the writer that makes it allocates (amortised) under kept_lock. If
 * that fails the save is failed (-ENOMEM) and the content is freed as
 * usual.
 *
 * Lock order: slot lock -> kept_lock (a leaf; the walk takes it with no
 * slot lock held).
 */
#include <errno.h>
#include <stdlib.h>

#include "snapshot.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int snap_cow_start(struct zram *z, struct snap_cow **out)
{
	struct snap_cow *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->kept_lock, NULL);
	atomic_store_explicit(&c->kept_min, UINT64_MAX, memory_order_relaxed);
	*out = c;
	(void)z;
	return 0;
}

void snap_cow_free(struct snap_cow *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->kept_lock);
	free(c->kept);
	free(c);
}

/* Locking: c->kept_lock held. */
static int kept_add(struct snap_cow *c, uint64_t index, uint32_t flags,
		    uint64_t handle)
{
	struct snap_kept *k;

	if (c->nkept == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;

		k = realloc(c->kept, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		c->kept = k;
		c->cap = cap;
	}
	k = &c->kept[c->nkept++];
	k->index = index;
	k->flags = flags;
	k->handle = handle;
	if (index < LOAD(c->kept_min))
		atomic_store_explicit(&c->kept_min, index,
				      memory_order_release);
	return 0;
}

bool snap_cow_keep(struct zram *z, struct zram_slot *slot)
{
	struct snap_cow *c =
		atomic_load_explicit(&z->cow, memory_order_acquire);
	uint64_t index = (uint64_t)(slot - z->table);
	uint32_t f = LOAD(slot->flags);
	bool owns = false;
	int err = 0;

	if (!c || (f & SLOT_KEPT))
		return false;
	atomic_thread_fence(memory_order_seq_cst); /* see the top */
	if (index < atomic_load_explicit(&c->cursor, memory_order_seq_cst))
		return false;
	if (slot_kind(f) != SLOT_KIND_EMPTY) {
		pthread_mutex_lock(&c->kept_lock);
		err = kept_add(c, index, f & ~(SLOT_LOCK_BITS | SLOT_KEPT),
			       LOAD(slot->handle));
		if (err && !c->err)
			c->err = err;
		pthread_mutex_unlock(&c->kept_lock);
		owns = !err && slot_kind(f) != SLOT_KIND_SAME;
	}
	if (!err)
		slot_flags_update(slot, 0, SLOT_KEPT);
	return owns;
}

static int kept_cmp(const void *a, const void *b)
{
	const struct snap_kept *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Take the kept entries with index <= @upto, in index order, into *@out
 * (malloc'ed; *@n of them). Locking: takes kept_lock.
 */
int snap_cow_take(struct snap_cow *c, uint64_t upto, struct snap_kept **out,
		  size_t *n)
{
	struct snap_kept *v = NULL;
	uint64_t min = UINT64_MAX;
	size_t i, k = 0, m = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (atomic_load_explicit(&c->kept_min, memory_order_acquire) > upto)
		return 0;
	pthread_mutex_lock(&c->kept_lock);
	for (i = 0; i < c->nkept; i++)
		m += c->kept[i].index <= upto;
	v = malloc(m * sizeof(*v) + 1);
	if (!v) {
		err = -ENOMEM;
		goto out_unlock;
	}
	for (i = 0; i < c->nkept; i++) {
		if (c->kept[i].index <= upto) {
			v[k++] = c->kept[i];
			continue;
		}
		if (c->kept[i].index < min)
			min = c->kept[i].index;
		c->kept[i - k] = c->kept[i];
	}
	c->nkept -= k;
	atomic_store_explicit(&c->kept_min, min, memory_order_release);
out_unlock:
	pthread_mutex_unlock(&c->kept_lock);
	qsort(v, k, sizeof(*v), kept_cmp);
	*out = v;
	*n = k;
	return err;
}

/* The walk passes slot @index: done. Locking: that slot's lock held. */
void snap_cow_pass(struct snap_cow *c, uint64_t index)
{
	atomic_store_explicit(&c->cursor, index + 1, memory_order_seq_cst);
}

/*
 * The walk passes the untouched table page [@first, @end): raise the
 * cursor over it, then clear the marks of writers that raced in (their
 * slots were empty: nothing kept). Locking: none held; takes the slots'.
 */
void snap_cow_skip(struct zram *z, struct snap_cow *c, uint64_t first,
		   uint64_t end)
{
	uint64_t i;

	atomic_store_explicit(&c->cursor, end, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	if (!table_page_touched(z, first / SLOTS_PER_TABLE_PAGE))
		return;
	for (i = first; i < end; i++) {
		struct zram_slot *slot = &z->table[i];

		slot_lock(z, slot);
		if (LOAD(slot->flags) & SLOT_KEPT)
			slot_flags_update(slot, SLOT_KEPT, 0);
		slot_unlock(slot);
	}
}
