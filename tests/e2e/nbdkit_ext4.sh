#!/usr/bin/env bash
# An ext4 image holding real trees (mkfs.ext4 -d: /usr/include/c++ and this
# repository's sources) goes into `nbdkit uzram` with nbdcopy and comes back
# out identical (cmp, qemu-img compare). The same disk is then mounted the
# way a user would without the daemon: nbdfuse + loop device + mount; the
# trees diff clean, a write through it lands, fsck finds nothing, and reset
# is refused while the client is connected. Pages never written read back as
# holes in nbdinfo --map.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nbdkit.sh"
e2e_require_root
e2e_require_cmd mkfs.ext4 losetup qemu-img nbdfuse fusermount3 e2fsck
nbdkit_setup
e2e_tmpdir tmp
src=${UZRAM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

mkdir "$tmp/tree" "$tmp/ctl" "$tmp/fuse" "$tmp/mnt" "$tmp/nbd"
cp -a /usr/include/c++ "$tmp/tree/c++"
cp -a "$src/src" "$src/docs" "$tmp/tree/"
truncate -s 256M "$tmp/in.img"
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 -d "$tmp/tree" \
	"$tmp/in.img" || e2e_fail "mkfs.ext4 -d"

nbdkit_start "$tmp/nbd" size=256M algo=zstd controls="$tmp/ctl"
nbdcopy "$tmp/in.img" "$NBD_URI" || e2e_fail "nbdcopy in"
nbdcopy "$NBD_URI" "$tmp/out.img" || e2e_fail "nbdcopy out"
check "nbdcopy in and out: identical" cmp "$tmp/in.img" "$tmp/out.img"
check "qemu-img compare: identical" \
	qemu-img compare -q -f raw -F raw "$tmp/in.img" "$NBD_URI"
read -r orig compr used _ <"$tmp/ctl/mm_stat"
e2e_log "mm_stat: orig_data_size $orig compr_data_size $compr mem_used_total $used"
check "the pool holds less than the data ($used < $orig)" test "$used" -lt "$orig"
map=$(nbdinfo --map "$NBD_URI")
check "nbdinfo --map reports holes (the image's unwritten blocks)" \
	grep -q "hole,zero" <<<"$map"

# the same disk through nbdfuse + loop + mount
e2e_cleanup_add "fusermount3 -u '$tmp/fuse'"
nbdfuse -P "$tmp/nbdfuse.pid" "$tmp/fuse/disk" "$NBD_URI" &
for ((i = 0; i < 100; i++)); do
	[[ -s $tmp/nbdfuse.pid ]] && break
	sleep 0.1
done
[[ -e $tmp/fuse/disk ]] || e2e_fail "nbdfuse did not come up"
e2e_losetup dev "$tmp/fuse/disk"
e2e_mount "$dev" "$tmp/mnt"
check "the trees diff clean through nbdfuse + loop + mount" \
	diff -r "$tmp/tree" "$tmp/mnt" -x lost+found
check "reset is refused while a client is connected" \
	bash -c "! echo 1 > '$tmp/ctl/reset'"
head -c 3M "$tmp/in.img" >"$tmp/mnt/written"
sync -f "$tmp/mnt/written" # this file system only: a global sync waits for every other mount on the machine
e2e_umount "$tmp/mnt"
e2e_losetup_detach "$dev"
fusermount3 -u "$tmp/fuse"
e2e_cleanup_drop "fusermount3 -u '$tmp/fuse'"
wait
nbdcopy "$NBD_URI" "$tmp/out.img" || e2e_fail "nbdcopy out after the mount"
check "e2fsck finds the file system clean" e2fsck -fn "$tmp/out.img"
check "the file written through the mount is there" \
	bash -c "debugfs -R 'stat /written' '$tmp/out.img' 2>/dev/null | grep -q 'Size: 3145728'"
check "reset works once every client is gone" \
	bash -c "echo 1 > '$tmp/ctl/reset'"
read -r orig _ <"$tmp/ctl/mm_stat"
check "after reset: orig_data_size 0 (got $orig)" test "$orig" = 0
nbdkit_stop "$tmp/nbd"
e2e_log "PASS"
