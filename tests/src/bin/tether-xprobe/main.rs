//! `tether-xprobe`: a small X client for the browser end-to-end suite. It covers the screen with a
//! known scene (four solid quadrants), takes the keyboard focus, and prints every pointer and key
//! event it receives as one JSON line on stdout, with the wall-clock time it was read — so a test
//! can check where a click landed, what was typed, and how long input took to arrive. On standard
//! input it takes `fill ID X Y W H RRGGBB` orders, so a test can change the screen at a known moment
//! and time when the viewer shows it, and `monitors N`, which splits the screen into N RandR
//! monitors side by side (displays to switch between).
//!
//! ```text
//! {"event":"ready","width":1280,"height":720}
//! {"event":"motion","x":10,"y":20,"t_us":1795000000123456}
//! {"event":"button_press","button":1,"x":10,"y":20,"t_us":…}
//! {"event":"key_press","keycode":38,"keysym":97,"text":"a","t_us":…}
//! {"event":"painted","id":7,"t_us":…}
//! {"event":"monitors","n":2}
//! ```

mod platform;

fn main() {
    if let Err(e) = platform::run() {
        eprintln!("tether-xprobe: {e}");
        std::process::exit(1);
    }
}
