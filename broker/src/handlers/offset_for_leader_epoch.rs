//! TODO: offset_for_leader_epoch
