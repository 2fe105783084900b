//! TODO: offset_index (storage helper)
