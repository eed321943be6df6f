//! Tenant isolation in the relay's SQL: every query that reads or changes a table holding
//! organisations' rows (a table with an `org_id` column in `relay/src/store/*.sql`) names
//! `org_id` in its `WHERE`, or says in the SQL why it may not (`/* any org: … */`: a lookup by
//! a secret's hash, which is what establishes the organisation, or the relay's own work across
//! all of them).

use std::path::Path;

use anyhow::{Context, Result};

/// The marker an intentionally unscoped query carries.
pub const MARKER: &str = "/* any org:";

/// The tables with an `org_id` column, from the schema files in `dir`.
pub fn org_tables(dir: &Path) -> Result<Vec<String>> {
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        for create in text.split("CREATE TABLE ").skip(1) {
            let Some((name, rest)) = create.split_once('(') else {
                continue;
            };
            let body = rest.split(");").next().unwrap_or(rest);
            let has_org = body.lines().any(|l| l.trim_start().starts_with("org_id "));
            if has_org {
                tables.push(name.trim().to_owned());
            }
        }
    }
    tables.sort();
    Ok(tables)
}

/// The string literals of `text` (Rust source) that are queries touching one of `tables`
/// without naming `org_id` in their `WHERE` or carrying [`MARKER`], as `(line, excerpt)`.
pub fn unscoped(text: &str, tables: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(len) = literal_len(after) else { break };
        let literal = &after[..len];
        let line = text[..offset + start].lines().count().max(1);
        if is_unscoped(literal, tables) {
            let excerpt: String = literal.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push((line, excerpt.chars().take(80).collect()));
        }
        let consumed = start + 1 + len + 1;
        offset += consumed;
        rest = &rest[consumed.min(rest.len())..];
    }
    out
}

/// The length of a string literal's body up to its closing quote.
fn literal_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn is_unscoped(sql: &str, tables: &[String]) -> bool {
    let first = sql.split_whitespace().next().unwrap_or_default();
    if !["SELECT", "UPDATE", "DELETE", "WITH"].contains(&first) || sql.contains(MARKER) {
        return false;
    }
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    if !tables.iter().any(|t| words.contains(&t.as_str())) {
        return false;
    }
    let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some((_, filter)) = sql.split_once("WHERE ") else {
        return true;
    };
    // The filter ends where the statement's output or order begins.
    let filter = [" RETURNING ", " ORDER BY ", " GROUP BY ", " LIMIT "]
        .iter()
        .filter_map(|end| filter.find(end))
        .min()
        .map_or(filter, |end| &filter[..end]);
    !["org_id =", "org_id IN", "org_id="]
        .iter()
        .any(|f| filter.contains(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<String> {
        vec!["machines".into(), "sessions".into()]
    }

    #[test]
    fn queries_without_org_id_in_their_filter_are_caught() {
        let src = r#"
            db.execute("UPDATE machines SET hostname = ?2 WHERE id = ?1", p)?;
            db.query("SELECT id FROM machines WHERE org_id = ?1 AND id = ?2", p)?;
            db.query("SELECT id FROM sessions", p)?;
            db.query("SELECT k FROM machines /* any org: the key names it */ WHERE id = ?1", p)?;
            db.execute("INSERT INTO machines (org_id, id) VALUES (?1, ?2)", p)?;
            db.query("SELECT name FROM orgs WHERE id = ?1", p)?;
            let s = "a \" quoted \" string about machines";
            db.query("DELETE FROM sessions WHERE org_id = ?1 AND id = ?2", p)?;
            db.query("UPDATE machines SET n = 1 WHERE key = ?1 RETURNING org_id", p)?;
            db.query("SELECT m.id FROM machines m WHERE m.id = ?1 ORDER BY m.org_id", p)?;
        "#;
        let found = unscoped(src, &tables());
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 4, 10, 11], "{found:?}");
    }

    #[test]
    fn the_relay_schema_yields_its_organisation_tables() {
        let dir = crate::tidy::workspace_root().join("relay/src/store");
        let t = org_tables(&dir).unwrap();
        for table in ["machines", "sessions", "audit_log", "api_keys", "webhooks"] {
            assert!(t.iter().any(|x| x == table), "{table} in {t:?}");
        }
        assert!(
            !t.iter().any(|x| x == "orgs" || x == "share_codes"),
            "{t:?}"
        );
    }
}
