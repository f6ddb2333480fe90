//! The global allocator of the example binaries: mimalloc, asked for
//! aligned blocks only when an alignment needs it.
//!
//! mimalloc's own `GlobalAlloc` passes every request to
//! `mi_malloc_aligned`. In mimalloc 3 that call is as fast as `mi_malloc`
//! only while the size class's free list has a block; when the list must
//! be refilled, a size that is not a power of two is served by
//! over-allocation (a block of `size + align - 1` from a larger class,
//! then an offset into it): about a quarter of a SIP call's allocations
//! went that way (`bench/callgrind.sh`: 33 of 118 a call, ~10k
//! instructions), and each such block wastes the difference.
//!
//! Any block `mi_malloc` returns is aligned to 16 bytes when its size is a
//! multiple of 16, and to 8 otherwise (mimalloc's size classes; the same
//! guarantee C's `malloc` gives). A Rust layout's size is a multiple of its
//! alignment, so an alignment of at most 16 that is not above the size is
//! met by `mi_malloc`: the rule the standard library's `System` allocator
//! applies to the C allocator.

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// mimalloc as the global allocator (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct MiAlloc;

/// The largest alignment every `mi_malloc` block of at least that size
/// has (mimalloc's `MI_MAX_ALIGN_SIZE`).
const MALLOC_ALIGN: usize = 16;

/// Whether a block of `size` bytes from `mi_malloc` meets `align`.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

// SAFETY: every block comes from mimalloc and goes back to it (`mi_free`
// takes blocks from either the plain or the aligned calls); the plain calls
// are used only where their alignment meets the layout's (see `plain`).
unsafe impl GlobalAlloc for MiAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation calls have no preconditions.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from mimalloc; the plain call only where its
        // alignment meets the layout's for the new size.
        unsafe {
            if plain(layout.align(), new_size) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout up to a few KiB, at each alignment up to a page: the
    /// block is aligned, writable end to end, and survives growing and
    /// shrinking with its contents.
    #[test]
    fn blocks_meet_their_alignment_through_realloc() {
        let a = MiAlloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in (align..=4096).step_by(align.max(8)) {
                let layout = Layout::from_size_align(size, align).unwrap();
                for zeroed in [false, true] {
                    // SAFETY: a valid layout of non-zero size; the block is
                    // written within its size and freed once.
                    unsafe {
                        let p = if zeroed {
                            a.alloc_zeroed(layout)
                        } else {
                            a.alloc(layout)
                        };
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "size {size} align {align}");
                        if zeroed {
                            assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                        }
                        std::ptr::write_bytes(p, 0xa5, size);
                        let bigger = size * 3;
                        let q = a.realloc(p, layout, bigger);
                        assert_eq!(q as usize % align, 0, "grown {size} align {align}");
                        assert!(
                            std::slice::from_raw_parts(q, size)
                                .iter()
                                .all(|&b| b == 0xa5)
                        );
                        let smaller = align;
                        let r =
                            a.realloc(q, Layout::from_size_align(bigger, align).unwrap(), smaller);
                        assert_eq!(r as usize % align, 0, "shrunk {size} align {align}");
                        assert!(
                            std::slice::from_raw_parts(r, smaller)
                                .iter()
                                .all(|&b| b == 0xa5)
                        );
                        a.dealloc(r, Layout::from_size_align(smaller, align).unwrap());
                    }
                }
            }
        }
    }
}
