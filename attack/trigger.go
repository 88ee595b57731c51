package attack

import (
	"encoding/json"
	"fmt"
	"slices"

	reg "ebyd/internal/registry"
)

// Shape is the size of the images a trigger is stamped on: H rows, W columns
// and C channels (1 for gray digits, 3 for RGB), stored HWC.
type Shape struct {
	H int `json:"h"`
	W int `json:"w"`
	C int `json:"c"`
}

// Size is the number of bytes of one image, H·W·C.
func (s Shape) Size() int { return s.H * s.W * s.C }

func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d", s.H, s.W, s.C) }

// Trigger stamps a backdoor trigger on images.
//
// A trigger's exported fields are its parameters: they are what run.json
// records, and decoding them again (New with the recorded JSON) rebuilds the
// identical trigger. Prepare checks them against the image shape and computes
// whatever Apply needs; New calls it.
type Trigger interface {
	// Prepare validates the parameters for images of shape s and precomputes
	// the trigger (patterns, warping fields) from them.
	Prepare(s Shape) error
	// Apply stamps the trigger on img, one s.H×s.W×s.C uint8 image in HWC
	// order (before normalisation), in place. It must be deterministic:
	// the same image gives the same bytes every time.
	Apply(img []uint8)
}

// registry holds the attacks by name, each with its default parameters.
var registry = reg.New[Trigger]("attack", nil)

func register(name string, f func() Trigger) { registry.Add(name, f) }

// Names lists the registered attacks, sorted.
func Names() []string { return registry.Names() }

// New returns the named trigger for images of shape s. params, when not
// empty, is a JSON object overriding some of the attack's default parameters
// (the names are the JSON keys of the attack's type, e.g. {"alpha": 0.1});
// unknown keys are errors, so a typo is never silently ignored.
func New(name string, s Shape, params json.RawMessage) (Trigger, error) {
	if s.H < 1 || s.W < 1 || (s.C != 1 && s.C != 3) {
		return nil, fmt.Errorf("attack %s: images of shape %v; want H, W ≥ 1 and 1 or 3 channels", name, s)
	}
	t, err := registry.Make(name, params)
	if err != nil {
		return nil, err
	}
	if err := t.Prepare(s); err != nil {
		return nil, fmt.Errorf("attack %s: %w", name, err)
	}
	return t, nil
}

// Params returns t's parameters as JSON, the form New reads back.
func Params(t Trigger) json.RawMessage { return registry.Params(t) }

// Image is a picture supplied by the user (a trigger pattern or mask), kept
// with its pixels so that run.json alone reproduces the trigger: Pix encodes
// as base64 in JSON.
type Image struct {
	H   int     `json:"h"`
	W   int     `json:"w"`
	C   int     `json:"c"`
	Pix []uint8 `json:"pix"` // H×W×C, HWC order
}

// fit checks that im can be stamped on images of shape s: the same height and
// width, and 1 channel or s.C channels. It returns the pixel of channel c at
// offset p (= y·W+x), broadcasting a one-channel image over the channels.
func (im *Image) fit(what string, s Shape) (func(p, c int) uint8, error) {
	switch {
	case im == nil:
		return nil, fmt.Errorf("no %s image given", what)
	case im.H != s.H || im.W != s.W:
		return nil, fmt.Errorf("the %s image is %d×%d but the dataset's images are %d×%d; give a %d×%d image",
			what, im.H, im.W, s.H, s.W, s.H, s.W)
	case im.C != 1 && im.C != s.C:
		return nil, fmt.Errorf("the %s image has %d channels but the dataset's images have %d", what, im.C, s.C)
	case len(im.Pix) != im.H*im.W*im.C:
		return nil, fmt.Errorf("the %s image holds %d bytes, want %d×%d×%d", what, len(im.Pix), im.H, im.W, im.C)
	}
	pix, c1 := im.Pix, im.C == 1
	return func(p, c int) uint8 {
		if c1 {
			return pix[p]
		}
		return pix[p*s.C+c]
	}, nil
}

// Clone returns a deep copy of im.
func (im *Image) Clone() *Image {
	if im == nil {
		return nil
	}
	c := *im
	c.Pix = slices.Clone(im.Pix)
	return &c
}
