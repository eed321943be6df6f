//! Repository chores. `cargo xtask tidy` runs the same checks as `cargo test -p xtask`.

mod sql_scope;
mod tidy;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("tidy") => {
            let problems = tidy::check(&tidy::workspace_root())?;
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
                bail!("tidy: {} problem(s)", problems.len())
            }
        }
        _ => bail!("usage: cargo xtask tidy"),
    }
}
