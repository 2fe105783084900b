//! `Member`: one member of a classic group, and the parsing of consumer subscriptions.

use bytes::Bytes;

use super::coordinator::RequestToken;

/// A request the coordinator holds until the group reaches the point that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parked {
    /// The caller's handle for the request.
    pub token: RequestToken,
    /// The request's API version: the parked response must be built for it.
    pub version: i16,
}

/// One member of a classic group. Owned by its `Group`; not shared between threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Coordinator-assigned id (`<client_id>-<uuid>`).
    pub member_id: String,
    /// KIP-345 static instance id.
    pub group_instance_id: Option<String>,
    /// Client id of the last JoinGroup.
    pub client_id: String,
    /// Client address of the last JoinGroup.
    pub client_host: String,
    /// How long a rebalance may wait for this member to rejoin.
    pub rebalance_timeout_ms: i32,
    /// How long the member may go without a heartbeat.
    pub session_timeout_ms: i32,
    /// Supported protocols in the member's order of preference, with their metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// The member's assignment in the current generation (empty byte string when none).
    pub assignment: Bytes,
    /// Its JoinGroup, parked until the join phase completes.
    pub awaiting_join: Option<Parked>,
    /// Its SyncGroup, parked until the leader's assignment arrives.
    pub awaiting_sync: Option<Parked>,
    /// When the session expires unless a heartbeat (or sync, or commit) arrives. Not applied
    /// while a join or sync is parked: the rebalance and sync deadlines govern those.
    pub heartbeat_deadline: i64,
}

impl Member {
    /// The member's metadata for `protocol`, if it supports it.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, metadata)| metadata)
    }

    /// Whether `protocols` equals what the member last sent (names, order and metadata).
    pub fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// The member's vote among `candidates`: its most preferred protocol that all members
    /// support.
    pub fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Whether the member's session has run out at `now_ms`.
    pub fn session_expired(&self, now_ms: i64) -> bool {
        self.awaiting_join.is_none()
            && self.awaiting_sync.is_none()
            && self.heartbeat_deadline <= now_ms
    }

    /// The deadline the session check is waiting for, if one applies now.
    pub fn session_deadline(&self) -> Option<i64> {
        (self.awaiting_join.is_none() && self.awaiting_sync.is_none())
            .then_some(self.heartbeat_deadline)
    }

    /// Restarts the session clock after a sign of life.
    pub fn touch(&mut self, now_ms: i64) {
        self.heartbeat_deadline = now_ms.saturating_add(i64::from(self.session_timeout_ms));
    }
}

/// Topics named in a `ConsumerProtocolSubscription` (any version: all start with a version
/// `i16` and a non-flexible array of strings). `None` when the bytes do not parse, which
/// callers treat as "may be subscribed to anything". Nothing is allocated from the counts
/// before the bytes backing them have been seen.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut rest = metadata.get(2..)?;
    let count = take_i32(&mut rest)?;
    if count < 0 {
        return None;
    }
    let mut topics = Vec::new();
    for _ in 0..count {
        let len = usize::try_from(take_i16(&mut rest)?).ok()?;
        let name = rest.get(..len)?;
        topics.push(String::from_utf8(name.to_vec()).ok()?);
        rest = &rest[len..];
    }
    Some(topics)
}

fn take_i16(rest: &mut &[u8]) -> Option<i16> {
    let bytes: [u8; 2] = rest.get(..2)?.try_into().ok()?;
    *rest = &rest[2..];
    Some(i16::from_be_bytes(bytes))
}

fn take_i32(rest: &mut &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    *rest = &rest[4..];
    Some(i32::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_consumer_subscription_topics() {
        // version 1, two topics, then user data that must be ignored
        let mut raw = vec![0, 1, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c'];
        raw.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(subscribed_topics(&raw), Some(vec!["a".into(), "bc".into()]));
    }

    #[test]
    fn rejects_truncated_or_lying_subscriptions() {
        let cases: [&[u8]; 4] = [
            &[],
            &[0, 1, 0, 0],
            &[0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 1, b'a'],
            &[0, 1, 0, 0, 0, 1, 0, 9, b'a'],
        ];
        for raw in cases {
            assert_eq!(subscribed_topics(raw), None, "{raw:?}");
        }
    }
}
