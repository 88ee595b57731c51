// Package detect finds backdoors with the defender's means only: a model
// (the suspect, or the exposed model package expose derives from it) and a
// *data.Defense, the clean images a defender holds (DESIGN §3). Nothing here
// loads datasets, draws defense sets or sees poisoned data or test labels;
// package run, the evaluator, builds the inputs and scores the answers.
//
// Methods (names for New and ebyd detect --method; the type documentation
// gives each exact definition, its defaults, and where it departs from the
// seed code, dossier §4):
//
//	label  Label: the target is the exposed model's most predicted class on defense data
//	model  Variance: backdoored when the variance of those class shares exceeds 0.01
//	nc     NeuralCleanse: trigger reverse-engineering per label, MAD anomaly index
//	       over every label, or (EBYD) over an exposure's few candidates,
//	       decided by the gap between the two smallest masks (CandidateGap)
//	mmbd   MMBD: maximum-margin statistic per class, Gamma-null p-value
//	scan   Scan: ebyd scan's verdict, NC over every label scored by the norm
//	       ratio's p-value against clean models, more rounds when ambiguous
//	strip  STRIP: entropy of an input blended with clean images (per sample)
//	cd     CognitiveDistillation: L1 norm of the input's distilled mask (per sample)
//
// Methods are made by name with their defaults and a user's JSON parameters
// over them (New, NewSampler). A Detector answers about a model with one
// Result that carries its own decision: the target it names, and when the
// method decides, its score, threshold and verdict; run records it as it
// is, knowing no method's rule. A Focuser (nc) can be told which labels to
// examine, such as an exposure's candidates. A SampleDetector scores
// unlabelled inputs, higher meaning more likely triggered. Triggers are
// optimised on the [0,1] pixel scale and normalised with the defense
// data's mean and std inside, so masks and patterns are images.
//
// The model's weights are never changed: detectors put it in evaluation
// mode and stop gradients into its parameters for their duration.
// Every random draw comes from a seeded generator, so results repeat.
package detect
