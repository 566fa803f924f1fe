package tui

import "github.com/panicscope/panicscope/views"

// newChains: the notifier chains in call order, marked with what ran.
func newChains(c *common) Page {
	return &docPage{c: c, title: "Chains", lines: views.ChainsLines}
}
