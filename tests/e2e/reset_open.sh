#!/usr/bin/env bash
# reset_open.sh - while `reset` runs, an open of disk.img is refused with
# EBUSY (as an open of /dev/zramN is while zram resets), so a write cannot
# succeed on a disk the running reset then wipes; `reset` is EBUSY while
# disk.img is open; and after the reset the disk opens, takes data and
# mm_stat agrees with it. The reset is made to take 1.5 s with the test
# hook debug_reset_delay (sleeps with the store claimed).
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd python3
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"

e2e_start "$mnt" --size 1T
[[ -e "$mnt/debug_reset_delay" ]] ||
	e2e_skip "no debug_reset_delay file: uzram built without UZRAM_TEST_HOOKS"
head -c 4096 /dev/urandom >"$work/page"
dd if="$work/page" of="$mnt/disk.img" bs=4096 conv=notrunc status=none

# reset refused while the disk is open
exec 3<>"$mnt/disk.img"
if echo 1 >"$mnt/reset" 2>"$work/err"; then
	e2e_fail "reset succeeded while disk.img was open"
fi
grep -q "busy" "$work/err" || e2e_fail "reset while open: $(cat "$work/err")"
exec 3>&-
e2e_log "ok: reset while disk.img is open: EBUSY"

# open while the reset runs: refused; the reset wipes what was there
echo 1500 >"$mnt/debug_reset_delay"
sh -c "echo 1 >'$mnt/reset'" &
reset_pid=$!
e2e_cleanup_add "wait $reset_pid"
sleep 0.3
python3 - "$mnt/disk.img" "$work/page" <<'PY' || e2e_fail "an open of disk.img during the reset was not refused with EBUSY"
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDWR)
except OSError as e:
    sys.exit(0 if e.errno == errno.EBUSY else 1)
# as reported: the write succeeds, the reset wipes it
os.pwrite(fd, open(sys.argv[2], "rb").read(), (1 << 40) - 8192)
os.close(fd)
sys.exit(1)
PY
wait "$reset_pid" || e2e_fail "the reset failed"
e2e_cleanup_drop "wait $reset_pid"
echo 0 >"$mnt/debug_reset_delay"
e2e_log "ok: open during the reset: EBUSY; the reset succeeded"

# after it: the disk is empty, opens, takes a page, and mm_stat counts it
cmp -n 4096 /dev/zero "$mnt/disk.img" || e2e_fail "page 0 not zero after the reset"
python3 - "$mnt/disk.img" "$work/page" <<'PY' || e2e_fail "write after the reset"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, open(sys.argv[2], "rb").read(), (1 << 40) - 8192)
os.close(fd)
PY
cmp -n 4096 "$work/page" <(dd if="$mnt/disk.img" bs=4096 skip=$(((1 << 28) - 2)) count=1 status=none) ||
	e2e_fail "the page written after the reset does not read back"
read -r orig compr _ <"$mnt/mm_stat"
((orig == 4096 && compr > 0)) || e2e_fail "mm_stat after one page: orig $orig compr $compr"
e2e_stop "$mnt"
e2e_log "PASS"
