//! TODO: recovery (storage helper)
