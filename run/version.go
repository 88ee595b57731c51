package run

import (
	"runtime"
	"runtime/debug"

	"ebyd/internal/blas"
	"ebyd/internal/dnnl"
)

// convBackend names what runs the convolutions.
func convBackend() string {
	if dnnl.Available {
		return "onednn"
	}
	return "im2col"
}

// Version is ebyd's release, recorded in every manifest.
const Version = "0.1.0-dev"

// Engine describes what computed a result, for manifests and benchmarks:
// speed and the last bits of floating-point results depend on it.
type Engine struct {
	BLAS       string `json:"blas"`
	Conv       string `json:"conv"` // onednn, or im2col (im2col + BLAS)
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Revision   string `json:"revision,omitempty"` // VCS revision when the binary was built with one
}

// CurrentEngine describes this process.
func CurrentEngine() Engine {
	e := Engine{
		BLAS:       blas.Backend,
		Conv:       convBackend(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				e.Revision = s.Value
			}
		}
	}
	return e
}
