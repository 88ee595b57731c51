// Package metrics scores predictions: counts and accuracies of predicted
// labels (Correct, Accuracy, PerClassAccuracy), the share of predictions
// per class (ClassShare), and the area under the ROC curve of detection
// scores (AUROC).
//
// Clean accuracy (CA) is Accuracy on the clean test split; attack success
// rate (ASR) is Accuracy on the triggered test set of attack.TestSet,
// labelled with what the backdoor should answer. The functions take predicted labels
// or scores and the true labels, not models, so the evaluator that owns test
// labels and poisoned data computes them, and defenses never see either
// (DESIGN §3): packages expose, detect and remove may not import this one.
package metrics
