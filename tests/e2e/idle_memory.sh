#!/usr/bin/env bash
# idle_memory.sh - memory idles down, and comes back at once. A real tree
# is copied onto ext4 on the loop device and read back; after blkdiscard of
# the whole device and at most 30 s of idling, the daemon's RSS is at most
# its RSS at start + 2 MiB (the workers dropped their reply buffers and
# codec contexts, the pool its free-page cache, malloc its arenas' free
# memory). Then the next I/O works at once: 16 MiB written and read back
# through the loop device, the same data, at most 1 s slower than the same
# I/O repeated warm right after. Last, with 4 KiB reads going on (so no
# worker idles), the buffers that those 1 MiB requests touched go back
# within 2 s: RSS at most start + the pool + LARGE_SLACK (on FUSE over
# io_uring each of 16 entries a queue can hold a 1 MiB request; the pages
# past its first 64 KiB go back 0.2 s after a worker's last large request).
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

SLACK=$((2 << 20)) # bytes above the start RSS allowed after idling
LARGE_SLACK=$((8 << 20)) # above start + pool while small I/O goes on
IDLE=30            # seconds the daemon may take to idle down

e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 mount umount blkdiscard \
	cmp dd diff
tree=/usr/include/linux
[[ -d $tree ]] || tree=/usr/share/doc
e2e_tmpdir work
mnt=$work/uzram
fs=$work/fs
mkdir "$mnt" "$fs"
e2e_start "$mnt" --size 512M --algo zstd
sleep 0.5 # the ring's workers register right after the mount
rss0=$(e2e_rss)

e2e_losetup dev "$mnt/disk.img"
mkfs.ext4 -q -F "$dev"
e2e_mount "$dev" "$fs"
cp -a "$tree" "$fs/tree"
sync
echo 3 >/proc/sys/vm/drop_caches
diff -r "$tree" "$fs/tree" >/dev/null || e2e_fail "the tree reads back wrong"
rss_full=$(e2e_rss)
e2e_umount "$fs"
blkdiscard -f "$dev"
e2e_log "RSS: $rss0 at start, $rss_full with the tree; discarded"

dt=$(e2e_rss_wait $((rss0 + SLACK)) $((IDLE * 1000)))
e2e_log "RSS $(e2e_rss) after ${dt} ms idle (start $rss0, bound +$SLACK)"
if e2e_sanitized; then
	e2e_log "note: sanitized build (quarantine, shadow): RSS bound not checked"
else
	check "RSS idled down to start + 2 MiB within $IDLE s ($(e2e_rss) <= $((rss0 + SLACK)))" \
		test "$(e2e_rss)" -le $((rss0 + SLACK))
fi

head -c $((16 << 20)) /dev/urandom >"$work/data"
io_after_idle() {
	dd if="$work/data" of="$dev" bs=1M oflag=direct status=none &&
		cmp <(dd if="$dev" bs=1M count=16 iflag=direct status=none) \
			"$work/data"
}
# "At full speed within one second": the first 16 MiB after idling may take
# at most 1 s more than the same I/O again right after (warm workers,
# buffers and contexts back). Compared with itself, not with a fixed time,
# so a loaded machine slows both sides alike.
t0=$(e2e_now_ms)
io_after_idle || e2e_fail "16 MiB written and read back after idling: failed"
cold=$(($(e2e_now_ms) - t0))
t0=$(e2e_now_ms)
io_after_idle || e2e_fail "16 MiB written and read back again: failed"
warm=$(($(e2e_now_ms) - t0))
e2e_log "16 MiB written and read back: ${cold} ms after idling, ${warm} ms warm"
check "the first I/O after idling costs at most 1 s more than warm (${cold} <= ${warm} + 1000 ms)" \
	test "$cold" -le $((warm + 1000))

small_reads() { # 4 KiB direct reads of the 16 MiB, until killed
	while :; do
		dd if="$dev" of=/dev/null bs=4k count=64 iflag=direct \
			skip=$((RANDOM % 4000)) status=none || exit 1
	done
}
# 8 readers at once, so that 1 MiB requests land in many ring entries
readers=()
for _ in $(seq 8); do
	for _ in 1 2 3 4; do
		dd if="$dev" of=/dev/null bs=1M count=16 iflag=direct status=none
	done &
	readers+=($!)
done
for r in "${readers[@]}"; do
	wait "$r" || e2e_fail "1 MiB reads by 8 readers failed"
done
rss_large=$(e2e_rss)
small_reads &
reader=$!
e2e_cleanup_add "kill $reader 2>/dev/null"
pool=$(awk '{ print $3 }' "$mnt/mm_stat")
bound=$((rss0 + pool + LARGE_SLACK))
dt=$(e2e_rss_wait "$bound" 2000)
kill -0 "$reader" 2>/dev/null || e2e_fail "the 4 KiB reads stopped"
kill "$reader"
e2e_log "RSS $rss_large after the 1 MiB I/O, $(e2e_rss) ${dt} ms into 4 KiB reads (start $rss0, pool $pool, bound $bound)"
if e2e_sanitized; then
	e2e_log "note: sanitized build (quarantine, shadow): RSS bound not checked"
else
	check "RSS within start + pool + 8 MiB within 2 s of small I/O ($(e2e_rss) <= $bound)" \
		test "$(e2e_rss)" -le "$bound"
fi
e2e_losetup_detach "$dev"
e2e_stop "$mnt"
e2e_log "PASS"
