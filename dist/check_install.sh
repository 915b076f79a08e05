#!/usr/bin/env bash
# check_install.sh BUILDDIR INSTALL.md - `cmake --install` into a DESTDIR
# installs exactly the files docs/install.md lists (paths there use PREFIX,
# LIBDIR, NBDKIT_PLUGINDIR and UNITDIR as configured in BUILDDIR); the
# installed programs run; `systemd-analyze verify` passes on the installed
# unit (its ExecStart pointed into the DESTDIR, man pages from there), with
# nothing printed.
set -euo pipefail
build=$1 doc=$2
dest=$(mktemp -d "${TMPDIR:-/tmp}/uzram-install.XXXXXX")
trap 'rm -rf --one-file-system "$dest"' EXIT
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
prefix=$(cache CMAKE_INSTALL_PREFIX)
libdir=$(cache CMAKE_INSTALL_LIBDIR)
unitdir=$(cache UZRAM_SYSTEMD_UNITDIR)
gendir=$(cache UZRAM_GENERATOR_DIR)
[[ $gendir == /* ]] || gendir=$prefix/$gendir
plugindir=
[[ $(cache NBDKIT_FOUND) == 1 ]] && plugindir=$(pkg-config --variable=plugindir nbdkit)
[[ $unitdir == /* ]] || unitdir=$prefix/$unitdir
[[ $libdir == /* ]] || libdir=$prefix/$libdir
DESTDIR=$dest cmake --install "$build" >/dev/null
(cd "$dest" && find . -type f -o -type l | sed 's/^\.//' | sort) >"$dest.got"
trap 'rm -rf --one-file-system "$dest" "$dest.got" "$dest.want"' EXIT
grep -o '^| `[A-Z_]*/[^`]*`' "$doc" | sed 's/^| `//; s/`$//' |
	sed "s#^PREFIX/#$prefix/#; s#^LIBDIR/#$libdir/#; s#^UNITDIR/#$unitdir/#; s#^GENDIR/#$gendir/#" |
	{ if [[ -n $plugindir ]]; then sed "s#^NBDKIT_PLUGINDIR/#$plugindir/#"; else grep -v '^NBDKIT_PLUGINDIR/'; fi; } |
	{ if [[ -n $(cache SCDOC) && $(cache SCDOC) != *NOTFOUND ]]; then cat; else grep -v '/man/'; fi; } |
	sort >"$dest.want"
if ! diff -u "$dest.want" "$dest.got"; then
	echo "FAIL: installed files (+) and docs/install.md (-) differ"
	exit 1
fi
echo "ok: $(wc -l <"$dest.got") installed files, all in docs/install.md"
"$dest$prefix/bin/uzram" --version
UZRAM_BIN=$dest$prefix/bin/uzram "$dest$prefix/sbin/uzramctl" --version

unit=$dest$unitdir/uzram@.service
sed "s#^\(Exec[A-Za-z]*=\)#\1$dest#" "$unit" >"$dest/uzram@check.service"
out=$(MANPATH=$dest$prefix/share/man systemd-analyze verify \
	"$dest/uzram@check.service" 2>&1) || { echo "FAIL: $out"; exit 1; }
[[ -z $out ]] || { echo "FAIL: systemd-analyze verify: $out"; exit 1; }
echo "ok: systemd-analyze verify uzram@.service"
