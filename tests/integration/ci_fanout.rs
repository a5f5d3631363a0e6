//! `vizier ci plan` / `ci node` / `ci collect` simulating many runners: every group runs in its own
//! fresh clone, in level order, seeing only the plan's and the earlier groups' artifact folders; the
//! collected manifest must equal a single-runner `vizier ci` of the same push.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::*;

/// A diamond of `cicd.run` nodes (`setup` → `unit`, `lint` → `done`), a failure handler (`report`,
/// taken when `unit` fails) and a bounded loop (`verify` fails once, loops back to `build`).
pub const CI: &str = r#"id = "template.ci"
version = "v1"

[[nodes]]
id = "setup"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo setting up" }

[[nodes]]
id = "unit"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "test ! -f fail-unit" }
after = [{ node_id = "setup" }]
on = { failed = ["report"] }

[[nodes]]
id = "lint"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo linting" }
after = [{ node_id = "setup" }]

[[nodes]]
id = "build"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo building" }
after = [{ node_id = "setup" }]

[[nodes]]
id = "verify"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "n=$(cat .verify-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > .verify-count; test $n -ge 2" }
after = [{ node_id = "build" }]
retry = { mode = "until_gate", budget = 2 }
on = { failed = ["build"] }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "unit" }, { node_id = "lint" }, { node_id = "verify" }]

[[nodes]]
id = "report"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo unit failed" }
"#;

struct Push {
    origin: Repo,
    files: tempfile::TempDir,
    event: PathBuf,
}

fn pushed(fail_unit: bool) -> Push {
    pushed_with(CI, &[], fail_unit)
}

fn pushed_with(template: &str, files: &[(&str, &str)], fail_unit: bool) -> Push {
    let origin = Repo::new();
    origin.write(".vizier/workflow/ci.toml", template);
    for (rel, text) in files {
        origin.write(rel, text);
    }
    origin.write(
        ".gitignore",
        ".vizier/jobs/\n.vizier/artifacts/\n.verify-count\n",
    );
    origin.commit_all("one");
    let before = origin.git(&["rev-parse", "HEAD"]).trim().to_owned();
    origin.write("src.txt", "changed\n");
    if fail_unit {
        origin.write("fail-unit", "\n");
    }
    origin.commit_all("two");
    let after = origin.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let files = tempfile::tempdir().unwrap();
    let event = files.path().join("event.json");
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
    Push {
        origin,
        files,
        event,
    }
}

impl Push {
    /// A fresh clone of the pushed repository: a new runner.
    fn clone_into(&self, name: &str) -> PathBuf {
        let dest = self.files.path().join(name);
        let out = self.origin.git_output(&[
            "clone",
            "-q",
            self.origin.path().to_str().unwrap(),
            dest.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dest
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.files.path().join(name)
    }

    /// `vizier <args>` in `dir`, outside GitHub, with the event given by flag.
    fn vizier(&self, dir: &Path, args: &[&str], extra: &[&Path]) -> std::process::Output {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args);
        for e in extra {
            cmd.arg(e);
        }
        cmd.arg("--event-path").arg(&self.event).current_dir(dir);
        isolate(&mut cmd, self.origin.home.path());
        cmd.env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY");
        cmd.output().unwrap()
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The single-runner manifest of the push.
fn single_runner(push: &Push) -> Value {
    let clone = push.clone_into("single");
    let artifacts = push.dir("single-artifacts");
    let out = push.vizier(
        &clone,
        &["ci", "--format", "text", "--artifacts-dir"],
        &[&artifacts],
    );
    let runs: Vec<_> = std::fs::read_dir(artifacts.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{}", text(&out));
    read_json(&runs[0])
}

struct FanOut {
    plan: Value,
    /// (group id, level, exit code, artifacts folder)
    groups: Vec<(String, u64, i32, PathBuf)>,
    plan_dir: PathBuf,
}

/// Plans, then runs every group in its own clone in level order.
fn fan_out(push: &Push) -> FanOut {
    let plan_dir = push.dir("plan-artifacts");
    let clone = push.clone_into("planner");
    let out = push.vizier(
        &clone,
        &["ci", "plan", "--format", "json", "--artifacts-dir"],
        &[&plan_dir],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan, read_json(&plan_dir.join("fanout/plan.json")));
    let mut groups: Vec<(String, u64)> = plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["groups"].as_array().unwrap())
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                g["level"].as_u64().unwrap(),
            )
        })
        .collect();
    groups.sort_by_key(|(_, level)| *level);
    let mut ran: Vec<(String, u64, i32, PathBuf)> = Vec::new();
    for (k, (id, level)) in groups.into_iter().enumerate() {
        let clone = push.clone_into(&format!("runner-{k}"));
        let artifacts = push.dir(&format!("group-{k}"));
        let earlier: Vec<PathBuf> = ran
            .iter()
            .filter(|(_, l, _, _)| *l < level)
            .map(|(_, _, _, d)| d.clone())
            .collect();
        // `--store-in DIR` pairs: the plan's folder first, then each earlier group's.
        let mut cmd_args: Vec<std::ffi::OsString> = vec![
            "ci".into(),
            "node".into(),
            "--group".into(),
            id.clone().into(),
            "--format".into(),
            "text".into(),
            "--store-in".into(),
            plan_dir.clone().into(),
        ];
        for d in &earlier {
            cmd_args.push("--store-in".into());
            cmd_args.push(d.clone().into());
        }
        cmd_args.push("--artifacts-dir".into());
        cmd_args.push(artifacts.clone().into());
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(&cmd_args)
            .arg("--event-path")
            .arg(&push.event)
            .current_dir(&clone);
        isolate(&mut cmd, push.origin.home.path());
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(code == 0 || code == 1, "group {id}: {}", text(&out));
        assert!(
            artifacts.join(format!("groups/{id}.json")).is_file(),
            "group {id} left its report: {}",
            text(&out)
        );
        ran.push((id, level, code, artifacts));
    }
    FanOut {
        plan,
        groups: ran,
        plan_dir,
    }
}

/// `vizier ci collect` over the given folders, in a fresh clone.
fn collect(push: &Push, name: &str, folders: &[&Path]) -> (std::process::Output, PathBuf) {
    let clone = push.clone_into(name);
    let artifacts = push.dir(&format!("{name}-artifacts"));
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["ci", "collect", "--format", "text"]);
    for f in folders {
        cmd.arg("--store-in").arg(f);
    }
    cmd.arg("--artifacts-dir")
        .arg(&artifacts)
        .arg("--event-path")
        .arg(&push.event)
        .current_dir(&clone);
    isolate(&mut cmd, push.origin.home.path());
    cmd.env(
        "GITHUB_STEP_SUMMARY",
        push.dir(&format!("{name}-summary.md")),
    )
    .env("GITHUB_OUTPUT", push.dir(&format!("{name}-output")));
    (cmd.output().unwrap(), artifacts)
}

fn folders(f: &FanOut) -> Vec<&Path> {
    let mut all: Vec<&Path> = vec![&f.plan_dir];
    all.extend(f.groups.iter().map(|(_, _, _, d)| d.as_path()));
    all
}

/// (node id, job id, status) of each node, in order.
fn states(m: &Value) -> Vec<(String, String, String)> {
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

#[test]
fn fanned_out_runners_end_with_the_single_runner_manifest() {
    let push = pushed(false);
    let single = single_runner(&push);
    assert_eq!(single["outcome"], "succeeded", "{single:#}");
    let f = fan_out(&push);
    let run = &f.plan["runs"][0];
    assert_eq!(
        run["run_id"], single["run_id"],
        "the plan computes the same run id"
    );
    // The diamond spreads out; the loop keeps its rewind set (and the terminal after it) together.
    let shape: Vec<(u64, Vec<&str>)> = run["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["level"].as_u64().unwrap(),
                g["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0, vec!["setup"]),
            (1, vec!["unit"]),
            (1, vec!["lint"]),
            (2, vec!["build", "verify", "done"]),
            (2, vec!["report"]),
        ]
    );
    for g in run["groups"].as_array().unwrap() {
        let id = g["id"].as_str().unwrap();
        assert!(id.starts_with(&format!("{}.g", single["run_id"].as_str().unwrap())));
        assert!(!g["why"].as_str().unwrap().is_empty());
    }
    assert!(
        run["groups"][3]["why"]
            .as_str()
            .unwrap()
            .contains("loop-back `verify` → `build`")
    );
    assert!(f.groups.iter().all(|(_, _, code, _)| *code == 0));

    let (out, artifacts) = collect(&push, "collector", &folders(&f));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run_id = single["run_id"].as_str().unwrap();
    let merged = read_json(&artifacts.join(format!("runs/{run_id}.json")));
    assert_eq!(merged["run_id"], single["run_id"]);
    assert_eq!(merged["outcome"], single["outcome"]);
    assert_eq!(merged["template"], single["template"]);
    assert_eq!(states(&merged), states(&single));
    for id in ["build", "verify", "done"] {
        assert_eq!(
            node(&merged, id)["attempts"],
            node(&single, id)["attempts"],
            "{id}"
        );
    }
    assert_eq!(node(&merged, "verify")["attempts"], 2, "the loop ran once");
    assert_eq!(node(&merged, "report")["status"], "skipped");
    // Every job's record and logs are in the final artifacts; the summary names the runner job.
    for (_, job_id, _) in states(&merged) {
        let record = read_json(&artifacts.join(format!("jobs/{job_id}/job.json")));
        assert_eq!(record["job_id"], job_id.as_str());
        assert!(
            artifacts
                .join(format!("jobs/{job_id}/stdout.log"))
                .is_file()
        );
    }
    let log = std::fs::read_to_string(artifacts.join(format!(
        "jobs/{}/stdout.log",
        node(&merged, "lint")["job_id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(log.contains("linting"), "{log}");
    assert!(
        node(&merged, "lint")["metadata"]["ci_group"]
            .as_str()
            .unwrap()
            .ends_with(".g2")
    );
    let summary = std::fs::read_to_string(push.dir("collector-summary.md")).unwrap();
    assert!(summary.contains("```mermaid"), "{summary}");
    assert!(summary.contains("passed"), "{summary}");
    // Which runner job ran each node: a table column and a line in each box of the graph.
    assert!(summary.contains("| attempts | runner |"), "{summary}");
    assert!(
        summary.contains("<br/>succeeded<br/>this machine"),
        "{summary}"
    );
    let output = std::fs::read_to_string(push.dir("collector-output")).unwrap();
    assert!(output.contains(run_id), "{output}");

    // A group that never reported (its runner was cancelled): its node is cancelled, the run fails.
    let lint_dir = f.groups[2].3.clone();
    let without: Vec<&Path> = folders(&f)
        .into_iter()
        .filter(|d| *d != lint_dir.as_path())
        .collect();
    let (out, artifacts) = collect(&push, "cancelled", &without);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let merged = read_json(&artifacts.join(format!("runs/{run_id}.json")));
    assert_eq!(merged["outcome"], "failed");
    let lint = node(&merged, "lint");
    assert_eq!(lint["status"], "cancelled");
    assert!(
        lint["reason"].as_str().unwrap().contains("never reported"),
        "{lint}"
    );
    assert_eq!(node(&merged, "unit")["status"], "succeeded");
}

#[test]
fn a_failing_node_blocks_its_downstream_across_runners_and_collect_fails() {
    let push = pushed(true);
    let single = single_runner(&push);
    assert_eq!(single["outcome"], "failed");
    let f = fan_out(&push);
    let codes: Vec<(String, i32)> = f
        .groups
        .iter()
        .map(|(id, _, code, _)| (id.rsplit('.').next().unwrap().to_owned(), *code))
        .collect();
    // `unit` fails (exit 1); its handler's group succeeds; the loop group ends with `done` blocked.
    assert_eq!(
        codes,
        [
            ("g0".to_owned(), 0),
            ("g1".to_owned(), 1),
            ("g2".to_owned(), 0),
            ("g3".to_owned(), 1),
            ("g4".to_owned(), 0),
        ]
    );
    let (out, artifacts) = collect(&push, "collector", &folders(&f));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run_id = single["run_id"].as_str().unwrap();
    let merged = read_json(&artifacts.join(format!("runs/{run_id}.json")));
    assert_eq!(merged["outcome"], "failed");
    assert_eq!(states(&merged), states(&single));
    assert_eq!(node(&merged, "unit")["status"], "failed");
    assert_eq!(node(&merged, "report")["status"], "succeeded");
    assert_eq!(node(&merged, "done")["status"], "blocked_by_dependency");
    let annotations = std::fs::read_to_string(artifacts.join("annotations.txt")).unwrap();
    assert!(annotations.contains("unit"), "{annotations}");
}

#[test]
fn a_tampered_group_report_is_set_aside_and_its_nodes_count_as_never_reported() {
    let push = pushed(false);
    let f = fan_out(&push);
    let run_id = f.plan["runs"][0]["run_id"].as_str().unwrap().to_owned();
    // The `lint` group's report claims a job outside the plan, with a path that leaves the root.
    let (lint_id, _, _, lint_dir) = &f.groups[2];
    let report_path = lint_dir.join(format!("groups/{lint_id}.json"));
    let mut report = read_json(&report_path);
    report["nodes"][0]["job_id"] = json!("../../../evil");
    std::fs::write(&report_path, report.to_string()).unwrap();
    // And the `unit` group's report gives `unit` an execution root outside the repository.
    let (unit_id, _, _, unit_dir) = &f.groups[1];
    let report_path = unit_dir.join(format!("groups/{unit_id}.json"));
    let mut report = read_json(&report_path);
    report["nodes"][0]["metadata"]["execution_root"] = json!("../../elsewhere");
    std::fs::write(&report_path, report.to_string()).unwrap();

    let (out, artifacts) = collect(&push, "collector", &folders(&f));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let merged = read_json(&artifacts.join(format!("runs/{run_id}.json")));
    for id in ["lint", "unit"] {
        let n = node(&merged, id);
        assert_eq!(n["status"], "cancelled", "{n}");
        assert!(
            n["reason"].as_str().unwrap().contains("never reported"),
            "{n}"
        );
    }
    assert!(!push.dir("evil").exists() && !push.files.path().join("../evil").exists());
    let annotations = std::fs::read_to_string(artifacts.join("annotations.txt")).unwrap();
    assert!(annotations.contains("set aside"), "{annotations}");
    assert!(
        annotations.contains("not a path inside the repository"),
        "{annotations}"
    );
}

#[test]
fn plan_for_github_writes_levels_and_one_matrix_per_level() {
    let push = pushed(false);
    let clone = push.clone_into("planner");
    let output = push.dir("output");
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["ci", "plan", "--max-levels", "2", "--event-path"])
        .arg(&push.event)
        .current_dir(&clone);
    isolate(&mut cmd, push.origin.home.path());
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(&output).unwrap();
    let value = |name: &str| -> String {
        let mut lines = written.lines();
        while let Some(line) = lines.next() {
            if let Some(delim) = line.strip_prefix(&format!("{name}<<")) {
                let mut v = Vec::new();
                for l in lines.by_ref() {
                    if l == delim {
                        return v.join("\n");
                    }
                    v.push(l);
                }
            }
            if let Some(v) = line.strip_prefix(&format!("{name}=")) {
                return v.to_owned();
            }
        }
        panic!("no `{name}` in {written}");
    };
    assert_eq!(value("levels"), "2");
    let level0: Value = serde_json::from_str(&value("level-0")).unwrap();
    assert_eq!(level0["include"].as_array().unwrap().len(), 1);
    assert!(
        level0["include"][0]["group"]
            .as_str()
            .unwrap()
            .ends_with(".g0")
    );
    assert!(
        level0["include"][0]["title"]
            .as_str()
            .unwrap()
            .contains("setup")
    );
    // With two levels, everything past level 0 merges into one group on one runner.
    let level1: Value = serde_json::from_str(&value("level-1")).unwrap();
    assert_eq!(level1["include"].as_array().unwrap().len(), 1);
    assert_eq!(
        level1["include"][0]["title"], "ci: unit, lint, build, +3",
        "{level1}"
    );
    assert!(!written.contains("level-2"));

    // Outside GitHub `--format github` without GITHUB_OUTPUT is a usage error.
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["ci", "plan", "--format", "github", "--event-path"])
        .arg(&push.event)
        .current_dir(&clone);
    isolate(&mut cmd, push.origin.home.path());
    cmd.env_remove("GITHUB_OUTPUT");
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
}

#[test]
fn a_node_in_a_checkout_with_other_templates_than_planned_is_refused() {
    let push = pushed(false);
    let f = fan_out(&push);
    let clone = push.clone_into("elsewhere");
    std::fs::write(
        clone.join(".vizier/workflow/ci.toml"),
        CI.replace("echo linting", "echo other"),
    )
    .unwrap();
    let (id, _, _, _) = &f.groups[0];
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "ci",
        "node",
        "--format",
        "text",
        "--group",
        id,
        "--store-in",
    ])
    .arg(&f.plan_dir)
    .arg("--artifacts-dir")
    .arg(push.dir("elsewhere-artifacts"))
    .arg("--event-path")
    .arg(&push.event)
    .current_dir(&clone);
    isolate(&mut cmd, push.origin.home.path());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("the plan says"), "{}", text(&out));
}

const PROMPTED: &str = r#"id = "template.ci"
version = "v1"

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "prompt"
kind = "builtin"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_text = "review the push" }
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }

[[nodes]]
id = "review"
kind = "agent"
uses = "cap.agent.invoke"
after = [{ node_id = "prompt" }]
needs = [{ custom = { type_id = "prompt_text", key = "main" } }]
"#;

#[test]
fn a_payload_produced_on_one_runner_reaches_its_consumer_on_another() {
    let push = pushed_with(
        PROMPTED,
        &[(".vizier/config.toml", "[agent]\ncommand = [\"cat\"]\n")],
        false,
    );
    let f = fan_out(&push);
    let groups = f.plan["runs"][0]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[1]["nodes"], json!(["review"]));
    assert!(f.groups.iter().all(|(_, _, code, _)| *code == 0));
    let (out, artifacts) = collect(&push, "collector", &folders(&f));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run_id = f.plan["runs"][0]["run_id"].as_str().unwrap();
    let merged = read_json(&artifacts.join(format!("runs/{run_id}.json")));
    let review = node(&merged, "review");
    assert_eq!(review["status"], "succeeded", "{review}");
    // The agent (`cat`) read the prompt that the other runner resolved.
    let log = std::fs::read_to_string(artifacts.join(format!(
        "jobs/{}/stdout.log",
        review["job_id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(log.contains("review the push"), "{log}");
}

#[test]
fn a_deleted_ref_plans_nothing_and_collect_is_a_no_op_success() {
    let push = pushed(false);
    let mut event = read_json(&push.event);
    event["deleted"] = json!(true);
    event["after"] = json!("0".repeat(40));
    event["head_commit"] = Value::Null;
    std::fs::write(&push.event, event.to_string()).unwrap();
    let clone = push.clone_into("planner");
    let plan_dir = push.dir("plan");
    let out = push.vizier(&clone, &["ci", "plan", "--artifacts-dir"], &[&plan_dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["runs"], json!([]));
    assert_eq!(plan["levels"], 0);
    let (out, _) = collect(&push, "collector", &[&plan_dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let output = std::fs::read_to_string(push.dir("collector-output")).unwrap();
    assert!(output.contains("skipped"), "{output}");
}

#[test]
fn an_invalid_template_fails_the_plan_and_the_collect() {
    let push = pushed_with(BAD_TEMPLATE, &[], false);
    let clone = push.clone_into("planner");
    let plan_dir = push.dir("plan");
    let out = push.vizier(
        &clone,
        &["ci", "plan", "--format", "json", "--artifacts-dir"],
        &[&plan_dir],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("unknown-uses"), "{}", text(&out));
    let (out, _) = collect(&push, "collector", &[&plan_dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Without the plan's folder there is nothing to collect: a usage error naming what is missing.
    let (out, _) = collect(&push, "lost", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("fanout/plan.json"), "{}", text(&out));
}

#[test]
fn a_group_whose_upstream_never_reported_blocks_instead_of_running() {
    let push = pushed(false);
    let f = fan_out(&push);
    // Run the loop group again in a fresh clone, without the `lint` group's folder: lint's runner
    // was cancelled.
    let (g3, _, _, _) = &f.groups[3];
    let clone = push.clone_into("late-runner");
    let artifacts = push.dir("late-artifacts");
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["ci", "node", "--format", "text", "--group", g3])
        .arg("--store-in")
        .arg(&f.plan_dir)
        .arg("--store-in")
        .arg(&f.groups[0].3)
        .arg("--store-in")
        .arg(&f.groups[1].3)
        .arg("--artifacts-dir")
        .arg(&artifacts)
        .arg("--event-path")
        .arg(&push.event)
        .current_dir(&clone);
    isolate(&mut cmd, push.origin.home.path());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("never reported"), "{}", text(&out));
    let report = read_json(&artifacts.join(format!("groups/{g3}.json")));
    let statuses: Vec<(&str, &str)> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node_id"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("build", "blocked_by_dependency"),
            ("verify", "blocked_by_dependency"),
            ("done", "blocked_by_dependency"),
        ]
    );
}

#[test]
fn two_templates_fan_out_together_and_collect_into_two_manifests() {
    let push = pushed_with(
        CI,
        &[
            (".vizier/workflow/lint.toml", OK_TEMPLATE),
            (
                ".vizier/config.toml",
                "[ci]\ntemplates = [\"ci\", \"lint\"]\n",
            ),
        ],
        false,
    );
    let f = fan_out(&push);
    let runs = f.plan["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0]["run_id"], runs[1]["run_id"]);
    let mut ids: Vec<&str> = runs
        .iter()
        .flat_map(|r| r["groups"].as_array().unwrap())
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        all,
        "group ids are unique across the push's runs"
    );
    assert!(f.groups.iter().all(|(_, _, code, _)| *code == 0));
    let (out, artifacts) = collect(&push, "collector", &folders(&f));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for r in runs {
        let m = read_json(&artifacts.join(format!("runs/{}.json", r["run_id"].as_str().unwrap())));
        assert_eq!(m["outcome"], "succeeded", "{m}");
    }
    let output = std::fs::read_to_string(push.dir("collector-output")).unwrap();
    for r in runs {
        assert!(output.contains(r["run_id"].as_str().unwrap()), "{output}");
    }
}

/// `first` publishes an output on one runner; `second`, on another, reads it from its variable.
const OUTPUTS: &str = r#"id = "template.ci"
version = "v1"

[[nodes]]
id = "first"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo v=7 >> \"$VIZIER_OUTPUT\"" }

[[nodes]]
id = "second"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo \"saw [$VIZIER_OUTPUT_FIRST_V]\"; test \"$VIZIER_OUTPUT_FIRST_V\" = 7" }
after = [{ node_id = "first" }]
"#;

/// The imported job folder brings its `outputs.json`; the run's outputs index on the importing
/// runner must name it, or the node there starts without the value.
#[test]
fn an_output_published_on_one_runner_reaches_its_consumer_on_another() {
    let push = pushed_with(OUTPUTS, &[], false);
    let f = fan_out(&push);
    let groups = f.plan["runs"][0]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[1]["nodes"], json!(["second"]));
    let (out, artifacts) = collect(&push, "collector", &folders(&f));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run_id = f.plan["runs"][0]["run_id"].as_str().unwrap();
    let merged = read_json(&artifacts.join(format!("runs/{run_id}.json")));
    let second = node(&merged, "second");
    assert_eq!(second["status"], "succeeded", "{second}");
    let log = std::fs::read_to_string(artifacts.join(format!(
        "jobs/{}/stdout.log",
        second["job_id"].as_str().unwrap()
    )))
    .unwrap();
    assert_eq!(log, "saw [7]\n");
}
