#!/usr/bin/env bash
# tools/demo.sh - uzram's main job in one command (run as root):
#   install the packages (tools/deps.sh), build the release preset, mount a
#   compressed RAM disk, put ext4 on it through a loop device with direct
#   I/O, copy /usr/include onto it, and show what it costs: mm_stat, the
#   compression ratio and uzramctl's table. Everything it creates (mount,
#   loop device, filesystem, daemon, temp dir) is undone on every exit path.
#
# Environment: DEMO_ALGO (lz4, lz4hc or zstd; default zstd), DEMO_SIZE
# (default 1G), DEMO_DATA (what to copy; default /usr/include).
set -euo pipefail

cd "$(dirname "$0")/.."
ALGO=${DEMO_ALGO:-zstd}
SIZE=${DEMO_SIZE:-1G}
DATA=${DEMO_DATA:-/usr/include}

[ "$(id -u)" = 0 ] || {
	echo "demo.sh: run as root (losetup and mount need it)" >&2
	exit 1
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "packages"
tools/deps.sh

step "build (release preset)"
cmake --preset release >/dev/null
cmake --build --preset release --target uzram uzramctl
UZRAM=build/release/src/fuse/uzram
UZRAMCTL=build/release/tools/uzramctl/uzramctl

WORK=$(mktemp -d /tmp/uzram-demo.XXXXXX)
MP=$WORK/uzram # the uzram mount: disk.img and the stat files
FS=$WORK/fs    # the ext4 filesystem on the loop device

# Cleanup, registered before anything is created; undoes only what this
# script made, in reverse order, whatever the exit path.
cleanup() {
	local rc=$? d
	trap - EXIT INT TERM
	set +e
	if mountpoint -q "$FS"; then umount "$FS"; fi
	for d in $(losetup --list -n -O NAME -j "$MP/disk.img" 2>/dev/null); do
		losetup -d "$d"
	done
	if mountpoint -q "$MP"; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			fusermount3 -u "$MP" 2>/dev/null && break
			sleep 0.2
		done
	fi
	rm -rf --one-file-system "$WORK"
	[ $rc = 0 ] && echo "cleaned up" || echo "demo failed (exit $rc); cleaned up" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$MP" "$FS"

step "mount a $SIZE compressed disk ($ALGO)"
echo "\$ uzram $MP --size $SIZE --algo $ALGO"
"$UZRAM" "$MP" --size "$SIZE" --algo "$ALGO"
ls -l "$MP"

step "loop device with direct I/O, ext4, mount"
DEV=$(losetup --find --show --direct-io=on "$MP/disk.img")
echo "\$ losetup --find --show --direct-io=on $MP/disk.img  ->  $DEV"
mkfs.ext4 -q "$DEV"
mount "$DEV" "$FS"
df -h "$FS" | tail -1

step "copy $DATA"
time cp -a "$DATA" "$FS/"
sync
du -sh --apparent-size "$FS/$(basename "$DATA")"
# remount so the read-back comes from the compressed disk, not the page cache
umount "$FS"
mount "$DEV" "$FS"
diff -r --no-dereference "$DATA" "$FS/$(basename "$DATA")" &&
	echo "read back after a remount: identical"

step "what it costs"
echo "mm_stat (orig_data_size compr_data_size mem_used_total mem_limit"
echo "         mem_used_max same_pages pages_compacted huge_pages huge_pages_since):"
cat "$MP/mm_stat"
read -r orig compr total _ <"$MP/mm_stat"
awk -v o="$orig" -v c="$compr" -v t="$total" 'BEGIN {
	printf "compression ratio %.2f (data / compressed), ", o / c
	printf "memory ratio %.2f (data / memory used)\n", o / t
}'
echo
"$UZRAMCTL" -o +COMP-RATIO,ZERO-PAGES,HUGE-PAGES "$MP"

step "clean up"
umount "$FS"
UZRAM_BIN=$UZRAM "$UZRAMCTL" --reset "$DEV"
echo "unmounted $FS, detached $DEV, stopped the daemon"
