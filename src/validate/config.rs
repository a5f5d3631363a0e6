//! The strict parser of `.vizier/config.toml` (and the user-level config) into `config::Config`.
//! Parsing reports findings with the same rules and spans as templates, so `vizier validate` and the
//! pre-commit hook check config and templates in one pass.

use crate::agent::format::OutputFormat;
use crate::agent::preset::Preset;
use crate::config::{AgentConfig, Config};
use crate::diagnostic::Finding;
use crate::template::Sp;
use crate::template::walk::{Walker, get};

/// Parses config text; findings are reported against source file `file`.
pub fn parse_config(file: usize, text: &str) -> (Option<Config>, Vec<Finding>) {
    parse(file, text, false)
}

/// Parses a user-level config (`$XDG_CONFIG_HOME/vizier/config.toml`): only `[agent]` and
/// `[agents.*]` belong there; anything else is `unknown-field`.
pub fn parse_user_config(file: usize, text: &str) -> (Option<Config>, Vec<Finding>) {
    parse(file, text, true)
}

fn parse(file: usize, text: &str, user: bool) -> (Option<Config>, Vec<Finding>) {
    let mut findings = Vec::new();
    let Some(root) = crate::template::parse_toml(file, text, &mut findings) else {
        return (None, findings);
    };
    let mut w = Walker::new(file, &mut findings);
    let root = root.get_ref();
    if user {
        w.check_keys(
            root,
            &["agent", "agents"],
            "the user-level config (it may set only `[agent]` and `[agents.*]`)",
        );
    } else {
        w.check_keys(
            root,
            &["agent", "agents", "commands", "ci"],
            "`.vizier/config.toml`",
        );
    }
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
    if let Some(v) = get(root, "commands").filter(|_| !user)
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
    if let Some(v) = get(root, "ci").filter(|_| !user)
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
    w.check_keys(
        t,
        &["command", "timeout_secs", "env", "preset", "output"],
        context,
    );
    let mut agent = AgentConfig::default();
    if let Some(v) = get(t, "preset") {
        agent.preset = w
            .enumerated("preset", v, &Preset::NAMES)
            .and_then(|s| Preset::parse(&s.value));
    }
    if let Some(v) = get(t, "output") {
        agent.output = w
            .enumerated("output", v, &OutputFormat::NAMES)
            .and_then(|s| OutputFormat::parse(&s.value));
    }
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
        // A preset (or a preset name that was misspelt, already reported) supplies the argv.
        None if get(t, "preset").is_some() => {}
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
    use crate::config::{CONFIG_PATH, choose_agent};

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

    #[test]
    fn precedence_is_user_alias_repo_alias_user_default_repo_default() {
        let repo = parse_config(
            0,
            "[agent]\ncommand = [\"r\"]\n[agents.draft]\ncommand = [\"rd\"]\n",
        )
        .0
        .unwrap();
        let user = parse_user_config(
            1,
            "[agent]\npreset = \"codex\"\n[agents.merge]\npreset = \"gemini\"\n",
        )
        .0
        .unwrap();
        let u = Some((&user, "~/.config/vizier/config.toml"));
        let pick = |alias| choose_agent(Some(&repo), u, alias).unwrap();
        assert_eq!(pick(Some("merge")).agent.argv()[0], "gemini");
        assert_eq!(
            pick(Some("merge")).describe(),
            "`[agents.merge]` in `~/.config/vizier/config.toml`"
        );
        assert_eq!(pick(Some("draft")).agent.argv(), ["rd"]);
        assert_eq!(pick(Some("draft")).file, CONFIG_PATH);
        assert_eq!(pick(Some("ship")).agent.argv()[0], "codex");
        assert_eq!(pick(None).table, "[agent]");
        let repo_only = choose_agent(Some(&repo), None, Some("ship")).unwrap();
        assert_eq!(repo_only.agent.argv(), ["r"]);
    }

    #[test]
    fn presets_fill_argv_and_format_and_command_overrides() {
        let (config, findings) = parse_config(
            0,
            "[agent]\npreset = \"claude\"\n[agents.a]\npreset = \"claude\"\ncommand = [\"my-claude\"]\n[agents.b]\ncommand = [\"x\"]\noutput = \"gemini-stream\"\n",
        );
        assert!(findings.is_empty(), "{findings:?}");
        let config = config.unwrap();
        let agent = config.agent.unwrap();
        assert_eq!(
            agent.argv(),
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose"
            ]
        );
        assert_eq!(agent.format(), OutputFormat::ClaudeStream);
        assert_eq!(config.agents["a"].argv(), ["my-claude"]);
        assert_eq!(config.agents["a"].format(), OutputFormat::ClaudeStream);
        assert_eq!(config.agents["b"].format(), OutputFormat::GeminiStream);
    }

    #[test]
    fn a_misspelt_preset_or_output_is_invalid_with_a_hint() {
        let (_, findings) =
            parse_config(0, "[agent]\npreset = \"claud\"\noutput = \"codex-json\"\n");
        let got: Vec<_> = findings
            .iter()
            .map(|f| (f.rule.id(), f.help.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                ("invalid-field", "did you mean `claude`?".to_owned()),
                ("invalid-field", "did you mean `codex-jsonl`?".to_owned())
            ]
        );
    }

    #[test]
    fn the_user_config_may_set_only_agents() {
        let (_, findings) =
            parse_user_config(0, "[agent]\npreset = \"codex\"\n[ci]\ntemplates = []\n");
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule.id(), "unknown-field");
        assert!(
            findings[0].message.contains("user-level"),
            "{}",
            findings[0].message
        );
    }
}
