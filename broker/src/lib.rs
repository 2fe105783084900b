//! A single-node, Kafka-compatible broker.
//!
//! Ordinary Kafka clients (librdkafka, the Java client, franz-go, ...) talk to it over the Kafka
//! wire protocol; partitions are stored as segmented logs in Apache Kafka's own on-disk layout.
//!
//! Map of the crate, from the socket inwards:
//!
//! - [`config`]: `BrokerConfig`, parsed from a `server.properties` file and `--override key=value`
//!   pairs with Kafka's key names, defaults and validation.
//! - [`server`]: the accept loop (connection limit, back-off on accept errors) and graceful
//!   shutdown; one task per connection.
//! - [`shutdown`]: the shutdown signal shared by the server and its connection tasks.
//! - [`connection`]: the only code that touches bytes on the wire: length-prefixed frames, the
//!   request header, size and sanity checks, decoding requests and encoding responses.
//! - [`alloc`]: the global allocator guard that keeps a lying array count on the wire from
//!   aborting the process.
//! - [`handlers`]: the single dispatch point on `ApiKey`, and one file per Kafka API.
//! - [`broker`]: `Broker`, the state shared by every connection (config, logs, producer ids).
//! - [`dynamic_broker_config`]: broker keys AlterConfigs may change at runtime (partition
//!   defaults), persisted and pushed to every log.
//! - [`group`]: the group coordinator (classic and KIP-848), a sans-IO state machine, and the binary
//!   layout of its `__consumer_offsets` records.
//! - [`group_coordinator_service`]: runs `group` for the connections (locking, parked
//!   requests, timers, appending records before answering).
//! - [`group_log`]: the `__consumer_offsets` topic: creation, record batches, replay at start.
//! - [`log_retention_task`]: the periodic retention pass (`log.retention.check.interval.ms`).
//! - [`producer_id_manager`]: hands out producer ids that stay unique across restarts.
//! - [`storage`]: partitions on disk (`Log`, `LogSegment`, `OffsetIndex`, `TimeIndex`,
//!   recovery, producer state, `LogManager`); it knows nothing of sockets or protocol messages.
//! - `test_util` (tests only): helpers shared by several modules' unit tests.

pub mod alloc;
pub mod broker;
pub mod config;
pub mod connection;
pub mod dynamic_broker_config;
pub mod group;
pub mod group_coordinator_service;
pub mod group_log;
pub mod handlers;
pub mod log_retention_task;
pub mod producer_id_manager;
pub mod server;
pub mod shutdown;
pub mod storage;
#[cfg(test)]
mod test_util;

pub use broker::Broker;
pub use config::BrokerConfig;
pub use server::Server;
