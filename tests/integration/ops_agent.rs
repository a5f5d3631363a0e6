//! `prompt.resolve`, `agent.invoke` and the agent-config check of `vizier run`: real repositories,
//! real runs, and scripted agents (shell scripts that read stdin and write files).

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use crate::support::*;

/// A template: `prompt` (builtin, `Plan for ${topic}`) → `agent` → `done`.
const FAN: &str = r#"id = "template.fan"
version = "v1"

[params]
topic = "nothing"

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "prompt"
kind = "builtin"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_text = "Plan for ${topic}" }
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }

[[nodes]]
id = "agent"
kind = "agent"
uses = "cap.agent.invoke"
after = [{ node_id = "prompt" }]
needs = [{ custom = { type_id = "prompt_text", key = "main" } }]

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "agent" }]
"#;

/// Writes an agent script into `dir` (outside the repository) and returns its absolute path.
fn agent_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nset -eu\n{body}\n")).unwrap();
    path
}

/// An `[agent]` table (or `[agents.<alias>]`) running `sh <script>`.
fn agent_table(table: &str, script: &Path, extra: &str) -> String {
    format!(
        "[{table}]\ncommand = [\"sh\", \"{}\"]\n{extra}\n",
        script.display()
    )
}

/// A committed repository with `.vizier/workflow/<alias>.toml` and the given config. Agents write
/// what they saw into `out/`, which git ignores.
fn agent_repo_with(alias: &str, template: &str, config: Option<&str>) -> Repo {
    repo_with_config(alias, template, config, &["out"])
}

/// A repository running `template` as `fan`, with an `[agent]` that runs `body` (shell; the prompt is
/// on its stdin, the repository root its folder) plus `extra` lines in its table.
fn agent_repo(template: &str, body: &str, extra: &str) -> Repo {
    let home = tempfile::tempdir().unwrap();
    let script = agent_script(home.path(), "agent.sh", body);
    let mut repo = agent_repo_with("fan", template, Some(&agent_table("agent", &script, extra)));
    repo.home = home;
    repo
}

/// Waits until the process whose pid the agent wrote to `out/<name>` is gone.
fn wait_gone(repo: &Repo, name: &str) {
    let pid = repo.read(&format!("out/{name}"));
    let stat = Path::new("/proc").join(pid.trim()).join("stat");
    wait_until("the agent's child to be gone", || {
        std::fs::read_to_string(&stat).map_or(true, |s| s.contains(") Z "))
    });
}

/// `vizier run <alias> --format json [args]`: exit code and the final manifest.
fn run_json(repo: &Repo, alias: &str, args: &[&str]) -> (i32, Value) {
    let out = repo
        .vizier()
        .args(["run", alias, "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let manifest = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no manifest ({e}); stdout: {} stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), manifest)
}

fn payload(repo: &Repo, rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo.join(rel)).unwrap()).unwrap()
}

#[test]
fn four_concurrent_runs_each_give_their_agent_their_own_prompt() {
    // The agent files what it read under the topic of its own run (from the run's own params), in
    // the folder its config `env` names.
    let repo = agent_repo(
        FAN,
        r#"prompt=$(cat)
sleep 0.2
printf '%s' "$prompt" > "$SEEN/$VIZIER_PARAM_TOPIC.txt""#,
        "env = { SEEN = \"out\" }",
    );
    let topics = ["alpha", "bravo", "charlie", "delta"];
    let sets: Vec<String> = topics.iter().map(|v| format!("topic={v}")).collect();
    run_concurrently(&repo, "fan", &sets);
    for topic in topics {
        let got = repo.read(&format!("out/{topic}.txt"));
        assert_eq!(got, format!("Plan for {topic}"), "the {topic} run's agent");
    }
    // Each agent read the payload of its own run, and each payload holds that run's prompt.
    let runs = manifests(&repo);
    assert_eq!(runs.len(), 4);
    for m in &runs {
        let run_id = m["run_id"].as_str().unwrap();
        let topic = m["params"]["topic"].as_str().unwrap();
        let refs = &node(m, "agent")["metadata"]["workflow_payload_refs"];
        let prompt_ref = refs[0].as_str().unwrap();
        assert_eq!(
            prompt_ref,
            format!(".vizier/jobs/artifacts/data/{run_id}/prompt_text/main/{run_id}-prompt.json")
        );
        assert_eq!(
            payload(&repo, prompt_ref)["text"],
            format!("Plan for {topic}")
        );
    }
}

#[test]
fn the_agent_runs_in_the_execution_root_with_the_prompt_on_stdin_and_output_in_the_logs() {
    let repo = agent_repo(
        FAN,
        r#"cat > out/saw.txt
pwd > out/cwd.txt
echo "plan: do the thing"
echo "working" >&2"#,
        "timeout_secs = 60",
    );
    let (code, m) = run_json(&repo, "fan", &["--set", "topic=logs"]);
    assert_eq!(code, 0, "{m}");
    assert_eq!(repo.read("out/saw.txt"), "Plan for logs");
    let cwd = PathBuf::from(repo.read("out/cwd.txt").trim());
    assert_eq!(cwd, repo.path().canonicalize().unwrap());
    let run_id = m["run_id"].as_str().unwrap();
    let job = format!("{run_id}-agent");
    assert_eq!(
        repo.read(&format!(".vizier/jobs/{job}/stdout.log")),
        "plan: do the thing\n"
    );
    assert!(
        repo.read(&format!(".vizier/jobs/{job}/stderr.log"))
            .contains("working")
    );
    // What it printed is kept for later nodes of the run (plan.persist).
    let agent = node(&m, "agent");
    let refs = agent["metadata"]["workflow_payload_refs"]
        .as_array()
        .unwrap();
    assert_eq!(refs.len(), 2, "{refs:?}");
    let output = payload(&repo, refs[1].as_str().unwrap());
    assert_eq!(output["type_id"], "agent_output");
    assert_eq!(output["key"], "agent");
    assert_eq!(output["text"], "plan: do the thing\n");
}

#[test]
fn jobs_show_displays_the_agent_metadata() {
    let repo = agent_repo(FAN, "cat >/dev/null; echo done", "");
    let (code, m) = run_json(&repo, "fan", &[]);
    assert_eq!(code, 0, "{m}");
    let job = format!("{}-agent", m["run_id"].as_str().unwrap());
    let text = repo.vizier().args(["jobs", "show", &job]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let command = format!(
        "[\"sh\",\"{}\"]",
        repo.home.path().join("agent.sh").display()
    );
    let rows: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(label, value)| (label, value.trim()))
        .collect();
    let row = |label: &str| {
        rows.iter()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no row `{label}` in:\n{text}"))
    };
    assert_eq!(row("workflow_executor_class"), "agent");
    assert_eq!(row("workflow_executor_operation"), "agent.invoke");
    assert_eq!(row("agent_command"), command);
    assert_eq!(row("agent_exit_code"), "0");
    assert!(row("agent_duration_ms").parse::<u64>().is_ok());
    assert!(
        row("workflow_payload_refs").starts_with("[\".vizier/jobs/artifacts/data/"),
        "{text}"
    );
    let json = repo
        .vizier()
        .args(["jobs", "show", &job, "--format", "json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    let record = &doc["job"];
    assert_eq!(record["metadata"]["agent_exit_code"], 0);
    assert!(record["metadata"]["agent_duration_ms"].is_u64());
    assert_eq!(record["metadata"]["agent_command"][0], "sh");
}

#[test]
fn an_agent_that_exceeds_its_timeout_is_stopped_and_fails_with_124() {
    let repo = agent_repo(
        FAN,
        "cat >/dev/null\nsh -c 'echo $$ > out/pid; exec sleep 60' &\nwait",
        "timeout_secs = 1",
    );
    let started = Instant::now();
    let (code, m) = run_json(&repo, "fan", &[]);
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let agent = node(&m, "agent");
    assert_eq!(agent["status"], "failed");
    assert_eq!(agent["exit_code"], 124);
    assert_eq!(agent["metadata"]["agent_exit_code"], 124);
    let reason = agent["reason"].as_str().unwrap();
    assert!(reason.contains("timed out after 1 s"), "{reason}");
    assert!(reason.contains("`[agent]`"), "{reason}");
    // The agent's whole process group was stopped, including the `sleep` it started.
    wait_gone(&repo, "pid");
}

/// `jobs cancel` signals the job's process group; the agent has a group of its own, and the job
/// stops it before ending, so no agent outlives a cancelled job.
#[test]
fn cancelling_the_job_stops_the_agent_and_what_it_started() {
    // The child ignores TERM: only the job's KILL to the agent's group ends it.
    let repo = agent_repo(
        FAN,
        "cat >/dev/null\nsh -c 'trap \"\" TERM; echo $$ > out/pid.tmp; mv out/pid.tmp out/pid; while :; do sleep 1; done' &\nwait",
        "",
    );
    repo.vizier()
        .args(["run", "fan", "--detach"])
        .assert()
        .code(0);
    wait_until("the agent to start", || repo.join("out/pid").is_file());
    let m = &manifests(&repo)[0];
    let job = node(m, "agent")["job_id"].as_str().unwrap().to_owned();
    repo.vizier()
        .args(["jobs", "cancel", &job])
        .assert()
        .code(0);
    wait_gone(&repo, "pid");
    assert_eq!(node(&manifests(&repo)[0], "agent")["status"], "cancelled");
}

#[test]
fn a_kill_9_of_the_job_process_stops_its_agent_too() {
    // The agent runs in a process group of its own, so stopping the job's group alone would leave
    // it running beside a retry.
    let repo = agent_repo(
        FAN,
        "cat >/dev/null\necho $$ > out/pid.tmp; mv out/pid.tmp out/pid\nwhile :; do sleep 1; done",
        "",
    );
    repo.vizier()
        .args(["run", "fan", "--detach"])
        .assert()
        .code(0);
    wait_until("the agent to start", || repo.join("out/pid").is_file());
    let job_pid = node(&manifests(&repo)[0], "agent")["process"]["pid"]
        .as_u64()
        .unwrap() as i32;
    // SAFETY: kill(2) of the job process alone, as a crash would end it.
    unsafe {
        libc::kill(job_pid, libc::SIGKILL);
    }
    wait_until("the job process to die", || {
        std::fs::read_to_string(format!("/proc/{job_pid}/stat")).map_or(true, |s| s.contains(") Z"))
    });
    repo.vizier().args(["jobs", "list"]).assert().code(0);
    wait_gone(&repo, "pid");
    assert_eq!(node(&manifests(&repo)[0], "agent")["status"], "failed");
}

#[test]
fn a_failing_agent_fails_its_node_with_its_exit_code() {
    let repo = agent_repo(FAN, "cat >/dev/null; echo 'no luck' >&2; exit 3", "");
    let (code, m) = run_json(&repo, "fan", &[]);
    assert_eq!(code, 1);
    let agent = node(&m, "agent");
    assert_eq!(agent["exit_code"], 3);
    assert_eq!(agent["reason"], "the agent exited with code 3");
    assert_eq!(node(&m, "done")["status"], "blocked_by_dependency");
}

#[test]
fn an_agent_program_that_does_not_exist_fails_naming_it_and_its_table() {
    let repo = agent_repo_with(
        "fan",
        FAN,
        Some("[agent]\ncommand = [\"no-such-agent-xyz\"]\n"),
    );
    let (code, m) = run_json(&repo, "fan", &[]);
    assert_eq!(code, 1);
    let reason = node(&m, "agent")["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("no-such-agent-xyz"), "{reason}");
    assert!(reason.contains("`[agent]`"), "{reason}");
}

/// The job reads the config when it runs: a config broken after the run started fails the agent
/// node with the config's error, not a crash.
#[test]
fn a_config_broken_during_the_run_fails_the_agent_naming_the_error() {
    let template = FAN.replace(
        "kind = \"builtin\"\nuses = \"cap.env.builtin.prompt.resolve\"\nargs = { prompt_text = \"Plan for ${topic}\" }",
        "kind = \"shell\"\nuses = \"cap.env.shell.prompt.resolve\"\nargs = { command = \"printf '[agent]\\\\ncomand = 1\\\\n' > .vizier/config.toml; echo go\" }",
    );
    assert_ne!(template, FAN);
    let repo = agent_repo(&template, "cat >/dev/null", "");
    let (code, m) = run_json(&repo, "fan", &[]);
    assert_eq!(code, 1, "{m}");
    assert!(repo.read(".vizier/config.toml").contains("comand"));
    let reason = node(&m, "agent")["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("`.vizier/config.toml` has errors (unknown field `comand`"),
        "{reason}"
    );
}

#[test]
fn the_alias_table_wins_over_the_default_agent() {
    let scripts = tempfile::tempdir().unwrap();
    let default = agent_script(
        scripts.path(),
        "default.sh",
        "cat >/dev/null; echo default > out/who",
    );
    let special = agent_script(
        scripts.path(),
        "special.sh",
        "cat >/dev/null; echo special > out/who",
    );
    let config = agent_table("agent", &default, "") + &agent_table("agents.fan", &special, "");
    let repo = agent_repo_with("fan", FAN, Some(&config));
    repo.write(".vizier/workflow/other.toml", FAN);
    repo.commit_all("other");
    assert_eq!(run_json(&repo, "fan", &[]).0, 0);
    assert_eq!(repo.read("out/who"), "special\n");
    assert_eq!(run_json(&repo, "other", &[]).0, 0);
    assert_eq!(repo.read("out/who"), "default\n");
}

#[test]
fn a_run_with_an_agent_node_and_no_agent_configured_is_refused_before_writing() {
    // No config file at all.
    let repo = agent_repo_with("fan", FAN, None);
    repo.vizier()
        .args(["run", "fan"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`[agents.fan]` or `[agent]`"))
        .stderr(predicate::str::contains("`.vizier/config.toml`"))
        .stderr(predicate::str::contains("(`agent`)"));
    assert!(!repo.join(".vizier/jobs").exists());

    // A config whose only agent is for another alias; run by path (no alias): `[agent]` is named.
    let repo = agent_repo_with(
        "fan",
        FAN,
        Some("[agents.draft]\ncommand = [\"some-agent\"]\n"),
    );
    repo.vizier()
        .args(["run", ".vizier/workflow/fan.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("add `[agent]` with"));
    repo.vizier()
        .args(["run", "fan", "--detach"])
        .assert()
        .code(2);
    assert!(!repo.join(".vizier/jobs").exists());

    // A template without agent nodes needs no agent.
    let repo = agent_repo_with("ok", OK_TEMPLATE, None);
    repo.vizier().args(["run", "ok"]).assert().code(0);
}

/// A template with one prompt node (`uses`, `args`) and a terminal; `params` go in `[params]`.
fn prompt_template(uses: &str, kind: &str, args: &str, params: &str) -> String {
    format!(
        r#"id = "template.prompt"
version = "v1"

[params]
{params}

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "prompt"
kind = "{kind}"
uses = "{uses}"
args = {args}
produces = {{ succeeded = [{{ custom = {{ type_id = "prompt_text", key = "main" }} }}] }}

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{{ node_id = "prompt" }}]
"#
    )
}

const BUILTIN: &str = "cap.env.builtin.prompt.resolve";
const SHELL: &str = "cap.env.shell.prompt.resolve";

/// Runs a one-prompt template; returns the exit code, the prompt node and the run id.
fn run_prompt(repo: &Repo, sets: &[&str]) -> (i32, Value, String) {
    let mut args = Vec::new();
    for s in sets {
        args.extend(["--set", s]);
    }
    let (code, m) = run_json(repo, "prompt", &args);
    let run_id = m["run_id"].as_str().unwrap().to_owned();
    (code, node(&m, "prompt").clone(), run_id)
}

fn builtin_repo() -> Repo {
    let repo = agent_repo_with(
        "prompt",
        &prompt_template(
            BUILTIN,
            "builtin",
            r#"{ prompt_text = "${text}", prompt_file = "${file}" }"#,
            "text = \"\"\nfile = \"\"",
        ),
        None,
    );
    repo.write("docs/spec.md", "Add a greeting\n");
    repo.write("docs/blank.md", "  \n");
    repo
}

#[test]
fn builtin_prompt_resolve_writes_the_run_scoped_payload() {
    let repo = builtin_repo();
    let (code, prompt, run_id) = run_prompt(&repo, &["text=Write the plan"]);
    assert_eq!(code, 0, "{prompt}");
    let rel = format!(".vizier/jobs/artifacts/data/{run_id}/prompt_text/main/{run_id}-prompt.json");
    assert_eq!(
        prompt["metadata"]["workflow_payload_refs"],
        serde_json::json!([rel])
    );
    let p = payload(&repo, &rel);
    assert_eq!(p["type_id"], "prompt_text");
    assert_eq!(p["key"], "main");
    assert_eq!(p["text"], "Write the plan");
    assert!(p["written_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(p.as_object().unwrap().len(), 4, "{p}");
    // The marker `needs` waits for, scoped to the run as well.
    assert!(
        repo.join(&format!(
            ".vizier/jobs/artifacts/custom/{run_id}/prompt_text/main/{run_id}-prompt"
        ))
        .is_file()
    );

    let (code, prompt, run_id) = run_prompt(&repo, &["file=docs/spec.md"]);
    assert_eq!(code, 0, "{prompt}");
    let rel = format!(".vizier/jobs/artifacts/data/{run_id}/prompt_text/main/{run_id}-prompt.json");
    assert_eq!(payload(&repo, &rel)["text"], "Add a greeting\n");
}

#[test]
fn builtin_prompt_resolve_failures_name_their_cause() {
    let repo = builtin_repo();
    let outside = repo.home.path().join("outside.md");
    std::fs::write(&outside, "secret\n").unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("docs/link.md")).unwrap();
    let escape = format!(
        "file=../{}/outside.md",
        repo.home.path().file_name().unwrap().to_str().unwrap()
    );
    let cases: [(&[&str], &str); 6] = [
        (
            &[],
            "`prompt_text` and `prompt_file` are both empty after param substitution",
        ),
        (
            &["text=a", "file=docs/spec.md"],
            "both `prompt_text` and `prompt_file` are set",
        ),
        (
            &["file=docs/nope.md"],
            "prompt file `docs/nope.md` does not exist",
        ),
        (
            &["file=docs/blank.md"],
            "prompt file `docs/blank.md` is empty",
        ),
        (
            &["file=docs/link.md"],
            "prompt file `docs/link.md` leaves the repository root",
        ),
        (&[&escape], "leaves the repository root"),
    ];
    for (sets, expected) in cases {
        let (code, prompt, run_id) = run_prompt(&repo, sets);
        assert_eq!(code, 1, "{sets:?}");
        assert_eq!(prompt["status"], "failed", "{sets:?}");
        let reason = prompt["reason"].as_str().unwrap();
        assert!(reason.contains(expected), "{sets:?}: {reason}");
        // Nothing was produced: no payload, no marker.
        assert!(
            !repo
                .join(&format!(".vizier/jobs/artifacts/data/{run_id}"))
                .exists(),
            "{sets:?}"
        );
        assert!(
            !repo
                .join(&format!(".vizier/jobs/artifacts/custom/{run_id}"))
                .exists(),
            "{sets:?}"
        );
    }
}

#[test]
fn shell_prompt_resolve_takes_the_commands_stdout() {
    let repo = agent_repo_with(
        "prompt",
        &prompt_template(
            SHELL,
            "shell",
            r#"{ command = "${cmd}" }"#,
            "cmd = \"printf 'Review %s' \\\"$VIZIER_PARAM_WHAT\\\"; echo note >&2\"\nwhat = \"x\"",
        ),
        None,
    );
    let (code, prompt, run_id) = run_prompt(&repo, &["what=the README"]);
    assert_eq!(code, 0, "{prompt}");
    let rel = format!(".vizier/jobs/artifacts/data/{run_id}/prompt_text/main/{run_id}-prompt.json");
    assert_eq!(payload(&repo, &rel)["text"], "Review the README");
    let job = format!("{run_id}-prompt");
    assert_eq!(
        repo.read(&format!(".vizier/jobs/{job}/stdout.log")),
        "Review the README"
    );
    assert!(
        repo.read(&format!(".vizier/jobs/{job}/stderr.log"))
            .contains("note")
    );

    for (cmd, expected, exit) in [
        (
            "echo partial; exit 3",
            "the prompt command exited with code 3",
            Some(3),
        ),
        ("true", "the prompt command printed nothing", None),
        ("printf '  \\n'", "the prompt command printed nothing", None),
    ] {
        let (code, prompt, run_id) = run_prompt(&repo, &[&format!("cmd={cmd}")]);
        assert_eq!(code, 1, "{cmd}");
        let reason = prompt["reason"].as_str().unwrap();
        assert!(reason.contains(expected), "{cmd}: {reason}");
        assert_eq!(prompt["exit_code"].as_i64(), exit.map(i64::from), "{cmd}");
        assert!(
            !repo
                .join(&format!(".vizier/jobs/artifacts/data/{run_id}"))
                .exists()
        );
    }
}

/// The prompt and agent examples of docs/operations.md are these fixtures; each validates and runs.
#[test]
fn documented_examples_are_fixtures_that_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = ["docs/operations.md"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(root.join(p)).ok())
        .collect::<Vec<_>>()
        .join("\n");
    for name in [
        "prompt-resolve-builtin",
        "prompt-resolve-shell",
        "agent-invoke",
    ] {
        let text =
            std::fs::read_to_string(root.join(format!("tests/fixtures/ops/{name}.toml"))).unwrap();
        assert!(
            docs.contains(&text),
            "the docs do not show tests/fixtures/ops/{name}.toml verbatim"
        );
        let repo = Repo::new();
        let seen = repo.home.path().join("seen.txt");
        let script = agent_script(
            repo.home.path(),
            "agent.sh",
            &format!("cat > '{}'", seen.display()),
        );
        repo.write(&format!(".vizier/workflow/{name}.toml"), &text);
        repo.write(".vizier/config.toml", &agent_table("agent", &script, ""));
        repo.write(".gitignore", ".vizier/jobs/\n");
        repo.commit_all("a commit to review");
        repo.vizier().args(["validate"]).assert().code(0);
        let (code, m) = run_json(&repo, name, &[]);
        assert_eq!(code, 0, "{name}: {m}");
        if name == "agent-invoke" {
            let prompt = std::fs::read_to_string(&seen).unwrap();
            assert!(prompt.contains("Add a --verbose flag"), "{prompt}");
        }
    }
}

/// `scripts/example-agent.sh`, configured as the README's demo configures it, answers the scaffold's
/// `draft` prompt with a plan and the `approve` prompt with an edit.
#[test]
fn the_example_agent_plans_and_implements() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = Repo::new();
    repo.vizier().arg("init").assert().code(0);
    let draft_prompt = "Write an implementation plan for this spec:\\n\\n${spec}";
    let approve_prompt = "Implement the plan in .vizier/implementation-plans/${slug}.md";
    for (alias, prompt) in [("plan", draft_prompt), ("build", approve_prompt)] {
        let text = FAN
            .replace("Plan for ${topic}", prompt)
            .replace("topic = \"nothing\"", "spec = \"\"\nslug = \"\"");
        repo.write(&format!(".vizier/workflow/{alias}.toml"), &text);
    }
    // The scaffold's draft and approve prompts (prompt files) are the ones used here.
    assert_eq!(
        repo.read(".vizier/prompts/draft.md"),
        format!("{}\n", draft_prompt.replace("\\n", "\n"))
    );
    assert_eq!(
        repo.read(".vizier/prompts/approve.md"),
        format!("{approve_prompt}\n")
    );
    let mut config = repo.read(".vizier/config.toml");
    config.push_str(&agent_table(
        "agent",
        &root.join("scripts/example-agent.sh"),
        "timeout_secs = 60",
    ));
    repo.write(".vizier/config.toml", &config);
    repo.commit_all("init");

    let (code, m) = run_json(
        &repo,
        "plan",
        &["--set", "spec=Add a greeting\nto the README"],
    );
    assert_eq!(code, 0, "{m}");
    let refs = &node(&m, "agent")["metadata"]["workflow_payload_refs"];
    let plan = payload(&repo, refs[1].as_str().unwrap())["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        plan.starts_with("### Summary\n\nAdd a greeting\n"),
        "{plan}"
    );
    assert!(plan.contains("\n1. "), "{plan}");

    repo.write(".vizier/implementation-plans/hello.md", &plan);
    let (code, m) = run_json(&repo, "build", &["--set", "slug=hello"]);
    assert_eq!(code, 0, "{m}");
    let done = repo.read("implemented/hello.md");
    assert!(done.contains("- Find where the change belongs"), "{done}");

    // A plan that is not there fails the agent, and the node.
    let (code, m) = run_json(&repo, "build", &["--set", "slug=absent"]);
    assert_eq!(code, 1);
    assert_eq!(node(&m, "agent")["exit_code"], 1);
}

/// The README's first command, end to end: init, draft with the example agent, merge.
#[test]
fn the_demo_runs_draft_then_merge_end_to_end() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let home = tempfile::tempdir().unwrap();
    let scratch = home.path().join("scratch");
    let mut cmd = StdCommand::new("sh");
    cmd.arg(root.join("scripts/demo.sh"))
        .arg(&scratch)
        .env("VIZIER", BIN);
    isolate(&mut cmd, home.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let git = |args: &[&str]| {
        let mut cmd = StdCommand::new("git");
        cmd.args(args).current_dir(&scratch);
        isolate(&mut cmd, home.path());
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let plan = git(&["show", "main:.vizier/implementation-plans/greeting.md"]);
    assert!(plan.contains("## Implementation Plan"), "{plan}");
    assert!(plan.contains("### Summary"), "{plan}");
    assert_eq!(git(&["worktree", "list"]).lines().count(), 1);
    assert_eq!(git(&["status", "--porcelain"]), "");
}
