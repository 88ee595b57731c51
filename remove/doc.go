// Package remove takes a backdoor out of a suspect model using only clean
// defense data: the last step of "Expose Before You Defend" (EBYD), and the
// removal baselines it is measured against.
//
// # Interface
//
// A Remover edits the suspect model in place:
//
//	r, err := remove.New("ebyd-rnp", nil) // or with JSON parameters
//	rep, err := r.Remove(ctx, suspect, defense, remove.Env{Seed: 1, Exposed: exposed})
//	rep.Pruned // the channels pruned, with their mask values
//	rep.Cut    // how the pruning point was chosen
//
// A method receives a *data.Defense, the seeded clean subset of the
// training split that the run stage draws, and nothing else: no poisoned
// image, trigger or test label can reach it (expose's layering test parses
// this package too). The evaluator (run.Remove) measures clean accuracy and
// attack success rate before and after, outside the method.
//
// # Methods
//
//   - ebyd-rnp (the default): RNP's mask learning on the exposed model
//     (Env.Exposed, e.g. expose's cul), pruning the suspect model, then
//     ten epochs of fine-tuning that unlearn the trigger Neural Cleanse
//     recovered for the detected target (Env.Trigger) on a fifth of each
//     batch.
//   - rnp: RNP itself: its own unlearning (expose's rnp-unlearn, which the
//     caller runs first, see Unlearner; run.Remove restarts it at half the
//     rate if it diverges), then the same masks and pruning.
//   - anp: adversarial neuron pruning, eps 0.4, alpha 0.2, mask lr 0.2,
//     2000 iterations on random defense batches, then the same pruning.
//   - fp: fine-pruning of the last convolutional layer's most dormant
//     channels, then 10 epochs of fine-tuning.
//   - ft: 10 epochs of fine-tuning (SGD lr 0.01, momentum 0.9, weight decay
//     5e-4, batch 128).
//   - nad: attention distillation from a fine-tuned teacher, beta 5000.
//   - ibau: adversarial unlearning of a universal perturbation, alternating
//     (not I-BAU's implicit hypergradient).
//
// Masks, noise and pruning act on channel gates (nn.ChannelGates): on
// BatchNorm channels when the network has BatchNorm (a pruned channel
// outputs its BatchNorm bias, as RNP's γ = 0), otherwise (mnistnet) on the
// output channels of every convolution and the units of every hidden dense
// layer (a pruned channel outputs its bias). The gates are folded into the
// weights at the end, so a cleaned model is a plain network.
//
// # Choosing the pruning point on defense data
//
// RNP's code sweeps mask thresholds and leaves the choice to whoever reads
// the test ASR; ported as is to a network without BatchNorm, its threshold
// 0.2 pruned 117 of mnistnet's 224 units and cost 65 points of clean
// accuracy. Here the pruning methods (ebyd-rnp, rnp, anp, fp) share one
// rule (Cut), which sees only the defense images: channels are ordered by
// ascending score (mask value; mean activation for fp), the candidates are
// those below Threshold (0.2, RNP's operating point; fp: up to 90% of the
// layer), and the longest prefix of candidates is pruned whose pruned
// suspect model keeps its defense accuracy at least Budget (2 points) below
// the unpruned model's. The prefixes tried are 16 evenly spaced ones up to
// the first that breaks the budget, then a bisection. An optional
// fine-tuning (Pruning.Finetune, off by default) follows, with the pruned
// channels held at 0.
//
// # Measured
//
// docs/removal.md (scripts/removal.sh): every method against ten MNIST
// backdoors (mnistnet, 500 defense images). ebyd-rnp reaches mean ASR
// 0.99% (at most 2.81%) with a mean CA drop of 0.69 points; pruning alone
// (finetune.epochs 0) left ASR at 77–100%, so the recovered trigger's
// unlearning does most of the work. Of the baselines at their papers'
// settings, fp does best (mean ASR 37.6%); ft, nad, ibau, anp and rnp leave
// most backdoors above 68%. On one Fashion-MNIST preactresnet18, ebyd-rnp
// removed BadNets and Blend (ASR 2.2%, 0.6%) but cost 2.2 and 6.2 points of
// CA.
//
// Every method is deterministic: the same seed, defense set and GOMAXPROCS
// give the same bytes.
package remove
