#!/usr/bin/env bash
# Runs the detection benchmark behind docs/detection.md: exposure (cul) and
# targeted Neural Cleanse beside full Neural Cleanse, the share-variance
# model test, STRIP and Cognitive Distillation, on a pool of MNIST mnistnet
# models: the MNIST attack grid of scripts/attacks.sh (every attack, targets
# 0 and some non-zero ones), more attacks with non-zero targets and other
# seeds, and clean models of six seeds.
#
#   scripts/detection.sh [GRID_ROOT]
#
# Needs GRID_ROOT/grid-mnist (scripts/attacks.sh, or `ebyd bench attacks
# --out GRID_ROOT/grid-mnist --epochs-for wanet=3`). The extra models go to
# GRID_ROOT/pool, the results to GRID_ROOT/detection; both resume where an
# interrupted run stopped. About 90 minutes of one core per 25 models.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-runs}
go build -o bin/ebyd ./cmd/ebyd
G=$root/grid-mnist
P=$root/pool
if [ ! -f "$G/grid.json" ]; then
	echo "no $G/grid.json: run scripts/attacks.sh first" >&2
	exit 1
fi
mkdir -p "$P"

# Extra models of the grid's recipe (1 epoch; WaNet 3), other seeds.
train() {
	local name=$1
	shift
	[ -f "$P/$name/run.json" ] || ./bin/ebyd train -q --out "$P/$name" "$@"
}
train clean-s2 --seed 2
train clean-s3 --seed 3
train clean-s4 --seed 4
train clean-s5 --seed 5
train badnets-t5-s2 --seed 2 --attack badnets --target 5
train blend-t8-s3 --seed 3 --attack blend --target 8
train trojan-t2-s4 --seed 4 --attack trojan --target 2
train sig-t4-s5 --seed 5 --attack sig --target 4
train smooth-t6-s6 --seed 6 --attack smooth --target 6
train nashville-t9-s7 --seed 7 --attack nashville --target 9
train onepixel-r2c2-t8-s8 --seed 8 --attack onepixel --target 8 --trigger-param row=2 --trigger-param col=2
train wanet-t1-s9 --seed 9 --attack wanet --target 1 --epochs 3

./bin/ebyd bench detection --out "$root/detection" --doc docs/detection.md \
	$G/clean $G/clean-3ep $P/clean-s2 $P/clean-s3 $P/clean-s4 $P/clean-s5 \
	$G/badnets $G/badnets-t7 $P/badnets-t5-s2 $G/blend $G/blend-t3 $P/blend-t8-s3 \
	$G/sig $P/sig-t4-s5 $G/smooth $P/smooth-t6-s6 $G/trojan $P/trojan-t2-s4 \
	$G/nashville $P/nashville-t9-s7 $G/onepixel-r2c2 $P/onepixel-r2c2-t8-s8 \
	$G/wanet $P/wanet-t1-s9 $G/onepixel $G/cl $G/iad $G/sig-clean-label $G/badnets-all2all
