#!/usr/bin/env bash
# updown_swap.sh - compressed swap in one step, under memory pressure.
#
# `uzramctl --up swap` with fs_type = swap starts the daemon with --mlock
# (swap must never wait on swap), attaches a loop device, mkswap, swapon
# --discard with the configured priority. A process in a memory cgroup
# (v1, /sys/fs/cgroup/memory; a unique name, removed at exit) limited to
# 32 MiB writes 128 MiB (4x its limit) of numbered pages: most of it must
# be swapped out onto the uzram disk (VmSwap, mm_stat), and every page must
# read back right. --down swaps off, detaches and stops the daemon.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup mkswap swapon swapoff fusermount3
PY=/usr/bin/python3
[[ -x $PY ]] || e2e_skip "needs /usr/bin/python3"
CG_ROOT=/sys/fs/cgroup/memory
[[ -w $CG_ROOT/cgroup.procs ]] ||
	e2e_skip "needs a cgroup v1 memory controller at $CG_ROOT"

CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
[[ -x "$CTL" ]] || e2e_fail "no uzramctl at '$CTL' (set UZRAMCTL_BIN)"
export UZRAM_BIN=${UZRAM_BIN:-$(e2e_bin)}
LIMIT_MB=32
FILL_MB=$((4 * LIMIT_MB))

e2e_tmpdir work
export UZRAM_CONF_DIR=$work/conf UZRAM_RUN_DIR=$work/run
mkdir "$UZRAM_CONF_DIR"
printf 'size = 512M\nalgo = lz4\nfs_type = swap\nswap_priority = 32767\n' \
	>"$UZRAM_CONF_DIR/swap.conf"

undo_swap() {
	local d
	for d in $(losetup --list -n -O NAME -j "$UZRAM_RUN_DIR/swap/disk.img" 2>/dev/null); do
		swapoff "$d" 2>/dev/null
		losetup -d "$d"
	done
	e2e_is_mounted "$UZRAM_RUN_DIR/swap" && fusermount3 -u "$UZRAM_RUN_DIR/swap"
	return 0
}
e2e_cleanup_add "undo_swap"
e2e_cleanup_add "'$CTL' --down swap"
dev=$("$CTL" --up swap) || e2e_fail "--up swap failed"
check "$dev is swap with priority 32767" \
	eval '[[ $(awk -v d="$dev" '"'"'$1 == d { print $5 }'"'"' /proc/swaps) == 32767 ]]'
pid=$(pgrep -f "uzram-swap $UZRAM_RUN_DIR/swap" | head -1)
check "the daemon runs with --mlock" eval '[[ $(tr "\0" " " <"/proc/$pid/cmdline") == *--mlock* ]]'
if ! e2e_sanitized; then
	check "the daemon's memory is locked" \
		grep -q '^VmLck:[[:space:]]*[1-9][0-9]* kB' "/proc/$pid/status"
fi

# --- a memory cgroup that forces its process to swap 4x its limit
cg=$CG_ROOT/uzram-e2e-$$-$RANDOM
e2e_cleanup_add "rmdir '$cg'"
e2e_cleanup_add "for p in \$(cat '$cg/cgroup.procs' 2>/dev/null); do kill -9 \$p; done; sleep 0.2"
mkdir "$cg" || e2e_fail "mkdir $cg"
echo $((LIMIT_MB << 20)) >"$cg/memory.limit_in_bytes" || e2e_fail "memory.limit_in_bytes"
[[ -w $cg/memory.swappiness ]] && echo 100 >"$cg/memory.swappiness"

sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
	"$PY" - "$FILL_MB" "$UZRAM_RUN_DIR/swap/mm_stat" >"$work/py.out" 2>&1 <<'PYEOF' ||
import random, sys
mb, mm = int(sys.argv[1]), sys.argv[2]
PAGE = 4096
n = mb * 256
buf = bytearray(n * PAGE)
def page(i):  # numbered, compressible 4x, never same-filled
    return (i.to_bytes(8, "little") + random.Random(i).randbytes(1016)) * 4
for i in range(n):
    buf[i * PAGE:(i + 1) * PAGE] = page(i)
swap_kb = 0
for line in open("/proc/self/status"):
    if line.startswith("VmSwap:"):
        swap_kb = int(line.split()[1])
orig = int(open(mm).read().split()[0])
print("filled %d pages; VmSwap %d kB; uzram orig_data_size %d" % (n, swap_kb, orig))
bad = [i for i in range(n) if buf[i * PAGE:(i + 1) * PAGE] != page(i)]
print("bad pages: %d" % len(bad))
if swap_kb < (mb - 2 * (mb // 4)) * 1024 or orig < swap_kb * 1024 // 2:
    print("FAIL: too little went to the uzram swap")
    sys.exit(1)
sys.exit(1 if bad else 0)
PYEOF
	e2e_fail "swap under pressure: $(cat "$work/py.out")"
e2e_log "ok: $(tr '\n' ';' <"$work/py.out")"
check "the cgroup hit its limit" test "$(cat "$cg/memory.failcnt")" -gt 0

"$CTL" --down swap || e2e_fail "--down swap"
check "swap is off" eval '! grep -q "^$dev " /proc/swaps'
check "loop device detached" eval '[[ -z $(losetup -n -O NAME -j "$UZRAM_RUN_DIR/swap/disk.img") ]]'
check "daemon unmounted" eval '! e2e_is_mounted "$UZRAM_RUN_DIR/swap"'
