// Command ebyd trains, imports, exports and benchmarks neural networks for
// backdoor research, and (in later releases) attacks, exposes, detects and
// removes backdoors.
//
// Every command prints a human-readable table on standard output and, with
// --json, one JSON object as the last line of standard output for scripts.
// Progress goes to standard error. On failure ebyd prints one line starting
// with "ebyd:" on standard error and exits with status 1 (2 for a command
// line that does not parse).
//
//	ebyd train  --dataset mnist --model mnistnet --epochs 1 --out runs/clean
//	ebyd import --arch mnistnet --weights model.pt --dataset mnist --out runs/theirs
//	ebyd export --run runs/clean --format pt --out clean.pt
//	ebyd bench engine --model resnet18 --batch 32 --steps 5 --json
//	ebyd version
//
// This package only parses the command line; the work is done by package
// ebyd/run.
package main
