#!/usr/bin/env bash
# The NBD commands of nbdkit-uzram-plugin, driven by real clients (qemu-io,
# nbdcopy, nbdinfo) against a real nbdkit on a Unix socket:
#   write/read patterns at odd offsets; write_zeroes (no memory, reported as
#   zero by block status); trim (memory back, reported as a hole); flush and
#   FUA; multi-conn copies; the mem_limit reached: the client gets ENOSPC, the
#   server keeps serving, io_stat counts it, earlier data is intact, and after
#   the limit is raised through the controls the same write succeeds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nbdkit.sh"
e2e_require_cmd qemu-io
nbdkit_setup
e2e_tmpdir tmp
mkdir "$tmp/ctl" "$tmp/nbd"
[[ -w /dev/fuse ]] || e2e_skip "needs /dev/fuse for controls=DIR"

nbdkit_start "$tmp/nbd" size=64M algo=lz4 controls="$tmp/ctl"
qio() { qemu-io -f raw "$NBD_URI" "$@"; }
mm() { read -r orig compr used _ _ same _ <"$tmp/ctl/mm_stat"; }
# map_type OFFSET: the block-status type of the extent holding OFFSET
map_type() {
	nbdinfo --map "$NBD_URI" | awk -v o="$1" \
		'$1 <= o && o < $1 + $2 { print $3; exit }'
}

check "write a pattern at an odd offset (read-modify-write)" \
	qio -c 'write -P 0xab 1000 20000'
check "read it back" qio -c 'read -P 0xab 1000 20000'
check "the bytes around it read as zeros" \
	qio -c 'read -P 0 0 1000' -c 'read -P 0 21000 11768'
check "write with FUA, then flush" qio -c 'write -f -P 0x5a 1M 64k' -c flush
mm
e2e_log "after writes: orig $orig same $same"
check "write_zeroes 8 MiB" qio -c 'write -z 8M 8M'
check "the zeroed range reads zeros" qio -c 'read -P 0 8M 8M'
mm
check "zeroed pages are same-filled pages (same_pages $same >= 2048)" \
	test "$same" -ge 2048
check "block status: the zeroed range is 'zero' (2)" \
	test "$(map_type 8388608)/$(map_type 16777215)" = 2/2
check "block status: the pattern is data (0)" \
	test "$(map_type 1000)/$(map_type 1048576)" = 0/0
check "block status: never written is a hole (3)" \
	test "$(map_type 40000000)" = 3
before=$orig
check "trim the zeroed range and the pattern" \
	qio -c 'discard 8M 8M' -c 'discard 1M 64k'
mm
check "trim frees the pages (orig_data_size $before -> $orig)" \
	test "$orig" -lt "$before"
check "block status: trimmed ranges are holes (3)" \
	test "$(map_type 1048576)/$(map_type 8388608)" = 3/3
check "trimmed range reads zeros" qio -c 'read -P 0 1M 64k'

# multi-conn: nbdcopy uses 4 connections when the server allows it
head -c 16M /dev/urandom >"$tmp/rand"
{ cat "$tmp/rand"; cat "$(dirname "$0")"/../../src/*/*.c; } >"$tmp/img"
truncate -s 64M "$tmp/img"
check "nbdcopy --connections=4 in" nbdcopy --connections=4 "$tmp/img" "$NBD_URI"
check "qemu-img compare after a 4-connection copy" \
	qemu-img compare -q -f raw -F raw "$tmp/img" "$NBD_URI"
nbdkit_stop "$tmp/nbd"

# the memory limit: ENOSPC to the client, nothing else breaks
mkdir "$tmp/nbd2" "$tmp/ctl2"
nbdkit_start "$tmp/nbd2" size=64M mem-limit=2M controls="$tmp/ctl2"
check "a small write fits" qio -c 'write -P 0x11 0 64k'
if qemu-io -f raw "$NBD_URI" -c "write -s $tmp/rand 4M 8M" >"$tmp/out" 2>&1; then
	e2e_fail "8 MiB of random data fit in a 2 MiB limit"
fi
cat "$tmp/out" >&2
check "the client saw ENOSPC" grep -qi "no space left" "$tmp/out"
read -r _ failed _ <"$tmp/ctl2/io_stat"
check "io_stat failed_writes counts it ($failed)" test "$failed" -gt 0
check "the server still serves: earlier data intact" \
	qio -c 'read -P 0x11 0 64k'
echo 0 >"$tmp/ctl2/mem_limit"
check "with the limit lifted through the controls, the write succeeds" \
	qemu-io -f raw "$NBD_URI" -c "write -s $tmp/rand 4M 8M"
nbdcopy "$NBD_URI" "$tmp/back" || e2e_fail "nbdcopy out"
check "and reads back exactly" \
	cmp <(dd if="$tmp/back" bs=1M skip=4 count=8 status=none) \
	<(head -c 8M "$tmp/rand")
nbdkit_stop "$tmp/nbd2"
e2e_log "PASS"
