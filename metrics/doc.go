// Package metrics scores a model's predictions: clean accuracy (CA) now, and
// the backdoor measures (ASR, RA, DER, AUROC) as the attacks and defenses that
// need them arrive.
//
// Metrics take predicted and true labels, not models, so the evaluator that
// owns test labels and poisoned data computes them, and defenses never see
// either (DESIGN §3).
package metrics
