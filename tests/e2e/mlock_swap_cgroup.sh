#!/usr/bin/env bash
# mlock_swap_cgroup.sh - swap on uzram, the use zram exists for, works with
# --mlock under memory pressure: a process in a memory cgroup limited to
# 32 MiB writes 128 MiB (4x its limit) of pseudo-random, verifiable pages
# and reads them back twice, with swap ONLY on a loop device over uzram's
# disk.img (highest priority, so any other swap is not used first). Every
# page must verify, the swap on uzram must have held most of the data, and
# the daemon, locked in memory, must have served it all.
#
# Cleanup order (registered before each thing is made, undone in reverse):
# the cgroup's processes are killed and the cgroup removed, then swapoff,
# then the loop device, then the daemon; nothing else is touched.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup mkswap swapon swapoff python3
cgroot=/sys/fs/cgroup/memory
[[ -w $cgroot/cgroup.procs && -e $cgroot/memory.limit_in_bytes ]] ||
	e2e_skip "needs the cgroup v1 memory controller at $cgroot"
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"

LIMIT_MIB=32
DATA_MIB=$((4 * LIMIT_MIB))

e2e_start "$mnt" --size 512M --mlock
e2e_losetup dev "$mnt/disk.img"
mkswap -q "$dev" >/dev/null || e2e_fail "mkswap $dev failed"
e2e_cleanup_add "swapoff '$dev'"
swapon -p 32767 "$dev" || e2e_fail "swapon $dev failed"

cg=$cgroot/uzram-e2e-$$-$RANDOM
e2e_cleanup_add "for p in \$(cat '$cg/cgroup.procs' 2>/dev/null); do kill -9 \$p; done; sleep 0.3; rmdir '$cg'"
mkdir "$cg" || e2e_fail "cannot make cgroup $cg"
echo $((LIMIT_MIB << 20)) >"$cg/memory.limit_in_bytes"
echo 100 >"$cg/memory.swappiness" 2>/dev/null || true # absent on some kernels: the default works too

cat >"$work/pressure.py" <<'PY'
# Write DATA_MIB of pages (each: its index, 2 KiB of bytes seeded by the
# index, zeros), report swap use, then verify every page twice.
import mmap, random, sys
mib, dev = int(sys.argv[1]), sys.argv[2]
pages = mib * 256
def page(i):
    return i.to_bytes(8, "little") + random.Random(i).randbytes(2040) + bytes(2048)
m = mmap.mmap(-1, pages * 4096)
for i in range(pages):
    m[i * 4096:(i + 1) * 4096] = page(i)
used = 0
with open("/proc/swaps") as f:
    for line in f:
        if line.split()[0] == dev:
            used = int(line.split()[3])
print(f"swap used on {dev}: {used} KiB", flush=True)
bad = 0
for rnd in range(2):
    for i in range(pages):
        if m[i * 4096:(i + 1) * 4096] != page(i):
            bad += 1
print(f"bad pages: {bad}", flush=True)
sys.exit(1 if bad or used < (mib // 2) * 1024 else 0)
PY

rc=0
timeout 600 bash -c "echo \$\$ >'$cg/cgroup.procs' && exec python3 '$work/pressure.py' $DATA_MIB '$dev'" \
	>"$work/out" 2>&1 || rc=$?
cat "$work/out" >&2
e2e_log "cgroup failcnt $(cat "$cg/memory.failcnt"), max usage $(($(cat "$cg/memory.max_usage_in_bytes") >> 20)) MiB; daemon RSS $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$UZRAM_PID/status") kB"
((rc == 0)) || e2e_fail "the process under pressure failed (exit $rc): $(tail -2 "$work/out")"
grep -q "^bad pages: 0$" "$work/out" || e2e_fail "pages did not verify"
kill -0 "$UZRAM_PID" || e2e_fail "the daemon died"
e2e_log "PASS: $DATA_MIB MiB under a $LIMIT_MIB MiB limit, swapped to uzram, verified twice"
