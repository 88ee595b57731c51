package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"ebyd/attack"
)

// triggerFlags are the flags that choose and parameterise a trigger, shared
// by train and eval.
type triggerFlags struct {
	attack  string
	params  []string
	alpha   float64
	pattern string
	mask    string
}

func (tf *triggerFlags) register(f *pflag.FlagSet, what string) {
	f.StringVar(&tf.attack, "attack", "", what+": "+strings.Join(attack.Names(), ", "))
	f.StringArrayVar(&tf.params, "trigger-param", nil, "set a trigger parameter, NAME=VALUE (repeatable), e.g. --trigger-param k=4 --trigger-param s=0.5 for wanet; run.json lists every parameter of an attack")
	f.Float64Var(&tf.alpha, "alpha", 0, "blend weight of the trigger (blend, patch; 0: the attack's default)")
	f.StringVar(&tf.pattern, "trigger-pattern", "", "PNG/JPEG trigger image of the dataset's size (patch, blend); implies --attack patch when no attack is named")
	f.StringVar(&tf.mask, "trigger-mask", "", "PNG/JPEG mask for --trigger-pattern: 255 stamps the pattern, 0 keeps the image (patch)")
}

// name is the chosen attack: a pattern without --attack means a patch.
func (tf *triggerFlags) name() string {
	if tf.attack == "" && tf.pattern != "" {
		return "patch"
	}
	return tf.attack
}

// json builds the trigger parameters the flags give (nil for none).
func (tf *triggerFlags) json() (json.RawMessage, error) {
	if tf.attack == "" && tf.pattern == "" && (len(tf.params) > 0 || tf.alpha != 0 || tf.mask != "") {
		return nil, usageError{fmt.Errorf("--trigger-param, --alpha and --trigger-mask need --attack or --trigger-pattern")}
	}
	p := map[string]any{}
	for _, kv := range tf.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--trigger-param %q: want NAME=VALUE", kv)}
		}
		var val any = v
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			val = f
		} else if b, err := strconv.ParseBool(v); err == nil {
			val = b
		}
		p[k] = val
	}
	if tf.alpha != 0 {
		p["alpha"] = tf.alpha
	}
	for key, path := range map[string]string{"pattern": tf.pattern, "mask": tf.mask} {
		if path == "" {
			continue
		}
		im, err := attack.ReadImage(path)
		if err != nil {
			return nil, fmt.Errorf("--trigger-%s: %w", key, err)
		}
		p[key] = im
	}
	if len(p) == 0 {
		return nil, nil
	}
	return json.Marshal(p)
}
