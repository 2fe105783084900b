//! TODO: producer_state (storage helper)
