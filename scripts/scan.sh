#!/usr/bin/env bash
# Measures ebyd scan's verdict (detect.Scan) and writes the tables of
# docs/detection.md between the "scan tables" markers:
#
#   1. the demo grid: make demo's recipe (BadNets, target 0, mnistnet, one
#      epoch) with --seed 1-5, trained at GOMAXPROCS 1 and 2, each scanned
#      with defense seeds 1-3 (30 cells);
#   2. an evaluation pool of MNIST models the scan's null was not fitted on
#      (other seeds, targets, optimizers, schedules, widths, trigger
#      placements), with Neural Cleanse's MAD anomaly index over the same
#      masks beside it.
#
#   scripts/scan.sh [ROOT]     (default runs/scan-bench; resumes)
#
# About 2 minutes of one core per model (training and scan).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-runs/scan-bench}
B=${EBYD:-bin/ebyd}
[ -n "${EBYD:-}" ] || go build -o bin/ebyd ./cmd/ebyd
M=$root/models
S=$root/scans
mkdir -p "$M" "$S"
command -v jq >/dev/null || { echo "scripts/scan.sh needs jq (apt-get install jq)" >&2; exit 1; }

train() { # NAME GOMAXPROCS ARGS...
	local n=$1 g=$2
	shift 2
	[ -f "$M/$n/run.json" ] || GOMAXPROCS=$g $B train -q --out "$M/$n" "$@" >/dev/null
}
scan() { # NAME DEFENSE_SEED
	local o=$S/$1-d$2
	[ -f "$o/scan.json" ] || GOMAXPROCS=1 $B scan -q --run "$M/$1" --defense-seed "$2" --out "$o" --force >/dev/null
}

demo=()
for g in 1 2; do
	for s in 1 2 3 4 5; do
		n=demo-g$g-s$s
		train "$n" "$g" --attack badnets --target 0 --seed "$s"
		demo+=("$n")
	done
done
# name | training flags
pool='
ev-clean-a21|--seed 21
ev-clean-s22|--seed 22 --optimizer sgd --momentum 0.5
ev-clean-s24|--seed 24 --optimizer sgd --schedule constant
ev-clean-a26|--seed 26 --lr 0.003
ev-clean-a25|--seed 25 --width 16 --batch-size 64
ev-clean-a23|--seed 23 --epochs 2
ev-badnets-t8|--seed 41 --attack badnets --target 8 --optimizer sgd
ev-badnets-t5|--seed 42 --attack badnets --target 5 --trigger-param margin=3
ev-blend-t2|--seed 43 --attack blend --target 2
ev-blend-t9|--seed 52 --attack blend --target 9 --optimizer sgd
ev-sig-t7|--seed 44 --attack sig --target 7
ev-trojan-t6|--seed 45 --attack trojan --target 6
ev-smooth-t4|--seed 46 --attack smooth --target 4
ev-nashville-t9|--seed 47 --attack nashville --target 9
ev-onepixel-t1|--seed 48 --attack onepixel --target 1 --trigger-param row=2 --trigger-param col=2
ev-badnets-all2all|--seed 51 --attack badnets --mode all2all
ev-wanet-t0|--seed 49 --attack wanet --target 0 --epochs 3
'
evs=()
while IFS='|' read -r n flags; do
	[ -n "$n" ] || continue
	# shellcheck disable=SC2086
	train "$n" 1 $flags
	evs+=("$n")
done <<<"$pool"
for n in "${demo[@]}"; do for d in 1 2 3; do scan "$n" $d; done; done
for n in "${evs[@]}"; do scan "$n" 1; done

row() { # NAME DEFENSE_SEED: one JSON object per scan
	jq -c --arg n "$1" --argjson asr "$(jq '.metrics.asr // null' "$M/$1/run.json")" \
		'{name: $n, asr: $asr, attack: (.detect.attack // ""), mode: (.detect.mode // ""), truth: .detect.true_target,
		  backdoored: .detect.backdoored, target: .detect.predicted_target, ratio: .detect.scan.norm_ratio,
		  p: .detect.scan.p_value, rounds: .detect.scan.rounds, ambiguous: .detect.scan.ambiguous,
		  mad: .detect.nc.anomaly.anomaly_index, seconds: .seconds}' "$S/$1-d$2/scan.json"
}
tables=$(mktemp)
{
	echo "#### Demo grid"
	echo
	echo "make demo's recipe with --seed 1–5, trained at GOMAXPROCS 1 and 2, scanned with defense seeds 1–3 (the scan at GOMAXPROCS 1). A cell: ✓ when the model is called backdoored with target 0; the norm ratio and p-value."
	echo
	echo "| model | defense seed 1 | defense seed 2 | defense seed 3 |"
	echo "| --- | --- | --- | --- |"
	right=0
	for n in "${demo[@]}"; do
		line="| $n |"
		for d in 1 2 3; do
			r=$(row "$n" $d)
			ok=$(jq -r 'if .backdoored and .target == 0 then "✓" else "✗" end' <<<"$r")
			[ "$ok" = "✓" ] && right=$((right + 1))
			line+=" $ok $(jq -r '"\(.ratio*1000|round/1000) (p \(.p|tostring|.[0:7]))"' <<<"$r") |"
		done
		echo "$line"
	done
	echo
	echo "Right in $right of 30 cells."
	echo
	echo "#### Evaluation pool"
	echo
	echo "Defense seed 1. Backdoored at p ≤ 0.01; NC's MAD anomaly index (flagged above 2) is computed on the same masks."
	echo
	echo "| model | attack | truth | ASR | scan | target | norm ratio | p | rounds | MAD index | s |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	for n in "${evs[@]}"; do
		row "$n" 1 | jq -r '"| \(.name) | \(if .attack == "" then "–" else .attack + " " + .mode end) | \(if .attack == "" then "clean" elif .truth == null then "backdoored (all2all)" else "backdoored, target \(.truth)" end) | \(if .asr == null then "–" else "\(.asr*10000|round/100)%" end) | \(if .backdoored then "backdoored" else "clean" end)\(if .ambiguous then " (ambiguous)" else "" end) | \(.target) | \(.ratio*1000|round/1000) | \(.p|tostring|.[0:8]) | \(.rounds) | \(.mad*100|round/100)\(if .mad > 2 then "*" else "" end) | \(.seconds|round) |"'
	done
	echo
	for n in "${evs[@]}"; do row "$n" 1; done | jq -s -r '
		def auroc(f): (map(select(.attack != "" and (.asr // 0) >= 0.9))) as $pos | (map(select(.attack == ""))) as $neg |
			([$pos[] as $a | $neg[] as $b | if ($a|f) > ($b|f) then 1 elif ($a|f) == ($b|f) then 0.5 else 0 end] | add) / (($pos|length) * ($neg|length));
		(map(select(.attack != "" and (.asr // 0) >= 0.9))) as $pos | (map(select(.attack == ""))) as $neg |
		($pos | map(select(.mode == "all2one"))) as $one |
		"Working backdoors (ASR ≥ 90%): \($pos|length), clean: \($neg|length). Target named for \($one | map(select(.target == .truth)) | length) of \($one|length) all2one backdoors. At p ≤ 0.01: \($pos | map(select(.backdoored)) | length) of \($pos|length) backdoored flagged (TPR), \($neg | map(select(.backdoored)) | length) of \($neg|length) clean flagged (FPR). AUROC: scan (−log p) \(auroc(-(.ratio))*1000|round/1000), NC MAD index \(auroc(.mad)*1000|round/1000). Median seconds per scan \(map(.seconds) | sort | .[length/2|floor] | round)."'
} >"$tables"
doc=docs/detection.md
awk -v f="$tables" '
	/<!-- BEGIN GENERATED: scan tables -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
	/<!-- END GENERATED: scan tables -->/ { skip = 0 }
	!skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
cat "$tables"
rm -f "$tables"
