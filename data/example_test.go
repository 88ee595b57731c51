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
