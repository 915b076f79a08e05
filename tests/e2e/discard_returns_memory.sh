#!/usr/bin/env bash
# discard_returns_memory.sh - memory comes back when data is discarded:
# 1. ext4 on the loop device, mounted without -o discard: files written
#    then deleted keep their pages until fstrim, which must give back at
#    least 90 % of the pool memory they took (notify_free grows). Mounted
#    with -o discard, rm and sync alone must do the same.
# 2. blkdiscard -z (write zeroes) of a range of the loop device frees its
#    memory and reads zeros; blkdiscard of the whole device leaves
#    orig_data_size 0, the pool ~empty, and the daemon's resident memory
#    back near where it started within a second (the OS gets the pages
#    back; on FUSE over io_uring the ring entries' pages of the last large
#    requests go back 0.2 s after them, transport_uring.c).
# 3. fallocate on disk.img itself (no loop device): --punch-hole frees the
#    pages it covers (notify_free grows, orig_data_size falls, reads zeros),
#    --zero-range turns pages into same-filled ones (same_pages grows,
#    compressed bytes fall, reads zeros); data around both stays intact.
# 4. Same-filled pages (one byte, or one 8-byte word, repeated) are counted
#    in same_pages and take no pool memory; a page that differs in its last
#    byte is stored; all read back.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 mount umount fstrim \
	blkdiscard fallocate cmp dd python3
PY=$(command -v /usr/bin/python3 || command -v python3)

mm() { # mm COLUMN: one mm_stat column, 1-based
	awk -v c="$1" '{ print $c }' "$mnt/mm_stat"
}
io() { # io COLUMN: one io_stat column (4 = notify_free)
	awk -v c="$1" '{ print $c }' "$mnt/io_stat"
}

e2e_tmpdir work
mnt=$work/uzram
fs=$work/fs
mkdir "$mnt" "$fs"
e2e_start "$mnt" --size 512M
rss0=$(e2e_rss)
e2e_losetup dev "$mnt/disk.img"

# --- 1. fstrim after deleting files
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
	"$dev" || e2e_fail "mkfs.ext4 $dev"
e2e_mount "$dev" "$fs" -o nodiscard
sync -f "$fs"
base=$(mm 3)
# Some compressible files and some incompressible ones, so that the data
# outweighs the metadata that stays behind (inodes, journal).
cp -a /usr/include/linux "$fs/headers" || e2e_fail "cp /usr/include/linux"
for i in 1 2 3; do
	head -c 48M /dev/urandom >"$fs/random$i" || e2e_fail "writing random$i"
done
sync -f "$fs"
full=$(mm 3)
rss_full=$(e2e_rss)
e2e_log "mem_used_total: $base after mkfs, $full with the files"
check "the files took pool memory ($full > $base + 100 MiB)" \
	test "$full" -gt $((base + (100 << 20)))
rm -rf "${fs:?}/headers" "$fs"/random?
sync -f "$fs"
deleted=$(mm 3)
free0=$(io 4)
fstrim -v "$fs" || e2e_fail "fstrim $fs"
trimmed=$(mm 3)
free1=$(io 4)
e2e_log "mem_used_total: $deleted after rm, $trimmed after fstrim;" \
	"notify_free $free0 -> $free1"
check "fstrim gave back >= 90 % of the memory ($trimmed <= $full / 10)" \
	test $((trimmed * 10)) -le "$full"
check "notify_free grew by the trimmed pages (>= 100 MiB)" \
	test $((free1 - free0)) -ge $((100 << 20 >> 12))
e2e_stats_agree "$mnt"
e2e_umount "$fs"

# --- 1b. mounted with -o discard: rm alone gives the memory back
e2e_mount "$dev" "$fs" -o discard
sync -f "$fs"
base_d=$(mm 3)
head -c 64M /dev/urandom >"$fs/random" || e2e_fail "writing random"
sync -f "$fs"
full_d=$(mm 3)
rm "$fs/random"
sync -f "$fs"
# ext4 sends online discards after the journal commit, asynchronously:
# give them up to 10 s to land.
for ((i = 0; i < 200; i++)); do
	(((full_d - $(mm 3)) * 10 >= (full_d - base_d) * 9)) && break
	sleep 0.05
done
e2e_log "-o discard: mem_used_total $base_d before, $full_d with a 64 MiB" \
	"file, $(mm 3) $((i * 50)) ms after rm + sync"
check "-o discard: rm gave back >= 90 % of the file's memory" \
	test $(((full_d - $(mm 3)) * 10)) -ge $(((full_d - base_d) * 9))
e2e_umount "$fs"

# --- 2. blkdiscard -z of part of the device (write zeroes), then of all
head -c 4M /dev/urandom >"$work/rand4"
dd if="$work/rand4" of="$dev" bs=1M seek=100 oflag=direct status=none ||
	e2e_fail "writing 4 MiB to $dev"
compr0=$(mm 2)
blkdiscard -f -z -o $((100 << 20)) -l $((4 << 20)) "$dev" ||
	e2e_fail "blkdiscard -z $dev"
e2e_log "blkdiscard -z 4 MiB: compr_data_size $compr0 -> $(mm 2)," \
	"same_pages $(mm 6)"
check "blkdiscard -z released the 4 MiB (compr_data_size fell >= 4 MiB)" \
	test $((compr0 - $(mm 2))) -ge $((4 << 20))
cmp -s -n $((4 << 20)) <(dd if="$dev" bs=1M skip=100 count=4 \
	iflag=direct status=none) /dev/zero ||
	e2e_fail "the range does not read as zeros after blkdiscard -z"
e2e_log "ok: the range reads as zeros"
blkdiscard -f "$dev" || e2e_fail "blkdiscard $dev"
e2e_log "daemon RSS: $rss0 at start, $rss_full with the files, $(e2e_rss) now"
check "the daemon's RSS held the pool ($rss_full >= $full)" \
	test "$rss_full" -ge "$full"
# Left over: the touched slot table (2 MiB here), per-thread buffers.
if e2e_sanitized; then
	e2e_log "note: sanitized build (quarantine, shadow): RSS fall not checked"
else
	dt=$(e2e_rss_wait $((rss0 + (16 << 20))) 1000)
	e2e_log "daemon RSS $(e2e_rss) after $dt ms"
	check "the daemon's RSS fell back to within 16 MiB of its start" \
		test "$(e2e_rss)" -le $((rss0 + (16 << 20)))
fi
e2e_log "after blkdiscard: mm_stat $(cat "$mnt/mm_stat")"
check "orig_data_size is 0 after blkdiscard" test "$(mm 1)" -eq 0
check "compr_data_size is 0 after blkdiscard" test "$(mm 2)" -eq 0
check "mem_used_total ~0 after blkdiscard ($(mm 3) <= 64 KiB)" \
	test "$(mm 3)" -le 65536
cmp -s -n $((512 << 20)) "$dev" /dev/zero ||
	e2e_fail "the device does not read as zeros after blkdiscard"
e2e_log "ok: the whole device reads as zeros"
e2e_losetup_detach "$dev"

# --- 3. fallocate straight on disk.img
# 16 MiB of compressible pages (C headers), none same-filled.
(find /usr/include -name '*.h' -exec cat {} + 2>/dev/null || :) |
	head -c 16M >"$work/data"
check "16 MiB of headers to write" test "$(stat -c %s "$work/data")" -eq $((16 << 20))
dd if="$work/data" of="$mnt/disk.img" bs=1M conv=notrunc status=none ||
	e2e_fail "writing 16 MiB to disk.img"
cp "$work/data" "$work/expect"
orig0=$(mm 1) compr0=$(mm 2) same0=$(mm 6) free0=$(io 4)
e2e_log "16 MiB written: mm_stat $(cat "$mnt/mm_stat")"
check "16 MiB stored" test "$orig0" -eq $((16 << 20))

# Punch 4 MiB at 2 MiB, plus an unaligned hole (zeroes the partial pages).
fallocate --punch-hole --offset $((2 << 20)) --length $((4 << 20)) \
	"$mnt/disk.img" || e2e_fail "fallocate --punch-hole on disk.img"
fallocate --punch-hole --offset $((2 << 20)) --length $((4 << 20)) \
	"$work/expect"
orig1=$(mm 1) free1=$(io 4)
e2e_log "punch-hole 4 MiB: mm_stat $(cat "$mnt/mm_stat"), notify_free $free1"
check "orig_data_size fell by 4 MiB" test $((orig0 - orig1)) -eq $((4 << 20))
check "notify_free grew by 1024 pages" test $((free1 - free0)) -eq 1024

# Zero-range 4 MiB at 10 MiB: the pages stay stored, as same-filled ones.
compr1=$(mm 2)
fallocate --zero-range --offset $((10 << 20)) --length $((4 << 20)) \
	"$mnt/disk.img" || e2e_fail "fallocate --zero-range on disk.img"
fallocate --zero-range --offset $((10 << 20)) --length $((4 << 20)) \
	"$work/expect"
e2e_log "zero-range 4 MiB: mm_stat $(cat "$mnt/mm_stat")"
check "same_pages grew by 1024" test $(($(mm 6) - same0)) -eq 1024
check "compr_data_size fell ($(mm 2) < $compr1)" test "$(mm 2)" -lt "$compr1"
check "orig_data_size unchanged by zero-range" test "$(mm 1)" -eq "$orig1"

# An unaligned hole: 3 whole pages freed, the partial ends zeroed.
free2=$(io 4)
fallocate --punch-hole --offset $((7 * 4096 + 100)) --length $((4 * 4096)) \
	"$mnt/disk.img" || e2e_fail "unaligned fallocate --punch-hole"
fallocate --punch-hole --offset $((7 * 4096 + 100)) --length $((4 * 4096)) \
	"$work/expect"
check "unaligned hole freed its 3 whole pages" \
	test $(($(io 4) - free2)) -eq 3

cmp -n $((16 << 20)) "$mnt/disk.img" "$work/expect" ||
	e2e_fail "disk.img differs from the expected content after fallocate"
e2e_log "ok: disk.img reads zeros in the holes and the data around them"
e2e_stats_agree "$mnt"

# --- 4. same-filled pages take no pool memory: 256 pages of one byte, 256
# of one 8-byte word repeated (4 KiB-aligned); then 256 pages that differ
# from a same-filled page only in their last byte, which must be stored.
"$PY" - "$work/same" <<'EOF'
import sys
out = open(sys.argv[1], "wb")
out.write(b"\x5a" * 4096 * 256)
out.write(b"uzram-8B" * 512 * 256)
out.write((b"\x5a" * 4095 + b"\x5b") * 256)
EOF
same0=$(mm 6) used0=$(mm 3) orig0=$(mm 1)
dd if="$work/same" of="$mnt/disk.img" bs=1M seek=32 conv=notrunc \
	status=none || e2e_fail "writing the same-filled pages"
e2e_log "same-filled pages written: mm_stat $(cat "$mnt/mm_stat")"
check "512 same-filled pages counted (same_pages +$(($(mm 6) - same0)))" \
	test $(($(mm 6) - same0)) -eq 512
check "orig_data_size grew by all 768 pages" \
	test $(($(mm 1) - orig0)) -eq $((768 * 4096))
check "the 256 almost-same pages took pool memory, < 64 KiB" \
	test $(($(mm 3) - used0)) -gt 0 -a $(($(mm 3) - used0)) -le 65536
cmp -n $((768 * 4096)) <(dd if="$mnt/disk.img" bs=1M skip=32 count=3 \
	status=none) "$work/same" || e2e_fail "same-filled pages read back wrong"
e2e_log "ok: same-filled and almost-same pages read back"
e2e_stats_agree "$mnt"

e2e_stop "$mnt"
e2e_log "PASS"
