#!/usr/bin/env bash
# ext4_roundtrip.sh - the typical session: losetup --direct-io=on, mkfs.ext4,
# mount, copy /usr/include, unmount, mount again, diff -r, e2fsck -fn; then
# mm_stat must describe the data: something stored, compressed smaller than
# it was, pool memory at least the compressed bytes, and orig_data_size at
# least the copied tree's 4 KiB blocks (du) less the same-filled pages, and
# not wildly more (filesystem metadata and journal aside).
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

SRC=${E2E_EXT4_SRC:-/usr/include}

e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 e2fsck mount umount diff du
[[ -d "$SRC" ]] || e2e_skip "no $SRC to copy"

# mm_stat columns into the array MM (orig compr used limit max same ...).
mm_read() { read -r -a MM <"$mnt/mm_stat" || e2e_fail "reading mm_stat"; }

e2e_tmpdir work
mnt=$work/uzram
fs=$work/fs
mkdir "$mnt" "$fs"
e2e_start "$mnt" --size 512M
e2e_losetup dev "$mnt/disk.img"
e2e_log "loop device $dev on $mnt/disk.img, direct I/O:" \
	"$(losetup --list --noheadings -O DIO "$dev")"

mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev" ||
	e2e_fail "mkfs.ext4 $dev"
e2e_mount "$dev" "$fs"
t0=$(e2e_now_ms)
cp -a "$SRC" "$fs/tree" || e2e_fail "cp -a $SRC"
e2e_umount "$fs"
e2e_log "copied $SRC and unmounted in $(($(e2e_now_ms) - t0)) ms"

e2e_mount "$dev" "$fs"
diff -r --no-dereference "$SRC" "$fs/tree" >"$work/diff" 2>&1 || {
	head -20 "$work/diff" >&2
	e2e_fail "diff -r $SRC against the copy read back from uzram"
}
e2e_log "ok: diff -r finds the copy identical after a remount"
tree_kib=$(du -s --block-size=4096 "$fs/tree" | cut -f1)
tree_bytes=$((tree_kib * 4096))
e2e_umount "$fs"

e2fsck -fn "$dev" >"$work/fsck" 2>&1 || {
	cat "$work/fsck" >&2
	e2e_fail "e2fsck -fn $dev is not clean"
}
e2e_log "ok: e2fsck -fn clean"

mm_read
e2e_log "mm_stat: ${MM[*]}"
e2e_log "copied tree: $tree_bytes bytes in 4 KiB blocks (du)"
orig=${MM[0]} compr=${MM[1]} used=${MM[2]} same=${MM[5]}
check "orig_data_size $orig > 0" test "$orig" -gt 0
check "compr_data_size $compr < orig_data_size $orig" test "$compr" -lt "$orig"
check "mem_used_total $used >= compr_data_size $compr" \
	test "$used" -ge "$compr"
check "orig_data_size $orig >= tree $tree_bytes - same_pages $same * 4K" \
	test "$orig" -ge $((tree_bytes - same * 4096))
# Metadata on top of the tree: inode tables (zeroed at mkfs: same-filled),
# directories (counted by du), bitmaps, a 16 MiB journal. A quarter more
# plus 64 MiB is far beyond that, and far below a disk full of garbage.
check "orig_data_size $orig - same pages <= tree * 1.25 + 64 MiB" \
	test $((orig - same * 4096)) -le $((tree_bytes * 5 / 4 + (64 << 20)))
e2e_stats_agree "$mnt"
e2e_log "ok: the classes table agrees with mm_stat and stats.json"
ratio=$(awk -v o="$orig" -v c="$compr" 'BEGIN { printf "%.2f", o / c }')
e2e_log "compression ratio (orig/compr) $ratio"

e2e_losetup_detach "$dev"
e2e_stop "$mnt"
e2e_log "PASS"
