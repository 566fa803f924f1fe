package phys

import (
	"container/list"
	"sync"
)

// PageCache is a bounded LRU of decoded pages keyed by page frame number,
// so compressed pages are decompressed once. Safe for concurrent use.
type PageCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *cacheEntry
	index map[uint64]*list.Element
}

type cacheEntry struct {
	pfn  uint64
	data []byte
}

// NewPageCache returns a cache holding at most maxPages pages (at least 1).
func NewPageCache(maxPages int) *PageCache {
	if maxPages < 1 {
		maxPages = 1
	}
	return &PageCache{max: maxPages, order: list.New(), index: make(map[uint64]*list.Element)}
}

// Get returns the cached page for pfn. The slice must not be modified.
func (c *PageCache) Get(pfn uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.index[pfn]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).data, true
}

// Put stores a page; data must not be modified afterwards by the caller.
func (c *PageCache) Put(pfn uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[pfn]; ok {
		el.Value.(*cacheEntry).data = data
		c.order.MoveToFront(el)
		return
	}
	c.index[pfn] = c.order.PushFront(&cacheEntry{pfn: pfn, data: data})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.index, last.Value.(*cacheEntry).pfn)
	}
}

// Len is the number of cached pages.
func (c *PageCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
