//! TODO: create_partitions
