//! The permission check against real X servers: one that has everything, one without XTEST
//! (shown but not controllable), and a display that does not exist.

use tether_agent::permissions::{self, Missing};
use tether_tests::x11::Xvfb;

#[test]
fn a_full_x_server_lacks_nothing() {
    let x = Xvfb::start(640, 480);
    assert_eq!(permissions::check(Some(&x.display)), Vec::<Missing>::new());
}

#[test]
fn without_xtest_input_is_missing() {
    let x = Xvfb::start_with(640, 480, &["-extension", "XTEST"]);
    assert_eq!(
        permissions::check(Some(&x.display)),
        vec![Missing::NoInputExtension]
    );
}

#[test]
fn an_unreachable_display_is_named() {
    let missing = permissions::check(Some(":4087"));
    assert!(
        matches!(missing.as_slice(), [Missing::NoDisplay { reason }] if !reason.is_empty()),
        "{missing:?}"
    );
    assert!(
        permissions::open_settings(&missing[0]).is_err(),
        "Linux has no settings page to open"
    );
}
