//! Fuzz target: the signaling decoder must never panic, and whatever it accepts must re-encode
//! to a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::signal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(msg) = signal::decode(text) {
        let again = signal::decode(&signal::encode(&msg)).expect("re-encoded message decodes");
        assert_eq!(again, msg);
    }
});
