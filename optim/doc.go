// Package optim updates parameters from their gradients: SGD (momentum,
// Nesterov, weight decay), Adam and AdamW with PyTorch's exact update rules,
// learning-rate schedules, and gradient-norm clipping.
//
// Optimisers take the parameter Vars themselves (nn.Params gives them in
// state_dict order) and skip any whose gradient is nil, as PyTorch does.
package optim
