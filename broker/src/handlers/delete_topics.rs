//! TODO: delete_topics
