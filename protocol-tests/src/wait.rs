//! Deadline-bounded waiting. Tests never sleep to synchronise: they poll a condition and, when the
//! deadline passes, fail with a message naming what they waited for and the last thing observed.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// How often a condition is re-checked. Small enough not to slow tests, large enough not to spin.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Re-evaluates `check` until it returns `Ok(Some(value))` or `timeout` passes.
///
/// `check` returns `Ok(None)` for "not yet" and `Err` for "not yet, and this is why"; the last such
/// error is part of the timeout message. `what` describes the condition in the message.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            return timed_out(what, timeout, last_error);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The async form of [`wait_for`], for conditions that await (admin calls, delivery counts).
pub async fn wait_for_async<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            return timed_out(what, timeout, last_error);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn timed_out<T>(what: &str, timeout: Duration, last_error: Option<anyhow::Error>) -> Result<T> {
    match last_error {
        Some(e) => bail!("gave up after {timeout:?} waiting for {what}; last error: {e:#}"),
        None => bail!("gave up after {timeout:?} waiting for {what}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a test failure.
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_once_the_condition_holds() {
        let mut calls = 0;
        let value = wait_for("three calls", Duration::from_secs(5), || {
            calls += 1;
            Ok((calls == 3).then_some(calls))
        })
        .unwrap();
        assert_eq!(value, 3);
    }

    #[test]
    fn times_out_naming_the_condition_and_last_error() {
        let err = wait_for::<()>("the impossible", Duration::from_millis(60), || {
            bail!("still impossible")
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("the impossible"), "{err}");
        assert!(err.contains("still impossible"), "{err}");
    }
}
