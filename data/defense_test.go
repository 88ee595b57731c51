package data

import (
	"slices"
	"testing"
)

func TestDefense(t *testing.T) {
	train := &Dataset{Name: "t", N: 50, H: 2, W: 2, C: 1, Classes: 5, Images: make([]uint8, 200), Labels: make([]int, 50)}
	for i := range train.Labels {
		train.Labels[i] = i % 5
		train.Images[4*i] = uint8(i)
	}
	d, err := NewDefense(train, 20, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 20 || !slices.Equal(d.Indices(), RandomSubset(50, 20, 3)) {
		t.Fatalf("defense set %v", d.Indices())
	}
	ds := d.Data()
	ds.Images[0] = 99
	if d.Data().Images[0] == 99 || train.Images[4*d.Indices()[0]] == 99 {
		t.Error("Data is not a copy")
	}
	parts, err := d.Split(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range parts {
		for j, i := range p.Indices() {
			if seen[i] {
				t.Fatalf("image %d in two parts", i)
			}
			seen[i] = true
			if p.Data().Images[4*j] != uint8(i) {
				t.Fatalf("part image %d is not training image %d", j, i)
			}
		}
	}
	if len(seen) != 20 {
		t.Errorf("parts cover %d of 20 images", len(seen))
	}
	if _, err := NewDefense(train, 51, 1); err == nil {
		t.Error("a defense set larger than the split")
	}
}
