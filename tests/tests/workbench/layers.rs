//! The layer contracts: ARCHITECTURE.md's tables "The engine, by layer" and "The app, by
//! layer" are the one list of each crate's modules and their floors. Every source file must
//! belong to a row (the longest module path of the table that holds it), and the product code
//! of each imports (`crate::…`, or the app's library by name) only rows on lower floors. Test
//! code (after `#[cfg(test)]`, and `tests.rs` files) may reach any floor; comments are not
//! imports; `super::` stays inside a row.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies in the repository")
        .to_owned()
}

/// The floor of each module path, from the table under `heading` in ARCHITECTURE.md
/// (`| floor | \`module\`, \`module\` (aside) | concept |`; what stands in brackets is not a
/// module).
fn layer_table(architecture: &str, heading: &str) -> BTreeMap<String, u32> {
    let start = architecture
        .find(heading)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {heading:?}"));
    let section = &architecture[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut table = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(floor), Some(modules)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Ok(floor) = floor.parse::<u32>() else {
            continue;
        };
        let outside_brackets = modules.split('(').next().unwrap_or_default();
        for module in outside_brackets.split('`').skip(1).step_by(2) {
            assert!(
                table.insert(module.to_owned(), floor).is_none(),
                "ARCHITECTURE.md lists `{module}` twice"
            );
        }
    }
    table
}

/// The longest module path of `table` that holds `path` (`gui::state::run_list` is held by
/// `gui::state`).
fn row_of<'a>(table: &'a BTreeMap<String, u32>, path: &[String]) -> Option<&'a str> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find_map(|prefix| table.get_key_value(&prefix).map(|(k, _)| k.as_str()))
}

/// Every `.rs` file under `src` but the library root, with its module path (`run/auto.rs` →
/// `run::auto`, `gui/mod.rs` → `gui`, `main.rs` → `main`).
fn source_files(src: &Path) -> Vec<(Vec<String>, PathBuf)> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("readable source folder") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut segments: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if segments.last().is_some_and(|s| s == "mod") {
                segments.pop();
            }
            (segments != ["lib"]).then_some((segments, path))
        })
        .collect()
}

/// The product code of a file: comment lines dropped, and nothing from `#[cfg(test)]` on.
fn product_code(text: &str) -> String {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a piece of code names after one of `roots` (`crate`, or a library's name),
/// use groups expanded: `use crate::{error::Result, gui::{state::a, plots}}` names
/// `error::Result`, `gui::state::a` and `gui::plots`.
fn imported_paths(code: &str, roots: &[&str]) -> BTreeSet<Vec<String>> {
    /// The paths of one use tree `text` (after `root::`), each prefixed with `prefix`.
    fn tree(text: &str, prefix: &[String], paths: &mut BTreeSet<Vec<String>>) {
        let mut path = prefix.to_vec();
        let mut rest = text;
        loop {
            rest = rest.trim_start();
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut item_start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 1 => {
                            tree(&group[item_start..i], &path, paths);
                            item_start = i + 1;
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        tree(&group[item_start..i], &path, paths);
                        break;
                    }
                }
                return;
            }
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            path.push(rest[..end].to_owned());
            match rest[end..].strip_prefix("::") {
                Some(next) => rest = next,
                None => break,
            }
        }
        if path.len() > prefix.len() {
            paths.insert(path);
        }
    }
    let mut paths = BTreeSet::new();
    for root in roots {
        let marker = format!("{root}::");
        for (at, _) in code.match_indices(&marker) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            tree(&code[at + marker.len()..], &[], &mut paths);
        }
    }
    paths
}

/// Every breach of `table` by the crate in `src`, whose own modules are named after `roots`:
/// files no row holds, and imports of a row on the same floor or above.
fn breaches(table: &BTreeMap<String, u32>, src: &Path, roots: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (segments, path) in source_files(src) {
        let Some(row) = row_of(table, &segments) else {
            found.push(format!(
                "`{}` has no row in ARCHITECTURE.md's table",
                segments.join("::")
            ));
            continue;
        };
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let floor = table[row];
        let code = product_code(&fs::read_to_string(&path).expect("readable source"));
        for import in imported_paths(&code, roots) {
            match row_of(table, &import) {
                Some(to) if to == row => {}
                Some(to) if table[to] >= floor => found.push(format!(
                    "{} (`{row}`, floor {floor}) imports `{to}` (floor {})",
                    path.display(),
                    table[to]
                )),
                Some(_) => {}
                None => found.push(format!(
                    "{} imports `{}`, which no row of ARCHITECTURE.md's table holds",
                    path.display(),
                    import.join("::")
                )),
            }
        }
    }
    found
}

#[test]
fn the_engine_imports_only_downward_and_every_module_has_a_row() {
    let architecture = fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("reads");
    let table = layer_table(&architecture, "## The engine, by layer");
    assert!(
        table.len() >= 20,
        "the table was not found whole: {table:?}"
    );
    let breaches = breaches(&table, &repo().join("engine/src"), &["crate"]);
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn the_app_imports_only_downward_and_every_module_has_a_row() {
    let architecture = fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("reads");
    let table = layer_table(&architecture, "## The app, by layer");
    assert!(
        table.len() >= 10,
        "the table was not found whole: {table:?}"
    );
    let breaches = breaches(&table, &repo().join("app/src"), &["crate", "sim_workbench"]);
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn the_contract_check_finds_an_upward_import_and_a_missing_row() {
    let src = tempfile::tempdir().expect("temp dir");
    fs::write(
        src.path().join("low.rs"),
        "//! Mentions crate::high in a comment only.\nuse crate::{high::X, low::Y};\n",
    )
    .expect("writes");
    fs::create_dir(src.path().join("nested")).expect("dir");
    fs::write(
        src.path().join("nested/mod.rs"),
        "use my_lib::{low::Y, nested::inner::Z};\n",
    )
    .expect("writes");
    fs::write(
        src.path().join("nested/inner.rs"),
        "use crate::{low::{self, Y}, high};\n",
    )
    .expect("writes");
    fs::write(
        src.path().join("high.rs"),
        "use crate::low::Y;\n#[cfg(test)]\nmod tests { use crate::high; }\n",
    )
    .expect("writes");
    fs::write(src.path().join("stray.rs"), "").expect("writes");
    let table = layer_table(
        "## The engine, by layer\n| floor | module | concept |\n|---|---|---|\n\
         | 0 | `low` | a |\n| 1 | `high` | b |\n| 1 | `nested::inner` (`x`) | c |\n\
         | 2 | `nested`, `other` | d |\n## Next\n| 9 | `ignored` | e |\n",
        "## The engine, by layer",
    );
    assert_eq!(table.len(), 5, "{table:?}");
    let found = breaches(&table, src.path(), &["crate", "my_lib"]);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found
            .iter()
            .any(|b| b.ends_with("(`nested::inner`, floor 1) imports `high` (floor 1)")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|b| b.starts_with("`stray` has no row")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|b| b.ends_with("(`low`, floor 0) imports `high` (floor 1)")),
        "{found:?}"
    );
}
