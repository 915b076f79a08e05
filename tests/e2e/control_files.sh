#!/usr/bin/env bash
# control_files.sh - every control file, with good values and bad ones.
# Good values take effect and show in the stat files:
#   comp_algorithm  switch lz4 -> zstd: new writes compress smaller, old
#                   data still reads; algorithm_params level=1/19/-5 change
#                   the compressed size in the expected direction
#   mem_limit       suffixes; shown by mem_limit and mm_stat column 4
#   mem_used_max    keeps the peak; `0` resets it to the current usage
#   compact         after freeing every other page, raises pages_compacted
#                   and lowers mem_used_total
#   idle            `all` -> stats.json idle_pages > 0; reads clear it;
#                   `2` marks exactly the pages not read for 2 s
#   reset           EBUSY while disk.img is open; after close it drops the
#                   data and zeroes the counters
# Bad values (a table) each get EINVAL and change no stat file and no data.
# A memory limit reached makes writes fail with ENOSPC; data written before
# stays intact; with 4 writers at the limit every page is either written
# whole or left as it was, and failed_writes counts the refused ones.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 python3 dd fallocate sha256sum cmp
# The system python starts faster than a pyenv shim (many short runs).
PY=$(command -v /usr/bin/python3 || command -v python3)

STATS=(mm_stat io_stat bd_stat debug_stat classes stats.json comp_algorithm
	mem_limit mem_used_max disksize)

mm() { awk -v c="$1" '{ print $c }' "$mnt/mm_stat"; }
io() { awk -v c="$1" '{ print $c }' "$mnt/io_stat"; }
json() { # json KEY: a value from stats.json
	sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" \
		"$mnt/stats.json"
}
# ctl FILE VALUE: write VALUE (backslash escapes decoded) in one write(2);
# prints OK or the errno name.
ctl() {
	"$PY" - "$mnt/$1" "$2" <<'EOF'
import errno, os, sys
data = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
try:
    fd = os.open(sys.argv[1], os.O_WRONLY)
    n = os.write(fd, data)
    print("OK" if n == len(data) else "SHORT %d" % n)
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}
ctl_ok() { # ctl_ok FILE VALUE: the write must succeed
	local r
	r=$(ctl "$1" "$2")
	[[ $r == OK ]] || e2e_fail "writing '$2' to $1: $r"
}
put() { # put FILE OFFSET_MIB: write FILE into disk.img at OFFSET_MIB
	dd if="$1" of="$mnt/disk.img" bs=1M seek="$2" conv=notrunc,fsync \
		status=none || e2e_fail "writing $1 at ${2}M"
}
region_sum() { # region_sum OFFSET_MIB COUNT_MIB
	dd if="$mnt/disk.img" bs=1M skip="$1" count="$2" status=none |
		sha256sum | cut -d' ' -f1
}
# punch_pages FIRST COUNT STEP: punch single pages FIRST, FIRST+STEP, ...
punch_pages() {
	"$PY" - "$mnt/disk.img" "$@" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                           ctypes.c_long]
PUNCH_KEEP = 0x02 | 0x01
fd = os.open(sys.argv[1], os.O_RDWR)
first, count, step = map(int, sys.argv[2:5])
for i in range(count):
    if libc.fallocate(fd, PUNCH_KEEP, (first + i * step) * 4096, 4096):
        sys.exit("fallocate: " + os.strerror(ctypes.get_errno()))
EOF
}

e2e_tmpdir work
mnt=$work/uzram
mkdir "$mnt"
e2e_start "$mnt" --size 256M

# 8 MiB of text (C headers): compressible, few same-filled pages.
(find /usr/include -name '*.h' -exec cat {} + 2>/dev/null || :) |
	head -c 8M >"$work/text"
[[ $(stat -c %s "$work/text") -eq $((8 << 20)) ]] || e2e_fail "no 8 MiB text"
text_sum=$(sha256sum <"$work/text" | cut -d' ' -f1)

# --- the stat lines' shapes, as zram's
fields() { # fields FILE: "N" if FILE is one line of N numbers, else "bad"
	awk 'NR > 1 { bad = 1 } { for (i = 1; i <= NF; i++) if ($i !~ /^[0-9]+$/)
		bad = 1 } END { print bad ? "bad" : NF }' "$mnt/$1"
}
check "mm_stat is one line of 9 numbers" test "$(fields mm_stat)" = 9
check "io_stat is one line of 4 numbers" test "$(fields io_stat)" = 4
check "bd_stat is one line of 3 numbers" test "$(fields bd_stat)" = 3
check "debug_stat starts with 'version: 1'" \
	test "$(head -n 1 "$mnt/debug_stat")" = "version: 1"
check "disksize shows 256M" test "$(cat "$mnt/disksize")" -eq $((256 << 20))

# --- comp_algorithm and algorithm_params
grep -qx '\[lz4\] lz4hc zstd' "$mnt/comp_algorithm" ||
	e2e_fail "comp_algorithm: '$(cat "$mnt/comp_algorithm")'"
c0=$(mm 2)
put "$work/text" 0
c_lz4=$(($(mm 2) - c0))
ctl_ok comp_algorithm 'zstd\n'
check "comp_algorithm shows [zstd]" \
	grep -qx 'lz4 lz4hc \[zstd\]' "$mnt/comp_algorithm"
check "stats.json algorithm is zstd" test "$(json algorithm)" = zstd
c0=$(mm 2)
put "$work/text" 16
c_zstd=$(($(mm 2) - c0))
e2e_log "8 MiB of text: lz4 $c_lz4 bytes, zstd $c_zstd bytes"
check "new writes use zstd: smaller than lz4" test "$c_zstd" -lt "$c_lz4"
ctl_ok algorithm_params 'level=1\n'
c0=$(mm 2)
put "$work/text" 32
c_z1=$(($(mm 2) - c0))
ctl_ok algorithm_params 'level=19'
c0=$(mm 2)
put "$work/text" 48
c_z19=$(($(mm 2) - c0))
ctl_ok algorithm_params 'algo=zstd level=-5\n'
c0=$(mm 2)
put "$work/text" 64
c_zm5=$(($(mm 2) - c0))
e2e_log "zstd level 1: $c_z1, level 19: $c_z19, level -5: $c_zm5 bytes"
check "zstd level=19 compresses smaller than level=1" test "$c_z19" -lt "$c_z1"
check "zstd level=-5 compresses larger than level=1" test "$c_zm5" -gt "$c_z1"
ctl_ok comp_algorithm 'lz4'
check "comp_algorithm back to [lz4]" \
	grep -qx '\[lz4\] lz4hc zstd' "$mnt/comp_algorithm"
for off in 0 16 32 48 64; do
	[[ $(region_sum $off 8) == "$text_sum" ]] ||
		e2e_fail "the text written at ${off}M reads back wrong"
done
e2e_log "ok: data written by lz4 and zstd (3 levels) all reads back"

# --- mem_limit
for v in 64M:67108864 1G:1073741824 4096K:4194304 2g:2147483648 \
	12345:16384 1T:1099511627776 0:0; do
	ctl_ok mem_limit "${v%%:*}"
	[[ $(cat "$mnt/mem_limit") -eq ${v##*:} && $(mm 4) -eq ${v##*:} ]] ||
		e2e_fail "mem_limit ${v%%:*}: file $(cat "$mnt/mem_limit"), mm_stat $(mm 4)"
done
e2e_log "ok: mem_limit takes K/M/G/T suffixes, rounds up to pages," \
	"shows in mm_stat column 4"

# --- mem_used_max: the peak stays after data is freed, `0` resets it.
fallocate --punch-hole --offset 0 --length $((48 << 20)) "$mnt/disk.img"
used=$(mm 3) peak=$(mm 5)
e2e_log "after freeing 48 MiB: mem_used_total $used, mem_used_max $peak"
check "mem_used_max keeps the peak ($peak > $used)" test "$peak" -gt "$used"
check "mem_used_max file matches mm_stat" \
	test "$(cat "$mnt/mem_used_max")" -eq "$peak"
ctl_ok mem_used_max '0\n'
check "mem_used_max reset to current usage ($(mm 5) == $(mm 3))" \
	test "$(mm 5)" -eq "$(mm 3)"
check "mem_used_max file matches after reset" \
	test "$(cat "$mnt/mem_used_max")" -eq "$(mm 5)"

# --- compact: 32 MiB of distinct compressible pages, every other one freed.
for i in 0 1 2 3; do
	sed "s/^/$i /" "$work/text" >"$work/text$i"
	truncate -s 8M "$work/text$i"
	put "$work/text$i" $((96 + i * 8))
done
punch_pages $((96 << 8)) $((32 << 8 >> 1)) 2 || e2e_fail "punching pages"
used=$(mm 3) compacted=$(mm 7)
ctl_ok compact '1\n'
e2e_log "compact: mem_used_total $used -> $(mm 3), pages_compacted" \
	"$compacted -> $(mm 7)"
check "compact raised pages_compacted" test "$(mm 7)" -gt "$compacted"
check "compact lowered mem_used_total" test "$(mm 3)" -lt "$used"
"$PY" - "$mnt/disk.img" "$work" <<'EOF' || e2e_fail "data wrong after compact"
import sys
img = open(sys.argv[1], "rb")
for i in range(4):
    want = open("%s/text%d" % (sys.argv[2], i), "rb").read()
    img.seek((96 + i * 8) << 20)
    got = img.read(8 << 20)
    for p in range(0, 8 << 20, 4096):
        w = bytes(4096) if (p >> 12) % 2 == 0 else want[p:p + 4096]
        if got[p:p + 4096] != w:
            sys.exit("page %d of text%d is wrong" % (p >> 12, i))
EOF
e2e_log "ok: the remaining pages read back right after compaction"
e2e_stats_agree "$mnt"
e2e_log "ok: after compaction the classes table agrees with mm_stat"
# stats.json is valid JSON and names the same counters as the stat lines.
"$PY" - "$mnt" <<'EOF' || e2e_fail "stats.json disagrees with the stat files"
import json, sys
m = sys.argv[1]
j = json.load(open(m + "/stats.json"))
cols = {
    "mm_stat": "orig_data_size compr_data_size mem_used_total mem_limit "
               "mem_used_max same_pages pages_compacted huge_pages "
               "huge_pages_since",
    "io_stat": "failed_reads failed_writes invalid_io notify_free",
    "bd_stat": "bd_count bd_reads bd_writes",
}
bad = 0
for f, names in cols.items():
    vals = open(m + "/" + f).read().split()
    for name, v in zip(names.split(), vals):
        if j.get(name) != int(v):
            print("%s: %s is %s, stats.json says %r" % (f, name, v, j.get(name)))
            bad += 1
if j["orig_data_size"] != j["pages_stored"] * 4096:
    print("orig_data_size != pages_stored * 4096")
    bad += 1
ratio = j["orig_data_size"] / j["compr_data_size"]
if abs(j["compression_ratio"] - ratio) > 0.01:
    print("compression_ratio %r, orig/compr %.3f" % (j["compression_ratio"], ratio))
    bad += 1
print("stats.json: %d counters, compression_ratio %.3f, memory_ratio %.3f"
      % (len(j), j["compression_ratio"], j["memory_ratio"]))
sys.exit(1 if bad else 0)
EOF
e2e_log "ok: stats.json parses and agrees with mm_stat, io_stat, bd_stat"

# --- idle
check "no idle pages yet" test "$(json idle_pages)" -eq 0
ctl_ok idle 'all\n'
idle=$(json idle_pages)
e2e_log "idle all: idle_pages $idle, pages_stored $(json pages_stored)," \
	"same_pages $(mm 6)"
check "idle all marks pages idle" test "$idle" -gt 0
check "idle pages <= stored pages - same pages" \
	test "$idle" -le $(($(json pages_stored) - $(mm 6)))
region_sum 64 8 >/dev/null
check "reading 8 MiB clears idle ($(json idle_pages) < $idle)" \
	test "$(json idle_pages)" -lt "$idle"
# idle N: pages not accessed for N seconds are idle, the others are not.
sleep 2.5
region_sum 48 8 >/dev/null # 2048 pages of text, accessed just now
ctl_ok idle '2
'
want=$(($(json pages_stored) - $(mm 6) - 2048))
check "idle 2: idle_pages $(json idle_pages) = all but the 2048 read ($want)" \
	test "$(json idle_pages)" -eq "$want"

# --- bad values: EINVAL, nothing changes
# Every stat file, but stats.json's "streams": codec contexts that idle
# workers drop (after 2 s) or take back, not a change of the store.
snapshot() { (cd "$mnt" && tail -n +1 "${STATS[@]}") | grep -v '"streams"'; }
before_all=$(region_sum 0 256)
bad=(
	mem_limit '\n' mem_limit 'abc' mem_limit '-1\n' mem_limit '12Q\n'
	mem_limit '99999999999999999999999\n' mem_limit '0x\n'
	mem_limit '0x10\n' mem_limit '12M garbage\n' mem_limit '1.5G\n'
	mem_limit 'M\n' mem_limit '17179869184T\n' mem_limit '12M\n\n'
	mem_limit ' 12M\n' mem_limit '12\0M'
	mem_used_max '1\n' mem_used_max 'abc\n' mem_used_max '\n'
	mem_used_max '0 0\n' mem_used_max '-0\n'
	comp_algorithm '\n' comp_algorithm 'lz5\n' comp_algorithm 'lz4 x\n'
	comp_algorithm 'LZ4\n' comp_algorithm 'zstd\n\n' comp_algorithm 'lz\n'
	algorithm_params '\n' algorithm_params 'level\n'
	algorithm_params 'level=\n' algorithm_params '=3\n'
	algorithm_params 'level=abc\n' algorithm_params 'foo=1\n'
	algorithm_params 'level=99999999999999999999\n'
	algorithm_params 'level=1 junk\n' algorithm_params 'algo=lz5 level=1\n'
	algorithm_params 'algo=zstd level=23\n'
	algorithm_params 'algo=lz4 level=0\n'
	algorithm_params 'level=3 level=4\n'
	idle '\n' idle 'abc\n' idle '-1\n' idle 'all all\n' idle 'al\n'
	reset '0\n' reset 'abc\n' reset '\n' reset '-1\n' reset '1x\n'
)
snap0=$(snapshot)
[[ $(snapshot) == "$snap0" ]] || e2e_fail "stat files change by themselves"
for ((i = 0; i < ${#bad[@]}; i += 2)); do
	f=${bad[i]} v=${bad[i + 1]}
	r=$(ctl "$f" "$v")
	[[ $r == EINVAL ]] || e2e_fail "writing '$v' to $f: $r, expected EINVAL"
	[[ $(snapshot) == "$snap0" ]] ||
		e2e_fail "the refused write of '$v' to $f changed the stat files"
done
e2e_log "ok: $((${#bad[@]} / 2)) malformed values got EINVAL and" \
	"changed no stat file"
for f in mm_stat disksize stats.json; do
	r=$(ctl "$f" '1\n')
	[[ $r != OK ]] || e2e_fail "writing to read-only $f succeeded"
done
e2e_log "ok: writes to read-only stat files fail ($r)"
msg=$( (echo abc >"$mnt/mem_limit") 2>&1) &&
	e2e_fail "shell: echo abc > mem_limit succeeded"
[[ $msg == *"Invalid argument"* ]] || e2e_fail "shell said: $msg"
e2e_log "ok: the shell says: $msg"
[[ $(snapshot) == "$snap0" ]] || e2e_fail "the stat files changed"
[[ $(region_sum 0 256) == "$before_all" ]] ||
	e2e_fail "the data changed after the refused writes"
e2e_log "ok: the data is unchanged after the refused writes"
snap1=$(snapshot) # reading the data changed num_reads and idle_pages

# --- reset: refused while disk.img is open, works after close
exec 3<>"$mnt/disk.img"
r=$(ctl reset '1\n')
[[ $r == EBUSY ]] || e2e_fail "reset while disk.img is open: $r, expected EBUSY"
msg=$( (echo 1 >"$mnt/reset") 2>&1) && e2e_fail "shell reset succeeded"
e2e_log "ok: reset while open: EBUSY; the shell says: $msg"
[[ $(snapshot) == "$snap1" && $(region_sum 0 256) == "$before_all" ]] ||
	e2e_fail "the refused reset changed something"
exec 3>&-
# The kernel sends RELEASE after close() returns: allow it a moment.
for ((i = 0; i < 40; i++)); do
	r=$(ctl reset '1\n')
	[[ $r == EBUSY ]] || break
	sleep 0.05
done
[[ $r == OK ]] || e2e_fail "reset after close: $r"
e2e_log "after reset: mm_stat $(cat "$mnt/mm_stat"); io_stat $(cat "$mnt/io_stat")"
read -r -a MM <"$mnt/mm_stat"
for c in 0 1 2 5 6 7 8; do
	((MM[c] == 0)) || e2e_fail "mm_stat column $((c + 1)) is ${MM[c]} after reset"
done
check "mem_used_max is 0 after reset" test "${MM[4]}" -eq 0
check "io_stat is all zeros after reset" \
	test "$(awk '{ print $1 + $2 + $3 + $4 }' "$mnt/io_stat")" -eq 0
check "stats.json pages_stored 0 after reset" test "$(json pages_stored)" -eq 0
e2e_stats_agree "$mnt"
check "disksize kept" test "$(cat "$mnt/disksize")" -eq $((256 << 20))
cmp -s -n $((256 << 20)) "$mnt/disk.img" /dev/zero ||
	e2e_fail "disk.img does not read as zeros after reset"
e2e_log "ok: disk.img reads as zeros after reset"

# --- memory limit reached: writes fail with ENOSPC, earlier data intact
head -c 4M /dev/urandom >"$work/first"
put "$work/first" 0
first_sum=$(region_sum 0 4)
limit=$(($(mm 3) + (2 << 20)))
ctl_ok mem_limit "$limit"
head -c 16M /dev/urandom >"$work/more"
if dd if="$work/more" of="$mnt/disk.img" bs=1M seek=16 conv=notrunc \
	oflag=direct status=none 2>"$work/err"; then
	e2e_fail "16 MiB of random data fit under a 2 MiB headroom"
fi
e2e_log "ok: writing past mem_limit fails: $(cat "$work/err")"
grep -q "No space left on device" "$work/err" ||
	e2e_fail "the error is not ENOSPC"
e2e_log "mm_stat $(cat "$mnt/mm_stat"); io_stat $(cat "$mnt/io_stat")"
check "failed_writes counts it" test "$(io 2)" -gt 0
check "mem_used_total $(mm 3) <= mem_limit $limit" test "$(mm 3)" -le "$limit"
check "the data written before is intact" \
	test "$(region_sum 0 4)" = "$first_sum"
ctl_ok mem_limit 0
put "$work/more" 16
check "without the limit the write succeeds and reads back" \
	test "$(region_sum 16 16)" = "$(sha256sum <"$work/more" | cut -d' ' -f1)"
check "the data written before is still intact" \
	test "$(region_sum 0 4)" = "$first_sum"

# --- the limit hit by 4 writers at once: 4096 compressible pages (A), then
# the limit, then every page overwritten with random data (B) by 4
# processes, page by page. Each page must read back whole as B if its write
# succeeded and whole as A if it failed with ENOSPC: no torn pages; and
# failed_writes must grow by the refused pages.
"$PY" - "$mnt" <<'EOF' || e2e_fail "pages wrong after writes at the limit"
import errno, os, random, sys
mnt = sys.argv[1]
BASE, PAGES, WRITERS = 64 << 20, 4096, 4
fd = os.open(mnt + "/disk.img", os.O_RDWR)


def page_a(i):
    return (b"page %08d of text A. " % i * 200)[:4096]


def page_b(i):
    return random.Random(i).randbytes(4096)


def set_limit(v):
    with open(mnt + "/mem_limit", "w") as f:
        f.write(str(v))


for i in range(PAGES):
    os.pwrite(fd, page_a(i), BASE + i * 4096)
used = int(open(mnt + "/mm_stat").read().split()[2])
failed0 = int(open(mnt + "/io_stat").read().split()[1])
set_limit(used + (4 << 20))  # room for about 1000 of the 4096 B pages
# Each writer reports one byte per page through a pipe: 1 written,
# 2 refused with ENOSPC, 3 any other error.
readers = []
for k in range(WRITERS):
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        res = bytearray()
        for i in range(k, PAGES, WRITERS):
            try:
                os.pwrite(fd, page_b(i), BASE + i * 4096)
                res.append(1)
            except OSError as e:
                res.append(2 if e.errno == errno.ENOSPC else 3)
        os.write(w, res)
        os._exit(0)
    os.close(w)
    readers.append(r)
results = []
for r in readers:
    res = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        res += chunk
    results.append(res)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
set_limit(0)
counts = [0, 0, 0, 0]
bad = 0
for k in range(WRITERS):
    for j, i in enumerate(range(k, PAGES, WRITERS)):
        r = results[k][j] if j < len(results[k]) else 3
        counts[r] += 1
        got = os.pread(fd, 4096, BASE + i * 4096)
        want = page_b(i) if r == 1 else page_a(i)
        if r == 3 or got != want:
            bad += 1
            if bad <= 5:
                print("page %d: write result %d, content %s" % (
                    i, r, "A" if got == page_a(i) else
                    "B" if got == page_b(i) else "torn"))
print("4 writers at the limit: %d pages written, %d refused with ENOSPC, "
      "%d other errors, %d wrong" % (counts[1], counts[2], counts[3], bad))
if counts[1] == 0 or counts[2] == 0:
    print("expected both written and refused pages")
    bad += 1
failed = int(open(mnt + "/io_stat").read().split()[1]) - failed0
if failed != counts[2]:
    print("io_stat failed_writes grew by %d, not %d" % (failed, counts[2]))
    bad += 1
sys.exit(1 if bad else 0)
EOF
e2e_log "ok: at the limit each page is either written whole or left as it was"
e2e_stats_agree "$mnt"
e2e_log "ok: after the refused writes the classes table agrees with mm_stat"

# --- every stat file reads the same through tail (which trusts st_size)
# as through a pipe, even when it is longer than 4 KiB (classes).
# shellcheck disable=SC2002 # through a pipe on purpose: no st_size there
for f in "${STATS[@]}"; do
	[[ $(tail -n 2 "$mnt/$f") == "$(cat "$mnt/$f" | tail -n 2)" ]] ||
		e2e_fail "tail -n 2 $f does not show its last lines:" \
			"st_size $(stat -c %s "$mnt/$f"), content" \
			"$(cat "$mnt/$f" | wc -c) bytes"
done
e2e_log "ok: tail shows the last lines of every stat file"

e2e_stop "$mnt"
e2e_log "PASS"
