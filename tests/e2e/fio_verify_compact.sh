#!/usr/bin/env bash
# fio_verify_compact.sh - data integrity under concurrent I/O and
# compaction. fio writes the loop device (O_DIRECT) with random 4 KiB, 64 KiB
# and 1 MiB blocks from 3 jobs on separate regions, five times over (every
# rewrite frees objects and fragments the pool), checking every block with
# crc32c both while writing (verify_backlog) and after each pass. Two jobs
# write very compressible blocks (small objects, many per zspage), one
# random ones (huge pages). Meanwhile a background loop writes `1` to
# compact without pause. Any verify error, any failed write to compact, or
# a non-zero fio exit fails the test.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 losetup fio

e2e_tmpdir work
mnt=$work/uzram
mkdir "$mnt"
e2e_start "$mnt" --size 512M --threads 4
e2e_losetup dev "$mnt/disk.img"

cat >"$work/verify.fio" <<EOF
[global]
filename=$dev
direct=1
ioengine=libaio
iodepth=8
rw=randwrite
bssplit=4k/60:64k/10:1m/30
size=96M
offset_increment=128M
loops=5
verify=crc32c
verify_fatal=1
verify_backlog=128
do_verify=1
verify_state_save=0
randrepeat=0

[text]
numjobs=2
verify_pattern=0x7a7a7a7a
verify_interval=512

[random]
offset=256M
numjobs=1
EOF

# The compactor: runs until told to stop, counts its rounds, and records
# the first failure in a file the test checks afterwards.
compactor() {
	local n=0
	while [[ ! -e "$work/stop" ]]; do
		if ! echo 1 >"$mnt/compact"; then
			echo "write to compact failed after $n rounds" >"$work/compact.err"
			break
		fi
		n=$((n + 1))
	done
	echo "$n" >"$work/compact.rounds"
}
e2e_cleanup_add "touch '$work/stop'; kill \$COMPACTOR 2>/dev/null; wait \$COMPACTOR"
compactor &
COMPACTOR=$!

t0=$(e2e_now_ms)
rc=0
# (in $work: whatever fio leaves behind goes away with it)
(cd "$work" && timeout 300 fio --output="$work/fio.out" "$work/verify.fio") ||
	rc=$?
dt=$(($(e2e_now_ms) - t0))
touch "$work/stop"
wait "$COMPACTOR" || e2e_fail "the compaction loop ended with an error"

grep -E 'err=|WRITE:|READ:' "$work/fio.out" >&2 || :
e2e_log "fio ran ${dt} ms, exit $rc; compaction rounds" \
	"$(cat "$work/compact.rounds"); mm_stat: $(cat "$mnt/mm_stat")"
if grep -Ein 'verify|bad magic|crc|mismatch' "$work/fio.out" >"$work/bad"; then
	cat "$work/bad" >&2
	e2e_fail "fio reported verify errors"
fi
e2e_log "ok: fio output shows no verify error"
((rc == 0)) || {
	cat "$work/fio.out" >&2
	e2e_fail "fio exited with $rc"
}
e2e_log "ok: fio exited 0"
if grep -E 'err= *[1-9]' "$work/fio.out"; then
	e2e_fail "a fio job ended with an error"
fi
[[ ! -e "$work/compact.err" ]] || e2e_fail "$(cat "$work/compact.err")"
rounds=$(cat "$work/compact.rounds")
((rounds > 0)) || e2e_fail "compaction never ran"
e2e_log "ok: $rounds writes to compact succeeded during the run"
read -r -a MM <"$mnt/mm_stat"
e2e_log "pages_compacted ${MM[6]} (informative: depends on timing)"
e2e_stats_agree "$mnt"
e2e_log "ok: after rewrites and compaction the classes agree with mm_stat"

e2e_losetup_detach "$dev"
e2e_stop "$mnt"
e2e_log "PASS"
