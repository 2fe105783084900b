//! The simulator's catalogue: movies and series with seasons and episodes in a handful of
//! genres, generated from the seed.

use crate::catalogue::{Catalogue, Title, TitleKind};
use crate::event::TitleId;

use super::rng::Rng;

/// The genres of the simulated catalogue; index 0 is the one the integration test binges.
pub const GENRES: [&str; 8] = [
    "Sci-Fi",
    "Drama",
    "Comedy",
    "Action",
    "Documentary",
    "Thriller",
    "Romance",
    "Animation",
];

/// Movies per genre.
pub const MOVIES_PER_GENRE: u32 = 30;
/// Series per genre.
pub const SERIES_PER_GENRE: u32 = 2;
/// Seasons per series.
pub const SEASONS: u16 = 2;
/// Episodes per season.
pub const EPISODES: u16 = 8;
/// Id of the first series; series ids step by 100, episodes are `series + 20 * season + ep`.
pub const FIRST_SERIES: TitleId = 10_000;

const WORDS_A: [&str; 12] = [
    "Silent", "Crimson", "Last", "Hidden", "Broken", "Golden", "Distant", "Wild", "Iron", "Paper",
    "Midnight", "Electric",
];
const WORDS_B: [&str; 12] = [
    "Harbor", "Signal", "Garden", "Frontier", "Empire", "River", "Orbit", "Letters", "Winter",
    "Circuit", "Kingdom", "Echo",
];

/// The catalogue for `seed`.
pub fn generate(seed: u64) -> Catalogue {
    let mut rng = Rng::new(seed ^ 0xC0FF_EE00);
    let mut cat = Catalogue::new();
    // Genre ids in name order, as every reader of `title-metadata` assigns them.
    let mut sorted = GENRES;
    sorted.sort_unstable();
    for g in sorted {
        cat.intern_genre(g);
    }
    let genres: Vec<u16> = GENRES.iter().map(|g| cat.intern_genre(g)).collect();
    let name = |rng: &mut Rng, g: usize| {
        format!(
            "{} {} ({})",
            WORDS_A[rng.below(WORDS_A.len())],
            WORDS_B[rng.below(WORDS_B.len())],
            GENRES[g]
        )
    };
    let mut id: TitleId = 1;
    for (g, gid) in genres.iter().enumerate() {
        for _ in 0..MOVIES_PER_GENRE {
            let mut gs = vec![*gid];
            if rng.chance(0.2) {
                gs.push(genres[rng.below(genres.len())]);
            }
            gs.sort_unstable();
            gs.dedup();
            cat.insert(Title {
                id,
                name: name(&mut rng, g),
                year: Some(1980 + rng.below(46) as u16),
                genres: gs,
                kind: TitleKind::Movie,
            });
            id += 1;
        }
    }
    let mut series_id = FIRST_SERIES;
    for (g, gid) in genres.iter().enumerate() {
        for _ in 0..SERIES_PER_GENRE {
            let series_name = name(&mut rng, g);
            cat.insert(Title {
                id: series_id,
                name: series_name.clone(),
                year: Some(2000 + rng.below(26) as u16),
                genres: vec![*gid],
                kind: TitleKind::Series,
            });
            for season in 1..=SEASONS {
                for episode in 1..=EPISODES {
                    cat.insert(Title {
                        id: series_id + 20 * TitleId::from(season) + TitleId::from(episode),
                        name: format!("{series_name} S{season}E{episode}"),
                        year: None,
                        genres: vec![*gid],
                        kind: TitleKind::Episode {
                            series_id,
                            season,
                            episode,
                        },
                    });
                }
            }
            series_id += 100;
        }
    }
    cat
}

/// The movies of genre index `g` (into [`GENRES`]).
pub fn movies_of(g: usize) -> std::ops::Range<TitleId> {
    let start = 1 + g as TitleId * MOVIES_PER_GENRE;
    start..start + MOVIES_PER_GENRE
}

/// The series of genre index `g`.
pub fn series_of(g: usize) -> Vec<TitleId> {
    (0..SERIES_PER_GENRE)
        .map(|k| FIRST_SERIES + 100 * (g as TitleId * SERIES_PER_GENRE + k))
        .collect()
}

/// The first episode of a series.
pub fn first_episode(series: TitleId) -> TitleId {
    series + 21
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::TitleRecord;
    use crate::process::tables::catalogue_of;

    #[test]
    fn genre_ids_match_a_catalogue_read_back_from_title_records() {
        let cat = generate(9);
        let mut records: Vec<TitleRecord> =
            cat.titles().map(|t| TitleRecord::of(t, &cat)).collect();
        records.reverse();
        let back = catalogue_of(&records);
        assert_eq!(back.len(), cat.len());
        for t in cat.titles() {
            assert_eq!(back.genres_of(t.id), cat.genres_of(t.id), "title {}", t.id);
        }
    }
}
