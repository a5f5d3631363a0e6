//! Composed workflows run as one run: renamed job ids, links as dependencies, one manifest.

use predicates::prelude::*;

use crate::support::*;

const BUILD: &str = r#"id = "template.build"
version = "v1"

[params]
out = "built.txt"

[[nodes]]
id = "compile"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo build >> order.txt; touch ${out}" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "compile" }]
"#;

const SHIP: &str = r#"id = "template.ship"
version = "v1"

[params]
out = "built.txt"

[[nodes]]
id = "check"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "test -f ${out} && echo ship >> order.txt" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "check" }]
"#;

const PIPELINE: &str = r#"id = "template.pipeline"
version = "v1"

[[imports]]
name = "build"
path = "workflow/build.toml"

[[imports]]
name = "ship"
path = "workflow/ship.toml"

[[links]]
from = "build"
to = "ship"
"#;

fn repo(build: &str) -> Repo {
    let repo = Repo::new();
    repo.write(".vizier/workflow/build.toml", build);
    repo.write(".vizier/workflow/ship.toml", SHIP);
    repo.write(".vizier/pipeline.toml", PIPELINE);
    repo.write(".gitignore", ".vizier/jobs/\n");
    repo.commit_all("init");
    repo
}

#[test]
fn a_composition_runs_its_stages_in_link_order_as_one_run() {
    let repo = repo(BUILD);
    repo.vizier().args(["run", "pipeline"]).assert().code(0);
    assert_eq!(repo.read("order.txt"), "build\nship\n");
    let all = manifests(&repo);
    assert_eq!(all.len(), 1, "one run, one manifest");
    let m = &all[0];
    let run_id = m["run_id"].as_str().unwrap();
    assert_eq!(m["template"]["id"], "template.pipeline");
    let check = node(m, "ship__check");
    assert_eq!(check["job_id"], format!("{run_id}-ship__check"));
    assert_eq!(
        check["after"],
        serde_json::json!([format!("{run_id}-build__done")])
    );
    assert_eq!(node(m, "build__compile")["status"], "succeeded");
    repo.vizier()
        .args(["jobs", "schedule", "--format", "mermaid"])
        .assert()
        .stdout(predicate::str::contains("subgraph s0[\"build\"]"))
        .stdout(predicate::str::contains("subgraph s1[\"ship\"]"));
}

#[test]
fn a_failure_in_one_stage_stops_the_next() {
    let repo = repo(&BUILD.replace("touch ${out}", "exit 3"));
    repo.vizier().args(["run", "pipeline"]).assert().code(1);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "build__compile")["status"], "failed");
    assert_eq!(node(m, "ship__check")["status"], "blocked_by_dependency");
    assert_eq!(repo.read("order.txt"), "build\n");
}

#[test]
fn a_set_of_a_param_no_stage_declares_is_a_usage_error() {
    let repo = repo(BUILD);
    repo.vizier()
        .args(["run", "pipeline", "--set", "ot=x"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown param `ot`").and(predicate::str::contains("`out`")),
        );
    repo.vizier()
        .args(["run", "pipeline", "--set", "out=other.txt"])
        .assert()
        .code(0);
    assert!(repo.join("other.txt").exists());
}

/// A repository `vizier init` scaffolded, with the example agent configured (optionally wrapped so
/// it fails on the `approve` stage's prompt).
fn developed_repo(fail_approve: bool) -> Repo {
    let repo = Repo::new();
    repo.write("README.md", "# project\n");
    repo.commit_all("a project");
    repo.vizier().arg("init").assert().code(0);
    let agent = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/example-agent.sh");
    let wrapper = if fail_approve {
        format!(
            "#!/bin/sh\nprompt=$(cat)\ncase $prompt in *'Implement the plan'*) echo 'refusing to implement' >&2; exit 9 ;; esac\nprintf '%s\\n' \"$prompt\" | sh '{}'\n",
            agent.display()
        )
    } else {
        format!("#!/bin/sh\nexec sh '{}'\n", agent.display())
    };
    repo.write("agent.sh", &wrapper);
    let mut config = repo.read(".vizier/config.toml");
    config.push_str(&format!(
        "\n[agent]\ncommand = [\"sh\", \"{}\"]\ntimeout_secs = 60\n",
        repo.join("agent.sh").display()
    ));
    repo.write(".vizier/config.toml", &config);
    repo.commit_all("configure the agent");
    repo
}

#[test]
fn develop_runs_draft_approve_and_merge_to_the_end_with_a_scripted_agent() {
    let repo = developed_repo(false);
    let out = repo
        .vizier()
        .args([
            "run",
            "develop",
            "--set",
            "slug=greet",
            "--set",
            "spec=Greet people",
            "--set",
            "ci_script=true",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = &manifests(&repo)[0];
    assert_eq!(m["outcome"], "succeeded", "{m:#}");
    for stage_node in [
        "draft__agent",
        "draft__persist",
        "approve__agent",
        "approve__commit",
        "merge__integrate",
    ] {
        assert_eq!(node(m, stage_node)["status"], "succeeded", "{stage_node}");
    }
    // The plan and the implementation landed on main, squashed; no worktree is left behind.
    let plan = repo.git(&["show", "main:.vizier/implementation-plans/greet.md"]);
    assert!(
        plan.contains("## Operator Spec") && plan.contains("Greet people"),
        "{plan}"
    );
    assert!(
        repo.git(&["show", "main:implemented/greet.md"])
            .contains("# Implemented: greet")
    );
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "main"]).trim(),
        "feat: merge plan greet"
    );
    assert_eq!(repo.git(&["worktree", "list"]).lines().count(), 1);
    assert!(repo.git(&["status", "--porcelain"]).is_empty());
}

#[test]
fn a_failure_in_the_approve_stage_stops_merge() {
    let repo = developed_repo(true);
    let main_before = repo.git(&["rev-parse", "main"]);
    repo.vizier()
        .args([
            "run",
            "develop",
            "--set",
            "slug=greet",
            "--set",
            "ci_script=true",
        ])
        .assert()
        .code(1);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "draft__done")["status"], "succeeded");
    assert_eq!(node(m, "approve__agent")["status"], "failed");
    assert_eq!(node(m, "approve__agent")["exit_code"], 9);
    assert_eq!(
        node(m, "merge__integrate")["status"],
        "blocked_by_dependency"
    );
    assert_eq!(
        repo.git(&["rev-parse", "main"]),
        main_before,
        "nothing was merged"
    );
}

/// The repository's own `approve` template with an agent that adds a line per run: the stop
/// condition loops back to the agent until it passes, or until the budget is spent.
fn approve_repo() -> Repo {
    let repo = Repo::new();
    repo.write("README.md", "# project\n");
    repo.write(
        ".vizier/workflow/approve.toml",
        include_str!("../../.vizier/workflow/approve.toml"),
    );
    repo.write(
        ".vizier/prompts/approve.md",
        include_str!("../../.vizier/prompts/approve.md"),
    );
    repo.write(
        "agent.sh",
        "#!/bin/sh\ncat > /dev/null\necho run >> runs.txt\necho 'did one more run'\n",
    );
    repo.write(
        ".vizier/config.toml",
        &format!(
            "[agent]\ncommand = [\"sh\", \"{}\"]\n",
            repo.join("agent.sh").display()
        ),
    );
    repo.write(
        ".gitignore",
        ".vizier/jobs/\n.vizier/tmp/\n.vizier/tmp-worktrees/\n",
    );
    repo.commit_all("init");
    repo
}

#[test]
fn approve_loops_through_its_stop_condition_until_it_passes() {
    let repo = approve_repo();
    repo.vizier()
        .args([
            "run",
            "approve",
            "--set",
            "slug=s",
            "--set",
            "stop_script=test $(wc -l < runs.txt) -ge 3",
            "--set",
            "budget=3",
        ])
        .assert()
        .code(0);
    let m = &manifests(&repo)[0];
    assert_eq!(node(m, "agent")["attempts"], 3);
    assert_eq!(node(m, "stop")["status"], "succeeded");
    assert_eq!(repo.git(&["show", "draft/s:runs.txt"]).lines().count(), 3);
}

#[test]
fn approve_stops_blocked_when_its_budget_is_spent() {
    let repo = approve_repo();
    repo.vizier()
        .args([
            "run",
            "approve",
            "--set",
            "slug=s",
            "--set",
            "stop_script=test $(wc -l < runs.txt) -ge 10",
            "--set",
            "budget=2",
        ])
        .assert()
        .code(1);
    let m = &manifests(&repo)[0];
    assert_eq!(
        node(m, "agent")["attempts"],
        3,
        "budget 2: three runs in all"
    );
    let stop = node(m, "stop");
    assert_eq!(stop["status"], "blocked");
    assert!(
        stop["reason"]
            .as_str()
            .unwrap()
            .contains("retry budget spent"),
        "{stop}"
    );
    assert_eq!(node(m, "cleanup")["status"], "blocked_by_dependency");
}
