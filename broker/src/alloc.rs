//! TODO: alloc (server helper)
