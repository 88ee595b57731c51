// Package expose edits a suspect model, using only clean defense data, so
// that its backdoor shows: the first step of "Expose Before You Defend"
// (EBYD). The exposed model feeds detection (its predictions on clean data
// point at the target label) and removal (its parameters point at the
// backdoor neurons).
//
// # Interface
//
// An Exposer edits a model in place:
//
//	e, err := expose.New("cul", nil) // or with JSON parameters
//	trace, err := e.Expose(ctx, model, defense, expose.Env{Seed: 1})
//	trace.Predicted()  // the label the exposed model predicts most
//	trace.Candidates   // every label ranked as the backdoor target
//
// A method receives a *data.Defense, the seeded clean subset of the
// training split that the run stage draws, and nothing else: no poisoned
// image, trigger or test label can reach it (a layering test parses this
// package, detect and remove, and fails if they import ebyd/run,
// ebyd/attack or ebyd/metrics, or call data.Load or data.NewDefense). The
// attack success rate in a trace is measured by the caller's Env.ASR, a
// function of the model that the run stage builds from the suspect run's
// own trigger.
//
// A Trace has a Row per epoch (per rate or noise level for act-prune and
// awp), row 0 being the suspect model: defense accuracy (evaluation mode,
// no augmentation), the method's loss, the learning rate, and the class
// share, the fraction of defense images predicted as each class: the
// exposure signal.
//
// Per-channel edits (awp's noise, act-prune's masks) go through nn.Gates:
// on BatchNorm channels when the network has BatchNorm, otherwise (mnistnet)
// on the output channels of every convolution and the units of every hidden
// dense layer. The gates are folded into the weights at the end, so an
// exposed model is a plain network that saves and loads as any other.
//
// # Methods
//
// The defaults are the seed's (dossier §3) unless a line says otherwise.
//
//   - cul-seed: the seed's Clean Unlearning exactly (CULSeed): gradient
//     ascent on the clean cross-entropy, Adam lr 1e-5, coupled weight
//     decay 5e-4, batch 128, 20 epochs, no stop rule, the network in
//     evaluation mode during the updates.
//   - cul (the default): Clean Unlearning engineered to find the target;
//     see CUL for the algorithm and the measurements behind its defaults.
//   - confusion-ft: fine-tuning to fresh uniform random labels (ShuffleFT),
//     Adam lr 1e-4, weight decay 5e-4, 20 epochs.
//   - act-prune: masking the lowest-mean-activation channels of the logit
//     layer at rates 0, 0.1, …, 0.9, cumulatively.
//   - awp: adversarial multiplicative neuron noise, bounds 0, 0.1, …, 0.9,
//     6 passes per bound, signed steps of 0.2, clipped to the bound (the
//     seed does not clip).
//   - rnp-unlearn: RNP's unlearning, SGD lr 0.01, momentum 0.9, weight
//     decay 5e-4, training mode, stop at defense accuracy 0.2.
//
// Every method is deterministic: the same seed, defense set and GOMAXPROCS
// give the same bytes.
package expose
