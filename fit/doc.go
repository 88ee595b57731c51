// Package fit trains and evaluates networks: the minibatch gradient loop
// that every training stage runs, with hooks for what differs between
// them, and the batched forward pass that measures a model.
package fit
