//! Prompt files: `prompt_file` content gets the substitution of args when the node runs, and
//! `vizier validate` checks it with the template, reporting at the prompt file's own positions.

use serde_json::Value;

use crate::support::*;

const NOTES: &str = r#"id = "template.notes"
version = "v1"

[params]
version = "1.2.3"

[[artifact_contracts]]
id = "prompt_text"
version = "v1"

[[nodes]]
id = "first"
kind = "shell"
uses = "cap.env.shell.command.run"
args = { command = "echo 'summary=two fixes' >> \"$VIZIER_OUTPUT\"" }

[[nodes]]
id = "prompt"
uses = "cap.env.builtin.prompt.resolve"
args = { prompt_file = "prompts/notes.md" }
after = [{ node_id = "first" }]
produces = { succeeded = [{ custom = { type_id = "prompt_text", key = "main" } }] }

[[nodes]]
id = "done"
kind = "gate"
uses = "control.terminal"
after = [{ node_id = "prompt" }]
"#;

fn validate_json(repo: &Repo, args: &[&str]) -> (i32, Value) {
    let out = repo
        .vizier()
        .args(["validate", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn a_prompt_file_gets_params_outputs_and_escapes_substituted() {
    let repo = repo_with("notes", NOTES);
    repo.write(
        "prompts/notes.md",
        "Release ${version}: ${nodes.first.outputs.summary}.\nKeep $${HOME} as written.\n",
    );
    repo.commit_all("prompt");
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
        "Release 2.0.0: two fixes.\nKeep ${HOME} as written.\n"
    );
}

#[test]
fn an_undeclared_param_in_a_prompt_file_is_reported_at_its_line_and_column() {
    let repo = repo_with("notes", NOTES);
    repo.write("prompts/notes.md", "Release notes\n\n  for ${verison}\n");
    repo.commit_all("prompt");
    let (code, report) = validate_json(&repo, &[]);
    assert_eq!(code, 1, "{report}");
    let d = &report["diagnostics"][0];
    assert_eq!(d["rule"], "undeclared-param");
    assert_eq!(d["path"], "prompts/notes.md");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(3), Some(7))
    );
    assert_eq!(d["end_column"].as_u64(), Some(17));
    assert_eq!(d["help"], "did you mean `version`?");
    assert_eq!(report["errors"], 1);
    // `vizier run` refuses it before anything is written.
    repo.vizier().args(["run", "notes"]).assert().code(1);
    assert!(!repo.join(".vizier/jobs/runs").exists());
}

#[test]
fn the_staged_prompt_file_is_what_validate_staged_checks() {
    let repo = repo_with("notes", NOTES);
    repo.write("prompts/notes.md", "for ${nope}\n");
    repo.git(&["add", "prompts/notes.md"]);
    repo.write("prompts/notes.md", "for ${version}\n");
    let (code, report) = validate_json(&repo, &["--staged"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["diagnostics"][0]["path"], "prompts/notes.md");
    let (code, report) = validate_json(&repo, &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn an_output_ref_in_a_prompt_file_must_name_an_upstream_node() {
    let repo = repo_with(
        "notes",
        &NOTES.replace("after = [{ node_id = \"first\" }]\n", ""),
    );
    repo.write(
        "prompts/notes.md",
        "Summary:\n${nodes.first.outputs.summary}\n",
    );
    repo.commit_all("prompt");
    let (code, report) = validate_json(&repo, &[]);
    assert_eq!(code, 1, "{report}");
    let d = &report["diagnostics"][0];
    assert_eq!(d["rule"], "output-ref");
    assert_eq!(d["path"], "prompts/notes.md");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["node"], "prompt");
}

#[test]
fn init_scaffolds_the_prompts_as_files_that_validate_checks() {
    let repo = Repo::new();
    repo.vizier().arg("init").assert().code(0);
    for name in ["draft", "approve"] {
        let path = format!(".vizier/prompts/{name}.md");
        assert!(repo.join(&path).is_file(), "{path}");
        let template = repo.read(&format!(".vizier/workflow/{name}.toml"));
        assert!(
            template.contains(&format!("prompt_file = \"{path}\"")),
            "{template}"
        );
    }
    assert!(
        repo.read(".vizier/workflow/draft.toml")
            .contains("${nodes.agent.outputs.text}")
    );
    repo.vizier().arg("validate").assert().code(0);
    repo.write(".vizier/prompts/draft.md", "Plan ${spce}\n");
    let (code, report) = validate_json(&repo, &[]);
    assert_eq!(code, 1);
    let d = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == ".vizier/prompts/draft.md")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(d["rule"], "undeclared-param");
    assert_eq!(d["help"], "did you mean `spec`?");
}
