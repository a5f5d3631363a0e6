//! The validator's fixture pairs under `tests/fixtures/`, checked by one walker:
//!
//! - `ok/<name>.toml` or `ok/<name>/`: validates with no diagnostic at all.
//! - `err/<name>.toml` or `err/<name>/`, with `err/<name>.expected`: `vizier validate` prints exactly
//!   the expected human output (`NO_COLOR`), and the JSON and GitHub formats report the same findings.
//!
//! A `.toml` fixture is installed as `.vizier/workflow/<name>.toml`; a folder fixture is the content of
//! `.vizier/` (so compositions keep their import layout). Each runs in a fresh git repository with the
//! default file set.
//!
//! `VIZIER_BLESS=1 cargo test fixtures -- --test-threads=1` rewrites the `.expected` files and the
//! examples in `docs/rules.md` from the fixtures (one thread: the docs show the expected files);
//! review the diff before committing.

use std::path::{Path, PathBuf};

use serde_json::Value;
use vizier::diagnostic::Rule;

use crate::support::*;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bless() -> bool {
    std::env::var_os("VIZIER_BLESS").is_some_and(|v| v == "1")
}

struct Fixture {
    name: String,
    /// A `.toml` file or a folder.
    source: PathBuf,
}

impl Fixture {
    fn expected_path(&self) -> PathBuf {
        self.source
            .with_file_name(format!("{}.expected", self.name))
    }
}

/// The fixtures of `ok` or `err`, sorted by name.
fn fixtures(group: &str) -> Vec<Fixture> {
    let dir = fixtures_dir().join(group);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let file_name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            out.push(Fixture {
                name: file_name,
                source: path,
            });
        } else if let Some(name) = file_name.strip_suffix(".toml") {
            out.push(Fixture {
                name: name.to_owned(),
                source: path,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A fresh repository holding the fixture where `vizier validate` looks by default.
fn install(fixture: &Fixture) -> Repo {
    let repo = Repo::new();
    if fixture.source.is_dir() {
        copy_dir(&fixture.source, &repo.join(".vizier"));
    } else {
        let target = repo.join(&format!(".vizier/workflow/{}.toml", fixture.name));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&fixture.source, target).unwrap();
    }
    repo
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn validate(repo: &Repo, format: &str) -> Run {
    let out = repo
        .vizier()
        .args(["validate", "--format", format])
        .output()
        .expect("vizier runs");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

#[test]
fn ok_fixtures_validate_without_any_diagnostic() {
    let fixtures = fixtures("ok");
    assert!(fixtures.len() >= Rule::ALL.len());
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let repo = install(fixture);
        let run = validate(&repo, "human");
        if run.code != 0 || !run.stdout.starts_with("ok: ") || !run.stdout.ends_with(" valid\n") {
            failures.push(format!(
                "ok/{} (exit {}):\n{}{}",
                fixture.name, run.code, run.stdout, run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The (rule, line, column) triples of the human output's `error[rule]:` / `--> path:line:col` pairs.
fn human_findings(text: &str) -> Vec<(String, String, u64, u64)> {
    let mut out = Vec::new();
    let mut rule = None;
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("error[")
            .or_else(|| line.strip_prefix("warning["))
        {
            rule = Some(rest[..rest.find(']').unwrap()].to_owned());
        } else if let Some(place) = line.trim_start().strip_prefix("--> ") {
            let mut parts = place.rsplitn(3, ':');
            let column = parts.next().unwrap().parse().unwrap();
            let line = parts.next().unwrap().parse().unwrap();
            let path = parts.next().unwrap().to_owned();
            out.push((rule.take().expect("rule before -->"), path, line, column));
        }
    }
    out
}

#[test]
fn err_fixtures_print_exactly_their_expected_output_in_every_format() {
    let mut failures = Vec::new();
    for fixture in fixtures("err") {
        let repo = install(&fixture);
        let human = validate(&repo, "human");
        let expected_path = fixture.expected_path();
        if bless() {
            std::fs::write(&expected_path, &human.stdout).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        let name = &fixture.name;
        if human.stdout != expected {
            failures.push(format!(
                "err/{name}: output differs from {}\n--- got:\n{}--- expected:\n{expected}",
                expected_path.display(),
                human.stdout
            ));
            continue;
        }
        if !human.stderr.is_empty() {
            failures.push(format!("err/{name}: stderr: {}", human.stderr));
        }
        let has_error = human.stdout.lines().any(|l| l.starts_with("error["));
        let findings = human_findings(&human.stdout);
        if findings.is_empty() {
            failures.push(format!("err/{name}: an err fixture must report something"));
        }
        if human.code != if has_error { 1 } else { 0 } {
            failures.push(format!("err/{name}: exit {}", human.code));
        }

        // The JSON and GitHub formats report the same findings at the same places.
        let json = validate(&repo, "json");
        let report: Value = serde_json::from_str(&json.stdout).unwrap();
        let from_json: Vec<_> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["rule"].as_str().unwrap().to_owned(),
                    d["path"].as_str().unwrap().to_owned(),
                    d["line"].as_u64().unwrap(),
                    d["column"].as_u64().unwrap(),
                )
            })
            .collect();
        if from_json != findings || json.code != human.code {
            failures.push(format!(
                "err/{name}: json {from_json:?} (exit {}) != human {findings:?}",
                json.code
            ));
        }
        let github = validate(&repo, "github");
        let from_github: Vec<_> = github
            .stdout
            .lines()
            .map(|l| {
                let props = &l[l.find(' ').unwrap() + 1..];
                let props = &props[..props.find("::").unwrap()];
                let get = |key: &str| {
                    props
                        .split(',')
                        .find_map(|p| p.strip_prefix(&format!("{key}=")))
                        .unwrap()
                        .to_owned()
                };
                let title = get("title");
                (
                    title["vizier(".len()..title.len() - 1].to_owned(),
                    get("file"),
                    get("line").parse().unwrap(),
                    get("col").parse().unwrap(),
                )
            })
            .collect();
        if from_github != findings || github.code != human.code {
            failures.push(format!(
                "err/{name}: github {from_github:?} (exit {}) != human {findings:?}",
                github.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_expected_file_belongs_to_an_err_fixture() {
    let names: Vec<String> = fixtures("err").into_iter().map(|f| f.name).collect();
    for entry in std::fs::read_dir(fixtures_dir().join("err")).unwrap() {
        let path = entry.unwrap().path();
        let file_name = path.file_name().unwrap().to_str().unwrap();
        if let Some(name) = file_name.strip_suffix(".expected") {
            assert!(names.iter().any(|n| n == name), "stray {file_name}");
        }
    }
    for entry in std::fs::read_dir(fixtures_dir().join("ok")).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            path.is_dir() || path.extension().is_some_and(|e| e == "toml"),
            "ok/ holds only fixtures: {}",
            path.display()
        );
    }
}

/// Each rule id has `err/<id>` whose expected output reports that rule, and `ok/<id>`: the same
/// example fixed. Adding a rule without both fails here.
#[test]
fn every_rule_has_a_rejecting_and_an_accepting_fixture() {
    let err = fixtures("err");
    let ok = fixtures("ok");
    let mut missing = Vec::new();
    for rule in Rule::ALL {
        let id = rule.id();
        match err.iter().find(|f| f.name == id) {
            None => missing.push(format!("no err/{id}.toml or err/{id}/")),
            Some(fixture) => {
                let expected = std::fs::read_to_string(fixture.expected_path()).unwrap_or_default();
                let reported = human_findings(&expected).iter().any(|(r, ..)| r == id);
                if !reported {
                    missing.push(format!("err/{id}.expected does not report `{id}`"));
                }
            }
        }
        if !ok.iter().any(|f| f.name == id) {
            missing.push(format!("no ok/{id}.toml or ok/{id}/"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A fenced block of `docs/rules.md`, tied to the fixture file named on the line above it.
struct DocBlock {
    section: Option<String>,
    /// Relative to the crate root, e.g. `tests/fixtures/err/cycle.toml`.
    file: String,
    /// Line index of the first content line and one past the last.
    body: std::ops::Range<usize>,
}

fn doc_blocks(lines: &[&str]) -> Vec<DocBlock> {
    let mut blocks = Vec::new();
    let mut section = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(title) = line.strip_prefix("## ") {
            section = Some(title.trim().trim_matches('`').to_owned());
        }
        if line.starts_with("```") {
            let above = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .copied()
                .unwrap_or("");
            let file = above
                .split('`')
                .find(|part| part.starts_with("tests/fixtures/"))
                .unwrap_or_else(|| {
                    panic!(
                        "docs/rules.md:{}: the line above a code block must name the fixture it shows",
                        i + 1
                    )
                })
                .to_owned();
            let start = i + 1;
            let end = start
                + lines[start..]
                    .iter()
                    .position(|l| l.starts_with("```"))
                    .expect("closed code block");
            blocks.push(DocBlock {
                section: section.clone(),
                file,
                body: start..end,
            });
            i = end;
        }
        i += 1;
    }
    blocks
}

/// Every example in `docs/rules.md` is a fixture, byte for byte (so it is validated by the walker
/// above), and every rule has a section with its rejected example, that example's output, and the
/// accepted fix.
#[test]
fn rules_doc_examples_are_the_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc_path = root.join("docs/rules.md");
    if bless() {
        let doc = std::fs::read_to_string(&doc_path).unwrap();
        let lines: Vec<&str> = doc.lines().collect();
        let mut out: Vec<String> = Vec::new();
        let mut next = 0;
        for block in doc_blocks(&lines) {
            out.extend(lines[next..block.body.start].iter().map(|l| l.to_string()));
            let text = std::fs::read_to_string(root.join(&block.file)).unwrap();
            out.extend(text.lines().map(str::to_owned));
            next = block.body.end;
        }
        out.extend(lines[next..].iter().map(|l| l.to_string()));
        std::fs::write(&doc_path, out.join("\n") + "\n").unwrap();
    }
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let lines: Vec<&str> = doc.lines().collect();
    let blocks = doc_blocks(&lines);

    let mut problems = Vec::new();
    for block in &blocks {
        let shown = lines[block.body.clone()].join("\n") + "\n";
        match std::fs::read_to_string(root.join(&block.file)) {
            Ok(text) if text == shown => {}
            Ok(_) => problems.push(format!(
                "docs/rules.md:{}: the example differs from `{}`",
                block.body.start, block.file
            )),
            Err(e) => problems.push(format!("`{}`: {e}", block.file)),
        }
    }

    let sections: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|t| t.trim().trim_matches('`').to_owned())
        .collect();
    let ids: Vec<String> = Rule::ALL.iter().map(|r| r.id().to_owned()).collect();
    if sections != ids {
        problems.push(format!(
            "docs/rules.md sections {sections:?} are not the rule ids in order {ids:?}"
        ));
    }
    for id in &ids {
        let in_section: Vec<&str> = blocks
            .iter()
            .filter(|b| b.section.as_deref() == Some(id.as_str()))
            .map(|b| b.file.as_str())
            .collect();
        let shows = |prefix: &str| {
            in_section.iter().any(|f| {
                *f == format!("{prefix}{id}.toml") || f.starts_with(&format!("{prefix}{id}/"))
            })
        };
        if !shows("tests/fixtures/err/") {
            problems.push(format!("section `{id}` shows no example from err/{id}"));
        }
        if !in_section.contains(&format!("tests/fixtures/err/{id}.expected").as_str()) {
            problems.push(format!("section `{id}` does not show err/{id}.expected"));
        }
        if !shows("tests/fixtures/ok/") {
            problems.push(format!("section `{id}` shows no fix from ok/{id}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
