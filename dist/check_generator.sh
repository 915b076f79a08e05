#!/usr/bin/env bash
# check_generator.sh GENERATOR - with a config directory holding a swap,
# an ext4 and a badly named config, the generator links uzram@swap into
# swap.target.wants and uzram@tmp into local-fs.target.wants, skips the
# bad name, and does nothing without a config directory.
set -euo pipefail
gen=$1
t=$(mktemp -d "${TMPDIR:-/tmp}/uzram-gen.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir "$t/conf" "$t/out" "$t/out2"
printf 'size = 1G\nfs_type = swap\n' >"$t/conf/swap.conf"
printf 'size = 1G\nfs-type = ext4\nmount_point = /tmp\n' >"$t/conf/tmp.conf"
printf 'size = 1G\n' >"$t/conf/zram0.conf" # swap by default
printf 'size = 1G\n' >"$t/conf/bad name.conf"
UZRAM_CONF_DIR=$t/conf sh "$gen" "$t/out" "$t/early" "$t/late"
got=$(cd "$t/out" && find . -type l | sort | tr '\n' ' ')
want="./local-fs.target.wants/uzram@tmp.service ./swap.target.wants/uzram@swap.service ./swap.target.wants/uzram@zram0.service "
[[ $got == "$want" ]] || { echo "FAIL: links: '$got', expected '$want'"; exit 1; }
target=$(readlink "$t/out/swap.target.wants/uzram@swap.service")
[[ $target == /*/uzram@.service ]] || { echo "FAIL: link to '$target'"; exit 1; }
UZRAM_CONF_DIR=$t/none sh "$gen" "$t/out2"
[[ -z $(ls -A "$t/out2") ]] || { echo "FAIL: links without a config dir"; exit 1; }
echo "ok: $got-> $target"
