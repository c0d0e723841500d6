//! Rewrites of known client catalogue queries that DataFusion cannot plan as sent. Each entry names the
//! client and is replayed by a test (tests/it/serve.rs). Kept to exact, recognisable fragments so that
//! analysts' own SQL is never changed.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

struct Rewrite {
    pattern: Regex,
    replacement: &'static str,
}

static REWRITES: LazyLock<Vec<Rewrite>> = LazyLock::new(|| {
    [
        // Npgsql ≥ 6 type loading (PostgresDatabaseInfo): the multirange's range type by a correlated
        // scalar subquery. `rngmultitypid` is unique in pg_range, so max() returns the same row, and
        // DataFusion accepts an aggregated correlated subquery.
        (
            r"(?i)\(\s*SELECT\s+rngtypid\s+FROM\s+pg_range\s+WHERE\s+rngmultitypid\s*=\s*typ\.oid\s*\)",
            "(SELECT max(rngtypid) FROM pg_range WHERE rngmultitypid = typ.oid)",
        ),
        // Same query: pg_proc joined on a regproc column. The emulated pg_type keeps typreceive as the
        // function's name, so join on the name, from a one-row-per-name list (proname is overloaded).
        (
            r"(?i)pg_proc\s+AS\s+(\w+)\s+ON\s+(\w+)\.oid\s*=\s*(\w+)\.typreceive\b",
            "(SELECT DISTINCT typreceive AS proname FROM pg_catalog.pg_type) AS $1 ON $2.proname = $3.typreceive",
        ),
    ]
    .into_iter()
    .filter_map(|(p, replacement)| {
        Regex::new(p).ok().map(|pattern| Rewrite {
            pattern,
            replacement,
        })
    })
    .collect()
});

/// The query with known client fragments rewritten.
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(sql);
    for r in REWRITES.iter() {
        if r.pattern.is_match(&out) {
            out = Cow::Owned(r.pattern.replace_all(&out, r.replacement).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn npgsql_multirange_subquery_is_aggregated() {
        let sql = "WHEN typ.typtype='m' THEN (SELECT rngtypid FROM pg_range WHERE rngmultitypid = typ.oid)";
        assert!(super::rewrite(sql).contains("max(rngtypid)"));
        assert_eq!(super::rewrite("select 1"), "select 1");
        let sql = "LEFT JOIN pg_proc AS elemproc ON elemproc.oid = elemtyp.typreceive";
        assert_eq!(
            super::rewrite(sql),
            "LEFT JOIN (SELECT DISTINCT typreceive AS proname FROM pg_catalog.pg_type) AS elemproc ON elemproc.proname = elemtyp.typreceive"
        );
    }
}
