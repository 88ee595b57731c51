package models

import (
	"math/rand/v2"

	ag "ebyd/autograd"
	"ebyd/nn"
)

// MNISTNet is the PyTorch examples MNIST network: two 3×3 convolutions, max
// pooling, dropout and two dense layers.
type MNISTNet struct {
	nn.Base
	Conv1, Conv2       *nn.Conv2d
	Dropout1, Dropout2 *nn.Dropout
	FC1, FC2           *nn.Linear
}

func init() {
	register(Spec{Name: "mnistnet", DefaultWidth: 32, Sizes: atLeast(6), build: newMNISTNet, params: mnistnetParams})
}

func newMNISTNet(c Config, r *rand.Rand) nn.Module {
	w := c.Width
	m := &MNISTNet{}
	m.Conv1 = nn.AddChild(&m.Base, "conv1", nn.NewConv2d(c.InChannels, w, 3, ag.ConvOpts{}, true, r))
	m.Conv2 = nn.AddChild(&m.Base, "conv2", nn.NewConv2d(w, 2*w, 3, ag.ConvOpts{}, true, r))
	m.Dropout1 = nn.AddChild(&m.Base, "dropout1", nn.NewDropout(0.25, c.Seed, 1))
	m.Dropout2 = nn.AddChild(&m.Base, "dropout2", nn.NewDropout(0.5, c.Seed, 2))
	side := (c.InputSize - 4) / 2
	m.FC1 = nn.AddChild(&m.Base, "fc1", nn.NewLinear(2*w*side*side, 4*w, true, r))
	m.FC2 = nn.AddChild(&m.Base, "fc2", nn.NewLinear(4*w, c.NumClasses, true, r))
	return m
}

func (m *MNISTNet) Forward(x *ag.Var) *ag.Var {
	x = ag.ReLU(m.Conv1.Forward(x))
	x = ag.ReLU(m.Conv2.Forward(x))
	x = m.Dropout1.Forward(ag.MaxPool2d(x, 2, 2, 0))
	x = ag.ReLU(m.FC1.Forward(ag.Flatten(x)))
	return m.Out(m.FC2.Forward(m.Dropout2.Forward(x)))
}
