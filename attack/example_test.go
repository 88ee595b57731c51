package attack_test

import (
	"fmt"

	"ebyd/attack"
	"ebyd/data"
)

// Stamp BadNets on a blank 28×28 digit and poison a training set with it.
func Example() {
	s := attack.Shape{H: 28, W: 28, C: 1}
	t, err := attack.New("badnets", s, nil)
	if err != nil {
		panic(err)
	}
	img := make([]uint8, s.Size())
	t.Apply(img)
	fmt.Println("bottom-right row:", img[27*28+25:27*28+28])
	fmt.Println("parameters:", string(attack.Params(t)))

	train := &data.Dataset{Name: "blank", N: 100, H: 28, W: 28, C: 1, Classes: 10,
		Images: make([]uint8, 100*28*28), Labels: make([]int, 100)}
	for i := range train.Labels {
		train.Labels[i] = i % 10
	}
	p, err := attack.Poison(train, t, attack.Poisoning{Mode: attack.All2One, Target: 7, Rate: 0.1, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("poisoned:", len(p.Indices), "relabelled to", p.Data.Labels[p.Indices[0]])
	// Output:
	// bottom-right row: [255 0 255]
	// parameters: {"margin":0}
	// poisoned: 10 relabelled to 7
}
