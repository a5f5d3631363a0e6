//! `vizier run <alias> [positional...] [--<named> value]`, `vizier run <alias> --help`,
//! `vizier list` and `vizier run --after`.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

/// Writes `slug` and `spec_file` into `out.txt` in the repository root.
const DRAFT: &str = r#"id = "template.draft"
version = "v1"
description = "Draft a plan from a spec file"

[params]
spec_file = { description = "the spec to draft from", required = true }
slug = { default = "plan", description = "names the plan branch" }
note = "none"

[cli]
positional = ["spec_file", "slug"]
named = { file = "spec_file", name = "slug" }

[[nodes]]
id = "echo"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "printf '%s %s %s' \"$VIZIER_PARAM_SPEC_FILE\" \"$VIZIER_PARAM_SLUG\" \"$VIZIER_PARAM_NOTE\" > out.txt" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "echo" }]
"#;

#[test]
fn positional_inputs_bind_in_order() {
    let repo = repo_with("draft", DRAFT);
    repo.vizier()
        .args(["run", "draft", "specs/login.md", "login-fix"])
        .assert()
        .success();
    assert_eq!(repo.read("out.txt"), "specs/login.md login-fix none");
}

#[test]
fn named_inputs_work_beside_set_and_run_flags_after_them() {
    let repo = repo_with("draft", DRAFT);
    repo.vizier()
        .args([
            "run", "draft", "--file", "a.md", "--name=x", "--set", "note=hi", "--quiet",
        ])
        .assert()
        .success();
    assert_eq!(repo.read("out.txt"), "a.md x hi");
}

#[test]
fn an_unknown_flag_is_a_usage_error_listing_the_inputs() {
    let repo = repo_with("draft", DRAFT);
    repo.vizier()
        .args(["run", "draft", "a.md", "--nope", "1"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown flag `--nope`")
                .and(predicate::str::contains("`spec_file` (argument 1, --file"))
                .and(predicate::str::contains("`slug` (argument 2, --name")),
        );
    assert!(!repo.join(".vizier/jobs/runs").exists());
}

#[test]
fn an_extra_positional_is_a_usage_error() {
    let repo = repo_with("draft", DRAFT);
    repo.vizier()
        .args(["run", "draft", "a.md", "b", "c"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unexpected argument `c`: `draft` takes 2 positional argument(s)",
        ));
}

#[test]
fn a_missing_required_input_is_named_with_an_example() {
    let repo = repo_with("draft", DRAFT);
    repo.vizier()
        .args(["run", "draft"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "missing required input `spec_file` (argument 1): the spec to draft from; \
             e.g. `vizier run draft <spec_file> <slug>`",
        ));
    assert!(!repo.join(".vizier/jobs/runs").exists());
}

#[test]
fn run_alias_help_prints_the_template_inputs_and_an_example() {
    let repo = repo_with("draft", DRAFT);
    let out = repo
        .vizier()
        .args(["run", "draft", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for want in [
        "draft: template.draft v1 (.vizier/workflow/draft.toml)",
        "Draft a plan from a spec file",
        "Usage: vizier run draft [SPEC_FILE] [SLUG] [OPTIONS]",
        "[SPEC_FILE]",
        "the spec to draft from (required)",
        "--name <SLUG>",
        "names the plan branch [default: plan]",
        "note",
        "[default: none]",
        "Example:\n  vizier run draft <spec_file> <slug>",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // The words before `--help` do not matter; nothing runs.
    repo.vizier()
        .args(["run", "draft", "a.md", "-h"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Example:"));
    assert!(!repo.join("out.txt").exists());
    // Without an alias it is the command's own help.
    repo.vizier()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--after <RUN_ID>"));
}

#[test]
fn list_shows_the_aliases_with_their_descriptions() {
    let repo = repo_with("draft", DRAFT);
    repo.write(".vizier/workflow/check.toml", OK_TEMPLATE);
    repo.vizier()
        .arg("list")
        .assert()
        .success()
        .stdout("check\ndraft  Draft a plan from a spec file\n");
}

fn wait_finished(repo: &Repo, run_id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        repo.vizier().args(["jobs", "list"]).assert().success();
        let m = run_manifest(repo, run_id);
        if m["outcome"].is_string() {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {run_id} did not end: {m}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

const GATE: &str = r#"id = "template.gate"
version = "v1"

[params]
result = "0"

[[nodes]]
id = "wait"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "while [ ! -e go ]; do sleep 0.05; done; exit ${result}" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "wait" }]
"#;

const FOLLOW: &str = r#"id = "template.follow"
version = "v1"

[[nodes]]
id = "mark"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "test -e go && touch followed" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "mark" }]
"#;

#[test]
fn after_waits_for_a_run_to_succeed_and_is_recorded() {
    let repo = repo_with("gate", GATE);
    repo.write(".vizier/workflow/follow.toml", FOLLOW);
    repo.commit_all("follow");
    let first = detached_run(&repo, &["gate"]);
    let second = detached_run(&repo, &["follow", "--after", &first]);
    assert_ne!(first, second);
    let m = run_manifest(&repo, &second);
    assert_eq!(m["after_runs"], serde_json::json!([first]));
    assert_eq!(
        run_manifest(&repo, &first)["followed_by"],
        serde_json::json!([second])
    );
    // The entry node waits, saying for what.
    repo.vizier().args(["jobs", "list"]).assert().success();
    let m = run_manifest(&repo, &second);
    assert_eq!(m["nodes"][0]["status"], "waiting_on_deps", "{m}");
    assert!(
        m["nodes"][0]["wait_reason"]["detail"]
            .as_str()
            .unwrap()
            .contains(&first)
    );
    repo.vizier()
        .args(["jobs", "schedule"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(format!("{second}  template.follow  active"))
                .and(predicate::str::contains(format!("after {first}"))),
        );
    std::fs::write(repo.join("go"), "").unwrap();
    assert_eq!(wait_finished(&repo, &first)["outcome"], "succeeded");
    assert_eq!(wait_finished(&repo, &second)["outcome"], "succeeded");
    assert!(repo.join("followed").exists());
}

#[test]
fn after_a_failed_run_blocks_the_entry_nodes_with_the_reason() {
    let repo = repo_with("gate", GATE);
    repo.write(".vizier/workflow/follow.toml", FOLLOW);
    repo.commit_all("follow");
    let first = detached_run(&repo, &["gate", "--set", "result=1"]);
    std::fs::write(repo.join("go"), "").unwrap();
    assert_eq!(wait_finished(&repo, &first)["outcome"], "failed");
    // A foreground run: it ends at once, blocked.
    repo.vizier()
        .args(["run", "follow", "--after", &first])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "mark blocked_by_dependency: waits for run {first}, which ended failed"
        )));
    assert!(!repo.join("followed").exists());
}

#[test]
fn after_an_unknown_run_is_a_usage_error() {
    let repo = repo_with("follow", FOLLOW);
    repo.vizier()
        .args(["run", "follow", "--after", "run-0000000000000000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--after run-0000000000000000: no such run",
        ));
}

#[test]
fn after_is_part_of_the_run_id() {
    let repo = repo_with("gate", GATE);
    repo.write(".vizier/workflow/follow.toml", FOLLOW);
    repo.commit_all("follow");
    let first = detached_run(&repo, &["gate"]);
    let plain = repo
        .vizier()
        .args(["run", "follow", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    let planned_after = || {
        repo.vizier()
            .args([
                "run",
                "follow",
                "--after",
                &first,
                "--dry-run",
                "--format",
                "json",
            ])
            .output()
            .unwrap()
    };
    let after = planned_after();
    let id = |o: &std::process::Output| {
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(id(&plain), id(&after));
    let again = planned_after();
    assert_eq!(id(&after), id(&again));
    std::fs::write(repo.join("go"), "").unwrap();
    wait_finished(&repo, &first);
}

#[test]
fn the_init_scaffold_declares_descriptions_and_inputs() {
    let repo = Repo::new();
    repo.vizier().arg("init").assert().success();
    repo.vizier().arg("list").assert().success().stdout(
        predicate::str::contains("draft    Draft an implementation plan")
            .and(predicate::str::contains("merge    Merge a plan branch")),
    );
    repo.vizier()
        .args(["run", "merge", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Usage: vizier run merge [SLUG] [OPTIONS]")
                .and(predicate::str::contains("--target <TARGET>"))
                .and(predicate::str::contains("vizier run merge <slug>")),
        );
    // A positional and a named input reach the plan, with a run flag after them.
    let out = repo
        .vizier()
        .args([
            "run",
            "merge",
            "login-fix",
            "--target",
            "release",
            "--dry-run",
            "--format",
            "json",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["params"]["slug"], "login-fix");
    assert_eq!(v["params"]["branch"], "draft/login-fix");
    assert_eq!(v["params"]["target"], "release");
}
