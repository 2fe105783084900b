//! The pipeline's topics: names, layout, which event type goes where, and their creation
//! through the Kafka admin API (so the same code works against any Kafka broker).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::error::EdgeError;
use crate::event::EventKind;

/// Playback events (play, pause, resume, stop, progress, completed), keyed by user.
pub const PLAY_EVENTS: &str = "play-events";
/// Browse, click and impression events, keyed by user.
pub const USER_CLICKS: &str = "user-clicks";
/// Search events, keyed by user.
pub const SEARCH_QUERIES: &str = "search-queries";
/// Rating events, keyed by user.
pub const RATINGS: &str = "ratings";
/// The catalogue, compacted, keyed by title id.
pub const TITLE_METADATA: &str = "title-metadata";
/// User profiles, compacted, keyed by user id.
pub const USER_PROFILES: &str = "user-profiles";
/// Latest features per user, compacted, keyed by user id (also the processor's changelog).
pub const USER_BEHAVIOR_FEATURES: &str = "user-behavior-features";
/// Every served set of rows (impressions, for the feedback loop), keyed by user.
pub const RECOMMENDATIONS: &str = "recommendations";
/// Records the processor could not read, with their origin in the key.
pub const DEAD_LETTERS: &str = "recommender-dead-letters";

/// The activity topics, in the order the processor subscribes to them.
pub const ACTIVITY_TOPICS: [&str; 4] = [PLAY_EVENTS, USER_CLICKS, SEARCH_QUERIES, RATINGS];

/// Partitions of the user-keyed topics: enough for two processors to split.
pub const USER_PARTITIONS: i32 = 4;

/// One topic of the layout.
#[derive(Debug, Clone, Copy)]
pub struct TopicSpec<'a> {
    /// Name.
    pub name: &'a str,
    /// Partition count.
    pub partitions: i32,
    /// Whether `cleanup.policy=compact`.
    pub compacted: bool,
}

/// Every topic the pipeline uses.
pub const LAYOUT: [TopicSpec<'static>; 9] = [
    user_keyed(PLAY_EVENTS, false),
    user_keyed(USER_CLICKS, false),
    user_keyed(SEARCH_QUERIES, false),
    user_keyed(RATINGS, false),
    TopicSpec {
        name: TITLE_METADATA,
        partitions: 1,
        compacted: true,
    },
    user_keyed(USER_PROFILES, true),
    user_keyed(USER_BEHAVIOR_FEATURES, true),
    user_keyed(RECOMMENDATIONS, false),
    TopicSpec {
        name: DEAD_LETTERS,
        partitions: 1,
        compacted: false,
    },
];

const fn user_keyed(name: &'static str, compacted: bool) -> TopicSpec<'static> {
    TopicSpec {
        name,
        partitions: USER_PARTITIONS,
        compacted,
    }
}

/// The activity topic an event type belongs to.
pub fn topic_for(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Play { .. }
        | EventKind::Pause { .. }
        | EventKind::Resume { .. }
        | EventKind::Stop { .. }
        | EventKind::Progress { .. }
        | EventKind::Completed { .. } => PLAY_EVENTS,
        EventKind::Browse { .. } | EventKind::Click { .. } | EventKind::Impression { .. } => {
            USER_CLICKS
        }
        EventKind::Search { .. } => SEARCH_QUERIES,
        EventKind::Rating { .. } => RATINGS,
    }
}

/// Creates every topic of [`LAYOUT`] that does not exist yet.
pub async fn create_all(bootstrap: &str) -> Result<(), EdgeError> {
    create(bootstrap, &LAYOUT).await
}

/// Creates a features topic under another name (a rebuild's target), laid out like
/// [`USER_BEHAVIOR_FEATURES`], unless it exists.
pub async fn create_features_topic(bootstrap: &str, name: &str) -> Result<(), EdgeError> {
    let spec = TopicSpec {
        name,
        ..user_keyed(USER_BEHAVIOR_FEATURES, true)
    };
    create(bootstrap, &[spec]).await
}

async fn create(bootstrap: &str, layout: &[TopicSpec<'_>]) -> Result<(), EdgeError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let specs: Vec<NewTopic<'_>> = layout
        .iter()
        .map(|t| {
            let n = NewTopic::new(t.name, t.partitions, TopicReplication::Fixed(1));
            if t.compacted {
                n.set("cleanup.policy", "compact")
            } else {
                n
            }
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(specs.iter(), &opts).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(EdgeError::CreateTopic { topic, code }),
        }
    }
    Ok(())
}
