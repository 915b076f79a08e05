#!/usr/bin/env bash
# uzram_workers.sh - worker threads are preemptible.
#
# A read of page P is made to sleep for DELAY ms *inside* the zsmalloc
# mapping (test hook debug_read_delay = "PAGE_INDEX MILLISECONDS", compiled
# with UZRAM_TEST_HOOKS). While that worker is stuck, holding P's slot and
# its zspage's read lock, reads and writes of other pages (including P's
# neighbours, which likely share its zspage), a compaction and a stat read
# must each finish within LIMIT ms, and the stuck read must return P's
# correct content afterwards. A daemon with a lock shared by all workers,
# or a compaction that waited for readers, fails this.
#
# Then a direct write of P, which waits for the stuck read (P's slot), must
# not hold up direct writes of other pages: disk.img is opened with
# FOPEN_PARALLEL_DIRECT_WRITES; without it the kernel holds the file's
# inode lock for the whole of a synchronous direct write.
. "$(dirname "$0")/lib.sh"

DELAY=4000 # ms the read of page P sleeps
LIMIT=1000 # ms any other operation may take meanwhile
P=1000     # page index of the stuck read

e2e_require_root
e2e_require_cmd fusermount3 dd cmp base64
e2e_tmpdir work
mnt=$work/mnt
mkdir "$mnt"
e2e_start "$mnt" --size 64M --threads 4

[[ -e "$mnt/debug_read_delay" ]] ||
	e2e_skip "no debug_read_delay file: uzram built without UZRAM_TEST_HOOKS"

# Compressible, distinct pages (base64 text): objects of about 3 KiB that
# pack several to a zspage and straddle page boundaries.
head -c $((12 << 20)) /dev/urandom | base64 -w 0 >"$work/data" # 16 MiB
dd if="$work/data" of="$mnt/disk.img" bs=1M conv=notrunc oflag=direct \
	status=none || e2e_fail "writing disk.img"
# Free a few MiB elsewhere so that compaction has something to move.
fallocate -p -o $((8 << 20)) -l $((4 << 20)) "$mnt/disk.img" ||
	e2e_fail "punching a hole"

page_of() { # page_of FILE INDEX > stdout
	dd if="$1" bs=4096 skip="$2" count=1 iflag=direct status=none
}
read_check() { # the page reads back as written
	cmp -s <(page_of "$mnt/disk.img" "$1") <(page_of "$work/data" "$1")
}
write_page() { # rewrite page $1 with the same data
	dd if="$work/data" of="$mnt/disk.img" bs=4096 skip="$1" seek="$1" \
		count=1 conv=notrunc oflag=direct status=none
}
reader_alive() { kill -0 "$reader" 2>/dev/null; }

echo "$P $DELAY" >"$mnt/debug_read_delay" ||
	e2e_fail "cannot set debug_read_delay"
e2e_cleanup_add "echo '$P 0' > '$mnt/debug_read_delay'"
t0=$(e2e_now_ms)
page_of "$mnt/disk.img" "$P" >"$work/stuck" &
reader=$!
e2e_cleanup_add "kill $reader 2>/dev/null"
sleep 0.3
reader_alive || e2e_fail "the read of page $P did not block: hook inert?"

e2e_timed $LIMIT "read of page $((P + 1)) (likely P's zspage)" \
	read_check $((P + 1))
e2e_timed $LIMIT "read of page $((P - 1))" read_check $((P - 1))
e2e_timed $LIMIT "read of page 3500" read_check 3500
e2e_timed $LIMIT "write of page $((P + 1))" write_page $((P + 1))
e2e_timed $LIMIT "write of page 100" write_page 100
e2e_timed $LIMIT "compact" sh -c "echo 1 > '$mnt/compact'"
e2e_timed $LIMIT "read of mm_stat" sh -c "cat '$mnt/mm_stat' >/dev/null"
e2e_timed $LIMIT "read back page $((P + 1))" read_check $((P + 1))
reader_alive ||
	e2e_fail "the stuck read ended before the checks did: not a proof"

write_page "$P" &
writer=$!
e2e_cleanup_add "kill $writer 2>/dev/null"
sleep 0.3
kill -0 "$writer" 2>/dev/null ||
	e2e_fail "the write of page $P did not wait for its reader: not a proof"
e2e_timed $LIMIT "write of page 200 while a write of page $P waits" \
	write_page 200
e2e_timed $LIMIT "write of page $((P + 2)) while a write of page $P waits" \
	write_page $((P + 2))
reader_alive && kill -0 "$writer" 2>/dev/null ||
	e2e_fail "the stuck read or write ended before the checks did: not a proof"

wait "$reader" || e2e_fail "the stuck read of page $P failed"
dt=$(($(e2e_now_ms) - t0))
e2e_log "stuck read of page $P: ${dt} ms"
((dt >= DELAY - 500)) || e2e_fail "stuck read took only ${dt} ms"
cmp -s "$work/stuck" <(page_of "$work/data" "$P") ||
	e2e_fail "the stuck read of page $P returned wrong data"
wait "$writer" || e2e_fail "the write of page $P failed"
read_check "$P" || e2e_fail "page $P reads back wrong after its write"

echo "$P 0" >"$mnt/debug_read_delay"
e2e_timed $LIMIT "read of page $P, hook off" read_check "$P"
e2e_stop "$mnt"
e2e_log "PASS"
