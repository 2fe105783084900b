//! Running an external client (kcat) with a deadline, so a hung client fails the test with its
//! output instead of hanging the whole run.

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::wait::wait_for;

/// What a finished command printed.
#[derive(Debug)]
pub struct CommandOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Everything written to standard error, lossily decoded (it is only shown to people).
    pub stderr: String,
}

/// Runs `cmd` with `stdin` as its standard input, killing it if it runs longer than `timeout`.
pub fn run_with_timeout(
    mut cmd: Command,
    stdin: &[u8],
    timeout: Duration,
) -> Result<CommandOutput> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    // Separate threads feed and drain the pipes: doing it inline could deadlock on full buffers.
    let mut input = child.stdin.take().context("child stdin")?;
    let data = stdin.to_vec();
    let writer = thread::spawn(move || input.write_all(&data));
    let out_reader = drain(child.stdout.take().context("child stdout")?);
    let err_reader = drain(child.stderr.take().context("child stderr")?);

    let waited = wait_for(&format!("{shown} to exit"), timeout, || {
        Ok(child.try_wait()?)
    });
    let status = match waited {
        Ok(status) => status,
        Err(e) => {
            // Best effort: the child may have exited between the last check and now.
            let _ = child.kill();
            let _ = child.wait();
            let stderr = join_output(err_reader);
            bail!("{e:#}\nits stderr:\n{}", String::from_utf8_lossy(&stderr));
        }
    };
    // A child that exits without reading all its input breaks the pipe; that is not our error.
    let _ = writer.join();
    Ok(CommandOutput {
        status,
        stdout: join_output(out_reader),
        stderr: String::from_utf8_lossy(&join_output(err_reader)).into_owned(),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error only truncates what is shown; the exit status still decides.
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn join_output(handle: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; echo oops >&2; exit 3"]);
        let out = run_with_timeout(cmd, b"hello", Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr, "oops\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn kills_a_command_that_overruns() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let err = run_with_timeout(cmd, b"", Duration::from_millis(200)).unwrap_err();
        assert!(err.to_string().contains("to exit"), "{err}");
    }
}
