#!/usr/bin/env bash
# tools/bench/run.sh - side-by-side benchmark of uzram and its peers.
#
# A program that prints numbers, not a test. One command runs the same
# workloads, in one run, on:
#   uzram-lz4, uzram-zstd  the daemon (FUSE disk.img) behind a loop device,
#                          on /dev/fuse (--transport dev)
#   uzram-zstd-uring       uzram-zstd on FUSE over io_uring (not in the
#                          default set: BENCH_TARGETS)
#   uzram-uring            uzram-lz4 on FUSE over io_uring (--transport uring;
#                          the kernel's enable_uring is turned on for it and
#                          put back after, shared with the e2e tests' count)
#   zram-lz4               kernel zram, /dev/zram0 used directly (the anchor;
#                          only if its initstate is 0; reset before and after)
#   tmpfs-loop             a loop device on a file in a private tmpfs
#   fuse-null              libfuse's null example behind a loop device (the
#                          FUSE-path limit: writes dropped, zeros read)
#   nbdkit-zstd            nbdkit memory allocator=zstd behind nbdfuse (peer)
# Every loop device is attached with --direct-io=on. fio uses --direct=1 and
# 50 % compressible buffers. Workloads: 1 MiB sequential write and read, 4 KiB
# random read and write (2 jobs, iodepth 16, libaio), 4 KiB random read while
# `compact` runs in a loop (targets without compact: plain); then a real-data
# step on a fresh instance: mkfs.ext4, copy real trees, sync, drop caches,
# read back and diff, memory used, blkdiscard, memory left.
#
# Output (in $BENCH_OUT, default build/bench): results.json, results.md (the
# absolute table, ratios and the targets with PASS/FAIL), bench.png, raw/.
#
# Environment:
#   UZRAM_BIN        the daemon (default $UZRAM_BUILD_DIR/src/fuse/uzram,
#                    UZRAM_BUILD_DIR defaulting to build/release)
#   BENCH_TARGETS    subset, space separated (default: all seven)
#   BENCH_RUNTIME    seconds per fio run (default 10)
#   BENCH_REPEAT     runs per figure, the median is kept (default 1)
#   BENCH_UZRAM_ARGS extra daemon options, e.g. "--threads 4"
#   BENCH_COMPACT_SLEEP  seconds between two compactions (default 0: a
#                    tight loop)
#   BENCH_COMPACT_PAIRS  N > 0: only the compaction latency check, N times
#                    on each target with a compact file: rewrite the area,
#                    trim half of it, 4 KiB random read without compaction,
#                    then the same with `compact` in a loop; each pair's p99
#                    ratio is reported (no other workload, no real data)
#   BENCH_AREA       bytes fio touches (default 1G); BENCH_DISK disk size (2G)
#   BENCH_TREES      trees copied in the real-data step
#                    (default "/usr/include /usr/lib/gcc")
#   BENCH_OUT        output directory
#
# Resources are registered for cleanup before they are created and released
# on every exit path (EXIT, INT, TERM); nothing this script did not create is
# ever touched.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
ALL_TARGETS="uzram-lz4 uzram-uring uzram-zstd zram-lz4 tmpfs-loop fuse-null nbdkit-zstd"
TARGETS=${BENCH_TARGETS:-$ALL_TARGETS}
RUNTIME=${BENCH_RUNTIME:-10}
REPEAT=${BENCH_REPEAT:-1}
COMPACT_SLEEP=${BENCH_COMPACT_SLEEP:-0}
COMPACT_PAIRS=${BENCH_COMPACT_PAIRS:-0}
AREA=${BENCH_AREA:-1G}
DISK=${BENCH_DISK:-2G}
TREES=${BENCH_TREES:-/usr/include /usr/lib/gcc}
OUT=${BENCH_OUT:-$SRC/build/bench}
BUILD=${UZRAM_BUILD_DIR:-$SRC/build/release}
UZRAM_BIN=${UZRAM_BIN:-$BUILD/src/fuse/uzram}
NULL_C=/usr/share/doc/libfuse3-dev/examples/null.c

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# ---- cleanup stack ---------------------------------------------------------
# Each entry is a command; they run last-in first-out. A cleanup failure is
# reported but does not stop the others.
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
on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	cleanup_run 0
	exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Detach every loop device backed by $1 (only ever a file we created).
loop_detach_file() {
	local d
	for d in $(losetup --list -n -O NAME -j "$1" 2>/dev/null); do
		losetup -d "$d"
	done
}

# loop_attach FILE: attach with direct I/O; the device goes to DEV. (Not
# called in $(...): its cleanup must land in this shell's stack.)
loop_attach() {
	local file=$1
	cleanup_push "loop_detach_file '$file'"
	DEV=$(losetup --find --show --direct-io=on "$file")
	[ "$(cat "/sys/block/${DEV#/dev/}/loop/dio")" = 1 ] ||
		die "$DEV: direct I/O could not be enabled"
}

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

# fuse_stop MOUNTPOINT PIDFILE: unmount (retrying while the loop device lets
# go), then wait for the daemon; kill it only if it will not exit.
fuse_stop() {
	local mp=$1 pidfile=$2 _ pid=""
	[ -s "$pidfile" ] && pid=$(cat "$pidfile")
	for _ in $(seq 50); do
		is_mounted "$mp" || break
		fusermount3 -u "$mp" 2>/dev/null && break
		sleep 0.1
	done
	is_mounted "$mp" && fusermount3 -u -z "$mp"
	[ -n "$pid" ] || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "pid $pid did not exit after unmount; killing it"
	kill "$pid" 2>/dev/null
}

# fs_umount DIR: unmount a filesystem we mounted; a loop device that was
# just detached may hold it for a moment.
fs_umount() {
	local _
	for _ in $(seq 50); do
		is_mounted "$1" || return 0
		umount "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	umount "$1"
}

# kill_pid PID: stop a process this script started (a helper loop or a
# server); waiting reaps it when it is our child.
kill_pid() {
	kill "$1" 2>/dev/null || return 0
	wait "$1" 2>/dev/null || return 0
}
pidfile_kill() { if [ -s "$1" ]; then kill_pid "$(cat "$1")"; fi; }

# wait_mounted MOUNTPOINT PID: until MOUNTPOINT is a mount, or PID died.
wait_mounted() {
	local _
	for _ in $(seq 200); do
		is_mounted "$1" && return 0
		kill -0 "$2" 2>/dev/null || die "daemon for $1 exited"
		sleep 0.05
	done
	die "timeout waiting for the mount at $1"
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
mm_col() { awk -v c="$2" '{ print $c }' "$1"; }
json_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# ---- results ---------------------------------------------------------------
RES=""
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }

# ---- targets ---------------------------------------------------------------
# target_up NAME sets DEV (the block device), KIND, and per kind PID, MP,
# CTL (compact control file or empty). Everything is under $WORK/NAME.
DEV="" KIND="" PID="" MP="" CTL=""

# The kernel's enable_uring is the machine's: the same count under a lock
# as tests/e2e/lib.sh, so the last user out puts the old value back.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_STATE=/tmp/uzram-enable-uring
URING_ON=0
uring_on() {
	[ $URING_ON = 0 ] || return 0
	[ -w $URING_PARAM ] || die "no $URING_PARAM: kernel without FUSE over io_uring"
	cleanup_push uring_off
	(
		flock 9
		n=$(cat "$URING_STATE.count" 2>/dev/null || echo 0)
		if [ "$n" = 0 ]; then
			cat $URING_PARAM >"$URING_STATE.orig"
			echo Y >$URING_PARAM
		fi
		echo $((n + 1)) >"$URING_STATE.count"
	) 9>"$URING_STATE.lock"
	URING_ON=1
}
uring_off() {
	[ $URING_ON = 1 ] || return 0
	(
		flock 9
		n=$(cat "$URING_STATE.count" 2>/dev/null || echo 1)
		if [ "$n" -le 1 ]; then
			cat "$URING_STATE.orig" >$URING_PARAM
			rm -f "$URING_STATE.count" "$URING_STATE.orig"
		else
			echo $((n - 1)) >"$URING_STATE.count"
		fi
	) 9>"$URING_STATE.lock"
	URING_ON=0
}

uzram_up() {
	local algo=$1 dir=$2 transport=$3
	MP=$dir/mnt
	mkdir -p "$MP"
	[ "$transport" = uring ] && uring_on
	cleanup_push "fuse_stop '$MP' '$dir/pid'"
	# shellcheck disable=SC2086 # BENCH_UZRAM_ARGS is a word list
	"$UZRAM_BIN" "$MP" --size "$DISK" --algo "$algo" -f \
		--transport "$transport" \
		${BENCH_UZRAM_ARGS:-} >"$dir/daemon.log" 2>&1 &
	PID=$!
	echo "$PID" >"$dir/pid"
	wait_mounted "$MP" "$PID"
	KIND=uzram CTL=$MP/compact
	loop_attach "$MP/disk.img"
}

# /dev/zram0 is claimed once for the zram target (both of its phases), so
# nobody else can take it in between; it is released (reset) right after.
ZRAM_OWNED=0
ZRAM=/sys/block/zram0
zram_reset() {
	local _
	for _ in $(seq 50); do
		echo 1 >$ZRAM/reset 2>/dev/null && return 0
		sleep 0.1
	done
	echo 1 >$ZRAM/reset
}

zram_release() {
	[ $ZRAM_OWNED = 1 ] || return 0
	zram_reset
	ZRAM_OWNED=0
}

# zram_init: set up a fresh lz4 disk (claims the device: initstate 1).
zram_init() {
	echo lz4 >$ZRAM/comp_algorithm
	echo "$DISK" >$ZRAM/disksize
}

# zram_claim: wait (BENCH_ZRAM_WAIT s, default 120) for an unused
# /dev/zram0 (initstate 0), then take it; it stays ours until zram_release.
zram_claim() {
	local waited=0
	[ -e $ZRAM ] || die "no /dev/zram0 (modprobe zram)"
	while [ "$(cat $ZRAM/initstate)" != 0 ]; do
		((waited < ${BENCH_ZRAM_WAIT:-120})) ||
			die "/dev/zram0 is in use (initstate 1); not touching it"
		((waited % 30)) || log "waiting for /dev/zram0 (in use by someone else)"
		sleep 1
		waited=$((waited + 1))
	done
	ZRAM_OWNED=1
	cleanup_push zram_release
	zram_reset
	zram_init
}

# zram_up: a fresh disk on the claimed device (reset, then set up again).
zram_up() {
	[ $ZRAM_OWNED = 1 ] || die "zram_up without zram_claim"
	zram_reset
	zram_init
	KIND=zram DEV=/dev/zram0 CTL=$ZRAM/compact
}

tmpfs_up() {
	local dir=$1
	MP=$dir/tmpfs
	mkdir -p "$MP"
	cleanup_push "fs_umount '$MP'"
	mount -t tmpfs -o "size=$(($(numfmt --from=iec "$DISK") + (64 << 20)))" \
		uzram-bench "$MP"
	truncate -s "$DISK" "$MP/disk.img"
	KIND=tmpfs CTL=""
	loop_attach "$MP/disk.img"
}

NULL_BIN=""
null_up() {
	local dir=$1
	if [ -z "$NULL_BIN" ]; then
		NULL_BIN=$WORK/null
		# shellcheck disable=SC2046 # pkg-config prints a word list
		cc -O2 -o "$NULL_BIN" "$NULL_C" \
			$(pkg-config --cflags --libs fuse3)
	fi
	MP=$dir/null.img # null serves one 4 GiB file at its mountpoint
	touch "$MP"
	cleanup_push "fuse_stop '$MP' '$dir/pid'"
	"$NULL_BIN" -f "$MP" >"$dir/daemon.log" 2>&1 &
	PID=$!
	echo "$PID" >"$dir/pid"
	wait_mounted "$MP" "$PID"
	KIND=null CTL=""
	loop_attach "$MP"
}

nbdkit_up() {
	local dir=$1 _
	MP=$dir/nbd.img
	touch "$MP"
	cleanup_push "pidfile_kill '$dir/nbdkit.pid'"
	nbdkit -U "$dir/sock" -P "$dir/nbdkit.pid" memory "size=$DISK" \
		allocator=zstd
	# The pid file is written by the daemonized child: wait for it.
	for _ in $(seq 200); do
		[ -s "$dir/nbdkit.pid" ] && [ -S "$dir/sock" ] && break
		sleep 0.05
	done
	[ -s "$dir/nbdkit.pid" ] || die "nbdkit wrote no pid file"
	PID=$(cat "$dir/nbdkit.pid")
	cleanup_push "fuse_stop '$MP' '$dir/nbdfuse.pid'"
	nbdfuse -P "$dir/nbdfuse.pid" "$MP" --unix "$dir/sock" \
		>"$dir/nbdfuse.log" 2>&1 &
	for _ in $(seq 200); do
		[ -s "$dir/nbdfuse.pid" ] && is_mounted "$MP" && break
		sleep 0.05
	done
	is_mounted "$MP" || die "nbdfuse did not mount $MP"
	KIND=nbdkit CTL=""
	loop_attach "$MP"
}

# target_up NAME: start a fresh instance; returns the cleanup depth to
# unwind to with target_down.
target_up() {
	local name=$1 dir=$WORK/$1.$2
	mkdir -p "$dir"
	DEV="" KIND="" PID="" MP="" CTL=""
	case $name in
	uzram-lz4) uzram_up lz4 "$dir" dev ;;
	uzram-uring) uzram_up lz4 "$dir" uring ;;
	uzram-zstd) uzram_up zstd "$dir" dev ;;
	uzram-zstd-uring) uzram_up zstd "$dir" uring ;;
	zram-lz4) zram_up ;;
	tmpfs-loop) tmpfs_up "$dir" ;;
	fuse-null) null_up "$dir" ;;
	nbdkit-zstd) nbdkit_up "$dir" ;;
	*) die "unknown target $name" ;;
	esac
}

# The main memory figure of a target, in bytes: the pool (uzram, zram), the
# server's RSS (nbdkit), the file's allocated blocks (tmpfs).
mem_used() {
	case $KIND in
	uzram) json_get "$MP/stats.json" mem_used_total ;;
	zram) mm_col /sys/block/zram0/mm_stat 3 ;;
	nbdkit) rss_bytes "$PID" ;;
	tmpfs) echo $(($(stat -c '%b * %B' "$MP/disk.img"))) ;;
	*) echo 0 ;;
	esac
}

# ---- fio -------------------------------------------------------------------
FIO_COMMON=(--direct=1 --ioengine=libaio --buffer_compress_percentage=50
	--refill_buffers --group_reporting --output-format=json)

# fio_run TARGET NAME fio-args...: run $REPEAT times, keep each JSON,
# record the median of each figure.
fio_run() {
	local t=$1 name=$2 rep jsons=()
	shift 2
	for rep in $(seq "$REPEAT"); do
		jsons+=("$OUT/raw/$t.$name.$rep.json")
		fio --name="$name" --filename="$DEV" --size="$AREA" \
			"${FIO_COMMON[@]}" --output="${jsons[-1]}" "$@" >/dev/null
	done
	python3 - "$t" "$name" "${jsons[@]}" >>"$RES" <<'EOF'
import json, statistics, sys
t, name, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
figs = {}
for path in paths:
    job = json.load(open(path))["jobs"][0]
    for d in ("read", "write"):
        s = job[d]
        if s["io_bytes"] == 0:
            continue
        pct = s["clat_ns"].get("percentile", {})
        for k, v in (("mbs", s["bw_bytes"] / 1e6), ("iops", s["iops"]),
                     ("p50_us", pct.get("50.000000", 0) / 1e3),
                     ("p99_us", pct.get("99.000000", 0) / 1e3)):
            figs.setdefault(k, []).append(v)
for k, v in figs.items():
    print(f"{t}\t{name}_{k}\t{statistics.median(v):.1f}")
EOF
}

# compact_loop CTL COUNTFILE: after 2 s (inside fio's measured window),
# write CTL until killed, then record how many times (run in the
# background; the TERM trap writes the count).
compact_loop() {
	local n=0
	trap 'echo "$n" >"$2"; exit 0' TERM
	sleep 2
	while echo 1 >"$1" 2>/dev/null; do
		n=$((n + 1))
		if [ "$COMPACT_SLEEP" != 0 ]; then sleep "$COMPACT_SLEEP"; fi
	done
	echo "$n" >"$2"
}

# Trim half the area's pages at random so that compaction has half-empty
# zspages to work on.
fragment() {
	fio --name=fragment --filename="$DEV" --size="$AREA" \
		--rw=randtrim --bs=4k --ioengine=psync \
		--io_size=$(($(numfmt --from=iec "$AREA") / 2)) \
		--output=/dev/null >/dev/null
}

prefill() {
	fio --name=prefill --filename="$DEV" --size="$AREA" --rw=write \
		"${FIO_COMMON[@]}" --bs=1M --iodepth=8 --numjobs=1 \
		--output=/dev/null >/dev/null
}

# compact_pairs TARGET: BENCH_COMPACT_PAIRS times, on the same freshly
# written and half-trimmed area, a random read without compaction and one
# while `compact` loops; one fio run each (REPEAT does not apply: every
# pair is its own figure). The first compaction of each "on" run has the
# trimmed half to move.
compact_pairs() {
	local t=$1 i depth cpid before after
	local timed=(--time_based --runtime="$RUNTIME" --ramp_time=1)
	local rnd=(--bs=4k --iodepth=16 --numjobs=2 --rw=randread)
	for i in $(seq "$COMPACT_PAIRS"); do
		log "$t: pair $i of $COMPACT_PAIRS: rewrite, trim half, randread without then with compact"
		prefill
		fragment
		fio --name=pair_off --filename="$DEV" --size="$AREA" \
			"${FIO_COMMON[@]}" "${rnd[@]}" "${timed[@]}" \
			--output="$OUT/raw/$t.pair$i.off.json" >/dev/null
		before=0 after=0
		[ "$KIND" = uzram ] && before=$(json_get "$MP/stats.json" pages_compacted)
		[ "$KIND" = zram ] && before=$(mm_col /sys/block/zram0/mm_stat 7)
		depth=${#CLEANUP[@]}
		: >"$WORK/compactions"
		compact_loop "$CTL" "$WORK/compactions" &
		cpid=$!
		cleanup_push "kill_pid $cpid"
		fio --name=pair_on --filename="$DEV" --size="$AREA" \
			"${FIO_COMMON[@]}" "${rnd[@]}" "${timed[@]}" \
			--output="$OUT/raw/$t.pair$i.on.json" >/dev/null
		cleanup_run "$depth"
		[ -s "$WORK/compactions" ] || die "compaction loop left no count"
		[ "$KIND" = uzram ] && after=$(json_get "$MP/stats.json" pages_compacted)
		[ "$KIND" = zram ] && after=$(mm_col /sys/block/zram0/mm_stat 7)
		put "$t" "pair${i}_compactions" "$(cat "$WORK/compactions")"
		put "$t" "pair${i}_compact_pages" $((after - before))
		python3 - "$t" "$i" "$OUT/raw/$t.pair$i.off.json" \
			"$OUT/raw/$t.pair$i.on.json" >>"$RES" <<'EOF'
import json, sys
t, i = sys.argv[1], sys.argv[2]
for side, path in (("off", sys.argv[3]), ("on", sys.argv[4])):
    s = json.load(open(path))["jobs"][0]["read"]
    pct = s["clat_ns"].get("percentile", {})
    print(f"{t}\tpair{i}_{side}_iops\t{s['iops']:.1f}")
    print(f"{t}\tpair{i}_{side}_p99_us\t{pct.get('99.000000', 0) / 1e3:.1f}")
EOF
	done
	put "$t" pairs "$COMPACT_PAIRS"
}

fio_phase() {
	local t=$1 depth timed=(--time_based --runtime="$RUNTIME" --ramp_time=1)
	local seq=(--bs=1M --iodepth=8 --numjobs=1)
	local rnd=(--bs=4k --iodepth=16 --numjobs=2)
	if [ "$COMPACT_PAIRS" -gt 0 ]; then
		if [ -n "$CTL" ]; then compact_pairs "$t"; else log "$t: no compact file; no pairs"; fi
		return 0
	fi
	log "$t: prefill $AREA"
	prefill
	log "$t: seqwrite, seqread, randread, randwrite (${RUNTIME}s each)"
	fio_run "$t" seqwrite --rw=write "${seq[@]}" "${timed[@]}"
	fio_run "$t" seqread --rw=read "${seq[@]}" "${timed[@]}"
	fio_run "$t" randread --rw=randread "${rnd[@]}" "${timed[@]}"
	fio_run "$t" randwrite --rw=randwrite "${rnd[@]}" "${timed[@]}"
	if [ -n "$CTL" ]; then
		log "$t: trim half of the area, then randread while compacting"
		fragment
		depth=${#CLEANUP[@]}
		local before=0 cpid
		[ "$KIND" = uzram ] && before=$(json_get "$MP/stats.json" pages_compacted)
		[ "$KIND" = zram ] && before=$(mm_col /sys/block/zram0/mm_stat 7)
		: >"$WORK/compactions"
		compact_loop "$CTL" "$WORK/compactions" &
		cpid=$!
		cleanup_push "kill_pid $cpid"
		fio_run "$t" compact --rw=randread "${rnd[@]}" "${timed[@]}"
		cleanup_run "$depth"
		put "$t" compactions "$(cat "$WORK/compactions")"
		[ -s "$WORK/compactions" ] || die "compaction loop left no count"
		local after=0
		[ "$KIND" = uzram ] && after=$(json_get "$MP/stats.json" pages_compacted)
		[ "$KIND" = zram ] && after=$(mm_col /sys/block/zram0/mm_stat 7)
		put "$t" compact_pages $((after - before))
	else
		log "$t: no compact file; randread again without it"
		fio_run "$t" compact --rw=randread "${rnd[@]}" "${timed[@]}"
	fi
}

# ---- real data -------------------------------------------------------------
now() { date +%s.%N; }

realdata_phase() {
	local t=$1 fs=$WORK/$1.fs depth t0 t1 t2 d rss0=0
	mkdir -p "$fs"
	depth=${#CLEANUP[@]}
	if [ -n "$PID" ]; then
		rss0=$(rss_bytes "$PID")
		put "$t" rss_start "$rss0"
	fi
	log "$t: real data: mkfs.ext4, copy $TREES"
	blkdiscard -f "$DEV"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$DEV"
	cleanup_push "fs_umount '$fs'"
	mount "$DEV" "$fs"
	t0=$(now)
	for d in $TREES; do
		mkdir -p "$fs/$(dirname "$d")"
		cp -a "$d" "$fs/$d"
	done
	sync
	t1=$(now)
	echo 3 >/proc/sys/vm/drop_caches
	t2=$(now)
	for d in $TREES; do
		diff -r --no-dereference "$d" "$fs/$d" >/dev/null || die "$t: $d differs after read-back"
	done
	put "$t" readback_s "$(echo "$(now) - $t2" | bc)"
	put "$t" copy_s "$(echo "$t1 - $t0" | bc)"
	put "$t" mem_bytes "$(mem_used)"
	if [ "$KIND" = uzram ]; then
		put "$t" table_bytes "$(json_get "$MP/stats.json" table_bytes)"
		put "$t" orig_data_size "$(json_get "$MP/stats.json" orig_data_size)"
		put "$t" compr_data_size "$(json_get "$MP/stats.json" compr_data_size)"
	fi
	if [ "$KIND" = zram ]; then
		put "$t" orig_data_size "$(mm_col /sys/block/zram0/mm_stat 1)"
		put "$t" compr_data_size "$(mm_col /sys/block/zram0/mm_stat 2)"
	fi
	[ -n "$PID" ] && put "$t" rss "$(rss_bytes "$PID")"
	cleanup_run "$depth"
	blkdiscard -f "$DEV"
	sleep 1
	put "$t" mem_after_discard "$(mem_used)"
	[ -n "$PID" ] && put "$t" rss_after_discard "$(rss_bytes "$PID")"
	# issue 12: the daemon idles down to its start RSS + 2 MiB within 30 s
	# (RSS only falls while idle: the first second within bound is kept)
	if [ "$KIND" = uzram ] && [ -n "$PID" ]; then
		local waited=1 r
		r=$(rss_bytes "$PID")
		while [ "$r" -gt $((rss0 + (2 << 20))) ] && [ "$waited" -lt 30 ]; do
			sleep 1
			waited=$((waited + 1))
			r=$(rss_bytes "$PID")
		done
		put "$t" rss_idle "$r"
		put "$t" rss_idle_s "$waited"
	fi
	return 0
}

# ---- main ------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (losetup, mount, /dev/zram0)"
for cmd in fio losetup mkfs.ext4 blkdiscard fusermount3 python3 gnuplot bc \
	nbdkit nbdfuse cc pkg-config; do
	command -v "$cmd" >/dev/null || die "missing $cmd (run tools/deps.sh)"
done
case " $TARGETS " in
*" uzram-"*)
	[ -x "$UZRAM_BIN" ] || die "no daemon at $UZRAM_BIN (cmake --preset release && cmake --build --preset release, or set UZRAM_BIN)"
	;;
esac

mkdir -p "$OUT/raw"
RES=$OUT/results.tsv
: >"$RES"
WORK=$(mktemp -d /tmp/uzram-bench.XXXXXX)
cleanup_push "rm -rf '$WORK'"
data=0
for d in $TREES; do
	data=$((data + $(du -sb "$d" | cut -f1)))
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "targets: $TARGETS; fio ${RUNTIME}s per run on $AREA; disks $DISK"

for t in $TARGETS; do
	if [ "$t" = zram-lz4 ]; then zram_claim; fi
	depth=${#CLEANUP[@]}
	target_up "$t" fio
	log "$t: $DEV"
	fio_phase "$t"
	cleanup_run "$depth"
	# null drops writes: no real data; nor in the pairs-only mode
	if [ "$t" != fuse-null ] && [ "$COMPACT_PAIRS" = 0 ]; then
		target_up "$t" data
		put "$t" data_bytes "$data"
		realdata_phase "$t"
		cleanup_run "$depth"
	fi
	if [ "$t" = zram-lz4 ]; then zram_release; fi
done

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
python3 "$HERE/report.py" "$RES" "$OUT" \
	"date=$(date -u '+%Y-%m-%d %H:%M UTC')" "nproc=$(nproc)" "cpu=$cpu" \
	"kernel=$(uname -r)" "runtime=$RUNTIME" "repeat=$REPEAT" "area=$AREA" "disk=$DISK" \
	"trees=$TREES" "uzram=$UZRAM_BIN" "fio=$(fio --version)" \
	"load_start=$LOAD_START" "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" \
	"uzram_args=${BENCH_UZRAM_ARGS:-}" "compact_sleep=$COMPACT_SLEEP" \
	"compact_pairs=$COMPACT_PAIRS"
cat "$OUT/results.md"
# the chart plots the throughput figures, which a pairs-only run has none of
if [ "$COMPACT_PAIRS" = 0 ]; then
	gnuplot -e "datafile='$OUT/chart.dat'; outfile='$OUT/bench.png'" \
		"$HERE/chart.gp"
	log "wrote $OUT/results.md, $OUT/results.json, $OUT/bench.png"
else
	log "wrote $OUT/results.md, $OUT/results.json (no chart: pairs only)"
fi
