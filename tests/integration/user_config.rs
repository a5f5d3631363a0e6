//! The user-level config (`$XDG_CONFIG_HOME/vizier/config.toml`): each developer's own agent
//! choice, by the precedence user alias → repository alias → user default → repository default,
//! and not read under `CI=true` unless `--user-config` says so.

use std::path::PathBuf;

use serde_json::Value;

use crate::agents::{PLAN_TEMPLATE, fake_cli, fixture, path_with};
use crate::support::*;

struct Setup {
    repo: Repo,
    bin: PathBuf,
    user_config: PathBuf,
}

/// The plan template; the repository's config is `repo_config`; fake `codex` and `gemini` on PATH;
/// the user-level config holds `user`.
fn setup(repo_config: &str, user: &str) -> Setup {
    let repo = repo_with("plan", PLAN_TEMPLATE);
    repo.write(".vizier/config.toml", repo_config);
    repo.commit_all("config");
    let bin = repo.home.path().join("bin");
    fake_cli(
        &bin,
        &repo.home.path().join("rec-codex"),
        "codex",
        &fixture("codex.jsonl"),
    );
    fake_cli(
        &bin,
        &repo.home.path().join("rec-gemini"),
        "gemini",
        &fixture("gemini.jsonl"),
    );
    // `isolate` points XDG_CONFIG_HOME at <home>/.config.
    let user_config = repo.home.path().join(".config/vizier/config.toml");
    std::fs::create_dir_all(user_config.parent().unwrap()).unwrap();
    std::fs::write(&user_config, user).unwrap();
    Setup {
        repo,
        bin,
        user_config,
    }
}

/// `vizier run plan` with `ci` as the CI variable (or none): the exit code, the manifest (if any),
/// and stdout+stderr.
fn run(s: &Setup, ci: Option<&str>, extra: &[&str]) -> (i32, Option<Value>, String) {
    let mut cmd = s.repo.vizier();
    cmd.env("PATH", path_with(&s.bin))
        .args(["run", "plan", "--format", "json"])
        .args(extra);
    match ci {
        Some(v) => cmd.env("CI", v),
        None => cmd.env_remove("CI"),
    };
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).ok(),
        text,
    )
}

fn used(m: &Value) -> (String, String) {
    let md = &node(m, "agent")["metadata"];
    (
        md["agent_command"][0].as_str().unwrap().to_owned(),
        md["agent_config"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn the_users_agent_wins_over_the_repositorys_default_and_names_its_file() {
    let s = setup(
        "[agent]\npreset = \"gemini\"\n",
        "[agent]\npreset = \"codex\"\n",
    );
    let (code, m, text) = run(&s, None, &[]);
    assert_eq!(code, 0, "{text}");
    let (program, from) = used(&m.unwrap());
    assert_eq!(program, "codex");
    assert_eq!(from, format!("`[agent]` in `{}`", s.user_config.display()));
}

#[test]
fn under_ci_the_user_config_is_read_only_with_user_config() {
    let s = setup(
        "[agent]\npreset = \"gemini\"\n",
        "[agent]\npreset = \"codex\"\n",
    );
    let (code, m, text) = run(&s, Some("true"), &[]);
    assert_eq!(code, 0, "{text}");
    let (program, from) = used(&m.unwrap());
    assert_eq!(
        (program.as_str(), from.as_str()),
        ("gemini", "`[agent]` in `.vizier/config.toml`")
    );
    let (code, m, text) = run(&s, Some("true"), &["--user-config"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(used(&m.unwrap()).0, "codex");
}

#[test]
fn a_repository_alias_beats_the_users_default_and_a_user_alias_beats_both() {
    let s = setup(
        "[agent]\npreset = \"codex\"\n[agents.plan]\npreset = \"gemini\"\n",
        "[agent]\npreset = \"codex\"\n",
    );
    let (_, m, text) = run(&s, None, &[]);
    assert_eq!(used(&m.expect(&text)).0, "gemini");
    std::fs::write(&s.user_config, "[agents.plan]\npreset = \"codex\"\n").unwrap();
    let (_, m, text) = run(&s, None, &[]);
    let (program, from) = used(&m.expect(&text));
    assert_eq!(program, "codex");
    assert!(from.starts_with("`[agents.plan]` in `"), "{from}");
}

#[test]
fn the_user_config_alone_is_enough_to_run_an_agent_node() {
    let s = setup(
        "[ci]\ntemplates = [\"ci\"]\n",
        "[agent]\npreset = \"gemini\"\n",
    );
    let (code, m, text) = run(&s, None, &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(used(&m.unwrap()).0, "gemini");
    // Under CI it is not read, so the run is refused as having no agent.
    let (code, _, text) = run(&s, Some("true"), &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no agent is configured"), "{text}");
}

#[test]
fn a_user_config_setting_more_than_agents_is_rejected_with_its_position() {
    let s = setup(
        "[agent]\npreset = \"gemini\"\n",
        "[agent]\npreset = \"codx\"\n\n[ci]\ntemplates = []\n",
    );
    let out = s
        .repo
        .vizier()
        .env_remove("CI")
        .env("PATH", path_with(&s.bin))
        .args(["run", "plan"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let path = s.user_config.display().to_string();
    assert!(text.contains(&format!("--> {path}:2:10")), "{text}");
    assert!(text.contains("did you mean `codex`?"), "{text}");
    assert!(text.contains(&format!("--> {path}:4:2")), "{text}");
    assert!(
        text.contains("unknown field `ci` in the user-level config"),
        "{text}"
    );
    assert!(!s.repo.join(".vizier/jobs/runs").exists());
}

#[test]
fn a_message_about_the_agent_names_the_file_its_setting_came_from() {
    let s = setup(
        "[agent]\npreset = \"gemini\"\n",
        "[agent]\ncommand = [\"sleep\", \"30\"]\ntimeout_secs = 1\n",
    );
    let (code, m, text) = run(&s, None, &[]);
    assert_eq!(code, 1, "{text}");
    let m = m.unwrap();
    let reason = node(&m, "agent")["reason"].as_str().unwrap().to_owned();
    assert_eq!(
        reason,
        format!(
            "the agent timed out after 1 s (`timeout_secs` of `[agent]` in `{}`) and was stopped",
            s.user_config.display()
        )
    );
}

#[test]
fn xdg_config_home_names_the_folder_and_home_is_the_fallback() {
    // `setup` writes <home>/.config/vizier/config.toml (codex).
    let s = setup(
        "[agent]\npreset = \"gemini\"\n",
        "[agent]\npreset = \"codex\"\n",
    );
    let xdg = s.repo.home.path().join("xdg");
    std::fs::create_dir_all(xdg.join("vizier")).unwrap();
    std::fs::write(
        xdg.join("vizier/config.toml"),
        "[agents.plan]\npreset = \"gemini\"\n",
    )
    .unwrap();
    let run_with = |xdg_value: Option<&std::path::Path>| {
        let mut cmd = s.repo.vizier();
        cmd.env_remove("CI")
            .env("PATH", path_with(&s.bin))
            .args(["run", "plan", "--format", "json"]);
        match xdg_value {
            Some(dir) => cmd.env("XDG_CONFIG_HOME", dir),
            None => cmd.env_remove("XDG_CONFIG_HOME"),
        };
        let out = cmd.output().unwrap();
        let m: Value = serde_json::from_slice(&out.stdout).unwrap();
        used(&m)
    };
    let (program, from) = run_with(Some(&xdg));
    assert_eq!(program, "gemini");
    assert_eq!(
        from,
        format!(
            "`[agents.plan]` in `{}`",
            xdg.join("vizier/config.toml").display()
        )
    );
    let (program, from) = run_with(None);
    assert_eq!(program, "codex");
    assert_eq!(from, format!("`[agent]` in `{}`", s.user_config.display()));
}
