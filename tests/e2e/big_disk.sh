#!/usr/bin/env bash
# big_disk.sh - a disk's size costs address space, not time or memory: a
# 16 TiB uzram starts small, and `idle all`, `idle 60` and `reset` on it
# take well under a second each (walks skip table pages never touched;
# before, each walked 2^32 slots with the control lock held). Pages written
# far apart (0, 8 TiB, the last page) are all found by `idle all`, read
# back, and go with `reset`.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"

e2e_start "$mnt" --size 16T
rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$UZRAM_PID/status")
e2e_log "--size 16T: RSS $rss kB at start"
e2e_sanitized || ((rss < 32 * 1024)) || e2e_fail "--size 16T starts at $rss kB RSS"

e2e_timed 1000 "idle all (untouched 16 TiB)" sh -c "echo all >'$mnt/idle'"
e2e_timed 1000 "idle 60 (untouched 16 TiB)" sh -c "echo 60 >'$mnt/idle'"
e2e_timed 1000 "reset (untouched 16 TiB)" sh -c "echo 1 >'$mnt/reset'"

# three pages far apart: 0, 8 TiB, the last one
head -c 4096 /dev/urandom >"$work/page"
dd if="$work/page" of="$mnt/disk.img" bs=4096 seek=0 conv=notrunc status=none
dd if="$work/page" of="$mnt/disk.img" bs=4096 seek=$((2 << 30)) conv=notrunc status=none
dd if="$work/page" of="$mnt/disk.img" bs=4096 seek=$(((4 << 30) - 1)) conv=notrunc status=none
e2e_timed 1000 "idle all (3 pages)" sh -c "echo all >'$mnt/idle'"
idle=$(sed -n 's/^ *"idle_pages": *\([0-9]*\),*$/\1/p' "$mnt/stats.json")
((idle == 3)) || e2e_fail "idle_pages $idle after idle all, want 3"
cmp -n 4096 "$work/page" <(dd if="$mnt/disk.img" bs=4096 skip=$((2 << 30)) count=1 status=none) ||
	e2e_fail "the page at 8 TiB did not read back"
e2e_timed 1000 "reset (3 pages)" sh -c "echo 1 >'$mnt/reset'"
read -r orig _ <"$mnt/mm_stat"
((orig == 0)) || e2e_fail "orig_data_size $orig after reset"
e2e_stop "$mnt"
e2e_log "PASS"
