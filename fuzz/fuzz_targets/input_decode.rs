//! Fuzz target: the input-frame decoder must never panic, and whatever it accepts must encode
//! back to exactly the same bytes (the layout is fixed, so there is one encoding per event).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::InputEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = InputEvent::decode(data) {
        assert_eq!(event.encode(), data);
    }
});
