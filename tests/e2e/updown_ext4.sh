#!/usr/bin/env bash
# updown_ext4.sh - a compressed scratch file system in one step:
# `uzramctl --up NAME` reads NAME.conf (from --conf-dir or
# $UZRAM_CONF_DIR), starts the daemon on $UZRAM_RUN_DIR/NAME, attaches a
# loop device with direct I/O, runs mkfs.ext4 and mounts it with the
# options and mode of the config; --down takes it all down in reverse.
# A second --up is refused; --down of a disk that is not up succeeds;
# bad configs (no size, bad line, no mount point, a key the daemon does not
# know) fail with one line and leave nothing behind. This is what
# uzram@NAME.service runs (CI has no systemd as PID 1).
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd losetup mkfs.ext4 fusermount3

CTL=${UZRAMCTL_BIN:-${UZRAM_BUILD_DIR:-build/release}/tools/uzramctl/uzramctl}
[[ -x "$CTL" ]] || e2e_fail "no uzramctl at '$CTL' (set UZRAMCTL_BIN)"
export UZRAM_BIN=${UZRAM_BIN:-$(e2e_bin)}

e2e_tmpdir work
export UZRAM_CONF_DIR=$work/conf UZRAM_RUN_DIR=$work/run
mkdir "$UZRAM_CONF_DIR"
scratch=$work/scratch
cat >"$UZRAM_CONF_DIR/scratch.conf" <<CONF
# a compressed scratch disk
size = 128M
algo = zstd
algo-params = level=3
threads = 2
fs_type = ext4
mkfs_options = -q -E nodiscard
mount_point = $scratch
mount_options = discard,nosuid,nodev
mode = 1777
CONF

# undo by hand whatever --up made, should --down fail
undo() {
	local d
	mountpoint -q "$scratch" && umount "$scratch"
	for d in $(losetup --list -n -O NAME -j "$UZRAM_RUN_DIR/$1/disk.img" 2>/dev/null); do
		losetup -d "$d"
	done
	e2e_is_mounted "$UZRAM_RUN_DIR/$1" && fusermount3 -u "$UZRAM_RUN_DIR/$1"
	return 0
}
e2e_cleanup_add "undo scratch"
e2e_cleanup_add "'$CTL' --down scratch"
dev=$("$CTL" --up scratch) || e2e_fail "--up scratch failed"
[[ $dev == /dev/loop* ]] || e2e_fail "--up printed '$dev'"
src=$(awk -v m="$scratch" '$2 == m { print $1, $3, $4 }' /proc/mounts)
check "ext4 from $dev mounted with the options ($src)" \
	eval '[[ $src == "$dev ext4 "* && $src == *nosuid* && $src == *nodev* && $src == *discard* ]]'
check "mode 1777" test "$(stat -c %a "$scratch")" = 1777
check "the daemon's mount is named uzram-scratch" \
	eval '[[ $(awk -v m="$UZRAM_RUN_DIR/scratch" '"'"'$2 == m { print $1 }'"'"' /proc/mounts) == uzram-scratch ]]'
check "loop device with direct I/O" test "$(cat "/sys/block/${dev#/dev/}/loop/dio")" = 1
check "algo from the config" grep -q '\[zstd\]' "$UZRAM_RUN_DIR/scratch/comp_algorithm"
head -c 4M /dev/urandom >"$work/f"
cp "$work/f" "$scratch/f" && sync
check "a file reads back" cmp "$work/f" "$scratch/f"
check "uzramctl lists it" eval '"$CTL" | grep -q "$UZRAM_RUN_DIR/scratch"'

rc=0
err=$("$CTL" --up scratch 2>&1 >/dev/null) || rc=$?
((rc == 1)) && [[ $err == *"already up"* ]] || e2e_fail "second --up: exit $rc: $err"
e2e_log "ok: a second --up is refused: $err"

pid=$(pgrep -f "uzram-scratch $UZRAM_RUN_DIR/scratch" | head -1)
"$CTL" --down scratch || e2e_fail "--down scratch"
check "unmounted" eval '! mountpoint -q "$scratch"'
check "loop device detached" eval '[[ -z $(losetup -n -O NAME -j "$UZRAM_RUN_DIR/scratch/disk.img") ]]'
check "daemon unmounted" eval '! e2e_is_mounted "$UZRAM_RUN_DIR/scratch"'
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "daemon exited" eval '! kill -0 "$pid" 2>/dev/null'
check "run directory removed" test ! -e "$UZRAM_RUN_DIR/scratch"
err=$("$CTL" --down scratch 2>&1) || e2e_fail "--down of a disk that is not up: $err"
e2e_log "ok: --down when not up: exit 0: $err"

# --- --conf-dir, and no mkfs_options: mkfs.ext4 as the docs' example
# runs it, chatty (more output than uzramctl keeps: it must drain the rest,
# or mkfs dies of SIGPIPE, exit 141); bad configs: one line, nothing left
mkdir "$work/other"
sed -e 's/^size = 128M/size = 64M/' -e '/^mkfs_options/d' \
	"$UZRAM_CONF_DIR/scratch.conf" >"$work/other/s2.conf"
e2e_cleanup_add "undo s2"
e2e_cleanup_add "'$CTL' --down s2"
"$CTL" --up s2 --conf-dir "$work/other" >/dev/null || e2e_fail "--up --conf-dir"
check "--conf-dir: 64M" test "$(cat "$UZRAM_RUN_DIR/s2/disksize")" -eq $((64 << 20))
"$CTL" --down s2 || e2e_fail "--down s2"

bad() { # bad WHAT PATTERN CONFIG-LINES...
	local what=$1 pat=$2 rc=0 err
	shift 2
	printf '%s\n' "$@" >"$UZRAM_CONF_DIR/bad.conf"
	err=$("$CTL" --up bad 2>&1 >/dev/null) || rc=$?
	((rc == 1)) || e2e_fail "$what: exit $rc"
	[[ $err == *"$pat"* && $(wc -l <<<"$err") -eq 1 ]] ||
		e2e_fail "$what: not one line with '$pat': $err"
	[[ ! -e $UZRAM_RUN_DIR/bad ]] || e2e_fail "$what: left $UZRAM_RUN_DIR/bad"
	e2e_is_mounted "$UZRAM_RUN_DIR/bad" && e2e_fail "$what: left a mount"
	e2e_log "ok: $what: $err"
}
e2e_cleanup_add "undo bad"
bad "no size" "no size" "algo = lz4"
bad "a line without =" "expected 'key = value'" "size = 64M" "swap"
bad "ext4 without mount_point" "needs mount_point" "size = 64M" "fs_type = ext4"
bad "bad swap_priority" "swap_priority" "size = 64M" "swap_priority = high"
bad "a key the daemon does not know" "unknown option '--bogus-key'" \
	"size = 64M" "bogus_key = 1"
bad "a bad size" "not a size" "size = lots"
rc=0
err=$("$CTL" --up ../etc 2>&1) || rc=$?
((rc == 1)) && [[ $err == *"not a disk name"* ]] || e2e_fail "--up ../etc: $err"
