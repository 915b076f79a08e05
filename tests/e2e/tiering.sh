#!/usr/bin/env bash
# tiering.sh - writeback to a backing file through the daemon, end to end.
# 1. --backing-dev FILE: ext4 with a real tree, `idle all`, `writeback
#    idle`: mem_used_total falls to (almost) nothing, bd_stat counts the
#    pages, the backing file's allocated bytes are about the compressed
#    size, and after drop_caches the tree diffs clean read from the file.
# 2. blkdiscard of the whole disk gives the backing file's blocks back.
# 3. Control-file errors as zram: bad syntax EINVAL, index past the end
#    ERANGE, no backing store ENODEV, budget used up EIO; nothing changes.
# 4. A backing file on a tiny tmpfs that fills: writeback fails with ENOSPC,
#    every page stays readable, the daemon keeps serving.
# 5. A backing store that starts failing after the writeback (another
#    uzram's disk.img whose daemon is killed; this kernel has no
#    device-mapper for dm's `error` target): reads of the written-back pages
#    fail with EIO and count in failed_reads, the pages in memory still
#    read, a new writeback gets EIO and loses nothing.
# 6. --policy mem_target in a daemon that forked into the background: the
#    policy thread runs (it starts with the first I/O, after the fork) and
#    brings mem_used_total under the target by itself.
# 7. mem_target with --dedup and group=on: ext4 holding two copies of a
#    tree (every data page shared) and the policy grouping idle pages
#    before it writes back: mem_used_total still falls under the target
#    (shared objects and frames used to stay in memory), and both copies
#    diff clean read back from the backing file.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

SRC=${E2E_TIER_SRC:-/usr/lib/python3.11}

e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 mount umount diff blkdiscard \
	truncate stat cmp
[[ -d "$SRC" ]] || e2e_skip "no $SRC to copy"

mm() { awk -v c="$2" '{ print $c }' "$1/mm_stat"; }
bd() { awk -v c="$2" '{ print $c }' "$1/bd_stat"; }
alloc() { echo $(($(stat -c %b "$1") * 512)); }
# ctl FILE VALUE EXPECTED-ERROR-TEXT|ok
ctl() {
	local out
	if out=$( (echo "$2" >"$1") 2>&1); then
		[[ $3 == ok ]] || e2e_fail "echo '$2' > $1 succeeded, wanted $3"
	else
		[[ $out == *"$3"* ]] || e2e_fail "echo '$2' > $1: $out, wanted $3"
	fi
}

e2e_tmpdir work
mnt=$work/uzram
fs=$work/fs
mkdir "$mnt" "$fs"

# --- 1, 2: writeback of a real tree, then discard --------------------------
truncate -s 1G "$work/backing"
e2e_start "$mnt" --size 256M --backing-dev "$work/backing"
check "backing_dev shows the file" \
	test "$(cat "$mnt/backing_dev")" = "$work/backing"
e2e_losetup dev "$mnt/disk.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$dev"
e2e_mount "$dev" "$fs"
cp -a "$SRC" "$fs/tree"
e2e_umount "$fs"
compr=$(mm "$mnt" 2) used=$(mm "$mnt" 3)
e2e_log "before: compr_data_size $compr mem_used_total $used"
ctl "$mnt/writeback" "idle" ok
check "nothing idle yet: nothing written back" test "$(bd "$mnt" 1)" -eq 0
ctl "$mnt/idle" all ok
ctl "$mnt/writeback" "type=idle" ok
used2=$(mm "$mnt" 3) a=$(alloc "$work/backing")
e2e_log "after: mem_used_total $used2, bd_stat $(cat "$mnt/bd_stat")," \
	"backing allocated $a"
check "mem_used_total fell by >= 90% ($used -> $used2)" \
	test $((used2 * 10)) -le "$used"
check "backing allocated $a <= 1.10 x compr_data_size $compr" \
	test $((a * 100)) -le $((compr * 110))
check "bd_count > 0" test "$(bd "$mnt" 1)" -gt 0
CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
row=$("$CTL" --bytes --noheadings -o WB-PAGES,BACKING "$mnt")
check "uzramctl -o WB-PAGES,BACKING: $row" \
	test "$(echo $row)" = "$(bd "$mnt" 1) $(grep -o '"backing_bytes": [0-9]*' \
		"$mnt/stats.json" | cut -d' ' -f2)"
echo 3 >/proc/sys/vm/drop_caches
e2e_mount "$dev" "$fs"
diff -r --no-dereference "$SRC" "$fs/tree" >/dev/null ||
	e2e_fail "diff -r after writeback"
e2e_log "ok: the tree diffs clean, read back from the backing file"
check "bd_reads > 0" test "$(bd "$mnt" 2)" -gt 0
e2e_umount "$fs"
a0=$(alloc "$work/backing")
blkdiscard -f "$dev" || e2e_fail "blkdiscard $dev"
a=$(alloc "$work/backing")
check "blkdiscard gives the backing blocks back ($a0 -> $a bytes)" \
	test $((a * 100)) -le "$a0"
check "bd_count 0 after discard" test "$(bd "$mnt" 1)" -eq 0

# --- 3: grammar and errors --------------------------------------------------
ctl "$mnt/writeback" "bogus" "Invalid argument"
ctl "$mnt/writeback" "type=idle page_index" "Invalid argument"
ctl "$mnt/writeback" "page_index=65536" "Numerical result out of range"
ctl "$mnt/writeback" "page_indexes=10-2" "Numerical result out of range"
ctl "$mnt/writeback_limit_enable" 2 "Invalid argument"
ctl "$mnt/recompress" "type=incompressible" "Invalid argument"
ctl "$mnt/recomp_algorithm" "algo=brotli" "Invalid argument"
ctl "$mnt/policy" "writeback=yes" "Invalid argument"
dd if=/dev/urandom of="$dev" bs=1M count=4 oflag=direct status=none
ctl "$mnt/writeback_limit_enable" 1 ok
ctl "$mnt/writeback" "huge" "Input/output error"
check "budget 0: nothing written back" test "$(bd "$mnt" 1)" -eq 0
ctl "$mnt/writeback_limit" 100 ok
ctl "$mnt/writeback" "huge" "Input/output error"
check "budget 100: 100 pages written back" test "$(bd "$mnt" 1)" -eq 100
ctl "$mnt/writeback_limit_enable" 0 ok
check "backing_dev refused while the store holds data" \
	bash -c "! echo '$work/backing' > '$mnt/backing_dev' 2>/dev/null"
e2e_losetup_detach "$dev"
e2e_stop "$mnt"

# --- 4: a backing file on a tmpfs that fills --------------------------------
mkdir "$work/tiny"
e2e_cleanup_add "umount '$work/tiny'"
mount -t tmpfs -o size=256k tmpfs "$work/tiny"
truncate -s 64M "$work/tiny/backing"
e2e_start "$mnt" --size 64M --backing-dev "$work/tiny/backing"
head -c 16M /dev/urandom >"$work/rand"
dd if="$work/rand" of="$mnt/disk.img" bs=1M conv=notrunc status=none
ctl "$mnt/idle" all ok
ctl "$mnt/writeback" idle "No space left on device"
cmp "$work/rand" <(head -c 16M "$mnt/disk.img") ||
	e2e_fail "data changed after a failed writeback"
e2e_log "ok: ENOSPC, every page still reads back, bd_stat $(cat "$mnt/bd_stat")"
check "no failed reads" test "$(awk '{print $1}' "$mnt/io_stat")" -eq 0
e2e_stop "$mnt"

# --- 5: a backing store that starts failing ---------------------------------
# A second uzram's disk.img is the backing file; killing that daemon makes
# every access to it fail (ENOTCONN), as a dying disk would.
bmnt=$work/b
mkdir "$bmnt"
e2e_start "$bmnt" --size 64M
bpid=$UZRAM_PID
e2e_start "$mnt" --size 64M --backing-dev "$bmnt/disk.img"
dd if="$work/rand" of="$mnt/disk.img" bs=1M count=8 conv=notrunc status=none
ctl "$mnt/writeback" "page_indexes=0-1023" ok
check "1024 pages on the backing store" test "$(bd "$mnt" 1)" -eq 1024
dd if="$work/rand" of="$mnt/disk.img" bs=1M skip=8 seek=8 count=8 \
	conv=notrunc status=none
kill -9 "$bpid"
if dd if="$mnt/disk.img" of=/dev/null bs=4k count=1 status=none 2>/dev/null; then
	e2e_fail "a read from the failing backing store succeeded"
fi
check "failed_reads counts it" test "$(awk '{print $1}' "$mnt/io_stat")" -ge 1
cmp <(tail -c +$((8 * 1048576 + 1)) "$work/rand" | head -c 8M) \
	<(dd if="$mnt/disk.img" bs=1M skip=8 count=8 status=none) ||
	e2e_fail "pages in memory no longer read"
ctl "$mnt/idle" all ok
ctl "$mnt/writeback" idle "Input/output error"
cmp <(tail -c +$((8 * 1048576 + 1)) "$work/rand" | head -c 8M) \
	<(dd if="$mnt/disk.img" bs=1M skip=8 count=8 status=none) ||
	e2e_fail "pages changed after a failed writeback"
e2e_log "ok: EIO on the device: reads fail and count, the rest is served"
e2e_stop "$mnt"

# --- 6: the policy in a daemon that went to the background (fork) ----------
pmnt=$work/p
mkdir "$pmnt"
truncate -s 256M "$work/backing6"
e2e_cleanup_add "e2e_is_mounted '$pmnt' && fusermount3 -u '$pmnt'"
"$(e2e_bin)" "$pmnt" --size 64M --backing-dev "$work/backing6" \
	--policy mem_target=1M,idle_after=0,interval=1
head -c 32M <(yes "uzram policy test line") >"$work/text"
dd if="$work/text" of="$pmnt/disk.img" bs=1M conv=notrunc status=none
for _ in $(seq 100); do
	(($(mm "$pmnt" 3) <= 1 << 20)) && break
	sleep 0.1
done
used=$(mm "$pmnt" 3)
check "a background daemon's policy: mem_used_total $used <= mem_target 1M" \
	test "$used" -le $((1 << 20))
cmp "$work/text" <(head -c 32M "$pmnt/disk.img") ||
	e2e_fail "data changed under the policy"
fusermount3 -u "$pmnt"

# --- 7: mem_target with dedup and grouping ----------------------------------
dmnt=$work/d
mkdir "$dmnt"
truncate -s 256M "$work/backing7"
e2e_start "$dmnt" --size 128M --backing-dev "$work/backing7" --dedup
e2e_losetup dev7 "$dmnt/disk.img"
# 4 KiB blocks (a file system this small gets 1 KiB ones: no page of a
# file would line up with a page of the disk, and nothing would be shared)
mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard \
	"$dev7"
e2e_mount "$dev7" "$fs"
cp -a "$SRC/email" "$SRC/asyncio" "$fs/"
mkdir "$fs/copy"
cp -a "$SRC/email" "$SRC/asyncio" "$fs/copy/"
e2e_umount "$fs"
dup=$(grep -o '"dup_pages": [0-9]*' "$dmnt/stats.json" | cut -d' ' -f2)
used=$(mm "$dmnt" 3)
check "the second copy is shared (dup_pages $dup >= 400)" test "$dup" -ge 400
ctl "$dmnt/policy" "idle_after=0 interval=1 group=on writeback=on mem_target=256K" ok
for _ in $(seq 300); do
	(($(mm "$dmnt" 3) <= 256 << 10)) && break
	sleep 0.1
done
used2=$(mm "$dmnt" 3)
e2e_log "dedup + group: mem_used_total $used -> $used2," \
	"bd_stat $(cat "$dmnt/bd_stat")"
check "mem_target 256K met with dedup and group on ($used -> $used2)" \
	test "$used2" -le $((256 << 10))
check "written back more pages than the unique ones" \
	test "$(bd "$dmnt" 1)" -gt "$dup"
ctl "$dmnt/policy" "group=off writeback=off mem_target=0" ok
echo 3 >/proc/sys/vm/drop_caches
e2e_mount "$dev7" "$fs"
for t in email asyncio; do
	diff -r --no-dereference "$SRC/$t" "$fs/$t" >/dev/null ||
		e2e_fail "diff -r $t after writeback of shared and grouped pages"
	diff -r --no-dereference "$SRC/$t" "$fs/copy/$t" >/dev/null ||
		e2e_fail "diff -r copy/$t after writeback of shared and grouped pages"
done
e2e_log "ok: both copies diff clean, read back from the backing file"
e2e_umount "$fs"
e2e_losetup_detach "$dev7"
e2e_stop "$dmnt"
e2e_log "PASS"
