//! Regex subscriptions of KIP-848 consumer groups (ConsumerGroupHeartbeat v1
//! `subscribed_topic_regex`).
//!
//! Kafka compiles the pattern with RE2/J and a topic matches when the whole name matches. We use
//! `regex-automata`'s meta engine, whose syntax is RE2's family too (no backreferences, no
//! lookaround); the few differences (some RE2/J-only escapes and Unicode class names) only decide
//! whether an exotic pattern is accepted, never how a topic name (`[a-zA-Z0-9._-]`) matches.
//! Internal topics are never matched, as Kafka's consumers exclude them from pattern
//! subscriptions.
//!
//! Stateless functions; a compiled `Regex` is not kept (patterns are compiled when a member's
//! heartbeat or the load resolves them).

use std::collections::BTreeSet;

use regex_automata::meta::Regex;

use super::assignor::TopicsSnapshot;

/// Topics no regex subscription includes.
const INTERNAL_TOPICS: [&str; 2] = ["__consumer_offsets", "__transaction_state"];

/// Whether `pattern` compiles; the error says why not.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    Regex::new(pattern).map(|_| ()).map_err(|e| e.to_string())
}

/// `pattern` anchored at both ends, so that a match means the whole name matched. Only called
/// on a pattern that compiles on its own, so the added group cannot be closed early by it.
fn full_match(pattern: &str) -> Result<Regex, String> {
    check(pattern)?;
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())
}

/// The topics of `topics` that `pattern` matches as a whole (none when it does not compile).
pub(crate) fn resolve(pattern: &str, topics: &TopicsSnapshot) -> BTreeSet<String> {
    let Ok(re) = full_match(pattern) else {
        return BTreeSet::new();
    };
    topics
        .keys()
        .filter(|t| !INTERNAL_TOPICS.contains(&t.as_str()) && re.is_match(t.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::group::TopicInfo;

    fn snapshot(names: &[&str]) -> TopicsSnapshot {
        names
            .iter()
            .map(|n| {
                let info = TopicInfo {
                    id: uuid::Uuid::nil(),
                    partitions: 1,
                };
                (n.to_string(), info)
            })
            .collect::<BTreeMap<_, _>>()
    }

    #[test]
    fn whole_names_match_and_internal_topics_never_do() {
        let topics = snapshot(&[
            "orders",
            "orders-eu",
            "my-orders",
            "__consumer_offsets",
            "x",
        ]);
        let got = |p: &str| resolve(p, &topics).into_iter().collect::<Vec<_>>();
        assert_eq!(got("orders.*"), ["orders", "orders-eu"]);
        assert_eq!(got("orders"), ["orders"]);
        // An alternation is matched as a whole, not just its first branch.
        assert_eq!(got("x|orders-eu"), ["orders-eu", "x"]);
        assert_eq!(got(".*"), ["my-orders", "orders", "orders-eu", "x"]);
        assert_eq!(got("__.*"), Vec::<String>::new());
    }

    #[test]
    fn invalid_patterns_are_refused_and_match_nothing() {
        for bad in ["(", "a)|(b", "[z-a]", "a{2,1}"] {
            assert!(check(bad).is_err(), "{bad}");
            assert!(resolve(bad, &snapshot(&["a", "b"])).is_empty(), "{bad}");
        }
        assert!(check("orders-[0-9]+").is_ok());
    }
}
