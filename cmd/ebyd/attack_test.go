package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func writePNG(t *testing.T, path string, w, h int) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrainAttackAndEval(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bd")
	res := ok(t, "train", "--width", "4", "--train-subset", "500", "--test-subset", "200", "--attack", "badnets", "--target", "2", "--out", out)
	if res["attack"] != "badnets" || res["target"] != float64(2) || res["asr"] == nil {
		t.Fatalf("train --json: %v", res)
	}
	ev := ok(t, "eval", "--run", out)
	if ev["asr"] != res["asr"] || ev["clean_acc"] != res["clean_acc"] {
		t.Errorf("eval measured CA %v ASR %v, train %v %v", ev["clean_acc"], ev["asr"], res["clean_acc"], res["asr"])
	}
	ev = ok(t, "eval", "--run", out, "--attack", "onepixel", "--target", "5")
	if ev["attack"] != "onepixel" || ev["target"] != float64(5) {
		t.Errorf("eval with another trigger: %v", ev)
	}
}

func TestAttackBadInputs(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	train := func(extra ...string) []string {
		return append([]string{"train", "--width", "4", "--train-subset", "64", "--test-subset", "50", "--out", out}, extra...)
	}
	small := writePNG(t, filepath.Join(tmp, "small.png"), 10, 10)
	notPNG := filepath.Join(tmp, "notes.png")
	os.WriteFile(notPNG, []byte("hello"), 0o644)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown attack", train("--attack", "badnet"), []string{`unknown attack "badnet"`, "badnets"}},
		{"pattern of the wrong size", train("--trigger-pattern", small), []string{"10×10", "28×28"}},
		{"pattern not an image", train("--trigger-pattern", notPNG), []string{"notes.png", "not a PNG or JPEG"}},
		{"poison rate 0", train("--attack", "badnets", "--poison-rate", "0"), []string{"--poison-rate 0", "(0, 1]"}},
		{"poison rate above 1", train("--attack", "badnets", "--poison-rate", "1.5"), []string{"1.5", "(0, 1]"}},
		{"negative poison rate", train("--attack", "badnets", "--poison-rate", "-0.1"), []string{"(0, 1]"}},
		{"target above the labels", train("--attack", "badnets", "--target", "10"), []string{"target 10", "0..9"}},
		{"negative target", train("--attack", "badnets", "--target", "-1"), []string{"target -1"}},
		{"unknown mode", train("--attack", "badnets", "--mode", "one2one"), []string{"one2one", "all2one"}},
		{"unknown trigger parameter", train("--attack", "badnets", "--trigger-param", "size=4"), []string{`unknown field "size"`}},
		{"target without attack", train("--target", "3"), []string{"--target", "need --attack"}},
		{"missing CIFAR directory", train("--dataset", "cifar10", "--data-dir", filepath.Join(tmp, "cifar")), []string{"cifar10", "not found", "data_batch_1.bin"}},
		{"CIFAR without a directory", train("--dataset", "cifar10"), []string{"--data-dir is required"}},
		{"bad augmentation", train("--augment", "rotate"), []string{"rotate", "crop=N"}},
		{"eval of no run", []string{"eval", "--run", filepath.Join(tmp, "nothing")}, []string{"does not exist"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fails(t, c.args, c.want...)
			absent(t, out)
		})
	}
}
