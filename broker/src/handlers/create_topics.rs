//! TODO: create_topics
