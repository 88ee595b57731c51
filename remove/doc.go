// Package remove takes a backdoor out of a suspect model using only clean
// defense data: the last step of "Expose Before You Defend" (EBYD), and the
// removal baselines it is measured against.
//
// A Remover edits the suspect model in place and returns a Report:
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
// The methods (names for New and ebyd remove --method; the type
// documentation gives each exact definition and its defaults):
//
//	ebyd-rnp  EBYDRNP: RNP's masks learned on the exposed model (Env.Exposed), pruning
//	          the suspect, then fine-tuning that unlearns the recovered trigger (Env.Trigger)
//	rnp       RNP: RNP's own unlearning (see Unlearner), then the same masks and pruning
//	anp       ANP: adversarial neuron pruning
//	fp        FP: fine-pruning of the last convolution's most dormant channels
//	ft        FT: fine-tuning
//	nad       NAD: attention distillation from a fine-tuned teacher
//	ibau      IBAU: adversarial unlearning of a universal perturbation
//
// The pruning methods (ebyd-rnp, rnp, anp, fp) choose how many channels to
// prune from the defense images alone, with one rule (see Cut and
// Pruning): the longest prefix of the channels scoring below a threshold
// whose pruning keeps defense accuracy within a budget of the unpruned
// model's. Masks, noise and pruning act on nn.ChannelGates, which are
// folded into the weights at the end, so a cleaned model is a plain
// network.
//
// Every method is deterministic: the same seed, defense set and GOMAXPROCS
// give the same bytes. docs/removal.md has what each method does against
// MNIST backdoors.
package remove
