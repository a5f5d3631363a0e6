//! Agent presets and their output formats, with fake `claude` / `codex` / `gemini` executables on
//! `PATH` that replay the samples under `tests/fixtures/agents/` (built from each tool's documented
//! event schema; the header of each names the page). Each fake records its argv and the prompt it
//! read, then prints its sample.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

/// The final answer every sample carries.
const ANSWER: &str = "# Plan\n\n1. Add the login form.\n2. Test it.";

/// `prompt` → `agent` → `persist` (plan document for slug `login`) → `done`.
pub const PLAN_TEMPLATE: &str = r#"id = "template.plan"
version = "v1"

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "prompt"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_text = "Write an implementation plan for this spec:\n\nlogin" }
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }

[[nodes]]
id = "agent"
kind = "agent"
uses = "cap.agent.invoke"
after = [{ node_id = "prompt" }]
needs = [{ custom = { type_id = "prompt_text", key = "main" } }]

[[nodes]]
id = "persist"
uses = "cap.env.builtin.plan.persist"
args = { spec_text = "login", slug = "login", plan_body = "${nodes.agent.outputs.text}" }
after = [{ node_id = "agent" }]

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "persist" }]
"#;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(name)
}

/// A folder (outside the repository) holding a fake `program` that replays `sample`, recording its
/// argv and stdin in `<rec>/argv` and `<rec>/prompt`.
pub fn fake_cli(bin: &Path, rec: &Path, program: &str, sample: &Path) {
    std::fs::create_dir_all(bin).unwrap();
    std::fs::create_dir_all(rec).unwrap();
    let script = bin.join(program);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{rec}/argv'\ncat > '{rec}/prompt'\nsed '/^#/d' '{sample}'\n",
            rec = rec.display(),
            sample = sample.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `PATH` with `bin` first.
pub fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

struct Replay {
    repo: Repo,
    code: i32,
    manifest: Value,
    rec: PathBuf,
}

impl Replay {
    fn log(&self, node_id: &str) -> String {
        let job = node(&self.manifest, node_id)["job_id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.repo.read(&format!(".vizier/jobs/{job}/stdout.log"))
    }
}

/// Runs [`PLAN_TEMPLATE`] with `[agent] preset = "<program>"` and the fake replaying `sample`.
fn replay(program: &str, sample: &str) -> Replay {
    let repo = repo_with("plan", PLAN_TEMPLATE);
    repo.write(
        ".vizier/config.toml",
        &format!("[agent]\npreset = \"{program}\"\n"),
    );
    repo.commit_all("config");
    let bin = repo.home.path().join("bin");
    let rec = repo.home.path().join("rec");
    fake_cli(&bin, &rec, program, &fixture(sample));
    let out = repo
        .vizier()
        .env("PATH", path_with(&bin))
        .args(["run", "plan", "--format", "json"])
        .output()
        .unwrap();
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no manifest ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Replay {
        repo,
        code: out.status.code().unwrap(),
        manifest,
        rec,
    }
}

/// The JSON lines of a sample (its header and blank lines left out).
fn events(sample: &str) -> Vec<String> {
    std::fs::read_to_string(fixture(sample))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

const PRESETS: [(&str, &[&str]); 3] = [
    (
        "claude",
        &["-p", "--output-format", "stream-json", "--verbose"],
    ),
    ("codex", &["exec", "--json", "-"]),
    ("gemini", &["--output-format", "stream-json"]),
];

#[test]
fn each_preset_runs_its_cli_and_the_plan_holds_only_the_final_answer() {
    for (program, argv) in PRESETS {
        let sample = format!("{program}.jsonl");
        let r = replay(program, &sample);
        assert_eq!(r.code, 0, "{program}: {}", r.manifest);
        // The preset's argv, and the prompt on stdin.
        let seen: Vec<String> = std::fs::read_to_string(r.rec.join("argv"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(seen, argv, "{program} argv");
        assert_eq!(
            std::fs::read_to_string(r.rec.join("prompt")).unwrap(),
            "Write an implementation plan for this spec:\n\nlogin"
        );
        // The plan document: the answer, and nothing of the stream.
        let plan = r.repo.read(".vizier/implementation-plans/login.md");
        assert!(
            plan.ends_with(&format!("## Implementation Plan\n\n{ANSWER}\n")),
            "{program}: {plan}"
        );
        assert!(!plan.contains("\"type\""), "{program}: {plan}");
        // The log: one readable line per event, none of it raw JSON.
        let log = r.log("agent");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), events(&sample).len(), "{program}: {log}");
        let tag = format!("[{program}] ");
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with(&tag) && !l.contains("{\"type\"")),
            "{log}"
        );
        assert!(log.contains("tool call: "), "{program}: {log}");
        assert!(log.contains("tool result: "), "{program}: {log}");
        assert!(log.contains("says: "), "{program}: {log}");
        // The answer is the node's `text` output, in the manifest and the job record.
        let agent = node(&r.manifest, "agent");
        assert_eq!(agent["metadata"]["outputs"]["text"], ANSWER, "{program}");
        assert_eq!(
            agent["metadata"]["agent_output_format"],
            format!(
                "{}",
                match program {
                    "claude" => "claude-stream",
                    "codex" => "codex-jsonl",
                    _ => "gemini-stream",
                }
            )
        );
        // The raw stream is kept beside the log.
        let job = agent["job_id"].as_str().unwrap();
        let raw = r
            .repo
            .read(&format!(".vizier/jobs/{job}/agent-stream.jsonl"));
        assert_eq!(raw.lines().count(), events(&sample).len());
    }
}

#[test]
fn a_malformed_line_is_kept_in_the_log_and_does_not_stop_the_node() {
    for (program, _) in PRESETS {
        let sample = format!("{program}-malformed.jsonl");
        let r = replay(program, &sample);
        assert_eq!(r.code, 0, "{program}: {}", r.manifest);
        let log = r.log("agent");
        let bad: Vec<String> = events(&sample)
            .into_iter()
            .filter(|l| serde_json::from_str::<Value>(l).is_err())
            .collect();
        assert_eq!(bad.len(), 1);
        assert!(
            log.contains(&format!("[{program}] (not a JSON event) {}", bad[0])),
            "{program}: {log}"
        );
        assert_eq!(log.lines().count(), events(&sample).len());
        let plan = r.repo.read(".vizier/implementation-plans/login.md");
        assert!(plan.ends_with(&format!("{ANSWER}\n")), "{program}: {plan}");
        assert_eq!(
            node(&r.manifest, "agent")["metadata"]["agent_unreadable_lines"],
            1
        );
    }
}

#[test]
fn a_stream_without_a_final_answer_fails_the_node_saying_why() {
    for (program, _) in PRESETS {
        let r = replay(program, &format!("{program}-no-answer.jsonl"));
        assert_eq!(r.code, 1, "{program}: {}", r.manifest);
        let agent = node(&r.manifest, "agent");
        assert_eq!(agent["status"], "failed", "{program}");
        let reason = agent["reason"].as_str().unwrap();
        assert!(reason.starts_with("no final answer"), "{program}: {reason}");
        assert!(agent["metadata"].get("outputs").is_none(), "{program}");
        assert_eq!(
            node(&r.manifest, "persist")["status"],
            "blocked_by_dependency"
        );
        assert!(
            !r.repo
                .join(".vizier/implementation-plans/login.md")
                .exists()
        );
    }
}

#[test]
fn command_overrides_a_presets_argv_but_keeps_its_format() {
    let repo = repo_with("plan", PLAN_TEMPLATE);
    let bin = repo.home.path().join("bin");
    let rec = repo.home.path().join("rec");
    fake_cli(&bin, &rec, "my-claude", &fixture("claude.jsonl"));
    repo.write(
        ".vizier/config.toml",
        &format!(
            "[agent]\npreset = \"claude\"\ncommand = [\"{}\", \"--fast\"]\n",
            bin.join("my-claude").display()
        ),
    );
    repo.commit_all("config");
    repo.vizier().args(["run", "plan"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(rec.join("argv")).unwrap(),
        "--fast\n"
    );
    let plan = repo.read(".vizier/implementation-plans/login.md");
    assert!(plan.ends_with(&format!("{ANSWER}\n")), "{plan}");
}

#[test]
fn jobs_show_lists_the_agent_text_output() {
    let r = replay("codex", "codex.jsonl");
    let job = node(&r.manifest, "agent")["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = r
        .repo
        .vizier()
        .args(["jobs", "show", &job])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("outputs:") && text.contains("Add the login form"),
        "{text}"
    );
    let _ = manifests(&r.repo);
}

#[test]
fn the_log_shows_each_event_while_the_agent_still_runs() {
    let repo = repo_with("plan", PLAN_TEMPLATE);
    repo.write(".vizier/config.toml", "[agent]\npreset = \"claude\"\n");
    repo.commit_all("config");
    let bin = repo.home.path().join("bin");
    let go = repo.home.path().join("go");
    let sample = fixture("claude.jsonl");
    std::fs::create_dir_all(&bin).unwrap();
    // Prints the first event, then waits for `go` before printing the rest.
    let script = bin.join("claude");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > /dev/null\nsed '/^#/d' '{s}' | head -n 1\ni=0\nwhile [ ! -e '{go}' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\nsed '/^#/d' '{s}' | tail -n +2\n",
            s = sample.display(),
            go = go.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.vizier()
        .env("PATH", path_with(&bin))
        .args(["run", "plan", "--detach"])
        .assert()
        .success();
    let log = || {
        let runs = manifests(&repo);
        let job = node(&runs[0], "agent")["job_id"]
            .as_str()
            .unwrap()
            .to_owned();
        std::fs::read_to_string(repo.join(&format!(".vizier/jobs/{job}/stdout.log")))
            .unwrap_or_default()
    };
    wait_until("the first event in the log", || {
        log().contains("session started")
    });
    assert_eq!(log().lines().count(), 1, "{}", log());
    std::fs::write(&go, "").unwrap();
    wait_until("the run to end", || {
        manifests(&repo)[0]["outcome"].is_string()
    });
    assert_eq!(manifests(&repo)[0]["outcome"], "succeeded");
    assert_eq!(log().lines().count(), events("claude.jsonl").len());
}

/// On a terminal (a pty from util-linux `script`), the live status line of `vizier run` shows the
/// running agent's latest event.
#[cfg(target_os = "linux")]
#[test]
fn the_live_status_line_shows_the_agents_latest_event() {
    let repo = repo_with("plan", PLAN_TEMPLATE);
    repo.write(".vizier/config.toml", "[agent]\npreset = \"claude\"\n");
    repo.commit_all("config");
    let bin = repo.home.path().join("bin");
    let sample = fixture("claude.jsonl");
    std::fs::create_dir_all(&bin).unwrap();
    // Prints the first two events, then takes a while before the rest.
    let script = bin.join("claude");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > /dev/null\nsed '/^#/d' '{s}' | head -n 2\nsleep 1\nsed '/^#/d' '{s}' | tail -n +3\n",
            s = sample.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new("script");
    cmd.current_dir(repo.path())
        .args(["-q", "-e", "-c"])
        .arg(format!("'{BIN}' run plan"))
        .arg("/dev/null");
    isolate(&mut cmd, repo.home.path());
    cmd.env("PATH", path_with(&bin));
    let out = cmd.output().expect("util-linux `script` runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        // The status line is cut to the terminal's width, so only the start of the event is sure.
        text.contains("running: agent · agent: [claude] says: I'll look at the repo"),
        "{text}"
    );
}
