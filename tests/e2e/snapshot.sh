#!/usr/bin/env bash
# snapshot.sh - save and restore a disk holding a mounted ext4 file system:
# fsfreeze, `uzramctl --save` (the `save` control file), thaw; a second
# daemon started with --restore shows the same disk: e2fsck clean, the trees
# diff clean, mm_stat's data columns equal. The same snapshot through the
# nbdkit plugin (restore=) reads back byte for byte as the restored daemon's
# disk.img. A save held open by the test hook debug_save_delay blocks
# neither a write nor reads of disk.img, and the write is not in it. A corrupted, a
# truncated and a foreign file are each refused with one line on stderr and
# nothing mounted or served.
. "$(dirname "$0")/lib.sh"
e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 e2fsck fsfreeze diff cmp
ctl=${UZRAM_BUILD_DIR:?}/tools/uzramctl/uzramctl
e2e_tmpdir work
mkdir "$work/z1" "$work/z2" "$work/z3" "$work/fs" "$work/fs2"
cp -a /usr/include/c++ "$work/tree"

e2e_start "$work/z1" --size 256M --algo zstd
e2e_losetup dev "$work/z1/disk.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev" ||
	e2e_fail "mkfs.ext4"
e2e_mount "$dev" "$work/fs"
cp -a "$work/tree" "$work/fs/tree" || e2e_fail "cp -a"
e2e_cleanup_add "fsfreeze -u '$work/fs'"
fsfreeze -f "$work/fs" || e2e_fail "fsfreeze"
check "uzramctl --save while the file system is frozen" \
	"$ctl" --save "$work/z1" "$work/snap"
read -r -a mm1 <"$work/z1/mm_stat" # still frozen: nothing has changed
fsfreeze -u "$work/fs"
e2e_cleanup_drop "fsfreeze -u '$work/fs'"
check "the snapshot is there" test -s "$work/snap"
e2e_log "snapshot: $(stat -c %s "$work/snap") bytes; mm_stat ${mm1[*]:0:3}"
# writes after the save do not reach the snapshot
echo "after the save" >"$work/fs/late"
e2e_umount "$work/fs"
e2e_losetup_detach "$dev"
e2e_stop "$work/z1"

e2e_start "$work/z2" --restore "$work/snap"
read -r -a mm2 <"$work/z2/mm_stat"
check "restored mm_stat: orig_data_size ${mm2[0]} = ${mm1[0]}" \
	test "${mm2[0]}" = "${mm1[0]}"
check "restored mm_stat: compr_data_size ${mm2[1]} = ${mm1[1]}" \
	test "${mm2[1]}" = "${mm1[1]}"
check "restored mm_stat: same_pages ${mm2[5]} = ${mm1[5]}, huge ${mm2[7]} = ${mm1[7]}" \
	test "${mm2[5]}/${mm2[7]}" = "${mm1[5]}/${mm1[7]}"
check "restored comp_algorithm is zstd" grep -q '\[zstd\]' "$work/z2/comp_algorithm"
check "e2fsck -fn on the restored disk (frozen at save: clean)" \
	e2fsck -fn "$work/z2/disk.img"
e2e_losetup dev2 "$work/z2/disk.img"
e2e_mount "$dev2" "$work/fs2" -o ro
check "the trees diff clean" diff -r "$work/tree" "$work/fs2/tree"
check "the file written after the save is not in it" test ! -e "$work/fs2/late"
e2e_umount "$work/fs2"
e2e_losetup_detach "$dev2"

if command -v nbdkit >/dev/null && command -v nbdcopy >/dev/null; then
	. "$(dirname "$0")/lib_nbdkit.sh"
	nbdkit_setup
	mkdir "$work/nbd"
	nbdkit_start "$work/nbd" restore="$work/snap"
	nbdcopy "$NBD_URI" "$work/from-nbd.img" || e2e_fail "nbdcopy"
	check "nbdkit uzram restore= serves the same bytes as the daemon" \
		cmp "$work/from-nbd.img" "$work/z2/disk.img"
	nbdkit_stop "$work/nbd"
	rm -f "$work/from-nbd.img"
fi
# a save blocks neither reads nor writes: held open (up to 60 s, ended by
# the test), a write (a page
# far from the file system's data) and then 64 MiB of reads finish inside
# it; the write is not in the held snapshot
if [[ -e "$work/z2/debug_save_delay" ]]; then
	echo 60000 >"$work/z2/debug_save_delay"
	e2e_cleanup_add "echo 0 >'$work/z2/debug_save_delay'"
	echo "$work/held sync=0" >"$work/z2/save" &
	savepid=$!
	sleep 0.5
	check "a write during a save" \
		dd if=/dev/urandom of="$work/z2/disk.img" bs=4k count=1 \
		seek=60000 conv=notrunc oflag=direct status=none
	check "reads during a save: 64 MiB of disk.img" \
		dd if="$work/z2/disk.img" of=/dev/null bs=1M count=64 \
		iflag=direct status=none
	check "the save was still running when they ended" kill -0 "$savepid"
	echo 0 >"$work/z2/debug_save_delay" # the save goes on
	e2e_cleanup_drop "echo 0 >'$work/z2/debug_save_delay'"
	wait "$savepid" || e2e_fail "the held save failed"
	check "the held snapshot is there" test -s "$work/held"
	dd if="$work/z2/disk.img" of="$work/late.page" bs=4k count=1 \
		skip=60000 iflag=direct status=none
	mkdir "$work/z4"
	z2pid=$UZRAM_PID # e2e_start/e2e_stop track one daemon at a time
	e2e_start "$work/z4" --restore "$work/held"
	check "the held snapshot has the page as it was before the write" \
		bash -c "! cmp -s <(dd if='$work/z4/disk.img' bs=4k count=1 skip=60000 iflag=direct status=none) '$work/late.page'"
	e2e_stop "$work/z4"
	UZRAM_PID=$z2pid
else
	e2e_log "no debug_save_delay file (built without UZRAM_TEST_HOOKS): reads during a save not checked"
fi
e2e_stop "$work/z2"

# refusals: one line, nothing mounted
size=$(stat -c %s "$work/snap")
cp "$work/snap" "$work/bad"
printf '\xff' | dd of="$work/bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
head -c $((size - 100)) "$work/snap" >"$work/short"
printf 'hello, not a snapshot\n' >"$work/foreign"
for f in bad short foreign; do
	if "$(e2e_bin)" "$work/z3" -f --restore "$work/$f" 2>"$work/err"; then
		e2e_fail "--restore $f was accepted"
	fi
	e2e_log "--restore $f: $(cat "$work/err")"
	check "--restore $f: one line on stderr" test "$(wc -l <"$work/err")" = 1
	check "--restore $f: nothing mounted" bash -c "! e2e_is_mounted '$work/z3' 2>/dev/null && ! grep -q ' $work/z3 ' /proc/mounts"
done
e2e_log "PASS"
