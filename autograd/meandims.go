package autograd

// MeanDims averages x over the given dims, as x.mean(dims, keepdim=keep) in
// PyTorch (see SumDims for the dims and keep conventions; a dim of size 0
// gives NaN).
func MeanDims(x *Var, dims []int, keep bool) *Var {
	return sumDims("MeanDims", x, dims, keep, true)
}
