//! The command line's conventions: what a failed run prints, JSON documents and errors, exit codes,
//! colour and `-q`, help and completions, man pages, the record schemas against real records.

use std::path::Path;

use clap::CommandFactory;
use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

const FAILING: &str = r#"id = "template.fails"
version = "v1"

[[nodes]]
id = "check"
kind = "shell"
uses = "cap.env.shell.cicd.run"
args = { command = "echo building; echo '::error::forged by the log'; echo 'no such tool: frobnicate' >&2; exit 127" }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "check" }]
"#;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn job_of(repo: &Repo, id: &str) -> String {
    let m = &manifests(repo)[0];
    node(m, id)["job_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_failed_run_prints_the_command_the_last_log_lines_and_how_to_see_the_rest() {
    let repo = repo_with("ci", FAILING);
    let out = repo.vizier().args(["run", "ci"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let job = job_of(&repo, "check");
    assert!(
        text.contains("✘ node `check` failed (exit 127): the command exited with code 127"),
        "{text}"
    );
    assert!(
        text.contains("  command: echo building; echo '::error::forged by the log';"),
        "{text}"
    );
    assert!(
        text.contains("  stderr, last 2 lines:\n    no such tool: frobnicate\n"),
        "{text}"
    );
    assert!(
        text.contains("  stdout, last 2 lines:\n    building\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  the rest: vizier jobs tail {job}\n")),
        "{text}"
    );
    // Outside GitHub Actions nothing is fenced.
    assert!(!text.contains("::stop-commands::"), "{text}");
    // The command it names works.
    repo.vizier()
        .args(["jobs", "tail", &job])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no such tool: frobnicate"));
    // `-q` keeps the failure and drops the progress lines.
    let out = repo.vizier().args(["run", "ci", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let quiet = stdout(&out);
    assert!(quiet.contains("✘ node `check` failed"), "{quiet}");
    assert!(!quiet.contains("▶ check started"), "{quiet}");
    assert!(!quiet.contains("nodes\n"), "{quiet}");
}

#[test]
fn under_github_actions_the_failure_tail_is_fenced_with_stop_commands() {
    let repo = repo_with("ci", FAILING);
    for args in [&["run", "ci"][..], &["ci", "--format", "text"][..]] {
        let out = repo
            .vizier()
            .args(args)
            .env("GITHUB_ACTIONS", "true")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("GITHUB_SHA")
            .env_remove("GITHUB_REF")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let text = stdout(&out);
        let report = &text[text.find("✘ node `check`").expect("a failure report")..];
        // Every log line of the report sits between a stop and its resume token.
        let mut fenced = None::<String>;
        let mut seen_forged = false;
        for line in report.lines() {
            if let Some(token) = line.strip_prefix("::stop-commands::") {
                fenced = Some(token.to_owned());
            } else if fenced.as_ref().is_some_and(|t| line == format!("::{t}::")) {
                fenced = None;
            } else if line.contains("::error::forged") {
                seen_forged = true;
                assert!(fenced.is_some(), "unfenced: {line}\n{report}");
            }
        }
        assert!(seen_forged, "{report}");
    }
}

#[test]
fn ci_prints_the_failure_report_and_quiet_keeps_only_it() {
    let repo = repo_with("ci", FAILING);
    let ci = |quiet: bool| {
        let mut cmd = repo.vizier();
        cmd.args(["ci", "--format", "text"]);
        if quiet {
            cmd.arg("-q");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        stdout(&out)
    };
    let full = ci(false);
    assert!(full.contains("--- check · failed"), "{full}");
    assert!(full.contains("✘ node `check` failed (exit 127)"), "{full}");
    assert!(full.contains("  the rest: vizier jobs tail run-"), "{full}");
    let quiet = ci(true);
    assert!(
        quiet.contains("✘ node `check` failed (exit 127)"),
        "{quiet}"
    );
    assert!(!quiet.contains("--- check"), "{quiet}");
    assert!(!quiet.contains("vizier ci: run"), "{quiet}");
}

#[test]
fn jobs_show_prints_what_the_node_runs() {
    let repo = repo_with("ci", FAILING);
    repo.vizier().args(["run", "ci"]).assert().code(1);
    let job = job_of(&repo, "check");
    repo.vizier()
        .args(["jobs", "show", &job])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("command:"))
        .stdout(predicate::str::contains(
            "runs:  echo building; echo '::error::forged by the log';",
        ));
}

#[test]
fn json_documents_start_with_version_1_and_type_their_fields() {
    let repo = repo_with("ok", OK_TEMPLATE);
    repo.vizier().args(["run", "ok"]).assert().code(0);
    let job = job_of(&repo, "check");
    let run = manifests(&repo)[0]["run_id"].as_str().unwrap().to_owned();
    let docs: Vec<(&str, Vec<&str>)> = vec![
        ("jobs", vec!["jobs", "list", "--format", "json"]),
        ("job", vec!["jobs", "show", &job, "--format", "json"]),
        ("runs", vec!["jobs", "schedule", "--format", "json"]),
        ("nodes", vec!["run", "ok", "--format", "json"]),
        ("jobs", vec!["run", "ok", "--dry-run", "--format", "json"]),
        ("jobs", vec!["run", "ok", "--detach", "--format", "json"]),
        ("diagnostics", vec!["validate", "--format", "json"]),
    ];
    for (key, args) in docs {
        let out = repo.vizier().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = stdout(&out);
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(compact.starts_with("{\"version\":1,"), "{args:?}: {text}");
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert!(doc.get(key).is_some(), "{args:?}: {text}");
    }
    let list: Value = serde_json::from_slice(
        &repo
            .vizier()
            .args(["jobs", "list", "--run", &run, "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let row = &list["jobs"][0];
    assert_eq!(row["attempt"], 1, "a number, not a string: {row}");
    assert!(row["finished_at"].is_string(), "{row}");
    let show: Value = serde_json::from_slice(
        &repo
            .vizier()
            .args(["jobs", "show", &job, "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(show["job"]["job_id"], job.as_str());
    assert_eq!(show["job"]["metadata"]["workflow_node_attempt"], 1);
}

#[test]
fn under_format_json_an_error_is_a_json_document_on_stdout_with_the_same_exit_code() {
    let repo = repo_with("ok", OK_TEMPLATE);
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["jobs", "show", "run-nope-x", "--format", "json"],
            2,
            "usage",
        ),
        (
            &["jobs", "list", "--run", "run-nope", "--format", "json"],
            2,
            "usage",
        ),
        (&["run", "missing.toml", "--format", "json"], 3, "read"),
        (&["validate", "missing.toml", "--format", "json"], 3, "read"),
        (
            &["jobs", "list", "--format", "json", "--status", "bogus"],
            2,
            "usage",
        ),
    ];
    for (args, code, kind) in cases {
        let out = repo.vizier().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let text = stdout(&out);
        assert!(
            text.starts_with("{\"version\":1,\"error\":"),
            "{args:?}: {text}"
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["error"]["kind"], kind, "{args:?}: {text}");
        assert!(doc["error"]["message"].as_str().unwrap().len() > 5);
        assert!(doc["error"].get("path").is_some());
        // Humans still get the message on stderr.
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{args:?}"
        );
    }
    // Without --format json, stdout stays empty.
    let out = repo
        .vizier()
        .args(["jobs", "show", "run-nope-x"])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
}

#[test]
fn run_format_json_reports_template_errors_as_the_validate_document() {
    let repo = repo_with("bad", BAD_TEMPLATE);
    let out = repo
        .vizier()
        .args(["run", "bad", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["diagnostics"][0]["rule"], "unknown-uses");
    assert!(!repo.join(".vizier/jobs/runs").exists());
}

#[test]
fn a_missing_template_file_is_exit_3_for_run_as_for_validate() {
    let repo = repo_with("ok", OK_TEMPLATE);
    for cmd in ["run", "validate"] {
        repo.vizier()
            .args([cmd, "nope/missing.toml"])
            .assert()
            .code(3)
            .stderr(predicate::str::contains("cannot read `nope/missing.toml`"));
    }
}

#[test]
fn jobs_list_of_an_unknown_run_is_a_usage_error() {
    let repo = repo_with("ok", OK_TEMPLATE);
    repo.vizier().args(["run", "ok"]).assert().code(0);
    repo.vizier()
        .args(["jobs", "list", "--run", "run-0123456789abcdef"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no run `run-0123456789abcdef`"));
}

#[test]
fn jobs_schedule_run_selects_one_run_so_mermaid_prints_one_diagram() {
    let repo = repo_with("ok", OK_TEMPLATE);
    repo.vizier().args(["run", "ok"]).assert().code(0);
    repo.write(
        "other.toml",
        &OK_TEMPLATE.replace("template.ok", "template.two"),
    );
    repo.vizier().args(["run", "other.toml"]).assert().code(0);
    let all = manifests(&repo);
    assert_eq!(all.len(), 2);
    let everything = stdout(
        &repo
            .vizier()
            .args(["jobs", "schedule", "--format", "mermaid"])
            .output()
            .unwrap(),
    );
    assert_eq!(everything.matches("flowchart").count(), 2, "{everything}");
    let one = all[1]["run_id"].as_str().unwrap();
    let text = stdout(
        &repo
            .vizier()
            .args(["jobs", "schedule", "--run", one, "--format", "mermaid"])
            .output()
            .unwrap(),
    );
    assert_eq!(text.matches("flowchart").count(), 1, "{text}");
    assert!(text.starts_with(&format!("%% {one}\n")), "{text}");
    repo.vizier()
        .args(["jobs", "schedule", "--run", "run-0123456789abcdef"])
        .assert()
        .code(2);
}

fn colored(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> bool {
    let mut cmd = repo.vizier();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} {env:?}");
    out.stdout.windows(2).any(|w| w == b"\x1b[")
}

#[test]
fn color_follows_the_flag_then_no_color_clicolor_force_and_clicolor() {
    let repo = repo_with("bad", BAD_TEMPLATE);
    let v = ["validate"];
    assert!(!colored(&repo, &v, &[]), "a pipe gets no colour by default");
    assert!(colored(&repo, &v, &[("CLICOLOR_FORCE", "1")]));
    assert!(!colored(
        &repo,
        &v,
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(!colored(&repo, &v, &[("CLICOLOR", "0")]));
    assert!(colored(
        &repo,
        &["validate", "--color", "always"],
        &[("NO_COLOR", "1")]
    ));
    assert!(!colored(
        &repo,
        &["--color", "never", "validate"],
        &[("CLICOLOR_FORCE", "1")]
    ));
    // clap's own errors follow the flag too.
    let usage = |color: &str| {
        let out = repo
            .vizier()
            .env("CLICOLOR_FORCE", "1")
            .args(["--color", color, "jobs", "list", "--bogus"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        out.stderr.windows(2).any(|w| w == b"\x1b[")
    };
    assert!(usage("always"));
    assert!(!usage("never"));
    repo.vizier()
        .args(["validate", "--color", "sometimes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[possible values: auto, always, never]",
        ));
}

#[test]
fn validate_quiet_prints_errors_only() {
    let repo = repo_with("ok", OK_TEMPLATE);
    repo.vizier()
        .args(["validate", "-q"])
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty());
    let repo = repo_with("bad", BAD_TEMPLATE);
    repo.vizier()
        .args(["validate", "--quiet"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[unknown-uses]"))
        .stdout(predicate::str::contains("failed:").not());
}

/// Every argument of every public command, with its command path.
fn all_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
    for arg in cmd.get_arguments() {
        out.push((path.to_owned(), arg.clone()));
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        all_args(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_flag_and_argument_has_help_and_enum_values_are_listed_and_completed() {
    let mut cmd = vizier::cli::args::Cli::command();
    cmd.build();
    let mut args = Vec::new();
    all_args(&cmd, "vizier", &mut args);
    let undocumented: Vec<String> = args
        .iter()
        .filter(|(_, a)| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
        .filter(|(_, a)| a.get_help().is_none())
        .map(|(p, a)| format!("{p} {}", a.get_id()))
        .collect();
    assert!(undocumented.is_empty(), "no help: {undocumented:?}");
    let repo = Repo::bare_dir();
    for (args, listed) in [
        (
            &["jobs", "list", "--help"][..],
            &["table", "json", "waiting_on_approval", "unknown"][..],
        ),
        (
            &["jobs", "schedule", "--help"][..],
            &["summary", "dag", "json", "mermaid"][..],
        ),
        (&["jobs", "show", "--help"][..], &["text", "json"][..]),
        (
            &["validate", "--help"][..],
            &["human", "json", "github"][..],
        ),
        (&["jobs", "gc", "--help"][..], &["[default: 20]"][..]),
    ] {
        let help = stdout(&repo.vizier().args(args).output().unwrap());
        for value in listed {
            assert!(help.contains(value), "{args:?} lacks {value}:\n{help}");
        }
    }
    let bash = stdout(
        &repo
            .vizier()
            .args(["completions", "bash"])
            .output()
            .unwrap(),
    );
    assert!(bash.contains("table json"), "jobs list --format values");
    assert!(
        bash.contains("summary dag json mermaid"),
        "jobs schedule --format values"
    );
    assert!(bash.contains("blocked_by_dependency"), "--status values");
    assert!(bash.contains("auto always never"), "--color values");
}

#[test]
fn man_writes_a_page_for_vizier_and_each_subcommand() {
    let repo = Repo::bare_dir();
    let dir = repo.join("man/man1");
    repo.vizier()
        .args(["man", "--out"])
        .arg(&dir)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("vizier-run.1"));
    for page in [
        "vizier.1",
        "vizier-run.1",
        "vizier-ci.1",
        "vizier-validate.1",
        "vizier-jobs.1",
        "vizier-jobs-list.1",
        "vizier-jobs-clean.1",
        "vizier-hooks-install.1",
        "vizier-man.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let run = std::fs::read_to_string(dir.join("vizier-run.1")).unwrap();
    assert!(run.contains("dry\\-run"), "{run}");
    assert!(!dir.join("vizier-__workflow-node.1").exists());
}

fn printed(args: &[&str]) -> Value {
    let out = Repo::bare_dir().vizier().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json_files(dir: &Path, name: &dyn Fn(&str) -> bool, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if path.is_dir() {
            json_files(&path, name, out);
        } else if name(&path.file_name().unwrap().to_string_lossy()) {
            out.push(path);
        }
    }
}

/// Records of every shape a run leaves: passed, failed (blocked downstream), waiting on an
/// approval (detached), with a worktree.
fn records_repo() -> Repo {
    let repo = repo_with("ci", FAILING);
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    repo.write(
        ".vizier/workflow/gated.toml",
        r#"id = "template.gated"
version = "v1"

[[nodes]]
id = "wait"
kind = "gate"
uses = "control.gate.approval"
gates = [{ kind = "approval" }]

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "wait" }]
"#,
    );
    repo.commit_all("templates");
    repo.vizier().args(["run", "ci"]).assert().code(1);
    repo.vizier().args(["run", "ok"]).assert().code(0);
    repo.vizier()
        .args(["run", "gated", "--detach"])
        .assert()
        .code(0);
    repo
}

#[test]
fn the_printed_record_schemas_accept_real_manifests_and_job_records() {
    let repo = records_repo();
    for (flag, is_record) in [
        (
            "--manifest",
            &(|n: &str| n.ends_with(".json")) as &dyn Fn(&str) -> bool,
        ),
        ("--job-record", &|n: &str| n == "job.json"),
    ] {
        let schema = printed(&["schema", flag]);
        assert!(
            jsonschema::meta::is_valid(&schema),
            "{flag}: not a JSON Schema"
        );
        let validator = jsonschema::validator_for(&schema).unwrap();
        let dir = if flag == "--manifest" {
            repo.join(".vizier/jobs/runs")
        } else {
            repo.join(".vizier/jobs")
        };
        let mut files = Vec::new();
        json_files(&dir, is_record, &mut files);
        assert!(files.len() >= 3, "{flag}: {files:?}");
        for f in &files {
            let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", f.display());
        }
        // And the schema is not vacuous: a wrong type is caught.
        let mut bad: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        let key = if flag == "--manifest" {
            "version"
        } else {
            "format_version"
        };
        bad[key] = Value::from("1");
        assert!(!validator.is_valid(&bad), "{flag}");
    }
    // `run --format json` prints a manifest.
    let out = repo
        .vizier()
        .args(["run", "ok", "--format", "json"])
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&printed(&["schema", "--manifest"])).unwrap();
    assert!(validator.is_valid(&m));
}

/// Property names of a schema, at every depth.
fn property_names(schema: &Value, out: &mut std::collections::BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            for v in map.values() {
                property_names(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| property_names(v, out)),
        _ => {}
    }
}

fn reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_reference_documents_every_field_of_the_template_manifest_and_job_record() {
    let doc = reference();
    for args in [
        &["schema"][..],
        &["schema", "--manifest"],
        &["schema", "--job-record"],
    ] {
        let mut names = std::collections::BTreeSet::new();
        property_names(&printed(args), &mut names);
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !doc.contains(&format!("`{n}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "{args:?}: not in docs/reference.md: {missing:?}"
        );
    }
    for needle in [
        "vizier schema --manifest",
        "vizier schema --job-record",
        "VIZIER_RUN_ID",
        "VIZIER_JOB_ID",
        "\"error\"",
        "| `3` |",
    ] {
        assert!(doc.contains(needle), "docs/reference.md lacks {needle}");
    }
}

#[test]
fn the_docs_and_code_cite_no_contract_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Spelled in two parts so this file is not a hit itself.
    let needle = format!("{}.md", "SPEC");
    let out = std::process::Command::new("git")
        .args(["grep", "-n", "-I", "-F", &needle])
        .current_dir(root)
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&out.stdout);
    // git grep: 0 = found, 1 = nothing found, anything else = it could not look.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{found}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bench_sh_finds_the_binary_where_cargo_target_dir_puts_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/bench.sh");
    // The release target's build: the static musl one on Linux, the host's own elsewhere.
    let target = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", arch) => format!("{arch}-unknown-linux-musl"),
        ("macos", "aarch64") => "aarch64-apple-darwin".to_owned(),
        ("macos", arch) => format!("{arch}-apple-darwin"),
        other => panic!("no release target for {other:?}"),
    };
    let tail = format!("{target}/release/vizier");
    for (dir, expect) in [
        (None, root.join("target").join(&tail)),
        (
            Some("/tmp/elsewhere"),
            Path::new("/tmp/elsewhere").join(&tail),
        ),
        (Some("build/out"), root.join("build/out").join(&tail)),
    ] {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(&script)
            .arg("--print-binary")
            .env_remove("CARGO_TARGET_DIR");
        if let Some(d) = dir {
            cmd.env("CARGO_TARGET_DIR", d);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out).trim(), expect.display().to_string(), "{dir:?}");
    }
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("no-such-suite")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_readme_lists_every_bench_suite_and_how_to_install() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for e in std::fs::read_dir(root.join("scripts/bench")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(suite) = name.strip_suffix(".sh") {
            assert!(
                readme.contains(&format!("`{suite}`")),
                "README.md does not list the bench suite `{suite}`"
            );
        }
    }
    assert!(readme.contains("cargo install --locked --path ."));
    assert!(readme.contains("vizier man --out"));
}

/// The job process's own arguments are recognised without clap (`cli::job_process_args`); what it
/// does must not differ from the clap-parsed spelling of the same command.
#[test]
fn the_job_process_arguments_behave_the_same_with_and_without_the_parser() {
    let repo = Repo::new();
    for bad in ["../escape", "run-0123456789abcdef-nope"] {
        let fast = repo
            .vizier()
            .args(["__workflow-node", "--job-id", bad])
            .output()
            .unwrap();
        let parsed = repo
            .vizier()
            .arg("__workflow-node")
            .arg(format!("--job-id={bad}"))
            .output()
            .unwrap();
        assert_ne!(fast.status.code(), Some(0), "{bad}");
        assert_eq!(fast.status.code(), parsed.status.code(), "{bad}");
        assert_eq!(fast.stdout, parsed.stdout, "{bad}");
        assert_eq!(fast.stderr, parsed.stderr, "{bad}");
    }
}

/// `hook <name> [args]`, as the installed hook script runs it, is recognised without clap too
/// (`cli::quick_command`); `--color auto` in front of it takes the same command through clap. The
/// two must not differ: refused, passed and malformed input alike.
#[test]
fn the_hook_arguments_behave_the_same_with_and_without_the_parser() {
    let repo = Repo::new();
    repo.write(".vizier/workflow/ok.toml", OK_TEMPLATE);
    repo.commit_all("templates");
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let push = format!(
        "refs/heads/main {head} refs/heads/main {}\n",
        "0".repeat(40)
    );
    repo.write(".vizier/workflow/bad.toml", BAD_TEMPLATE);
    repo.git(&["add", "-A"]);
    let cases: [(&[&str], &str, i32); 4] = [
        (&["pre-commit"], "", 1),
        (&["pre-push", "origin", "url"], "not four fields\n", 2),
        (&["pre-push", "origin", "url"], &push, 0),
        (&["pre-push"], "", 0),
    ];
    for (args, stdin, code) in cases {
        let fast = repo
            .vizier()
            .arg("hook")
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        let parsed = repo
            .vizier()
            .args(["--color", "auto", "hook"])
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert_eq!(fast.status.code(), Some(code), "{args:?}: {fast:?}");
        assert_eq!(fast.status.code(), parsed.status.code(), "{args:?}");
        assert_eq!(fast.stdout, parsed.stdout, "{args:?}");
        assert_eq!(fast.stderr, parsed.stderr, "{args:?}");
    }
}

/// On the static musl build (the Linux release asset) mimalloc is started only by the processes that
/// use it (src/main.rs, .cargo/config.toml): a driver and `validate` do, a job process and a git hook
/// never run its start-up, which reads /proc/sys/vm/overcommit_memory. Seen through strace, one
/// trace file per process; `.ci/run` installs strace, and a missing strace fails the test.
#[cfg(target_env = "musl")]
#[test]
#[ignore = "needs strace"]
fn only_the_processes_that_use_mimalloc_start_it() {
    const START: &str = "/proc/sys/vm/overcommit_memory";
    let repo = repo_with("ok", OK_TEMPLATE);
    let (out, run) = strace(&repo, repo.path(), BIN, &["run", "ok"], "open,openat");
    assert!(out.status.success(), "{out:?}");
    let driver: Vec<_> = run.iter().filter(|p| p.exec.contains("\"run\"")).collect();
    let jobs: Vec<_> = run
        .iter()
        .filter(|p| p.exec.contains("__workflow-node"))
        .collect();
    assert_eq!(driver.len(), 1, "{run:?}");
    assert_eq!(jobs.len(), 2, "{run:?}"); // `check` and the terminal
    assert!(
        driver[0].calls.contains(START),
        "the driver did not start mimalloc: {run:?}"
    );
    assert!(
        jobs.iter().all(|p| !p.calls.contains(START)),
        "a job process started mimalloc: {run:?}"
    );

    let (out, validate) = strace(&repo, repo.path(), BIN, &["validate"], "open,openat");
    assert!(out.status.success(), "{out:?}");
    assert!(
        validate.len() == 1 && validate[0].calls.contains(START),
        "{validate:?}"
    );

    repo.write(
        ".vizier/workflow/ok.toml",
        &format!("{OK_TEMPLATE}\n# changed\n"),
    );
    repo.git(&["add", "-A"]);
    let (out, hook) = strace(
        &repo,
        repo.path(),
        BIN,
        &["hook", "pre-commit"],
        "open,openat",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        hook.len() == 1 && !hook[0].calls.contains(START),
        "the hook started mimalloc: {hook:?}"
    );
}
