//! `listeners`, `advertised.listeners` and `listener.security.protocol.map`: which named
//! plaintext listeners to bind and what Metadata tells the clients of each one.
//!
//! As in Kafka, a listener name is plaintext when the protocol map says so (`INTERNAL:PLAINTEXT`)
//! or when the name is `PLAINTEXT` itself; names of other protocols (SSL, SASL) and the KRaft
//! `controller.listener.names` are skipped with a warning, since this broker only speaks
//! plaintext and has no controller listener. A client is told the advertised address of the
//! listener its connection arrived on, so one listener can serve containers on a private network
//! (`INTERNAL://broker:29092`) and another the host (`EXTERNAL://localhost:9092`).

use std::collections::BTreeMap;

use super::{invalid, parse_host_port, ConfigError, HostPort};

/// One named plaintext listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedListener {
    /// The listener name (`PLAINTEXT`, `INTERNAL`, ...), upper-cased as Kafka compares them.
    pub name: String,
    /// Where to bind.
    pub bind: HostPort,
    /// Its `advertised.listeners` entry; `None` = the bound address.
    pub advertised: Option<HostPort>,
}

/// The plaintext listeners of `all` in `listeners` order (the first is the primary), each with
/// its advertised address. `None` when `listeners` is not set.
pub(super) fn resolve(
    all: &BTreeMap<String, String>,
) -> Result<Option<Vec<NamedListener>>, ConfigError> {
    let plaintext = PlaintextNames::new(all)?;
    let advertised = match all.get("advertised.listeners") {
        Some(value) => plaintext.entries("advertised.listeners", value)?,
        None => Vec::new(),
    };
    let Some(value) = all.get("listeners") else {
        // The default listener is PLAINTEXT; only its advertised address can be set.
        return match advertised.as_slice() {
            [] => Ok(None),
            [(name, hp)] if name == "PLAINTEXT" => Ok(Some(vec![NamedListener {
                name: name.clone(),
                bind: super::BrokerConfig::default().listener,
                advertised: Some(hp.clone()),
            }])),
            _ => Err(unbound("advertised.listeners", all)),
        };
    };
    let bound = plaintext.entries("listeners", value)?;
    if bound.is_empty() {
        return Err(invalid(
            "listeners",
            value,
            "no PLAINTEXT listener (a NAME://host:port whose name maps to PLAINTEXT)",
        ));
    }
    if let Some((name, _)) = advertised
        .iter()
        .find(|(a, _)| !bound.iter().any(|(b, _)| a == b))
    {
        let value = all.get("advertised.listeners").map_or("", String::as_str);
        return Err(invalid(
            "advertised.listeners",
            value,
            format!("'{name}' is not one of the listeners"),
        ));
    }
    Ok(Some(
        bound
            .into_iter()
            .map(|(name, bind)| {
                let advertised = advertised
                    .iter()
                    .find(|(a, _)| *a == name)
                    .map(|(_, hp)| hp.clone());
                NamedListener {
                    name,
                    bind,
                    advertised,
                }
            })
            .collect(),
    ))
}

fn unbound(key: &str, all: &BTreeMap<String, String>) -> ConfigError {
    let value = all.get(key).map_or("", String::as_str);
    invalid(
        key,
        value,
        "only PLAINTEXT can be advertised when `listeners` is not set",
    )
}

/// Which listener names are plaintext listeners this broker binds.
struct PlaintextNames {
    /// `listener.security.protocol.map`, names upper-cased.
    protocols: BTreeMap<String, String>,
    /// `controller.listener.names`, upper-cased.
    controller: Vec<String>,
}

impl PlaintextNames {
    fn new(all: &BTreeMap<String, String>) -> Result<PlaintextNames, ConfigError> {
        const KEY: &str = "listener.security.protocol.map";
        let mut protocols = BTreeMap::new();
        if let Some(value) = all.get(KEY) {
            for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (name, protocol) = entry.split_once(':').ok_or_else(|| {
                    invalid(KEY, value, format!("'{entry}' is not NAME:PROTOCOL"))
                })?;
                protocols.insert(
                    name.trim().to_ascii_uppercase(),
                    protocol.trim().to_ascii_uppercase(),
                );
            }
        }
        let controller = all
            .get("controller.listener.names")
            .map(|v| {
                v.split(',')
                    .map(|n| n.trim().to_ascii_uppercase())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(PlaintextNames {
            protocols,
            controller,
        })
    }

    fn is_plaintext(&self, name: &str) -> bool {
        if self.controller.iter().any(|c| c == name) {
            return false;
        }
        match self.protocols.get(name) {
            Some(protocol) => protocol == "PLAINTEXT",
            None => name == "PLAINTEXT",
        }
    }

    /// The plaintext `NAME://host:port` entries of a listener list, in order; others are
    /// skipped with a warning. A name given twice is refused, as Kafka does.
    fn entries(&self, key: &str, value: &str) -> Result<Vec<(String, HostPort)>, ConfigError> {
        let mut found: Vec<(String, HostPort)> = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, address) = entry
                .split_once("://")
                .ok_or_else(|| invalid(key, value, format!("'{entry}' is not NAME://host:port")))?;
            let name = name.to_ascii_uppercase();
            if !self.is_plaintext(&name) {
                tracing::warn!(key, listener = entry, "ignoring a non-PLAINTEXT listener");
                continue;
            }
            if found.iter().any(|(n, _)| *n == name) {
                return Err(invalid(
                    key,
                    value,
                    format!("listener '{name}' given twice"),
                ));
            }
            found.push((name, parse_host_port(key, value, address)?));
        }
        Ok(found)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap.
mod tests {
    use super::*;

    use crate::test_util::string_map as map;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn two_named_listeners_each_with_its_advertised_address() {
        let all = map(&[
            (
                "listeners",
                "INTERNAL://0.0.0.0:29092, external://0.0.0.0:9092",
            ),
            (
                "advertised.listeners",
                "EXTERNAL://localhost:9092,INTERNAL://broker:29092",
            ),
            (
                "listener.security.protocol.map",
                "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
            ),
        ]);
        let listeners = resolve(&all).unwrap().unwrap();
        assert_eq!(
            listeners,
            vec![
                NamedListener {
                    name: "INTERNAL".into(),
                    bind: hp("0.0.0.0", 29092),
                    advertised: Some(hp("broker", 29092)),
                },
                NamedListener {
                    name: "EXTERNAL".into(),
                    bind: hp("0.0.0.0", 9092),
                    advertised: Some(hp("localhost", 9092)),
                },
            ]
        );
    }

    #[test]
    fn kraft_controller_and_unmapped_names_are_skipped() {
        let all = map(&[
            (
                "listeners",
                "PLAINTEXT://:9092,CONTROLLER://:9093,SSL://:9094",
            ),
            ("controller.listener.names", "CONTROLLER"),
            (
                "listener.security.protocol.map",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL",
            ),
        ]);
        let listeners = resolve(&all).unwrap().unwrap();
        assert_eq!(listeners.len(), 1);
        assert_eq!(listeners[0].bind, hp("", 9092));
        assert_eq!(listeners[0].advertised, None);
        // Without a protocol map only the name PLAINTEXT is plaintext.
        let all = map(&[("listeners", "INTERNAL://:1,PLAINTEXT://:2")]);
        assert_eq!(resolve(&all).unwrap().unwrap()[0].bind, hp("", 2));
    }

    #[test]
    fn mistakes_are_refused() {
        let refused = |pairs: &[(&str, &str)]| resolve(&map(pairs)).is_err();
        let protocols = ("listener.security.protocol.map", "A:PLAINTEXT,B:PLAINTEXT");
        assert!(refused(&[("listeners", "A://:1,A://:2"), protocols]));
        assert!(refused(&[
            ("listeners", "A://:1"),
            ("advertised.listeners", "B://x:1"),
            protocols
        ]));
        assert!(refused(&[("listeners", "SSL://:1")]));
        assert!(refused(&[
            ("listeners", "A://:1"),
            ("listener.security.protocol.map", "A")
        ]));
        assert!(refused(&[("advertised.listeners", "A://x:1"), protocols]));
        assert!(!refused(&[("advertised.listeners", "PLAINTEXT://x:1")]));
    }
}
