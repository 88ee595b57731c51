package vec

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkChBNGrad(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n, ch, hw = 32, 64, 1024
	x, g, y := randSlice(r, n*ch*hw), randSlice(r, n*ch*hw), randSlice(r, n*ch*hw)
	ReLU(y, y)
	dst := make([]float32, len(x))
	for _, masked := range []bool{false, true} {
		var m []float32
		name := "plain"
		if masked {
			m, name = y, "masked"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for c := 0; c < ch; c++ {
					cc := Channel{Off: c * hw, N: n, Stride: ch * hw, HW: hw}
					ChBNGrad(dst, g, m, x, cc, 0.1, 1, 1, 0.1, 0.1)
					ChDotDev(g, m, x, cc, 0.1)
				}
			}
		})
	}
}
