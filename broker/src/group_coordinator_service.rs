//! `GroupCoordinatorService`: runs the sans-IO [`GroupCoordinator`] for the connections.
//!
//! Each request locks the state machine, feeds it the request and the wall clock, takes the
//! `Effects`, unlocks, and delivers every completed response to the request that waits for it
//! (JoinGroup and SyncGroup may be parked until other members arrive or a timer fires). A
//! timer task calls `tick` at the coordinator's next deadline.
//!
//! Durability: `Effects::records` are encoded under the lock and handed, still under the lock,
//! to one appender task through an unbounded channel, so the order of batches on disk is the
//! order of the state changes even when two requests for one group race. The appender writes
//! one batch per `__consumer_offsets` partition touched by the call, then sends the responses
//! that came with the records; if an append fails, those responses carry
//! COORDINATOR_NOT_AVAILABLE instead (see [`crate::group_log`] and `failed_response`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::{RequestHeader, ResponseKind};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::group::{Effects, GroupConfig, GroupCoordinator, RequestContext, RequestToken};
use crate::group_log::{self, OFFSETS_TOPIC};
use crate::storage::LogManager;

mod failed_response;

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
    /// Where records go; `None` keeps everything in memory (unit tests).
    journal: Option<Journal>,
}

/// The way to `__consumer_offsets`.
#[derive(Debug)]
struct Journal {
    /// Its partition count, fixed at start-up.
    partitions: i32,
    /// To the appender task, in state-change order.
    appends: mpsc::UnboundedSender<PendingAppend>,
}

/// A response and the request waiting for it.
type Delivery = (oneshot::Sender<ResponseKind>, ResponseKind);

/// One call's records, encoded, and the responses to send once they are on disk.
#[derive(Debug)]
struct PendingAppend {
    /// One batch per `__consumer_offsets` partition, in the order the records were produced.
    batches: Vec<(i32, Bytes)>,
    /// Responses that wait for the batches.
    responses: Vec<Delivery>,
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
    /// Starts an empty coordinator whose records stay in memory and, inside a Tokio runtime,
    /// its timer task.
    pub fn new(config: GroupConfig) -> Self {
        Self::start(GroupCoordinator::new(config), None)
    }

    /// Starts `coordinator` (already replayed from `__consumer_offsets`, see
    /// [`group_log::load`]) with its timer task and the appender writing to `log_manager`'s
    /// `__consumer_offsets`, whose partitions must exist. Must run inside a Tokio runtime.
    pub fn with_log(coordinator: GroupCoordinator, log_manager: Arc<LogManager>) -> Self {
        Self::start(coordinator, Some(log_manager))
    }

    fn start(mut coordinator: GroupCoordinator, log_manager: Option<Arc<LogManager>>) -> Self {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let journal = match (log_manager, &runtime) {
            (Some(manager), Some(runtime)) => {
                let partitions = manager.topic(OFFSETS_TOPIC).map_or(1, |t| {
                    i32::try_from(t.partitions().len()).unwrap_or(i32::MAX)
                });
                let (appends, rx) = mpsc::unbounded_channel();
                runtime.spawn(run_appender(manager, rx));
                Some(Journal {
                    partitions,
                    appends,
                })
            }
            _ => None,
        };
        let fx = coordinator.complete_load(now_ms());
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                coordinator,
                waiters: HashMap::new(),
                next_token: 0,
                next_deadline: fx.next_deadline,
            }),
            deadline_changed: Notify::new(),
            journal,
        });
        if let Some(runtime) = runtime {
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
        self.call_from(header, "", f).await
    }

    /// [`Self::call`] for a request whose client address matters (JoinGroup records it).
    pub async fn call_from<F>(
        &self,
        header: &RequestHeader,
        client_host: &str,
        f: F,
    ) -> Option<ResponseKind>
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
                client_host,
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

    /// Pairs each response with its waiter and notes the next deadline, under the lock. When
    /// the call produced records, they are queued for the appender together with the responses
    /// (so nothing is returned to send now); queueing under the lock fixes their order on disk.
    fn take_effects(&self, state: &mut State, fx: Effects) -> Vec<Delivery> {
        if fx.next_deadline != state.next_deadline {
            state.next_deadline = fx.next_deadline;
            self.deadline_changed.notify_one();
        }
        let responses: Vec<Delivery> = fx
            .responses
            .into_iter()
            .filter_map(|(token, response)| state.waiters.remove(&token).map(|tx| (tx, response)))
            .collect();
        let Some(journal) = &self.journal else {
            return responses;
        };
        if fx.records.is_empty() {
            return responses;
        }
        let now = now_ms();
        let mut by_partition: Vec<(i32, Vec<crate::group::GroupRecord>)> = Vec::new();
        for record in fx.records {
            let p = group_log::partition_for(record.group_id(), journal.partitions);
            match by_partition.iter_mut().find(|(q, _)| *q == p) {
                Some((_, list)) => list.push(record),
                None => by_partition.push((p, vec![record])),
            }
        }
        let batches = by_partition
            .into_iter()
            .filter_map(|(p, records)| group_log::encode_batch(&records, now).map(|b| (p, b)))
            .collect();
        let pending = PendingAppend { batches, responses };
        match journal.appends.send(pending) {
            Ok(()) => Vec::new(),
            // The appender is gone (runtime shutting down): nothing can be made durable.
            Err(mpsc::error::SendError(pending)) => failed_response::fail_all(pending.responses),
        }
    }
}

/// Appends each queued call's batches in order, then sends its responses (as failures when an
/// append failed). Ends when the service is dropped.
async fn run_appender(manager: Arc<LogManager>, mut rx: mpsc::UnboundedReceiver<PendingAppend>) {
    while let Some(pending) = rx.recv().await {
        let mut ok = true;
        for (partition, batch) in pending.batches {
            let log = manager
                .topic(OFFSETS_TOPIC)
                .and_then(|t| t.partition(partition));
            let result = match log {
                // Appends are page-cache writes, done on the runtime thread as Produce does.
                Some(log) => log
                    .append(batch, now_ms())
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => Err("partition missing".to_string()),
            };
            if let Err(error) = result {
                tracing::error!(partition, %error, "cannot append group records to {OFFSETS_TOPIC}");
                ok = false;
            }
        }
        if ok {
            deliver(pending.responses);
        } else {
            deliver(failed_response::fail_all(pending.responses));
        }
    }
}

/// Sends responses outside the lock; a closed connection's receiver is gone, which is fine.
fn deliver(delivered: Vec<Delivery>) {
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
