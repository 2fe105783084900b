//! TODO: record_batch (storage helper)
