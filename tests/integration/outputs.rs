//! Node outputs: `$VIZIER_OUTPUT` in, `VIZIER_OUTPUT_<NODE>_<NAME>` and
//! `${nodes.<id>.outputs.<name>}` out, recorded per run.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

pub fn release_template() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents-doc/release.toml"),
    )
    .unwrap()
}

fn run_json(repo: &Repo, args: &[&str]) -> (i32, Value) {
    let out = repo
        .vizier()
        .args(["run"])
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let m = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), m)
}

fn log(repo: &Repo, m: &Value, id: &str) -> String {
    let job = node(m, id)["job_id"].as_str().unwrap().to_owned();
    repo.read(&format!(".vizier/jobs/{job}/stdout.log"))
}

fn payload_text(repo: &Repo, m: &Value, key: &str) -> String {
    let run_id = m["run_id"].as_str().unwrap();
    let job = node(m, "notes")["job_id"].as_str().unwrap();
    let rel = format!(".vizier/jobs/artifacts/data/{run_id}/prompt_text/{key}/{job}.json");
    let v: Value = serde_json::from_str(&repo.read(&rel)).unwrap();
    v["text"].as_str().unwrap().to_owned()
}

#[test]
fn an_output_reaches_a_later_script_as_a_variable_and_a_builtin_arg_as_text() {
    let repo = repo_with("release", &release_template());
    let (code, m) = run_json(&repo, &["release"]);
    assert_eq!(code, 0, "{m}");
    let first = node(&m, "first");
    assert_eq!(first["metadata"]["outputs"]["version"], "1.2.3");
    assert_eq!(
        first["metadata"]["outputs"]["changes"],
        "fix the login form\nadd a test"
    );
    assert_eq!(log(&repo, &m, "second"), "saw 1.2.3\n");
    assert_eq!(
        payload_text(&repo, &m, "notes"),
        "Write release notes for 1.2.3:\nfix the login form\nadd a test"
    );
    // The job record keeps them, `jobs show` shows them, and the job folder holds them.
    let job = first["job_id"].as_str().unwrap();
    let record: Value =
        serde_json::from_str(&repo.read(&format!(".vizier/jobs/{job}/job.json"))).unwrap();
    assert_eq!(record["metadata"]["outputs"]["version"], "1.2.3");
    let shown = repo.vizier().args(["jobs", "show", job]).output().unwrap();
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.contains("outputs:") && shown.contains("\"version\":\"1.2.3\""),
        "{shown}"
    );
    let file: Value =
        serde_json::from_str(&repo.read(&format!(".vizier/jobs/{job}/outputs.json"))).unwrap();
    assert_eq!(file["outputs"]["version"], "1.2.3");
}

#[test]
fn two_concurrent_runs_each_see_their_own_outputs() {
    let repo = repo_with(
        "release",
        &release_template().replace(
            "echo \"version=${version}\" >> \"$VIZIER_OUTPUT\"",
            "sleep 0.3; echo \"version=${version}\" >> \"$VIZIER_OUTPUT\"",
        ),
    );
    let versions = ["1.0.0", "2.0.0"];
    let sets: Vec<String> = versions.iter().map(|v| format!("version={v}")).collect();
    run_concurrently(&repo, "release", &sets);
    let runs = manifests(&repo);
    assert_eq!(runs.len(), 2);
    for m in &runs {
        let version = m["params"]["version"].as_str().unwrap();
        assert_eq!(log(&repo, m, "second"), format!("saw {version}\n"));
        assert!(payload_text(&repo, m, "notes").contains(version));
    }
}

#[test]
fn a_missing_output_fails_the_consumer_naming_the_node_and_the_output() {
    let repo = repo_with(
        "release",
        &release_template()
            .replace("echo \"version=${version}\"", "echo \"other=${version}\"")
            .replace(
                "test \"$VIZIER_OUTPUT_FIRST_VERSION\" = \"${version}\" && ",
                "",
            ),
    );
    let (code, m) = run_json(&repo, &["release"]);
    assert_eq!(code, 1, "{m}");
    let notes = node(&m, "notes");
    assert_eq!(notes["status"], "failed");
    let reason = notes["reason"].as_str().unwrap();
    assert!(
        reason.contains("node `first` has no output `version`") && reason.contains("other"),
        "{reason}"
    );
}

#[test]
fn an_output_over_one_mib_fails_its_node() {
    let repo = repo_with(
        "release",
        &release_template().replace(
            "echo \"version=${version}\" >> \"$VIZIER_OUTPUT\"",
            "printf 'version=' >> \"$VIZIER_OUTPUT\"; head -c 1048577 /dev/zero | tr '\\\\0' x >> \"$VIZIER_OUTPUT\"; echo >> \"$VIZIER_OUTPUT\"",
        ),
    );
    let (code, m) = run_json(&repo, &["release"]);
    assert_eq!(code, 1, "{m}");
    let first = node(&m, "first");
    assert_eq!(first["status"], "failed");
    let reason = first["reason"].as_str().unwrap();
    assert!(
        reason.contains("output `version` is 1048577 bytes") && reason.contains("1 MiB"),
        "{reason}"
    );
}

#[test]
fn a_malformed_output_file_fails_its_node_with_the_line() {
    let repo = repo_with(
        "release",
        &release_template().replace(
            "echo \"version=${version}\" >> \"$VIZIER_OUTPUT\"",
            "echo 'no equals sign here' >> \"$VIZIER_OUTPUT\"",
        ),
    );
    let (code, m) = run_json(&repo, &["release"]);
    assert_eq!(code, 1);
    let reason = node(&m, "first")["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("$VIZIER_OUTPUT") && reason.contains("line 1"),
        "{reason}"
    );
}

#[test]
fn outputs_are_copied_with_the_ci_artifacts() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ci.toml", &release_template());
    repo.write(".gitignore", ".vizier/jobs/\n");
    repo.commit_all("init");
    let artifacts = repo.home.path().join("artifacts");
    let mut cmd = repo.vizier();
    cmd.env_remove("CI")
        .args(["ci", "--artifacts-dir"])
        .arg(&artifacts)
        .assert()
        .code(0);
    let runs: Vec<_> = std::fs::read_dir(artifacts.join("runs")).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let m: Value =
        serde_json::from_slice(&std::fs::read(runs[0].as_ref().unwrap().path()).unwrap()).unwrap();
    assert_eq!(node(&m, "first")["metadata"]["outputs"]["version"], "1.2.3");
    let job = node(&m, "first")["job_id"].as_str().unwrap().to_owned();
    let copied: Value = serde_json::from_slice(
        &std::fs::read(artifacts.join("jobs").join(&job).join("outputs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(copied["outputs"]["version"], "1.2.3");
}

#[test]
fn a_reference_that_is_not_an_output_reference_is_an_undeclared_param_with_the_right_form() {
    let repo = repo_with(
        "release",
        &release_template().replace("${nodes.first.outputs.version}:", "${nodes.first.version}:"),
    );
    let out = repo
        .vizier()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &report["diagnostics"][0];
    assert_eq!(d["rule"], "undeclared-param");
    assert_eq!(
        d["help"],
        "a node output is written `${nodes.<id>.outputs.<name>}`"
    );
}
