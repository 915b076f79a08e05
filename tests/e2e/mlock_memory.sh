#!/usr/bin/env bash
# mlock_memory.sh - --mlock locks what the daemon touches, never more, and
# still gives memory back:
#   1. `--size 1T --mlock` starts under 32 MiB RSS (the slot table of a
#      1 TiB disk is 4 GiB of address space and must not be populated);
#   2. with --mlock, 1 GiB written then punched out of disk.img: the pool
#      and the slot table go back, RSS falls to within 8 MiB of where it
#      started (mlockall without MCL_ONFAULT and an unchecked
#      MADV_DONTNEED kept the daemon at the size of the pool for ever);
#   3. memory really is locked (smaps' resident "Locked" grows with use),
#      so the test tests --mlock and not an unlocked daemon.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd fallocate python3
e2e_sanitized && e2e_skip "ASan/TSan daemon: mlockall is a no-op and RSS is the sanitizer's shadow, so neither figure means anything"
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"

# kB of the daemon's status line $1 (VmRSS)
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$UZRAM_PID/status"; }
# kB of the daemon's resident locked memory
locked_kb() { awk '$1 == "Locked:" { print $2 }' "/proc/$UZRAM_PID/smaps_rollup"; }

# 1. A 1 TiB disk starts small.
e2e_start "$mnt" --size 1T --mlock --threads 2
rss=$(status_kb VmRSS)
e2e_log "--size 1T --mlock: RSS $rss kB, locked $(locked_kb) kB at start"
((rss < 32 * 1024)) || e2e_fail "--size 1T --mlock starts at $rss kB RSS (limit 32 MiB)"
e2e_stop "$mnt"

# 2. 1 GiB in and out.
e2e_start "$mnt" --size 2G --mlock --threads 2
# warm up: each worker's buffers and codec contexts are made on first use
python3 - "$mnt/disk.img" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for i in range(16):
    os.pwrite(fd, os.urandom(1 << 20), i << 20)
    os.pread(fd, 1 << 20, i << 20)
os.close(fd)
PY
fallocate -p -o 0 -l 16M "$mnt/disk.img"
start=$(status_kb VmRSS)
lck0=$(locked_kb)
# 1 GiB of pages that compress about 2:1 (half random, half zeros)
python3 - "$mnt/disk.img" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
half = b"\0" * 2048
for mib in range(1024):
    buf = b"".join(os.urandom(2048) + half for _ in range(256))
    os.pwrite(fd, buf, mib << 20)
os.close(fd)
PY
full=$(status_kb VmRSS)
lck=$(locked_kb)
read -r _ _ used _ <"$mnt/mm_stat"
e2e_log "1 GiB written: RSS $start -> $full kB, locked $lck0 -> $lck kB, mem_used_total $used"
((full - start > 400 * 1024)) || e2e_fail "RSS grew only $((full - start)) kB for 1 GiB at 2:1"
((lck - lck0 > 400 * 1024)) || e2e_fail "locked memory grew only $((lck - lck0)) kB: --mlock did not lock"
fallocate -p -o 0 -l 1G "$mnt/disk.img"
after=$(status_kb VmRSS)
read -r _ _ used _ <"$mnt/mm_stat"
e2e_log "punched: RSS $after kB (start $start kB), locked $(locked_kb) kB, mem_used_total $used"
((used == 0)) || e2e_fail "mem_used_total $used after punching everything"
((after - start < 8 * 1024)) ||
	e2e_fail "RSS $after kB after the punch, $((after - start)) kB above the start (limit 8 MiB)"

# the disk still works, and its memory is locked again on use
head -c $((4 << 20)) /dev/urandom >"$work/data"
dd if="$work/data" of="$mnt/disk.img" bs=1M seek=100 conv=notrunc status=none
cmp -n $((4 << 20)) "$work/data" <(dd if="$mnt/disk.img" bs=1M skip=100 count=4 status=none) ||
	e2e_fail "data written after the punch does not read back"
e2e_stop "$mnt"
e2e_log "PASS"
