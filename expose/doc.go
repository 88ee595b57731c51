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
//
// # How cul's defaults were chosen
//
// Measured with this package on mnistnet models trained by ebyd (one epoch,
// the default recipe; run folders of `ebyd bench attacks` and a few more
// with other seeds and targets), 500 defense images, seed 1:
//
//   - The seed's CUL does not move them: defense accuracy 0.982 → 0.978
//     (BadNets, target 0) and 0.990 → 0.986 (clean) after its 80 steps,
//     class shares unchanged (every class 8–12%).
//   - Plain unlearning with a step that moves them (Adam 1e-4, 20 epochs)
//     collapses BadNets target 0 and the clean model alike onto class 4
//     (65% and 73% of the defense images, accuracy 0.29 and 0.30): a sink
//     of the training recipe, not the backdoor. AWP at its defaults leaves
//     BadNets at 0.93 accuracy with no class above 15%; act-prune empties
//     it onto class 5.
//   - Why: on clean images a backdoor's units are silent, so no gradient of
//     the clean loss reaches them. Perturbed images wake them. The suspect
//     models' own predictions on defense images plus white noise (σ = 2)
//     already lean to the target: BadNets target 7: 35% class 7; BadNets
//     target 5 (seed 2): 30% class 5; Blend target 8: 70% class 8; Blend
//     target 3: 91% class 3; SIG target 0: 80% class 0; while three clean
//     models lean to class 2 (42%, 32%, 33%), the noise's own sink. With a
//     brightness shift (σ = 1) instead, Nashville leans to its target 0
//     (50%), Smooth (43%) and WaNet (33%) too, and clean models to 3 or 8
//     (at most 16%).
//   - Unlearning on such images collapses onto the target: with white noise
//     σ = 2 (Adam 1e-4) onto the target for BadNets targets 7 and 5, Blend
//     targets 0, 3 and 8, SIG and one-pixel (target 0), each 99–100% of the
//     defense images, while the clean models collapse onto class 2.
//     BadNets, Trojan, Nashville and Smooth with target 0 collapse onto 2
//     as well (σ = 1 and σ = 4 alike), and WaNet onto 4; with the
//     brightness shift Smooth collapses onto 0, Nashville splits 59/41
//     between 2 and 0, and BadNets target 7 goes to 3. No single probe
//     finds every target.
//   - Masking the sink out and unlearning again finds the rest: with class
//     2 masked, BadNets and Trojan (target 0) collapse onto 0 under white
//     noise, and with 2 masked the brightness shift takes Smooth and
//     Nashville to 0, while clean models go on to 3, then 7 or 8. Hence the
//     rounds, alternating the two probes.
//   - Rejected: ranking classes by how fast a targeted fine-tune (all
//     parameters, or convolution biases only) can move every defense image
//     to them. Class 3 is the fastest for every model, clean ones included;
//     BadNets target 7's class does not move at all with biases only.
//
// Result with the defaults (24 mnistnet models, 500 defense images, seed 1,
// 2 cores): of the 13 all2one backdoors with ASR ≥ 0.9, cul puts the target
// first for 7 (BadNets targets 7 and 5, Blend targets 0, 3 and 8, SIG,
// Trojan target 2), second for 2 (Nashville, Smooth), third for 3 (BadNets,
// Trojan and one-pixel off-centre, target 0; the first two places go to the
// probes' sinks 2 and 3), and misses WaNet (4, 3, 1). The weak IAD (ASR
// 0.55) and one-pixel (0.33) backdoors come first. Clean models, and the
// clean-label backdoors that did not take (ASR ≤ 0.05), collapse too, onto
// 2 (or 3): a collapse is never evidence by itself, the candidates are for a
// detector to confirm (detect's targeted trigger recovery). 30–70 s a model.
// cul-seed moves none of the 24: class shares stay within 8–13%.
//
// The table of cul and cul-seed on every model is in the closing note of
// the exposure issue and is regenerated by
//
//	EBYD_EXPOSE_RUNS='../runs/grid-mnist/* ../runs/xp/*' GOMAXPROCS=2 \
//	  go test -tags long ./run -run ExposeGrid -v -timeout 5h
package expose
