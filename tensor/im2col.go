package tensor

// ConvGeom describes a 2-D convolution window over one C×H×W image.
type ConvGeom struct {
	C, H, W int // input channels (of one group) and size
	KH, KW  int // kernel size
	SH, SW  int // stride
	PH, PW  int // zero padding
	OH, OW  int // output size, derived by Geometry
}

// Geometry fills in the output size and reports whether it is positive.
func (g *ConvGeom) Geometry() bool {
	g.OH = (g.H+2*g.PH-g.KH)/g.SH + 1
	g.OW = (g.W+2*g.PW-g.KW)/g.SW + 1
	return g.H+2*g.PH >= g.KH && g.W+2*g.PW >= g.KW && g.OH > 0 && g.OW > 0
}

// Im2Col unfolds one image x (C×H×W) into the columns of col: row
// (c·KH+i)·KW+j, column oh·OW+ow holds x[c, oh·SH−PH+i, ow·SW−PW+j] (0 outside).
// Rows of col are ld apart, so several images can sit side by side.
func Im2Col(g *ConvGeom, x, col []float32, ld int) {
	ohw := g.OH * g.OW
	r := 0
	for c := 0; c < g.C; c++ {
		plane := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				dst := col[r*ld : r*ld+ohw]
				r++
				for oh := 0; oh < g.OH; oh++ {
					ih := oh*g.SH - g.PH + i
					row := dst[oh*g.OW : (oh+1)*g.OW]
					if ih < 0 || ih >= g.H {
						clear(row)
						continue
					}
					src := plane[ih*g.W : (ih+1)*g.W]
					if g.SW == 1 {
						// Contiguous copy between the padded borders.
						off := j - g.PW
						lo, hi := max(0, -off), min(g.OW, g.W-off)
						if lo >= hi {
							clear(row)
							continue
						}
						clear(row[:lo])
						copy(row[lo:hi], src[lo+off:hi+off])
						clear(row[hi:])
						continue
					}
					for ow := range row {
						iw := ow*g.SW - g.PW + j
						if iw >= 0 && iw < g.W {
							row[ow] = src[iw]
						} else {
							row[ow] = 0
						}
					}
				}
			}
		}
	}
}

// Col2Im is the adjoint of Im2Col: it adds each column entry back into the
// image position it was read from.
func Col2Im(g *ConvGeom, col []float32, ld int, x []float32) {
	ohw := g.OH * g.OW
	r := 0
	for c := 0; c < g.C; c++ {
		plane := x[c*g.H*g.W : (c+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				src := col[r*ld : r*ld+ohw]
				r++
				for oh := 0; oh < g.OH; oh++ {
					ih := oh*g.SH - g.PH + i
					if ih < 0 || ih >= g.H {
						continue
					}
					row := src[oh*g.OW : (oh+1)*g.OW]
					dst := plane[ih*g.W : (ih+1)*g.W]
					if g.SW == 1 {
						off := j - g.PW
						lo, hi := max(0, -off), min(g.OW, g.W-off)
						if lo < hi {
							d := dst[lo+off : hi+off]
							s := row[lo:hi]
							for k := range d {
								d[k] += s[k]
							}
						}
						continue
					}
					for ow, v := range row {
						iw := ow*g.SW - g.PW + j
						if iw >= 0 && iw < g.W {
							dst[iw] += v
						}
					}
				}
			}
		}
	}
}
