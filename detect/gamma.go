package detect

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// GammaFit is a Gamma distribution fitted to a sample: shape k, scale θ
// and location loc, density ∝ (x−loc)^(k−1)·e^(−(x−loc)/θ) for x > loc.
type GammaFit struct {
	Shape float64 `json:"shape"`
	Scale float64 `json:"scale"`
	Loc   float64 `json:"loc"`
}

// FitGamma fits a Gamma distribution to v by maximum likelihood with the
// location fixed: at 0 when every value is positive, otherwise at
// min(v) − sd(v) (population standard deviation), so that every value lies
// inside the support. The shape solves log k − ψ(k) = log mean(x) −
// mean(log x) (x = v − loc), found by bisection to machine precision, and
// the scale is mean(x)/k.
//
// scipy's gamma.fit, which the seed's MMBD calls, also estimates the
// location by maximum likelihood; with the nine or so values MMBD fits,
// that three-parameter likelihood is unbounded as the location approaches
// the smallest value for shapes below 1, so its answer depends on the
// optimiser's start. Fixing the location keeps the fit well defined.
//
// It needs at least 2 values that are not all equal.
func FitGamma(v []float64) (GammaFit, error) {
	if len(v) < 2 {
		return GammaFit{}, fmt.Errorf("gamma fit: need at least 2 values, got %d", len(v))
	}
	lo, mean := math.Inf(1), 0.0
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return GammaFit{}, fmt.Errorf("gamma fit: value %v", x)
		}
		lo = min(lo, x)
		mean += x
	}
	mean /= float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(len(v)))
	if sd == 0 || sd <= 1e-12*math.Abs(mean) {
		return GammaFit{}, fmt.Errorf("gamma fit: all %d values are equal (%g)", len(v), mean)
	}
	loc := 0.0
	if lo <= 0 {
		loc = lo - sd
	}
	var m, logm float64
	for _, x := range v {
		m += x - loc
		logm += math.Log(x - loc)
	}
	m /= float64(len(v))
	logm /= float64(len(v))
	s := math.Log(m) - logm // > 0 by Jensen, as the values differ
	if !(s > 0) {
		return GammaFit{}, fmt.Errorf("gamma fit: values too close together to fit (log-mean gap %g)", s)
	}
	f := func(k float64) float64 { return math.Log(k) - mathext.Digamma(k) - s } // decreasing in k
	k0 := (3 - s + math.Sqrt((s-3)*(s-3)+24*s)) / (12 * s)                       // Minka's start
	a, b := k0/2, k0*2
	for f(a) < 0 {
		a /= 2
	}
	for f(b) > 0 {
		b *= 2
	}
	for range 200 {
		mid := (a + b) / 2
		if mid == a || mid == b {
			break
		}
		if f(mid) > 0 {
			a = mid
		} else {
			b = mid
		}
	}
	k := (a + b) / 2
	return GammaFit{Shape: k, Scale: m / k, Loc: loc}, nil
}

// CDF is the fitted distribution function at x.
func (g GammaFit) CDF(x float64) float64 {
	return distuv.Gamma{Alpha: g.Shape, Beta: 1 / g.Scale}.CDF(x - g.Loc)
}

// Survival is 1 − CDF(x), computed without cancellation.
func (g GammaFit) Survival(x float64) float64 {
	return distuv.Gamma{Alpha: g.Shape, Beta: 1 / g.Scale}.Survival(x - g.Loc)
}

// MaxPValue is the probability that the largest of k draws from g is at
// least x: 1 − CDF(x)^k, as MMBD tests its largest statistic against the
// null fitted to the others.
func (g GammaFit) MaxPValue(x float64, k int) float64 {
	sf := g.Survival(x)
	if sf >= 1 {
		return 1
	}
	return -math.Expm1(float64(k) * math.Log1p(-sf))
}
