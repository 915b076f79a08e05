#!/usr/bin/env bash
# signal_busy.sh - a stop signal does not throw away a disk that is in use.
#
# While a loop device holds disk.img, the first SIGTERM is refused with a
# warning on stderr (stopping would drop the only copy of a possibly mounted
# filesystem; fusermount3 -u and `reset` refuse in that state too), and the
# disk keeps working. Once the loop device is detached, SIGTERM stops the
# daemon with exit status 0 and unmounts. A second signal within 5 s of a
# refused one forces the stop even while the disk is in use; but the guard
# re-arms: a signal that comes later than that, or after the disk was
# detached and attached again, is refused again (before, one refusal was
# remembered for ever and any later signal dropped the disk).
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup fusermount3 dd cmp
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"

# 1. Refused while busy, then a clean stop once detached.
e2e_start "$mnt" --size 64M 2>"$work/stderr"
pid=$UZRAM_PID
e2e_losetup dev "$mnt/disk.img"
head -c $((1 << 20)) /dev/urandom >"$work/data"
dd if="$work/data" of="$dev" bs=1M oflag=direct status=none
kill -TERM "$pid"
sleep 1
kill -0 "$pid" 2>/dev/null || e2e_fail "daemon stopped on SIGTERM while disk.img was in use"
e2e_is_mounted "$mnt" || e2e_fail "mount gone after a refused SIGTERM"
grep -q "disk.img is in use" "$work/stderr" ||
	e2e_fail "no warning on stderr: $(cat "$work/stderr")"
cmp -n $((1 << 20)) "$work/data" "$dev" || e2e_fail "data changed after a refused SIGTERM"
e2e_log "SIGTERM while busy: refused with a warning, data intact"
e2e_losetup_detach "$dev"
kill -TERM "$pid"
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || e2e_fail "daemon still running 10 s after SIGTERM"
wait "$pid" || rc=$?
((rc == 0)) || e2e_fail "daemon exited with $rc after SIGTERM"
e2e_is_mounted "$mnt" && e2e_fail "still mounted after SIGTERM"
e2e_log "SIGTERM when idle: exit 0, unmounted"

# 2. A second signal forces the stop while busy.
e2e_start "$mnt" --size 64M 2>"$work/stderr2"
pid=$UZRAM_PID
e2e_losetup dev "$mnt/disk.img"
kill -TERM "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null || e2e_fail "first SIGTERM not refused"
kill -TERM "$pid"
timeout 10 tail --pid="$pid" -f /dev/null ||
	e2e_fail "daemon still running 10 s after a second SIGTERM"
e2e_log "second SIGTERM while busy: stopped"
e2e_losetup_detach "$dev"
e2e_is_mounted "$mnt" && { fusermount3 -u "$mnt" || umount -l "$mnt"; }

# 3. The guard re-arms: signals further apart than the window, and a
# refusal followed by a detach and a new attach, leave the disk alone.
e2e_start "$mnt" --size 64M 2>"$work/stderr3"
pid=$UZRAM_PID
e2e_losetup dev "$mnt/disk.img"
dd if="$work/data" of="$dev" bs=1M oflag=direct status=none
kill -TERM "$pid"
sleep 5.5 # longer than the 5 s window: "an hour later" for the guard
kill -TERM "$pid"
sleep 1
kill -0 "$pid" 2>/dev/null || e2e_fail "stopped by two SIGTERMs 5.5 s apart while disk.img was in use"
(($(grep -c "disk.img is in use" "$work/stderr3") == 2)) ||
	e2e_fail "expected two warnings: $(cat "$work/stderr3")"
e2e_losetup_detach "$dev"
e2e_losetup dev "$mnt/disk.img"
kill -TERM "$pid" # within 5 s of the last refusal, but the disk was detached
sleep 1
kill -0 "$pid" 2>/dev/null || e2e_fail "stopped by a SIGTERM after a re-attach (the guard did not re-arm)"
cmp -n $((1 << 20)) "$work/data" "$dev" || e2e_fail "data changed after refused SIGTERMs"
e2e_log "SIGTERMs 5.5 s apart, and after a re-attach: refused, data intact"
e2e_losetup_detach "$dev"
kill -TERM "$pid"
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || e2e_fail "daemon still running 10 s after SIGTERM"
wait "$pid" || rc=$?
((rc == 0)) || e2e_fail "daemon exited with $rc after SIGTERM"
e2e_log "PASS"
