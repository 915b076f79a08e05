#!/usr/bin/env bash
# package_deb.sh - the Debian package: configure a release build for /usr
# (build/package, kept between runs and shared by the presets), `cpack -G
# DEB`, check its dependencies and contents, install it for real (dpkg -i; registered for
# purge first, so every exit path removes it), use it (an fstab line through
# mount.fuse3 -> /usr/bin/uzram, uzramctl --up/--down of an ext4 scratch
# disk, systemd-analyze verify on the installed unit, man), then purge it
# and check that none of its files is left (a file someone installed by
# hand before is kept aside and put back). Skipped (77) if a uzram package
# is already installed: this test never touches one it did not install.
. "$(dirname "$0")/lib.sh"

e2e_require_root
e2e_require_cmd cpack dpkg dpkg-deb mkfs.ext4 losetup systemd-analyze man
dpkg -s uzram >/dev/null 2>&1 &&
	e2e_skip "a uzram package is already installed here; not touching it"
src=${UZRAM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# one release build for every preset's run (ci, then asan): kept between runs
pkg=$src/build/package

cmake -S "$src" -B "$pkg" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX=/usr -DUZRAM_TEST_HOOKS=OFF >/dev/null ||
	e2e_fail "configure $pkg"
nice cmake --build "$pkg" -j2 >"$pkg.log" 2>&1 || e2e_fail "build: $(tail "$pkg.log")"
rm -f "$pkg"/uzram_*.deb
(cd "$pkg" && cpack -G DEB >"$pkg.log" 2>&1) || e2e_fail "cpack: $(tail "$pkg.log")"
deb=$(ls "$pkg"/uzram_*.deb)
e2e_log "ok: $(basename "$deb")"
deps=$(dpkg-deb -f "$deb" Depends)
for d in fuse3 libfuse3-3 liblz4-1 libzstd1 libc6 util-linux; do
	[[ $deps == *"$d"* ]] || e2e_fail "Depends lacks $d: $deps"
done
e2e_log "ok: Depends: $deps"
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's/^\.//')
for f in /usr/bin/uzram /usr/sbin/uzramctl /usr/share/man/man8/uzram.8 \
	/usr/share/man/man8/uzramctl.8 /usr/share/man/man5/uzram.conf.5 \
	/usr/lib/systemd/system/uzram@.service /usr/include/uzram/zram.h \
	/usr/lib/systemd/system-generators/uzram-generator; do
	grep -qx "$f" <<<"$files" || e2e_fail "$deb lacks $f"
done
e2e_log "ok: $(wc -l <<<"$files") files in the package"
# --- install for real; purged on every exit path. A file of the package
# that is already here (someone's `cmake --install`, owned by no package)
# is kept aside and put back after the purge.
e2e_tmpdir work
mkdir "$work/aside"
kept=()
for f in $files; do
	if [[ -e $f || -L $f ]]; then
		dpkg -S "$f" >/dev/null 2>&1 && e2e_skip "$f belongs to a package"
		mkdir -p "$work/aside${f%/*}" && cp -a "$f" "$work/aside$f" ||
			e2e_fail "keep $f aside"
		kept+=("$f")
	fi
done
((${#kept[@]} == 0)) || e2e_log "note: kept aside and restored after: ${kept[*]}"
for f in "${kept[@]}"; do
	e2e_cleanup_add "cp -a '$work/aside$f' '$f'"
done
e2e_cleanup_add "dpkg --purge uzram"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || e2e_fail "dpkg -i: $(tail "$work/dpkg.log")"
check "dpkg says installed" dpkg -s uzram
check "uzram on PATH is the package's" test "$(command -v uzram)" = /usr/bin/uzram
check "man finds uzram(8)" eval 'man -w uzram | grep -q /usr/share/man/man8/uzram.8'
check "man finds uzram.conf(5)" eval 'man -w 5 uzram.conf | grep -q uzram.conf.5'
cp /usr/lib/systemd/system/uzram@.service "$work/uzram@check.service"
out=$(systemd-analyze verify "$work/uzram@check.service" 2>&1) ||
	e2e_fail "systemd-analyze verify: $out"
[[ -z $out ]] || e2e_fail "systemd-analyze verify: $out"
e2e_log "ok: systemd-analyze verify on the installed unit"

# an fstab line, through mount(8) -> mount.fuse3 -> /usr/bin/uzram
mkdir "$work/z"
echo "uzram $work/z fuse.uzram size=64M,algo=zstd,nofail 0 0" >"$work/fstab"
e2e_cleanup_add "e2e_is_mounted '$work/z' && umount '$work/z'"
mount -T "$work/fstab" -a || e2e_fail "mount -T fstab -a"
check "fstab line mounted" e2e_is_mounted "$work/z"
check "size from the fstab line" test "$(cat "$work/z/disksize")" -eq $((64 << 20))
umount "$work/z" || e2e_fail "umount"

# uzramctl --up / --down with the installed programs only
export UZRAM_CONF_DIR=$work/conf UZRAM_RUN_DIR=$work/run
unset UZRAM_BIN
mkdir "$UZRAM_CONF_DIR"
printf 'size = 64M\nfs_type = ext4\nmkfs_options = -q\nmount_point = %s\n' \
	"$work/scratch" >"$UZRAM_CONF_DIR/scratch.conf"
e2e_cleanup_add "/usr/sbin/uzramctl --down scratch"
dev=$(/usr/sbin/uzramctl --up scratch) || e2e_fail "uzramctl --up"
check "--up mounted ext4 from $dev" eval '[[ $(findmnt -n -o SOURCE "$work/scratch") == "$dev" ]]'
check "the daemon is the installed one" eval 'pgrep -f "^/usr/bin/uzram uzram-scratch" >/dev/null'
/usr/sbin/uzramctl --down scratch || e2e_fail "uzramctl --down"

# --- remove: nothing left
dpkg --purge uzram >"$work/dpkg.log" 2>&1 || e2e_fail "dpkg --purge: $(tail "$work/dpkg.log")"
e2e_cleanup_drop "dpkg --purge uzram"
for f in $files; do
	[[ " ${kept[*]} " == *" $f "* ]] && continue
	[[ -e $f || -L $f ]] && e2e_fail "$f left after the purge"
done
check "dpkg forgot it" eval '! dpkg -s uzram >/dev/null 2>&1'
e2e_log "ok: purged, none of the $(wc -l <<<"$files") files left"
