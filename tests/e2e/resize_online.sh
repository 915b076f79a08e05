#!/usr/bin/env bash
# resize_online.sh - online resize of a uzram disk under mounted file
# systems.
#
# Grow under I/O: while fio writes and verifies a file on a mounted XFS,
# `uzramctl --resize MOUNTPOINT 640M` grows disk.img and the loop device
# (LOOP_SET_CAPACITY) and xfs_growfs grows the mounted file system; fio's
# verify must pass and df must show the new size. Then ext4: grown by
# `uzramctl --resize` and resize2fs, online when this machine gives
# CAP_SYS_RESOURCE (ext4's online resize needs it; containers often drop
# it, then resize2fs runs unmounted and the log says so). Shrink over data is
# refused (EBUSY: uzramctl, the disksize file and truncate alike) and
# changes nothing; after resize2fs shrinks the (unmounted) file system and
# blkdiscard frees the tail, `uzramctl --resize DEVICE 96M` is allowed, and
# the file system mounts clean with its files intact. truncate(2) on
# disk.img is a resize too.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup mkfs.ext4 resize2fs e2fsck fio blkdiscard \
	blockdev fusermount3 mkfs.xfs xfs_growfs

CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
[[ -x "$CTL" ]] || e2e_fail "no uzramctl at '$CTL' (set UZRAMCTL_BIN)"

e2e_tmpdir work
mnt=$work/z
data=$work/data
mkdir "$mnt" "$data"
M=$((1 << 20))

# --- XFS: grow under fio verify
e2e_start "$mnt" --size 320M
e2e_losetup dev "$mnt/disk.img"
mkfs.xfs -q -K "$dev" || e2e_fail "mkfs.xfs"
e2e_mount "$dev" "$data"
fio --name=resize --thread --directory="$data" --size=64M --bs=4k --rw=randwrite \
	--ioengine=psync --direct=1 --verify=crc32c --verify_fatal=1 \
	--do_verify=1 --loops=4 --randrepeat=0 \
	--output="$work/fio.out" >/dev/null 2>&1 &
fio_pid=$! # --thread: one process, so one kill ends every job (and
# frees the file system for the umount that follows in the cleanup)
e2e_cleanup_add "kill $fio_pid 2>/dev/null; wait $fio_pid"
sleep 0.5
kill -0 "$fio_pid" 2>/dev/null || e2e_log "note: fio ended before the resize"
"$CTL" --resize "$mnt" 640M || e2e_fail "uzramctl --resize 640M"
check "disk.img is 640M" test "$(stat -c %s "$mnt/disk.img")" -eq $((640 * M))
check "disksize is 640M" test "$(cat "$mnt/disksize")" -eq $((640 * M))
check "the loop device is 640M" test "$(blockdev --getsize64 "$dev")" -eq $((640 * M))
xfs_growfs "$data" >"$work/grow.out" 2>&1 ||
	e2e_fail "xfs_growfs (online): $(head -1 "$work/grow.out"); io_stat" \
		"$(cat "$mnt/io_stat"); disk.img $(stat -c %s "$mnt/disk.img")"
kb=$(df -k --output=size "$data" | tail -1)
check "df shows the grown XFS ($kb KiB)" test "$kb" -gt $((500 * 1024))
kill -0 "$fio_pid" 2>/dev/null && e2e_log "ok: fio was still running after the grow"
wait "$fio_pid" || e2e_fail "fio verify failed across the resize: $(tail -20 "$work/fio.out")"
e2e_cleanup_drop "kill $fio_pid 2>/dev/null; wait $fio_pid"
grep -q "err= 0" "$work/fio.out" || e2e_fail "fio: $(grep err= "$work/fio.out")"
e2e_log "ok: fio verify passed across the grow"
e2e_umount "$data"
e2e_losetup_detach "$dev"
e2e_stop "$mnt"

# --- ext4: grow, online if the machine allows it
e2e_start "$mnt" --size 64M
e2e_losetup dev "$mnt/disk.img"
mkfs.ext4 -q -b 4096 -E nodiscard "$dev" || e2e_fail "mkfs.ext4"
e2e_mount "$dev" "$data"
head -c 8M /dev/urandom >"$work/keep"
cp "$work/keep" "$data/keep" && sync
"$CTL" --resize "$dev" 256M || e2e_fail "uzramctl --resize DEVICE 256M"
check "the loop device is 256M" test "$(blockdev --getsize64 "$dev")" -eq $((256 * M))
cap=$(awk '/^CapEff/ { print $2 }' /proc/self/status)
if (((16#$cap >> 24) & 1)); then
	resize2fs "$dev" >"$work/resize2fs.out" 2>&1 ||
		e2e_fail "resize2fs (online): $(cat "$work/resize2fs.out")"
	e2e_log "ok: resize2fs grew the mounted ext4"
else
	e2e_log "note: no CAP_SYS_RESOURCE here (ext4 online resize needs" \
		"it): resize2fs runs unmounted; the online grow is shown by XFS"
	e2e_umount "$data"
	e2fsck -fy "$dev" >/dev/null 2>&1 || true
	resize2fs "$dev" >"$work/resize2fs.out" 2>&1 ||
		e2e_fail "resize2fs: $(cat "$work/resize2fs.out")"
	e2e_mount "$dev" "$data"
fi
kb=$(df -k --output=size "$data" | tail -1)
check "df shows the grown ext4 ($kb KiB)" test "$kb" -gt $((200 * 1024))
check "files intact after the grow" cmp "$work/keep" "$data/keep"

# --- shrink over data: refused, nothing changes
rc=0
err=$("$CTL" --resize "$mnt" 64M 2>&1) || rc=$?
((rc == 1)) || e2e_fail "--resize 64M over data: exit $rc"
[[ $err == *"hold data"* && $(wc -l <<<"$err") -eq 1 ]] ||
	e2e_fail "--resize 64M: not one clear line: '$err'"
e2e_log "ok: shrink over data refused: $err"
if echo 64M >"$mnt/disksize" 2>"$work/err"; then
	e2e_fail "disksize 64M over data accepted"
fi
grep -q "busy" "$work/err" || e2e_fail "disksize shrink: $(cat "$work/err")"
if truncate -s 64M "$mnt/disk.img" 2>"$work/err"; then
	e2e_fail "truncate to 64M over data accepted"
fi
# --- past the store's limit: one line that says the limit
rc=0
err=$("$CTL" --resize "$mnt" 17T 2>&1) || rc=$?
((rc == 1)) || e2e_fail "--resize 17T: exit $rc"
[[ $err == *"at most 16T"* && $(wc -l <<<"$err") -eq 1 ]] ||
	e2e_fail "--resize 17T: not one clear line: '$err'"
e2e_log "ok: past the limit refused: $err"
check "still 256M after the refusals" test "$(cat "$mnt/disksize")" -eq $((256 * M))
check "the ext4 still works" cmp "$work/keep" "$data/keep"

# --- shrink the file system, discard the tail: the shrink is allowed
e2e_umount "$data"
e2fsck -fy "$dev" >/dev/null 2>&1 || true # resize2fs demands a fresh check
e2fsck -fn "$dev" >"$work/fsck.out" 2>&1 || e2e_fail "fsck before the shrink: $(cat "$work/fsck.out")"
resize2fs "$dev" 90M >"$work/resize2fs.out" 2>&1 ||
	e2e_fail "resize2fs 90M: $(cat "$work/resize2fs.out")"
blkdiscard -o $((96 * M)) "$dev" || e2e_fail "blkdiscard the tail"
"$CTL" --resize "$dev" 96M || e2e_fail "uzramctl --resize DEVICE 96M after the discard"
check "disk.img is 96M" test "$(stat -c %s "$mnt/disk.img")" -eq $((96 * M))
check "the loop device is 96M" test "$(blockdev --getsize64 "$dev")" -eq $((96 * M))
e2fsck -fn "$dev" >"$work/fsck.out" 2>&1 || e2e_fail "fsck after the shrink: $(cat "$work/fsck.out")"
e2e_mount "$dev" "$data"
check "files intact after the shrink" cmp "$work/keep" "$data/keep"
e2e_umount "$data"

# --- truncate(2) is a resize; reads past the end are short
e2e_losetup_detach "$dev"
truncate -s 128M "$mnt/disk.img" || e2e_fail "truncate -s 128M"
check "truncate grew the disk" test "$(cat "$mnt/disksize")" -eq $((128 * M))
check "the new part reads as zeros" cmp <(head -c 1M /dev/zero) \
	<(dd if="$mnt/disk.img" bs=1M skip=127 count=1 status=none)
if truncate -s 1000 "$mnt/disk.img" 2>/dev/null; then
	e2e_fail "truncate to a size that is not a multiple of 4 KiB accepted"
fi
e2e_stop "$mnt"
