//! Giving a long-running server's freed memory back to the operating
//! system: the one allocator call the standard library does not wrap.
//!
//! glibc's `malloc` keeps freed heap memory for reuse. A tunnel allocates
//! its buffers per connection, so after a burst of connections the freed
//! pages of the burst would stay resident, scattered among live blocks.
//! [`Trimmer`] asks `malloc_trim` to return every free page a moment after
//! connections end: at most once per [`PAUSE`], so a busy server spends a
//! negligible share of its time on it, and never while data flows through
//! a lone connection (its blocks are reused at full speed). Elsewhere this
//! does nothing.
#![allow(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long after a connection ends the trim runs; ends in between share it.
const PAUSE: Duration = Duration::from_secs(2);

/// Returns freed memory to the system a moment after connections end.
#[derive(Clone, Default)]
pub struct Trimmer {
    pending: Arc<AtomicBool>,
}

impl Trimmer {
    /// A connection ended: trims after [`PAUSE`] unless a trim is already
    /// due. Needs a tokio runtime.
    pub fn connection_ended(&self) {
        if self.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let pending = self.pending.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PAUSE).await;
            pending.store(false, Ordering::Release);
            trim();
        });
    }
}

/// Returns every free page of the heap to the system. A hint.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim takes an integer by value and works under the
    // allocator's own locks on its own free lists; it touches no block in
    // use and no memory of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return memory on their own terms.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
