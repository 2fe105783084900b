//! The recommender: a Kafka client application (see the README). Not built yet; this binary only
//! says so, so that the workspace layout is in place.

fn main() {
    eprintln!("recommender: not implemented yet (tracked in the project's issues)");
    std::process::exit(2);
}
