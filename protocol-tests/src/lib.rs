//! Harness shared by the compatibility tests.
