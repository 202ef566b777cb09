//! Starting a received file's writeback early: the one call into the
//! operating system that the standard library does not wrap.
//!
//! Owns one of the crate's two `unsafe` blocks (`sync_file_range`, whose safety
//! rests on borrowing the open `File` for the call). Must never do anything
//! else, nor report failures: it is a hint.
#![allow(unsafe_code)]

use std::fs::File;

/// Starts writing `file[offset..offset + len]` to disk without waiting for
/// it, so that the fsync before the rename has little left to do. A hint:
/// failures show up in that fsync.
#[cfg(target_os = "linux")]
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    if let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) {
        // SAFETY: sync_file_range takes a descriptor and two integers by
        // value and touches none of this process's memory; the descriptor
        // is open for as long as `file` is borrowed, and a bad range is an
        // error it returns (ignored: this is a hint), not undefined
        // behaviour.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
}

/// Elsewhere the fsync before the rename does all the writeback.
#[cfg(not(target_os = "linux"))]
pub fn start_writeback(_: &File, _: u64, _: u64) {}
