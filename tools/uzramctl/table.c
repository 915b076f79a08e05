/*
 * table.c - zramctl's status output for uzram disks: columns, human sizes,
 * the aligned table, --raw and --json.
 *
 * Column names, default set and formats follow zramctl (util-linux): sizes
 * are printed like util-linux's size_to_human_string() ("1.2G", "500M",
 * "0B") unless --bytes; --json uses libsmartcols' shape with the column
 * names in lower case, counts as numbers and sizes as numbers only with
 * --bytes (as strings otherwise).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "uzramctl.h"

enum col_type { COL_STR, COL_SIZE, COL_COUNT, COL_RATIO };

enum col_id {
	COL_NAME,
	COL_ALGORITHM,
	COL_DISKSIZE,
	COL_DATA,
	COL_COMPR,
	COL_TOTAL,
	COL_STREAMS,
	COL_MOUNTPOINT,
	COL_COMPRATIO,
	COL_MEMLIMIT,
	COL_MEMUSED,
	COL_ZEROPAGES,
	COL_MIGRATED,
	COL_HUGEPAGES,
	COL_IDLEPAGES,
	COL_DEDUP,
	COL_GROUPED,
	COL_WBPAGES,
	COL_BACKING,
	COL_BACKINGUSED,
	COL_COUNT_ALL
};

static const struct column {
	const char *name;
	const char *help;
	enum col_type type;
} columns[COL_COUNT_ALL] = {
	[COL_NAME] = {"NAME", "loop device on the disk (or its image)",
		      COL_STR},
	[COL_ALGORITHM] = {"ALGORITHM", "the selected compression algorithm",
			   COL_STR},
	[COL_DISKSIZE] = {"DISKSIZE",
			  "limit on the uncompressed amount of data", COL_SIZE},
	[COL_DATA] = {"DATA", "uncompressed size of stored data", COL_SIZE},
	[COL_COMPR] = {"COMPR", "compressed size of stored data", COL_SIZE},
	[COL_TOTAL] = {"TOTAL",
		       "all memory including allocator fragmentation "
		       "and metadata overhead",
		       COL_SIZE},
	[COL_STREAMS] = {"STREAMS", "number of daemon worker threads",
			 COL_COUNT},
	[COL_MOUNTPOINT] = {"MOUNTPOINT", "where the uzram disk is mounted",
			    COL_STR},
	[COL_COMPRATIO] = {"COMP-RATIO", "compression ratio: DATA/COMPR",
			   COL_RATIO},
	[COL_MEMLIMIT] = {"MEM-LIMIT",
			  "memory limit used to store compressed "
			  "data",
			  COL_SIZE},
	[COL_MEMUSED] = {"MEM-USED",
			 "peak memory used to store compressed "
			 "data (mem_used_max)",
			 COL_SIZE},
	[COL_ZEROPAGES] = {"ZERO-PAGES",
			   "same-filled pages with no allocated "
			   "memory",
			   COL_COUNT},
	[COL_MIGRATED] = {"MIGRATED", "pages freed by compaction", COL_COUNT},
	[COL_HUGEPAGES] = {"HUGE-PAGES", "incompressible pages stored raw",
			   COL_COUNT},
	[COL_IDLEPAGES] = {"IDLE-PAGES", "pages marked idle", COL_COUNT},
	[COL_DEDUP] = {"DEDUP",
		       "compressed bytes not stored thanks to "
		       "deduplication (dup_data_size)",
		       COL_SIZE},
	[COL_GROUPED] = {"GROUPED",
			 "pages stored in grouped frames of cold pages "
			 "(grouped_pages)",
			 COL_COUNT},
	[COL_WBPAGES] = {"WB-PAGES", "pages written back to the backing store",
			 COL_COUNT},
	[COL_BACKING] = {"BACKING", "compressed bytes on the backing store",
			 COL_SIZE},
	[COL_BACKINGUSED] = {"BACKING-USED",
			     "backing store blocks in use (packed)", COL_SIZE},
};

static const int default_cols[] = {COL_NAME,	COL_ALGORITHM, COL_DISKSIZE,
				   COL_DATA,	COL_COMPR,     COL_TOTAL,
				   COL_STREAMS, COL_MOUNTPOINT};

void table_default_columns(struct table_opts *o)
{
	size_t i;

	o->ncols = 0;
	for (i = 0; i < sizeof(default_cols) / sizeof(default_cols[0]); i++)
		o->cols[o->ncols++] = default_cols[i];
}

void table_all_columns(struct table_opts *o)
{
	int i;

	for (i = 0; i < COL_COUNT_ALL; i++)
		o->cols[i] = i;
	o->ncols = COL_COUNT_ALL;
}

static int column_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < COL_COUNT_ALL; i++)
		if (strlen(columns[i].name) == len &&
		    !strncasecmp(columns[i].name, name, len))
			return i;
	return -1;
}

int table_set_columns(struct table_opts *o, const char *list)
{
	const char *p = list, *e;
	int id;

	if (*p == '+') {
		table_default_columns(o);
		p++;
	} else {
		o->ncols = 0;
	}
	for (; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ',');
		id = column_find(p, (size_t)(e - p));
		if (id < 0) {
			fprintf(stderr, "uzramctl: unknown column: %.*s\n",
				(int)(e - p), p);
			return -EINVAL;
		}
		if (o->ncols == (int)(sizeof(o->cols) / sizeof(o->cols[0]))) {
			fprintf(stderr, "uzramctl: too many columns\n");
			return -EINVAL;
		}
		o->cols[o->ncols++] = id;
	}
	if (!o->ncols) {
		fprintf(stderr, "uzramctl: no columns in '%s'\n", list);
		return -EINVAL;
	}
	return 0;
}

void table_help_columns(FILE *f)
{
	int i;

	fprintf(f, "\nAvailable output columns:\n");
	for (i = 0; i < COL_COUNT_ALL; i++)
		fprintf(f, " %11s  %s\n", columns[i].name, columns[i].help);
}

/* util-linux's size_to_human_string(SIZE_SUFFIX_1LETTER). */
static void size_human(uint64_t bytes, char *buf, size_t size)
{
	static const char letters[] = "BKMGTPE";
	uint64_t dec, frac;
	int exp = 0;

	while (exp < 60 && bytes >= (1ULL << (exp + 10)))
		exp += 10;
	dec = exp ? bytes >> exp : bytes;
	frac = exp ? bytes & ((1ULL << exp) - 1) : 0;
	if (frac) {
		if (frac >= UINT64_MAX / 1000)
			frac = ((frac / 1024) * 1000) >> (exp - 10);
		else
			frac = (frac * 1000) >> exp;
		frac = (frac + 50) / 100; /* one digit, rounded */
		if (frac == 10) {
			dec++;
			frac = 0;
		}
	}
	if (frac)
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c", dec, frac,
			 letters[exp / 10]);
	else
		snprintf(buf, size, "%" PRIu64 "%c", dec, letters[exp / 10]);
}

static uint64_t cell_u64(const struct disk *d, int id)
{
	switch (id) {
	case COL_DISKSIZE:
		return d->disksize;
	case COL_DATA:
		return d->mm[MM_ORIG_DATA_SIZE];
	case COL_COMPR:
		return d->mm[MM_COMPR_DATA_SIZE];
	case COL_TOTAL:
		return d->mm[MM_MEM_USED_TOTAL];
	case COL_STREAMS:
		return d->threads;
	case COL_MEMLIMIT:
		return d->mm[MM_MEM_LIMIT];
	case COL_MEMUSED:
		return d->mm[MM_MEM_USED_MAX];
	case COL_ZEROPAGES:
		return d->mm[MM_SAME_PAGES];
	case COL_MIGRATED:
		return d->mm[MM_PAGES_COMPACTED];
	case COL_HUGEPAGES:
		return d->mm[MM_HUGE_PAGES];
	case COL_IDLEPAGES:
		return d->idle_pages;
	case COL_DEDUP:
		return d->dup_data_size;
	case COL_GROUPED:
		return d->grouped_pages;
	case COL_WBPAGES:
		return d->wb_pages;
	case COL_BACKING:
		return d->backing_bytes;
	case COL_BACKINGUSED:
		return d->backing_used;
	}
	return 0;
}

/*
 * The text of one cell into @buf; returns true when it is a JSON number
 * (counts, ratios, and sizes with --bytes).
 */
static bool cell_format(const struct table_opts *o, const struct disk *d,
			int id, char *buf, size_t size)
{
	const struct column *c = &columns[id];
	uint64_t orig, compr;

	switch (id) {
	case COL_NAME:
		snprintf(buf, size, "%s",
			 d->loopdev[0] ? d->loopdev : d->image);
		return false;
	case COL_ALGORITHM:
		snprintf(buf, size, "%s", d->algorithm);
		return false;
	case COL_MOUNTPOINT:
		snprintf(buf, size, "%s", d->mountpoint);
		return false;
	case COL_COMPRATIO:
		orig = d->mm[MM_ORIG_DATA_SIZE];
		compr = d->mm[MM_COMPR_DATA_SIZE];
		snprintf(buf, size, "%.2f",
			 compr ? (double)orig / (double)compr : 0.0);
		return true;
	}
	if (c->type == COL_SIZE && !o->bytes) {
		size_human(cell_u64(d, id), buf, size);
		return false;
	}
	snprintf(buf, size, "%" PRIu64, cell_u64(d, id));
	return true;
}

#define CELL_MAX (PATH_MAX + 64)

static void print_escaped_raw(FILE *f, const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == '\\' ||
		    (unsigned char)*s == 0x7f)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
}

static void print_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void print_lower(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, f);
}

static void table_json(FILE *f, const struct table_opts *o,
		       const struct disk *d, int n)
{
	char cell[CELL_MAX];
	bool num;
	int i, c;

	fprintf(f, "{\n   \"uzramdevices\": [");
	for (i = 0; i < n; i++) {
		fprintf(f, "%s\n      {", i ? "," : "");
		for (c = 0; c < o->ncols; c++) {
			num = cell_format(o, &d[i], o->cols[c], cell,
					  sizeof(cell));
			fprintf(f, "%s\n         \"", c ? "," : "");
			print_lower(f, columns[o->cols[c]].name);
			fprintf(f, "\": ");
			if (num)
				fputs(cell, f);
			else
				print_json_string(f, cell);
		}
		fprintf(f, "\n      }");
	}
	fprintf(f, "%s]\n}\n", n ? "\n   " : "");
}

static void table_raw(FILE *f, const struct table_opts *o, const struct disk *d,
		      int n)
{
	char cell[CELL_MAX];
	int i, c;

	if (!o->noheadings) {
		for (c = 0; c < o->ncols; c++)
			fprintf(f, "%s%s", c ? " " : "",
				columns[o->cols[c]].name);
		fputc('\n', f);
	}
	for (i = 0; i < n; i++) {
		for (c = 0; c < o->ncols; c++) {
			cell_format(o, &d[i], o->cols[c], cell, sizeof(cell));
			if (c)
				fputc(' ', f);
			print_escaped_raw(f, cell);
		}
		fputc('\n', f);
	}
}

static bool column_right(int id)
{
	return columns[id].type != COL_STR;
}

static void table_line(FILE *f, const struct table_opts *o,
		       const char *const *cells, const size_t *width)
{
	int c, last = o->ncols - 1;

	for (c = 0; c < o->ncols; c++) {
		if (column_right(o->cols[c]))
			fprintf(f, "%*s", (int)width[c], cells[c]);
		else if (c == last)
			fputs(cells[c], f);
		else
			fprintf(f, "%-*s", (int)width[c], cells[c]);
		fputc(c == last ? '\n' : ' ', f);
	}
}

static void table_aligned(FILE *f, const struct table_opts *o,
			  const struct disk *d, int n)
{
	size_t width[32] = {0}, len;
	const char *cells[32];
	char *text;
	int i, c;

	text = calloc((size_t)(n + 1) * (size_t)o->ncols, CELL_MAX);
	if (!text) {
		fprintf(stderr, "uzramctl: %s\n", strerror(ENOMEM));
		return;
	}
	for (c = 0; c < o->ncols; c++) {
		snprintf(text + (size_t)c * CELL_MAX, CELL_MAX, "%s",
			 columns[o->cols[c]].name);
		width[c] = o->noheadings ? 0 : strlen(columns[o->cols[c]].name);
	}
	for (i = 0; i < n; i++) {
		for (c = 0; c < o->ncols; c++) {
			char *cell =
				text + ((size_t)(i + 1) * (size_t)o->ncols +
					(size_t)c) *
					       CELL_MAX;

			cell_format(o, &d[i], o->cols[c], cell, CELL_MAX);
			len = strlen(cell);
			if (len > width[c])
				width[c] = len;
		}
	}
	for (i = o->noheadings ? 1 : 0; i <= n; i++) {
		for (c = 0; c < o->ncols; c++)
			cells[c] = text +
				   ((size_t)i * (size_t)o->ncols + (size_t)c) *
					   CELL_MAX;
		table_line(f, o, cells, width);
	}
	free(text);
}

void table_print(FILE *f, const struct table_opts *o, const struct disk *d,
		 int n)
{
	if (o->json)
		table_json(f, o, d, n);
	else if (!n)
		return; /* as zramctl: nothing at all, not even headings */
	else if (o->raw)
		table_raw(f, o, d, n);
	else
		table_aligned(f, o, d, n);
}
