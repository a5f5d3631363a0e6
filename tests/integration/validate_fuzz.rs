//! Property tests: random and mutated templates never make the validator panic, and what it reports
//! stays well-formed (1-based sorted positions inside the files read, parseable JSON, the same
//! output twice).
//!
//! Seeds are the repository's own `.vizier/` files and every fixture (folders included, so imports
//! and links are mutated too). A case picks a seed, one of its files, and a few mutations: delete,
//! duplicate, swap or replace lines, flip characters, insert TOML-ish tokens or random bytes,
//! truncate. Most cases call the library directly; a few go through the real binary with the raw
//! bytes (which need not be UTF-8).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::Value;
use vizier::diagnostic::{render_github, render_human, render_json};
use vizier::error::Result;
use vizier::validate::validate;
use vizier::workspace::{Reader, default_paths};

use crate::support::*;

/// A set of files under `.vizier/`, path → bytes.
type Seed = BTreeMap<String, Vec<u8>>;

fn read_tree(dir: &Path, prefix: &str, into: &mut Seed) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            read_tree(&path, &format!("{prefix}{name}/"), into);
        } else if name.ends_with(".toml") {
            into.insert(format!("{prefix}{name}"), std::fs::read(&path).unwrap());
        }
    }
}

fn seeds() -> Vec<Seed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    let mut own = Seed::new();
    read_tree(&root.join(".vizier"), ".vizier/", &mut own);
    seeds.push(own);
    for group in ["ok", "err"] {
        let dir = root.join("tests/fixtures").join(group);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let mut seed = Seed::new();
            if path.is_dir() {
                read_tree(&path, ".vizier/", &mut seed);
            } else if path.extension().is_some_and(|e| e == "toml") {
                let name = path.file_name().unwrap().to_str().unwrap();
                seed.insert(
                    format!(".vizier/workflow/{name}"),
                    std::fs::read(&path).unwrap(),
                );
            }
            if !seed.is_empty() {
                seeds.push(seed);
            }
        }
    }
    seeds.push(Seed::from([(
        ".vizier/workflow/empty.toml".to_owned(),
        Vec::new(),
    )]));
    seeds
}

/// Templates read from memory, so the library can be driven without a disk or git.
struct Memory(BTreeMap<String, String>);

impl Reader for Memory {
    fn read(&self, rel: &str) -> Result<Option<String>> {
        Ok(self.0.get(rel).cloned())
    }

    fn toml_names(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = format!("{dir}/");
        Ok(self
            .0
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter(|n| !n.contains('/') && n.ends_with(".toml"))
            .map(str::to_owned)
            .collect())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    /// Replace a line with a line of another seed (by global index).
    ForeignLine(usize, usize),
    FlipChar(usize, char),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

const TOKENS: &[&str] = &[
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "[",
    "]",
    "{",
    "}",
    "=",
    ",",
    ".",
    "\n",
    "\r\n",
    "\t",
    "#",
    "${",
    "$${",
    "${}",
    "\\",
    "\\u",
    "é",
    "—",
    "\u{200b}",
    "😀",
    "[[nodes]]\nid = \"x\"\nuses = \"control.terminal\"\nkind = \"gate\"\n",
    "[[nodes]]\n",
    "after = [\"prepare\", { node_id = \"x\" }]\n",
    "on = { failed = [\"prepare\"], blocked = \"x\" }\n",
    "retry = { mode = \"until_gate\", budget = \"${budget}\" }\n",
    "gates = [{ kind = \"cicd\" }, { kind = \"script\", script = \"x\" }]\n",
    "[[imports]]\nname = \"a\"\npath = \"../develop.toml\"\n",
    "[[imports]]\nname = \"b\"\npath = \"workflow/build.toml\"\n",
    "[[links]]\nfrom = \"a\"\nto = \"b\"\n",
    "[params]\nx = \"${x}\"\n",
    "1979-05-27T07:32:00Z",
    "-1",
    "1e400",
    "inf",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = any::<usize>();
    let interesting_char = prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            '"', '[', ']', '{', '}', '=', '\n', '\r', '\t', '\0', 'é'
        ]),
    ];
    let bytes = prop_oneof![
        prop::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..12),
        any::<String>().prop_map(String::into_bytes),
    ];
    prop_oneof![
        index.prop_map(Mutation::DeleteLine),
        index.prop_map(Mutation::DuplicateLine),
        (index, index).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (index, index).prop_map(|(a, b)| Mutation::ForeignLine(a, b)),
        (index, interesting_char).prop_map(|(i, c)| Mutation::FlipChar(i, c)),
        (index, bytes).prop_map(|(i, b)| Mutation::Insert(i, b)),
        index.prop_map(Mutation::Truncate),
    ]
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn apply(text: &mut Vec<u8>, mutation: &Mutation, foreign: &[Vec<u8>]) {
    let mut lines = split_lines(text);
    match mutation {
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            let i = i % lines.len();
            lines.remove(i);
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let i = i % lines.len();
            lines.insert(i, lines[i].clone());
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            let n = lines.len();
            lines.swap(a % n, b % n);
        }
        Mutation::ForeignLine(i, j) if !lines.is_empty() && !foreign.is_empty() => {
            let n = lines.len();
            lines[i % n] = foreign[j % foreign.len()].clone();
        }
        Mutation::FlipChar(i, c) if !text.is_empty() => {
            let i = i % text.len();
            let mut buf = [0; 4];
            text.splice(i..=i, c.encode_utf8(&mut buf).bytes());
            return;
        }
        Mutation::Insert(i, bytes) => {
            let i = i % (text.len() + 1);
            text.splice(i..i, bytes.iter().copied());
            return;
        }
        Mutation::Truncate(i) => {
            text.truncate(i % (text.len() + 1));
            return;
        }
        _ => return,
    }
    *text = lines.concat();
}

/// A seed with one of its files mutated.
fn mutated_case() -> impl Strategy<Value = Seed> {
    let seeds = seeds();
    let foreign: Vec<Vec<u8>> = seeds
        .iter()
        .flat_map(|s| s.values())
        .flat_map(|t| split_lines(t))
        .collect();
    (
        0..seeds.len(),
        any::<usize>(),
        prop::collection::vec(mutation(), 1..6),
    )
        .prop_map(move |(s, f, mutations)| {
            let mut seed = seeds[s].clone();
            let path = seed.keys().nth(f % seed.len()).unwrap().clone();
            let text = seed.get_mut(&path).unwrap();
            for m in &mutations {
                apply(text, m, &foreign);
            }
            seed
        })
}

/// `default` cases, or `PROPTEST_CASES` for a longer hunt; failures print their minimal input
/// instead of writing regression files into the source tree.
fn config(default: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Validates through the library and checks what comes out; returns the three renderings.
fn check_library(seed: &Seed) -> [String; 3] {
    let memory = Memory(
        seed.iter()
            .map(|(p, b)| (p.clone(), String::from_utf8_lossy(b).into_owned()))
            .collect(),
    );
    let paths = default_paths(&memory).unwrap();
    let report = validate(&memory, &paths).expect("content problems are findings, not errors");
    let mut previous = None;
    for d in &report.diagnostics {
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
        assert!((d.end_line, d.end_column) >= (d.line, d.column), "{d:?}");
        let text = &memory.0[&*d.path];
        assert!(d.line <= text.split('\n').count(), "{d:?}");
        assert!(d.span.end <= text.len(), "{d:?}");
        let key = (d.path.clone(), d.line, d.column, d.rule);
        if let Some(previous) = &previous {
            assert!(*previous <= key, "unsorted: {previous:?} before {key:?}");
        }
        previous = Some(key);
    }
    let human = render_human(&report.diagnostics, &report.sources, false);
    let _ = render_human(&report.diagnostics, &report.sources, true);
    let json = render_json(&report.files, &report.diagnostics);
    let parsed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["errors"].as_u64().unwrap() as usize, report.errors());
    let github = render_github(&report.diagnostics);
    assert_eq!(github.lines().count(), report.diagnostics.len());
    [human, json, github]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn mutated_templates_never_panic_the_library(seed in mutated_case()) {
        let first = check_library(&seed);
        // Same input, same bytes out, even from a fresh validation with fresh hash seeds.
        prop_assert_eq!(first, check_library(&seed));
    }

    #[test]
    fn random_text_never_panics_the_library(text in any::<String>()) {
        check_library(&Seed::from([(".vizier/workflow/t.toml".to_owned(), text.into_bytes())]));
    }
}

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn mutated_templates_never_panic_the_binary(seed in mutated_case()) {
        let repo = Repo::new();
        for (path, bytes) in &seed {
            let target = repo.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, bytes).unwrap();
        }
        for format in ["human", "json", "github"] {
            let out = repo.vizier().args(["validate", "--format", format]).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!stderr.contains("panicked"), "{}", stderr);
            let code = out.status.code();
            // 3 only for bytes that are not UTF-8, which the error names.
            prop_assert!(matches!(code, Some(0 | 1 | 3)), "exit {:?}: {}", code, stderr);
            if code == Some(3) {
                prop_assert!(stderr.contains("not valid UTF-8"), "{}", stderr);
            } else if format != "github" {
                // (GitHub annotations are the one format that prints nothing for a clean file.)
                prop_assert!(!out.stdout.is_empty());
            }
        }
    }
}
