#!/usr/bin/env bash
# sigkill_recovery.sh - the daemon dies under load (SIGKILL) and the system
# recovers. While I/O runs against disk.img (writes and reads) and against a
# loop device on it, uzram is killed with SIGKILL. Then:
# - every I/O process ends within 20 s (no hang) with a non-zero status and
#   an error a user can read: ENOTCONN "Transport endpoint is not
#   connected", ECONNABORTED, or EIO "Input/output error" (loop device);
# - the dead mount answers ENOTCONN rather than hanging;
# - once the loop device is detached, `fusermount3 -u` clears the mount;
# - a fresh uzram mounts on the same directory and works.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

LIMIT=20 # seconds the I/O may take to fail after the kill

e2e_require_root
e2e_require_cmd fusermount3 losetup dd cmp timeout

e2e_tmpdir work
mnt=$work/uzram
mkdir "$mnt"
e2e_start "$mnt" --size 256M
e2e_losetup dev "$mnt/disk.img"
head -c 8M /dev/urandom >"$work/data"
dd if="$work/data" of="$dev" bs=1M oflag=direct status=none ||
	e2e_fail "writing the loop device"

# Each worker loops until an I/O call fails; its stderr goes to a file.
workers=()
names=()
worker() { # worker NAME COMMAND...: start COMMAND in a loop, in background
	local name=$1
	shift
	(while :; do "$@" || exit 1; done) 2>"$work/$name.err" &
	workers+=($!)
	names+=("$name")
	e2e_cleanup_add "kill $! 2>/dev/null"
}
worker img-write dd if="$work/data" of="$mnt/disk.img" bs=64k seek=100 \
	conv=notrunc status=none
worker img-read dd if="$mnt/disk.img" of=/dev/null bs=256k count=400 \
	status=none
worker loop-write dd if="$work/data" of="$dev" bs=1M seek=32 oflag=direct \
	conv=notrunc status=none
worker loop-read dd if="$dev" of=/dev/null bs=1M count=64 iflag=direct \
	status=none
sleep 1
for i in "${!workers[@]}"; do
	kill -0 "${workers[i]}" 2>/dev/null ||
		e2e_fail "${names[i]} stopped before the kill: $(cat "$work/${names[i]}.err")"
done
e2e_log "ok: ${#workers[@]} I/O loops running; mm_stat $(cat "$mnt/mm_stat")"

kill -KILL "$UZRAM_PID"
t0=$(e2e_now_ms)
e2e_log "sent SIGKILL to uzram (pid $UZRAM_PID)"
rc=0
wait "$UZRAM_PID" || rc=$?
((rc == 137)) || e2e_fail "uzram exited with $rc, not by SIGKILL"

for i in "${!workers[@]}"; do
	pid=${workers[i]} name=${names[i]}
	until ! kill -0 "$pid" 2>/dev/null; do
		(($(e2e_now_ms) - t0 < LIMIT * 1000)) ||
			e2e_fail "$name still running $LIMIT s after the kill: hang"
		sleep 0.05
	done
	rc=0
	wait "$pid" || rc=$?
	dt=$(($(e2e_now_ms) - t0))
	msg=$(head -1 "$work/$name.err")
	((rc != 0)) || e2e_fail "$name ended with status 0"
	# (a request the ring had handed to the killed daemon: ECANCELED)
	[[ $msg =~ (Transport endpoint is not connected|Software caused connection abort|Input/output error|Operation canceled) ]] ||
		e2e_fail "$name: unexpected error: '$msg'"
	e2e_log "ok: $name failed after ${dt} ms: $msg"
done

# The dead mount must answer at once, not hang.
if msg=$(timeout 10 stat "$mnt/disk.img" 2>&1); then
	e2e_fail "stat on the dead mount succeeded"
fi
[[ $msg == *"Transport endpoint is not connected"* ]] ||
	e2e_fail "stat on the dead mount: $msg"
e2e_log "ok: the dead mount answers: $msg"

# The loop device holds the dead file open: detach it, then unmount.
e2e_losetup_detach "$dev"
if ! msg=$(timeout 10 fusermount3 -u "$mnt" 2>&1); then
	e2e_fail "fusermount3 -u on the dead mount: $msg"
fi
e2e_is_mounted "$mnt" && e2e_fail "$mnt still mounted after fusermount3 -u"
grep -qs " $mnt " /proc/mounts && e2e_fail "$mnt still in /proc/mounts"
e2e_log "ok: fusermount3 -u cleared $mnt; nothing left in /proc/mounts"

# A fresh daemon on the same mountpoint.
e2e_start "$mnt" --size 64M
dd if="$work/data" of="$mnt/disk.img" bs=1M conv=notrunc status=none ||
	e2e_fail "writing the new disk.img"
cmp -n $((8 << 20)) "$mnt/disk.img" "$work/data" ||
	e2e_fail "the new disk.img reads back wrong"
e2e_log "ok: a fresh uzram mounted on $mnt works: mm_stat $(cat "$mnt/mm_stat")"
e2e_stop "$mnt"
e2e_log "PASS"
