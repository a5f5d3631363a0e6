//! `docs/agents.md`: every example is a file under `tests/fixtures/agents-doc/`, shown byte for byte,
//! and each is run here.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::agents::{PLAN_TEMPLATE, fake_cli, fixture, path_with};
use crate::support::*;

fn doc_fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/agents-doc")
            .join(name),
    )
    .unwrap()
}

#[test]
fn the_examples_of_docs_agents_md_are_the_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/agents.md")).unwrap();
    let lines: Vec<&str> = doc.lines().collect();
    let mut shown = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("```") {
            let above = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap();
            let file = above
                .split('`')
                .find(|p| p.starts_with("tests/fixtures/agents-doc/"))
                .unwrap_or_else(|| {
                    panic!("docs/agents.md:{}: name the fixture above the block", i + 1)
                });
            let end = i
                + 1
                + lines[i + 1..]
                    .iter()
                    .position(|l| l.starts_with("```"))
                    .unwrap();
            let body = lines[i + 1..end].join("\n") + "\n";
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            assert_eq!(body, text, "docs/agents.md:{} differs from {file}", i + 1);
            shown.push(file.to_owned());
            i = end;
        }
        i += 1;
    }
    let mut all: Vec<String> = std::fs::read_dir(root.join("tests/fixtures/agents-doc"))
        .unwrap()
        .map(|e| {
            format!(
                "tests/fixtures/agents-doc/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    all.sort();
    shown.sort();
    assert_eq!(shown, all, "every fixture is shown once");
}

struct Setup {
    repo: Repo,
    bin: PathBuf,
}

/// [`PLAN_TEMPLATE`] as `.vizier/workflow/plan.toml` and `draft.toml`, `config` as the
/// repository's config, fakes of all three CLIs (and the wrapper) on PATH.
fn setup(config: &str) -> Setup {
    let repo = repo_with("plan", PLAN_TEMPLATE);
    repo.write(".vizier/workflow/draft.toml", PLAN_TEMPLATE);
    repo.write(".vizier/config.toml", config);
    repo.commit_all("config");
    let bin = repo.home.path().join("bin");
    for (program, sample) in [
        ("claude", "claude.jsonl"),
        ("codex", "codex.jsonl"),
        ("gemini", "gemini.jsonl"),
        ("my-claude-wrapper", "claude.jsonl"),
    ] {
        fake_cli(
            &bin,
            &repo.home.path().join(format!("rec-{program}")),
            program,
            &fixture(sample),
        );
    }
    Setup { repo, bin }
}

fn run(s: &Setup, alias: &str) -> Value {
    let out = s
        .repo
        .vizier()
        .env_remove("CI")
        .env("PATH", path_with(&s.bin))
        .args(["run", alias, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn program(m: &Value) -> String {
    node(m, "agent")["metadata"]["agent_command"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_preset_example_runs_claude_and_codex_for_draft_with_the_log_shown() {
    let s = setup(&doc_fixture("config.toml"));
    let m = run(&s, "plan");
    assert_eq!(program(&m), "claude");
    let job = node(&m, "agent")["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.repo.read(&format!(".vizier/jobs/{job}/stdout.log")),
        doc_fixture("claude.log")
    );
    assert_eq!(program(&run(&s, "draft")), "codex");
}

#[test]
fn the_command_example_runs_the_wrapper_and_reads_its_claude_stream() {
    let s = setup(&doc_fixture("config-command.toml"));
    let m = run(&s, "plan");
    assert_eq!(program(&m), "my-claude-wrapper");
    let argv =
        std::fs::read_to_string(s.repo.home.path().join("rec-my-claude-wrapper/argv")).unwrap();
    assert_eq!(argv, "--model\nopus\n");
    assert_eq!(
        node(&m, "agent")["metadata"]["agent_output_format"],
        "claude-stream"
    );
    let plan = s.repo.read(".vizier/implementation-plans/login.md");
    assert!(plan.ends_with("2. Test it.\n"), "{plan}");
}

#[test]
fn the_user_config_example_replaces_the_repository_default_but_not_its_alias() {
    let s = setup(&doc_fixture("config.toml"));
    let user = s.repo.home.path().join(".config/vizier/config.toml");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, doc_fixture("user-config.toml")).unwrap();
    assert_eq!(program(&run(&s, "plan")), "gemini");
    assert_eq!(program(&run(&s, "draft")), "codex");
}

#[test]
fn the_release_example_passes_its_outputs_along() {
    let repo = repo_with("release", &doc_fixture("release.toml"));
    repo.vizier().args(["run", "release"]).assert().code(0);
}

#[test]
fn the_prompt_file_example_substitutes_params_and_outputs() {
    let repo = repo_with("notes", &doc_fixture("notes.toml"));
    repo.write(".vizier/prompts/notes.md", &doc_fixture("notes.md"));
    repo.commit_all("add the login form");
    repo.vizier().arg("validate").assert().code(0);
    let out = repo
        .vizier()
        .args(["run", "notes", "--set", "version=2.0.0", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    let refs = &node(&m, "prompt")["metadata"]["workflow_payload_refs"];
    let payload: Value = serde_json::from_str(&repo.read(refs[0].as_str().unwrap())).unwrap();
    assert_eq!(
        payload["text"],
        "Write the release notes for version 2.0.0.\n\nThe last change was: add the login form\n\nAnswer in Markdown; a literal ${version} stays as it is.\n"
    );
}
