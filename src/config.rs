//! `.vizier/config.toml`: the model and how a run picks its agent. The strict parser is
//! `validate::config`: it reports findings with the same rules and spans as templates, so
//! `vizier validate` and the pre-commit hook check config and templates in one pass.

use std::collections::BTreeMap;

use crate::agent::format::OutputFormat;
use crate::agent::preset::Preset;

pub const CONFIG_PATH: &str = ".vizier/config.toml";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentConfig {
    /// argv; empty when a `preset` supplies it.
    pub command: Vec<String>,
    pub timeout_secs: Option<u64>,
    pub env: BTreeMap<String, String>,
    /// `preset = "claude" | "codex" | "gemini"`: the argv and output format of that CLI.
    pub preset: Option<Preset>,
    /// `output = "text" | "claude-stream" | "codex-jsonl" | "gemini-stream"`.
    pub output: Option<OutputFormat>,
}

impl AgentConfig {
    /// The argv that runs: `command` when set, else the preset's.
    pub fn argv(&self) -> Vec<String> {
        match self.preset {
            Some(preset) if self.command.is_empty() => preset.command(),
            _ => self.command.clone(),
        }
    }

    /// How its stdout is read: `output` when set, else the preset's, else plain text.
    pub fn format(&self) -> OutputFormat {
        self.output
            .or(self.preset.map(Preset::output))
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CiConfig {
    pub templates: Vec<String>,
    pub artifacts_dir: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub agent: Option<AgentConfig>,
    pub agents: BTreeMap<String, AgentConfig>,
    /// alias → template path, relative to the repository root.
    pub commands: BTreeMap<String, String>,
    pub ci: CiConfig,
}

impl Config {
    /// The agent for a run started by `alias` (none when started by path): `[agents.<alias>]`,
    /// else `[agent]`, with the table it came from (`[agents.draft]`, `[agent]`) for messages.
    pub fn agent_for(&self, alias: Option<&str>) -> Option<(String, &AgentConfig)> {
        if let Some((alias, agent)) = alias.and_then(|a| self.agents.get_key_value(a)) {
            return Some((format!("[agents.{alias}]"), agent));
        }
        self.agent.as_ref().map(|a| ("[agent]".to_owned(), a))
    }
}

/// The user-level config file: `$XDG_CONFIG_HOME/vizier/config.toml`, else
/// `~/.config/vizier/config.toml` (an XDG value that is empty or relative is ignored, as the XDG
/// rules say). `None` when neither variable is usable.
pub fn user_config_path() -> Option<std::path::PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").map(std::path::PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => std::path::PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?)
            .join(".config"),
    };
    Some(base.join("vizier").join("config.toml"))
}

/// Whether the user-level config is read: always outside CI; under `CI=true` only when the person
/// asked for it (`--user-config`), so a CI runner's home never changes what a run does.
pub fn user_config_wanted(asked: bool) -> bool {
    asked || std::env::var("CI").map_or(true, |v| v != "true")
}

/// The agent a run uses and where its setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentChoice {
    /// `[agents.draft]` or `[agent]`.
    pub table: String,
    /// The file the table is in, as messages name it.
    pub file: String,
    pub agent: AgentConfig,
}

impl AgentChoice {
    /// "`[agents.draft]` in `.vizier/config.toml`", for messages.
    pub fn describe(&self) -> String {
        format!("`{}` in `{}`", self.table, self.file)
    }
}

/// Picks the agent for a run started by `alias`. First match wins: the user's `[agents.<alias>]`,
/// the repository's `[agents.<alias>]`, the user's `[agent]`, the repository's `[agent]`.
pub fn choose_agent(
    repo: Option<&Config>,
    user: Option<(&Config, &str)>,
    alias: Option<&str>,
) -> Option<AgentChoice> {
    let pick = |config: &Config, file: &str, per_alias: bool| {
        let found = if per_alias {
            alias
                .and_then(|a| config.agents.get_key_value(a))
                .map(|(a, agent)| (format!("[agents.{a}]"), agent))
        } else {
            config.agent.as_ref().map(|a| ("[agent]".to_owned(), a))
        };
        found.map(|(table, agent)| AgentChoice {
            table,
            file: file.to_owned(),
            agent: agent.clone(),
        })
    };
    let repo = repo.map(|c| (c, CONFIG_PATH));
    for per_alias in [true, false] {
        for (config, file) in [user, repo].into_iter().flatten() {
            if let Some(choice) = pick(config, file, per_alias) {
                return Some(choice);
            }
        }
    }
    None
}
