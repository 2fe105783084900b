//! Arbitrary text through the `server.properties` parser and config validation: errors are
//! fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let pairs = broker::config::parse_properties(text);
        let _ = broker::BrokerConfig::from_pairs(pairs);
    }
});
