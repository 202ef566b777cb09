//! How the C allocator treats large blocks in a long-running server: the
//! one allocator setting the standard library does not wrap.
//!
//! glibc's `malloc` serves blocks of 128 KiB and more with their own
//! mappings, but raises that threshold each time such a block is freed,
//! after which blocks of the same size come from the heap, whose freed
//! pages stay resident. A tunnel allocates its large blocks (the splice
//! buffers) per connection, so after a burst of connections the process
//! would keep the burst's memory. Fixing the threshold keeps every large
//! block a mapping of its own, returned to the system when it is freed.
//! Elsewhere this does nothing.
#![allow(unsafe_code)]

/// The size from which `malloc` maps a block on its own: glibc's default
/// starting value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Makes blocks of at least 128 KiB mappings of their own for the rest of
/// the process, so that what a server's connections allocated goes back to
/// the system once they end. A hint: a refusal changes nothing else.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_blocks() {
    // SAFETY: mallopt takes two integers by value and only changes the
    // allocator's parameters, under the allocator's own lock; it touches no
    // memory of ours, and an unknown value is an error it returns.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Other allocators need no such setting.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_blocks() {}
