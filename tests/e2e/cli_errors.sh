#!/usr/bin/env bash
# cli_errors.sh - the command line. Bad invocations (a busy mountpoint, bad
# sizes, an unknown codec or option, bad codec parameters, a missing
# mountpoint) each exit non-zero with exactly one clear line on stderr and
# leave no mount behind; a busy mount keeps working. --help and --version
# exit 0. Good options take effect (--allow-other: other users get in, file
# modes apply). In daemon mode (no -f) uzram returns only once it is live;
# SIGTERM to the daemon unmounts cleanly, in daemon mode and with -f. Ten
# quick mount/unmount cycles each end with exit status 0.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

e2e_require_root
e2e_require_cmd fusermount3 timeout setpriv

bin=$(e2e_bin)
[[ -x "$bin" ]] || e2e_fail "no uzram binary at '$bin' (set UZRAM_BIN)"

mounts_at() { # mounts_at DIR: how many /proc/mounts entries are at DIR
	awk -v m="$1" '$2 == m { n++ } END { print n + 0 }' /proc/mounts
}
# The pid of the uzram daemon serving DIR (a unique temporary path).
daemon_pid() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		if [[ $cmd == "$bin $1 "* ]]; then
			echo "${p#/proc/}"
			return 0
		fi
	done
	return 1
}
wait_gone() { # wait_gone PID DIR: up to 10 s for PID to exit, DIR unmounted
	local t0
	t0=$(e2e_now_ms)
	while kill -0 "$1" 2>/dev/null || e2e_is_mounted "$2"; do
		(($(e2e_now_ms) - t0 < 10000)) || return 1
		sleep 0.05
	done
}

# bad DESCRIPTION DIR ARGS...: uzram ARGS must fail with one stderr line
# and leave DIR with no new mount.
bad() {
	local what=$1 dir=$2 before rc=0 lines
	shift 2
	before=$(mounts_at "$dir")
	timeout 20 "$bin" "$@" >/dev/null 2>"$work/err" || rc=$?
	lines=$(wc -l <"$work/err")
	((rc != 0)) || e2e_fail "$what: exit status 0"
	((rc != 124)) || e2e_fail "$what: still running after 20 s"
	if ((lines != 1)) || [[ ! -s "$work/err" ]]; then
		cat "$work/err" >&2
		e2e_fail "$what: $lines lines on stderr, expected exactly one"
	fi
	[[ $(mounts_at "$dir") -eq $before ]] ||
		e2e_fail "$what: the mounts at $dir changed"
	e2e_log "ok: $what: exit $rc: $(cat "$work/err")"
}

e2e_tmpdir work
mnt=$work/mnt
free=$work/free
mkdir "$mnt" "$free"

# --- a busy mountpoint: refused, the first mount keeps working
e2e_start "$mnt" --size 64M
bad "second uzram on a busy mountpoint" "$mnt" "$mnt" --size 64M
bad "second uzram on a busy mountpoint (-f)" "$mnt" "$mnt" --size 64M -f
[[ $(mounts_at "$mnt") -eq 1 ]] || e2e_fail "$mnt mounted $(mounts_at "$mnt") times"
echo hello | dd of="$mnt/disk.img" conv=notrunc status=none
[[ $(head -c 6 "$mnt/disk.img") == hello ]] ||
	e2e_fail "the first mount stopped working"
e2e_log "ok: the first mount still works"
e2e_stop "$mnt"

# --- bad arguments on a free mountpoint
bad "--size 0" "$free" "$free" --size 0
bad "--size 12X" "$free" "$free" --size 12X
bad "--size -5" "$free" "$free" --size -5
bad "--size 99999999999999999999" "$free" "$free" --size 99999999999999999999
bad "--size without a value" "$free" "$free" --size
bad "no --size" "$free" "$free"
bad "--algo lz5 (unknown codec)" "$free" "$free" --size 64M --algo lz5
bad "--algo-params level=abc" "$free" "$free" --size 64M \
	--algo-params level=abc
bad "--algo zstd --algo-params level=99" "$free" "$free" --size 64M \
	--algo zstd --algo-params level=99
bad "--mem-limit 12Q" "$free" "$free" --size 64M --mem-limit 12Q
bad "--threads 0" "$free" "$free" --size 64M --threads 0
bad "--bogus (unknown option)" "$free" "$free" --size 64M --bogus
bad "-o bogus_opt (unknown mount option)" "$free" "$free" --size 64M \
	-o bogus_opt
bad "missing mountpoint" "$free" --size 64M
bad "nonexistent mountpoint" "$free" "$work/nonexistent" --size 64M
[[ $(mounts_at "$free") -eq 0 ]] || e2e_fail "something is mounted at $free"

# --- --help and --version
for opt in --help -h --version -V; do
	out=$(timeout 10 "$bin" "$opt") || e2e_fail "uzram $opt exited non-zero"
	[[ -n $out ]] || e2e_fail "uzram $opt printed nothing"
	e2e_log "ok: uzram $opt exits 0: $(head -1 <<<"$out")"
done

# --- daemon mode: returns once mounted; SIGTERM unmounts
e2e_cleanup_add "e2e_is_mounted '$free' && fusermount3 -u '$free'"
timeout 20 "$bin" "$free" --size 64M 2>"$work/err" ||
	e2e_fail "uzram in daemon mode failed: $(cat "$work/err")"
e2e_is_mounted "$free" || e2e_fail "uzram returned before $free was mounted"
[[ $(cat "$free/disksize") -eq $((64 << 20)) ]] ||
	e2e_fail "the daemon's disksize is wrong"
e2e_log "ok: daemon mode returned with $free already mounted"
pid=$(daemon_pid "$free") || e2e_fail "no daemon process for $free"
e2e_cleanup_add "kill $pid 2>/dev/null"
kill -TERM "$pid"
wait_gone "$pid" "$free" || e2e_fail "SIGTERM did not end the daemon in 10 s"
[[ $(mounts_at "$free") -eq 0 ]] || e2e_fail "$free still in /proc/mounts"
e2e_log "ok: SIGTERM to the daemon (pid $pid) unmounted $free"

# --- good options take effect
e2e_start "$free" --size 100M --algo lz4hc --algo-params level=9 \
	--mem-limit 1G --threads 3 --mlock --allow-other -o fsname=uzram
json() { sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$free/stats.json"; }
[[ $(stat -c %s "$free/disk.img") -eq $((100 << 20)) ]] ||
	e2e_fail "--size 100M: disk.img is $(stat -c %s "$free/disk.img") bytes"
[[ $(json algorithm) == lz4hc ]] || e2e_fail "--algo lz4hc: $(json algorithm)"
grep -qx 'lz4 \[lz4hc\] zstd' "$free/comp_algorithm" ||
	e2e_fail "comp_algorithm: $(cat "$free/comp_algorithm")"
[[ $(cat "$free/mem_limit") -eq $((1 << 30)) ]] ||
	e2e_fail "--mem-limit 1G: mem_limit $(cat "$free/mem_limit")"
[[ $(json threads) -eq 3 ]] || e2e_fail "--threads 3: threads $(json threads)"
[[ $(awk -v m="$free" '$2 == m { print $4 }' /proc/mounts) == *allow_other* ]] ||
	e2e_fail "--allow-other: not in the mount options"
if e2e_sanitized; then
	e2e_log "note: sanitized build, mlockall is a no-op: VmLck not checked"
else
	grep -q '^VmLck:[[:space:]]*[1-9][0-9]* kB' "/proc/$UZRAM_PID/status" ||
		e2e_fail "--mlock: $(grep VmLck "/proc/$UZRAM_PID/status")"
fi
e2e_log "ok: --size --algo --algo-params --mem-limit --threads --mlock" \
	"--allow-other take effect ($(grep VmLck "/proc/$UZRAM_PID/status" | tr -s '\t ' ' '))"
# --allow-other lets other users in, and the file modes still apply.
chmod 755 "$work"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody cat "$free/mm_stat" >/dev/null ||
	e2e_fail "--allow-other: nobody cannot read mm_stat (0444)"
if as_nobody head -c 1 "$free/disk.img" >/dev/null 2>&1; then
	e2e_fail "--allow-other: nobody can read disk.img (0600)"
fi
if as_nobody sh -c "echo zstd > '$free/comp_algorithm'" 2>/dev/null; then
	e2e_fail "--allow-other: nobody can write comp_algorithm (0644)"
fi
grep -qx 'lz4 \[lz4hc\] zstd' "$free/comp_algorithm" ||
	e2e_fail "comp_algorithm changed: $(cat "$free/comp_algorithm")"
e2e_log "ok: --allow-other: another user reads mm_stat, but cannot open" \
	"disk.img or write comp_algorithm"
e2e_stop "$free"

# --- ten quick mount, write, read, unmount cycles: each exits 0
for i in 1 2 3 4 5 6 7 8 9 10; do
	e2e_start "$free" --size 16M
	echo "cycle $i" | dd of="$free/disk.img" conv=notrunc status=none
	[[ $(head -n 1 "$free/disk.img") == "cycle $i" ]] ||
		e2e_fail "cycle $i: disk.img reads back wrong"
	e2e_stop "$free"
done
e2e_log "ok: 10 mount/write/read/unmount cycles, each daemon exited 0"

# --- foreground: SIGTERM unmounts and the exit status is 0
e2e_start "$free" --size 64M
if as_nobody cat "$free/mm_stat" >/dev/null 2>&1; then
	e2e_fail "without --allow-other another user can read mm_stat"
fi
e2e_log "ok: without --allow-other another user is kept out"
kill -TERM "$UZRAM_PID"
rc=0
timeout 10 tail --pid="$UZRAM_PID" -f /dev/null || e2e_fail "uzram -f ignored SIGTERM"
wait "$UZRAM_PID" || rc=$?
((rc == 0)) || e2e_fail "uzram -f exited with $rc after SIGTERM"
[[ $(mounts_at "$free") -eq 0 ]] || e2e_fail "$free still mounted"
e2e_log "ok: SIGTERM to uzram -f: exit 0, unmounted"
e2e_log "PASS"
