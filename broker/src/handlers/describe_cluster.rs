//! TODO: describe_cluster
