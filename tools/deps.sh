#!/usr/bin/env bash
# Installs every Debian package uzram needs to build, test and benchmark.
# Idempotent: does nothing when all are present. Needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config libfuse3-dev fuse3
      liblz4-dev libzstd-dev libxxhash-dev fio e2fsprogs xfsprogs btrfs-progs util-linux
      mount nbdkit nbdkit-plugin-dev libnbd-bin nbdfuse qemu-utils scdoc
      gnuplot-nox clang clang-format python3 git liburing-dev
      systemd man-db dpkg-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
