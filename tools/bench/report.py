#!/usr/bin/env python3
"""Turn tools/bench/run.sh's results.tsv into results.json, results.md and
chart.dat (for chart.gp).

usage: report.py RESULTS.tsv OUTDIR key=value...   (the key=values are the
run's metadata: date, nproc, cpu, kernel, ...)

Every ratio compares figures measured in the same run. A check whose inputs
are missing (target not run, or it failed) is reported as n/a, never PASS.
"""
import json
import sys

ORDER = ["uzram-lz4", "uzram-uring", "uzram-zstd", "uzram-zstd-uring",
         "zram-lz4", "tmpfs-loop", "fuse-null", "nbdkit-zstd"]
FIO = [("seqwrite_mbs", "1M seq write MB/s"),
       ("seqread_mbs", "1M seq read MB/s"),
       ("randread_iops", "4K randread IOPS"),
       ("randwrite_iops", "4K randwrite IOPS")]
MIB = 1 << 20


def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            t, k, v = line.rstrip("\n").split("\t")
            res.setdefault(t, {})[k] = float(v)
    return res


def fmt(v, nd=0):
    if v is None:
        return "–"
    return f"{v:,.{nd}f}"


def mib(v):
    return None if v is None else v / MIB


class Checks:
    def __init__(self, res):
        self.res = res
        self.rows = []

    def get(self, t, k):
        return self.res.get(t, {}).get(k)

    def add(self, name, value, bound, ok, unit=""):
        if value is None:
            verdict = "n/a"
        else:
            verdict = "PASS" if ok else "FAIL"
        self.rows.append({"check": name, "measured": value, "bound": bound,
                          "unit": unit, "result": verdict})

    def ratio(self, name, t, k, ref, rk, minimum):
        a, b = self.get(t, k), self.get(ref, rk)
        r = a / b if a is not None and b else None
        self.add(name, r, f">= {minimum}x", r is not None and r >= minimum,
                 "x")

    def ratio_max(self, name, a, b, maximum):
        r = a / b if a is not None and b else None
        self.add(name, r, f"<= {maximum}x", r is not None and r <= maximum,
                 "x")


def checks(res):
    c = Checks(res)
    u, z, n, k = "uzram-lz4", "zram-lz4", "fuse-null", "nbdkit-zstd"
    c.ratio("4K randread IOPS uzram-lz4 / null", u, "randread_iops", n,
            "randread_iops", 0.75)
    c.ratio("4K randwrite IOPS uzram-lz4 / null", u, "randwrite_iops", n,
            "randwrite_iops", 0.6)
    r = "uzram-uring"
    c.ratio("4K randread IOPS uzram-uring / uzram-lz4 (dev)", r,
            "randread_iops", u, "randread_iops", 1.4)
    c.ratio("4K randread IOPS uzram-uring / null (dev)", r, "randread_iops",
            n, "randread_iops", 1.3)
    c.ratio("4K randwrite IOPS uzram-uring / uzram-lz4 (dev)", r,
            "randwrite_iops", u, "randwrite_iops", 1.3)
    c.ratio("1M seq write MB/s uzram-uring / uzram-lz4 (dev)", r,
            "seqwrite_mbs", u, "seqwrite_mbs", 1.0)
    c.ratio("1M seq read MB/s uzram-uring / uzram-lz4 (dev)", r,
            "seqread_mbs", u, "seqread_mbs", 1.0)
    c.ratio("1M seq write MB/s uzram-lz4 / zram-lz4", u, "seqwrite_mbs", z,
            "seqwrite_mbs", 0.8)
    c.ratio("1M seq read MB/s uzram-lz4 / zram-lz4", u, "seqread_mbs", z,
            "seqread_mbs", 0.5)
    for t in ("uzram-lz4", "uzram-zstd", "uzram-zstd-uring"):
        for key, label in FIO + [("compact_iops", "4K randread+compact IOPS")]:
            c.ratio(f"{label} {t} / nbdkit-zstd", t, key, k, key, 3.0)
    c.ratio_max("real trees mem_used_total uzram-lz4 / zram-lz4",
                c.get(u, "mem_bytes"), c.get(z, "mem_bytes"), 1.02)
    for t in ("uzram-lz4", "uzram-zstd"):
        rss, mem, tab = (c.get(t, "rss"), c.get(t, "mem_bytes"),
                         c.get(t, "table_bytes"))
        bound = None if None in (mem, tab) else mem + 16 * MIB + tab
        c.add(f"{t} RSS after real data (MiB) <= mem_used_total + 16 MiB "
              f"+ table_bytes", mib(rss),
              None if bound is None else f"<= {bound / MIB:.1f}",
              rss is not None and bound is not None and rss <= bound, "MiB")
    c.ratio_max("real trees RSS uzram-zstd / nbdkit-zstd RSS",
                c.get("uzram-zstd", "rss"), c.get(k, "mem_bytes"), 1.0)
    for t in ("uzram-lz4", "uzram-zstd"):
        before, after = c.get(t, "mem_bytes"), c.get(t, "mem_after_discard")
        r = after / before if before and after is not None else None
        c.add(f"{t} mem_used_total after blkdiscard / before", r,
              "<= 0.02", r is not None and r <= 0.02, "x")
        s, b, a, tab = (c.get(t, "rss_start"), c.get(t, "rss"),
                        c.get(t, "rss_after_discard"), c.get(t, "table_bytes"))
        r = a / b if None not in (b, a) and b else None
        c.add(f"{t} RSS after blkdiscard / before", r, "<= 0.02",
              r is not None and r <= 0.02, "x")
        # For the why: what is left above the idle daemon once the slot
        # table (resident once touched, like zram's vmalloc'ed table) is
        # set aside, as a share of the RSS the data added.
        r = ((a - s - tab) / (b - s)
             if None not in (s, b, a, tab) and b > s else None)
        c.add(f"{t} (info) RSS left after blkdiscard, less start RSS and "
              f"table_bytes / RSS growth from data", r, "<= 0.02",
              r is not None and r <= 0.02, "x")
    for t in ORDER:
        s, idle, secs = (c.get(t, "rss_start"), c.get(t, "rss_idle"),
                         c.get(t, "rss_idle_s"))
        if idle is None:
            continue
        c.add(f"{t} RSS idle after blkdiscard (took {secs:.0f} s, at most "
              f"30) - RSS at start (MiB)", mib(idle - s), "<= 2",
              idle - s <= 2 * MIB and secs <= 30, "MiB")
    c.ratio_max("4K randread p99 while compacting / without, uzram-lz4",
                c.get(u, "compact_p99_us"), c.get(u, "randread_p99_us"), 1.5)
    for t in ORDER:
        ratios = pair_ratios(res, t)
        if ratios:
            ok = sum(r <= PAIR_BOUND for r in ratios)
            c.add(f"4K randread p99 while compacting / without, {t}: pairs "
                  f"within {PAIR_BOUND}x (worst {max(ratios):.2f}x)", ok,
                  f"{len(ratios)} of {len(ratios)}", ok == len(ratios))
    return c.rows


# BENCH_COMPACT_PAIRS: each pair's p99 while compacting / without
PAIR_BOUND = 1.2


def pair_ratios(res, t):
    r = res.get(t, {})
    out = []
    for i in range(1, int(r.get("pairs", 0)) + 1):
        on, off = r.get(f"pair{i}_on_p99_us"), r.get(f"pair{i}_off_p99_us")
        if on is not None and off:
            out.append(on / off)
    return out


def table_pairs(res, targets):
    head = ["target", "pair", "IOPS without / with", "p99 µs without",
            "p99 µs with compact", "ratio", "compactions", "pages freed"]
    rows = []
    for t in targets:
        g = res[t].get
        for i in range(1, int(g("pairs", 0)) + 1):
            on, off = g(f"pair{i}_on_p99_us"), g(f"pair{i}_off_p99_us")
            rows.append([t, str(i),
                         f"{fmt(g(f'pair{i}_off_iops'))} / "
                         f"{fmt(g(f'pair{i}_on_iops'))}",
                         fmt(off, 1), fmt(on, 1),
                         f"{on / off:.2f}" if on is not None and off else "–",
                         fmt(g(f"pair{i}_compactions")),
                         fmt(g(f"pair{i}_compact_pages"))])
    return md(head, rows) if rows else ""


def table_abs(res, targets):
    head = ["target"] + [l for _, l in FIO] + [
        "randread p50/p99 µs", "randread+compact p50/p99 µs",
        "copy s", "read-back s", "memory MiB", "RSS MiB",
        "after discard MiB (mem / RSS)"]
    rows = []
    for t in targets:
        r = res[t]
        g = r.get
        rows.append([t] + [fmt(g(k)) for k, _ in FIO] + [
            f"{fmt(g('randread_p50_us'), 1)} / {fmt(g('randread_p99_us'), 1)}",
            f"{fmt(g('compact_p50_us'), 1)} / {fmt(g('compact_p99_us'), 1)}",
            fmt(g("copy_s"), 1), fmt(g("readback_s"), 1),
            fmt(mib(g("mem_bytes")), 1), fmt(mib(g("rss")), 1),
            f"{fmt(mib(g('mem_after_discard')), 1)} / "
            f"{fmt(mib(g('rss_after_discard')), 1)}"])
    return md(head, rows)


def table_ratio(res, targets, base):
    if base not in res:
        return ""
    keys = FIO + [("compact_iops", "4K randread+compact IOPS"),
                  ("mem_bytes", "memory (lower is better)")]
    head = ["target"] + [l for _, l in keys]
    rows = []
    for t in targets:
        row = [t]
        for k, _ in keys:
            a, b = res[base].get(k), res[t].get(k)
            row.append(f"{a / b:.2f}" if a is not None and b else "–")
        rows.append(row)
    return md(head, rows)


def md(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    meta = dict(a.split("=", 1) for a in sys.argv[3:])
    res = load(path)
    targets = [t for t in ORDER if t in res]
    rows = checks(res)
    with open(f"{outdir}/results.json", "w") as f:
        json.dump({"meta": meta, "targets": res, "checks": rows}, f,
                  indent=1)
    lines = [f"Run {meta.get('date', '')}: {meta.get('nproc', '?')} CPUs "
             f"({meta.get('cpu', '?')}), kernel {meta.get('kernel', '?')}, "
             f"{meta.get('fio', '')}; fio {meta.get('runtime', '?')} s per "
             f"run (median of {meta.get('repeat', '1')}) over {meta.get('area', '?')} of a {meta.get('disk', '?')} "
             f"disk; real data: {meta.get('trees', '')}. Load average "
             f"(1/5/15 min) at start {meta.get('load_start', '?')}, at end "
             f"{meta.get('load_end', '?')}"
             + (f"; daemon args: {meta['uzram_args']}"
                if meta.get("uzram_args") else "") + ".", "",
             "Absolute figures (memory: pool mem_used_total for uzram and "
             "zram, server RSS for nbdkit, allocated file blocks for tmpfs; "
             "RSS: the daemon's VmRSS):", "", table_abs(res, targets),
             "Ratios, uzram-lz4 ÷ target (same run; memory: lower is "
             "better for uzram):", "",
             table_ratio(res, targets, "uzram-lz4")]
    pairs = table_pairs(res, targets)
    if pairs:
        lines += ["Compaction pairs (BENCH_COMPACT_PAIRS): each pair rewrites "
                  "the area, trims half of it, then reads without and with "
                  "`compact` looping:", "", pairs]
    lines += ["Targets:", ""]
    trows = []
    for r in rows:
        v = r["measured"]
        trows.append([r["check"], "–" if v is None else
                      str(v) if isinstance(v, int) else f"{v:.3f}",
                      str(r["bound"]), r["result"]])
    lines.append(md(["check", "measured", "bound", "result"], trows))
    with open(f"{outdir}/results.md", "w") as f:
        f.write("\n".join(lines))
    # chart.dat: one row per workload, MB/s per target (4K IOPS -> MB/s).
    with open(f"{outdir}/chart.dat", "w") as f:
        f.write("workload " + " ".join(targets) + "\n")
        for key, label, scale in (("seqwrite_mbs", "seq-write-1M", 1),
                                  ("seqread_mbs", "seq-read-1M", 1),
                                  ("randread_iops", "randread-4K", 4096e-6),
                                  ("randwrite_iops", "randwrite-4K", 4096e-6),
                                  ("compact_iops", "randread+compact",
                                   4096e-6)):
            vals = [res[t].get(key) for t in targets]
            f.write(label + " " + " ".join(
                "0" if v is None else f"{v * scale:.1f}" for v in vals)
                + "\n")


if __name__ == "__main__":
    main()
