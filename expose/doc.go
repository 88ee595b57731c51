// Package expose edits a suspect model, using only clean defense data, so
// that its backdoor shows: "Expose Before You Defend" (EBYD).
package expose
