//! Partitions on disk, in Apache Kafka's layout. Nothing here knows about sockets or protocol
//! messages; Kafka error codes are chosen by the handlers from these error types.
//!
//! - [`record_batch`]: a view over one v2 record batch's header, validation (CRC-32C, lengths,
//!   record count, decompressed size) and the in-place patches the broker makes.
//! - [`record_walk`]: walking the records inside a batch, streaming decompression with a cap.
//! - [`index_file`]: the memory-mapped fixed-entry file under both indexes.
//! - [`offset_index`] / [`time_index`]: the sparse memory-mapped `.index` and `.timeindex` files.
//! - [`read_buf`]: positional reads into unzeroed buffers (the fetch path).
//! - [`file_range`]: whole batches named by their place in a segment file (sendfile fetches).
//! - [`segment`]: `LogSegment`, one `.log` file with its two indexes.
//! - [`log`]: `Log`, one partition: its segments, offsets, appends, reads, rolls and flushes.
//! - [`recovery`]: opening a partition directory, in explicit steps, after a clean or unclean
//!   shutdown.
//! - [`producer_state`]: the idempotent producer's per-producer sequence state, rebuilt from the
//!   log.
//! - [`log_manager`]: every partition of every topic, topic ids, the cluster id
//!   (`meta.properties`) and the clean-shutdown marker.
//! - [`retention`]: broker-wide retention passes and the delayed removal of `.deleted` files
//!   (the per-partition part is `log_retention.rs`, an `impl Log` block).
//! - [`topic_config`]: accepted topic config names, their checks and effect on [`LogConfig`].
//! - [`cleaner`]: the log cleaner (compaction of `cleanup.policy=compact` topics).
//! - [`dir_files`] / [`layout`]: `meta.properties`, `partition.metadata`, checkpoints, and
//!   finding partition directories.
//! - [`error`]: the storage error types.

pub mod cleaner;
pub mod dir_files;
pub mod error;
pub mod file_range;
pub mod index_file;
pub mod layout;
pub mod log;
pub mod log_manager;
pub mod offset_index;
pub mod producer_state;
pub mod read_buf;
pub mod record_batch;
pub mod record_walk;
pub mod recovery;
pub mod retention;
pub mod segment;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub mod test_util;
pub mod time_index;
pub mod topic_config;

pub use error::{AppendError, ReadError, StorageError};
pub use file_range::FileRange;
pub use log::{AppendInfo, DeleteRecordsError, FetchDataInfo, Log, LogConfig, TimestampType};
pub use log_manager::{LogManager, LogManagerConfig, Topic, TopicError, TopicPartition};
