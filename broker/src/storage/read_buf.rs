//! Positional reads into fresh, uninitialised buffers.
//!
//! `FileExt::read_exact_at` needs an initialised `&mut [u8]`, so every fetch used to zero its
//! buffer (a `memset` of up to `max_bytes`) only to overwrite it at once. Here `pread(2)` writes
//! straight into a `Vec`'s spare capacity and the length is raised only over bytes the kernel
//! reported as written.
//!
//! Thread-safety: stateless; `pread` never moves the file cursor, so any number of threads may
//! read one `File` at once.

// Handing uninitialised memory to `pread` needs a raw pointer and `Vec::set_len`; std offers no
// stable safe way to read into spare capacity at a position.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Reads exactly `len` bytes at `position` into a new buffer, without zeroing it first.
/// A file shorter than `position + len` gives `UnexpectedEof`, as `read_exact_at` does.
pub fn read_exact_at(file: &File, position: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    while buf.len() < len {
        let filled = buf.len();
        let offset = position
            .checked_add(filled as u64)
            .and_then(|o| libc::off_t::try_from(o).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))?;
        let spare = buf.spare_capacity_mut();
        let want = (len - filled).min(spare.len());
        // SAFETY: `spare` is valid writable memory of at least `want` bytes owned by `buf`, and
        // the descriptor is kept open by the borrowed `file` for the whole call. `pread` writes
        // at most `want` bytes there and does not read them.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast::<libc::c_void>(),
                want,
                offset,
            )
        };
        match n {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n if n < 0 => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
            n => {
                // `n` is positive here and at most `want` (pread never returns more).
                let n = usize::try_from(n).unwrap_or(0).min(want);
                // SAFETY: the kernel initialised the `n` bytes after `filled`, and
                // `filled + n <= len <= capacity`.
                unsafe { buf.set_len(filled + n) };
            }
        }
    }
    Ok(buf)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_ranges_and_reports_short_files() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&data).unwrap();
        assert_eq!(read_exact_at(&file, 0, 10_000).unwrap(), data);
        assert_eq!(read_exact_at(&file, 1234, 5000).unwrap(), &data[1234..6234]);
        assert!(read_exact_at(&file, 77, 0).unwrap().is_empty());
        let short = read_exact_at(&file, 9_000, 1_001).unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
    }
}
