//! The recommender's pure core: deterministic, clock-free (time arrives with each event), no
//! I/O except the offline loaders. The Kafka and HTTP edges live elsewhere and feed events in.
//!
//! Module map:
//! - [`event`]: the versioned JSON user-activity event schema (see `EVENTS.md`).
//! - [`catalogue`]: titles, genres, series/episodes; MovieLens catalogue loaders.
//! - [`dataset`]: a MovieLens ratings file as a time-ordered stream of events.
//! - [`signals`]: per-user real-time behavioural signals.
//! - [`model`]: `MostPop`, `DecayedPop`, `ItemKnn` and the production `Hybrid`, all incremental.
//! - [`rows`]: the home-page rows with reasons, built from the hybrid model and the signals.
//! - [`eval`]: prequential and leave-last-one-out evaluation.
//! - [`plot`]: the SVG chart of the prequential curves.

// Tests may unwrap (house rule); the library itself may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod catalogue;
pub mod dataset;
pub mod eval;
pub mod event;
pub mod model;
pub mod plot;
pub mod rows;
pub mod signals;
