#!/usr/bin/env bash
# Side-by-side train-step benchmark of ebyd against the PyTorch reference
# script (shared/bench/torch_reference.py, run with Debian's python3-torch).
# Runs alternate between the two engines so that both see the same machine
# state; the table reports the median over runs of each run's median step.
#
#   scripts/bench-vs-torch.sh [ROUNDS] [TORCH_SCRIPT]
#
# Writes one markdown row per model to stdout. Needs /usr/bin/python3 with
# torch (apt-get install python3-torch); the project itself never does.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
torch_script=${2:-../shared/bench/torch_reference.py}
[ -f "$torch_script" ] || { echo "no PyTorch reference script at $torch_script" >&2; exit 1; }
go build -o bin/ebyd ./cmd/ebyd

med() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "| model | batch | ebyd median step (s) | PyTorch median step (s) | ratio | ebyd GFLOP/s | ebyd peak RSS (MiB) | PyTorch peak RSS (MiB) |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "mnistnet 128 smallcnn 10" "preactresnet18 32 preact18 7" "resnet18 32 resnet18 7"; do
	set -- $spec
	model=$1 batch=$2 tmodel=$3 steps=$4
	ours=() theirs=() rss=() trss=() gf=()
	for ((i = 0; i < rounds; i++)); do
		j=$(./bin/ebyd bench engine --model "$model" --batch "$batch" --steps "$steps" --json -q | tail -1)
		ours+=("$(echo "$j" | sed 's/.*"median_step_s":\([0-9.e-]*\).*/\1/')")
		rss+=("$(echo "$j" | sed 's/.*"peak_rss_mib":\([0-9.e-]*\).*/\1/')")
		gf+=("$(echo "$j" | sed 's/.*"gflops":\([0-9.e-]*\).*/\1/')")
		t=$(THREADS=2 /usr/bin/python3 "$torch_script" "$tmodel" "$batch" train "$steps")
		theirs+=("$(echo "$t" | sed 's/.*median_s=\([0-9.]*\).*/\1/')")
		trss+=("$(echo "$t" | sed 's/.*peak_rss_MiB=\([0-9.]*\).*/\1/')")
	done
	o=$(printf '%s\n' "${ours[@]}" | med)
	p=$(printf '%s\n' "${theirs[@]}" | med)
	printf '| %s | %s | %.4f | %.4f | %.2f | %.0f | %.0f | %.0f |\n' "$model" "$batch" "$o" "$p" \
		"$(awk -v a="$o" -v b="$p" 'BEGIN {print a / b}')" "$(printf '%s\n' "${gf[@]}" | med)" \
		"$(printf '%s\n' "${rss[@]}" | med)" "$(printf '%s\n' "${trss[@]}" | med)"
done
