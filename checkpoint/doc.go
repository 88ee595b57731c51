// Package checkpoint reads and writes model weights in the formats that
// PyTorch users bring: safetensors files and torch.save .pt files holding a
// state_dict.
//
// A StateDict is an ordered list of named tensors with PyTorch parameter
// names ("conv1.weight", "bn1.num_batches_tracked"). Values are always held
// as float32, the engine's only type, and each entry remembers the dtype it
// was stored with so that integer buffers and half-precision weights are
// written back as they came.
//
// Loading a .pt file never executes anything from it. A torch.save file is a
// Python pickle, and unpickling runs arbitrary code named by the file; here a
// small pickle machine written in Go understands only the opcodes that
// torch.save emits and accepts only the handful of globals that a state_dict
// needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter and the storage types). A few plain-data
// globals that training scripts save beside the state dict (numpy scalars
// and arrays, argparse.Namespace) become inert placeholders, so the state dict
// can be picked out of such a checkpoint; a placeholder is never interpreted
// and is an error where a tensor belongs. Any other global (os.system,
// builtins.eval, a user's model class...) is refused with an error that
// names it.
//
// ReadPT takes the zip format of torch >= 1.6 and the older legacy format,
// unwraps training checkpoints ({"state_dict": ..., "epoch": ...}) and drops
// DataParallel's "module." prefix. WritePT writes the zip format that
// torch.load reads back as an OrderedDict of tensors.
//
// Load recognises the format by content; Save chooses it by extension.
// Every reader validates sizes, offsets and views against the file and
// returns an error naming the file rather than panicking on bad input.
// Fixtures and the way they were checked against PyTorch are described in
// testdata/gen.py.
package checkpoint
