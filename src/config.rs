//! `.vizier/config.toml`: the model and its strict parser.
//!
//! Parsing reports findings with the same rules and spans as templates, so `vizier validate` and the
//! pre-commit hook check config and templates in one pass.

use std::collections::BTreeMap;

use crate::diagnostic::Finding;
use crate::template::Sp;
use crate::template::walk::{Walker, get};

pub const CONFIG_PATH: &str = ".vizier/config.toml";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentConfig {
    pub command: Vec<String>,
    pub timeout_secs: Option<u64>,
    pub env: BTreeMap<String, String>,
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

/// Parses config text; findings are reported against source file `file`.
pub fn parse_config(file: usize, text: &str) -> (Option<Config>, Vec<Finding>) {
    let mut findings = Vec::new();
    let Some(root) = crate::template::parse_toml(file, text, &mut findings) else {
        return (None, findings);
    };
    let mut w = Walker::new(file, &mut findings);
    let root = root.get_ref();
    w.check_keys(
        root,
        &["agent", "agents", "commands", "ci"],
        "`.vizier/config.toml`",
    );
    let mut config = Config::default();
    if let Some(v) = get(root, "agent")
        && let Some(t) = w.table("agent", v)
    {
        config.agent = Some(read_agent(&mut w, t, "`[agent]`", v.span()));
    }
    if let Some(v) = get(root, "agents")
        && let Some(t) = w.table("agents", v)
    {
        for (alias, value) in t.iter() {
            let context = format!("`[agents.{}]`", alias.get_ref());
            if let Some(inner) = w.table(&context, value) {
                let agent = read_agent(&mut w, inner, &context, value.span());
                config.agents.insert(alias.get_ref().to_string(), agent);
            }
        }
    }
    if let Some(v) = get(root, "commands")
        && let Some(t) = w.table("commands", v)
    {
        for (alias, value) in t.iter() {
            if let Some(path) = w.string(&format!("commands.{}", alias.get_ref()), value) {
                config
                    .commands
                    .insert(alias.get_ref().to_string(), path.value);
            }
        }
    }
    if let Some(v) = get(root, "ci")
        && let Some(t) = w.table("ci", v)
    {
        w.check_keys(t, &["templates", "artifacts_dir"], "`[ci]`");
        if let Some(list) = get(t, "templates") {
            config.ci.templates = w
                .strings("ci.templates", list)
                .into_iter()
                .map(|s: Sp<String>| s.value)
                .collect();
        }
        if let Some(dir) = get(t, "artifacts_dir") {
            config.ci.artifacts_dir = w.string("ci.artifacts_dir", dir).map(|s| s.value);
        }
    }
    (Some(config), findings)
}

fn read_agent(
    w: &mut Walker<'_>,
    t: &toml::de::DeTable<'_>,
    context: &str,
    span: crate::template::Span,
) -> AgentConfig {
    w.check_keys(t, &["command", "timeout_secs", "env"], context);
    let mut agent = AgentConfig::default();
    match get(t, "command") {
        Some(v) => {
            let span = v.span();
            agent.command = w
                .strings("command", v)
                .into_iter()
                .map(|s| s.value)
                .collect();
            if agent.command.is_empty() && v.get_ref().is_array() {
                w.report(
                    crate::diagnostic::Rule::InvalidField,
                    span,
                    format!("`command` in {context} must name a program"),
                    Some("e.g. `command = [\"my-agent\", \"--print\"]`".to_owned()),
                );
            }
        }
        None => w.missing("command", span, context),
    }
    if let Some(v) = get(t, "timeout_secs") {
        match v
            .get_ref()
            .as_integer()
            .and_then(|i| i.as_str().parse::<u64>().ok())
        {
            Some(n) if n > 0 => agent.timeout_secs = Some(n),
            _ => w.wrong_type("timeout_secs", v, "a whole number of seconds > 0"),
        }
    }
    if let Some(v) = get(t, "env")
        && let Some(env) = w.table("env", v)
    {
        for (k, value) in env.iter() {
            if let Some(s) = w.string(&format!("env.{}", k.get_ref()), value) {
                agent.env.insert(k.get_ref().to_string(), s.value);
            }
        }
    }
    agent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_alias_agent_wins() {
        let text = "[agent]\ncommand = [\"a\"]\n[agents.draft]\ncommand = [\"b\", \"-x\"]\ntimeout_secs = 5\n";
        let (config, findings) = parse_config(0, text);
        assert!(findings.is_empty(), "{findings:?}");
        let config = config.unwrap();
        let (key, agent) = config.agent_for(Some("draft")).unwrap();
        assert_eq!(key, "[agents.draft]");
        assert_eq!(agent.command, ["b", "-x"]);
        let (key, agent) = config.agent_for(Some("merge")).unwrap();
        assert_eq!(key, "[agent]");
        assert_eq!(agent.command, ["a"]);
        assert_eq!(config.agent_for(None).unwrap().0, "[agent]");
        let only_alias = parse_config(0, "[agents.draft]\ncommand = [\"b\"]\n")
            .0
            .unwrap();
        assert!(only_alias.agent_for(Some("merge")).is_none());
        assert!(only_alias.agent_for(None).is_none());
    }

    #[test]
    fn unknown_keys_are_findings() {
        let (_, findings) = parse_config(0, "[agent]\ncomand = [\"a\"]\n");
        let rules: Vec<_> = findings.iter().map(|f| f.rule.id()).collect();
        assert_eq!(rules, ["unknown-field", "missing-field"]);
        assert_eq!(findings[0].help.as_deref(), Some("did you mean `command`?"));
    }
}
