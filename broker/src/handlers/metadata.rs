//! TODO: metadata
