/*
 * codec.c - the codec registry, per-thread streams and dictionaries.
 *
 * A stream (struct zram_stream) is one thread's codec contexts plus its
 * compression buffer, zsmalloc local copy and partial-I/O page. It is made
 * on the thread's first call into the store, kept under a pthread key of the
 * store, and freed by the key's destructor when the thread exits or by
 * zram_destroy(). So no codec work runs under a lock shared by threads and
 * the I/O path never allocates after a thread's first request (a codec's
 * context is made on the thread's first page of that codec). A thread that
 * goes idle may give its stream back early (zram_thread_idle()); its next
 * request makes a new one.
 *
 * Locking: streams_lock (a leaf) guards the list of streams; it is taken
 * when a stream is made or freed, and by zram_dict_retire() (ctrl_lock ->
 * streams_lock) while it waits out the streams' active sections.
 *
 * Dictionaries are immutable once loaded. A replaced one is freed as soon
 * as no thread can use it (zram_dict_retire()): a thread may have read the
 * dict pointer just before it was replaced, but it only dereferences it
 * inside slot_compress()'s active section (st->active odd), after checking
 * it is still current; the retirer, after publishing the new one, waits
 * for every stream that was inside such a section to leave it. Sections
 * are one compression long, with no lock taken inside, so the wait is
 * short and cannot deadlock (it holds streams_lock, which no active
 * section takes). Before, replaced dictionaries (up to 16 MiB each) were
 * kept until the store died.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zram_internal.h"

#define DICT_MAX_BYTES (16u << 20)

static const struct zram_codec_ops *const codecs[ZRAM_CODECS] = {
	[ZRAM_CODEC_LZ4] = &zram_codec_lz4,
	[ZRAM_CODEC_LZ4HC] = &zram_codec_lz4hc,
	[ZRAM_CODEC_ZSTD] = &zram_codec_zstd,
};

const struct zram_codec_ops *zram_codec_get(unsigned int id)
{
	return id < ZRAM_CODECS ? codecs[id] : NULL;
}

/* Returns the id of the codec named @name (@len bytes) or -EINVAL. */
int zram_codec_find(const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < ZRAM_CODECS; i++)
		if (strlen(codecs[i]->name) == len &&
		    !memcmp(codecs[i]->name, name, len))
			return (int)i;
	return -EINVAL;
}

/* Locking: takes streams_lock unless @locked. */
static void stream_free(struct zram_stream *st, bool locked)
{
	struct zram *z = st->z;
	unsigned int i;

	if (!locked)
		pthread_mutex_lock(&z->streams_lock);
	if (st->prev)
		st->prev->next = st->next;
	else
		z->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	atomic_fetch_sub_explicit(&z->nr_streams, 1, memory_order_relaxed);
	if (!locked)
		pthread_mutex_unlock(&z->streams_lock);
	for (i = 0; i < ZRAM_CODECS; i++)
		if (st->ctx[i])
			codecs[i]->ctx_destroy(st->ctx[i]);
	free(st->gbuf); /* slot_group.c's frame buffer */
	free(st);
}

static void stream_key_destructor(void *p)
{
	stream_free(p, false);
}

void zram_thread_idle(struct zram *z)
{
	struct zram_stream *st = pthread_getspecific(z->stream_key);

	zs_pool_drain(z->pool); /* an idle moment for the pool too */
	if (!st)
		return;
	pthread_setspecific(z->stream_key, NULL);
	stream_free(st, false);
}

int zram_streams_init(struct zram *z)
{
	int err = pthread_key_create(&z->stream_key, stream_key_destructor);

	if (err)
		return -err;
	err = pthread_mutex_init(&z->streams_lock, NULL);
	if (err) {
		pthread_key_delete(z->stream_key);
		return -err;
	}
	return 0;
}

/* Locking: no other thread may use @z. */
void zram_streams_destroy(struct zram *z)
{
	pthread_key_delete(z->stream_key);
	pthread_mutex_lock(&z->streams_lock);
	while (z->streams)
		stream_free(z->streams, true);
	pthread_mutex_unlock(&z->streams_lock);
	pthread_mutex_destroy(&z->streams_lock);
}

/* The calling thread's stream, made on first use; NULL if out of memory. */
struct zram_stream *zram_stream_get(struct zram *z)
{
	struct zram_stream *st = pthread_getspecific(z->stream_key);

	if (st)
		return st;
	if (posix_memalign((void **)&st, 4096, sizeof(*st)))
		return NULL;
	memset(st, 0, offsetof(struct zram_stream, cbuf));
	st->z = z;
	if (pthread_setspecific(z->stream_key, st)) {
		free(st);
		return NULL;
	}
	pthread_mutex_lock(&z->streams_lock);
	st->next = z->streams;
	if (st->next)
		st->next->prev = st;
	z->streams = st;
	atomic_fetch_add_explicit(&z->nr_streams, 1, memory_order_relaxed);
	pthread_mutex_unlock(&z->streams_lock);
	return st;
}

/* The stream's context for codec @id, made on first use; NULL: no memory. */
void *zram_stream_ctx(struct zram_stream *st, unsigned int id)
{
	if (!st->ctx[id] && codecs[id]->ctx_create(&st->ctx[id]))
		st->ctx[id] = NULL;
	return st->ctx[id];
}

static int file_read_all(const char *path, void **data, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	size_t done = 0;
	void *buf;
	int err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || !sb.st_size ||
	    (uint64_t)sb.st_size > DICT_MAX_BYTES) {
		err = -EINVAL;
		goto err_close;
	}
	buf = malloc((size_t)sb.st_size);
	err = -ENOMEM;
	if (!buf)
		goto err_close;
	while (done < (size_t)sb.st_size) {
		ssize_t n =
			read(fd, (char *)buf + done, (size_t)sb.st_size - done);

		if (n <= 0) {
			err = n ? -errno : -EIO;
			goto err_free;
		}
		done += (size_t)n;
	}
	close(fd);
	*data = buf;
	*size = done;
	return 0;
err_free:
	free(buf);
err_close:
	close(fd);
	return err;
}

/*
 * zram_dict_load - read the dictionary at @path (a regular file of 1 byte ..
 * 16 MiB) for codec @ops. Returns 0 and *@out, -errno of open/read, -EINVAL
 * (not a regular file, empty, too large, codec refuses it, codec takes no
 * dictionary), -ENOMEM.
 */
int zram_dict_load(const struct zram_codec_ops *ops, const char *path,
		   struct zram_dict **out)
{
	struct zram_dict *d;
	int err;

	if (!ops->dict_prepare)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = file_read_all(path, &d->data, &d->size);
	if (err)
		goto err_free;
	d->ops = ops;
	err = ops->dict_prepare(d);
	if (err)
		goto err_free_data;
	*out = d;
	return 0;
err_free_data:
	free(d->data);
err_free:
	free(d);
	return err;
}

/*
 * zram_dict_retire - free @d, no longer any (priority, codec)'s dictionary
 * (already replaced with seq_cst stores), once no thread is inside an
 * active section that began before the replacement.
 * Locking: ctrl_lock held; takes streams_lock.
 */
void zram_dict_retire(struct zram *z, struct zram_dict *d)
{
	struct zram_stream *st;
	uint64_t v;

	if (!d)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	pthread_mutex_lock(&z->streams_lock);
	for (st = z->streams; st; st = st->next) {
		v = atomic_load_explicit(&st->active, memory_order_seq_cst);
		if (!(v & 1))
			continue; /* a later section sees the new dict */
		while (atomic_load_explicit(&st->active,
					    memory_order_acquire) == v)
			sched_yield();
	}
	pthread_mutex_unlock(&z->streams_lock);
	zram_dict_free(d);
}

/*
 * zram_dict_make - a dictionary of @size bytes at @data (malloc'ed; owned
 * by the dictionary from now on, freed on error too) for codec @ops.
 * Returns 0 and *@out, -EINVAL (codec takes no dictionary or refuses it),
 * -ENOMEM.
 */
int zram_dict_make(const struct zram_codec_ops *ops, void *data, size_t size,
		   struct zram_dict **out)
{
	struct zram_dict *d;
	int err = -EINVAL;

	if (!ops->dict_prepare)
		goto err_data;
	err = -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto err_data;
	d->ops = ops;
	d->data = data;
	d->size = size;
	err = ops->dict_prepare(d);
	if (err) {
		free(d);
		goto err_data;
	}
	*out = d;
	return 0;
err_data:
	free(data);
	return err;
}

void zram_dict_free(struct zram_dict *d)
{
	if (!d)
		return;
	d->ops->dict_release(d);
	free(d->data);
	free(d);
}
