//! The `broker` binary. TODO (server helper).
fn main() {}
