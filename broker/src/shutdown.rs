//! TODO: shutdown (server helper)
