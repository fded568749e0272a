//! The layer contract: ARCHITECTURE.md's table "The engine, by layer" is the one list of the
//! engine's modules and their floors. Every module of `engine/src` must have a row, and the
//! product code of each imports (`crate::…`) only modules on lower floors. Test code (after
//! `#[cfg(test)]`, and `tests.rs` files) may reach any floor; comments are not imports.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lies in the repository")
        .to_owned()
}

/// The floor of each module, from the table under `heading` in ARCHITECTURE.md
/// (`| floor | \`module\` | concept |`).
fn layer_table(architecture: &str, heading: &str) -> BTreeMap<String, u32> {
    let start = architecture
        .find(heading)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {heading:?}"));
    let section = &architecture[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut table = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(floor), Some(module)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let (Ok(floor), Some(module)) = (
            floor.parse::<u32>(),
            module.strip_prefix('`').and_then(|m| m.strip_suffix('`')),
        ) else {
            continue;
        };
        assert!(
            table.insert(module.to_owned(), floor).is_none(),
            "ARCHITECTURE.md lists `{module}` twice"
        );
    }
    table
}

/// Every `.rs` file under `dir`, with the top-level module it belongs to (`run/auto.rs` → `run`).
fn modules(src: &Path) -> Vec<(String, PathBuf)> {
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
            let relative = path.strip_prefix(src).expect("under src");
            let first = relative.components().next()?.as_os_str().to_str()?;
            let module = first.strip_suffix(".rs").unwrap_or(first).to_owned();
            (module != "lib" && module != "main").then_some((module, path))
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

/// The top-level modules a piece of code names through `crate::`, grouped imports included
/// (`use crate::{error::Result, rng::rng_for}` names `error` and `rng`).
fn crate_imports(code: &str) -> BTreeSet<String> {
    fn ident(s: &str) -> Option<String> {
        let s = s.trim_start().trim_start_matches('{').trim_start();
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (end > 0).then(|| s[..end].to_owned())
    }
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.extend(ident(rest));
            continue;
        };
        let mut depth = 1;
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 1 => {
                    names.extend(ident(&group[item_start..i]));
                    item_start = i + 1;
                }
                _ => {}
            }
            if depth == 0 {
                names.extend(ident(&group[item_start..i]));
                break;
            }
        }
    }
    names
}

/// Every breach of the table by the crate in `src`: modules without a row, and imports of a
/// module on the same floor or above.
fn breaches(table: &BTreeMap<String, u32>, src: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for (module, path) in modules(src) {
        let Some(&floor) = table.get(&module) else {
            if seen.insert(module.clone()) {
                found.push(format!("`{module}` has no row in ARCHITECTURE.md's table"));
            }
            continue;
        };
        let code = product_code(&fs::read_to_string(&path).expect("readable source"));
        let is_test_file = path.file_name().is_some_and(|n| n == "tests.rs");
        for import in crate_imports(&code) {
            if is_test_file || import == module {
                continue;
            }
            match table.get(&import) {
                Some(&to) if to >= floor => found.push(format!(
                    "{} (`{module}`, floor {floor}) imports `{import}` (floor {to})",
                    path.display()
                )),
                Some(_) => {}
                None => found.push(format!(
                    "{} imports `{import}`, which has no row in ARCHITECTURE.md's table",
                    path.display()
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
    let breaches = breaches(&table, &repo().join("engine/src"));
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
    fs::write(
        src.path().join("high.rs"),
        "use crate::low::Y;\n#[cfg(test)]\nmod tests { use crate::high; }\n",
    )
    .expect("writes");
    fs::write(src.path().join("stray.rs"), "").expect("writes");
    let table = layer_table(
        "## The engine, by layer\n| floor | module | concept |\n|---|---|---|\n\
         | 0 | `low` | a |\n| 1 | `high` | b |\n## Next\n| 9 | `ignored` | c |\n",
        "## The engine, by layer",
    );
    assert_eq!(table.len(), 2, "{table:?}");
    let found = breaches(&table, src.path());
    assert_eq!(found.len(), 2, "{found:?}");
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
