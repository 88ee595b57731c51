package attack

import "fmt"

// BadNets is the patch trigger of Gu, Dolan-Gavitt and Garg, "BadNets"
// (2017), as the EBYD seed draws it (gridTrigger): a 3×3 black-and-white
// checker in the bottom-right corner, the same value in every channel:
//
//	0   0   255
//	0   255 0
//	255 0   255
//
// on the last three rows and columns (rows 29–31, columns 29–31 of a 32×32
// image; 25–27 of a 28×28 one). Margin moves it up and left, away from the
// corner.
type BadNets struct {
	Margin int `json:"margin"` // pixels between the patch and the bottom and right edges
	s      Shape
}

func init() { register("badnets", func() Trigger { return new(BadNets) }) }

var badNetsGrid = [3][3]uint8{{0, 0, 255}, {0, 255, 0}, {255, 0, 255}}

// Prepare implements Trigger.
func (b *BadNets) Prepare(s Shape) error {
	if b.Margin < 0 || b.Margin+3 > s.H || b.Margin+3 > s.W {
		return fmt.Errorf("margin %d: a 3×3 patch does not fit a %d×%d image", b.Margin, s.H, s.W)
	}
	b.s = s
	return nil
}

// Apply implements Trigger.
func (b *BadNets) Apply(img []uint8) {
	stampGrid(img, b.s, b.s.H-3-b.Margin, b.s.W-3-b.Margin, false, func(_, g uint8) uint8 { return g })
}

// stampGrid draws badNetsGrid on img (shape s) with its top-left cell at row
// r0, column c0, mirrored left–right when mirror is set; cell gives the new
// value of a byte v under a checker cell of value g (0 or 255).
func stampGrid(img []uint8, s Shape, r0, c0 int, mirror bool, cell func(v, g uint8) uint8) {
	for i := range 3 {
		for j := range 3 {
			g := badNetsGrid[i][j]
			if mirror {
				g = badNetsGrid[i][2-j]
			}
			p := ((r0+i)*s.W + c0 + j) * s.C
			for c := range s.C {
				img[p+c] = cell(img[p+c], g)
			}
		}
	}
}
