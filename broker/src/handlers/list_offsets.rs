//! TODO: list_offsets
