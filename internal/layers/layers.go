// Package layers holds the test that keeps docs/ARCHITECTURE.md's package
// table and the real import graph in agreement.
package layers
