// Package run owns the run folder and the stage plumbing of ebyd: it trains
// models (clean or backdoored), imports and exports them, runs the expose,
// detect and remove stages and the pipeline that chains them, and is the
// evaluator that measures clean accuracy (CA) and attack success rate (ASR).
//
// A run folder is the artifact that connects the stages (DESIGN §5). It
// holds run.json, a Manifest recording everything needed to repeat and
// interpret the stage (tool version, command line, full config, seeds,
// parent run, dataset with split and normalisation, model architecture,
// metrics, seconds per part of the stage, and the Engine: BLAS, convolution
// route and GOMAXPROCS); model.safetensors, the weights under their PyTorch
// state_dict names, for the stages that produce a model; and the stage's
// own files (poison indices, traces, recovered triggers). Later stages Open
// a folder, rebuild its model and data, and write a folder of their own
// whose parent it is.
//
// The stages that write a run folder are Train, Import, Expose, Detect and
// Remove; each takes a config, whose defaults are filled in and recorded,
// and Options (output folder, force, progress). Chain is EBYD's defence in
// its one stage order (expose, targeted detection, removal); Pipeline runs
// it on a suspect it trains or is given, and the benchmarks (AttackGrid,
// DetectBench, RemoveBench) run it over pools of runs, whose documents
// package benchdoc writes. Export writes a
// run's model as a PyTorch state_dict, and Eval measures an existing run
// again. This package loads the datasets, draws the defense set and builds
// the triggered test sets: the methods of packages expose, detect and
// remove receive the defense set alone, and CA and ASR are measured here,
// outside them, on the test split.
//
// A stage builds its whole folder in a temporary directory beside the target
// and renames it into place only when everything succeeded, so a failed or
// interrupted stage leaves nothing behind, and an existing run is replaced
// only when the caller asks to (Options.Force).
//
// Every stage is deterministic: the same config, seed and GOMAXPROCS give
// bitwise-identical weights and metrics, because every random draw comes
// from a generator seeded by the config and the engine sums in a fixed order.
package run
