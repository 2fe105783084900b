//! The recommender: a pure, deterministic core (clock-free: time arrives with each event; no
//! I/O except the offline loaders), and around it the Kafka and HTTP edges that make it a
//! real-time pipeline.
//!
//! Core:
//! - [`event`]: the versioned JSON user-activity event schema (see `EVENTS.md`).
//! - [`catalogue`]: titles, genres, series/episodes; MovieLens catalogue loaders.
//! - [`dataset`]: a MovieLens ratings file as a time-ordered stream of events.
//! - [`signals`]: per-user real-time behavioural signals.
//! - [`features`]: the JSON records of the compacted topics (titles, per-user features).
//! - [`model`]: `MostPop`, `DecayedPop`, `ItemKnn` and the production `Hybrid`, all incremental.
//! - [`rows`]: the home-page rows with reasons, built from the hybrid model and the signals.
//! - [`eval`]: prequential and leave-last-one-out evaluation.
//! - [`plot`]: the SVG chart of the prequential curves.
//!
//! Edges:
//! - [`topics`]: topic names and layout, creation through the admin API.
//! - [`producer`], [`consumer`]: the rdkafka clients (Kafka protocol only).
//! - [`simulate`]: the user-activity generator.
//! - [`process`]: the stream processor (consumer group, changelog restore).
//! - [`serve`]: the HTTP API and the live web page.
//! - [`up`]: everything in one process, with our broker embedded.
//! - [`bench`]: freshness, throughput and memory measurements.
//! - [`error`]: the edges' error type.

// Tests may unwrap (house rule); the library itself may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod catalogue;
pub mod consumer;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod event;
pub mod features;
pub mod model;
pub mod plot;
pub mod process;
pub mod producer;
pub mod rows;
pub mod serve;
pub mod signals;
pub mod simulate;
pub mod topics;
pub mod up;
