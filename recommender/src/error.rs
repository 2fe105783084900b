//! The error of the Kafka and HTTP edges.

use thiserror::Error;

/// Why an edge (Kafka client, HTTP server, simulator) failed.
#[derive(Debug, Error)]
pub enum EdgeError {
    /// A Kafka client operation failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Creating a topic failed for a reason other than its existing already.
    #[error("cannot create topic {topic}: {code:?}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's error code.
        code: rdkafka::types::RDKafkaErrorCode,
    },
    /// A socket or file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A record or request could not be encoded or decoded.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Something did not happen before its deadline.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The in-process broker failed.
    #[error("broker: {0}")]
    Broker(String),
    /// A blocking task died.
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}
