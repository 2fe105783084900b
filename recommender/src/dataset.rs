//! A MovieLens data set on disk turned into what the live pipeline sees: a catalogue and a
//! time-ordered stream of rating [`Event`]s.
//!
//! Order is by (timestamp, row in the file): MovieLens timestamps have one-second resolution and
//! many ties, and the file order is the only stable way to break them.

use std::path::Path;

use crate::catalogue::{parse_err, read_utf8, Catalogue, LoadError};
use crate::event::{Event, TitleId, UserId};

/// A loaded data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Short name for reports (the directory name, e.g. `ml-100k`).
    pub name: String,
    /// The titles.
    pub catalogue: Catalogue,
    /// Rating events sorted by (timestamp, file row).
    pub events: Vec<Event>,
}

impl Dataset {
    /// Loads ml-100k (`u.data`) or ml-latest-small (`ratings.csv`) from `dir`.
    pub fn load(dir: &Path) -> Result<Dataset, LoadError> {
        let catalogue = Catalogue::load_movielens(dir)?;
        let rows = if dir.join("u.data").is_file() {
            read_ml100k_ratings(&dir.join("u.data"))?
        } else if dir.join("ratings.csv").is_file() {
            read_ml_latest_ratings(&dir.join("ratings.csv"))?
        } else {
            return Err(LoadError::UnknownDataset(dir.to_path_buf()));
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(Dataset {
            name,
            catalogue,
            events: sort_rows(rows),
        })
    }
}

/// One rating as read: user, title, stars, seconds since the epoch.
type Row = (UserId, TitleId, f32, i64);

/// Sorts by (timestamp, row) and turns the rows into events.
pub fn sort_rows(rows: Vec<Row>) -> Vec<Event> {
    let mut indexed: Vec<(usize, Row)> = rows.into_iter().enumerate().collect();
    indexed.sort_by_key(|(row, r)| (r.3, *row));
    indexed
        .into_iter()
        .map(|(_, (u, i, v, ts))| Event::rating(u, i, v, ts.saturating_mul(1000)))
        .collect()
}

/// ml-100k `u.data`: `user \t item \t rating \t timestamp`.
fn read_ml100k_ratings(path: &Path) -> Result<Vec<Row>, LoadError> {
    let text = read_utf8(path)?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        rows.push(parse_row(&f, path, n)?);
    }
    Ok(rows)
}

/// ml-latest-small `ratings.csv`: header, then `userId,movieId,rating,timestamp`.
fn read_ml_latest_ratings(path: &Path) -> Result<Vec<Row>, LoadError> {
    let text = read_utf8(path)?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        rows.push(parse_row(&f, path, n)?);
    }
    Ok(rows)
}

fn parse_row(f: &[&str], path: &Path, n: usize) -> Result<Row, LoadError> {
    let [u, i, r, t] = f else {
        return Err(parse_err(path, n, "expected 4 fields"));
    };
    let bad = |what: &str| parse_err(path, n, what);
    let rating: f32 = r.trim().parse().map_err(|_| bad("bad rating"))?;
    if !(0.5..=5.0).contains(&rating) {
        return Err(bad("rating out of range"));
    }
    Ok((
        u.trim().parse().map_err(|_| bad("bad user id"))?,
        i.trim().parse().map_err(|_| bad("bad item id"))?,
        rating,
        t.trim().parse().map_err(|_| bad("bad timestamp"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_timestamp_then_row() {
        let ev = sort_rows(vec![(1, 10, 4.0, 5), (2, 20, 3.0, 3), (3, 30, 1.0, 5)]);
        let order: Vec<_> = ev.iter().map(|e| e.user_id).collect();
        assert_eq!(order, vec![2, 1, 3]);
        assert_eq!(ev[0].timestamp_ms, 3000);
    }
}
