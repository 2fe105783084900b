//! TODO: init_producer_id
