//! TODO: time_index (storage helper)
