package main

import "errors"

// demoDump extracts the small dump embedded in the binary and returns its
// path and a function that removes it. The embedded dump is not built yet.
func demoDump() (path string, cleanup func(), err error) {
	return "", func() {}, errors.New("demo dump not built yet")
}
