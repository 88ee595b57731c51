#!/usr/bin/env bash
# Runs every Go fuzz target of the module, one after the other, for a set
# time each, and prints a table of executions at the end.
#
#   scripts/fuzz.sh [-t DURATION] [-p WORKERS] [-m DURATION] [-k] [PACKAGE...]
#
#   -t DURATION  time per target, as go test -fuzztime takes it (10m, 60s,
#                or 5000x for a count of executions); default $FUZZTIME or 10m
#   -p WORKERS   fuzzing workers (go test -parallel); default $FUZZPARALLEL,
#                else half the CPUs, at least 1 (1 on a 2-core machine)
#   -m DURATION  time to minimise each new input (go test -fuzzminimizetime);
#                default $FUZZMINIMIZETIME or 10s (Go's 60s default can
#                spend a whole short run shrinking one zip-shaped input)
#   -k           keep: copy what the fuzzer found interesting (its cache
#                corpus) into each package's testdata/fuzz/FuzzName/
#   PACKAGE...   the packages to fuzz (default ./...)
#
# Targets are found with `go test -list '^Fuzz'`, so a new func FuzzXxx is
# picked up with no change here. The corpus lives where Go keeps it: the
# seeds of f.Add and the files under PKG/testdata/fuzz/FuzzName/ (which
# plain `go test` runs as regression cases), and what the fuzzer generates
# under $(go env GOCACHE)/fuzz/. A failing input is written by go test to
# PKG/testdata/fuzz/FuzzName/HASH; the script then stops, naming the
# package, the target and that file. Fix the bug and COMMIT the file: it
# is the regression test. Inputs found interesting (new coverage) that
# exercise a hostile-input path worth keeping can be copied with -k and
# committed too (choose a few; the cache holds many).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10m}
minimize=${FUZZMINIMIZETIME:-10s}
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
workers=${FUZZPARALLEL:-$((cpus / 2 > 0 ? cpus / 2 : 1))}
keep=0
while getopts 't:p:m:kh' opt; do
	case $opt in
	t) fuzztime=$OPTARG ;;
	p) workers=$OPTARG ;;
	m) minimize=$OPTARG ;;
	k) keep=1 ;;
	h)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- ./...

# Only packages whose test files declare a fuzz target are compiled to be
# listed (go test -list builds the test binary; most packages have none).
pkgs=()
while read -r pkg dir; do
	if grep -lqs '^func Fuzz' "$dir"/*_test.go; then
		pkgs+=("$pkg")
	fi
done < <(go list -f '{{.ImportPath}} {{.Dir}}' "$@")

targets=()
for pkg in "${pkgs[@]}"; do
	while read -r name; do
		case $name in Fuzz*) targets+=("$pkg $name") ;; esac
	done < <(go test -list '^Fuzz' "$pkg")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets in $*" >&2
	exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, $fuzztime each, -parallel $workers"

cache=$(go env GOCACHE)/fuzz
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rows=()
summary() {
	printf '\n%-20s %-22s %-8s %12s %10s %s\n' PACKAGE TARGET RESULT EXECS "NEW INT." "ELAPSED"
	for r in "${rows[@]}"; do
		# shellcheck disable=SC2086
		printf '%-20s %-22s %-8s %12s %10s %s\n' $r
	done
}
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	dir=$(go list -f '{{.Dir}}' "$pkg")
	echo "== $pkg $name"
	status=ok
	go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" -parallel "$workers" 2>&1 | tee "$log" || status=FAIL
	# The last progress line: "fuzz: elapsed: 1m0s, execs: 123 (2/sec), new interesting: 4 (total: 9)".
	last=$(grep '^fuzz: elapsed:' "$log" | tail -n 1 || true)
	execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
	newi=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
	elapsed=$(sed -n 's/^fuzz: elapsed: \([^,]*\),.*/\1/p' <<<"$last")
	rows+=("${pkg#ebyd/} $name $status ${execs:--} ${newi:--} ${elapsed:--}")
	if [ "$keep" = 1 ] && [ -d "$cache/$pkg/$name" ]; then
		mkdir -p "$dir/testdata/fuzz/$name"
		cp -n "$cache/$pkg/$name"/* "$dir/testdata/fuzz/$name/" 2>/dev/null || true
	fi
	if [ "$status" = FAIL ]; then
		repro=$(sed -n 's/.*Failing input written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo
		echo "fuzz.sh: FAILURE in package $pkg, target $name"
		if [ -n "$repro" ]; then
			echo "fuzz.sh: reproducer: ${dir#"$PWD/"}/$repro"
			echo "fuzz.sh: re-run with: go test $pkg -run '^$name/$(basename "$repro")\$'"
			echo "fuzz.sh: fix the bug, then commit the reproducer as a regression seed"
		else
			echo "fuzz.sh: no input was saved (a build error, or a failure in the seed corpus); see the output above"
		fi
		summary
		exit 1
	fi
done
summary
