//! Fuzz target: share-code parsing of arbitrary user input never panics, and an accepted code's
//! grouped form parses back to the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::ShareCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(code) = ShareCode::parse(text) {
        assert_eq!(ShareCode::parse(&code.grouped()).unwrap(), code);
    }
});
