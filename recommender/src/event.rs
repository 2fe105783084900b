//! The user-activity event schema (version 1), as apps write it to Kafka, keyed by user.
//!
//! One JSON object per event; `recommender/EVENTS.md` is the reference for producers. Parsing
//! never panics: malformed, unknown or out-of-range events come back as an [`EventError`] that
//! the caller counts and skips.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The only schema version this build understands; producers put it in every event.
pub const SCHEMA_VERSION: u32 = 1;

/// Longest search query accepted, in bytes; longer ones are rejected rather than truncated so
/// that a misbehaving client is visible in the error counts.
pub const MAX_QUERY_BYTES: usize = 512;

/// A user's identity as the apps send it (also the Kafka record key).
pub type UserId = u64;

/// A title's identity in the catalogue (a movie, a series, or one episode of a series).
pub type TitleId = u32;

/// Why an event was rejected.
#[derive(Debug, Error)]
pub enum EventError {
    /// The bytes are not JSON, or the JSON does not have the shape of any known event type
    /// (this includes an unknown `type`).
    #[error("malformed event: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The event was written against a schema this build does not know.
    #[error("unsupported schema_version {0} (this build reads version {SCHEMA_VERSION})")]
    UnsupportedVersion(u32),
    /// A field has a value outside its documented range.
    #[error("invalid field `{field}`: {reason}")]
    Invalid {
        /// The JSON field name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The kind of device the event came from; unknown strings map to `Other` so that a new app
/// does not make its events unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// A television app or set-top box.
    Tv,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// A web browser.
    Web,
    /// A games console.
    Console,
    /// Anything else, including devices unknown to this build and offline data sets.
    #[serde(other)]
    Other,
}

/// One user-activity event: the common envelope plus its type-specific payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version the producer wrote; must equal [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Who did it.
    pub user_id: UserId,
    /// Where it happened.
    pub device: Device,
    /// When it happened, milliseconds since the Unix epoch (UTC). This is the only clock the
    /// recommender core ever reads.
    pub timestamp_ms: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The type-specific part of an event, selected by the JSON field `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// Playback started.
    Play {
        /// The title played.
        title_id: TitleId,
    },
    /// Playback paused.
    Pause {
        /// The title paused.
        title_id: TitleId,
        /// Playback position when paused.
        position_ms: u64,
    },
    /// Playback resumed after a pause.
    Resume {
        /// The title resumed.
        title_id: TitleId,
    },
    /// Playback stopped before the end (the user left the player).
    Stop {
        /// The title stopped.
        title_id: TitleId,
        /// Playback position when stopped; drives the "abandoned after < X minutes" signal.
        position_ms: u64,
    },
    /// Periodic playback heartbeat.
    Progress {
        /// The title playing.
        title_id: TitleId,
        /// Current playback position.
        position_ms: u64,
        /// Total running time of the title; must be positive.
        duration_ms: u64,
    },
    /// The user watched the title to the end (or past the credits).
    Completed {
        /// The title finished.
        title_id: TitleId,
    },
    /// The user opened a page or scrolled a row.
    Browse {
        /// The row or page browsed, if any (e.g. `trending_now`).
        #[serde(default)]
        row_id: Option<String>,
    },
    /// The user clicked a title shown in a row.
    Click {
        /// The title clicked.
        title_id: TitleId,
        /// The row it was shown in.
        row_id: String,
        /// Zero-based position in that row.
        position: u32,
    },
    /// A title was shown to the user in a row.
    Impression {
        /// The title shown.
        title_id: TitleId,
        /// The row it was shown in.
        row_id: String,
        /// Zero-based position in that row.
        position: u32,
    },
    /// The user searched.
    Search {
        /// The query as typed; non-empty, at most [`MAX_QUERY_BYTES`] bytes.
        query: String,
    },
    /// The user rated a title.
    Rating {
        /// The title rated.
        title_id: TitleId,
        /// Stars, 0.5 to 5.0.
        value: f32,
    },
}

impl EventKind {
    /// The title the event is about, for the types that have one.
    pub fn title_id(&self) -> Option<TitleId> {
        match self {
            EventKind::Play { title_id }
            | EventKind::Pause { title_id, .. }
            | EventKind::Resume { title_id }
            | EventKind::Stop { title_id, .. }
            | EventKind::Progress { title_id, .. }
            | EventKind::Completed { title_id }
            | EventKind::Click { title_id, .. }
            | EventKind::Impression { title_id, .. }
            | EventKind::Rating { title_id, .. } => Some(*title_id),
            EventKind::Browse { .. } | EventKind::Search { .. } => None,
        }
    }
}

impl Event {
    /// Parses and validates one event from its JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Event, EventError> {
        let event: Event = serde_json::from_slice(bytes)?;
        event.validate()?;
        Ok(event)
    }

    /// Serialises the event as one line of JSON.
    pub fn to_json(&self) -> Result<String, EventError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Checks the ranges serde cannot express.
    pub fn validate(&self) -> Result<(), EventError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(EventError::UnsupportedVersion(self.schema_version));
        }
        if self.timestamp_ms < 0 {
            return Err(invalid("timestamp_ms", "must not be negative"));
        }
        match &self.kind {
            EventKind::Progress {
                position_ms,
                duration_ms,
                ..
            } => {
                if *duration_ms == 0 {
                    return Err(invalid("duration_ms", "must be positive"));
                }
                if position_ms > duration_ms {
                    return Err(invalid("position_ms", "must not exceed duration_ms"));
                }
            }
            EventKind::Search { query } => {
                if query.trim().is_empty() {
                    return Err(invalid("query", "must not be empty"));
                }
                if query.len() > MAX_QUERY_BYTES {
                    return Err(invalid("query", "too long"));
                }
            }
            EventKind::Rating { value, .. } if !(0.5..=5.0).contains(value) => {
                return Err(invalid("value", "must be between 0.5 and 5.0"));
            }
            _ => {}
        }
        Ok(())
    }

    /// The title the event is about, for the types that have one.
    pub fn title_id(&self) -> Option<TitleId> {
        self.kind.title_id()
    }

    /// A rating event, as the offline loaders produce from MovieLens rows.
    pub fn rating(user_id: UserId, title_id: TitleId, value: f32, timestamp_ms: i64) -> Event {
        Event {
            schema_version: SCHEMA_VERSION,
            user_id,
            device: Device::Other,
            timestamp_ms,
            kind: EventKind::Rating { title_id, value },
        }
    }
}

fn invalid(field: &'static str, reason: &'static str) -> EventError {
    EventError::Invalid { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Event, EventError> {
        Event::from_json(s.as_bytes())
    }

    #[test]
    fn parses_progress_and_round_trips() {
        let e = parse(
            r#"{"schema_version":1,"type":"progress","user_id":42,"title_id":7,"device":"tv",
                "timestamp_ms":1700000000000,"position_ms":60000,"duration_ms":3600000}"#,
        )
        .unwrap();
        assert_eq!(e.user_id, 42);
        assert_eq!(e.device, Device::Tv);
        assert_eq!(
            e.kind,
            EventKind::Progress {
                title_id: 7,
                position_ms: 60_000,
                duration_ms: 3_600_000
            }
        );
        let again = parse(&e.to_json().unwrap()).unwrap();
        assert_eq!(again, e);
    }

    #[test]
    fn parses_search_click_and_unknown_device() {
        let s = parse(
            r#"{"schema_version":1,"type":"search","user_id":1,"device":"fridge",
                "timestamp_ms":5,"query":"romantic comedies"}"#,
        )
        .unwrap();
        assert_eq!(s.device, Device::Other);
        assert_eq!(s.title_id(), None);
        let c = parse(
            r#"{"schema_version":1,"type":"click","user_id":1,"device":"web","timestamp_ms":5,
                "title_id":3,"row_id":"trending_now","position":2}"#,
        )
        .unwrap();
        assert_eq!(c.title_id(), Some(3));
    }

    #[test]
    fn rejects_bad_events_without_panicking() {
        let bad = [
            "",
            "not json",
            "[]",
            r#"{"schema_version":1,"type":"teleport","user_id":1,"device":"tv","timestamp_ms":1}"#,
            r#"{"schema_version":2,"type":"play","user_id":1,"title_id":1,"device":"tv","timestamp_ms":1}"#,
            r#"{"schema_version":1,"type":"play","user_id":-1,"title_id":1,"device":"tv","timestamp_ms":1}"#,
            r#"{"schema_version":1,"type":"play","user_id":1,"device":"tv","timestamp_ms":1}"#,
            r#"{"schema_version":1,"type":"rating","user_id":1,"title_id":1,"device":"tv","timestamp_ms":1,"value":9}"#,
            r#"{"schema_version":1,"type":"search","user_id":1,"device":"tv","timestamp_ms":1,"query":"  "}"#,
            r#"{"schema_version":1,"type":"progress","user_id":1,"title_id":1,"device":"tv","timestamp_ms":1,"position_ms":5,"duration_ms":0}"#,
            r#"{"schema_version":1,"type":"play","user_id":1,"title_id":1,"device":"tv","timestamp_ms":-3}"#,
        ];
        for b in bad {
            assert!(parse(b).is_err(), "accepted: {b}");
        }
        assert!(matches!(
            parse(
                r#"{"schema_version":9,"type":"browse","user_id":1,"device":"tv","timestamp_ms":1}"#
            ),
            Err(EventError::UnsupportedVersion(9))
        ));
    }
}
