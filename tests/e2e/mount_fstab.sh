#!/usr/bin/env bash
# mount_fstab.sh - uzram through mount(8), mount.fuse3 and fstab.
#
# mount(8) runs helpers with a fixed PATH, so mount.fuse3 finds `uzram`
# only where the package puts it. The script re-runs itself in a private
# mount namespace (unshare -m) and bind-mounts a directory holding the
# build's uzram over /usr/local/bin there: the real mount(8) ->
# mount.fuse3 -> `uzram SOURCE MOUNTPOINT -o ...` path is exercised and
# nothing outside the namespace changes.
#
# Checked: every long option of `uzram --help` is accepted as an -o key
# (with '_' for '-'); `mount -t fuse.uzram` with the keys takes effect and
# keeps data; generic mount options are passed or dropped; an fstab line
# mounts with `mount -T FILE -a`, a second -a sees it mounted, umount ends
# the daemon; bad keys fail with one line and mount nothing.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd unshare mount.fuse3 fusermount3 timeout

bin=$(e2e_bin)
[[ -x "$bin" ]] || e2e_fail "no uzram binary at '$bin' (set UZRAM_BIN)"
bin=$(readlink -f "$bin")

if [[ -z "${UZRAM_E2E_NS:-}" ]]; then
	# the namespace dies with the script: mounts in it go with it
	UZRAM_E2E_NS=1 UZRAM_BIN=$bin exec unshare -m --propagation private \
		bash "$0" "$@"
fi

e2e_tmpdir work
mkdir "$work/bin" "$work/mnt" "$work/free"
mnt=$work/mnt
ln -s "$bin" "$work/bin/uzram"
mount --bind "$work/bin" /usr/local/bin || e2e_fail "bind /usr/local/bin"
e2e_cleanup_add "umount /usr/local/bin"

mounts_at() { awk -v m="$1" '$2 == m { n++ } END { print n + 0 }' /proc/mounts; }
daemon_of() { # pid of the daemon serving $1, or nothing
	local p
	for p in /proc/[0-9]*; do
		[[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == *"uzram"*" $1 "* ]] &&
			echo "${p#/proc/}" && return 0
	done
	return 0
}
umount_and_wait() { # umount DIR; its daemon must exit within 10 s
	local pid t0
	pid=$(daemon_of "$1")
	[[ -n $pid ]] || e2e_fail "no daemon serving $1"
	umount "$1" || e2e_fail "umount $1"
	t0=$(e2e_now_ms)
	while kill -0 "$pid" 2>/dev/null; do
		(($(e2e_now_ms) - t0 < 10000)) ||
			e2e_fail "daemon $pid still running after umount $1"
		sleep 0.05
	done
}
e2e_cleanup_add "e2e_is_mounted '$mnt' && umount -l '$mnt'"

# --- every long option is an -o key. "KEY=x" is never a whole good
# command line (no size), so nothing mounts; the key must be known.
keys=$("$bin" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u | sed 's/^--//')
[[ $(wc -w <<<"$keys") -ge 8 ]] || e2e_fail "few options in --help: $keys"
for k in $keys; do
	for spelling in "$k" "${k//-/_}"; do
		err=$(timeout 10 "$bin" "$work/free" -o "$spelling=x" 2>&1 >/dev/null) || true
		[[ $err != *"unknown mount option"* ]] ||
			e2e_fail "-o $spelling=x: $err"
	done
done
[[ $(mounts_at "$work/free") -eq 0 ]] || e2e_fail "a key check mounted"
e2e_log "ok: every long option of --help is an -o key: $(echo $keys)"

# --- mount -t fuse.uzram with the keys
opts=size=64M,algo=zstd,algo_params=level=5,mem_limit=1G,threads=3
opts+=,allow_other,mlock,noauto,_netdev,x-systemd.device-timeout=5,nofail
opts+=,nosuid,nodev,noexec,relatime,defaults
mount -t fuse.uzram uzram "$mnt" -o "$opts" 2>"$work/err" ||
	e2e_fail "mount -t fuse.uzram: $(cat "$work/err")"
e2e_is_mounted "$mnt" || e2e_fail "$mnt not mounted as fuse.uzram"
json() { sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$mnt/stats.json"; }
check "size=64M" test "$(cat "$mnt/disksize")" -eq $((64 << 20))
check "algo=zstd" grep -qx 'lz4 lz4hc \[zstd\]' "$mnt/comp_algorithm"
check "mem_limit=1G" test "$(cat "$mnt/mem_limit")" -eq $((1 << 30))
check "threads=3" test "$(json threads)" -eq 3
mopts=$(awk -v m="$mnt" '$2 == m { print $1, $4 }' /proc/mounts)
check "allow_other, nosuid, nodev, noexec reach the kernel ($mopts)" \
	eval '[[ $mopts == uzram\ * && $mopts == *allow_other* &&
		$mopts == *nosuid* && $mopts == *nodev* && $mopts == *noexec* ]]'
pid=$(daemon_of "$mnt")
if e2e_sanitized; then
	e2e_log "note: sanitized build, mlockall is a no-op: VmLck not checked"
else
	check "mlock (VmLck)" grep -q '^VmLck:[[:space:]]*[1-9][0-9]* kB' "/proc/$pid/status"
fi
head -c 1M /dev/urandom >"$work/data"
dd if="$work/data" of="$mnt/disk.img" bs=1M seek=7 conv=notrunc \
	status=none || e2e_fail "write to disk.img"
check "data reads back" cmp <(dd if="$mnt/disk.img" bs=1M skip=7 count=1 \
	status=none) "$work/data"
umount_and_wait "$mnt"
e2e_log "ok: umount ended the daemon"

# --- an fstab line
printf '# test fstab\nuzram %s fuse.uzram size=32M,algo=lz4,x-foo=1,nofail 0 0\n' \
	"$mnt" >"$work/fstab"
mount -T "$work/fstab" -a 2>"$work/err" || e2e_fail "mount -a: $(cat "$work/err")"
check "mount -T FSTAB -a mounts the line" e2e_is_mounted "$mnt"
check "size from fstab" test "$(cat "$mnt/disksize")" -eq $((32 << 20))
mount -T "$work/fstab" -a || e2e_fail "a second mount -a failed"
check "a second mount -a leaves one mount" test "$(mounts_at "$mnt")" -eq 1
umount_and_wait "$mnt"
mount -T "$work/fstab" "$mnt" || e2e_fail "mount -T FSTAB MOUNTPOINT"
check "mount -T FSTAB MOUNTPOINT" e2e_is_mounted "$mnt"
umount_and_wait "$mnt"

# --- bad keys: one line, non-zero, nothing mounted
bad_mount() {
	local rc=0
	mount -t fuse.uzram uzram "$mnt" -o "$1" 2>"$work/err" || rc=$?
	((rc != 0)) || e2e_fail "-o $1: mount succeeded"
	[[ $(wc -l <"$work/err") -eq 1 && $(cat "$work/err") == *"$2"* ]] ||
		e2e_fail "-o $1: stderr is not one line with '$2': $(cat "$work/err")"
	[[ $(mounts_at "$mnt") -eq 0 ]] || e2e_fail "-o $1: something mounted"
	e2e_log "ok: -o $1: exit $rc: $(cat "$work/err")"
}
bad_mount size=64M,bogus "unknown mount option"
bad_mount size=64M,sise=1G "unknown mount option"
bad_mount size=64X "not a size"
bad_mount size=64M,algo=lzo "unknown codec"
bad_mount size=64M,mlock=yes "takes no value"
bad_mount size=64M,threads "needs a value"
bad_mount size=64M,subtype=x "set by uzram"
bad_mount algo=zstd "missing --size"
printf 'uzram %s fuse.uzram size=32M,bogus_key 0 0\n' "$mnt" >"$work/fstab"
rc=0
mount -T "$work/fstab" -a 2>"$work/err" || rc=$?
((rc != 0)) || e2e_fail "mount -a with a bad fstab key succeeded"
grep -q "unknown mount option" "$work/err" ||
	e2e_fail "bad fstab key: $(cat "$work/err")"
[[ $(mounts_at "$mnt") -eq 0 ]] || e2e_fail "bad fstab line mounted"
e2e_log "ok: a bad fstab key: exit $rc, nothing mounted"
