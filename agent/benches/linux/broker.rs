//! What the service's key costs its session worker: the relay's sign-in challenge answered with
//! the key in process, beside the same answer asked of the key holder over a Unix socket pair
//! (a session worker's sign-in). A bench binary that prints a table.
//!
//! Run: `cargo bench -p tether-agent --bench broker`.
// Linux only; elsewhere an empty program, so that the workspace builds on every OS.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use tether_agent::machine::{AgentConfig, KeyStoreKind, MachineIdentity, broker};
use tether_tests::percentile_ms;

const ROUNDS: usize = 20_000;
/// As long as the relay's nonces (32 random bytes, base64url).
const NONCE: &str = "q3M8cX1-9fP0aZ_7YbTnR2kLw4sVdE6uHgJiOoQeUyA";

async fn time(identity: &MachineIdentity) -> Vec<Duration> {
    let mut out = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let answer = identity.answer(NONCE).await.expect("an answer");
        out.push(t.elapsed());
        assert_eq!(answer.len(), 86, "a base64url Ed25519 signature");
    }
    out.sort();
    out
}

#[tokio::main]
async fn main() {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let held = MachineIdentity::from_pkcs8(1, pkcs8.as_ref()).unwrap();
    let config = AgentConfig {
        relay: "https://relay.example".into(),
        machine_id: 1,
        key_store: KeyStoreKind::File,
        key_file: None,
        ca_file: None,
        name: None,
        display: None,
    };
    let (service_end, worker_end) = tokio::net::UnixStream::pair().unwrap();
    let service = held.clone();
    tokio::spawn(async move { broker::serve(&service, &config, service_end).await });
    let (_, worker) = broker::connect(worker_end).await.unwrap();

    let direct = time(&held).await;
    let brokered = time(&worker).await;
    println!(
        "{} challenge answers each; {}",
        ROUNDS,
        tether_tests::machine()
    );
    println!("| answer | p50 | p99 |");
    println!("| --- | --- | --- |");
    for (name, v) in [
        ("key in process", direct),
        ("through the service (socket pair)", brokered),
    ] {
        println!(
            "| {name} | {:.3} ms | {:.3} ms |",
            percentile_ms(&v, 0.5),
            percentile_ms(&v, 0.99)
        );
    }
}
