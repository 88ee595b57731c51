// Package autograd records differentiable operations on tensors and runs
// reverse-mode differentiation over them.
//
// A Var wraps a tensor.Tensor value. Operations on Vars (one per file: its
// forward, its backward and its gradient check side by side) return new Vars
// that remember their inputs and how to send a gradient back to them, but only
// when some input requires a gradient: operations on constants build no graph.
// Backward walks the graph from a scalar in reverse topological order and
// accumulates gradients into every Var that requires one, leaves (parameters,
// or inputs for trigger inversion) and intermediate results alike; after it
// returns, intermediate gradients and the graph are released, as PyTorch does.
//
// Kernels split work over a fixed partition of the batch (tensor.Parallel), and
// every reduction across that partition is summed in a fixed order, so the same
// inputs and the same GOMAXPROCS give bitwise-identical gradients.
package autograd
