#!/usr/bin/env bash
# tests/e2e/uzramctl.sh - uzramctl against a real mount.
#
# --setup starts a disk and attaches a loop device; the table, -b, -J, -r,
# -n and -o are checked against mm_stat; --compact and --mem-limit must take
# effect; a non-uzram directory and a loop device on an ordinary file get
# errors; --reset refuses while the disk is mounted and then cleans up.
# Every mount and loop device this script makes is registered for cleanup
# before it is made.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup mkfs.ext4 fusermount3 python3 timeout

CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
[[ -x "$CTL" ]] || e2e_fail "no uzramctl at '$CTL' (set UZRAMCTL_BIN)"
export UZRAM_BIN=${UZRAM_BIN:-$(e2e_bin)}

# Undo a --setup by hand (the test's own resources only).
setup_undo() {
	local d
	for d in $(losetup --list -n -O NAME -j "$1/disk.img" 2>/dev/null); do
		losetup -d "$d"
	done
	if e2e_is_mounted "$1"; then
		fusermount3 -u "$1" || umount -l "$1"
	fi
}

# expect_fail WHAT PATTERN cmd...: cmd must exit 1 with PATTERN on stderr.
expect_fail() {
	local what=$1 pat=$2 rc=0 err
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	((rc == 1)) || e2e_fail "$what: exit $rc, expected 1 ($err)"
	[[ "$err" == *"$pat"* ]] || e2e_fail "$what: stderr '$err' lacks '$pat'"
	[[ $(wc -l <<<"$err") -eq 1 ]] || e2e_fail "$what: not one line: $err"
}

mm() { awk -v c="$1" '{ print $c }' "$mp/mm_stat"; }

e2e_tmpdir dir
mp=$dir/disk # does not exist yet: --setup creates it

expect_fail "--setup without --size" "--size" "$CTL" --setup "$mp"
[[ ! -e "$mp" ]] || e2e_fail "failed --setup left $mp behind"

e2e_cleanup_add "setup_undo '$mp'"
dev=$("$CTL" --setup "$mp" --size 256M --algorithm lz4 --threads 2) ||
	e2e_fail "--setup failed"
[[ "$dev" == /dev/loop* ]] || e2e_fail "--setup printed '$dev'"
e2e_is_mounted "$mp" || e2e_fail "$mp not mounted after --setup"
sys=/sys/block/${dev#/dev/}/loop
[[ $(cat "$sys/backing_file") == "$mp/disk.img" ]] ||
	e2e_fail "$dev is not backed by $mp/disk.img"
[[ $(cat "$sys/dio") == 1 ]] || e2e_fail "$dev has no direct I/O"
expect_fail "--setup on a mounted disk" "already" \
	"$CTL" --setup "$mp" --size 256M

# 16 MiB of compressible text, written straight to the device.
src=$dir/data
while (($(stat -c %s "$src" 2>/dev/null || echo 0) < 16 << 20)); do
	cat /usr/include/*.h >>"$src"
done
truncate -s 16M "$src"
dd if="$src" of="$dev" bs=1M oflag=direct status=none || e2e_fail "dd"
[[ $(mm 1) -eq $((16 << 20)) ]] || e2e_fail "orig_data_size $(mm 1)"

# Default table: zramctl's columns; our disk's row.
out=$("$CTL")
head=$(head -1 <<<"$out" | tr -s ' ')
[[ "$head" == "NAME ALGORITHM DISKSIZE DATA COMPR TOTAL STREAMS MOUNTPOINT" ]] ||
	e2e_fail "default header: $head"
row=$(awk -v m="$mp" '$NF == m' <<<"$out")
[[ -n "$row" ]] || e2e_fail "no row for $mp in: $out"
read -r name algo size data _ _ streams _ <<<"$row"
[[ "$name" == "$dev" ]] || e2e_fail "NAME $name, expected $dev"
[[ "$algo" == lz4 ]] || e2e_fail "ALGORITHM $algo"
[[ "$size" == 256M ]] || e2e_fail "DISKSIZE $size"
[[ "$data" == 16M ]] || e2e_fail "DATA $data"
[[ "$streams" == 2 ]] || e2e_fail "STREAMS $streams"

# A named disk (mount point or device) shows only that disk.
for arg in "$mp" "$dev"; do
	out=$("$CTL" -n "$arg")
	[[ $(wc -l <<<"$out") -eq 1 && "$out" == "$dev "* ]] ||
		e2e_fail "uzramctl -n $arg: $out"
done

# -b: every size and count equals mm_stat's column.
cols=DATA,COMPR,TOTAL,MEM-LIMIT,MEM-USED,ZERO-PAGES,MIGRATED,HUGE-PAGES
got=$("$CTL" -b -n -r -o "$cols" "$mp")
want=$(awk '{ print $1, $2, $3, $4, $5, $6, $7, $8 }' "$mp/mm_stat")
[[ "$got" == "$want" ]] || e2e_fail "-b: '$got' != mm_stat '$want'"
[[ $("$CTL" -b -n -o DISKSIZE "$mp" | tr -d ' ') -eq $((256 << 20)) ]] ||
	e2e_fail "-b DISKSIZE"

# -r: one space between fields, header kept; -n drops it.
out=$("$CTL" -r "$mp")
[[ $(head -1 <<<"$out") == "NAME ALGORITHM DISKSIZE DATA COMPR TOTAL STREAMS MOUNTPOINT" ]] ||
	e2e_fail "-r header: $out"
[[ $(sed -n 2p <<<"$out") == "$dev lz4 256M 16M "*" 2 $mp" ]] ||
	e2e_fail "-r row: $out"
[[ $("$CTL" -r -n "$mp" | wc -l) -eq 1 ]] || e2e_fail "-r -n printed a header"

# -o: exactly the columns asked for, case-insensitive; +LIST extends.
[[ $("$CTL" -n -r -o name,ALGORITHM "$mp") == "$dev lz4" ]] ||
	e2e_fail "-o name,ALGORITHM"
out=$("$CTL" -r -o +COMP-RATIO "$mp")
[[ $(head -1 <<<"$out" | wc -w) -eq 9 ]] || e2e_fail "-o +COMP-RATIO: $out"
ratio=$(sed -n 2p <<<"$out" | awk '{ print $NF }')
python3 -c 'import sys; r, o, c = map(float, sys.argv[1:]); sys.exit(abs(r - o / c) > 0.01)' \
	"$ratio" "$(mm 1)" "$(mm 2)" || e2e_fail "COMP-RATIO $ratio"
[[ $("$CTL" --output-all -r "$mp" | head -1 | wc -w) -eq 20 ]] ||
	e2e_fail "--output-all"
expect_fail "unknown column" "unknown column" "$CTL" -o NAME,BOGUS

# -J: util-linux's shape; numbers with -b, strings for sizes without.
"$CTL" -J -b --output-all "$mp" >"$dir/b.json" || e2e_fail "-J -b"
"$CTL" -J "$mp" >"$dir/h.json" || e2e_fail "-J"
python3 - "$dir/b.json" "$dir/h.json" "$mp" "$dev" "$mp/mm_stat" <<'EOF' ||
import json, sys
b, h, mp, dev, mm = sys.argv[1:]
mm = [int(x) for x in open(mm).read().split()]
disks = [d for d in json.load(open(b))["uzramdevices"] if d["mountpoint"] == mp]
assert len(disks) == 1, disks
d = disks[0]
assert d["name"] == dev and d["algorithm"] == "lz4", d
want = {"data": 0, "compr": 1, "total": 2, "mem-limit": 3, "mem-used": 4,
        "zero-pages": 5, "migrated": 6, "huge-pages": 7}
for k, i in want.items():
    assert isinstance(d[k], int) and d[k] == mm[i], (k, d[k], mm[i])
assert d["disksize"] == 256 << 20 and d["streams"] == 2, d
assert abs(d["comp-ratio"] - mm[0] / mm[1]) < 0.01, d
(hd,) = json.load(open(h))["uzramdevices"]
assert list(hd) == ["name", "algorithm", "disksize", "data", "compr",
                    "total", "streams", "mountpoint"], list(hd)
assert hd["disksize"] == "256M" and hd["data"] == "16M", hd
EOF
	e2e_fail "-J output does not match mm_stat"

# --watch: redraws in place until SIGINT, then exits 0. The signal goes once
# two redraws are seen (a fixed 2 s was too short on a loaded machine: the
# first screen alone can take that long); 60 s without them is a failure.
redraws() { grep -o $'\e\\[H' "$dir/watch.out" | wc -l; }
"$CTL" --watch 0.5 >"$dir/watch.out" &
watch_pid=$!
for ((i = 0; i < 600; i++)); do
	(($(redraws) >= 2)) && break
	kill -0 "$watch_pid" 2>/dev/null || break
	sleep 0.1
done
(($(redraws) >= 2)) || {
	kill -KILL "$watch_pid" 2>/dev/null
	e2e_fail "--watch did not redraw ($(redraws) screens in 60 s)"
}
kill -INT "$watch_pid"
rc=0
wait "$watch_pid" || rc=$?
((rc == 0)) || e2e_fail "--watch exited $rc on SIGINT"
grep -q -- "$mp" "$dir/watch.out" || e2e_fail "--watch did not show $mp"

# --compact: zero every other page so zspages are half empty; compaction
# must then free pages (MIGRATED grows, TOTAL shrinks).
python3 - "$dev" <<'EOF' || e2e_fail "zeroing every other page"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
for off in range(0, 16 << 20, 8192):
    os.pwrite(fd, buf, off)
os.close(fd)
EOF
before_total=$(mm 3) before_mig=$(mm 7)
"$CTL" --compact "$dev" || e2e_fail "--compact $dev"
(($(mm 7) > before_mig)) || e2e_fail "--compact: pages_compacted stayed $(mm 7)"
(($(mm 3) < before_total)) ||
	e2e_fail "--compact: mem_used_total $before_total -> $(mm 3)"
[[ $("$CTL" -b -n -o MIGRATED "$mp" | tr -d ' ') -eq $(mm 7) ]] ||
	e2e_fail "MIGRATED differs from mm_stat"

# --mem-limit on a running disk, by mount point and by device.
"$CTL" --mem-limit 64M "$mp" || e2e_fail "--mem-limit 64M"
[[ $(mm 4) -eq $((64 << 20)) ]] || e2e_fail "mem_limit $(mm 4) after 64M"
[[ $("$CTL" -n -o MEM-LIMIT "$dev" | tr -d ' ') == 64M ]] ||
	e2e_fail "MEM-LIMIT column"
expect_fail "--mem-limit bogus" "invalid size" "$CTL" --mem-limit 12Q "$mp"
[[ $(mm 4) -eq $((64 << 20)) ]] || e2e_fail "a refused --mem-limit changed it"
"$CTL" --mem-limit 0 "$dev" || e2e_fail "--mem-limit 0"
[[ $(mm 4) -eq 0 ]] || e2e_fail "mem_limit $(mm 4) after 0"

# Errors: not uzram, not there, a loop device on an ordinary file.
mkdir "$dir/plain"
expect_fail "plain directory" "not a uzram" "$CTL" "$dir/plain"
expect_fail "--compact plain directory" "not a uzram" \
	"$CTL" --compact "$dir/plain"
expect_fail "missing path" "No such file" "$CTL" "$dir/nope"
truncate -s 8M "$dir/plain.img"
e2e_losetup other "$dir/plain.img"
expect_fail "foreign loop device" "not a uzram disk" "$CTL" "$other"
expect_fail "--reset foreign loop" "not a uzram disk" "$CTL" --reset "$other"
expect_fail "--mem-limit foreign loop" "not a uzram disk" \
	"$CTL" --mem-limit 1G "$other"
expect_fail "not a block device" "not a uzram" "$CTL" /dev/null
e2e_losetup_detach "$other"

# --reset refuses while the disk is mounted, and changes nothing.
mkfs.ext4 -q "$dev" || e2e_fail "mkfs.ext4"
mkdir "$dir/fs"
e2e_mount "$dev" "$dir/fs"
expect_fail "--reset while mounted" "busy" "$CTL" --reset "$mp"
e2e_is_mounted "$mp" || e2e_fail "refused --reset unmounted $mp"
[[ $(cat "$sys/backing_file" 2>/dev/null) == "$mp/disk.img" ]] ||
	e2e_fail "refused --reset detached $dev"
e2e_umount "$dir/fs"

# --reset by device: loop detached, mount gone, table empty of it.
"$CTL" --reset "$dev" || e2e_fail "--reset $dev"
[[ -z $(losetup --list -n -O NAME -j "$mp/disk.img") ]] ||
	e2e_fail "--reset left a loop device"
! e2e_is_mounted "$mp" || e2e_fail "--reset left $mp mounted"
! "$CTL" -r | grep -q -- " $mp\$" || e2e_fail "table still shows $mp"
expect_fail "status of a reset disk" "not a uzram" "$CTL" "$mp"
e2e_log "PASS"
