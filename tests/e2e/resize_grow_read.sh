#!/usr/bin/env bash
# resize_grow_read.sh - right after `uzramctl --resize` grows a disk whose
# loop device is being written, the loop device reads its new last page.
#
# The regression: uzramctl stat'ed disk.img and then grew the loop device
# (LOOP_SET_CAPACITY). The kernel gives stat (and LOOP_SET_CAPACITY) the
# daemon's GETATTR reply, but drops it from the inode when a write to the
# file completed while the request was out (FUSE's attr_version check).
# The loop device was then grown while the kernel's i_size of disk.img was
# the old one, and FUSE answers direct reads past that with 0 bytes, which
# the loop driver reports as EIO: xfs_growfs failed with EIO in
# resize_online under load. It failed in about 1 grow in 10 with two
# writers. Now uzramctl waits until the kernel's own size (statx
# AT_STATX_DONT_SYNC) is the new one before it touches the loop device.
# Every read of the new end must succeed and read zeros.
# Grows: 100 x UZRAM_STRESS_SCALE.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup fio

CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
[[ -x "$CTL" ]] || e2e_fail "no uzramctl at '$CTL' (set UZRAMCTL_BIN)"

e2e_tmpdir work
mnt=$work/z
mkdir "$mnt"
M=$((1 << 20))
n=$((100 * ${UZRAM_STRESS_SCALE:-1}))

e2e_start "$mnt" --size 16M
e2e_losetup dev "$mnt/disk.img"
# writers on the first 16 MiB: each completed write bumps the kernel's
# attribute version of disk.img (--thread: one kill ends every job)
fio --name=w --thread --filename="$dev" --size=16M --bs=4k --rw=randwrite \
	--ioengine=psync --direct=1 --time_based --runtime=600 --numjobs=2 \
	>/dev/null 2>&1 &
fio_pid=$!
e2e_cleanup_add "kill $fio_pid 2>/dev/null; wait $fio_pid"
sleep 0.3
kill -0 "$fio_pid" 2>/dev/null || e2e_fail "fio did not start"

fails=0
for ((i = 1; i <= n; i++)); do
	size=$(((16 + i) * M))
	"$CTL" --resize "$mnt" "$size" || e2e_fail "uzramctl --resize $size (grow $i)"
	[[ $(blockdev --getsize64 "$dev") -eq $size ]] ||
		e2e_fail "grow $i: the loop device is $(blockdev --getsize64 "$dev"), not $size"
	if ! dd if="$dev" of="$work/last" bs=4k count=1 skip=$((size / 4096 - 1)) \
		iflag=direct status=none 2>"$work/err"; then
		fails=$((fails + 1))
		e2e_log "grow $i to $size: reading the new last page: $(cat "$work/err")"
		continue
	fi
	cmp -s "$work/last" <(head -c 4096 /dev/zero) ||
		e2e_fail "grow $i: the new last page is not zeros"
done
kill -0 "$fio_pid" 2>/dev/null || e2e_fail "fio ended early (a write failed?)"
kill "$fio_pid"
wait "$fio_pid" || : # killed: its status says only that (checked alive above)
e2e_cleanup_drop "kill $fio_pid 2>/dev/null; wait $fio_pid"
((fails == 0)) || e2e_fail "$fails of $n reads of the new end failed"
e2e_log "ok: $n grows under writes, every new end read back as zeros"
e2e_losetup_detach "$dev"
e2e_stop "$mnt"
