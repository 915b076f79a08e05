#!/usr/bin/env bash
# tools/bench/dedup.sh - memory per stored byte with deduplication, side by
# side in one run (a program that prints numbers, not a test).
#
# Targets, each a fresh instance:
#   zram-lz4          kernel zram on /dev/zram0, lz4 (the anchor; only if
#                     unused: initstate 0, taken under
#                     flock /tmp/uzram-zram0.lock, reset after)
#   uzram-lz4         the daemon, lz4, behind a loop device (--direct-io=on)
#   uzram-lz4-dedup   the same with --dedup
#   uzram-zstd-dedup  zstd (level 3) with --dedup (memory only)
#   uzram-zstd-auto   the same with --policy idle_after=2,interval=1,
#                     auto_dict=on: recorded once the policy settled (a
#                     dictionary trained, idle pages rewritten, compacted)
#   uzram-zstd        zstd (level 3), no dedup, no policy (memory only)
#   uzram-zstd-group  the same with --policy idle_after=2,interval=1,
#                     group=on: recorded once grouping settled (two
#                     samples 3 s apart with the same grouped_pages), then
#                     every file is diffed again (read from the frames)
#   uzram-zstd-full   --dedup --policy idle_after=2,interval=1,auto_dict=on,
#                     group=on (the issue's acceptance line), settled both
#                     ways
#   base-zstd-auto    uzram-zstd-auto run by another daemon, UZRAM_BASE_BIN
#                     (a build of an older commit: a before/after in one
#                     run; only with UZRAM_BASE_BIN set)
#   nbdkit-zstd       nbdkit memory allocator=zstd behind nbdfuse, the peer
#                     (memory only: its RSS is its memory)
# Real data: mkfs.ext4 -b 4096 on the device, copy TREES, sync, drop caches,
# diff every file, record mem_used_total (+ orig/compr, dedup figures, the
# daemon's RSS); then copy TREES a second time into the same file system,
# sync, drop caches, diff, record again ("double copy").
# fio: fresh uzram-lz4 and uzram-lz4-dedup disks side by side, both
# prefilled, then 4 KiB randwrite and randread (libaio, iodepth 16, 2 jobs,
# direct, 50 % compressible refilled buffers: no duplicates, so dedup pays
# its hash and lookup on every page and never wins), alternating the two
# disks run by run, BENCH_REPEAT times (default 3); the median is kept, so
# a burst of load from elsewhere hits both.
#
# Prints a Markdown table with the ratios the issue asks for; writes it to
# $OUT/dedup.md with the raw figures in $OUT/dedup.tsv.
#
# Environment: UZRAM_BIN (default build/release/src/fuse/uzram),
# UZRAM_BASE_BIN (base-zstd-auto only), BENCH_TREES
# (default "/usr/include /usr/lib/gcc /usr/lib/python3 /usr/share/perl"),
# BENCH_DISK (3G), BENCH_AREA (1G), BENCH_RUNTIME (10), BENCH_REPEAT (3),
# BENCH_OUT (build/bench), BENCH_TARGETS (a subset of the targets above;
# default the five without a policy).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TREES=${BENCH_TREES:-/usr/include /usr/lib/gcc /usr/lib/python3 /usr/share/perl}
DISK=${BENCH_DISK:-3G}
AREA=${BENCH_AREA:-1G}
RUNTIME=${BENCH_RUNTIME:-10}
OUT=${BENCH_OUT:-$SRC/build/bench}
UZRAM_BIN=${UZRAM_BIN:-$SRC/build/release/src/fuse/uzram}
UZRAM_BASE_BIN=${UZRAM_BASE_BIN:-}
TARGETS=${BENCH_TARGETS:-zram-lz4 uzram-lz4 uzram-lz4-dedup uzram-zstd-dedup nbdkit-zstd}
REPEAT=${BENCH_REPEAT:-3}
ZRAM=/sys/block/zram0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

CLEANUP=()
cleanup_push() { CLEANUP+=("$1"); }
cleanup_run() {
	local keep=$1 cmd
	while ((${#CLEANUP[@]} > keep)); do
		cmd=${CLEANUP[-1]}
		unset 'CLEANUP[-1]'
		eval "$cmd" || log "cleanup failed: $cmd"
	done
}
trap 'rc=$?; trap - EXIT; cleanup_run 0; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
loop_detach_file() {
	local d
	for d in $(losetup --list -n -O NAME -j "$1" 2>/dev/null); do
		losetup -d "$d"
	done
}
loop_attach() {
	cleanup_push "loop_detach_file '$1'"
	DEV=$(losetup --find --show --direct-io=on "$1")
}
fs_umount() {
	local _
	for _ in $(seq 50); do
		is_mounted "$1" || return 0
		umount "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	umount "$1"
}
fuse_stop() {
	local mp=$1 pid=$2 _
	for _ in $(seq 50); do
		is_mounted "$mp" || break
		fusermount3 -u "$mp" 2>/dev/null && break
		sleep 0.1
	done
	is_mounted "$mp" && fusermount3 -u -z "$mp"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
}
rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
json_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

RES=""
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }

DEV="" PID="" MP="" KIND=""
uzram_up() { # uzram_up DIR ARGS... (BIN: the daemon, default UZRAM_BIN)
	local dir=$1 _
	shift
	MP=$dir/mnt
	mkdir -p "$MP"
	"${BIN:-$UZRAM_BIN}" "$MP" --size "$DISK" -f "$@" >"$dir/daemon.log" 2>&1 &
	PID=$!
	cleanup_push "fuse_stop '$MP' $PID"
	for _ in $(seq 200); do
		is_mounted "$MP" && break
		kill -0 "$PID" 2>/dev/null || die "uzram exited: $(cat "$dir/daemon.log")"
		sleep 0.05
	done
	KIND=uzram
	loop_attach "$MP/disk.img"
}

ZRAM_LOCKED=0
zram_reset() {
	local _
	for _ in $(seq 50); do
		echo 1 >$ZRAM/reset 2>/dev/null && return 0
		sleep 0.1
	done
	echo 1 >$ZRAM/reset
}
zram_up() {
	[ -e $ZRAM ] || modprobe zram 2>/dev/null || true
	[ -e $ZRAM ] || die "no /dev/zram0"
	if [ $ZRAM_LOCKED = 0 ]; then
		exec 9>/tmp/uzram-zram0.lock
		log "waiting for flock /tmp/uzram-zram0.lock"
		flock 9
		ZRAM_LOCKED=1
		cleanup_push "flock -u 9; ZRAM_LOCKED=0"
	fi
	[ "$(cat $ZRAM/initstate)" = 0 ] || die "/dev/zram0 is in use; not touching it"
	cleanup_push zram_reset
	echo lz4 >$ZRAM/comp_algorithm
	echo "$DISK" >$ZRAM/disksize
	DEV=/dev/zram0 KIND=zram PID=""
}

target_up() { # target_up NAME PHASE
	local dir=$WORK/$1.$2
	mkdir -p "$dir"
	DEV="" PID="" MP="" KIND=""
	case $1 in
	zram-lz4) zram_up ;;
	uzram-lz4) uzram_up "$dir" --algo lz4 ;;
	uzram-lz4-dedup) uzram_up "$dir" --algo lz4 --dedup ;;
	uzram-zstd-dedup) uzram_up "$dir" --algo zstd --dedup ;;
	uzram-zstd-auto)
		uzram_up "$dir" --algo zstd --dedup \
			--policy idle_after=2,interval=1,auto_dict=on
		;;
	base-zstd-auto)
		[ -x "$UZRAM_BASE_BIN" ] || die "base-zstd-auto needs UZRAM_BASE_BIN"
		BIN=$UZRAM_BASE_BIN uzram_up "$dir" --algo zstd --dedup \
			--policy idle_after=2,interval=1,auto_dict=on
		;;
	uzram-zstd) uzram_up "$dir" --algo zstd ;;
	uzram-zstd-group)
		uzram_up "$dir" --algo zstd \
			--policy idle_after=2,interval=1,group=on
		;;
	uzram-zstd-full)
		uzram_up "$dir" --algo zstd --dedup \
			--policy idle_after=2,interval=1,auto_dict=on,group=on
		;;
	nbdkit-zstd) nbdkit_up "$dir" ;;
	*) die "unknown target $1" ;;
	esac
}

nbdkit_up() {
	local dir=$1 _
	MP=$dir/nbd.img
	touch "$MP"
	cleanup_push "[ -s '$dir/nbdkit.pid' ] && kill \$(cat '$dir/nbdkit.pid')"
	nbdkit -U "$dir/sock" -P "$dir/nbdkit.pid" memory "size=$DISK" \
		allocator=zstd
	for _ in $(seq 200); do
		[ -s "$dir/nbdkit.pid" ] && [ -S "$dir/sock" ] && break
		sleep 0.05
	done
	PID=$(cat "$dir/nbdkit.pid")
	nbdfuse -P "$dir/nbdfuse.pid" "$MP" --unix "$dir/sock" \
		>"$dir/nbdfuse.log" 2>&1 &
	cleanup_push "fuse_stop '$MP' $!"
	for _ in $(seq 200); do
		is_mounted "$MP" && break
		sleep 0.05
	done
	is_mounted "$MP" || die "nbdfuse did not mount $MP"
	KIND=nbdkit
	loop_attach "$MP"
}

mem_used() {
	case $KIND in
	uzram) json_get "$MP/stats.json" mem_used_total ;;
	zram) awk '{ print $3 }' $ZRAM/mm_stat ;;
	nbdkit) rss_bytes "$PID" ;;
	esac
}

# settle: with a policy, wait (90 s at most) until a dictionary is trained
# and idle pages were rewritten with it and the rewrites stopped (pages are
# idle 2 s after the read-back touched them), then compact.
settle() {
	local n=0 last=-1 cur
	case $1 in
	uzram-zstd-group)
		settle_group "$1"
		return 0
		;;
	uzram-zstd-auto | uzram-zstd-full | base-zstd-auto) ;;
	*) return 0 ;;
	esac
	while ((n < 90)); do
		cur=$(json_get "$MP/stats.json" dict_rewrites)
		if [ "$(json_get "$MP/stats.json" dicts_trained)" -gt 0 ] &&
			[ "$cur" -gt 0 ] && [ "$cur" = "$last" ]; then
			break
		fi
		last=$cur
		sleep 3
		n=$((n + 3))
	done
	echo 1 >"$MP/compact"
	log "$1: settled after ${n}s: $(json_get "$MP/stats.json" dicts_trained) dictionaries, $cur pages rewritten"
	if [ "$1" = uzram-zstd-full ]; then
		settle_group "$1"
	fi
}

# settle_group: wait (180 s at most) until two samples 3 s apart show the
# same grouped_pages (> 0), then compact.
settle_group() {
	local n=0 last=-1 cur
	while ((n < 180)); do
		cur=$(json_get "$MP/stats.json" grouped_pages)
		[ "$cur" -gt 0 ] && [ "$cur" = "$last" ] && break
		last=$cur
		sleep 3
		n=$((n + 3))
	done
	echo 1 >"$MP/compact"
	log "$1: grouping settled after ${n}s: $cur pages in $(json_get "$MP/stats.json" group_objects) frames"
}

# verify FS SUBDIR: every file again, read from the device (after grouping).
verify_trees() {
	local d
	echo 3 >/proc/sys/vm/drop_caches
	for d in $TREES; do
		diff -r --no-dereference "$d" "$1/$2/$d" >/dev/null ||
			die "$d differs after grouping ($2)"
	done
}

# record TARGET SUFFIX: the memory figures now.
record() {
	local t=$1 s=$2 k v
	settle "$t"
	put "$t" "mem$s" "$(mem_used)"
	if [ "$KIND" = uzram ]; then
		for k in orig_data_size compr_data_size dup_pages dup_data_size \
			dedup_objects dedup_meta_size table_bytes dicts_trained \
			dict_rewrites grouped_pages group_objects \
			group_data_size group_meta_size; do
			# an older daemon (UZRAM_BASE_BIN) may not have the key
			v=$(json_get "$MP/stats.json" "$k" 2>/dev/null) || continue
			put "$t" "$k$s" "$v"
		done
		put "$t" "rss$s" "$(rss_bytes "$PID")"
	elif [ "$KIND" = nbdkit ]; then
		put "$t" "rss$s" "$(rss_bytes "$PID")"
	else
		put "$t" "orig_data_size$s" "$(awk '{ print $1 }' $ZRAM/mm_stat)"
		put "$t" "compr_data_size$s" "$(awk '{ print $2 }' $ZRAM/mm_stat)"
	fi
}

copy_trees() { # copy_trees FS SUBDIR
	local d
	for d in $TREES; do
		mkdir -p "$1/$2/$(dirname "$d")"
		cp -a "$d" "$1/$2/$d"
	done
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for d in $TREES; do
		diff -r --no-dereference "$d" "$1/$2/$d" >/dev/null ||
			die "$d differs after read-back from $2"
	done
}

realdata_phase() {
	local t=$1 fs=$WORK/$1.fs depth
	mkdir -p "$fs"
	depth=${#CLEANUP[@]}
	log "$t: mkfs.ext4 -b 4096, copy $TREES"
	mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$DEV"
	cleanup_push "fs_umount '$fs'"
	mount "$DEV" "$fs"
	copy_trees "$fs" one
	record "$t" ""
	case $t in *-group | *-full) verify_trees "$fs" one ;; esac
	log "$t: the same trees again (double copy)"
	copy_trees "$fs" two
	record "$t" _x2
	case $t in *-group | *-full) verify_trees "$fs" two ;; esac
	cleanup_run "$depth"
}

FIO=(--direct=1 --ioengine=libaio --buffer_compress_percentage=50
	--refill_buffers --group_reporting --output-format=json --bs=4k
	--iodepth=16 --numjobs=2 --time_based --runtime="$RUNTIME" --ramp_time=1)
# fio_pair A DEV_A B DEV_B: prefill both, then alternate runs.
fio_pair() {
	local a=$1 da=$2 b=$3 db=$4 rep rw t d
	for d in "$da" "$db"; do
		fio --name=prefill --filename="$d" --size="$AREA" --rw=write \
			--bs=1M --direct=1 --ioengine=libaio --iodepth=8 \
			--buffer_compress_percentage=50 --refill_buffers \
			--output=/dev/null >/dev/null
	done
	for rep in $(seq "$REPEAT"); do
		for rw in randwrite randread; do
			for t in $a $b; do
				# odd runs A first, even runs B first
				if ((rep % 2 == 0)); then
					t=$([ "$t" = "$a" ] && echo "$b" || echo "$a")
				fi
				d=$([ "$t" = "$a" ] && echo "$da" || echo "$db")
				log "$t: $rw run $rep (${RUNTIME}s)"
				fio --name="$rw" --filename="$d" --size="$AREA" \
					--rw="$rw" "${FIO[@]}" \
					--output="$WORK/$t.$rw.$rep.json" >/dev/null
			done
		done
	done
	for t in $a $b; do
		for rw in randwrite randread; do
			put "$t" "${rw}_iops" "$(python3 -c '
import json, statistics, sys
d = sys.argv[1]
v = [json.load(open(p))["jobs"][0][d]["iops"] for p in sys.argv[2:]]
print(round(statistics.median(v)))' "${rw#rand}" "$WORK/$t.$rw".*.json)"
		done
	done
}

[ "$(id -u)" = 0 ] || die "needs root (losetup, mount, /dev/zram0)"
for c in fio losetup mkfs.ext4 fusermount3 python3 flock diff nbdkit nbdfuse; do
	command -v "$c" >/dev/null || die "missing $c (tools/deps.sh)"
done
[ -x "$UZRAM_BIN" ] || die "no daemon at $UZRAM_BIN (cmake --preset release && cmake --build --preset release)"
mkdir -p "$OUT"
RES=$OUT/dedup.tsv
: >"$RES"
WORK=$(mktemp -d /tmp/uzram-dedup-bench.XXXXXX)
cleanup_push "rm -rf '$WORK'"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
data=0
for d in $TREES; do data=$((data + $(du -sb "$d" | cut -f1))); done
put all data_bytes "$data"

for t in $TARGETS; do
	depth=${#CLEANUP[@]}
	target_up "$t" data
	realdata_phase "$t"
	cleanup_run "$depth"
done
has_target() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }
if has_target uzram-lz4 && has_target uzram-lz4-dedup; then
	depth=${#CLEANUP[@]}
	target_up uzram-lz4 fio
	dev_a=$DEV
	target_up uzram-lz4-dedup fio
	fio_pair uzram-lz4 "$dev_a" uzram-lz4-dedup "$DEV"
	cleanup_run "$depth"
fi

python3 - "$RES" "$OUT/dedup.md" "$TREES" "$LOAD0" \
	"$(cut -d' ' -f1-3 /proc/loadavg)" "$(uname -r)" <<'EOF'
import sys, collections, time
res, out, trees, load0, load1, kernel = sys.argv[1:]
f = collections.defaultdict(dict)
for line in open(res):
    t, k, v = line.rstrip("\n").split("\t")
    if v:
        f[t][k] = float(v)
mb = lambda v: f"{v / 1e6:.1f}"
def g(t, k):
    return f.get(t, {}).get(k)
def ratio(a, b):
    return f"{a / b:.3f}" if a is not None and b else "n/a"
L = []
L.append(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, kernel "
         f"{kernel}, load {load0} -> {load1}; trees: {trees} "
         f"({mb(f['all']['data_bytes'])} MB of files), ext4 -b 4096.\n")
L.append("| target | mem_used_total MB | double copy MB | orig MB | compr MB "
         "| dup_pages | dedup meta MB | daemon RSS MB | randwrite IOPS "
         "| randread IOPS |")
L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for t in ("zram-lz4", "uzram-lz4", "uzram-lz4-dedup", "uzram-zstd-dedup",
          "uzram-zstd-auto", "base-zstd-auto", "uzram-zstd",
          "uzram-zstd-group", "uzram-zstd-full", "nbdkit-zstd"):
    if t not in f:
        continue
    x = f[t]
    cell = lambda k, fmt=mb: fmt(x[k]) if k in x else "-"
    L.append(f"| {t} | {cell('mem')} | {cell('mem_x2')} | "
             f"{cell('orig_data_size')} | {cell('compr_data_size')} | "
             f"{cell('dup_pages', lambda v: str(int(v)))} | "
             f"{cell('dedup_meta_size')} | {cell('rss')} | "
             f"{cell('randwrite_iops', lambda v: str(int(v)))} | "
             f"{cell('randread_iops', lambda v: str(int(v)))} |")
d, z, u = "uzram-lz4-dedup", "zram-lz4", "uzram-lz4"
L.append("")
L.append("| figure | measured | target |")
L.append("|---|---:|---:|")
L.append(f"| uzram lz4+dedup mem_used_total / zram lz4 | "
         f"{ratio(g(d, 'mem'), g(z, 'mem'))} | <= 0.93 |")
if g(d, "mem") is not None and g(d, "dedup_meta_size") is not None:
    L.append(f"| (mem_used_total + dedup_meta_size) / zram lz4 | "
             f"{ratio(g(d, 'mem') + g(d, 'dedup_meta_size'), g(z, 'mem'))} | |")
L.append(f"| uzram lz4 (no dedup) / zram lz4 | {ratio(g(u, 'mem'), g(z, 'mem'))} | |")
L.append(f"| double copy: dedup / no dedup | "
         f"{ratio(g(d, 'mem_x2'), g(u, 'mem_x2'))} | <= 0.52 |")
L.append(f"| double copy: dedup / zram lz4 | "
         f"{ratio(g(d, 'mem_x2'), g(z, 'mem_x2'))} | |")
L.append(f"| randwrite IOPS dedup on / off | "
         f"{ratio(g(d, 'randwrite_iops'), g(u, 'randwrite_iops'))} | >= 0.9 |")
L.append(f"| randread IOPS dedup on / off | "
         f"{ratio(g(d, 'randread_iops'), g(u, 'randread_iops'))} | ~1.0 |")
zd, nb = "uzram-zstd-dedup", "nbdkit-zstd"
if "uzram-zstd-auto" in f:
    zd = "uzram-zstd-auto"
L.append(f"| uzram zstd+dedup daemon RSS / nbdkit zstd RSS | "
         f"{ratio(g(zd, 'rss'), g(nb, 'rss'))} | <= 0.85 (asked with auto_dict and group: the full rows) |")
L.append(f"| uzram zstd+dedup mem_used_total / nbdkit zstd RSS | "
         f"{ratio(g(zd, 'mem'), g(nb, 'rss'))} | <= 0.80 (idem) |")
if "base-zstd-auto" in f:
    b = "base-zstd-auto"
    L.append(f"| base (UZRAM_BASE_BIN) zstd+dedup+auto_dict RSS / nbdkit "
             f"zstd RSS | {ratio(g(b, 'rss'), g(nb, 'rss'))} | |")
    L.append(f"| base mem_used_total / nbdkit zstd RSS | "
             f"{ratio(g(b, 'mem'), g(nb, 'rss'))} | |")
zg, zp, zf = "uzram-zstd-group", "uzram-zstd", "uzram-zstd-full"
if zg in f:
    L.append(f"| zstd group=on / zstd page by page: mem_used_total | "
             f"{ratio(g(zg, 'mem'), g(zp, 'mem'))} | |")
    L.append(f"| the same, compr_data_size | "
             f"{ratio(g(zg, 'compr_data_size'), g(zp, 'compr_data_size'))} | |")
    L.append(f"| the same, double copy | "
             f"{ratio(g(zg, 'mem_x2'), g(zp, 'mem_x2'))} | |")
    L.append(f"| grouped pages / frames | {g(zg, 'grouped_pages'):.0f} / "
             f"{g(zg, 'group_objects'):.0f} | |")
if zf in f:
    L.append(f"| zstd --dedup + auto_dict + group: RSS / nbdkit zstd RSS | "
             f"{ratio(g(zf, 'rss'), g(nb, 'rss'))} | <= 0.85 |")
    L.append(f"| zstd --dedup + auto_dict + group: mem_used_total / nbdkit RSS | "
             f"{ratio(g(zf, 'mem'), g(nb, 'rss'))} | <= 0.80 |")
if g(d, "dedup_objects"):
    L.append(f"| dedup index bytes per unique page | "
             f"{g(d, 'dedup_meta_size') / g(d, 'dedup_objects'):.1f} | |")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
log "wrote $OUT/dedup.md and $OUT/dedup.tsv"
