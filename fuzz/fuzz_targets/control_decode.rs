//! Fuzz target: the control-channel decoder must never panic, and whatever it accepts must
//! re-encode to a message that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::control;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = control::decode(data) {
        let again = control::decode(control::encode(&msg).as_bytes()).expect("re-encoded message decodes");
        assert_eq!(again, msg);
    }
});
