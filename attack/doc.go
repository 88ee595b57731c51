// Package attack implements image backdoor attacks: the triggers that are
// stamped on inputs, and the poisoning that teaches a model to answer them.
//
// A Trigger works on uint8 images in HWC order before normalisation, the form
// in which data.Dataset holds them, so that a trigger is exact to the pixel
// and the same bytes reach ebyd and PyTorch. Each attack is one file holding
// one type that implements Trigger and one register line; New builds an attack
// by name for an image shape, and its exported fields are the parameters that
// run.json records.
//
// Poison (poisoning.go) draws the seeded set of training images to poison and
// applies the trigger and the label rule of the mode:
//
//	all2one      triggered images are relabelled to the target
//	all2all      triggered images are relabelled to (y+1) mod K
//	clean-label  only images of the target class are triggered; labels stay
//
// TestSet builds the triggered test set that attack success rate is measured
// on (DESIGN §6): every test image whose true label is not the target,
// triggered and labelled with the target (all2all: every image, labelled
// (y+1) mod K).
//
// Where the seed system and the papers differ, the papers win; every such
// choice is stated in the attack's type documentation.
package attack
