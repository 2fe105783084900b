//! The background retention task: every `log.retention.check.interval.ms` it runs
//! [`LogManager::delete_old_segments`](crate::storage::LogManager::delete_old_segments) on a
//! blocking thread and schedules the removal of the `.deleted` files it leaves.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::broker::Broker;
use crate::shutdown::Shutdown;
use crate::storage::retention::schedule_removal;

/// Runs retention passes until shutdown. The interval is read once at start (in Kafka,
/// `log.retention.check.interval.ms` is not dynamic either).
pub async fn run(broker: Arc<Broker>, mut shutdown: Shutdown) {
    let ms = u64::try_from(broker.config.log_retention_check_interval_ms).unwrap_or(1);
    let mut ticks = tokio::time::interval(Duration::from_millis(ms.max(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = shutdown.recv() => return,
        }
        let log_manager = Arc::clone(&broker.log_manager);
        // Renames and checkpoint writes block: keep them off the async threads.
        match tokio::task::spawn_blocking(move || log_manager.delete_old_segments(now_ms())).await {
            Ok(pending) => pending.into_iter().for_each(schedule_removal),
            Err(error) => tracing::error!(%error, "retention pass failed"),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
