#!/usr/bin/env bash
# libuzram as an installed library: `cmake --install` into a fresh prefix
# gives <uzram/zram.h>, libuzram.so (exporting only the zram_* API),
# libuzram.a and uzram.pc; a program built with `pkg-config --cflags --libs`
# against the shared library, and another with `--static` against the
# archive, write, read back and compact a store through the public API only.
. "$(dirname "$0")/lib.sh"
e2e_require_cmd cmake cc pkg-config nm
build=${UZRAM_BUILD_DIR:?UZRAM_BUILD_DIR not set}

e2e_tmpdir tmp
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
	e2e_fail "cmake --install: $(tail -3 "$tmp/install.log")"
pc=$(find "$prefix" -name uzram.pc | head -1)
check "uzram.pc installed" test -n "$pc"
check "zram.h installed as <uzram/zram.h>" test -f "$prefix/include/uzram/zram.h"
check "no private header installed" \
	test -z "$(find "$prefix/include" -name '*internal*' -o -name 'zsmalloc.h')"
so=$(find "$prefix" -name 'libuzram.so.*.*' | head -1)
check "libuzram.so installed" test -n "$so"
check "libuzram.a installed" test -n "$(find "$prefix" -name libuzram.a)"
bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^zram_' || true)
check "libuzram.so exports only zram_* (extra: ${bad:-none})" test -z "$bad"

cat >"$tmp/client.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <uzram/zram.h>

int main(void)
{
	struct zram_config cfg = {.disksize = 1 << 20, .algorithm = "zstd"};
	static char page[ZRAM_PAGE_SIZE], back[ZRAM_PAGE_SIZE];
	struct zram_stats s;
	struct zram *z;

	if (zram_create(&cfg, &z))
		return 1;
	memset(page, 'u', sizeof(page) / 2);
	if (zram_write(z, page, sizeof(page), 8192) != ZRAM_PAGE_SIZE ||
	    zram_read(z, back, sizeof(back), 8192) != ZRAM_PAGE_SIZE ||
	    memcmp(page, back, sizeof(page)))
		return 2;
	zram_compact(z);
	zram_stats_get(z, &s);
	printf("%s %llu\n", zram_algorithm_get(z),
	       (unsigned long long)s.pages_stored);
	zram_destroy(z);
	return 0;
}
C
not_grep() { ! grep -q "$@"; }
# an ASan/TSan build's library needs its runtime in the client too
san=()
case $(ldd "$so") in
*libasan*) san=(-fsanitize=address,undefined) ;;
*libtsan*) san=(-fsanitize=thread) ;;
esac
export PKG_CONFIG_PATH=$(dirname "$pc")
# shellcheck disable=SC2046
cc -Wall -Werror "${san[@]}" -o "$tmp/client_shared" "$tmp/client.c" \
	$(pkg-config --define-prefix --cflags --libs uzram) ||
	e2e_fail "cannot build a client against libuzram.so"
out=$(LD_LIBRARY_PATH=$(dirname "$so") "$tmp/client_shared") ||
	e2e_fail "shared client failed"
check "shared client: zstd, 1 page stored (got '$out')" test "$out" = "zstd 1"
check "shared client links libuzram.so" \
	grep -q libuzram.so < <(LD_LIBRARY_PATH=$(dirname "$so") ldd "$tmp/client_shared")
# shellcheck disable=SC2046
a=$(find "$prefix" -name libuzram.a | head -1)
cc -Wall -Werror "${san[@]}" -o "$tmp/client_static" "$tmp/client.c" \
	$(pkg-config --define-prefix --cflags uzram) "$a" \
	$(pkg-config --define-prefix --static --libs uzram | sed 's/-luzram//') ||
	e2e_fail "cannot build a client against libuzram.a"
check "static client does not need libuzram.so" \
	not_grep libuzram.so < <(ldd "$tmp/client_static")
out=$("$tmp/client_static") || e2e_fail "static client failed"
check "static client: zstd, 1 page stored" test "$out" = "zstd 1"
e2e_log "PASS"
