#!/usr/bin/env bash
# tools/bench/nbdkit.sh - nbdkit-uzram-plugin against nbdkit's memory plugin,
# side by side in one run, and the cost of a snapshot. A program that prints
# numbers, not a test.
#
#   uzram-zstd     nbdkit uzram algo=zstd        against  memory-zstd
#   uzram-lz4      nbdkit uzram algo=lz4         against  memory-sparse
#   memory-zstd    nbdkit memory allocator=zstd
#   memory-sparse  nbdkit memory (allocator=sparse, uncompressed)
#   uzram-zstd-lN  nbdkit uzram algo=zstd algo-params=level=N (N may be
#                  negative), against memory-zstd
#   uzram-zstd-full  nbdkit uzram algo=zstd dedup=on policy=idle_after=1,
#                  interval=1,auto_dict=on,group=on (issue 9's memory
#                  levers), against memory-zstd; in the trees step its RSS
#                  is read once the policy has settled (see settle_rss)
#   uzram-zstd-max  as uzram-zstd-full with group=32,group_level=15 (32-page
#                  frames at zstd-15, with the trained dictionary);
#                  uzram-zstd-max-gNlL: the same with group=N,group_level=L
#   uzram-zstd-gNlL  nbdkit uzram algo=zstd policy=idle_after=1,interval=1,
#                  group=N,group_level=L (grouping alone), settled as -full
#
# Every target is a fresh nbdkit on a Unix socket (--threads 16). Steps:
#  1. fio --ioengine=nbd (libnbd, straight to the socket): the area is
#     filled once (1 MiB writes, 50 % compressible buffers), then 1 MiB
#     sequential write and read, 4 KiB random write and read, each 2 jobs x
#     iodepth 16, BENCH_RUNTIME seconds; the server's RSS after the fill.
#  2. Real trees: an ext4 image made with mkfs.ext4 -d from BENCH_TREES is
#     copied in with nbdcopy and back out: cmp and qemu-img compare must say
#     identical; the server's RSS holding it.
#  3. Snapshot (uzram-lz4 only): an ext4 image of ~500 MB of real files
#     (BENCH_SAVE_TREES) is copied in; `save` through controls=DIR (with
#     and without its fsync, `PATH sync=0`), timed against `cat` of a file
#     of the snapshot's size into the same directory and against the same
#     copy with an fsync; restore (nbdkit uzram restore=, until its pid
#     file) timed against `cat` of the snapshot to /dev/null and to a file
#     on tmpfs (the restored data lands in memory), and against the start
#     of an empty store; BENCH_SNAP_REPS (3) rounds, medians. The restored
#     disk is copied out and compared whole with the image; mm_stat before
#     and after.
#  4. daemon (not in the default steps): the same image in the FUSE
#     daemon's disk.img, `uzramctl --save` and `uzram --restore` (until it
#     has mounted), against the cat figures of step 3.
#
# Output: a markdown report on stdout and in $BENCH_OUT/results.md.
# Environment: UZRAM_BUILD_DIR (default build/release), BENCH_RUNTIME
# (10), BENCH_AREA (1G), BENCH_DISK (2G), BENCH_TREES ("/usr/include
# /usr/lib/gcc"), BENCH_SAVE_TREES ("/usr/include /usr/lib/gcc
# /usr/share/doc"), BENCH_OUT (build/bench-nbdkit), BENCH_STEPS ("fio trees
# snapshot"; add "daemon"), BENCH_SNAP_REPS (3), BENCH_TARGETS (the four
# above; uzram-zstd-lN, -full, -max, -gNlL may be added), BENCH_SETTLE_MAX
# (seconds a policy target may take to settle, 300), BENCH_MM_STAT (1: the
# trees step mounts controls=DIR threads=1 on uzram targets and reports
# mem_used_total; the mount's own memory is then in their RSS, ~1 MiB).
# Ratios are printed for the pairs
# whose two targets both ran; uzram-zstd against memory-sparse too, since
# the sparse plugin stores without compressing: what the NBD path itself
# carries on this machine.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${UZRAM_BUILD_DIR:-$SRC/build/release}
PLUGIN=$BUILD/src/nbdkit/nbdkit-uzram-plugin.so
RUNTIME=${BENCH_RUNTIME:-10}
AREA=${BENCH_AREA:-1G}
DISK=${BENCH_DISK:-2G}
TREES=${BENCH_TREES:-/usr/include /usr/lib/gcc}
SAVE_TREES=${BENCH_SAVE_TREES:-/usr/include /usr/lib/gcc /usr/share/doc}
OUT=${BENCH_OUT:-$SRC/build/bench-nbdkit}
STEPS=${BENCH_STEPS:-fio trees snapshot}
SNAP_REPS=${BENCH_SNAP_REPS:-3}
SETTLE_MAX=${BENCH_SETTLE_MAX:-300}
MM_STAT=${BENCH_MM_STAT:-0}
TARGETS=${BENCH_TARGETS:-uzram-zstd memory-zstd uzram-lz4 memory-sparse}
HALF=$(($(numfmt --from=iec "$AREA") / 2))
# nbdkit 1.32's memory allocator=zstd segfaults when nbdcopy reads it over
# its default 4 connections (multi-conn); every target is copied with one
# connection, so the figures stay comparable.
COPY_OPTS=${BENCH_COPY_OPTS:---connections=1}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
for c in nbdkit fio nbdcopy qemu-img mkfs.ext4 python3; do
	command -v "$c" >/dev/null || die "needs $c"
done
[[ -f $PLUGIN ]] || die "no $PLUGIN (build the release preset)"
fio --enghelp=nbd >/dev/null 2>&1 || die "fio has no nbd engine"

CLEANUPS=()
cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work=$(mktemp -d "${TMPDIR:-/tmp}/uzram-bench-nbdkit.XXXXXX")
CLEANUPS+=("rm -rf --one-file-system '$work'")
mkdir -p "$OUT"

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start NAME PARAMS...: a fresh nbdkit; sets PID and URI
start() {
	local name=$1 d=$work/$1 i
	shift
	rm -rf "$d"
	mkdir -p "$d"
	CLEANUPS+=("[ -s '$d/pid' ] && kill \$(cat '$d/pid')")
	nbdkit --threads 16 -U "$d/sock" -P "$d/pid" "$@"
	# a fine poll: the restore step times this
	for ((i = 0; i < 2000; i++)); do
		[[ -s $d/pid ]] && break
		sleep 0.005
	done
	PID=$(<"$d/pid")
	URI="nbd+unix:///?socket=$d/sock"
}
stop() {
	local pid=$PID i
	kill "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid"
}
# target_args TARGET [SIZE]
target_args() {
	local size=${2:-$DISK}
	case $1 in
	uzram-zstd) echo "$PLUGIN size=$size algo=zstd" ;;
	uzram-zstd-full) echo "$PLUGIN size=$size algo=zstd dedup=on policy=idle_after=1,interval=1,auto_dict=on,group=on" ;;
	uzram-zstd-max) echo "$PLUGIN size=$size algo=zstd dedup=on policy=idle_after=1,interval=1,auto_dict=on,group=32,group_level=15" ;;
	uzram-zstd-max-g*)
		local g=${1#uzram-zstd-max-g}
		echo "$PLUGIN size=$size algo=zstd dedup=on policy=idle_after=1,interval=1,auto_dict=on,group=${g%l*},group_level=${g#*l}"
		;;
	uzram-zstd-g*)
		local g=${1#uzram-zstd-g}
		echo "$PLUGIN size=$size algo=zstd policy=idle_after=1,interval=1,group=${g%l*},group_level=${g#*l}"
		;;
	uzram-zstd-l*) echo "$PLUGIN size=$size algo=zstd algo-params=level=${1#uzram-zstd-l}" ;;
	uzram-lz4) echo "$PLUGIN size=$size algo=lz4" ;;
	memory-zstd) echo "memory size=$size allocator=zstd" ;;
	memory-sparse) echo "memory size=$size" ;;
	esac
}

# settle_rss PID: wait until a policy has done its work: at least 10 s, then
# until three samples 2 s apart are within 0.5 % of each other and the
# server used under 0.2 s of CPU across them (a long grouping pass at a
# high level frees objects but gives pages back only when it compacts at
# its end, so a flat RSS alone can be a pass still at work); at most
# BENCH_SETTLE_MAX s (the RSS is then read as it is, and the log says so).
# Sets SETTLED to the seconds it took.
settle_rss() {
	local a b c i u0 u1 u2
	sleep 10
	a=$(rss_kib "$1") b=0 c=0 u0=0 u1=0 u2=$(cpu_ms "$1")
	for ((i = 0; 10 + 2 * i < SETTLE_MAX; i++)); do
		sleep 2
		c=$b b=$a a=$(rss_kib "$1")
		u0=$u1 u1=$u2 u2=$(cpu_ms "$1")
		if ((c > 0)) && python3 -c "import sys; v = list(map(int, sys.argv[1:4])); u = float(sys.argv[5]) - float(sys.argv[4]); sys.exit(0 if max(v) - min(v) <= max(v) * 0.005 and u < 200 else 1)" "$a" "$b" "$c" "$u0" "$u2"; then
			SETTLED=$((10 + 2 * i + 2))
			log "  settled after $SETTLED s: RSS $a KiB"
			return 0
		fi
	done
	SETTLED="not settled after $SETTLE_MAX"
	log "  not settled after $SETTLE_MAX s: RSS $a KiB"
}

# The server's CPU time (user + system, all threads) in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }

# fio_run NAME RW BS [extra...]: prints "iops MBps cpu_us_per_op
# cpu_ms_per_GB", the last two the server's CPU time over the run divided by
# the requests and the bytes fio counted: unlike MB/s, they hardly depend on
# what else runs on the machine, and bound what 2 cores can carry.
fio_run() {
	local name=$1 rw=$2 bs=$3 c0
	shift 3
	c0=$(cpu_ms "$PID")
	fio --name="$name" --ioengine=nbd --uri="$URI" --rw="$rw" --bs="$bs" \
		--numjobs=2 --iodepth=16 --size="$AREA" --time_based \
		--runtime="$RUNTIME" --group_reporting --output-format=json \
		--buffer_compress_percentage=50 --buffer_compress_chunk=4k \
		--refill_buffers --randrepeat=0 "$@" >"$work/fio.json" ||
		die "fio $name"
	python3 - "$work/fio.json" "$c0" "$(cpu_ms "$PID")" <<'PY'
import json, sys
text = open(sys.argv[1]).read()  # fio's nbd engine prints lines first
j = json.loads(text[text.index("{"):])["jobs"][0]
io = j["read"] if j["read"]["io_bytes"] else j["write"]
ms = float(sys.argv[3]) - float(sys.argv[2])
print(f'{io["iops"]:.0f} {io["bw_bytes"] / 1e6:.1f} '
      f'{ms * 1000 / max(io["total_ios"], 1):.1f} '
      f'{ms / max(io["io_bytes"] / 1e9, 1e-9):.0f}')
PY
}

declare -A R
step_fio() {
	local t
	for t in $TARGETS; do
		log "fio: $t"
		# shellcheck disable=SC2046
		start "$t" $(target_args "$t")
		fio --name=fill --ioengine=nbd --uri="$URI" --rw=write --bs=1M \
			--iodepth=16 --size="$AREA" --buffer_compress_percentage=50 \
			--buffer_compress_chunk=4k --refill_buffers \
			--output=/dev/null || die "fill $t"
		R[$t.rss_fill]=$(rss_kib "$PID")
		# each job its own half of the area
		read -r _ R[$t.seqw] _ R[$t.seqw_cpu] < <(fio_run seqw write 1M --offset_increment=$HALF --size=$HALF)
		read -r _ R[$t.seqr] _ R[$t.seqr_cpu] < <(fio_run seqr read 1M --offset_increment=$HALF --size=$HALF)
		read -r R[$t.randw] _ R[$t.randw_cpu] _ < <(fio_run randw randwrite 4k)
		read -r R[$t.randr] _ R[$t.randr_cpu] _ < <(fio_run randr randread 4k)
		log "  $t: seq write ${R[$t.seqw]} MB/s, seq read ${R[$t.seqr]} MB/s, randwrite ${R[$t.randw]} IOPS, randread ${R[$t.randr]} IOPS, RSS ${R[$t.rss_fill]} KiB"
		stop
	done
}

# image PATH SIZE TREES...: an ext4 image holding the trees (mkfs.ext4 -d)
image() {
	local img=$1 size=$2 root=$work/root.$RANDOM
	shift 2
	mkdir "$root"
	for tree in "$@"; do
		mkdir -p "$root$(dirname "$tree")"
		cp -a "$tree" "$root$tree"
	done
	truncate -s "$size" "$img"
	mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 -d "$root" \
		"$img" || die "mkfs.ext4 -d"
	R[$img.bytes]=$(du -sb "$root" | cut -f1)
	rm -rf "$root"
}

step_trees() {
	local t img=$work/trees.img t0
	# shellcheck disable=SC2086
	image "$img" 1G $TREES
	log "trees image: ${R[$img.bytes]} bytes of files from $TREES"
	R[trees.bytes]=${R[$img.bytes]}
	for t in $TARGETS; do
		local ctlopt=() mnt=$work/ctl-$t
		if [[ $MM_STAT == 1 && $t == uzram-* ]]; then
			mkdir -p "$mnt"
			CLEANUPS+=("fusermount3 -u '$mnt'")
			ctlopt=(controls="$mnt" threads=1)
		fi
		# shellcheck disable=SC2046
		start "$t" $(target_args "$t" 1G) "${ctlopt[@]}" # the image's size
		t0=$(now)
		nbdcopy $COPY_OPTS "$img" "$URI" || die "nbdcopy in $t"
		R[$t.copy_in]=$(since "$t0")
		R[$t.settled]=-
		if [[ $(target_args "$t") == *policy=* ]]; then
			settle_rss "$PID"
			R[$t.settled]=$SETTLED
		fi
		R[$t.rss_trees]=$(rss_kib "$PID")
		R[$t.mem_used]=-
		if ((${#ctlopt[@]})); then
			read -r -a mm <"$mnt/mm_stat"
			R[$t.mem_used]=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / 1048576:.1f}')" "${mm[2]}")
		fi
		t0=$(now)
		nbdcopy $COPY_OPTS "$URI" "$work/out.img" || die "nbdcopy out $t"
		R[$t.copy_out]=$(since "$t0")
		R[$t.identical]=no
		cmp -s "$img" "$work/out.img" &&
			qemu-img compare -q -f raw -F raw "$img" "$URI" &&
			R[$t.identical]=yes
		log "  $t: in ${R[$t.copy_in]} s, out ${R[$t.copy_out]} s, RSS ${R[$t.rss_trees]} KiB, identical ${R[$t.identical]}"
		rm -f "$work/out.img"
		stop
	done
	rm -f "$img"
}

# the ~500 MB image of real files for the snapshot steps, made once
save_image() {
	local img=$work/save.img
	[[ -f $img ]] && return 0
	# shellcheck disable=SC2086
	image "$img" 1G $SAVE_TREES
	log "snapshot image: ${R[$img.bytes]} bytes of files from $SAVE_TREES"
	R[snap.files]=${R[$img.bytes]}
}
# timed KEY CMD...: run CMD in this shell, append its seconds to R[KEY]
timed() {
	local key=$1 t0
	shift
	t0=$(now)
	"$@"
	R[$key]+="$(since "$t0") "
}
med() { python3 -c 'import sys, statistics; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' $1; }
save_to() { echo "$2" >"$1/save"; }
cat_to() { cat "$1" >"$2"; }
same_size_file() {
	head -c "$1" /dev/urandom >"$work/same-size"
	cat "$work/same-size" >/dev/null # in the page cache, as the store is
}

step_snapshot() {
	local img=$work/save.img ctl=$work/ctl size i shm
	save_image
	mkdir -p "$ctl"
	start snap-src "$PLUGIN" size=1G algo=lz4 controls="$ctl"
	CLEANUPS+=("fusermount3 -u '$ctl'")
	sleep 0.3
	nbdcopy "$img" "$URI" || die "nbdcopy in"
	read -r -a mm1 <"$ctl/mm_stat"
	save_to "$ctl" "$work/snap" # the size for the peers
	size=$(stat -c %s "$work/snap")
	R[snap.size]=$size
	same_size_file "$size"
	for ((i = 0; i < SNAP_REPS; i++)); do
		rm -f "$work/snap" "$work/snap2" "$work/cat-dest"
		timed snap.save save_to "$ctl" "$work/snap"
		timed snap.save_nosync save_to "$ctl" "$work/snap2 sync=0"
		timed snap.cat_save cat_to "$work/same-size" "$work/cat-dest"
		rm -f "$work/cat-dest"
		# the save fsyncs its file: the same copy with an fsync of it
		timed snap.dd_save dd if="$work/same-size" of="$work/cat-dest" \
			bs=1M conv=fsync status=none
	done
	rm -f "$work/cat-dest" "$work/same-size" "$work/snap2"
	stop
	sleep 0.3
	shm=$(mktemp -d /dev/shm/uzram-bench.XXXXXX)
	CLEANUPS+=("rm -rf '$shm'")
	cat "$work/snap" >/dev/null
	for ((i = 0; i < SNAP_REPS; i++)); do
		timed snap.restore start snap-dst "$PLUGIN" restore="$work/snap"
		stop
		timed snap.start start snap-empty "$PLUGIN" size=1G algo=lz4
		stop
		timed snap.cat_restore cat_to "$work/snap" /dev/null
		timed snap.cat_shm cat_to "$work/snap" "$shm/snap"
		rm -f "$shm/snap"
	done
	start snap-dst "$PLUGIN" restore="$work/snap" controls="$ctl"
	sleep 0.3
	read -r -a mm2 <"$ctl/mm_stat"
	nbdcopy "$URI" "$work/out.img" || die "nbdcopy out"
	R[snap.identical]=no
	cmp -s "$img" "$work/out.img" && R[snap.identical]=yes
	rm -f "$work/out.img"
	R[snap.mm1]="${mm1[*]}"
	R[snap.mm2]="${mm2[*]}"
	stop
	log "  save $(med "${R[snap.save]}") s, sync=0 $(med "${R[snap.save_nosync]}") s (cat $(med "${R[snap.cat_save]}") s, dd+fsync $(med "${R[snap.dd_save]}") s), restore $(med "${R[snap.restore]}") s (empty start $(med "${R[snap.start]}") s; cat >/dev/null $(med "${R[snap.cat_restore]}") s, cat >tmpfs $(med "${R[snap.cat_shm]}") s), $size bytes, identical ${R[snap.identical]}"
}

# The daemon: uzramctl --save, uzram --restore (until it has mounted).
step_daemon() {
	local img=$work/save.img mnt=$work/dz i
	local bin=$BUILD/src/fuse/uzram ctl=$BUILD/tools/uzramctl/uzramctl
	[[ -x $bin && -x $ctl ]] || die "no $bin or $ctl"
	save_image
	mkdir -p "$mnt"
	CLEANUPS+=("fusermount3 -u '$mnt'")
	"$bin" "$mnt" --size 1G --algo lz4 || die "uzram"
	dd if="$img" of="$mnt/disk.img" bs=1M conv=notrunc oflag=direct \
		status=none || die "dd in"
	read -r -a mm1 <"$mnt/mm_stat"
	for ((i = 0; i < SNAP_REPS; i++)); do
		rm -f "$work/dsnap" "$work/dsnap2"
		timed daemon.save "$ctl" --save "$mnt" "$work/dsnap"
		timed daemon.save_nosync save_to "$mnt" "$work/dsnap2 sync=0"
	done
	rm -f "$work/dsnap2"
	R[daemon.size]=$(stat -c %s "$work/dsnap")
	fusermount3 -u "$mnt"
	sleep 0.5
	cat "$work/dsnap" >/dev/null
	for ((i = 0; i < SNAP_REPS; i++)); do
		timed daemon.restore "$bin" "$mnt" --restore "$work/dsnap"
		read -r -a mm2 <"$mnt/mm_stat"
		if ((i == SNAP_REPS - 1)); then
			R[daemon.identical]=no
			cmp -s "$img" "$mnt/disk.img" && R[daemon.identical]=yes
		fi
		fusermount3 -u "$mnt"
		sleep 0.5
		timed daemon.start "$bin" "$mnt" --size 1G --algo lz4
		fusermount3 -u "$mnt"
		sleep 0.5
	done
	R[daemon.mm1]="${mm1[*]}"
	R[daemon.mm2]="${mm2[*]}"
	log "  daemon: save $(med "${R[daemon.save]}") s, sync=0 $(med "${R[daemon.save_nosync]}") s, restore $(med "${R[daemon.restore]}") s (empty start $(med "${R[daemon.start]}") s), identical ${R[daemon.identical]}"
}

snap_row() {
	local a b
	a=$(med "${R[$2]}")
	b=$(med "${R[$4]}")
	echo "| $1 | $a | $3 | $b | $(ratio "$a" "$b") |"
}

# pairs: "a:b" for every (uzram target, its peer) that both ran
pairs() {
	local t
	for t in $TARGETS; do
		case $t in
		uzram-zstd*) has memory-zstd && echo "$t:memory-zstd" ;;
		uzram-lz4) has memory-sparse && echo "$t:memory-sparse" ;;
		esac
	done
	has uzram-zstd && has memory-sparse && echo "uzram-zstd:memory-sparse"
	return 0
}
has() { [[ " $TARGETS " == *" $1 "* ]]; }

ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}' if b else 'n/a')" "$1" "$2"; }
ratio3() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.3f}' if b else 'n/a')" "$1" "$2"; }

report() {
	local t
	echo "# nbdkit-uzram-plugin benchmark ($(date -u +%FT%TZ), $(nproc) cores)"
	echo
	if [[ $STEPS == *fio* ]]; then
		echo "fio --ioengine=nbd over a Unix socket, 2 jobs x iodepth 16, ${RUNTIME} s each, area $AREA of a $DISK disk, 50 % compressible buffers; nbdkit --threads 16."
		echo
		echo "| target | 1M seq write MB/s | 1M seq read MB/s | 4K randwrite IOPS | 4K randread IOPS | RSS after fill MiB |"
		echo "|---|---|---|---|---|---|"
		for t in $TARGETS; do
			echo "| $t | ${R[$t.seqw]} | ${R[$t.seqr]} | ${R[$t.randw]} | ${R[$t.randr]} | $((R[$t.rss_fill] / 1024)) |"
		done
		echo
		echo "The server's CPU time per unit of work in the same runs (user + system, every thread; load-independent to first order):"
		echo
		echo "| target | seq write ms/GB | seq read ms/GB | randwrite us/op | randread us/op |"
		echo "|---|---|---|---|---|"
		for t in $TARGETS; do
			echo "| $t | ${R[$t.seqw_cpu]} | ${R[$t.seqr_cpu]} | ${R[$t.randw_cpu]} | ${R[$t.randr_cpu]} |"
		done
		echo
		echo "| ratio | seq write | seq read | randwrite | randread | RSS |"
		echo "|---|---|---|---|---|---|"
		for pair in $(pairs); do
			set -- ${pair/:/ }
			echo "| $1 / $2 | $(ratio "${R[$1.seqw]}" "${R[$2.seqw]}") | $(ratio "${R[$1.seqr]}" "${R[$2.seqr]}") | $(ratio "${R[$1.randw]}" "${R[$2.randw]}") | $(ratio "${R[$1.randr]}" "${R[$2.randr]}") | $(ratio "${R[$1.rss_fill]}" "${R[$2.rss_fill]}") |"
		done
		echo
	fi
	if [[ $STEPS == *trees* ]]; then
		echo "Real trees ($TREES, ${R[trees.bytes]} bytes of files) in a 1 GiB ext4 image, nbdcopy $COPY_OPTS in and out:"
		echo
		echo "| target | copy in s | copy out s | policy settled after s | RSS holding it MiB | mem_used_total MiB | identical (cmp + qemu-img compare) |"
		echo "|---|---|---|---|---|---|---|"
		for t in $TARGETS; do
			echo "| $t | ${R[$t.copy_in]} | ${R[$t.copy_out]} | ${R[$t.settled]} | $(python3 -c "import sys; print(f'{int(sys.argv[1]) / 1024:.1f}')" "${R[$t.rss_trees]}") | ${R[$t.mem_used]} | ${R[$t.identical]} |"
		done
		echo
		for pair in $(pairs); do
			set -- ${pair/:/ }
			echo "RSS $1 / $2: $(ratio3 "${R[$1.rss_trees]}" "${R[$2.rss_trees]}")"
			echo
		done
	fi
	if [[ $STEPS == *snapshot* ]]; then
		echo "Snapshot of a disk holding ${R[snap.files]} bytes of real files ($SAVE_TREES), lz4, nbdkit uzram (save through controls=DIR); median of $SNAP_REPS, each peer measured between the same runs; snapshot ${R[snap.size]} bytes, in the page cache:"
		echo
		echo "| | seconds | peer | peer seconds | ratio |"
		echo "|---|---|---|---|---|"
		snap_row "save (fsync'ed)" snap.save "cat of a file that size into the same directory" snap.cat_save
		snap_row "save (fsync'ed)" snap.save "the same copy with an fsync (dd bs=1M conv=fsync)" snap.dd_save
		snap_row "save sync=0" snap.save_nosync "cat of a file that size into the same directory" snap.cat_save
		snap_row "restore (nbdkit start to pid file)" snap.restore "cat snapshot > /dev/null" snap.cat_restore
		snap_row "restore (nbdkit start to pid file)" snap.restore "cat snapshot > a file on tmpfs (/dev/shm)" snap.cat_shm
		snap_row "nbdkit start of an empty store, for scale" snap.start "cat snapshot > /dev/null" snap.cat_restore
		echo
		echo "Restored disk identical to the image: ${R[snap.identical]}. mm_stat before: \`${R[snap.mm1]}\`; after restore: \`${R[snap.mm2]}\`."
		echo
	fi
	if [[ $STEPS == *daemon* ]]; then
		echo "The daemon (uzram --size 1G --algo lz4, the image written into disk.img), snapshot ${R[daemon.size]} bytes; peers from the snapshot step above:"
		echo
		echo "| | seconds | peer | peer seconds | ratio |"
		echo "|---|---|---|---|---|"
		snap_row "uzramctl --save (fsync'ed)" daemon.save "cat of a file that size into the same directory" snap.cat_save
		snap_row "uzramctl --save (fsync'ed)" daemon.save "the same copy with an fsync" snap.dd_save
		snap_row "save sync=0" daemon.save_nosync "cat of a file that size into the same directory" snap.cat_save
		snap_row "uzram --restore (until mounted)" daemon.restore "cat snapshot > /dev/null" snap.cat_restore
		snap_row "uzram --restore (until mounted)" daemon.restore "cat snapshot > a file on tmpfs" snap.cat_shm
		snap_row "uzram start of an empty store, for scale" daemon.start "cat snapshot > /dev/null" snap.cat_restore
		echo
		echo "Restored disk.img identical to the image: ${R[daemon.identical]}. mm_stat before: \`${R[daemon.mm1]}\`; after restore: \`${R[daemon.mm2]}\`."
	fi
}

for s in $STEPS; do
	"step_$s"
done
report | tee "$OUT/results.md"
