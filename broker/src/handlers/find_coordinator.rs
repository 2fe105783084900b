//! TODO: find_coordinator
