//! `GroupCoordinatorService`: runs the sans-IO [`GroupCoordinator`] for the connections.
//!
//! Each request locks the state machine, feeds it the request and the wall clock, takes the
//! `Effects`, unlocks, and delivers every completed response to the request that waits for it
//! (JoinGroup and SyncGroup may be parked until other members arrive or a timer fires). A
//! timer task calls `tick` at the coordinator's next deadline.
//!
//! Offsets and group metadata live in memory only in this step: `Effects::records` are dropped
//! (appending them to `__consumer_offsets` and replaying them at start is the next step), so a
//! restart forgets every group and committed offset.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::{RequestHeader, ResponseKind};
use tokio::sync::{oneshot, Notify};

use crate::group::{Effects, GroupConfig, GroupCoordinator, RequestContext, RequestToken};

/// The group coordinator shared by every connection.
///
/// Thread-safety: `Send + Sync`; every method may be called from many tasks at once. The state
/// machine sits behind a std mutex held only for one synchronous call into it.
#[derive(Debug)]
pub struct GroupCoordinatorService {
    /// State shared with the timer task.
    shared: Arc<Shared>,
}

/// What the handlers and the timer task share.
#[derive(Debug)]
struct Shared {
    /// A std mutex is right here: each section is one non-blocking, non-awaiting call into the
    /// state machine plus map bookkeeping, never held across `.await`.
    state: Mutex<State>,
    /// Wakes the timer task when the next deadline may have moved earlier.
    deadline_changed: Notify,
}

/// The state machine and the requests parked on it.
#[derive(Debug)]
struct State {
    /// The classic group coordinator.
    coordinator: GroupCoordinator,
    /// Requests waiting for their response, by token. A dropped receiver (closed connection)
    /// only makes the later send fail, which is ignored.
    waiters: HashMap<RequestToken, oneshot::Sender<ResponseKind>>,
    /// The next token to hand out.
    next_token: u64,
    /// The deadline the timer task should wake at.
    next_deadline: Option<i64>,
}

/// Milliseconds since the Unix epoch, the clock the coordinator's timestamps use.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl GroupCoordinatorService {
    /// Starts the coordinator (empty: nothing is loaded yet) and, inside a Tokio runtime, its
    /// timer task.
    pub fn new(config: GroupConfig) -> Self {
        let mut coordinator = GroupCoordinator::new(config);
        let fx = coordinator.complete_load(now_ms());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                coordinator,
                waiters: HashMap::new(),
                next_token: 0,
                next_deadline: fx.next_deadline,
            }),
            deadline_changed: Notify::new(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(run_timer(Arc::downgrade(&shared)));
        }
        Self { shared }
    }

    /// Runs one request that may wait (join, sync, heartbeat, commits...) and returns its
    /// response; `None` if the coordinator dropped it (never expected).
    pub async fn call<F>(&self, header: &RequestHeader, f: F) -> Option<ResponseKind>
    where
        F: FnOnce(&mut GroupCoordinator, &RequestContext<'_>, i64) -> Effects,
    {
        let (tx, rx) = oneshot::channel();
        let client_id = header.client_id.as_deref().unwrap_or("");
        let delivered = {
            let mut state = self.shared.lock();
            let token = RequestToken(state.next_token);
            state.next_token = state.next_token.wrapping_add(1);
            state.waiters.insert(token, tx);
            let ctx = RequestContext {
                token,
                api_version: header.request_api_version,
                client_id,
                // The handler shape carries no peer address; DescribeGroups shows it empty.
                client_host: "",
            };
            let fx = f(&mut state.coordinator, &ctx, now_ms());
            self.shared.take_effects(&mut state, fx)
        };
        deliver(delivered);
        rx.await.ok()
    }

    /// Runs a read-only query (OffsetFetch, ListGroups, DescribeGroups).
    pub fn read<R>(&self, f: impl FnOnce(&GroupCoordinator) -> R) -> R {
        f(&self.shared.lock().coordinator)
    }
}

impl Shared {
    /// Locks the state, recovering from poisoning (a panic inside the state machine leaves it
    /// as consistent as it was; refusing every later group request would be worse).
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pairs each response with its waiter and notes the next deadline, under the lock.
    fn take_effects(
        &self,
        state: &mut State,
        fx: Effects,
    ) -> Vec<(oneshot::Sender<ResponseKind>, ResponseKind)> {
        if fx.next_deadline != state.next_deadline {
            state.next_deadline = fx.next_deadline;
            self.deadline_changed.notify_one();
        }
        fx.responses
            .into_iter()
            .filter_map(|(token, response)| state.waiters.remove(&token).map(|tx| (tx, response)))
            .collect()
    }
}

/// Sends responses outside the lock; a closed connection's receiver is gone, which is fine.
fn deliver(delivered: Vec<(oneshot::Sender<ResponseKind>, ResponseKind)>) {
    for (tx, response) in delivered {
        let _ = tx.send(response);
    }
}

/// Calls `tick` at each deadline; ends within a second of the service being dropped.
async fn run_timer(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let notified = strong.deadline_changed.notified();
        let deadline = strong.lock().next_deadline;
        // Re-check at least every second so a dropped service ends this task.
        let wait_ms = deadline.map_or(1_000, |at| at.saturating_sub(now_ms()).clamp(0, 1_000));
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep(Duration::from_millis(wait_ms.unsigned_abs())) => {}
        }
        let delivered = {
            let mut state = strong.lock();
            let now = now_ms();
            if state.next_deadline.is_some_and(|at| at <= now) {
                let fx = state.coordinator.tick(now);
                strong.take_effects(&mut state, fx)
            } else {
                Vec::new()
            }
        };
        deliver(delivered);
    }
}
