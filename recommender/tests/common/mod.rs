//! The broker the integration tests run against: ours in-process, or the one in
//! `RECOMMENDER_TEST_BOOTSTRAP` (a fresh Kafka per test run: the tests assume empty topics).

#![allow(dead_code)] // Each test crate uses a different part of this module.

use recommender::up::EmbeddedBroker;

/// A broker for one test, stopped by [`TestBroker::stop`].
pub struct TestBroker {
    pub bootstrap: String,
    embedded: Option<EmbeddedBroker>,
    _dir: tempfile::TempDir,
}

/// Starts our broker in-process on a free port, unless `RECOMMENDER_TEST_BOOTSTRAP` names one.
pub async fn broker() -> TestBroker {
    let dir = tempfile::tempdir().unwrap();
    let (bootstrap, embedded) = match std::env::var("RECOMMENDER_TEST_BOOTSTRAP") {
        Ok(b) => (b, None),
        Err(_) => {
            let e = EmbeddedBroker::start("127.0.0.1:0".parse().unwrap(), dir.path().into())
                .await
                .unwrap();
            (e.address.to_string(), Some(e))
        }
    };
    TestBroker {
        bootstrap,
        embedded,
        _dir: dir,
    }
}

impl TestBroker {
    /// Stops the in-process broker, if this test started one.
    pub async fn stop(self) {
        if let Some(e) = self.embedded {
            e.stop().await.unwrap();
        }
    }
}
