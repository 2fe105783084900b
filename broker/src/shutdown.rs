//! `Shutdown`: the signal that tells connection tasks and background tasks to stop.

use tokio::sync::broadcast;

/// Listens for the server's shutdown signal.
///
/// The server keeps the `broadcast::Sender`; sending on it (or dropping it) tells every holder
/// of a `Shutdown` to finish. Once seen, the signal is remembered, so `recv` returns at once on
/// later calls.
///
/// Thread-safety: owned by one task; not shared (each task gets its own receiver).
#[derive(Debug)]
pub struct Shutdown {
    /// True once the signal has been received.
    is_shutdown: bool,
    /// Receives the signal (a message, or the sender being dropped).
    notify: broadcast::Receiver<()>,
}

impl Shutdown {
    /// Wraps a receiver subscribed to the server's shutdown sender.
    pub fn new(notify: broadcast::Receiver<()>) -> Shutdown {
        Shutdown {
            is_shutdown: false,
            notify,
        }
    }

    /// True once the shutdown signal has been received.
    pub fn is_shutdown(&self) -> bool {
        self.is_shutdown
    }

    /// Waits for the shutdown signal. Cancel-safe, so it can sit in a `select!`.
    pub async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // A message, a lag notice or a closed channel all mean the same thing: stop.
        let _ = self.notify.recv().await;
        self.is_shutdown = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_on_send_and_on_drop_and_stays_fired() {
        let (tx, _) = broadcast::channel(1);
        let mut a = Shutdown::new(tx.subscribe());
        let mut b = Shutdown::new(tx.subscribe());
        assert!(!a.is_shutdown());
        tx.send(()).unwrap();
        a.recv().await;
        assert!(a.is_shutdown());
        a.recv().await;
        let mut c = Shutdown::new(tx.subscribe());
        drop(tx);
        b.recv().await;
        c.recv().await;
        assert!(b.is_shutdown() && c.is_shutdown());
    }
}
