// Package run carries out ebyd's stages (train, import, export, bench) and
// owns the run folder, the artifact that connects them (DESIGN §5).
//
// A run folder holds run.json, a Manifest recording everything needed to
// repeat and interpret the stage (tool version, command line, full config,
// seeds, dataset with split and normalisation, model architecture, metrics,
// seconds per stage, BLAS backend and GOMAXPROCS), and model.safetensors,
// the weights under their PyTorch state_dict names. Later stages Open a
// folder, rebuild its model and data, and write a folder of their own.
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
