//! Home-page rows (placeholder).
