#!/usr/bin/env bash
# transport.sh - --transport: auto takes FUSE over io_uring when the kernel
# offers it and /dev/fuse when it does not, and says which and why in one
# line; uring refuses to start without the ring (exit 1, one line, nothing
# mounted); dev never uses the ring; stats.json's "transport" tells the
# truth each time, and data written on one transport reads back on it.
# The "does not offer" cases are made for real: enable_uring=N, and
# kernel.io_uring_disabled=2 (io_uring refused altogether). Both settings
# are the machine's: they are changed only while no other test holds the
# ring on (lib.sh's count, under its lock, which this test keeps until it
# has put the old values back).
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd fusermount3 flock timeout cmp
[[ -w $E2E_URING_PARAM ]] ||
	e2e_skip "no $E2E_URING_PARAM: kernel without FUSE over io_uring"
unset UZRAM_TRANSPORT # this test picks the transport itself

bin=$(e2e_bin)
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"
head -c $((4 << 20)) /dev/urandom >"$work/data"

# run_daemon TRANSPORT: uzram -f in the background, its stderr in
# $work/err; waits for the mount. Sets pid.
run_daemon() {
	e2e_cleanup_add "e2e_is_mounted '$mnt' && fusermount3 -u '$mnt'"
	"$bin" "$mnt" -f --size 64M --transport "$1" 2>"$work/err" &
	pid=$!
	e2e_cleanup_add "kill $pid 2>/dev/null"
	local i
	for ((i = 0; i < 200; i++)); do
		e2e_is_mounted "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null ||
			e2e_fail "uzram --transport $1 exited: $(cat "$work/err")"
		sleep 0.05
	done
	e2e_fail "uzram --transport $1: no mount after 10 s"
}
stop_daemon() {
	fusermount3 -u "$mnt" || e2e_fail "fusermount3 -u failed"
	wait "$pid" || e2e_fail "uzram exited with $? after unmount"
}
# served TRANSPORT WHY: the line, stats.json and a data round trip agree
served() {
	grep -q "^uzram: transport: $1 (.*$2" "$work/err" ||
		e2e_fail "expected 'transport: $1 (...$2...)', got: $(cat "$work/err")"
	e2e_transport_is "$mnt" "$1"
	dd if="$work/data" of="$mnt/disk.img" bs=1M oflag=direct conv=notrunc \
		status=none || e2e_fail "write on $1"
	cmp -n $((4 << 20)) "$mnt/disk.img" "$work/data" ||
		e2e_fail "read back on $1"
	e2e_log "ok: $1: $(grep transport "$work/err")"
}
# refused WHY: --transport uring fails with one line naming WHY
refused() {
	local rc=0
	timeout 20 "$bin" "$mnt" -f --size 64M --transport uring \
		2>"$work/err" || rc=$?
	((rc == 1)) || e2e_fail "--transport uring exited $rc, not 1"
	grep -v PR_SET_IO_FLUSHER "$work/err" >"$work/err1" || true
	[[ $(wc -l <"$work/err1") -eq 1 ]] && grep -q "$1" "$work/err1" ||
		e2e_fail "--transport uring: expected one line with '$1': $(cat "$work/err")"
	e2e_is_mounted "$mnt" && e2e_fail "--transport uring left a mount"
	e2e_log "ok: --transport uring refused: $(cat "$work/err1")"
}

# --- the ring off: hold lib.sh's lock until no test needs it on
exec 9>"$E2E_URING_STATE.lock"
for ((i = 0; ; i++)); do
	flock 9
	[[ $(cat "$E2E_URING_STATE.count" 2>/dev/null || echo 0) -eq 0 ]] && break
	flock -u 9
	((i < 600)) || e2e_fail "other tests kept enable_uring on for 2 min"
	sleep 0.2
done
old_param=$(cat "$E2E_URING_PARAM")
old_disabled=$(cat /proc/sys/kernel/io_uring_disabled)
e2e_cleanup_add "echo '$old_param' >'$E2E_URING_PARAM'"
e2e_cleanup_add "echo '$old_disabled' >/proc/sys/kernel/io_uring_disabled"

echo N >"$E2E_URING_PARAM"
run_daemon auto
served dev "enable_uring is N"
stop_daemon
refused "enable_uring is N"

echo Y >"$E2E_URING_PARAM"
echo 2 >/proc/sys/kernel/io_uring_disabled
run_daemon auto
served dev "io_uring is refused here"
stop_daemon
refused "io_uring is refused here"
echo "$old_disabled" >/proc/sys/kernel/io_uring_disabled
echo "$old_param" >"$E2E_URING_PARAM"
e2e_cleanup_drop "echo '$old_disabled' >/proc/sys/kernel/io_uring_disabled"
e2e_cleanup_drop "echo '$old_param' >'$E2E_URING_PARAM'"
flock -u 9
exec 9>&-

# --- the ring on (shared with other tests)
e2e_uring_on
run_daemon auto
served uring "the kernel offers FUSE over io_uring"
stop_daemon
run_daemon dev
served dev "--transport dev"
stop_daemon
run_daemon uring
served uring "offers"
# SIGTERM with the ring up: a clean exit, nothing left mounted
kill -TERM "$pid"
wait "$pid" || e2e_fail "uzram on the ring exited $? after SIGTERM"
e2e_is_mounted "$mnt" && e2e_fail "still mounted after SIGTERM"
e2e_log "ok: SIGTERM on the ring: exit 0, unmounted"
e2e_log "PASS"
