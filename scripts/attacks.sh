#!/usr/bin/env bash
# Trains every attack on MNIST (mnistnet) and on the 32×32 RGB view of
# Fashion-MNIST (preactresnet18 at width 16 on a 10,000-image subset), then
# writes the tables and trigger pictures into docs/attacks.md (the text
# outside its generated section is kept).
#
#   scripts/attacks.sh [GRID_ROOT]
#
# Run folders go to GRID_ROOT (default runs/); a grid that was interrupted
# resumes where it stopped. About 50 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-runs}
mkdir -p "$root"
go build -o bin/ebyd ./cmd/ebyd

# MNIST: the default recipe (1 epoch, Adam 1e-3 cosine, batch 16). WaNet's
# noise mode teaches the model to ignore warps like its own, so its trigger
# takes longer to learn: 3 epochs, beside a clean model trained as long.
./bin/ebyd bench attacks --out "$root/grid-mnist" --epochs-for wanet=3

# Fashion-MNIST, 32×32 RGB, a BatchNorm ResNet: the ten attacks with their
# default settings and the off-centre one-pixel run (the other variants of
# the MNIST grid are left out for time).
./bin/ebyd bench attacks --dataset fashion-mnist-rgb32 --model preactresnet18 --width 16 \
	--train-subset 10000 --epochs 3 --batch-size 64 --epochs-for wanet=10 \
	--only badnets,blend,cl,iad,nashville,onepixel,sig,smooth,trojan,wanet,onepixel-r2c2 --out "$root/grid-fmnist"

./bin/ebyd bench attacks --out "$root/grid-mnist" --epochs-for wanet=3 \
	--grid "$root/grid-fmnist" --doc docs/attacks.md
