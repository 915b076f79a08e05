#!/usr/bin/env bash
# fio_verify_compact.sh - data integrity under concurrent I/O and
# compaction, checked by fio's crc32c verify (while writing, through
# verify_backlog, and after each pass).
# 1. The loop device (O_DIRECT, libaio): random 4 KiB, 64 KiB and 1 MiB
#    blocks from 3 jobs on separate regions, five times over (every rewrite
#    frees objects and fragments the pool). Two jobs write very
#    compressible blocks (small objects, many per zspage), one random ones
#    (huge pages).
# 2. disk.img itself, no loop device: 4 jobs of 1, 3, 12 and 64 KiB writes
#    at 1 KiB-aligned offsets, so most writes are partial pages
#    (read-modify-write in the daemon).
# Meanwhile a background loop writes `1` to compact without pause, and
# another switches comp_algorithm between lz4, zstd and lz4hc (so the pages
# end up written by all three), marks every page idle and reads the stat
# files. Any verify error, any failed control write or stat read, or a
# non-zero fio exit fails the test; at the end the classes table must agree
# with mm_stat.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 losetup fio

e2e_tmpdir work
mnt=$work/uzram
mkdir "$mnt"
e2e_start "$mnt" --size 512M --threads 4
e2e_losetup dev "$mnt/disk.img"

cat >"$work/loop.fio" <<EOF
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

cat >"$work/direct.fio" <<EOF
[global]
filename=$mnt/disk.img
ioengine=psync
rw=randwrite
bssplit=1k/40:3k/20:12k/20:64k/20
size=24M
offset_increment=128M
loops=2
verify=crc32c
verify_interval=1024
verify_fatal=1
verify_backlog=256
do_verify=1
verify_state_save=0
randrepeat=0
numjobs=4

[partial]
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
# The churner: codec switches, idle marking and stat reads, likewise.
churner() {
	local n=0 algo
	while [[ ! -e "$work/stop" ]]; do
		for algo in zstd lz4hc lz4; do
			if ! { echo $algo >"$mnt/comp_algorithm" &&
				echo all >"$mnt/idle" &&
				cat "$mnt/mm_stat" "$mnt/classes" \
					"$mnt/stats.json" >/dev/null; }; then
				echo "churn failed after $n rounds" >"$work/churn.err"
				break 2
			fi
			sleep 0.02
		done
		n=$((n + 1))
	done
	echo "$n" >"$work/churn.rounds"
}

# run_fio NAME: run $work/NAME.fio, fail on any error or verify complaint.
run_fio() {
	local name=$1 rc=0 t0
	t0=$(e2e_now_ms)
	# In $work, so whatever fio leaves behind goes away with it. Verify
	# errors go to stderr, the report to --output: keep both.
	(cd "$work" && timeout 300 fio --output="$work/$name.out" \
		"$work/$name.fio" 2>"$work/$name.err") || rc=$?
	grep -E 'WRITE:|READ:' "$work/$name.out" >&2 || :
	e2e_log "$name: fio ran $(($(e2e_now_ms) - t0)) ms, exit $rc;" \
		"mm_stat: $(cat "$mnt/mm_stat")"
	if grep -Eni 'verify|bad magic|crc|mismatch' "$work/$name.out" \
		"$work/$name.err" >"$work/bad"; then
		cat "$work/bad" >&2
		e2e_fail "$name: fio reported verify errors"
	fi
	((rc == 0)) || {
		cat "$work/$name.out" "$work/$name.err" >&2
		e2e_fail "$name: fio exited with $rc"
	}
	if grep -E 'err= *[1-9]' "$work/$name.out"; then
		e2e_fail "$name: a fio job ended with an error"
	fi
	e2e_log "ok: $name: fio exited 0, no verify error"
}

e2e_cleanup_add "touch '$work/stop'; kill \$COMPACTOR \$CHURNER 2>/dev/null; wait \$COMPACTOR \$CHURNER"
compactor &
COMPACTOR=$!
churner &
CHURNER=$!

run_fio loop
e2e_losetup_detach "$dev"
run_fio direct

touch "$work/stop"
wait "$COMPACTOR" || e2e_fail "the compaction loop ended with an error"
wait "$CHURNER" || e2e_fail "the churn loop ended with an error"
[[ ! -e "$work/compact.err" ]] || e2e_fail "$(cat "$work/compact.err")"
rounds=$(cat "$work/compact.rounds")
((rounds > 0)) || e2e_fail "compaction never ran"
e2e_log "ok: $rounds writes to compact succeeded during the runs"
[[ ! -e "$work/churn.err" ]] || e2e_fail "$(cat "$work/churn.err")"
rounds=$(cat "$work/churn.rounds")
((rounds > 0)) || e2e_fail "the churn loop never completed a round"
e2e_log "ok: $rounds rounds of codec switches, idle all and stat reads"
read -r -a MM <"$mnt/mm_stat"
e2e_log "pages_compacted ${MM[6]} (informative: depends on timing)"
e2e_stats_agree "$mnt"
e2e_log "ok: after rewrites and compaction the classes agree with mm_stat"

e2e_stop "$mnt"
e2e_log "PASS"
