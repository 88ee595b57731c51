// Package nn provides the layers networks are built from, with parameters and
// buffers named as in PyTorch's state_dict, train/eval modes and output hooks.
//
// Every layer embeds Base, which records its parameters, buffers and children
// in order. Build names a tree (paths like "layer1.0.bn1"), after which
// StateDict, LoadStateDict, Params and SetHook address any part of it by the
// same names PyTorch uses, so weights move between the two unchanged.
//
// A hook reads or replaces the output of a named module: activation
// statistics, channel masks on models without BatchNorm, attention maps. Each
// module's Forward ends with Base.Out, which applies the hook if one is set.
package nn
