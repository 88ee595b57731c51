// Package layering holds no code: its test is the project's import rule,
// that every package imports only packages of lower layers (see
// docs/architecture.md).
package layering
