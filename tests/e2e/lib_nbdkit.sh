# shellcheck shell=bash
# tests/e2e/lib_nbdkit.sh - helpers for the nbdkit plugin's tests, sourced
# after lib.sh. As in nbdkit's own tests: a real nbdkit process on a Unix
# socket in a fresh directory, its pid file awaited, and its kill registered
# before it is started.
#
#   nbdkit_setup                     # skip (77) unless nbdkit and the
#                                    # plugin exist; sets NBDKIT_PLUGIN
#   nbdkit_start DIR params...       # nbdkit -U DIR/sock -P DIR/pid;
#                                    # sets NBD_URI, NBDKIT_PID
#   nbdkit_stop DIR                  # SIGTERM, wait, fail if it lingers
#
# Under an ASan build the plugin needs the ASan runtime preloaded into the
# (uninstrumented) nbdkit; leak checks then cover nbdkit's own allocations
# too, which are not ours to fix, so only errors are fatal there.

nbdkit_setup() {
	e2e_require_cmd nbdkit nbdinfo nbdcopy
	NBDKIT_PLUGIN=${UZRAM_BUILD_DIR:?}/src/nbdkit/nbdkit-uzram-plugin.so
	[[ -f $NBDKIT_PLUGIN ]] ||
		e2e_skip "no $NBDKIT_PLUGIN (built without nbdkit-plugin-dev)"
	NBDKIT_ENV=(env)
	if [[ $(ldd "$NBDKIT_PLUGIN") =~ (/[^ ]*libasan[^ ]*) ]]; then
		NBDKIT_ENV=(env "LD_PRELOAD=${BASH_REMATCH[1]}"
			"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
	fi
}

# nbdkit_run PARAMS... --run CMD: nbdkit -U - ($uri set for CMD); a hang
# is a failure (status 124 after 60 s), never a stalled CI.
nbdkit_run() {
	timeout 60 "${NBDKIT_ENV[@]}" nbdkit -U - "$NBDKIT_PLUGIN" "$@"
}

nbdkit_start() {
	local dir=$1 i
	shift
	e2e_cleanup_add "nbdkit_kill '$dir'"
	"${NBDKIT_ENV[@]}" nbdkit -U "$dir/sock" -P "$dir/pid" \
		"$NBDKIT_PLUGIN" "$@" || e2e_fail "nbdkit $* failed to start"
	for ((i = 0; i < 100; i++)); do
		[[ -s $dir/pid ]] && break
		sleep 0.1
	done
	[[ -s $dir/pid ]] || e2e_fail "nbdkit wrote no pid file"
	NBDKIT_PID=$(<"$dir/pid")
	NBD_URI="nbd+unix:///?socket=$dir/sock"
}

nbdkit_kill() {
	local pid i
	[[ -s $1/pid ]] || return 0
	pid=$(<"$1/pid")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
}

nbdkit_stop() {
	local pid i
	pid=$(<"$1/pid")
	kill "$pid" || e2e_fail "nbdkit $pid is gone already"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || {
			rm -f "$1/pid"
			return 0
		}
		sleep 0.1
	done
	e2e_fail "nbdkit $pid did not exit on SIGTERM"
}
