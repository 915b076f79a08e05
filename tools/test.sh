#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine, as root:
#   installs the packages, checks formatting, builds the `ci` preset (-Werror)
#   and runs every test (unit, stress, fuzz corpus replay, e2e with real
#   mounts, each on /dev/fuse and on FUSE over io_uring: e2e/NAME and
#   e2e-uring/NAME), then builds the `asan` and `tsan` presets and runs the unit,
#   stress and fuzz tests under them, and the e2e tests once more against
#   the ASan daemon (on io_uring). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh

echo "== clang-format"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests tools -name '*.[ch]')
clang-format --dry-run -Werror $files

jobs=$(nproc)
for preset in ci asan tsan; do
	echo "== build $preset"
	cmake --preset "$preset" >/dev/null
	cmake --build --preset "$preset" -j "$jobs"
done

echo "== test ci (unit, stress, fuzz, e2e)"
ctest --preset ci -j "$jobs" --label-exclude e2e
ctest --preset ci --label-regex e2e
echo "== test asan (unit, stress, fuzz)"
ctest --preset asan -j "$jobs"
# Under ASan the suite runs once, on the ring (label uring: the transport
# with the most code of ours; both transports ran above), to keep CI near
# 20 minutes on 2 cores.
echo "== test asan e2e on io_uring (the daemon under ASan/LSan: a leak or error fails it)"
ctest --test-dir build/asan --label-regex uring --output-on-failure
echo "== test tsan (unit, stress)"
ctest --preset tsan -j "$jobs"
echo "== all tests passed"
