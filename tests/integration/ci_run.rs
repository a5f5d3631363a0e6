//! `vizier ci` under a simulated GitHub runner: the variables set, a real push event JSON in a temp
//! file, temp `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY`.

use std::path::Path;

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::support::*;

const CI: &str = r#"id = "template.ci"
version = "v1"

[[nodes]]
id = "test"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo \"testing $VIZIER_REF\"; cat \"$VIZIER_CHANGED_FILES\"" }

[[nodes]]
id = "lint"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "test ! -f broken" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "test" }, { node_id = "lint" }]
"#;

struct Push {
    repo: Repo,
    before: String,
    after: String,
    files: tempfile::TempDir,
}

/// A repo with two commits; the second is "pushed".
fn pushed(extra: &[(&str, &str)]) -> Push {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ci.toml", CI);
    repo.write(".gitignore", ".vizier/jobs/\n.vizier/artifacts/\n");
    repo.commit_all("one");
    let before = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    repo.write("src.txt", "changed\n");
    for (path, text) in extra {
        repo.write(path, text);
    }
    repo.commit_all("two");
    let after = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    Push {
        repo,
        before,
        after,
        files: tempfile::tempdir().unwrap(),
    }
}

impl Push {
    fn event(&self, git_ref: &str, deleted: bool) -> std::path::PathBuf {
        let event = json!({
            "ref": git_ref,
            "before": self.before,
            "after": if deleted { "0".repeat(40) } else { self.after.clone() },
            "created": false,
            "deleted": deleted,
            "forced": false,
            "repository": { "default_branch": "main" },
            "head_commit": if deleted { Value::Null } else { json!({ "id": self.after, "message": "two" }) },
            "pusher": { "name": "someone" },
        });
        let path = self.files.path().join("event.json");
        std::fs::write(&path, event.to_string()).unwrap();
        path
    }

    fn ci(&self, dir: &Path, event: &Path) -> assert_cmd::Command {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("ci")
            .current_dir(dir)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_EVENT_PATH", event)
            .env("GITHUB_OUTPUT", self.files.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", self.files.path().join("summary"));
        isolate(&mut cmd, self.repo.home.path());
        cmd.env("GITHUB_ACTIONS", "true");
        assert_cmd::Command::from_std(cmd)
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.files.path().join("output")).unwrap_or_default()
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.files.path().join("summary")).unwrap_or_default()
    }
}

/// The value of a `GITHUB_OUTPUT` entry, read the way the GitHub runner reads the file.
fn output_value(output: &str, name: &str) -> Option<String> {
    runner_outputs(output).remove(name)
}

/// Parses a `GITHUB_OUTPUT` file as the Actions runner does: each line is `name=value`, or
/// `name<<DELIMITER` followed by value lines up to a line that is exactly the delimiter. A later
/// entry of the same name wins. Anything else is an error, as it is on the runner.
fn runner_outputs(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.insert(line[..e].to_owned(), line[e + 1..].to_owned());
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                assert!(
                    !name.is_empty() && !delimiter.is_empty(),
                    "bad line `{line}`"
                );
                let mut value = Vec::new();
                loop {
                    let l = lines.next().unwrap_or_else(|| {
                        panic!("`{name}`: delimiter `{delimiter}` never closes")
                    });
                    if l == delimiter {
                        break;
                    }
                    value.push(l);
                }
                out.insert(name.to_owned(), value.join("\n"));
            }
            _ => panic!("the runner rejects the line `{line}`"),
        }
    }
    out
}

#[test]
fn a_passing_push_runs_the_ci_template_and_leaves_a_complete_record() {
    let push = pushed(&[]);
    let event = push.event("refs/heads/main", false);
    push.ci(push.repo.path(), &event)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("::group::test · succeeded"))
        .stdout(predicate::str::contains("testing refs/heads/main"))
        .stdout(predicate::str::contains("::endgroup::"));
    let out = push.output();
    assert_eq!(output_value(&out, "outcome").as_deref(), Some("succeeded"));
    let run_id = output_value(&out, "run-ids").unwrap();
    assert!(run_id.starts_with("run-"));
    let manifest_path = output_value(&out, "manifest").unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["run_id"], run_id);
    assert_eq!(manifest["trigger"]["sha"], push.after);
    assert_eq!(manifest["trigger"]["ref"], "refs/heads/main");
    assert_eq!(manifest["trigger"]["changed_paths"], json!(["src.txt"]));
    let artifacts = push.repo.join(".vizier/artifacts");
    for file in [
        "summary.md",
        "changed-files.txt",
        "event.json",
        "annotations.txt",
    ] {
        assert!(artifacts.join(file).exists(), "{file}");
    }
    let job = artifacts.join(format!("jobs/{run_id}-test"));
    assert!(
        std::fs::read_to_string(job.join("stdout.log"))
            .unwrap()
            .contains("src.txt")
    );
    assert!(job.join("job.json").exists());
    let summary = push.summary();
    assert!(summary.contains("```mermaid"), "{summary}");
    assert!(summary.contains("| test |"), "{summary}");
}

#[test]
fn a_failing_node_is_annotated_and_the_artifacts_are_still_written() {
    let push = pushed(&[("broken", "")]);
    let event = push.event("refs/heads/main", false);
    push.ci(push.repo.path(), &event)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("::error file=.vizier/workflow/ci.toml,title=vizier%3A lint::node `lint` failed with exit code 1"));
    assert_eq!(
        output_value(&push.output(), "outcome").as_deref(),
        Some("failed")
    );
    let run_id = output_value(&push.output(), "run-ids").unwrap();
    assert!(
        push.repo
            .join(&format!(".vizier/artifacts/runs/{run_id}.json"))
            .exists()
    );
    assert!(push.summary().contains("failed"));
}

#[test]
fn an_invalid_template_is_annotated_and_nothing_runs() {
    let push = pushed(&[(
        ".vizier/workflow/bad.toml",
        "id = \"b\"\nversion = \"v1\"\n[[nodes]]\nid = \"x\"\nuses = \"cap.plan.persist\"\n",
    )]);
    let event = push.event("refs/heads/main", false);
    push.ci(push.repo.path(), &event)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "::error file=.vizier/workflow/bad.toml,line=5,col=8,title=vizier(legacy-uses)::",
        ));
    assert!(!push.repo.join(".vizier/jobs").exists());
    assert_eq!(
        output_value(&push.output(), "outcome").as_deref(),
        Some("failed")
    );
}

#[test]
fn a_deleted_ref_is_a_no_op_success() {
    let push = pushed(&[("broken", "")]);
    let event = push.event("refs/heads/gone", true);
    push.ci(push.repo.path(), &event)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("nothing to run"));
    assert!(!push.repo.join(".vizier/jobs").exists());
    assert_eq!(
        output_value(&push.output(), "outcome").as_deref(),
        Some("skipped")
    );
}

#[test]
fn a_hostile_ref_name_is_only_ever_data() {
    let push = pushed(&[]);
    let hostile = "refs/heads/x$(touch${IFS}PWNED)";
    push.repo.git(&["update-ref", hostile, &push.after]);
    let event = push.event(hostile, false);
    push.ci(push.repo.path(), &event)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "testing refs/heads/x$(touch${IFS}PWNED)",
        ));
    assert!(!push.repo.join("PWNED").exists());
    assert!(!push.files.path().join("PWNED").exists());
    let found = walk(push.repo.path())
        .into_iter()
        .any(|p| p.ends_with("PWNED"));
    assert!(!found, "something ran the ref name");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn a_saved_event_reproduces_the_same_run_and_job_ids_in_a_fresh_clone() {
    let push = pushed(&[]);
    let event = push.event("refs/heads/main", false);
    push.ci(push.repo.path(), &event).assert().code(0);
    let run_id = output_value(&push.output(), "run-ids").unwrap();
    let saved = push.repo.join(".vizier/artifacts/event.json");

    let laptop = tempfile::tempdir().unwrap();
    let clone = laptop.path().join("clone");
    let status = std::process::Command::new("git")
        .args(["clone", "-q"])
        .arg(push.repo.path())
        .arg(&clone)
        .status()
        .unwrap();
    assert!(status.success());
    // On a laptop: no GitHub variables, the saved event given by flag, plain text output.
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["ci", "--event-path"])
        .arg(&saved)
        .current_dir(&clone);
    isolate(&mut cmd, push.repo.home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("run {run_id}")), "{stdout}");
    assert!(!stdout.contains("::group::"), "plain text outside GitHub");
    let original: Value = serde_json::from_slice(
        &std::fs::read(push.repo.join(&format!(".vizier/jobs/runs/{run_id}.json"))).unwrap(),
    )
    .unwrap();
    let reproduced: Value = serde_json::from_slice(
        &std::fs::read(clone.join(format!(".vizier/jobs/runs/{run_id}.json"))).unwrap(),
    )
    .unwrap();
    let ids = |m: &Value| -> Vec<String> {
        m["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["job_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&original), ids(&reproduced));
    assert_eq!(original["template"], reproduced["template"]);
    assert_eq!(original["outcome"], reproduced["outcome"]);
}

/// The action's `outcome` output was `success` / `failure` while `action.yml` and `docs/ci.md`
/// promise `succeeded` / `failed` (and `skipped`): the manifest's own words. The output file is read
/// as the runner reads it, and every value is one the action documents.
#[test]
fn the_outcome_output_uses_the_manifest_words_the_action_documents() {
    let action =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci.md")).unwrap();
    let cases = [
        (&[][..], "refs/heads/main", false, 0, "succeeded"),
        (&[("broken", "")][..], "refs/heads/main", false, 1, "failed"),
        (&[][..], "refs/heads/gone", true, 0, "skipped"),
    ];
    for (extra, git_ref, deleted, code, word) in cases {
        let push = pushed(extra);
        let event = push.event(git_ref, deleted);
        push.ci(push.repo.path(), &event).assert().code(code);
        let outputs = runner_outputs(&push.output());
        assert_eq!(
            outputs.get("outcome").map(String::as_str),
            Some(word),
            "{outputs:?}"
        );
        assert!(
            action.contains(&format!("`{word}`")),
            "action.yml does not document `{word}`"
        );
        assert!(
            docs.contains(&format!("`{word}`")),
            "docs/ci.md does not document `{word}`"
        );
        if word != "skipped" {
            let manifest: Value =
                serde_json::from_slice(&std::fs::read(&outputs["manifest"]).unwrap()).unwrap();
            assert_eq!(
                manifest["outcome"], word,
                "the output says what the manifest says"
            );
        }
    }
}

/// `vizier ci` with no push event set only two of the documented variables; a `set -u` script that
/// passes on GitHub failed there. Every one is set, and the changed-files variable names a file.
#[test]
fn a_set_u_script_sees_every_documented_variable_in_ci_without_an_event() {
    assert_eq!(
        crate::run::documented_variables(),
        vizier::compile::TRIGGER_VARIABLES,
        "docs/ci.md lists what the plan sets"
    );
    let repo = repo_with("ci", &crate::run::strict_env_template());
    repo.vizier().arg("ci").assert().code(0);
    let env = repo.read("env.txt");
    for name in crate::run::documented_variables() {
        assert!(
            env.lines().any(|l| l.starts_with(&format!("{name}="))),
            "{name}:\n{env}"
        );
    }
}
