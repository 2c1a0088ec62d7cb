//! The dependency rule of ARCHITECTURE.md, checked: every `crate::` path in src/ is an edge from
//! the top-level module that holds it to the one it names, and an edge may only point to a lower
//! layer. There is no exception list: a back-edge fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Top-level modules from the bottom up; a module may use those in lower layers only.
const LAYERS: &[&[&str]] = &[
    // Leaves beside the path: clock arithmetic, the process's privileges and file trust, units
    // of settings (durations, sizes), settings problems.
    &["time", "privilege", "units", "problem"],
    // Leaf table: the compiled, immutable IOC set and its loaders (they check file trust with
    // `privilege`). Every stage may read it: the prefilter compiles it into BPF, flow state
    // holds the matched IOC, detect looks packets up in it, a record carries it.
    &["ioc"],
    // The data path, left to right (decode sits under capture: captures are tagged with its
    // link types).
    &["decode"],
    &["capture"],
    &["flow"],
    &["record"],
    &["detect"],
    &["exclude"],
    // Count, suppress, aggregate: between detection (and its exclusion rules) and the outputs.
    &["transform"],
    &["output"],
    // The per-worker loop that drives decode → flow → detect → output.
    &["pipeline"],
    // Beside the path: fetched feeds (uses ioc, privilege, time).
    &["feeds"],
    // Beside the path: reads every stage's counters.
    &["metrics"],
    // Settings for every stage.
    &["config"],
    // Wiring: the only module that may import everything.
    &["app"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::` edge between top-level modules, with a file that makes it.
fn edges() -> BTreeMap<(String, String), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under src/",
        files.len()
    );
    let mut edges = BTreeMap::new();
    for path in files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let from = rel.split('/').next().unwrap().trim_end_matches(".rs");
        if from == "lib" || from == "main" || is_test_file(&rel) {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for to in crate_paths(&production_code(&text)) {
            if to != from && to != "self" {
                edges
                    .entry((from.to_string(), to))
                    .or_insert_with(|| rel.clone());
            }
        }
    }
    edges
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Unit-test files: tests may reach for any helper.
fn is_test_file(rel: &str) -> bool {
    rel.ends_with("/tests.rs") || rel.ends_with("_tests.rs") || rel.ends_with("test_frames.rs")
}

/// The file without comments and without its trailing `#[cfg(test)] mod tests`.
fn production_code(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if !trimmed.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The first segment after each `crate::`, including each name of `crate::{a, b::c}`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.extend(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.extend(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.extend(ident(rest));
        }
    }
    names
}

fn ident(s: &str) -> Option<String> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s[..end].to_string())
}

#[test]
fn every_module_is_placed_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(modules.len() > 5, "lib.rs declares {modules:?}");
    let unplaced: Vec<_> = modules.iter().filter(|m| layer(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "place {unplaced:?} in a layer of tests/architecture.rs and ARCHITECTURE.md"
    );
}

#[test]
fn dependencies_point_down_the_layers() {
    let edges = edges();
    let mut new_back_edges = Vec::new();
    for ((from, to), file) in &edges {
        let (Some(a), Some(b)) = (layer(from), layer(to)) else {
            new_back_edges.push(format!("{from} -> {to} ({file}): a module outside LAYERS"));
            continue;
        };
        if b >= a {
            new_back_edges.push(format!("{from} -> {to} ({file})"));
        }
    }
    assert!(
        new_back_edges.is_empty(),
        "dependencies against the layers of ARCHITECTURE.md: {new_back_edges:#?}"
    );
}

#[test]
fn the_scanner_sees_plain_grouped_and_nested_paths() {
    let code = production_code(
        "use crate::decode::Packet;\n\
         // crate::app in a comment\n\
         use crate::{flow::{Key, Table}, time};\n\
         fn f() { crate::ioc::lookup(); }\n\
         #[cfg(test)]\nmod tests {\n use crate::output;\n}\n",
    );
    let names: Vec<_> = crate_paths(&code).into_iter().collect();
    assert_eq!(names, ["decode", "flow", "ioc", "time"]);
}
