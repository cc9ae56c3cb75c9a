//! A bump allocator for wasm32: every call runs in a fresh instance that is thrown away
//! afterwards, so freeing memory is pointless, and an allocator that never looks back is
//! smaller than dlmalloc (less code to compile at upload) and touches fewer pages (faster
//! instantiation).
//!
//! On `wasm32-unknown-unknown` it starts at `__heap_base` (the end of the data), so a small
//! call fits in the module's initial memory and never grows it. On `wasm32-wasip2` that
//! space belongs to wasi-libc's malloc, so it takes memory only from `memory.grow` (a grown
//! region that is not contiguous with ours is simply started afresh).
#![allow(unsafe_code)] // `GlobalAlloc` is an unsafe trait; the reasoning is inline.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const PAGE: usize = 65_536;

/// Hands out memory in increasing addresses and only takes back the latest block.
pub(crate) struct Bump {
    /// The first free byte; 0 until the first allocation.
    next: AtomicUsize,
    /// The end of the region this allocator owns.
    end: AtomicUsize,
}

impl Bump {
    pub(crate) const fn new() -> Self {
        Bump {
            next: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
        }
    }

    /// Returns the address of a block for `layout`, or `None` when memory cannot grow.
    fn take(&self, layout: Layout) -> Option<usize> {
        let (size, align) = (layout.size(), layout.align());
        let mut next = self.next.load(Relaxed);
        let mut end = self.end.load(Relaxed);
        if next == 0 {
            (next, end) = initial_region();
        }
        let mut start = next.checked_add(align - 1)? & !(align - 1);
        if next == 0 || start.checked_add(size)? > end {
            let pages = size.checked_add(align)?.div_ceil(PAGE).max(1);
            let old = wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return None;
            }
            let region = old.checked_mul(PAGE)?;
            if region != end || next == 0 {
                next = region;
            }
            end = region.checked_add(pages.checked_mul(PAGE)?)?;
            start = next.checked_add(align - 1)? & !(align - 1);
        }
        self.next.store(start + size, Relaxed);
        self.end.store(end, Relaxed);
        Some(start)
    }
}

/// Where the heap starts before any `memory.grow`: `(start, end)`, or `(0, 0)` for none.
#[cfg(target_os = "unknown")]
fn initial_region() -> (usize, usize) {
    unsafe extern "C" {
        /// Set by the linker to the first byte after the data and the stack.
        static __heap_base: u8;
    }
    let start = core::ptr::addr_of!(__heap_base).expose_provenance();
    (start, wasm32::memory_size(0) * PAGE)
}

#[cfg(not(target_os = "unknown"))]
fn initial_region() -> (usize, usize) {
    (0, 0)
}

// SAFETY: wasm32 without the atomics feature is single-threaded, blocks are handed out
// from disjoint address ranges that `memory.grow` gave us and nobody else uses, and every
// block is aligned as the layout asks.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.take(layout) {
            Some(addr) => ptr::with_exposed_provenance_mut(addr),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // Only the latest block can be given back (temporary strings, growing buffers).
        let addr = block.expose_provenance();
        if addr + layout.size() == self.next.load(Relaxed) {
            self.next.store(addr, Relaxed);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let addr = block.expose_provenance();
        let next = self.next.load(Relaxed);
        // The latest block grows (or shrinks) in place while the region has room: a
        // `Vec` or `String` being built costs no copies.
        if addr + layout.size() == next
            && let Some(new_end) = addr.checked_add(new_size)
            && new_end <= self.end.load(Relaxed)
        {
            self.next.store(new_end, Relaxed);
            return block;
        }
        if new_size <= layout.size() {
            return block;
        }
        // SAFETY: the caller guarantees `layout.align()` is a valid alignment and
        // `new_size`, rounded up to it, does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (it is larger than the old one).
        let new_block = unsafe { self.alloc(new_layout) };
        if !new_block.is_null() {
            // SAFETY: both blocks are valid for `layout.size()` bytes and do not overlap
            // (the new one lies past `next`).
            unsafe { ptr::copy_nonoverlapping(block, new_block, layout.size()) };
        }
        new_block
    }
}
