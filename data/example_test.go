package data_test

import (
	"fmt"
	"log"

	"ebyd/data"
)

func ExampleLoad() {
	train, test, err := data.Load("mnist", "") // "" = the embedded copy
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d train, %d test images of %d×%d×%d, %d classes\n",
		train.Name, train.N, test.N, train.H, train.W, train.C, train.Classes)
	fmt.Println("first training label:", train.Labels[0])

	// Defense data: a seeded subset of the clean training split.
	defense := train.Subset(data.RandomSubset(train.N, 500, 1))

	// One epoch of shuffled, normalised NCHW batches.
	ld := &data.Loader{Data: defense, BatchSize: 128, Shuffle: true, Seed: 1}
	for x, y := range ld.Epoch(0) {
		fmt.Println(x.Shape, len(y))
	}

	// A fixed evaluation batch: pixel value 0 maps to (0 - 0.1307) / 0.3081.
	x, y := data.Batch(test, []int{0, 1})
	fmt.Printf("labels %v, x[0] = %.4f\n", y, x.Data[0])
	// Output:
	// mnist: 60000 train, 10000 test images of 28×28×1, 10 classes
	// first training label: 5
	// [128 1 28 28] 128
	// [128 1 28 28] 128
	// [128 1 28 28] 128
	// [116 1 28 28] 116
	// labels [7 2], x[0] = -0.4242
}

func ExampleRGB32() {
	// The 32×32 RGB view of MNIST, for models built for CIFAR-10 input.
	train, _, err := data.Load("mnist-rgb32", "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d×%d×%d, mean %v, std %v\n", train.Name, train.H, train.W, train.C, train.Mean, train.Std)
	// Row 5 of the first 28×28 digit is row 7 of the view, shifted right by 2:
	// columns 14 to 17, as R G B triples.
	img := train.Image(0)
	fmt.Println(img[(7*32+14)*3 : (7*32+18)*3])
	fmt.Println("corner:", img[:3])
	// Output:
	// mnist-rgb32: 32×32×3, mean [0.1307 0.1307 0.1307], std [0.3081 0.3081 0.3081]
	// [3 3 3 18 18 18 18 18 18 18 18 18]
	// corner: [0 0 0]
}

func ExampleAugment() {
	aug := data.DefaultAugment("cifar10")
	fmt.Println(aug)
	// What a Loader{Seed: 1, Augment: aug} does to the image at position 0
	// of epoch 3:
	fmt.Printf("%+v\n", aug.Draw(1, 3, 0))

	// A crop shifted one row down and one column left, then mirrored, of a
	// 3×4 gray image: what comes from outside the image is black.
	img := []uint8{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12,
	}
	out := make([]uint8, len(img))
	data.AugmentDraw{DY: 1, DX: -1, Flip: true}.Apply(out, img, 3, 4, 1)
	for y := range 3 {
		fmt.Println(out[4*y : 4*y+4])
	}
	// Output:
	// RandomCrop(padding=4)+RandomHorizontalFlip
	// {DY:4 DX:1 Flip:true}
	// [7 6 5 0]
	// [11 10 9 0]
	// [0 0 0 0]
}
