//! `ProducerIdManager`. CONTRACT (to be implemented).

use std::path::Path;

use crate::storage::StorageError;

/// Hands out producer ids unique across restarts: ids come in blocks whose end is persisted
/// (fsynced) in the first log dir before any id of the block is given out.
#[derive(Debug)]
pub struct ProducerIdManager {
    _todo: (),
}

#[allow(unused_variables, clippy::missing_errors_doc)]
impl ProducerIdManager {
    /// Loads the block file in `log_dir`, or starts from 0 when there is none.
    pub fn open(log_dir: &Path) -> Result<ProducerIdManager, StorageError> {
        todo!()
    }
    /// The next unused producer id.
    pub fn next_id(&self) -> Result<i64, StorageError> {
        todo!()
    }
}
