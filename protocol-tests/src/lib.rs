//! Harness shared by the compatibility tests: starting our broker or an Apache Kafka reference
//! broker, choosing between them (`KAFKA_TARGET`), deadline-bounded waits, client set-up, and
//! generating and checking test records.

pub mod clients;
pub mod command;
pub mod our_broker;
pub mod records;
pub mod reference;
pub mod target;
pub mod wait;

pub use our_broker::OurBroker;
pub use reference::ReferenceKafka;
pub use target::{unique_topic, Target, TestBroker};
