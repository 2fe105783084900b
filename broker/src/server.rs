//! TODO: server (server helper)
