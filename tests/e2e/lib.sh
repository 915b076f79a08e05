# shellcheck shell=bash
# tests/e2e/lib.sh - shared helpers for the end-to-end scripts (sourced, not
# run; CTest skips this file). Every resource a helper creates is registered
# for cleanup *before* it is created, and the EXIT trap undoes them in
# reverse order, pass or fail. Nothing the script did not create is touched.
#
# Usage:
#   . "$(dirname "$0")/lib.sh"
#   e2e_require_root                 # exit 77 (skip) unless root
#   e2e_require_cmd losetup mkfs.ext4  # exit 77 unless all are installed
#   e2e_tmpdir mnt                   # mnt=new empty directory, removed at
#                                    # exit (helpers that register cleanups
#                                    # set a variable: never call them in
#                                    # $(...), a subshell would lose it)
#   e2e_start "$mnt" --size 1G ...   # uzram -f in the background; waits
#                                    # for the mount; sets UZRAM_PID
#   e2e_losetup dev "$mnt/disk.img"  # dev=loop device (--direct-io=on),
#                                    # detached at exit
#   e2e_mount "$dev" "$dir" [opts]   # mount; unmounted at exit
#   e2e_umount "$dir"                # unmount now (cleanup entry dropped)
#   e2e_losetup_detach "$dev"        # detach now
#   e2e_stop "$mnt"                  # fusermount3 -u, wait for the daemon,
#                                    # fail unless it exits 0 (to signal the
#                                    # daemon use SIGTERM: a script's
#                                    # background jobs ignore SIGINT)
#   e2e_cleanup_add 'command ...'    # run 'command ...' at exit (LIFO)
#   e2e_now_ms                       # monotonic-ish milliseconds
#   e2e_timed LIMIT_MS WHAT cmd...   # run cmd, fail if it fails or takes
#                                    # longer than LIMIT_MS; prints the time
#   check "what" cmd...              # run cmd: log "ok: what", or fail
#   e2e_fail "message"               # print FAIL: message, exit 1
#   e2e_skip "message"               # print SKIP: message, exit 77
#   e2e_log "message"                # progress line on stderr
#
#   e2e_uring_on                     # enable_uring=Y until exit (shared
#                                    # with other tests; the last one out
#                                    # puts the old value back)
#
# Environment: UZRAM_BIN (the daemon; CTest sets it; default
# $UZRAM_BUILD_DIR/src/fuse/uzram, then uzram on PATH). E2E_MOUNT_TIMEOUT
# (seconds to wait for a mount, default 10). UZRAM_TRANSPORT (auto, uring
# or dev: e2e_start passes it as --transport; uring also turns the
# kernel's enable_uring on for the test, so the suite runs on the ring).

set -euo pipefail

E2E_CLEANUPS=()
E2E_NAME=$(basename "$0" .sh)

e2e_log() { echo "[$E2E_NAME] $*" >&2; }
e2e_fail() {
	echo "[$E2E_NAME] FAIL: $*" >&2
	exit 1
}
e2e_skip() {
	echo "[$E2E_NAME] SKIP: $*" >&2
	exit 77
}

e2e_cleanup_add() { E2E_CLEANUPS+=("$1"); }

# check DESCRIPTION TEST...: run TEST; log "ok: DESCRIPTION" or fail with it.
check() {
	local what=$1
	shift
	if "$@"; then
		e2e_log "ok: $what"
	else
		e2e_fail "$what"
	fi
}

# Drop the most recent cleanup entry equal to $1 (it was undone by hand).
e2e_cleanup_drop() {
	local i
	for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
		if [[ "${E2E_CLEANUPS[i]}" == "$1" ]]; then
			unset 'E2E_CLEANUPS[i]'
			E2E_CLEANUPS=("${E2E_CLEANUPS[@]}")
			return 0
		fi
	done
}

e2e_cleanup_run() {
	local rc=$? i
	set +e
	for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${E2E_CLEANUPS[i]}" >/dev/null 2>&1
	done
	E2E_CLEANUPS=()
	exit "$rc"
}
trap e2e_cleanup_run EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

e2e_require_root() {
	[[ $(id -u) -eq 0 ]] || e2e_skip "needs root"
}

e2e_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || e2e_skip "needs $c"
	done
}

e2e_bin() {
	if [[ -n "${UZRAM_BIN:-}" ]]; then
		echo "$UZRAM_BIN"
	elif [[ -n "${UZRAM_BUILD_DIR:-}" ]]; then
		echo "$UZRAM_BUILD_DIR/src/fuse/uzram"
	else
		command -v uzram || echo uzram
	fi
}

# e2e_tmpdir VAR: VAR=a new empty directory, removed (with its contents)
# at exit. Register mounts inside it after this, so they go first.
e2e_tmpdir() {
	local e2e_d_ # a name no caller will pass as VAR
	e2e_d_=$(mktemp -d "${TMPDIR:-/tmp}/uzram-e2e.XXXXXX") ||
		e2e_fail "mktemp failed"
	e2e_cleanup_add "rm -rf --one-file-system -- '$e2e_d_'"
	printf -v "$1" %s "$e2e_d_"
}

e2e_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# e2e_rss: the daemon's (UZRAM_PID's) resident memory, in bytes.
e2e_rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$UZRAM_PID/status"; }

# e2e_rss_wait BYTES MS: wait up to MS ms for the daemon's RSS to be at
# most BYTES; prints the ms waited. Returns 0 either way: the caller
# checks the RSS itself.
e2e_rss_wait() {
	local t0 now
	t0=$(e2e_now_ms)
	now=$t0
	while (($(e2e_rss) > $1 && now - t0 < $2)); do
		sleep 0.05
		now=$(e2e_now_ms)
	done
	echo $((now - t0))
}

# True if $1 is mounted as fuse.uzram (the daemon's fsname and subtype).
e2e_is_mounted() {
	awk -v m="$1" '$2 == m && $3 == "fuse.uzram" { f = 1 } END { exit !f }' \
		/proc/mounts
}

# The kernel's switch for FUSE over io_uring is one for the machine, and
# tests run in parallel (other worktrees too): a count under a lock says
# how many tests need it on; the first saves the old value, the last puts
# it back.
E2E_URING_PARAM=/sys/module/fuse/parameters/enable_uring
E2E_URING_STATE=/tmp/uzram-enable-uring
E2E_URING_ON=0
e2e_uring_on() {
	((E2E_URING_ON == 0)) || return 0
	[[ -w $E2E_URING_PARAM ]] ||
		e2e_skip "no writable $E2E_URING_PARAM (kernel without FUSE over io_uring)"
	e2e_cleanup_add e2e_uring_off
	(
		flock 9
		n=$(cat "$E2E_URING_STATE.count" 2>/dev/null || echo 0)
		if ((n == 0)); then
			cat "$E2E_URING_PARAM" >"$E2E_URING_STATE.orig"
			echo Y >"$E2E_URING_PARAM"
		fi
		echo $((n + 1)) >"$E2E_URING_STATE.count"
	) 9>"$E2E_URING_STATE.lock" || e2e_fail "cannot turn enable_uring on"
	E2E_URING_ON=1
}
e2e_uring_off() {
	((E2E_URING_ON == 1)) || return 0
	(
		flock 9
		n=$(cat "$E2E_URING_STATE.count" 2>/dev/null || echo 1)
		if ((n <= 1)); then
			cat "$E2E_URING_STATE.orig" >"$E2E_URING_PARAM"
			rm -f "$E2E_URING_STATE.count" "$E2E_URING_STATE.orig"
		else
			echo $((n - 1)) >"$E2E_URING_STATE.count"
		fi
	) 9>"$E2E_URING_STATE.lock"
	E2E_URING_ON=0
}

# e2e_transport_args: the --transport option for UZRAM_TRANSPORT (none if
# unset), turning the ring on first if it is asked for.
e2e_transport_args() {
	E2E_TRANSPORT_ARGS=()
	[[ -n "${UZRAM_TRANSPORT:-}" ]] || return 0
	[[ $UZRAM_TRANSPORT != uring ]] || e2e_uring_on
	E2E_TRANSPORT_ARGS=(--transport "$UZRAM_TRANSPORT")
}

# e2e_start MOUNTPOINT [uzram options...]: run the daemon in the foreground
# (-f) as a background job so the script owns its pid, and wait until the
# mount is live. Cleanup: unmount if still mounted, then kill the daemon.
e2e_start() {
	local mnt=$1 bin t0
	shift
	bin=$(e2e_bin)
	[[ -x "$bin" ]] || e2e_fail "no uzram binary at '$bin' (set UZRAM_BIN)"
	e2e_cleanup_add "e2e_is_mounted '$mnt' && { fusermount3 -u '$mnt' || umount -l '$mnt'; }"
	e2e_transport_args
	"$bin" "$mnt" -f "${E2E_TRANSPORT_ARGS[@]}" "$@" &
	UZRAM_PID=$!
	e2e_cleanup_add "kill $UZRAM_PID 2>/dev/null; sleep 0.2; kill $UZRAM_PID 2>/dev/null; wait $UZRAM_PID"
	t0=$(e2e_now_ms)
	until e2e_is_mounted "$mnt"; do
		kill -0 "$UZRAM_PID" 2>/dev/null ||
			e2e_fail "uzram exited before mounting $mnt"
		(($(e2e_now_ms) - t0 < ${E2E_MOUNT_TIMEOUT:-10} * 1000)) ||
			e2e_fail "$mnt not mounted after ${E2E_MOUNT_TIMEOUT:-10} s"
		sleep 0.05
	done
	[[ -e "$mnt/disk.img" ]] || e2e_fail "$mnt/disk.img missing"
	[[ "${UZRAM_TRANSPORT:-auto}" == auto ]] ||
		e2e_transport_is "$mnt" "$UZRAM_TRANSPORT"
}

# e2e_transport_is MOUNTPOINT uring|dev: stats.json says so (the ring
# comes up right after FUSE_INIT: allow it a moment).
e2e_transport_is() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q "\"transport\": \"$2\"" "$1/stats.json" && return 0
		sleep 0.02
	done
	e2e_fail "stats.json of $1 does not say transport $2"
}

# e2e_stop MOUNTPOINT: unmount and require the daemon to exit 0.
e2e_stop() {
	local mnt=$1 rc=0
	fusermount3 -u "$mnt" || e2e_fail "fusermount3 -u $mnt failed"
	wait "$UZRAM_PID" || rc=$?
	e2e_cleanup_drop "kill $UZRAM_PID 2>/dev/null; sleep 0.2; kill $UZRAM_PID 2>/dev/null; wait $UZRAM_PID"
	((rc == 0)) || e2e_fail "uzram exited with $rc after unmount"
}

# e2e_losetup VAR FILE: VAR=a loop device on FILE with direct I/O.
e2e_losetup() {
	local e2e_dev_ # a name no caller will pass as VAR
	e2e_dev_=$(losetup --find --show --direct-io=on "$2") ||
		e2e_fail "losetup $2 failed"
	e2e_cleanup_add "losetup -d '$e2e_dev_'"
	printf -v "$1" %s "$e2e_dev_"
}

e2e_losetup_detach() {
	losetup -d "$1" || e2e_fail "losetup -d $1 failed"
	e2e_cleanup_drop "losetup -d '$1'"
}

e2e_mount() {
	local dev=$1 dir=$2
	shift 2
	e2e_cleanup_add "umount '$dir'"
	mount "$@" "$dev" "$dir" || e2e_fail "mount $dev $dir failed"
}

e2e_umount() {
	umount "$1" || e2e_fail "umount $1 failed"
	e2e_cleanup_drop "umount '$1'"
}

# e2e_timed LIMIT_MS WHAT command...: the command must succeed within
# LIMIT_MS milliseconds.
e2e_timed() {
	local limit=$1 what=$2 t0 dt
	shift 2
	t0=$(e2e_now_ms)
	"$@" || e2e_fail "$what: failed"
	dt=$(($(e2e_now_ms) - t0))
	e2e_log "$what: ${dt} ms"
	((dt < limit)) || e2e_fail "$what took ${dt} ms (limit ${limit} ms)"
}

# e2e_stats_agree MOUNTPOINT: with no I/O running, the allocator's classes
# table must agree with mm_stat and stats.json: pages_used summed over the
# classes is mem_used_total in pages; obj_used summed is the stored pages
# that are not same-filled (one object each); the 4096-byte class holds
# the huge pages; compr_data_size is at most the objects' class sizes
# summed. Prints the figures; fails otherwise.
# (Appended by the e2e test helper.)
e2e_stats_agree() {
	local mnt=$1 objs pages room raw stored used compr same huge
	read -r objs pages room raw < <(awk 'NR > 1 && $1 ~ /^[0-9]+$/ {
		o += $(NF - 3); p += $(NF - 2); r += $(NF - 3) * $2
		if ($2 == 4096) h = $(NF - 3) }
		END { print o + 0, p + 0, r + 0, h + 0 }' "$mnt/classes")
	read -r _ compr used _ _ same _ huge _ <"$mnt/mm_stat"
	stored=$(sed -n 's/^ *"pages_stored": *\([0-9]*\),*$/\1/p' \
		"$mnt/stats.json")
	e2e_log "classes: $objs objects in $pages pages, room $room bytes;" \
		"mm_stat: mem_used_total $used compr $compr same $same;" \
		"pages_stored $stored"
	((pages * 4096 == used)) ||
		e2e_fail "classes pages_used $pages != mem_used_total $used / 4K"
	((objs == stored - same)) ||
		e2e_fail "classes obj_used $objs != pages_stored $stored - same $same"
	((compr <= room)) ||
		e2e_fail "compr_data_size $compr > the objects' class sizes $room"
	((raw == huge)) ||
		e2e_fail "the 4096-byte class holds $raw objects, huge_pages $huge"
}

# e2e_sanitized: true if the daemon is built with ASan or TSan, whose
# runtimes change what memory figures mean (quarantine, shadow; mlockall
# is a no-op under ASan). (Appended by the e2e test helper.)
e2e_sanitized() {
	# (not ldd | grep -q: with pipefail, ldd's SIGPIPE would be the status)
	[[ $(ldd "$(e2e_bin)" 2>/dev/null) =~ lib(a|t)san ]]
}
