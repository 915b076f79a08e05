#!/usr/bin/env bash
# other_filesystems.sh - the ext4 round trip with XFS and Btrfs: for each, a
# fresh 512 MiB uzram (XFS on zstd, Btrfs on lz4hc), losetup (XFS with
# --direct-io=on, Btrfs buffered, as when a user forgets the option), mkfs,
# mount, copy /usr/include/linux, unmount, mount again, diff -r, the
# filesystem's own read-only checker, and mm_stat consistent with the data
# (stored, compressed smaller, pool memory >= compressed bytes,
# orig_data_size >= the tree's 4 KiB blocks less same-filled pages, the
# classes table agreeing with mm_stat).
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

SRC=${E2E_FS_SRC:-/usr/include/linux}

e2e_require_root
e2e_require_cmd fusermount3 losetup mount umount diff du mkfs.xfs \
	xfs_repair mkfs.btrfs btrfs
[[ -d "$SRC" ]] || e2e_skip "no $SRC to copy"
grep -qw xfs /proc/filesystems || modprobe xfs 2>/dev/null ||
	e2e_skip "the kernel has no xfs"
grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null ||
	e2e_skip "the kernel has no btrfs"


e2e_tmpdir work

roundtrip() { # roundtrip FSTYPE DIRECT_IO(on|off) ALGO
	local type=$1 mnt=$work/$1.uzram fs=$work/$1.fs dev tree orig compr used same
	mkdir "$mnt" "$fs"
	e2e_start "$mnt" --size 512M --algo "$3"
	if [[ $2 == on ]]; then
		e2e_losetup dev "$mnt/disk.img"
	else # as a user who forgets --direct-io: the loop's page cache
		dev=$(losetup --find --show "$mnt/disk.img") ||
			e2e_fail "losetup $mnt/disk.img"
		e2e_cleanup_add "losetup -d '$dev'"
	fi
	e2e_log "$type on $dev, --algo $3, direct I/O" \
		"$(losetup --list --noheadings -O DIO "$dev")"
	case $type in
	xfs) mkfs.xfs -q -f "$dev" ;;
	btrfs) mkfs.btrfs -q -f "$dev" >/dev/null ;;
	esac || e2e_fail "mkfs.$type $dev"
	e2e_mount "$dev" "$fs"
	cp -a "$SRC" "$fs/tree" || e2e_fail "$type: cp -a $SRC"
	e2e_umount "$fs"
	e2e_mount "$dev" "$fs"
	diff -r --no-dereference "$SRC" "$fs/tree" >"$work/diff" 2>&1 || {
		head -20 "$work/diff" >&2
		e2e_fail "$type: diff -r $SRC against the copy on uzram"
	}
	e2e_log "ok: $type: diff -r finds the copy identical after a remount"
	tree=$(($(du -s --block-size=4096 "$fs/tree" | cut -f1) * 4096))
	e2e_umount "$fs"
	case $type in
	xfs) xfs_repair -n "$dev" ;;
	btrfs) btrfs check --readonly "$dev" ;;
	esac >"$work/fsck" 2>&1 || {
		cat "$work/fsck" >&2
		e2e_fail "$type: the filesystem check found errors"
	}
	e2e_log "ok: $type: read-only filesystem check clean"
	read -r orig compr used _ _ same _ <"$mnt/mm_stat"
	e2e_log "$type: mm_stat $(cat "$mnt/mm_stat"); tree $tree bytes (du)"
	check "$type: orig_data_size $orig > 0" test "$orig" -gt 0
	check "$type: compr_data_size $compr < orig_data_size $orig" \
		test "$compr" -lt "$orig"
	check "$type: mem_used_total $used >= compr_data_size $compr" \
		test "$used" -ge "$compr"
	check "$type: orig_data_size >= tree - same_pages * 4K" \
		test "$orig" -ge $((tree - same * 4096))
	e2e_stats_agree "$mnt"
	e2e_log "ok: $type: the classes table agrees with mm_stat"
	e2e_losetup_detach "$dev"
	e2e_stop "$mnt"
}

roundtrip xfs on zstd
roundtrip btrfs off lz4hc
e2e_log "PASS"
