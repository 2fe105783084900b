//! TODO: api_versions
