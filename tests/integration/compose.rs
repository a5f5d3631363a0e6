//! Composed workflows run as one run: renamed job ids, links as dependencies, one manifest.

use predicates::prelude::*;

use crate::run::{manifests, node};
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
        .stdout(predicate::str::contains(
            "subgraph n_stage_build[\"build\"]",
        ))
        .stdout(predicate::str::contains("subgraph n_stage_ship[\"ship\"]"));
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
