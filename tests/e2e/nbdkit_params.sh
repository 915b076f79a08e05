#!/usr/bin/env bash
# Every parameter of nbdkit-uzram-plugin, good and bad. A good set serves a
# disk of the right size and codec (nbdinfo through `nbdkit -U - --run`, as
# nbdkit's own tests do); a bad one makes nbdkit exit non-zero before it
# serves, with one error line that names the parameter.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nbdkit.sh"
nbdkit_setup
e2e_tmpdir tmp
mkdir "$tmp/ctl" "$tmp/full"
touch "$tmp/full/x" "$tmp/file"
truncate -s 16M "$tmp/backing"

# a snapshot to restore, saved through controls=DIR of a 1M lz4hc disk
mkdir "$tmp/ctl0"
nbdkit_run size=1M algo=lz4hc controls="$tmp/ctl0" --run "
	for i in \$(seq 50); do
		[ -e '$tmp/ctl0/save' ] && break; sleep 0.1
	done
	echo '$tmp/snap' > '$tmp/ctl0/save'" || e2e_fail "saving a snapshot"
check "a snapshot saved through controls=DIR/save" test -s "$tmp/snap"

# params | export size
good=(
	"restore=$tmp/snap|1048576"
	"size=1M restore=$tmp/snap|1048576"
	"restore=$tmp/snap algo=zstd mem-limit=1M|1048576"
	"size=1M|1048576"
	"1M|1048576"
	"size=4097|8192"
	"size=1G algo=zstd|1073741824"
	"size=1M algo=lz4hc algo-params=level=9|1048576"
	"size=1M algo=zstd algo-params=level=-3|1048576"
	"size=1M 'algo-params=algo=zstd level=19'|1048576"
	"size=1M mem-limit=1M|1048576"
	"size=1M mem-limit=0|1048576"
	"size=64G|68719476736"
	"size=1M threads=1|1048576"
	"size=1M threads=8|1048576"
	"size=1M dedup=on|1048576"
	"size=1M dedup=false|1048576"
	"size=1M dedup=YES|1048576"
	"size=1M backing-dev=$tmp/backing|1048576"
	"size=1M backing-dev=$tmp/backing policy=mem_target=1M,writeback=on|1048576"
)
for g in "${good[@]}"; do
	params=${g%%|*} want=${g#*|}
	eval "set -- $params" # the table quotes values with spaces
	# shellcheck disable=SC2016
	got=$(nbdkit_run "$@" --run 'nbdinfo --size "$uri"' 2>"$tmp/err") ||
		e2e_fail "good: $params refused: $(cat "$tmp/err")"
	check "good: $params -> size $want (got $got)" test "$got" = "$want"
done

# controls= also good: the files appear while it serves, and go after
# shellcheck disable=SC2016
# (--run may start before the plugin's after_fork has mounted them)
got=$(nbdkit_run size=1M algo=lz4hc controls="$tmp/ctl" --run "
	for i in \$(seq 50); do
		[ -e '$tmp/ctl/comp_algorithm' ] && break; sleep 0.1
	done
	cat '$tmp/ctl/comp_algorithm'") || e2e_fail "controls=DIR refused"
check "good: restore= and controls=DIR: the snapshot's codec (got '$got')" \
	test "$got" = "lz4 [lz4hc] zstd"
check "controls unmounted after nbdkit exits" \
	test -z "$(ls -A "$tmp/ctl")"

# dedup= reaches the store: its dedup file says so, and a 128 KiB write
# whose second half repeats the first stores those 16 pages once
head -c 65536 /dev/urandom >"$tmp/blk"
cat "$tmp/blk" "$tmp/blk" >"$tmp/blk2"
for d in on off; do
	mkdir "$tmp/srv-$d" "$tmp/ctl-$d"
	nbdkit_start "$tmp/srv-$d" size=1M dedup=$d controls="$tmp/ctl-$d"
	for ((i = 0; i < 50; i++)); do
		[[ -e $tmp/ctl-$d/dedup ]] && break
		sleep 0.1
	done
	nbdcopy "$tmp/blk2" "$NBD_URI" || e2e_fail "dedup=$d: nbdcopy in"
	got="$(cat "$tmp/ctl-$d/dedup") $(sed -n 's/^ *"dup_pages": *\([0-9]*\).*/\1/p' "$tmp/ctl-$d/stats.json")"
	want="1 16"
	[[ $d == off ]] && want="0 0"
	check "dedup=$d: the dedup file and dup_pages (got '$got', want '$want')" \
		test "$got" = "$want"
	nbdcopy "$NBD_URI" "$tmp/back" || e2e_fail "dedup=$d: nbdcopy out"
	check "dedup=$d: the data reads back" cmp -n 131072 "$tmp/blk2" "$tmp/back"
	nbdkit_kill "$tmp/srv-$d"
done

# params | text the one error line must contain
bad=(
	"|size= is required"
	"algo=zstd|size= is required"
	"size=0|size=0"
	"size=abc|size=abc"
	"size=-1|size=-1"
	"size=1.5G|size=1.5G"
	"size=1M algo=gzip|algo=gzip"
	"size=1M algo=|algo="
	"size=1M algo-params=level=99 algo=zstd|algo-params=level=99"
	"size=1M algo-params=bogus|algo-params=bogus"
	"size=1M 'algo-params=level=3  level=4'|algo-params=level=3"
	"size=1M algo=lz4 algo-params=dict=$tmp/file|algo-params=dict"
	"size=1M mem-limit=lots|mem-limit=lots"
	"size=1M mem-limit=99999999T|mem-limit=99999999T"
	"size=1M threads=0|threads=0"
	"size=1M threads=abc|threads"
	"size=1M threads=100000|threads=100000"
	"size=1M dedup=maybe|dedup=maybe"
	"size=1M dedup=|dedup="
	"size=1M controls=|controls="
	"size=1M controls=$tmp/none|controls=$tmp/none"
	"size=1M controls=$tmp/full|controls=$tmp/full"
	"size=1M controls=$tmp/file|controls=$tmp/file"
	"size=1M colour=blue|colour"
	"size=17T|size=17T"
	"size=1M backing-dev=|backing-dev="
	"size=1M backing-dev=$tmp/none|backing-dev=$tmp/none"
	"size=1M backing-dev=$tmp/ctl|backing-dev=$tmp/ctl"
	"size=1M policy=writeback=maybe|policy=writeback=maybe"
	"size=1M policy=interval=0|policy=interval=0"
	"restore=|restore="
	"restore=$tmp/none|$tmp/none: No such file"
	"restore=$tmp/file|not a uzram snapshot"
	"size=2M restore=$tmp/snap|holds a 1048576-byte disk"
)
for b in "${bad[@]}"; do
	params=${b%%|*} want=${b#*|}
	eval "set -- $params"
	rc=0
	nbdkit_run "$@" --run 'exit 0' >"$tmp/out" 2>"$tmp/err" || rc=$?
	check "bad: '$params' refused with status 1 (got $rc; 124: hung)" \
		test "$rc" = 1
	errs=$(grep -c 'error' "$tmp/err" || true)
	check "bad: '$params' refused, one error line naming it ($(head -1 "$tmp/err"))" \
		grep -qF -- "$want" "$tmp/err"
	check "bad: '$params': exactly one error line (got $errs)" test "$errs" = 1
	check "bad: '$params': nothing served" test ! -s "$tmp/out"
done
e2e_log "PASS"
