// Package atomicfile writes files so that readers only ever see the old
// content or the complete new content, never a half-written file.
//
// Run folders (manifests, weights, traces) are read by later stages and by
// people while a stage may crash or be interrupted; writing to a temporary
// file in the same directory, syncing it and renaming it over the target
// makes each write all-or-nothing on POSIX file systems.
package atomicfile
