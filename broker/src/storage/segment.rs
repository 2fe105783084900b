//! TODO: segment (storage helper)
