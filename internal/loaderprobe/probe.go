// Package loaderprobe lets the module's tests see what a loader holds
// open (instances, plugin runtimes) to check that nothing leaks, without
// package loader exporting counters that only tests read. Package loader
// sets the functions when it is initialized; they take a *loader.Loader.
package loaderprobe

var (
	liveInstances func(loader any) int64
	openPlugins   func(loader any) int64
)

// Set is called by package loader, once, with its counters.
func Set(live, open func(loader any) int64) { liveInstances, openPlugins = live, open }

// LiveInstances counts the instances alive in every plugin the loader
// loaded, including versions replaced but still draining.
func LiveInstances(loader any) int64 { return liveInstances(loader) }

// OpenPlugins counts the plugins (versions) the loader loaded whose
// runtime is still open: a plugin's runtime closes after its Close, once
// its last instance is gone.
func OpenPlugins(loader any) int64 { return openPlugins(loader) }
