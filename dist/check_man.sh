#!/usr/bin/env bash
# check_man.sh MANDIR UZRAM UZRAMCTL - the man pages render without a
# warning (man --warnings), and each program's --help and its page name the
# same long options: every --option of --help is in the page, every
# --option the page's OPTIONS section describes is in --help.
set -euo pipefail
dir=$1 uzram=$2 uzramctl=$3
fail=0
for page in "$dir"/uzram.8 "$dir"/uzramctl.8 "$dir"/uzram.conf.5; do
	[[ -s $page ]] || { echo "FAIL: $page missing"; exit 1; }
	warn=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) || true
	if [[ -n $warn ]]; then
		echo "FAIL: $page: $warn"
		fail=1
	fi
done
opts() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
for pair in "uzram.8:$uzram" "uzramctl.8:$uzramctl"; do
	page=$dir/${pair%%:*} bin=${pair#*:}
	text=$(MANWIDTH=200 man -E UTF-8 -l "$page" 2>/dev/null | col -b)
	help=$("$bin" --help | opts)
	man_opts=$(sed -n '/^OPTIONS/,/^[A-Z]/p' <<<"$text" | grep -E '^ {7}-' | opts)
	for o in $help; do
		grep -q -- "$o" <<<"$text" || { echo "FAIL: $page lacks $o (in --help)"; fail=1; }
	done
	for o in $man_opts; do
		grep -qx -- "$o" <<<"$help" || { echo "FAIL: --help of $bin lacks $o (in $page)"; fail=1; }
	done
	echo "ok: $(basename "$page"): $(wc -w <<<"$help") options agree with --help"
done
exit $fail
