//! The global allocator of the broker's binaries: mimalloc, through a shim that asks for an
//! aligned block only when a layout needs more alignment than every mimalloc block has.
//!
//! `mimalloc::MiMalloc` sends every allocation through `mi_malloc_aligned`. Its fast path covers
//! blocks up to 1 KiB, so each larger block (request futures and I/O buffers, about 16 per invoke)
//! took a generic detour; under callgrind the shim saves ~1 600 instructions per invoke. The
//! wrapper crate has an open pull request making the same dispatch (purpleprotocol/mimalloc_rust#170).
//!
//! This is the only crate of the broker with `unsafe` code; the library forbids it.

#![no_std]

use core::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc, mi_zalloc_aligned,
};

/// The alignment every block from `mi_malloc` has: block sizes are multiples of a word, and a
/// page's first block is aligned to 16 bytes.
const WORD: usize = core::mem::size_of::<usize>();

/// mimalloc as the global allocator. Install with
/// `#[global_allocator] static ALLOCATOR: Mimalloc = Mimalloc;`.
pub struct Mimalloc;

// SAFETY: each method hands the layout to mimalloc's matching function: the plain one when the
// layout's alignment is at most `WORD`, which every block has, else the aligned one with the
// layout's alignment. A layout's alignment is the same when its block is reallocated or freed, and
// `mi_free` frees blocks from either.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi_malloc(layout.size()).cast()
        } else {
            mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi_zalloc(layout.size()).cast()
        } else {
            mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi_free(ptr.cast());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= WORD {
            mi_realloc(ptr.cast(), new_size).cast()
        } else {
            mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::{GlobalAlloc, Layout};

    use super::Mimalloc;

    /// Every size up to a few pages with every alignment up to 4 KiB: blocks are aligned, hold
    /// their bytes, keep them when grown, and zeroed ones start zeroed.
    #[test]
    fn blocks_are_aligned_hold_their_bytes_and_keep_them_when_grown() {
        let sizes = (1..=96).chain([127, 128, 129, 1000, 1024, 1025, 4096, 70_000]);
        for size in sizes {
            for align in (0..=12).map(|shift| 1usize << shift) {
                let layout = Layout::from_size_align(size, align).expect("layout");
                // SAFETY: the layouts have non-zero sizes; each block is used within its size and
                // freed once, with its layout.
                unsafe {
                    let zeroed = Mimalloc.alloc_zeroed(layout);
                    assert!(!zeroed.is_null() && zeroed as usize % align == 0, "{size}/{align} zeroed");
                    assert!((0..size).all(|i| *zeroed.add(i) == 0), "{size}/{align} starts zeroed");
                    Mimalloc.dealloc(zeroed, layout);

                    let block = Mimalloc.alloc(layout);
                    assert!(!block.is_null() && block as usize % align == 0, "{size}/{align}");
                    for i in 0..size {
                        *block.add(i) = i as u8;
                    }
                    let grown = Mimalloc.realloc(block, layout, size * 3);
                    assert!(!grown.is_null() && grown as usize % align == 0, "{size}/{align} grown");
                    assert!((0..size).all(|i| *grown.add(i) == i as u8), "{size}/{align} kept its bytes");
                    Mimalloc.dealloc(grown, Layout::from_size_align(size * 3, align).expect("layout"));
                }
            }
        }
    }
}
