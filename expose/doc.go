// Package expose edits a suspect model, using only clean defense data, so
// that its backdoor shows: the first step of "Expose Before You Defend"
// (EBYD). The exposed model feeds detection (its predictions on clean data
// point at the target label) and removal (its parameters point at the
// backdoor neurons).
//
// An Exposer edits a model in place and returns a Trace:
//
//	e, err := expose.New("cul", nil) // or with JSON parameters
//	trace, err := e.Expose(ctx, model, defense, expose.Env{Seed: 1})
//	trace.Predicted()  // the label the exposed model predicts most
//	trace.Candidates   // every label ranked as the backdoor target
//
// A method receives a *data.Defense, the seeded clean subset of the
// training split that the run stage draws, and nothing else: no poisoned
// image, trigger or test label can reach it. A layering test parses this
// package, detect and remove, and fails if they import ebyd/run,
// ebyd/attack or ebyd/metrics, or call data.Load or data.NewDefense. The
// attack success rate in a trace is measured by the caller's Env.ASR.
//
// A Trace has a Row per epoch (per rate or noise level for act-prune and
// awp), row 0 being the suspect model, with the defense accuracy, the
// method's loss, the learning rate, and the class share: the fraction of
// defense images predicted as each class, the exposure signal.
//
// The methods (names for New and ebyd expose --method; the type
// documentation gives each exact definition and its defaults):
//
//	cul           CUL: Clean Unlearning on perturbed defense images, in rounds (the default)
//	cul-seed      CULSeed: the seed's Clean Unlearning exactly
//	confusion-ft  ConfusionFT: fine-tuning to fresh uniform random labels
//	act-prune     ActPrune: masking the lowest-mean-activation channels of the logit layer
//	awp           AWP: adversarial multiplicative neuron noise
//	rnp-unlearn   RNPUnlearn: RNP's unlearning
//
// Per-channel edits go through nn.ChannelGates and are folded into the
// weights at the end, so an exposed model is a plain network that saves and
// loads as any other. Every method is deterministic: the same seed, defense
// set and GOMAXPROCS give the same bytes.
//
// docs/exposure.md has how cul's defaults were measured and what each
// method finds on trained MNIST models.
package expose
