//! The webhook receiver peer (`tests/peers/webhook-receiver.mjs`), which verifies every delivery
//! with the official `standardwebhooks` npm library.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running receiver, killed on drop.
pub struct Receiver {
    child: Child,
    /// Where to POST events.
    pub url: String,
}

impl Receiver {
    /// Starts a receiver that requires every delivery to verify with each of `secrets` and
    /// answers 500 to the first `fail_first` verified deliveries.
    pub fn start(secrets: &[&str], fail_first: u32) -> Receiver {
        Receiver::spawn(secrets, ("FAIL_FIRST", fail_first))
    }

    /// Starts a receiver that never answers the first `hold_first` verified deliveries (logged with
    /// `answered: null`), so the sender is caught mid-delivery.
    pub fn holding(secrets: &[&str], hold_first: u32) -> Receiver {
        Receiver::spawn(secrets, ("HOLD_FIRST", hold_first))
    }

    fn spawn(secrets: &[&str], (behaviour, count): (&str, u32)) -> Receiver {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        assert!(
            std::path::Path::new(&format!("{root}/tests/node_modules/standardwebhooks")).exists(),
            "standardwebhooks is not installed: run `cargo xtask setup`"
        );
        let port = super::free_port();
        let mut child = Command::new("node")
            .arg(format!("{root}/tests/peers/webhook-receiver.mjs"))
            .env("PORT", port.to_string())
            .env("SECRETS", secrets.join(","))
            .env(behaviour, count.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the webhook receiver");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = lines.by_ref().map_while(Result::ok).any(|line| line.contains("listening on"));
        assert!(ready, "the webhook receiver exited before listening");
        std::thread::spawn(move || lines.for_each(drop));
        Receiver { child, url: format!("http://127.0.0.1:{port}/hooks") }
    }

    /// Every delivery seen: `{id, type, accountId, verified, answered}`.
    pub async fn log(&self) -> Vec<Value> {
        let url = self.url.replace("/hooks", "/__log");
        reqwest::get(url).await.expect("receiver answers").json().await.expect("log json")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
