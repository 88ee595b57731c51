// Command ebyd trains image classifiers, plants backdoors in them, and
// exposes, detects and removes those backdoors: the "Expose Before You
// Defend" (EBYD) chain, its baselines and its benchmarks.
//
// Usage:
//
//	ebyd <command> [flags]
//
// The commands are:
//
//	train     train a model, clean or backdoored (--attack), and write its run folder
//	eval      measure a run's clean accuracy and attack success rate
//	expose    edit a suspect model on clean defense data so that its backdoor shows
//	detect    find a backdoor's target label, the model, its trigger, or triggered inputs
//	remove    take a backdoor out of a suspect model using clean defense data
//	pipeline  run the whole chain: train a backdoored model, expose, detect,
//	          recover the trigger, remove, evaluate
//	import    bring a PyTorch state_dict (.pt or .safetensors) into a run folder
//	export    write a run's model as a PyTorch state_dict
//	bench     benchmarks: engine (training step time), attacks, detection, removal
//	version   print the version and the engine's build
//
// Each stage writes a run folder (run.json and model.safetensors) that the
// next stage reads through --run. Every command prints a human-readable
// table on standard output and, with --json, one JSON object as the last
// line of standard output for scripts. Progress goes to standard error
// unless --quiet. On failure ebyd prints one line starting with "ebyd:" on
// standard error and exits with status 1 (2 for a command line that does
// not parse). An interrupt stops the stage cleanly and leaves nothing
// written; a second one kills the process.
//
//	ebyd train --attack badnets --target 0 --poison-rate 0.1 --out runs/badnets
//	ebyd expose --run runs/badnets --out runs/badnets-cul
//	ebyd detect --run runs/badnets --exposed runs/badnets-cul --method nc --out runs/badnets-nc
//	ebyd remove --run runs/badnets --exposed runs/badnets-cul --out runs/badnets-clean
//	ebyd pipeline
//	ebyd bench engine --model resnet18 --batch 32 --steps 5 --json
//
// ebyd <command> --help lists a command's flags. This package only parses
// the command line; the work is done by package ebyd/run.
package main
