//! `GuardedAllocator`: a global allocator that keeps a lying array count on the wire from
//! aborting the process.
//!
//! The kafka-protocol crate decodes an array by first doing `Vec::with_capacity(count)` with the
//! count read from the wire. A request of a few bytes can claim 2^31 elements of ~100 bytes,
//! and the system allocator fails such a request, which aborts the whole process
//! (`handle_alloc_error`), taking every other connection with it. Capping frame sizes does not
//! help: the count costs four bytes.
//!
//! This wrapper serves every allocation of at least [`LARGE_ALLOCATION`] bytes with an
//! anonymous `mmap` using `MAP_NORESERVE`: the kernel hands out address space but commits a
//! page only when it is first touched. The lying decode then touches at most the first page,
//! fails on the next short read, and drops the buffer (`munmap`), so the request costs nothing
//! and the connection is closed with a log line. Honest large buffers work as before: pages are
//! committed as they are written. Everything smaller goes to the system allocator untouched.
//!
//! Install it with `#[global_allocator] static A: GuardedAllocator = GuardedAllocator;` in the
//! binary (and in any test or fuzz binary that decodes untrusted input).

// Implementing `GlobalAlloc` and calling mmap/munmap can only be done with `unsafe`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// Allocations of this many bytes or more are served by `mmap(MAP_NORESERVE)`.
pub const LARGE_ALLOCATION: usize = 1 << 30;

/// mmap returns page-aligned memory; larger alignments (never asked for in practice) fall back
/// to the system allocator.
const PAGE: usize = 4096;

/// The global allocator guard described in the module docs.
///
/// Thread-safety: stateless; every method may be called from any thread at once, as
/// `GlobalAlloc` requires (mmap and the system allocator are thread-safe).
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedAllocator;

/// True when `layout` is served by mmap rather than the system allocator. The choice depends
/// only on the layout, so `dealloc` always finds the right path.
fn is_mapped(layout: Layout) -> bool {
    layout.size() >= LARGE_ALLOCATION && layout.align() <= PAGE
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
    // existing memory; the result is checked for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

// SAFETY: every block comes either from `System` or from a fresh anonymous mapping of at least
// the requested size, page-aligned (only layouts with align <= PAGE are mapped), and each block
// is returned to the allocator that made it, chosen by the same layout test.
unsafe impl GlobalAlloc for GuardedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_mapped(layout) {
            map(layout.size())
        } else {
            // SAFETY: forwarded with the caller's guarantees (non-zero size layout).
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_mapped(layout) {
            // Anonymous mappings are zero-filled by the kernel.
            map(layout.size())
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_mapped(layout) {
            // SAFETY: `ptr` came from `map(layout.size())` (same layout => same path), and the
            // caller gives up the block. munmap only fails on invalid arguments.
            unsafe {
                libc::munmap(ptr.cast(), layout.size());
            }
        } else {
            // SAFETY: `ptr` came from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        if !is_mapped(layout) && !is_mapped(new_layout) {
            // SAFETY: both layouts belong to `System`; forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // Crossing between the two allocators, or resizing a mapping: allocate, copy, free.
        // SAFETY: `new_layout` has a non-zero size (the caller guarantees new_size > 0).
        let new_ptr = unsafe { self.alloc(new_layout) };
        if !new_ptr.is_null() {
            // SAFETY: both blocks are valid for min(old, new) bytes and do not overlap (the new
            // one was just allocated); the old one is freed with its own layout.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_ptr
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use super::*;

    #[test]
    fn large_blocks_are_mapped_lazily_and_round_trip() {
        let a = GuardedAllocator;
        // 64 GiB of address space: far more than the test machine's memory, so this only works
        // if nothing is committed up front.
        let layout = Layout::from_size_align(64 << 30, 8).unwrap();
        // SAFETY: each pointer is checked non-null before use, accessed only within its
        // block's size, and freed once with the layout it was (re)allocated with.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            *p = 7;
            *p.add((64 << 30) - 1) = 9;
            let q = a.realloc(p, layout, 16);
            assert!(!q.is_null());
            assert_eq!(*q, 7);
            let small = Layout::from_size_align(16, 8).unwrap();
            let r = a.realloc(q, small, LARGE_ALLOCATION);
            assert!(!r.is_null());
            assert_eq!(*r, 7);
            a.dealloc(r, Layout::from_size_align(LARGE_ALLOCATION, 8).unwrap());
        }
    }

    #[test]
    fn small_blocks_use_the_system_allocator() {
        let a = GuardedAllocator;
        let layout = Layout::from_size_align(100, 16).unwrap();
        // SAFETY: the block is checked non-null, read within its 100 bytes, freed once.
        unsafe {
            let p = a.alloc_zeroed(layout);
            assert!(!p.is_null());
            assert_eq!(*p.add(99), 0);
            a.dealloc(p, layout);
        }
        assert!(!is_mapped(layout));
        assert!(is_mapped(
            Layout::from_size_align(LARGE_ALLOCATION, 8).unwrap()
        ));
    }
}
