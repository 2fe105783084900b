//! The title catalogue (movies, series and their episodes, genres, year) and its MovieLens
//! loaders: ml-100k's `u.item` + `u.genre` and ml-latest-small's `movies.csv`.
//!
//! Thread-safety: a `Catalogue` is plain data, built once and then only read; share it behind an
//! `Arc` between threads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::event::TitleId;

/// Index of a genre in [`Catalogue::genre_names`].
pub type GenreId = u16;

/// Why a data file could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line does not have the documented format.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The directory holds none of the files of a known MovieLens release.
    #[error("{0} is not a MovieLens ml-100k or ml-latest-small directory")]
    UnknownDataset(PathBuf),
}

/// What kind of title this is; episodes point at their series so that binge signals can group
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleKind {
    /// A film.
    Movie,
    /// A series as a whole (what rows recommend).
    Series,
    /// One episode of a series.
    Episode {
        /// The series it belongs to.
        series_id: TitleId,
        /// Season number, from 1.
        season: u16,
        /// Episode number within the season, from 1.
        episode: u16,
    },
}

/// One title of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title {
    /// Its identity, as used in events.
    pub id: TitleId,
    /// Display name.
    pub name: String,
    /// Release year, when known.
    pub year: Option<u16>,
    /// Genres, as indexes into [`Catalogue::genre_names`], ascending.
    pub genres: Vec<GenreId>,
    /// Movie, series or episode.
    pub kind: TitleKind,
}

/// All titles and genre names.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// Titles by id; a BTreeMap so that iteration is deterministic.
    titles: BTreeMap<TitleId, Title>,
    /// Genre names, indexed by [`GenreId`].
    genre_names: Vec<String>,
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Catalogue {
        Catalogue::default()
    }

    /// Returns the id of a genre, adding it if new.
    pub fn intern_genre(&mut self, name: &str) -> GenreId {
        if let Some(i) = self.genre_names.iter().position(|g| g == name) {
            return i as GenreId;
        }
        self.genre_names.push(name.to_string());
        (self.genre_names.len() - 1) as GenreId
    }

    /// Adds or replaces a title.
    pub fn insert(&mut self, title: Title) {
        self.titles.insert(title.id, title);
    }

    /// Looks a title up.
    pub fn get(&self, id: TitleId) -> Option<&Title> {
        self.titles.get(&id)
    }

    /// The genres of a title (empty if the title is unknown).
    pub fn genres_of(&self, id: TitleId) -> &[GenreId] {
        self.titles.get(&id).map_or(&[], |t| t.genres.as_slice())
    }

    /// The genres a title counts for: an episode's are its series' (genres live on series),
    /// unless the series has none.
    pub fn genres_with_series(&self, id: TitleId) -> &[GenreId] {
        match self.get(id).map(|t| &t.kind) {
            Some(TitleKind::Episode { series_id, .. })
                if !self.genres_of(*series_id).is_empty() =>
            {
                self.genres_of(*series_id)
            }
            _ => self.genres_of(id),
        }
    }

    /// A genre's name.
    pub fn genre_name(&self, id: GenreId) -> Option<&str> {
        self.genre_names.get(usize::from(id)).map(String::as_str)
    }

    /// Number of genres.
    pub fn genre_count(&self) -> usize {
        self.genre_names.len()
    }

    /// Number of titles.
    pub fn len(&self) -> usize {
        self.titles.len()
    }

    /// Whether there are no titles.
    pub fn is_empty(&self) -> bool {
        self.titles.is_empty()
    }

    /// All titles in id order.
    pub fn titles(&self) -> impl Iterator<Item = &Title> {
        self.titles.values()
    }

    /// The episode that follows `episode` in its series: the next number in the same season,
    /// else the first of the next season.
    pub fn next_episode(&self, episode: TitleId) -> Option<TitleId> {
        let TitleKind::Episode {
            series_id,
            season,
            episode: number,
        } = self.get(episode)?.kind
        else {
            return None;
        };
        self.titles
            .values()
            .filter_map(|t| match t.kind {
                TitleKind::Episode {
                    series_id: s,
                    season: se,
                    episode: ep,
                } if s == series_id && (se, ep) > (season, number) => Some(((se, ep), t.id)),
                _ => None,
            })
            .min()
            .map(|(_, id)| id)
    }

    /// Loads whichever MovieLens catalogue `dir` holds (`u.item` or `movies.csv`).
    pub fn load_movielens(dir: &Path) -> Result<Catalogue, LoadError> {
        if dir.join("u.item").is_file() {
            Catalogue::load_ml100k(dir)
        } else if dir.join("movies.csv").is_file() {
            Catalogue::load_ml_latest(&dir.join("movies.csv"))
        } else {
            Err(LoadError::UnknownDataset(dir.to_path_buf()))
        }
    }

    /// Loads ml-100k's `u.genre` and `u.item` (pipe-separated, latin-1, one 0/1 flag per genre).
    pub fn load_ml100k(dir: &Path) -> Result<Catalogue, LoadError> {
        let mut cat = Catalogue::new();
        let genre_path = dir.join("u.genre");
        let mut by_index: BTreeMap<usize, String> = BTreeMap::new();
        for (n, line) in read_latin1(&genre_path)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (name, idx) = line
                .split_once('|')
                .ok_or_else(|| parse_err(&genre_path, n, "expected name|index"))?;
            let idx: usize = idx
                .trim()
                .parse()
                .map_err(|_| parse_err(&genre_path, n, "bad genre index"))?;
            by_index.insert(idx, name.to_string());
        }
        let flag_names: Vec<String> = by_index.into_values().collect();
        let flag_ids: Vec<GenreId> = flag_names.iter().map(|g| cat.intern_genre(g)).collect();

        let item_path = dir.join("u.item");
        for (n, line) in read_latin1(&item_path)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('|').collect();
            if fields.len() < 5 + flag_ids.len() {
                return Err(parse_err(&item_path, n, "too few fields"));
            }
            let id: TitleId = fields[0]
                .parse()
                .map_err(|_| parse_err(&item_path, n, "bad movie id"))?;
            let genres = fields[5..5 + flag_ids.len()]
                .iter()
                .zip(&flag_ids)
                .filter(|(flag, _)| flag.trim() == "1")
                .map(|(_, g)| *g)
                .collect();
            let year = year_from_title(fields[1]).or_else(|| year_from_date(fields[2]));
            cat.insert(Title {
                id,
                name: fields[1].to_string(),
                year,
                genres: sorted(genres),
                kind: TitleKind::Movie,
            });
        }
        Ok(cat)
    }

    /// Loads ml-latest-small's `movies.csv` (quoted CSV with a header; genres `|`-separated,
    /// `(no genres listed)` meaning none).
    pub fn load_ml_latest(path: &Path) -> Result<Catalogue, LoadError> {
        let mut cat = Catalogue::new();
        let text = read_utf8(path)?;
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let fields = split_csv_line(line).ok_or_else(|| parse_err(path, n, "bad quoting"))?;
            let [id, name, genres] = fields.as_slice() else {
                return Err(parse_err(path, n, "expected movieId,title,genres"));
            };
            let id: TitleId = id.parse().map_err(|_| parse_err(path, n, "bad movie id"))?;
            let genres = genres
                .split('|')
                .filter(|g| !g.is_empty() && *g != "(no genres listed)")
                .map(|g| cat.intern_genre(g))
                .collect();
            cat.insert(Title {
                id,
                name: name.trim().to_string(),
                year: year_from_title(name),
                genres: sorted(genres),
                kind: TitleKind::Movie,
            });
        }
        Ok(cat)
    }
}

fn sorted(mut v: Vec<GenreId>) -> Vec<GenreId> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Reads a latin-1 file: every byte is the code point of the same value.
pub(crate) fn read_latin1(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

/// Reads a UTF-8 file, replacing invalid sequences rather than failing on one odd title.
pub(crate) fn read_utf8(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub(crate) fn parse_err(path: &Path, zero_based_line: usize, reason: &str) -> LoadError {
    LoadError::Parse {
        path: path.to_path_buf(),
        line: zero_based_line + 1,
        reason: reason.to_string(),
    }
}

/// Splits one CSV line (RFC 4180 quoting, `""` for a quote inside quotes). `None` if a quoted
/// field is not closed.
pub(crate) fn split_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() => in_quotes = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    if in_quotes {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// The year in a MovieLens title such as `Toy Story (1995)` (the last parenthesised 4 digits).
fn year_from_title(title: &str) -> Option<u16> {
    let t = title.trim_end();
    let open = t.rfind('(')?;
    let inner = t[open + 1..].strip_suffix(')')?;
    let inner = inner.split('-').next()?;
    if inner.len() == 4 {
        inner.parse().ok()
    } else {
        None
    }
}

/// The year in an ml-100k release date such as `01-Jan-1995`.
fn year_from_date(date: &str) -> Option<u16> {
    date.rsplit('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(
            split_csv_line(r#"11,"American President, The (1995)",Comedy|Drama|Romance"#).unwrap(),
            vec![
                "11",
                "American President, The (1995)",
                "Comedy|Drama|Romance"
            ]
        );
        assert_eq!(
            split_csv_line(r#"1,"Say ""Hi"" (2001)",Drama"#).unwrap(),
            vec!["1", r#"Say "Hi" (2001)"#, "Drama"]
        );
        assert!(split_csv_line(r#"1,"open,Drama"#).is_none());
    }

    #[test]
    fn years() {
        assert_eq!(year_from_title("Toy Story (1995)"), Some(1995));
        assert_eq!(year_from_title("Babylon 5 "), None);
        assert_eq!(year_from_title("Stranger Things (2016-)"), Some(2016));
        assert_eq!(year_from_date("01-Jan-1995"), Some(1995));
    }

    #[test]
    fn loads_small_files() {
        let dir = std::env::temp_dir().join(format!("reco-cat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("u.genre"), "unknown|0\nAction|1\nComedy|2\n\n").unwrap();
        // 0xE9 is latin-1 'é'.
        let mut item = b"1|Caf\xe9 (1995)|01-Jan-1995||http://x|0|1|1\n".to_vec();
        item.extend_from_slice(b"2|unknown||||1|0|0\n");
        std::fs::write(dir.join("u.item"), item).unwrap();
        let cat = Catalogue::load_movielens(&dir).unwrap();
        let t = cat.get(1).unwrap();
        assert_eq!(t.name, "Café (1995)");
        assert_eq!(t.year, Some(1995));
        let names: Vec<_> = t
            .genres
            .iter()
            .map(|g| cat.genre_name(*g).unwrap())
            .collect();
        assert_eq!(names, vec!["Action", "Comedy"]);
        assert_eq!(cat.get(2).unwrap().year, None);

        std::fs::write(
            dir.join("movies.csv"),
            "movieId,title,genres\n5,\"Father of the Bride, Part II (1995)\",Comedy\n\
             9,Nothing (2001),(no genres listed)\n",
        )
        .unwrap();
        let cat = Catalogue::load_ml_latest(&dir.join("movies.csv")).unwrap();
        assert_eq!(
            cat.get(5).unwrap().name,
            "Father of the Bride, Part II (1995)"
        );
        assert!(cat.get(9).unwrap().genres.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
