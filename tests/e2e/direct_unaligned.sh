#!/usr/bin/env bash
# direct_unaligned.sh - disk.img used directly, no loop device: random
# pread/pwrite at offsets and lengths that are not multiples of 4096, across
# page boundaries and up to the end of the disk (a few of them megabytes
# long), mirrored into a reference file on tmpfs and checked against it as
# it goes, then by cmp of the whole image. Then four processes write
# interleaved 1000-byte chunks at once, so each page is shared by several
# writers (read-modify-write must not lose any of them). At the edges:
# reads past the end are short (0 at or past it), writes at or past the end
# fail with ENOSPC, a write that crosses the end is cut short at it (or
# fails whole); a hole punched across the end zeroes up to it; fallocate
# past the end fails with ENOSPC, collapse-range with EOPNOTSUPP; truncate
# to a size that is not a whole number of pages fails (EINVAL), a grow by an
# empty page and back succeeds (an online resize, see resize_online.sh), a
# shrink over data fails, open with O_TRUNC fails (EPERM); the size and
# the data do not change.
. "$(dirname "$0")/lib.sh"
trap 'e2e_log "FAIL: line $LINENO: unexpected error (exit $?)"' ERR

SIZE=$(((64 << 20) + (12 << 10))) # 64 MiB + 12 KiB: the end is not 1M-aligned
SEED=${E2E_SEED:-$RANDOM}
OPS=${E2E_OPS:-20000}

e2e_require_root
e2e_require_cmd fusermount3 python3 cmp truncate mount
# The system python starts faster than a pyenv shim (many short runs).
PY=$(command -v /usr/bin/python3 || command -v python3)

e2e_tmpdir work
mnt=$work/uzram
ref=$work/ref
mkdir "$mnt" "$ref"
e2e_mount tmpfs "$ref" -t tmpfs -o size=80M
e2e_start "$mnt" --size "$SIZE"
[[ $(stat -c %s "$mnt/disk.img") -eq $SIZE ]] ||
	e2e_fail "disk.img is $(stat -c %s "$mnt/disk.img") bytes, not $SIZE"
truncate -s "$SIZE" "$ref/disk.ref"
e2e_log "seed $SEED (rerun with E2E_SEED=$SEED), $OPS random ops"

"$PY" - "$mnt/disk.img" "$ref/disk.ref" "$SEED" "$OPS" <<'EOF'
import ctypes, errno, os, random, sys

img, ref, seed, ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
PAGE = 4096
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL:", msg, flush=True)


def payload(rng, n):
    kind = rng.randrange(4)
    if kind == 0:  # incompressible
        return rng.randbytes(n)
    if kind == 1:  # one byte repeated: same-filled if it covers a page
        return bytes([rng.randrange(256)]) * n
    if kind == 2:
        return bytes(n)
    words = b"uzram zsmalloc slot %d handle class zspage " % rng.randrange(1000)
    return (words * (n // len(words) + 1))[:n]


fd = os.open(img, os.O_RDWR)
rf = os.open(ref, os.O_RDWR)
size = os.fstat(fd).st_size


def pick(rng):
    where = rng.randrange(3)
    if where == 0:
        off = rng.randrange(size)
    elif where == 1:  # starts just before a page boundary
        off = rng.randrange(1, size // PAGE) * PAGE - rng.randrange(1, 300)
    else:  # the last pages of the disk
        off = size - rng.randrange(1, 3 * PAGE)
    if rng.randrange(50):
        n = rng.randrange(1, 3 * PAGE + 300)
    else:  # now and then a large one: several FUSE requests
        n = rng.randrange(1 << 20, 3 << 20)
    return off, min(n, size - off)


def compare(off, n, what):
    got, want = os.pread(fd, n, off), os.pread(rf, n, off)
    if got != want:
        fail("%s: %d bytes at %d differ from the reference" % (what, n, off))


# 1. Random unaligned I/O, mirrored.
rng = random.Random(seed)
reads = writes = 0
for i in range(ops):
    off, n = pick(rng)
    if rng.randrange(3):
        data = payload(rng, n)
        w = os.pwrite(fd, data, off)
        if w != n:
            fail("pwrite of %d bytes at %d returned %d" % (n, off, w))
        os.pwrite(rf, data[:w], off)
        writes += 1
    else:
        compare(off, n, "read")
        reads += 1
print("ok: %d unaligned writes, %d reads checked" % (writes, reads))

# 2. Four writers at once, chunk k of 1000 bytes owned by writer k % 4:
# every page is shared by several writers.
CHUNK, WRITERS = 1000, 4
pids = []
for k in range(WRITERS):
    pid = os.fork()
    if pid == 0:
        r = random.Random(seed * 10 + k)
        bad = 0
        for i in range(ops // 8):
            c = r.randrange(size // CHUNK) // WRITERS * WRITERS + k
            a = r.randrange(CHUNK)
            b = r.randrange(a + 1, CHUNK + 1)
            off = c * CHUNK + a
            n = min(b - a, size - off)
            if n <= 0:
                continue
            data = payload(r, n)
            if os.pwrite(fd, data, off) != n:
                bad += 1
            os.pwrite(rf, data, off)
        os._exit(1 if bad else 0)
    pids.append(pid)
for pid in pids:
    _, status = os.waitpid(pid, 0)
    if status:
        fail("a concurrent writer saw short writes")
compare(0, size, "after the concurrent writers")
print("ok: %d concurrent writers of shared pages lost nothing" % WRITERS)


# 3. The edges of the disk.
def expect_errno(what, err, fn, *args):
    try:
        r = fn(*args)
    except OSError as e:
        if e.errno != err:
            fail("%s: %s, expected %s" % (what, os.strerror(e.errno),
                                          errno.errorcode[err]))
        else:
            print("ok: %s fails with %s" % (what, errno.errorcode[err]))
        return
    fail("%s succeeded (returned %r), expected %s" %
         (what, r, errno.errorcode[err]))


got = os.pread(fd, 100, size - 10)
if len(got) != 10 or got != os.pread(rf, 10, size - 10):
    fail("read of 100 bytes at end - 10 returned %d bytes" % len(got))
else:
    print("ok: a read crossing the end is short (10 of 100 bytes)")
for off in (size, size + 1, size + 5000, size * 4):
    got = os.pread(fd, 4096, off)
    if got != b"":
        fail("read at %d (end + %d) returned %d bytes" % (off, off - size,
                                                          len(got)))
print("ok: reads at and past the end return 0 bytes")
io_stat = os.path.join(os.path.dirname(img), "io_stat")
invalid_before = int(open(io_stat).read().split()[2])
for off in (size, size + 1, size + 4096, size * 2):
    expect_errno("write at end + %d" % (off - size), errno.ENOSPC, os.pwrite,
                 fd, b"x" * 100, off)
invalid_after = int(open(io_stat).read().split()[2])
if invalid_after != invalid_before + 4:
    fail("io_stat invalid_io went %d -> %d after 4 writes past the end" %
         (invalid_before, invalid_after))
print("ok: each write past the end counts in io_stat invalid_io")
data = b"E" * 100
try:
    w = os.pwrite(fd, data, size - 10)
    if w != 10:
        fail("write of 100 bytes at end - 10 returned %d, not 10" % w)
    os.pwrite(rf, data[:w], size - 10)
    print("ok: a write crossing the end is cut short at it (%d bytes)" % w)
except OSError as e:
    if e.errno != errno.ENOSPC:
        fail("write crossing the end: %s" % os.strerror(e.errno))
    print("ok: a write crossing the end fails whole with ENOSPC")
# fallocate at the edges (a punched hole reads as zeros in the reference).
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                           ctypes.c_long]
KEEP, PUNCH, COLLAPSE = 0x01, 0x02, 0x08


def falloc(mode, off, n):
    if libc.fallocate(fd, mode, off, n):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return 0


off = size - 3 * PAGE - 123
falloc(PUNCH | KEEP, off, 8 * PAGE)
os.pwrite(rf, bytes(size - off), off)
print("ok: a hole punched across the end zeroes up to the end")
expect_errno("fallocate past the end", errno.ENOSPC, falloc, 0, size - PAGE,
             2 * PAGE)
expect_errno("fallocate collapse-range", errno.EOPNOTSUPP, falloc, COLLAPSE,
             0, PAGE)
# truncate is an online resize: a size that is not a whole number of
# pages (or 0) is EINVAL; a grow by an (empty) page and back succeeds.
for new in (0, size // 2 + 1, size - 1):
    expect_errno("ftruncate to %d" % new, errno.EINVAL, os.ftruncate, fd, new)
os.ftruncate(fd, size + 4096)
if os.fstat(fd).st_size != size + 4096:
    fail("ftruncate to size + 4096 did not grow disk.img")
os.ftruncate(fd, size)
expect_errno("open with O_TRUNC", errno.EPERM, os.open, img,
             os.O_WRONLY | os.O_TRUNC)
if os.fstat(fd).st_size != size or os.stat(img).st_size != size:
    fail("the size of disk.img changed")
print("ok: size still %d" % size)
compare(0, size, "after the edge cases")
sys.exit(1 if fails else 0)
EOF
e2e_log "ok: python driver passed"

if truncate -s 1M "$mnt/disk.img" 2>"$work/err"; then
	e2e_fail "truncate -s 1M disk.img succeeded"
fi
e2e_log "ok: truncate -s 1M refused: $(cat "$work/err")"
[[ $(stat -c %s "$mnt/disk.img") -eq $SIZE ]] || e2e_fail "size changed"
cmp "$mnt/disk.img" "$ref/disk.ref" || e2e_fail "cmp disk.img reference"
e2e_log "ok: cmp of the whole image with the reference"
e2e_log "mm_stat: $(cat "$mnt/mm_stat"); io_stat: $(cat "$mnt/io_stat")"

e2e_stop "$mnt"
e2e_log "PASS"
