#!/usr/bin/env bash
# dedup.sh - deduplication through the whole stack (uzram --dedup, loop,
# ext4):
# 1. a tree copied twice costs little more pool memory than once: the second
#    copy's data pages are shared (stats.json dup_pages covers them, the
#    second copy adds < 25 % of the first's memory);
# 2. copy-on-write: changing files of one copy leaves the other intact
#    (diff against the source after a remount, so the reads come from the
#    compressed disk, not the page cache);
# 3. deleting one copy (fstrim) keeps the other whole; uzramctl's DEDUP
#    column shows stats.json dup_data_size; `dedup` reads 1, `echo 0` turns
#    it off for new writes (a third copy then adds no shares) and keeps the
#    existing shares readable;
# 4. deleting everything gives the memory back (dedup_objects near 0).
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 mount umount fstrim diff \
	python3
SRC=/usr/include/linux
[[ -d $SRC ]] || e2e_skip "needs $SRC"
CTL=${UZRAM_BUILD_DIR:+$UZRAM_BUILD_DIR/tools/uzramctl/uzramctl}

js() { # js KEY: one stats.json number
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$mnt/stats.json" "$1"
}
mm() { awk -v c="$1" '{ print $c }' "$mnt/mm_stat"; }
remount() {
	e2e_umount "$fs"
	e2e_mount "$dev" "$fs"
}

e2e_tmpdir work
mnt=$work/uzram
fs=$work/fs
mkdir "$mnt" "$fs"
e2e_start "$mnt" --size 256M --dedup
check "dedup reads 1 with --dedup" test "$(cat "$mnt/dedup")" = 1
e2e_losetup dev "$mnt/disk.img"
mkfs.ext4 -q -F -b 4096 -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
	"$dev" || e2e_fail "mkfs.ext4"
e2e_mount "$dev" "$fs"
sync -f "$fs"
base=$(mm 3)

# --- 1. two copies
cp -a "$SRC" "$fs/a"
sync -f "$fs"
one=$(mm 3)
dup1=$(js dup_pages)
cp -a "$SRC" "$fs/b"
sync -f "$fs"
two=$(mm 3)
dup2=$(js dup_pages)
pages=$(du -s --block-size=4096 "$SRC" | awk '{ print $1 }')
e2e_log "mem_used_total: base $base, one copy $one, two copies $two;" \
	"dup_pages $dup1 -> $dup2 ($pages pages in $SRC)"
check "the second copy's pages are shared (dup_pages +$((dup2 - dup1)) >= 90 % of $pages)" \
	test $(((dup2 - dup1) * 10)) -ge $((pages * 9))
check "the second copy adds < 25 % of the first's memory" \
	test $(((two - one) * 4)) -lt $((one - base))
check "dup_data_size > 0" test "$(js dup_data_size)" -gt 0
check "dedup_meta_size > 0" test "$(js dedup_meta_size)" -gt 0

# --- 2. copy-on-write
# (no `| head`: find would die of SIGPIPE, and pipefail would fail us)
mapfile -t files < <(find "$fs/b" -name '*.h' | sort)
for f in "${files[@]:0:200}"; do
	echo "/* changed */" >>"$f"
done
sync -f "$fs"
remount
check "copy a is untouched after writes to b" diff -r "$SRC" "$fs/a"
changed=$(diff -r "$SRC" "$fs/b" | grep -c '^diff ' || true)
check "200 files of b changed ($changed)" test "$changed" -eq 200

# --- 3. one copy deleted; the column; dedup off
rm -rf "${fs:?}/a"
sync -f "$fs"
fstrim "$fs"
remount
check "diff -r b (its unchanged files)" \
	bash -c "diff -r '$SRC' '$fs/b' | grep -c '^diff ' | grep -qx 200"
if [[ -x "$CTL" ]]; then
	col=$("$CTL" -n -r -b -o DEDUP "$mnt")
	check "uzramctl DEDUP ($col) = dup_data_size" \
		test "$col" = "$(js dup_data_size)"
fi
echo 0 >"$mnt/dedup"
check "dedup reads 0" test "$(cat "$mnt/dedup")" = 0
d0=$(js dup_pages)
cp -a "$SRC" "$fs/c"
sync -f "$fs"
d1=$(js dup_pages)
check "no new shares with dedup off ($d0 -> $d1)" test "$d1" -le "$d0"
remount
check "diff -r c" diff -r "$SRC" "$fs/c"
echo 1 >"$mnt/dedup"

# --- 4. everything deleted
rm -rf "${fs:?}/b" "${fs:?}/c"
sync -f "$fs"
fstrim "$fs"
e2e_umount "$fs"
blkdiscard "$dev"
check "every object is gone ($(js dedup_objects))" test "$(js dedup_objects)" -eq 0
check "pool memory back ($(mm 3))" test "$(mm 3)" -lt $((1 << 20))
e2e_losetup_detach "$dev"
e2e_stop "$mnt"
