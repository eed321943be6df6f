//! The Tether desktop app. Everything lives in the library, which tests can drive.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tether_desktop::run();
}
