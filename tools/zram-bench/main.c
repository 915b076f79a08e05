/*
 * zram-bench - MB/s of uzram's block store on real data.
 *
 *   zram-bench [--dir DIR] [--max-mb N] [--threads N] [--repeat N] [--zram]
 *              [--json FILE] [--codec NAME] [--dedup] [--level N]
 *
 * Loads up to --max-mb (default 256) MiB of 4 KiB pages from the files under
 * DIR (default /usr; a file's last page is zero-padded), then for each codec
 * (lz4, lz4hc, zstd) and 1..N threads (default 2) measures store writes and
 * reads (zram_write/zram_read, one page each) next to the raw codec on the
 * same pages in the same run; the ratio column is store / raw speed. With
 * --zram, kernel zram on /dev/zram0 (lz4, O_DIRECT 4 KiB) as the anchor.
 * --codec runs one codec only; --dedup makes the store deduplicate (the
 * pages of real trees hold some duplicates: the figure is dedup's cost net
 * of what it saves on them). --level sets the codec level of the store
 * (algorithm_params level=N) and of the raw runs (lz4: acceleration).
 * Next to MB/s (wall time), every row gives MB per CPU second of the
 * process (w/cpu, r/cpu): what one core does, which a shared machine's load
 * changes far less than it changes wall-clock speed.
 * Each figure is the best of --repeat (default 2) runs, since the machine
 * may be shared; the load average is printed with the data.
 * A benchmark, not a test: it prints numbers.
 */
#define _XOPEN_SOURCE 700
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void row_print(const struct result *r, const struct result *raw)
{
	printf("%-12s %-6s %2d %9.1f %9.1f %7.1f %7.1f", r->what, r->codec,
	       r->threads, r->write_mbs, r->read_mbs, r->write_cpu_mbs,
	       r->read_cpu_mbs);
	if (raw)
		printf(" %6.2f %6.2f", r->write_mbs / raw->write_mbs,
		       r->read_mbs / raw->read_mbs);
	else
		printf(" %6s %6s", "-", "-");
	printf(" %6.2f %10.1f %7llu %7llu %s\n",
	       r->compr ? (double)r->orig / (double)r->compr : 0.0,
	       (double)r->mem / (1 << 20), (unsigned long long)r->same,
	       (unsigned long long)r->huge, r->verified ? "ok" : "MISMATCH");
}

static void json_print(FILE *f, const struct result *r, size_t n,
		       const struct pages *p)
{
	size_t i;

	fprintf(f, "{\n  \"pages\": %zu,\n  \"files\": %zu,\n  \"runs\": [\n",
		p->count, p->files);
	for (i = 0; i < n; i++)
		fprintf(f,
			"    {\"what\": \"%s\", \"codec\": \"%s\", "
			"\"threads\": %d, \"write_mbs\": %.1f, "
			"\"read_mbs\": %.1f, \"write_cpu_mbs\": %.1f, "
			"\"read_cpu_mbs\": %.1f, \"orig_bytes\": %llu, "
			"\"compr_bytes\": %llu, \"mem_used_total\": %llu, "
			"\"same_pages\": %llu, \"huge_pages\": %llu, "
			"\"verified\": %s}%s\n",
			r[i].what, r[i].codec, r[i].threads, r[i].write_mbs,
			r[i].read_mbs, r[i].write_cpu_mbs, r[i].read_cpu_mbs,
			(unsigned long long)r[i].orig,
			(unsigned long long)r[i].compr,
			(unsigned long long)r[i].mem,
			(unsigned long long)r[i].same,
			(unsigned long long)r[i].huge,
			r[i].verified ? "true" : "false", i + 1 < n ? "," : "");
	fprintf(f, "  ]\n}\n");
}

/* Keep the better speeds of @r in @best (first run: copy). */
static void best_keep(struct result *best, const struct result *r, int first)
{
	if (first) {
		*best = *r;
		return;
	}
	if (r->write_mbs > best->write_mbs)
		best->write_mbs = r->write_mbs;
	if (r->read_mbs > best->read_mbs)
		best->read_mbs = r->read_mbs;
	if (r->write_cpu_mbs > best->write_cpu_mbs)
		best->write_cpu_mbs = r->write_cpu_mbs;
	if (r->read_cpu_mbs > best->read_cpu_mbs)
		best->read_cpu_mbs = r->read_cpu_mbs;
	best->verified &= r->verified;
}

static int codec_run(const struct pages *p, const char *codec, int threads,
		     int repeat, struct result *raw, struct result *store)
{
	struct result r;
	int i;

	for (i = 0; i < repeat; i++) {
		if (raw_bench(p, codec, threads, &r))
			return -1;
		best_keep(raw, &r, !i);
		if (store_bench(p, codec, threads, &r))
			return -1;
		best_keep(store, &r, !i);
	}
	return 0;
}

static void load_print(void)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	printf("cpus: %ld, loadavg: %s", sysconf(_SC_NPROCESSORS_ONLN),
	       buf[0] ? buf : "?\n");
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--dir DIR] [--max-mb N] [--threads N] [--repeat N] "
		"[--zram] [--json FILE] [--codec NAME] [--dedup] [--level N]\n",
		argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"max-mb", required_argument, NULL, 'm'},
		{"threads", required_argument, NULL, 't'},
		{"repeat", required_argument, NULL, 'r'},
		{"zram", no_argument, NULL, 'z'},
		{"json", required_argument, NULL, 'j'},
		{"codec", required_argument, NULL, 'c'},
		{"dedup", no_argument, NULL, 'D'},
		{"level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const codecs[] = {"lz4", "lz4hc", "zstd"};
	const char *dir = "/usr", *json = NULL, *only = NULL;
	struct result res[64], raw;
	int c, kz = 0, maxthreads = 2, t, status = 0, repeat = 2, load_err;
	size_t n = 0, max_mb = 256, i;
	struct pages p = {0};

	while ((c = getopt_long(argc, argv, "d:m:t:r:zj:c:Dl:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'm':
			max_mb = strtoul(optarg, NULL, 10);
			break;
		case 't':
			maxthreads = atoi(optarg);
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'z':
			kz = 1;
			break;
		case 'j':
			json = optarg;
			break;
		case 'c':
			only = optarg;
			break;
		case 'D':
			bench_dedup = true;
			break;
		case 'l':
			bench_level = atoi(optarg);
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!max_mb || maxthreads < 1 || maxthreads > 16 || repeat < 1) {
		usage(argv[0]);
		return 2;
	}
	load_err = pages_load(&p, &dir, 1, max_mb);
	if (load_err) {
		fprintf(stderr, "%s: no data under %s: %s\n", argv[0], dir,
			strerror(-load_err));
		return 1;
	}
	printf("data: %zu pages (%.1f MiB) from %zu files under %s\n", p.count,
	       (double)p.count * PAGE / (1 << 20), p.files, dir);
	load_print();
	if (bench_level)
		printf("level: %d\n", bench_level);
	printf("%-12s %-6s %2s %9s %9s %7s %7s %6s %6s %6s %10s %7s %7s %s\n",
	       "what", "codec", "th", "write", "read", "w/cpu", "r/cpu",
	       "w/raw", "r/raw", "ratio", "mem_MiB", "same", "huge", "data");
	printf("%-12s %-6s %2s %9s %9s %7s %7s\n", "", "", "", "MB/s", "MB/s",
	       "MB/cs", "MB/cs");
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (only && strcmp(only, codecs[i]))
			continue;
		for (t = 1; t <= maxthreads; t++) {
			if (codec_run(&p, codecs[i], t, repeat, &raw,
				      &res[n])) {
				fprintf(stderr, "%s: run failed\n", codecs[i]);
				return 1;
			}
			row_print(&raw, NULL);
			row_print(&res[n], &raw);
			status |= !raw.verified || !res[n].verified;
			res[n + 1] = raw;
			n += 2;
		}
	}
	for (t = 1; kz && t <= maxthreads; t++) {
		struct result r;
		int err = 0, k;

		for (k = 0; !err && k < repeat; k++) {
			err = kzram_bench(&p, t, &r);
			if (!err)
				best_keep(&res[n], &r, !k);
		}
		if (err > 0)
			break;
		if (err < 0)
			return 1;
		row_print(&res[n], NULL);
		status |= !res[n].verified;
		n++;
	}
	if (json) {
		FILE *f = fopen(json, "w");

		if (!f) {
			perror(json);
			return 1;
		}
		json_print(f, res, n, &p);
		fclose(f);
	}
	free(p.data);
	return status;
}
