//! The code map in `docs/ARCHITECTURE.md` is enforced: every `crate::<module>` a top-level module's
//! files name must be allowed by its row's "must not depend on" column, every module has a row, and
//! the module graph has no cycle. The edges are read the way `scripts/module-graph.sh` prints them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// `from -> {to}` for every top-level module of `src/` (lib.rs and main.rs aside).
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "lib.rs" || rel == "main.rs" {
            continue;
        }
        let from = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let targets = graph.entry(from.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let name = ident(item.trim());
                    if !name.is_empty() {
                        targets.insert(name);
                    }
                }
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    targets.insert(name);
                }
            }
        }
        targets.remove(&from);
    }
    graph
}

/// module → the modules its row forbids, from the code-map table.
fn code_map() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let map = doc
        .split("## Code map")
        .nth(1)
        .expect("a `## Code map` section");
    let map = map.split("\n## ").next().unwrap();
    let names = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|n| n.trim_end_matches('/').to_owned())
            .collect()
    };
    let mut rows = BTreeMap::new();
    for line in map.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        assert_eq!(cells.len(), 3, "a code-map row has three columns: {line}");
        let forbidden: BTreeSet<String> = names(cells[2].trim_end_matches('|'))
            .into_iter()
            .filter(|n| !n.contains(' '))
            .collect();
        for module in names(cells[0]) {
            rows.insert(module, forbidden.clone());
        }
    }
    rows
}

#[test]
fn imports_keep_to_the_code_map() {
    let graph = edges();
    let map = code_map();
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        let Some(forbidden) = map.get(from) else {
            wrong.push(format!("module `{from}` has no row in the code map"));
            continue;
        };
        for to in targets {
            if !graph.contains_key(to) {
                continue; // `crate::foo` in a doc comment or string that names no module
            }
            if forbidden.contains(to) {
                wrong.push(format!("`{from}` depends on `{to}`, which its row forbids"));
            }
        }
    }
    for module in map.keys() {
        if !graph.contains_key(module) {
            wrong.push(format!(
                "the code map names `{module}`, which is not a module"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/ARCHITECTURE.md vs src/:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = edges();
    // Depth-first search with three colours; a grey target is a back edge, i.e. a cycle.
    fn visit<'g>(
        node: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'g str, bool>,
        path: &mut Vec<&'g str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let at = path.iter().position(|n| *n == node).unwrap();
                let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(node, false);
        path.push(node);
        for to in graph.get(node).into_iter().flatten() {
            if graph.contains_key(to)
                && let Some(cycle) = visit(to, graph, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node, true);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut state, &mut Vec::new()) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_graph_script_prints_the_same_edges() {
    let out = std::process::Command::new("sh")
        .arg(root().join("scripts/module-graph.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let graph = edges();
    let expected: BTreeSet<String> = graph
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| format!("{from} -> {to}")))
        .collect();
    assert_eq!(printed, expected);
}

/// The CLI parses and renders: it stays a small share of the crate, and none of its files (the
/// `vizier man --dir` pages aside, which are its output) writes, removes or renames a file, or
/// starts a process. State changes are the library's.
#[test]
fn the_cli_only_parses_and_renders() {
    let src = root().join("src");
    let mut all = Vec::new();
    rust_files(&src, &mut all);
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    let total: usize = all.iter().map(|p| lines(p)).sum();
    let cli: usize = all
        .iter()
        .filter(|p| p.starts_with(src.join("cli")) || p.ends_with("main.rs"))
        .map(|p| lines(p))
        .sum();
    assert!(
        cli * 100 < total * 12,
        "src/cli/ and main.rs are {cli} of {total} lines of src/, 12% or more"
    );
    let writers = [
        "fs::write",
        "fs::remove_",
        "fs::rename",
        "fs::create_dir",
        "fs::copy",
        "File::create",
        "OpenOptions",
        "process::Command",
        "write_atomic",
        "Batch",
    ];
    for file in all.iter().filter(|p| p.starts_with(src.join("cli"))) {
        if file.ends_with("man.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests may make files to read.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for w in writers {
            assert!(
                !code.contains(w),
                "{} uses `{w}`: the CLI changes no state itself",
                file.display()
            );
        }
    }
}
