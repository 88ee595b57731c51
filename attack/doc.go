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
// The attacks (names for New and --attack; the type documentation gives each
// exact definition, its defaults, and where it departs from the seed code):
//
//	badnets    BadNets: 3×3 checker in the bottom-right corner (Gu et al. 2017)
//	blend      Blend: α-blend with a fixed seeded noise image or a user image (Chen et al. 2017)
//	sig        SIG: additive horizontal sinusoid, for clean-label poisoning (Barni et al. 2019)
//	trojan     Trojan: fixed additive 3×3 colour patch, saturating (TrojanNN's trigger as the seed fixes it)
//	wanet      WaNet: one fixed smooth warping field, with its noise mode (Nguyen and Tran 2021)
//	onepixel   one pixel set to 255 (the seed's trigger pool)
//	cl         label-consistent: PGD perturbation on a clean surrogate plus a patch, clean-label (Turner et al. 2019)
//	smooth     low-frequency trigger: a fixed pattern in the lowest DCT frequencies (Zeng et al. 2021)
//	iad        input-aware dynamic: a generator network trained with the classifier (Nguyen and Tran 2020)
//	nashville  the Instagram "Nashville" filter, as pilgram computes it with Pillow
//	patch      a user pattern stamped through a user mask (--trigger-pattern, --trigger-mask)
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
