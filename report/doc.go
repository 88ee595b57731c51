// Package report turns results into things people read: Markdown tables,
// generated sections of committed documents, and pictures of images,
// triggers and masks as PNG files.
package report
