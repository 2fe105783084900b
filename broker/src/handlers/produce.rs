//! TODO: produce
