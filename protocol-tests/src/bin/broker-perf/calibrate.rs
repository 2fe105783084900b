//! Calibration: what the machine itself manages, so broker figures can be read against it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::num;

/// Chunk size of both ends; large, so the figure is the kernel's copy cost, not syscalls.
const CHUNK: usize = 1 << 20;

/// Pumps `--bytes` through a loopback TCP connection between two threads of this process and
/// prints the rate: an upper bound for any broker's throughput on this machine.
pub fn loopback(opts: &HashMap<String, String>) -> Result<()> {
    let bytes = num(opts, "bytes", 2_000_000_000)?;
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the loopback listener")?;
    let addr = listener.local_addr()?;
    let reader = std::thread::spawn(move || -> Result<u64> {
        let (mut stream, _) = listener.accept()?;
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            match stream.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    let chunk = vec![0x5au8; CHUNK];
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left.min(CHUNK as u64))?;
        stream.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    drop(stream);
    let received = match reader.join() {
        Ok(r) => r?,
        Err(_) => bail!("the loopback reader panicked"),
    };
    let secs = started.elapsed().as_secs_f64();
    if received != bytes {
        bail!("loopback: sent {bytes} bytes, received {received}");
    }
    println!("loopback_throughput {:.1} MB/s", bytes as f64 / 1e6 / secs);
    Ok(())
}
