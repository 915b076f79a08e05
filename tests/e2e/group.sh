#!/usr/bin/env bash
# group.sh - grouped compression of cold pages through the whole stack
# (uzram --policy idle_after=1,group=on, loop, ext4 with real files):
# 1. once the files sit idle, the policy groups their pages: stats.json
#    grouped_pages and group_objects rise, mem_used_total drops below what
#    it was before, mm_stat keeps its 9 columns;
# 2. every file diffs clean after drop_caches and a remount (the reads come
#    from the grouped frames, not the page cache);
# 3. writes and deletes afterwards (appends to 200 files, a new copy, rm +
#    fstrim: members split out of their frames, frames freed) stay correct
#    through another round of grouping;
# 4. group=off makes no new frames and keeps the old ones readable;
#    everything deleted gives the memory back.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 losetup mkfs.ext4 mount umount fstrim diff \
	blkdiscard python3
SRCS=(/usr/include/linux /usr/share/perl)
for s in "${SRCS[@]}"; do
	[[ -d $s ]] || e2e_skip "needs $s"
done

js() { # js KEY: one stats.json number
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$mnt/stats.json" "$1"
}
mm() { awk -v c="$1" '{ print $c }' "$mnt/mm_stat"; }
remount() {
	e2e_umount "$fs"
	echo 3 >/proc/sys/vm/drop_caches
	e2e_mount "$dev" "$fs"
}
# passes_wait N: wait (at most 90 s) for N more policy passes.
passes_wait() {
	local t0 p0
	t0=$(e2e_now_ms)
	p0=$(js policy_passes)
	until (($(js policy_passes) >= p0 + $1)); do
		(($(e2e_now_ms) - t0 < 90000)) ||
			e2e_fail "no $1 policy passes in 90 s"
		sleep 0.5
	done
}
# settle WHAT: wait (at most 90 s) until two policy passes in a row group
# nothing new, then log what grouping did.
settle() {
	local last=-1 now
	while :; do
		passes_wait 2
		now=$(js grouped_pages)
		((now == last)) && break
		last=$now
	done
	e2e_log "$1: grouped_pages $(js grouped_pages) in" \
		"$(js group_objects) frames of $(js group_data_size) B;" \
		"mem_used_total $(mm 3)"
}
diff_all() { # diff_all WHAT: every copy against its source
	local s
	for s in "${SRCS[@]}"; do
		check "$1: diff -r $s" diff -r "$s" "$fs/a/$(basename "$s")"
	done
}

e2e_tmpdir work
mnt=$work/uzram
fs=$work/fs
mkdir "$mnt" "$fs"
# a pass runs at the first I/O, then not for an hour: the copy is
# measured ungrouped, then `interval=1` starts the passes
e2e_start "$mnt" --size 512M --algo zstd \
	--policy idle_after=1,interval=3600,group=on
check "policy shows group=4" grep -qx 'group=4' "$mnt/policy"
e2e_losetup dev "$mnt/disk.img"
mkfs.ext4 -q -F -b 4096 -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
	"$dev" || e2e_fail "mkfs.ext4"
e2e_mount "$dev" "$fs" -o noatime

# --- 1. real files, then idle: grouped, memory down
mkdir "$fs/a"
for s in "${SRCS[@]}"; do
	cp -a "$s" "$fs/a/"
done
sync -f "$fs"
echo 1 >"$mnt/compact"
before=$(mm 3)
compr_before=$(mm 2)
echo interval=1 >"$mnt/policy"
settle "first grouping"
echo 1 >"$mnt/compact"
after=$(mm 3)
e2e_log "mem_used_total $before -> $after, compr_data_size" \
	"$compr_before -> $(mm 2)"
check "pages were grouped ($(js grouped_pages))" \
	test "$(js grouped_pages)" -gt 1000
check "frames exist ($(js group_objects))" test "$(js group_objects)" -gt 0
CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
grouped=$("$CTL" -b -n -o GROUPED "$mnt" | tr -d ' ') # settled: stable
check "uzramctl -o GROUPED ($grouped) = grouped_pages" \
	test "$grouped" = "$(js grouped_pages)"
check "group_data_size > 0" test "$(js group_data_size)" -gt 0
check "mem_used_total dropped by >= 5 % ($before -> $after)" \
	test $((after * 100)) -le $((before * 95))
check "mm_stat still has 9 columns" \
	test "$(awk '{ print NF }' "$mnt/mm_stat")" -eq 9

# --- 2. read back from the frames
remount
diff_all "after grouping"

# --- 3. writes and deletes into grouped pages
mapfile -t files < <(find "$fs/a/linux" -name '*.h' | sort)
for f in "${files[@]:0:200}"; do
	echo "/* changed */" >>"$f"
done
cp -a /usr/include/linux "$fs/b"
# every second file of the perl copy goes
find "$fs/a/perl" -type f | sort | awk 'NR % 2' | xargs -d '\n' rm -f
sync -f "$fs"
fstrim "$fs"
remount
changed=$(diff -r /usr/include/linux "$fs/a/linux" | grep -c '^diff ' || true)
check "200 files of a/linux changed ($changed)" test "$changed" -eq 200
check "diff -r b" diff -r /usr/include/linux "$fs/b"
perl_left() { # what is left of the perl copy equals its source
	local out
	out=$(diff -r /usr/share/perl "$fs/a/perl" |
		grep -v '^Only in /usr/share/perl' || true)
	[[ -z $out ]]
}
check "perl: what is left diffs clean" perl_left
settle "second grouping"
remount
check "diff -r b after the second grouping" diff -r /usr/include/linux "$fs/b"
changed=$(diff -r /usr/include/linux "$fs/a/linux" | grep -c '^diff ' || true)
check "still exactly 200 changed files ($changed)" test "$changed" -eq 200
check "perl: what is left diffs clean after the second grouping" perl_left

# --- 4. group=off; everything deleted
echo group=off >"$mnt/policy"
check "policy shows group=off" grep -qx 'group=off' "$mnt/policy"
g0=$(js group_objects)
cp -a /usr/include/linux "$fs/c"
sync -f "$fs"
passes_wait 3
check "no new frames with group=off ($g0 -> $(js group_objects))" \
	test "$(js group_objects)" -le "$g0"
remount
check "diff -r c" diff -r /usr/include/linux "$fs/c"
check "diff -r b with group=off" diff -r /usr/include/linux "$fs/b"
rm -rf "${fs:?}/a" "${fs:?}/b" "${fs:?}/c"
sync -f "$fs"
fstrim "$fs"
e2e_umount "$fs"
blkdiscard "$dev"
check "every frame is gone ($(js group_objects))" \
	test "$(js group_objects)" -eq 0
check "pool memory back ($(mm 3))" test "$(mm 3)" -lt $((1 << 20))
e2e_losetup_detach "$dev"
e2e_stop "$mnt"
