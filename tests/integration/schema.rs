//! `vizier schema` checked with a real JSON-Schema validator, and `vizier completions` / `--help`
//! keeping internal entry points out of sight.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

fn printed_schema() -> Value {
    let repo = Repo::bare_dir();
    let out = repo.vizier().arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).expect("`vizier schema` prints JSON")
}

fn toml_as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(toml_files(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The schema's error paths for an instance, empty when it is valid.
fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_repositorys_own_templates_fit_the_printed_schema() {
    let schema = printed_schema();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "not a valid JSON Schema"
    );
    let validator = jsonschema::validator_for(&schema).unwrap();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join(".vizier/workflow");
    let files = toml_files(&own);
    for name in ["draft", "approve", "merge", "ci"] {
        assert!(
            files.contains(&own.join(format!("{name}.toml"))),
            "{name}.toml is missing"
        );
    }
    assert_fit(&validator, &files);
}

#[test]
fn every_accepted_fixture_fits_the_schema() {
    let validator = jsonschema::validator_for(&printed_schema()).unwrap();
    let ok = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ok");
    let files = toml_files(&ok);
    assert!(files.len() > 30);
    assert_fit(&validator, &files);
}

fn assert_fit(validator: &jsonschema::Validator, files: &[PathBuf]) {
    for path in files {
        let errors = schema_errors(validator, &toml_as_json(path));
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn the_schema_rejects_what_the_validator_rejects_by_shape() {
    let validator = jsonschema::validator_for(&printed_schema()).unwrap();
    let err = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/err");
    // Each of these fixtures has a problem a schema can see, at this place in the document.
    for (fixture, at) in [
        ("missing-field", "/nodes/0"),
        ("missing-field-template", ""),
        ("invalid-field", "/nodes/0/kind"),
        ("invalid-field-types", "/policy/failure_mode"),
        ("invalid-field-shell-text", "/nodes/0/args/command"),
        ("unknown-field", "/nodes/1"),
        ("unknown-field-nested", ""),
        ("empty-uses", "/nodes/0/uses"),
        ("legacy-uses", "/nodes/0/uses"),
        ("unknown-uses", "/nodes/0/uses"),
    ] {
        let errors = schema_errors(
            &validator,
            &toml_as_json(&err.join(format!("{fixture}.toml"))),
        );
        assert!(
            errors.iter().any(|e| e.ends_with(&format!(" at {at}"))),
            "{fixture}: expected an error at `{at}`, got {errors:?}"
        );
    }
    let bad: Value = toml::from_str(
        "id = \"t\"\nversion = \"v1\"\n[[nodes]]\nid = \"n\"\nuses = \"cap.plan.persist\"\nretry = { mode = \"sometimes\" }\n",
    )
    .unwrap();
    let errors = schema_errors(&validator, &bad);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn completions_work_and_hide_internal_commands() {
    let repo = Repo::bare_dir();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        repo.vizier()
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("validate"))
            .stdout(predicate::str::contains("staged"))
            .stdout(predicate::str::contains("workflow-node").not())
            .stdout(predicate::str::contains("workflow__subcmd__node").not());
    }
    // The bash script is valid shell and defines the completion function.
    let out = repo
        .vizier()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let script = repo.join("vizier.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && complete -p vizier")
        .arg("-")
        .arg(&script)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    assert!(String::from_utf8_lossy(&status.stdout).contains("vizier"));
}

#[test]
fn help_does_not_mention_internal_commands() {
    let repo = Repo::bare_dir();
    for args in [&["--help"][..], &["help"], &["-h"]] {
        repo.vizier()
            .args(args)
            .assert()
            .code(0)
            .stdout(predicate::str::contains("validate"))
            .stdout(predicate::str::contains("workflow-node").not());
    }
}
