//! `docs/security-coverage.md` stays true: every test it names as pinning a rule exists, is a
//! test, and every row either names one or says why it needs none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The repository's root (this crate is `crates/interop-tests`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn coverage() -> String {
    std::fs::read_to_string(root().join("docs/security-coverage.md"))
        .expect("docs/security-coverage.md is readable")
}

/// A test named in the document: `path/from/root.rs::function`.
#[derive(Debug, PartialEq)]
struct TestRef<'a> {
    path: &'a str,
    function: &'a str,
}

/// Every `` `PATH.rs::NAME` `` span in `text`.
fn test_refs(text: &str) -> Vec<TestRef<'_>> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (path, function) = span.split_once(".rs::")?;
            let is_name = |s: &str| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            let is_path = path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b));
            (is_path && is_name(function)).then(|| TestRef {
                path: &span[..path.len() + 3],
                function,
            })
        })
        .collect()
}

/// Whether `source` defines a test function `name`: `fn name` preceded, above its doc comment
/// and other attributes, by a test attribute (`#[test]`, `#[tokio::test(...)]`, ...).
fn defines_test(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    lines.iter().enumerate().any(|(i, line)| {
        let line = line.trim_start();
        let signature = ["fn ", "async fn ", "pub fn ", "pub async fn "]
            .iter()
            .filter_map(|prefix| line.strip_prefix(prefix))
            .any(|rest| {
                rest.strip_prefix(name)
                    .is_some_and(|after| after.starts_with('(') || after.starts_with('<'))
            });
        signature
            && lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim_start())
                .take_while(|l| l.starts_with("#[") || l.starts_with("//") || l.is_empty())
                .any(|l| l.starts_with("#[") && l.contains("test"))
    })
}

#[test]
fn every_test_the_document_names_exists_and_is_a_test() {
    let doc = coverage();
    let refs = test_refs(&doc);
    assert!(
        refs.len() >= 100,
        "expected the document to name its tests; found {}",
        refs.len()
    );
    let mut sources = HashMap::new();
    let mut missing = Vec::new();
    for r in &refs {
        let source = sources.entry(r.path).or_insert_with(|| {
            std::fs::read_to_string(root().join(r.path))
                .unwrap_or_else(|e| panic!("{}: {e}", r.path))
        });
        if !defines_test(source, r.function) {
            missing.push(format!("{}::{}", r.path, r.function));
        }
    }
    assert!(
        missing.is_empty(),
        "named in docs/security-coverage.md but not a test there: {missing:#?}"
    );
}

/// Every table row names a test, or says in its notes why it needs none.
#[test]
fn every_row_is_pinned_or_says_why_not() {
    let doc = coverage();
    let mut rows = 0;
    let mut unpinned = Vec::new();
    for line in doc.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 4 || cells[0] == "#" || cells[0] == "ID" || cells[0].starts_with("---") {
            continue;
        }
        rows += 1;
        let notes = cells[3].to_ascii_lowercase();
        let exempt = ["documented", "n/a", "doc example", "defect"]
            .iter()
            .any(|w| notes.contains(w) || cells[2].to_ascii_lowercase().contains(w));
        if test_refs(cells[2]).is_empty() && !exempt {
            unpinned.push(cells[0].to_owned());
        }
    }
    assert!(
        rows >= 150,
        "expected the whole checklist; found {rows} rows"
    );
    assert!(
        unpinned.is_empty(),
        "rows with no test and no reason: {unpinned:?}"
    );
}

#[test]
fn the_checker_reads_references_and_test_attributes() {
    let text = "x `crates/a/tests/b.rs::c_d` y `not::a_ref` `crates/e.rs::f`<br>`g.rs::`";
    assert_eq!(
        test_refs(text),
        [
            TestRef {
                path: "crates/a/tests/b.rs",
                function: "c_d"
            },
            TestRef {
                path: "crates/e.rs",
                function: "f"
            },
        ]
    );
    let source = "/// doc\n#[tokio::test(start_paused = true)]\n/// more\nasync fn pinned() {}\n\
                  fn helper() {}\n#[test]\nfn pinned_too() {}\n#[test]\nfn pinned_t<T>() {}";
    assert!(defines_test(source, "pinned"));
    assert!(defines_test(source, "pinned_too"));
    assert!(defines_test(source, "pinned_t"));
    assert!(!defines_test(source, "helper"));
    assert!(!defines_test(source, "pinned_t0"));
    assert!(!defines_test(source, "absent"));
}
