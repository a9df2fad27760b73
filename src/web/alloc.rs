//! A small allocator for the wasm bundle (dlmalloc, Rust's default, costs ~7 KB of code).
//!
//! Simple segregated storage: every request is rounded up to a power of two (16 B to 2 GiB), and
//! freed blocks go to the free list of their class for reuse. Memory only grows (as dlmalloc's
//! does in practice on wasm); the SDK's working set is small and repetitive (requests, markup),
//! so classes are reused rather than accumulated. Single-threaded, like the SDK.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;

const MIN_CLASS: u32 = 4; // 16 bytes
const CLASSES: usize = 32;
const PAGE: usize = 65536;

/// The allocator (installed as `#[global_allocator]` for wasm32).
pub struct Allocator(UnsafeCell<State>);

struct State {
    /// Head of each class's free list (0: empty); the first word of a free block links the next.
    free: [usize; CLASSES],
    /// Unused bytes at the end of memory: `[next, end)`.
    next: usize,
    end: usize,
}

// SAFETY: wasm32 without threads runs one thread; the SDK is never built with atomics.
unsafe impl Sync for Allocator {}

impl Allocator {
    /// An empty allocator.
    pub const fn new() -> Allocator {
        Allocator(UnsafeCell::new(State { free: [0; CLASSES], next: 0, end: 0 }))
    }
}

impl Default for Allocator {
    fn default() -> Self {
        Allocator::new()
    }
}

fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    let bits = usize::BITS - (size - 1).leading_zeros();
    let index = (bits - MIN_CLASS) as usize;
    (index < CLASSES).then_some(index)
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(index) = class(layout) else { return std::ptr::null_mut() };
        // SAFETY: single-threaded (see `Sync`), and no allocation happens while borrowed.
        let state = unsafe { &mut *self.0.get() };
        let head = state.free[index];
        if head != 0 {
            // SAFETY: `head` is a block of this class we handed out and got back; its first
            // word holds the next free block.
            state.free[index] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << (index as u32 + MIN_CLASS);
        // Blocks are aligned to their size up to a page (a class is at least its layout's
        // alignment), so the padding is always under a page.
        let align = size.min(PAGE);
        let mut start = (state.next + align - 1) & !(align - 1);
        if start + size > state.end || state.end == 0 {
            let pages = size.div_ceil(PAGE) + 1;
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous == usize::MAX {
                return std::ptr::null_mut();
            }
            let base = previous * PAGE;
            if state.end != base {
                state.next = base;
            }
            state.end = base + pages * PAGE;
            start = (state.next + align - 1) & !(align - 1);
        }
        state.next = start + size;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(index) = class(layout) else { return };
        // SAFETY: as in `alloc`; `ptr` is a block of this class, at least a word long.
        let state = unsafe { &mut *self.0.get() };
        unsafe { *(ptr as *mut usize) = state.free[index] };
        state.free[index] = ptr as usize;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if class(layout) == class(new_layout) {
            return ptr;
        }
        // SAFETY: the caller guarantees `ptr` / `layout` describe a live block.
        unsafe {
            let fresh = self.alloc(new_layout);
            if !fresh.is_null() {
                std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            fresh
        }
    }
}
