//! Tables loaded from compacted topics: the catalogue from `title-metadata`, user profiles from
//! `user-profiles`, and the latest feature record per user from `user-behavior-features`. The
//! latest record per key wins; a tombstone removes the key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::catalogue::Catalogue;
use crate::consumer::read_to_end;
use crate::error::EdgeError;
use crate::event::UserId;
use crate::features::{FeatureRecord, TitleRecord, UserProfile};
use crate::topics;

/// Loads the catalogue; waits up to `wait` for `title-metadata` to hold something, since the
/// simulator (or another publisher) may start at the same time.
pub async fn load_catalogue(bootstrap: &str, wait: Duration) -> Result<Catalogue, EdgeError> {
    let deadline = Instant::now() + wait;
    loop {
        let records = read_to_end(bootstrap, topics::TITLE_METADATA).await?;
        let mut latest: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
        let mut order = Vec::new();
        for r in records {
            let key = r.key.unwrap_or_default();
            if !latest.contains_key(&key) {
                order.push(key.clone());
            }
            latest.insert(key, r.value);
        }
        let mut titles = Vec::new();
        let mut bad = 0usize;
        for key in order {
            let Some(Some(value)) = latest.get(&key) else {
                continue;
            };
            match serde_json::from_slice::<TitleRecord>(value) {
                Ok(t) => titles.push(t),
                Err(_) => bad += 1,
            }
        }
        let cat = catalogue_of(&titles);
        if bad > 0 {
            tracing::warn!(bad, "unreadable title-metadata records skipped");
        }
        if !cat.is_empty() || Instant::now() >= deadline {
            tracing::info!(titles = cat.len(), "catalogue loaded");
            return Ok(cat);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A catalogue from title records. Genre ids are assigned in genre-name order, so every
/// process that loads the same titles numbers genres the same way (signal state, which the
/// changelog carries, refers to genres by id).
pub fn catalogue_of(titles: &[TitleRecord]) -> Catalogue {
    let mut cat = Catalogue::new();
    let mut names: Vec<&str> = titles
        .iter()
        .flat_map(|t| t.genres.iter().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    for n in names {
        cat.intern_genre(n);
    }
    for t in titles {
        t.insert_into(&mut cat);
    }
    cat
}

/// The latest feature record of every user in `user-behavior-features`.
pub async fn load_features(bootstrap: &str, topic: &str) -> Result<Vec<FeatureRecord>, EdgeError> {
    let mut latest: HashMap<UserId, Option<FeatureRecord>> = HashMap::new();
    let mut bad = 0usize;
    for r in read_to_end(bootstrap, topic).await? {
        let Some(user) = r.key_id() else {
            bad += 1;
            continue;
        };
        match r
            .value
            .as_deref()
            .map(serde_json::from_slice::<FeatureRecord>)
        {
            None => {
                latest.insert(user, None);
            }
            Some(Ok(rec)) => {
                latest.insert(user, Some(rec));
            }
            Some(Err(_)) => bad += 1,
        }
    }
    if bad > 0 {
        tracing::warn!(bad, "unreadable feature records skipped");
    }
    let mut out: Vec<FeatureRecord> = latest.into_values().flatten().collect();
    out.sort_by_key(|r| r.user_id);
    Ok(out)
}

/// The latest profile of every user in `user-profiles`.
pub async fn load_profiles(bootstrap: &str) -> Result<Vec<UserProfile>, EdgeError> {
    let mut latest: HashMap<UserId, Option<UserProfile>> = HashMap::new();
    for r in read_to_end(bootstrap, topics::USER_PROFILES).await? {
        let Some(user) = r.key_id() else { continue };
        let profile = r
            .value
            .as_deref()
            .and_then(|v| serde_json::from_slice::<UserProfile>(v).ok());
        latest.insert(user, profile);
    }
    Ok(latest.into_values().flatten().collect())
}
