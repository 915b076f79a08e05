#!/usr/bin/env bash
# tools/tier-bench.sh - the tiering figures of issue 8, measured in one run.
#
# A benchmark, not a test: it prints numbers (and writes them to
# $BENCH_OUT/tier.md) and compares them with the targets, but its exit code
# does not depend on them. Run as root (mounts, loop devices):
#
#   cmake --preset release && cmake --build --preset release
#   sudo tools/tier-bench.sh
#
# 1. writeback: ext4 on uzram (lz4) with real trees, `idle all`, `writeback
#    idle`: mem_used_total before/after, the backing file's allocated bytes
#    against compr_data_size, diff -r after drop_caches, then blkdiscard and
#    the allocated bytes left.
# 2. recompress: the same trees on lz4, `recomp_algorithm algo=zstd`, `idle
#    all`, `recompress type=idle`, `compact`; against the same trees written
#    with zstd directly (mem_used_total and compr_data_size).
# 3. mem_target: --policy mem_target=64M,writeback=on,idle_after=0 while
#    512 MiB of real files are written: mem_used_total sampled every 0.1 s
#    during the copy and for 5 s after it; failed_writes; diff -r.
# 4. randread: fio 4 KiB random reads (2 jobs, iodepth 16) over 256 MiB on a
#    disk fully in memory, then the same disk fully written back.
#
# Environment: UZRAM_BIN (default build/release/src/fuse/uzram, else
# build/ci/...), BENCH_TREES (default "/usr/include /usr/lib/gcc"),
# BENCH_OUT (default build/bench), BENCH_RUNTIME (fio seconds, default 10),
# BENCH_STAGES (default "1 2 3 4").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${UZRAM_BIN:-}
for b in "$ROOT/build/release/src/fuse/uzram" "$ROOT/build/ci/src/fuse/uzram"; do
	[[ -n $BIN ]] || { [[ -x $b ]] && BIN=$b; }
done
[[ -x $BIN ]] || { echo "no uzram binary (set UZRAM_BIN)" >&2; exit 1; }
TREES=${BENCH_TREES:-/usr/include /usr/lib/gcc}
OUT=${BENCH_OUT:-$ROOT/build/bench}
RUNTIME=${BENCH_RUNTIME:-10}
STAGES=" ${BENCH_STAGES:-1 2 3 4} "
stage() { [[ $STAGES == *" $1 "* ]]; }
mkdir -p "$OUT"
REPORT=$OUT/tier.md
: >"$REPORT"

WORK=$(mktemp -d /tmp/uzram-tier-bench.XXXXXX)
CLEANUPS=()
cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1 || :
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$REPORT"; }
mm() { awk -v c="$2" '{ print $c }' "$1/mm_stat"; }
json() { grep -o "\"$2\": [0-9]*" "$1/stats.json" | cut -d' ' -f2; }
alloc() { echo $(($(stat -c %b "$1") * 512)); }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b ? a / b : 0 }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {
	ok = op == "<=" ? v <= t : v >= t; print ok ? "PASS" : "FAIL" }'; }

# start NAME ARGS...: a daemon on $WORK/NAME/mnt, loop device in DEV.
start() {
	local name=$1 m
	shift
	m=$WORK/$name/mnt
	mkdir -p "$m" "$WORK/$name/fs"
	CLEANUPS+=("fusermount3 -u '$m'")
	"$BIN" "$m" "$@"
	DEV=$(losetup --find --show --direct-io=on "$m/disk.img")
	CLEANUPS+=("losetup -d $DEV")
	MNT=$m FS=$WORK/$name/fs
}
stop() {
	losetup -d "$DEV"
	fusermount3 -u "$MNT"
}
fs_mount() {
	mount "$DEV" "$FS"
	CLEANUPS+=("umount '$FS'")
}
copy_trees() {
	local t i=0
	for t in $TREES; do
		cp -a "$t" "$FS/tree$i"
		i=$((i + 1))
	done
}
diff_trees() {
	local t i=0
	for t in $TREES; do
		diff -r --no-dereference "$t" "$FS/tree$i" >/dev/null || return 1
		i=$((i + 1))
	done
}
mkfs_copy() {
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$DEV"
	fs_mount
	copy_trees
	umount "$FS"
}

say "# uzram tiering benchmark ($(date -u +%F), $(nproc) cores, trees: $TREES)"
say ""

# --- 1. writeback ------------------------------------------------------------
stage1() {
truncate -s 4G "$WORK/backing1"
start wb --size 2G --algo lz4 --backing-dev "$WORK/backing1"
mkfs_copy
compr=$(mm "$MNT" 2) used=$(mm "$MNT" 3)
echo all >"$MNT/idle"
t0=$(date +%s%N)
echo idle >"$MNT/writeback"
t1=$(date +%s%N)
used2=$(mm "$MNT" 3) a=$(alloc "$WORK/backing1") bd=$(json "$MNT" bd_count)
echo 3 >/proc/sys/vm/drop_caches
fs_mount
if diff_trees; then dif=clean; else dif=DIFFERENT; fi
umount "$FS"
a0=$(alloc "$WORK/backing1")
blkdiscard -f "$DEV"
a2=$(alloc "$WORK/backing1")
fall=$(awk -v a="$used" -v b="$used2" 'BEGIN { printf "%.1f", (a - b) * 100 / a }')
say "## 1. writeback idle (lz4, ext4 with the trees)"
say ""
say "| figure | value | target | |"
say "|---|---|---|---|"
say "| compr_data_size before | $(mib "$compr") | | |"
say "| mem_used_total before -> after | $(mib "$used") -> $(mib "$used2") | | |"
say "| mem_used_total fall | $fall % | >= 90 % | $(verdict "$fall" 90 '>=') |"
say "| pages written back (bd_count) | $bd, in $(((t1 - t0) / 1000000)) ms | | |"
say "| backing allocated / compr_data_size | $(mib "$a") / $(mib "$compr") = $(ratio "$a" "$compr") | <= 1.10 | $(verdict "$(ratio "$a" "$compr")" 1.10 '<=') |"
say "| diff -r after drop_caches | $dif | clean | $([[ $dif == clean ]] && echo PASS || echo FAIL) |"
say "| backing allocated after blkdiscard | $(mib "$a2") of $(mib "$a0") ($(awk -v a="$a2" -v b="$a0" 'BEGIN { printf "%.2f", a * 100 / b }') %) | <= 1 % | $(verdict "$(ratio "$a2" "$a0")" 0.01 '<=') |"
say ""
stop
}

# --- 2. recompress ------------------------------------------------------------
stage2() {
start rc --size 2G --algo lz4
mkfs_copy
echo algo=zstd >"$MNT/recomp_algorithm"
lz4_used=$(mm "$MNT" 3) lz4_compr=$(mm "$MNT" 2)
echo all >"$MNT/idle"
t0=$(date +%s%N)
echo type=idle >"$MNT/recompress"
t1=$(date +%s%N)
echo 1 >"$MNT/compact"
rc_used=$(mm "$MNT" 3) rc_compr=$(mm "$MNT" 2) rc_n=$(json "$MNT" pages_recompressed)
stop
start zs --size 2G --algo zstd
mkfs_copy
echo 1 >"$MNT/compact"
z_used=$(mm "$MNT" 3) z_compr=$(mm "$MNT" 2)
stop
r=$(ratio "$rc_used" "$z_used")
say "## 2. recompress lz4 -> zstd (same trees)"
say ""
say "| figure | lz4 | lz4 recompressed with zstd | zstd direct | ratio recompressed / direct | target | |"
say "|---|---|---|---|---|---|---|"
say "| mem_used_total | $(mib "$lz4_used") | $(mib "$rc_used") | $(mib "$z_used") | $r | <= 1.03 | $(verdict "$r" 1.03 '<=') |"
say "| compr_data_size | $(mib "$lz4_compr") | $(mib "$rc_compr") | $(mib "$z_compr") | $(ratio "$rc_compr" "$z_compr") | | |"
say ""
say "$rc_n pages recompressed in $(((t1 - t0) / 1000000)) ms."
say ""
}

# --- 3. mem_target --------------------------------------------------------------
stage3() {
truncate -s 4G "$WORK/backing3"
start mt --size 2G --algo lz4 --backing-dev "$WORK/backing3" \
	--policy mem_target=64M,writeback=on,idle_after=0,interval=1
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$DEV"
fs_mount
target=$((64 << 20))
sampler() {
	local max=0 u
	while [[ ! -e $WORK/stop ]]; do
		u=$(mm "$MNT" 3)
		((u > max)) && max=$u
		sleep 0.1
	done
	echo "$max" >"$WORK/max"
}
sampler &
SPID=$!
t0=$(date +%s%N)
i=0
written=0
while ((written < 512 << 20)); do
	for t in $TREES; do
		cp -a "$t" "$FS/copy$i"
		written=$((written + $(du -sb "$t" | cut -f1)))
		i=$((i + 1))
		((written < 512 << 20)) || break
	done
done
sync
t1=$(date +%s%N)
touch "$WORK/stop"
wait $SPID
max=$(cat "$WORK/max")
sleep 5
after=$(mm "$MNT" 3)
fw=$(awk '{ print $2 }' "$MNT/io_stat")
ok=clean
for ((k = 0; k < i; k++)); do
	read -r -a tl <<<"$TREES"
	src=${tl[k % ${#tl[@]}]}
	diff -r --no-dereference "$src" "$FS/copy$k" >/dev/null || ok=DIFFERENT
done
say "## 3. mem_target=64M, writeback=on, idle_after=0 ($(mib "$written") of files)"
say ""
say "| figure | value | target | |"
say "|---|---|---|---|"
say "| copy time | $(((t1 - t0) / 1000000)) ms | | |"
say "| peak mem_used_total while writing (0.1 s samples) | $(mib "$max") = $(ratio "$max" "$target") x target | <= 1.5 x | $(verdict "$(ratio "$max" "$target")" 1.5 '<=') |"
say "| mem_used_total 5 s after | $(mib "$after") = $(ratio "$after" "$target") x target | <= 1.05 x | $(verdict "$(ratio "$after" "$target")" 1.05 '<=') |"
say "| failed_writes | $fw | 0 | $([[ $fw == 0 ]] && echo PASS || echo FAIL) |"
say "| diff -r of every copy | $ok | clean | $([[ $ok == clean ]] && echo PASS || echo FAIL) |"
say "| pages written back / policy passes | $(json "$MNT" bd_writes) / $(json "$MNT" policy_passes) | | |"
say ""
umount "$FS"
stop
}

# --- 4. randread from memory vs from the backing file --------------------------
stage4() {
truncate -s 4G "$WORK/backing4"
start rr --size 1G --algo lz4 --backing-dev "$WORK/backing4"
fio_rr() {
	fio --name=rr --filename="$DEV" --direct=1 --ioengine=libaio \
		--rw=randread --bs=4k --iodepth=16 --numjobs=2 --size=256M \
		--time_based --runtime="$RUNTIME" --ramp_time=1 \
		--group_reporting --output-format=json |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["jobs"][0]["read"]["iops"]))'
}
fio --name=fill --filename="$DEV" --direct=1 --ioengine=libaio --rw=write \
	--bs=1M --iodepth=8 --size=256M --buffer_compress_percentage=50 \
	--refill_buffers >/dev/null
mem_iops=$(fio_rr)
echo all >"$MNT/idle"
echo idle >"$MNT/writeback"
echo 3 >/proc/sys/vm/drop_caches
wb_iops=$(fio_rr)
say "## 4. 4 KiB random read, 2 jobs x iodepth 16, ${RUNTIME} s"
say ""
say "| disk | IOPS | ratio |"
say "|---|---|---|"
say "| in memory (lz4) | $mem_iops | 1.00 |"
say "| fully written back ($(json "$MNT" bd_count) pages, backing file on $(df --output=fstype "$WORK" | tail -1)) | $wb_iops | $(ratio "$wb_iops" "$mem_iops") |"
stop
}

for n in 1 2 3 4; do
	stage $n && "stage$n"
done
echo "report: $REPORT" >&2
