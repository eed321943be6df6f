//! Invariants you can grep for, checked over every tracked Rust source file:
//!
//! * every `.rs` file starts with a `//!` module doc;
//! * a `cfg(…)`, `cfg!(…)` or `cfg_attr(…)` that names an OS (`target_os`, `target_family`,
//!   `unix`, `windows`) appears only in modules named for an OS (`x11`, `linux`, `windows`,
//!   `macos`, `platform`, …) or in `Cargo.toml` target sections;
//! * no source file is over 800 lines (split it, `docs/ARCHITECTURE.md` §"Small modules");
//! * every query of the relay's store on a table of organisations' rows filters by `org_id` or
//!   says why not ([`crate::sql_scope`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The most lines a source file may have.
pub const MAX_LINES: usize = 800;

/// Path components that mark an OS-specific leaf module.
const OS_MODULES: &[&str] = &[
    "x11", "linux", "windows", "macos", "unix", "wayland", "platform",
];

/// Directories never scanned.
const SKIP_DIRS: &[&str] = &[
    "target",
    "node_modules",
    ".git",
    "corpus",
    "artifacts",
    "gen",
];

/// The workspace root (this crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// All `.rs` files under `root`, skipping build output and dependencies.
fn rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                if !SKIP_DIRS.contains(&name.as_ref()) && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_os_module(rel: &Path) -> bool {
    rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        let stem = s.strip_suffix(".rs").unwrap_or(&s);
        OS_MODULES.contains(&stem)
    })
}

/// Whether `line` has a `cfg(…)`, `cfg!(…)` or `cfg_attr(…)` whose predicate names an OS.
fn names_an_os(line: &str) -> bool {
    const OS_WORDS: &[&str] = &["target_os", "target_family", "unix", "windows"];
    let mut rest = line;
    while let Some(i) = rest.find("cfg") {
        let after = &rest[i + 3..];
        let attr = after.starts_with("_attr(");
        let args = after
            .strip_prefix("!(")
            .or_else(|| after.strip_prefix("_attr("))
            .or_else(|| after.strip_prefix('('));
        if let Some(args) = args {
            // Up to the matching parenthesis (for `cfg_attr`, the end of its predicate), or the
            // end of the line.
            let mut depth = 1;
            let mut end = args.len();
            for (j, c) in args.char_indices() {
                match c {
                    ',' if attr && depth == 1 => {
                        end = j;
                        break;
                    }
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let words = args[..end].split(|c: char| !(c.is_alphanumeric() || c == '_'));
            if words.into_iter().any(|w| OS_WORDS.contains(&w)) {
                return true;
            }
        }
        rest = after;
    }
    false
}

/// Every broken invariant under `root`, one line each (empty when tidy).
pub fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let schema = root.join("relay/src/store");
    let org_tables = if schema.is_dir() {
        crate::sql_scope::org_tables(&schema)?
    } else {
        Vec::new()
    };
    for path in rust_files(root)? {
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if !text.starts_with("//!") {
            problems.push(format!(
                "{}: does not start with a `//!` module doc",
                rel.display()
            ));
        }
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "{}: {lines} lines, over the {MAX_LINES}-line limit",
                rel.display()
            ));
        }
        // The store's own tests break its rules on purpose (an audit row forged by hand).
        let store_code = rel.starts_with("relay/src/store") && !rel.ends_with("tests.rs");
        if store_code {
            for (line, sql) in crate::sql_scope::unscoped(&text, &org_tables) {
                problems.push(format!(
                    "{}:{line}: a query not scoped by org_id (filter by it, or say why with `{} … */`): {sql}",
                    rel.display(),
                    crate::sql_scope::MARKER
                ));
            }
        }
        // This file names the patterns it looks for; it is the checker, not platform code.
        let checker = rel == Path::new("xtask/src/tidy.rs");
        let agent_outside_rtc = rel.starts_with("agent/src") && !rel.starts_with("agent/src/rtc");
        if agent_outside_rtc {
            for (i, line) in text.lines().enumerate() {
                let code = !line.trim_start().starts_with("//");
                let t = line.trim_start();
                let names_stack = ["use rtc::", "use webrtc::", "rtc::", "webrtc::"]
                    .iter()
                    .any(|p| {
                        t.starts_with(p)
                            || line.contains(&format!(" {p}"))
                            || line.contains(&format!("({p}"))
                    });
                if code && names_stack {
                    problems.push(format!(
                        "{}:{}: the WebRTC stack used outside `agent/src/rtc`",
                        rel.display(),
                        i + 1
                    ));
                }
            }
        }
        if !is_os_module(rel) && !checker {
            for (i, line) in text.lines().enumerate() {
                let code = !line.trim_start().starts_with("//");
                if code && names_an_os(line) {
                    problems.push(format!(
                        "{}:{}: an OS `cfg` outside an OS-named module",
                        rel.display(),
                        i + 1
                    ));
                }
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_tidy(filter: impl Fn(&str) -> bool) {
        let problems: Vec<_> = check(&workspace_root())
            .unwrap()
            .into_iter()
            .filter(|p| filter(p))
            .collect();
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        assert_tidy(|p| p.contains("module doc"));
    }

    #[test]
    fn no_os_cfg_outside_os_modules() {
        assert_tidy(|p| p.contains("outside an OS-named module"));
    }

    #[test]
    fn os_cfgs_are_told_from_the_others() {
        for os in [
            "#[cfg(target_os = \"linux\")]",
            "#[cfg(unix)]",
            "#[cfg(not(windows))]",
            "#[cfg_attr(not(target_os = \"macos\"), allow(dead_code))]",
            "if cfg!(windows) {",
            "#[cfg(all(test, target_family = \"unix\"))]",
        ] {
            assert!(names_an_os(os), "{os}");
        }
        for other in [
            "#[cfg(test)]",
            "#[cfg(feature = \"vp8\")]",
            "#[cfg_attr(test, derive(Debug))]",
            "#![cfg_attr(not(debug_assertions), windows_subsystem = \"windows\")]",
            "let unix = cfg!(debug_assertions);",
            "// the windows of the cfg",
        ] {
            assert!(!names_an_os(other), "{other}");
        }
    }

    #[test]
    fn only_the_agent_rtc_module_knows_the_webrtc_stack() {
        assert_tidy(|p| p.contains("WebRTC stack"));
    }

    #[test]
    fn every_store_query_is_scoped_by_organisation() {
        assert_tidy(|p| p.contains("not scoped by org_id"));
    }

    #[test]
    fn no_source_file_over_the_line_limit() {
        assert_tidy(|p| p.contains("-line limit"));
    }

    #[test]
    fn the_checks_catch_what_they_claim_to() {
        let dir = std::env::temp_dir().join(format!("tidy-selftest-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("capture")).unwrap();
        std::fs::write(src.join("no_doc.rs"), "fn main() {}\n").unwrap();
        std::fs::write(
            src.join("long.rs"),
            format!("//! doc\n{}", "\n".repeat(MAX_LINES + 1)),
        )
        .unwrap();
        std::fs::write(src.join("leaky.rs"), "//! doc\n#[cfg(unix)]\nfn f() {}\n").unwrap();
        std::fs::write(
            src.join("capture/x11.rs"),
            "//! doc\n#[cfg(target_os = \"linux\")]\nfn f() {}\n",
        )
        .unwrap();
        let agent = dir.join("agent/src");
        std::fs::create_dir_all(agent.join("rtc")).unwrap();
        std::fs::write(
            agent.join("session.rs"),
            "//! doc
use webrtc::x;
",
        )
        .unwrap();
        std::fs::write(
            agent.join("rtc/mod.rs"),
            "//! doc
use webrtc::x;
",
        )
        .unwrap();
        let problems = check(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems.iter().any(|p| p.contains("session.rs:2")));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no_doc.rs") && p.contains("module doc"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("long.rs") && p.contains("line limit"))
        );
        assert!(problems.iter().any(|p| p.contains("leaky.rs:2")));
    }
}
