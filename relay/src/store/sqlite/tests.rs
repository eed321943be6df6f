//! The SQLite store's own tests; the behaviour every store shares is tested in `store/tests.rs`.

use super::*;

#[test]
fn migrations_are_valid() {
    let sql = migration_sql();
    assert!(
        Migrations::new(sql.iter().map(|s| M::up(s)).collect())
            .validate()
            .is_ok()
    );
}
