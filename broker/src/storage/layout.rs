//! The log dirs themselves: creating them and their `meta.properties`, and finding partition
//! directories (`<topic>-<partition>`) while removing leftovers of interrupted topic deletions.
//!
//! Thread-safety: stateless functions, called once at start-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dir_files::{
    random_kafka_uuid, read_properties, render_properties, uuid_to_base64, write_atomic, META_FILE,
};
use super::error::StorageError;
use super::log_manager::{LogManager, LogManagerConfig};

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates every log dir and its `meta.properties`, keeping an existing `cluster.id` (the first
/// one found wins; dirs without one get it). Returns the cluster id.
pub fn prepare_dirs(config: &LogManagerConfig) -> Result<String, StorageError> {
    let mut metas = Vec::new();
    for dir in &config.log_dirs {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        metas.push(read_properties(&dir.join(META_FILE))?.unwrap_or_default());
    }
    let cluster_id = metas
        .iter()
        .find_map(|m| m.get("cluster.id").cloned())
        .unwrap_or_else(|| uuid_to_base64(random_kafka_uuid()));
    for (dir, meta) in config.log_dirs.iter().zip(metas) {
        let mut want: BTreeMap<String, String> = meta.clone();
        want.insert("version".into(), "1".into());
        want.insert("node.id".into(), config.node_id.to_string());
        want.insert("cluster.id".into(), cluster_id.clone());
        want.entry("directory.id".into())
            .or_insert_with(|| uuid_to_base64(random_kafka_uuid()));
        if want != meta {
            write_atomic(&dir.join(META_FILE), &render_properties(&want))?;
        }
    }
    Ok(cluster_id)
}

/// The partition directories in `dir`, as (topic, partition, path). Directories ending in
/// `-delete` (a topic deletion that did not finish) are removed.
pub fn partition_dirs(dir: &Path) -> Result<Vec<(String, i32, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let entry = entry.map_err(io("list", dir))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.ends_with("-delete") {
            std::fs::remove_dir_all(&path).map_err(io("remove", &path))?;
            continue;
        }
        let Some((topic, partition)) = name.rsplit_once('-') else {
            continue;
        };
        let Ok(partition) = partition.parse::<i32>() else {
            continue;
        };
        if partition < 0 || LogManager::validate_topic_name(topic).is_err() {
            continue;
        }
        out.push((topic.to_string(), partition, path));
    }
    out.sort();
    Ok(out)
}
