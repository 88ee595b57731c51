// Package benchdoc writes the generated sections of the project's
// benchmark documents (docs/attacks.md, docs/detection.md,
// docs/removal.md) from the folders the benchmarks of package run leave:
// Markdown tables, and the true and recovered triggers as pictures beside
// the document. Text outside a generated section is kept (report.Splice).
package benchdoc
