#!/usr/bin/env bash
# Runs every removal method against the MNIST backdoors of the attack grid
# and writes docs/removal.md: ASR and CA after each method, CA drop,
# seconds, ebyd-rnp beside plain rnp and the baselines.
#
#   scripts/removal.sh [GRID_ROOT]
#
# Needs GRID_ROOT/grid-mnist (scripts/attacks.sh) and reuses the exposures
# and recovered triggers of GRID_ROOT/detection (scripts/detection.sh).
# Results go to GRID_ROOT/removal and resume where an interrupted run
# stopped. ANP runs 200 of its 2000 iterations, for time: its iterations
# cost about 0.6 s each on one core (2000 would be 20 minutes a model).
# About 70 minutes of one core for the ten models.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-runs}
go build -o bin/ebyd ./cmd/ebyd
G=$root/grid-mnist
./bin/ebyd bench removal --detection "$root/detection" --out "$root/removal" --doc docs/removal.md \
	--params anp='{"iterations":200}' \
	$G/badnets $G/blend $G/sig $G/smooth $G/trojan $G/nashville $G/wanet $G/onepixel-r2c2 $G/badnets-t7 $G/blend-t3
