//! Checks against the real MovieLens files in the shared data directory (skipped, with a
//! printed reason, when they are absent).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use recommender::catalogue::Catalogue;
use recommender::dataset::Dataset;
use recommender::eval::prequential;
use recommender::model::{build, HybridConfig, MostPop};

fn data_dir(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} not found", dir.display());
        None
    }
}

#[test]
fn catalogues_load() {
    if let Some(d) = data_dir("ml-100k") {
        let c = Catalogue::load_movielens(&d).unwrap();
        assert_eq!(c.len(), 1682);
        assert_eq!(c.genre_count(), 19);
        let toy = c.get(1).unwrap();
        assert_eq!(
            (toy.name.as_str(), toy.year),
            ("Toy Story (1995)", Some(1995))
        );
        let genres: Vec<&str> = toy
            .genres
            .iter()
            .map(|g| c.genre_name(*g).unwrap())
            .collect();
        assert_eq!(genres, vec!["Animation", "Children's", "Comedy"]);
    }
    if let Some(d) = data_dir("ml-latest-small") {
        let c = Catalogue::load_movielens(&d).unwrap();
        assert_eq!(c.len(), 9742);
        assert_eq!(c.get(11).unwrap().name, "American President, The (1995)");
    }
}

#[test]
fn most_pop_reproduces_the_reference_hit_rate_on_ml_100k() {
    let Some(d) = data_dir("ml-100k") else { return };
    let data = Dataset::load(&d).unwrap();
    assert_eq!(data.events.len(), 100_000);
    let r = prequential(&mut MostPop::new(), &data.events, 5000, &mut |_| {});
    assert_eq!(r.all.events, 100_000);
    assert!(
        (r.all.hr() - 0.0770).abs() <= 0.0005,
        "HR@10 {}",
        r.all.hr()
    );
    assert_eq!(r.curve.len(), 20);
}

#[test]
fn hybrid_is_deterministic_on_real_data() {
    let Some(d) = data_dir("ml-100k") else { return };
    let data = Dataset::load(&d).unwrap();
    let events = &data.events[..15_000];
    let cat = Arc::new(data.catalogue.clone());
    let run = || {
        let mut m = build("Hybrid", cat.clone(), &HybridConfig::default()).unwrap();
        prequential(m.as_mut(), events, 1000, &mut |_| {})
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert!(a.all.hits > 0);
}
