//! Sending record batches from a segment file to a socket with `sendfile(2)`: the kernel moves
//! page-cache pages to the socket, with no copy into and out of a user-space buffer.
//!
//! Thread-safety: stateless. `sendfile` is given the file position explicitly, so it neither
//! reads nor moves the file's cursor, and concurrent sends of one file do not interfere.

// std has no safe wrapper for sendfile(2); the one call below needs a raw pointer to the offset.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The most one call is asked to send (Linux sends at most about 2 GiB per call anyway).
const MAX_CHUNK: usize = 1 << 30;

/// Sends up to `count` bytes of `file` from `*position` to the socket `socket`, without
/// blocking if the socket is non-blocking; advances `*position` by the bytes sent and returns
/// their number. 0 with `count > 0` means the file ended before `*position + count`.
pub fn send(
    socket: BorrowedFd<'_>,
    file: &File,
    position: &mut u64,
    count: usize,
) -> io::Result<usize> {
    let mut offset = libc::off_t::try_from(*position)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file position overflow"))?;
    // SAFETY: both descriptors are open for the whole call (borrowed from a live socket and a
    // live `File`), and `offset` is a valid, exclusively borrowed `off_t` the kernel updates.
    let n = unsafe {
        libc::sendfile(
            socket.as_raw_fd(),
            file.as_raw_fd(),
            &mut offset,
            count.min(MAX_CHUNK),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // Non-negative here, and at most `count`.
    let n = usize::try_from(n).unwrap_or(0);
    *position += n as u64;
    Ok(n)
}

/// Whether `sendfile` failed because this file (or file system) cannot be sent that way, as
/// opposed to a socket error: the caller then copies through memory.
pub fn unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn sends_a_range_and_reports_the_end_of_the_file() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        file.write_all(&data).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut position = 100;
        let mut sent = 0;
        while sent < 4000 {
            let n = send(client.as_fd(), &file, &mut position, 4000 - sent).unwrap();
            assert!(n > 0);
            sent += n;
        }
        assert_eq!(position, 4100);
        let mut got = vec![0; 4000];
        server.read_exact(&mut got).unwrap();
        assert_eq!(got, &data[100..4100]);
        let mut position = 5000;
        assert_eq!(send(client.as_fd(), &file, &mut position, 10).unwrap(), 0);
    }

    #[test]
    fn only_file_side_failures_fall_back_to_memory() {
        assert!(unsupported(&io::Error::from_raw_os_error(libc::EINVAL)));
        assert!(unsupported(&io::Error::from_raw_os_error(libc::ENOSYS)));
        assert!(!unsupported(&io::Error::from_raw_os_error(libc::EPIPE)));
        assert!(!unsupported(&io::ErrorKind::WouldBlock.into()));
    }
}
