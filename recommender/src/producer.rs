//! The Kafka producer edge: JSON records keyed by user or title, with low linger so that
//! freshness is not spent waiting for batches.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::error::EdgeError;
use crate::event::Event;
use crate::topics;

/// A producer shared by the tasks of one process.
///
/// Thread-safety: `Clone` and `Send + Sync`; librdkafka serialises internally.
#[derive(Clone)]
pub struct Producer {
    /// The rdkafka client.
    inner: FutureProducer,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Producer")
    }
}

impl Producer {
    /// Connects to `bootstrap` (`host:port[,host:port]`).
    pub fn new(bootstrap: &str) -> Result<Producer, EdgeError> {
        let inner = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("linger.ms", "2")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "30000")
            .create()?;
        Ok(Producer { inner })
    }

    /// Produces one record and waits for the broker's acknowledgement; returns its partition
    /// and offset.
    pub async fn send(
        &self,
        topic: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(i32, i64), EdgeError> {
        let record = FutureRecord::to(topic).key(key).payload(value);
        match self.inner.send(record, Duration::from_secs(10)).await {
            Ok(d) => Ok((d.partition, d.offset)),
            Err((e, _)) => Err(e.into()),
        }
    }

    /// Queues one record without waiting for its acknowledgement (errors are logged by
    /// librdkafka; [`Producer::flush`] waits for all). Waits while the local queue is full.
    pub async fn enqueue(&self, topic: &str, key: &str, value: &[u8]) -> Result<(), EdgeError> {
        let mut record = FutureRecord::to(topic).key(key).payload(value);
        loop {
            match self.inner.send_result(record) {
                Ok(_delivery) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// Produces an event to its activity topic, keyed by user, and waits for the ack.
    pub async fn send_event(&self, ev: &Event) -> Result<(i32, i64), EdgeError> {
        let json = serde_json::to_vec(ev)?;
        self.send(topics::topic_for(&ev.kind), &ev.user_id.to_string(), &json)
            .await
    }

    /// Queues an event to its activity topic, keyed by user.
    pub async fn enqueue_event(&self, ev: &Event) -> Result<(), EdgeError> {
        let json = serde_json::to_vec(ev)?;
        self.enqueue(topics::topic_for(&ev.kind), &ev.user_id.to_string(), &json)
            .await
    }

    /// Waits, blocking the calling thread, until every queued record is acknowledged (for
    /// librdkafka callbacks, which cannot await).
    pub fn flush_blocking(&self, timeout: Duration) -> Result<(), EdgeError> {
        Ok(self.inner.flush(timeout)?)
    }

    /// Waits until every queued record is acknowledged (librdkafka's flush blocks, so it runs
    /// on the blocking pool).
    pub async fn flush(&self, timeout: Duration) -> Result<(), EdgeError> {
        let p = self.inner.clone();
        tokio::task::spawn_blocking(move || p.flush(timeout)).await??;
        Ok(())
    }
}
