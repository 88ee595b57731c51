package models

import (
	"fmt"

	"ebyd/internal/memlimit"
)

// The parameter count of each architecture, computed from its definition
// without building it (TestParamCount checks each against a built network),
// so that a width or a file's shapes can be refused before gigabytes are
// allocated. Counts are float64: a hostile width can pass int64.

func convParams(in, out, k, groups int, bias bool) float64 {
	n := float64(out) * float64(in/max(groups, 1)) * float64(k) * float64(k)
	if bias {
		n += float64(out)
	}
	return n
}

func linearParams(in float64, out int) float64 { return in*float64(out) + float64(out) }

func bnParams(c int) float64 { return 2 * float64(c) }

func mnistnetParams(c Config) float64 {
	w, side := c.Width, (c.InputSize-4)/2
	return convParams(c.InChannels, w, 3, 1, true) + convParams(w, 2*w, 3, 1, true) +
		linearParams(float64(2*w)*float64(side)*float64(side), 4*w) + linearParams(float64(4*w), c.NumClasses)
}

// resnetParams counts resnet18 (pre: false) and preactresnet18 (pre: true).
func resnetParams(c Config, pre bool) float64 {
	return resnetStemParams(c, pre, 3)
}

// tvResnetParams counts resnet18-tv: resnet18 with a 7×7 stem.
func tvResnetParams(c Config) float64 { return resnetStemParams(c, false, 7) }

func resnetStemParams(c Config, pre bool, stem int) float64 {
	w := c.Width
	n := convParams(c.InChannels, w, stem, 1, false)
	if !pre {
		n += bnParams(w)
	}
	in := w
	for s := range 4 {
		planes := w << s
		for i := range 2 {
			proj := (s > 0 && i == 0) || in != planes
			n += convParams(in, planes, 3, 1, false) + convParams(planes, planes, 3, 1, false) + bnParams(planes)
			if pre {
				n += bnParams(in)
			} else {
				n += bnParams(planes)
			}
			if proj {
				n += convParams(in, planes, 1, 1, false)
				if !pre {
					n += bnParams(planes)
				}
			}
			in = planes
		}
	}
	if pre && !c.NoFinalBN {
		n += bnParams(8 * w)
	}
	return n + linearParams(float64(8*w), c.NumClasses)
}

func vgg16Params(c Config) float64 {
	var n float64
	in := c.InChannels
	for _, v := range vgg16Cfg {
		if v == 0 {
			continue
		}
		out := v * c.Width / 64
		n += convParams(in, out, 3, 1, true) + bnParams(out)
		in = out
	}
	side := c.InputSize / 32
	return n + linearParams(float64(in)*float64(side)*float64(side), c.NumClasses)
}

func mobilenetv2Params(c Config) float64 {
	w := c.Width
	n := convParams(c.InChannels, w, 3, 1, false) + bnParams(w)
	in := w
	for _, row := range mobileCfg {
		exp, out, blocks, stride := row[0], row[1]*w/32, row[2], row[3]
		for i := range blocks {
			if i > 0 {
				stride = 1
			}
			planes := exp * in
			n += convParams(in, planes, 1, 1, false) + bnParams(planes) +
				convParams(planes, planes, 3, planes, false) + bnParams(planes) +
				convParams(planes, out, 1, 1, false) + bnParams(out)
			if stride == 1 && in != out {
				n += convParams(in, out, 1, 1, false) + bnParams(out)
			}
			in = out
		}
	}
	return n + convParams(in, 40*w, 1, 1, false) + bnParams(40*w) + linearParams(float64(40*w), c.NumClasses)
}

// ParamCount is the number of trainable parameters of architecture name
// built with c (Width 0: the default), computed without building it.
func ParamCount(name string, c Config) (float64, error) {
	s, err := Lookup(name)
	if err != nil {
		return 0, err
	}
	if c.Width == 0 {
		c.Width = s.DefaultWidth
	}
	return s.params(c), nil
}

// maxDim bounds the width, input channels, classes and input size, so that
// the int channel counts the builders and the counts above derive (at most
// a few hundred times one of them) cannot overflow. Any network near it is
// refused by the memory limit anyway.
const maxDim = 1 << 40

// checkSize refuses a network whose parameters, as float32, pass the
// memory limit (internal/memlimit), before anything is allocated.
func checkSize(s Spec, c Config) error {
	if c.Width > maxDim || c.InChannels > maxDim || c.NumClasses > maxDim || c.InputSize > maxDim {
		return fmt.Errorf("models: %s: width %d, %d input channels, %d classes, input size %d: over the largest size %d",
			s.Name, c.Width, c.InChannels, c.NumClasses, c.InputSize, int64(maxDim))
	}
	return memlimit.Check(fmt.Sprintf("model %s at width %d", s.Name, c.Width), "of parameters (float32)", 4*s.params(c))
}
