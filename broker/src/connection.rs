//! TODO: connection (server helper)
