//! `agent.invoke`: reads this run's prompt payload for the `custom:prompt_text:<key>` the node needs,
//! runs the agent configured for the run (`[agents.<alias>]`, else `[agent]`) in the execution root
//! with the prompt on stdin, and records what happened: `agent_command`, `agent_exit_code`,
//! `agent_duration_ms`, and the payloads it read and wrote in `workflow_payload_refs`.
//!
//! The config is read by the job process from the repository root, so the agent that runs is the one
//! configured now; `vizier run` has already refused runs with no agent at all (`launch`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{OpContext, OpResult, error_chain};
use crate::agent::format::OutputFormat;
use crate::agent::{self, Ending, Invocation};
use crate::config::{CONFIG_PATH, Config};
use crate::diagnostic::Severity;
use crate::store::{self, Payload};
use crate::template::PROMPT_TYPE;
use crate::validate::config::parse_config;

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    let mut metadata = BTreeMap::new();
    let mut result = invoke(ctx, &mut metadata);
    result.metadata.extend(metadata);
    result
}

/// Does the work; what is known so far goes into `metadata` even when a later step fails.
fn invoke(ctx: &OpContext<'_>, metadata: &mut BTreeMap<String, Value>) -> OpResult {
    let Some(need) = ctx.node.needs.iter().find(|a| a.type_id == PROMPT_TYPE) else {
        return OpResult::failed(format!(
            "`agent.invoke` has no `custom:{PROMPT_TYPE}:<key>` in its `needs` to read its prompt from"
        ));
    };
    let run_id = &ctx.spec.run_id;
    let (prompt_path, prompt) = match ctx.store.latest_payload(run_id, PROMPT_TYPE, &need.key) {
        Ok(Some(found)) => found,
        Ok(None) => {
            let dir = ctx.store.artifact_data_dir(run_id, PROMPT_TYPE, &need.key);
            return OpResult::failed(format!(
                "no prompt payload for `custom:{PROMPT_TYPE}:{}` in run {run_id} (looked in `{}`)",
                need.key,
                ctx.store.relative(&dir),
            ));
        }
        Err(e) => return OpResult::failed(format!("cannot read the prompt: {}", error_chain(&e))),
    };
    let mut refs = vec![ctx.store.relative(&prompt_path)];
    metadata.insert("workflow_payload_refs".into(), json!(refs));

    let (table, agent_config) = match configured_agent(ctx) {
        Ok(found) => found,
        Err(message) => return OpResult::failed(message),
    };
    let argv = agent_config.argv();
    let format = agent_config.format();
    metadata.insert("agent_command".into(), json!(argv));
    metadata.insert("agent_output_format".into(), json!(format.as_str()));
    metadata.insert("agent_config".into(), json!(table));
    let timeout = agent_config
        .timeout_secs
        .map_or(agent::DEFAULT_TIMEOUT, Duration::from_secs);
    let mut env = ctx.env.clone();
    env.extend(agent_config.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let raw = ctx
        .store
        .job_dir(&ctx.node.job_id)
        .join("agent-stream.jsonl");
    let ran = match run_agent(
        &Invocation {
            command: &argv,
            dir: &ctx.execution_root,
            env,
            prompt: &prompt.text,
            timeout,
            group_file: Some(ctx.store.job_dir(&ctx.node.job_id).join(agent::GROUP_FILE)),
        },
        format,
        Some(raw),
    ) {
        Ok(ran) => ran,
        Err(e) => {
            return OpResult::failed(format!("{} (the agent of {table})", error_chain(&e)));
        }
    };
    let code = ran.ending.exit_code();
    metadata.insert("agent_exit_code".into(), json!(code));
    metadata.insert(
        "agent_duration_ms".into(),
        json!(u64::try_from(ran.duration.as_millis()).unwrap_or(u64::MAX)),
    );
    if let Some(counts) = ran.events {
        metadata.insert("agent_events".into(), json!(counts.0));
        metadata.insert("agent_unreadable_lines".into(), json!(counts.1));
    }
    if let Ok(text) = &ran.answer {
        let payload = Payload {
            type_id: agent::OUTPUT_TYPE.to_owned(),
            key: ctx.node.node_id.clone(),
            text: text.clone(),
            written_at: store::now(),
        };
        match ctx.store.write_payload(run_id, &ctx.node.job_id, &payload) {
            Ok(path) => {
                refs.push(ctx.store.relative(&path));
                metadata.insert("workflow_payload_refs".into(), json!(refs));
            }
            Err(e) => {
                return OpResult::failed(format!(
                    "cannot keep the agent's output: {}",
                    error_chain(&e)
                ));
            }
        }
    }
    let mut result = match ran.ending {
        Ending::Exited(0) if format != OutputFormat::Text => match &ran.answer {
            Ok(_) => OpResult::succeeded(),
            Err(why) => OpResult {
                exit_code: Some(0),
                ..OpResult::failed(format!("{why} (the agent of {table} exited with code 0)"))
            },
        },
        Ending::Exited(code) => OpResult::from_exit("the agent", code),
        Ending::TimedOut => OpResult {
            exit_code: Some(code),
            ..OpResult::failed(format!(
                "the agent timed out after {} s (`timeout_secs` of {table}) and was stopped",
                timeout.as_secs()
            ))
        },
        Ending::Stopped => OpResult {
            exit_code: Some(code),
            ..OpResult::failed("the agent was stopped because its job was stopped")
        },
    };
    if result.outcome == crate::template::Outcome::Succeeded && result.exit_code.is_none() {
        result.exit_code = Some(code);
    }
    if let Ok(text) = ran.answer {
        result
            .outputs
            .insert(crate::outputs::AGENT_TEXT.to_owned(), text);
    }
    result
}

/// How an agent run went, whatever its output format.
pub(super) struct Ran {
    pub ending: Ending,
    pub duration: Duration,
    /// The final answer (text mode: all of stdout, when it could be read back), or why there is none.
    pub answer: Result<String, String>,
    /// Events and unreadable lines of a stream.
    pub events: Option<(usize, usize)>,
}

/// Runs an agent in its output format: text through [`agent::invoke`], a stream through
/// [`agent::stream::invoke_stream`] (`raw` keeps the stream itself).
pub(super) fn run_agent(
    inv: &Invocation<'_>,
    format: OutputFormat,
    raw: Option<std::path::PathBuf>,
) -> crate::error::Result<Ran> {
    if format == OutputFormat::Text {
        let report = agent::invoke(inv)?;
        return Ok(Ran {
            ending: report.ending,
            duration: report.duration,
            answer: report
                .output
                .ok_or_else(|| "the agent's stdout could not be read back".to_owned()),
            events: None,
        });
    }
    let streamed = agent::stream::invoke_stream(inv, format, raw)?;
    Ok(Ran {
        ending: streamed.ending,
        duration: streamed.duration,
        answer: streamed.answer,
        events: Some((streamed.events, streamed.malformed)),
    })
}

/// The agent configured for this run and where it came from ("`[agents.draft]` in
/// `.vizier/config.toml`"), by the precedence of [`crate::config::choose_agent`]. The repository's
/// config is read as it is now; the user-level config is the file the run was started with (none
/// under CI unless asked). Broken or absent config fails the node: `vizier run` checked it before
/// the run started, so this is a config edited since.
pub(super) fn configured_agent(
    ctx: &OpContext<'_>,
) -> Result<(String, crate::config::AgentConfig), String> {
    let repo = match read_config(&ctx.store.root) {
        Ok(config) => Some(config),
        Err(e) if e.starts_with("no agent is configured") => None,
        Err(e) => return Err(e),
    };
    let user_path = ctx
        .store
        .load_plan(&ctx.spec.run_id)
        .ok()
        .and_then(|p| p.user_config);
    let user = match &user_path {
        Some(path) => read_user_config(path)?,
        None => None,
    };
    let alias = ctx.spec.alias.as_deref();
    let user_ref = user.as_ref().zip(user_path.as_deref());
    let Some(choice) = crate::config::choose_agent(repo.as_ref(), user_ref, alias) else {
        return Err(format!(
            "no agent is configured: add {}`[agent]` with a `command` (or a `preset`) to `{CONFIG_PATH}`",
            alias.map_or(String::new(), |a| format!("`[agents.{a}]` or "))
        ));
    };
    Ok((choice.describe(), choice.agent))
}

fn read_user_config(path: &str) -> Result<Option<Config>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the user-level config `{path}`: {e}")),
    };
    match crate::validate::config::parse_user_config(0, &text) {
        (Some(config), findings) if !findings.iter().any(|f| f.severity == Severity::Error) => {
            Ok(Some(config))
        }
        (_, findings) => Err(format!(
            "the user-level config `{path}` has errors{}",
            findings
                .iter()
                .find(|f| f.severity == Severity::Error)
                .map_or(String::new(), |f| format!(" ({})", f.message))
        )),
    }
}

fn read_config(root: &Path) -> Result<Config, String> {
    let path = root.join(CONFIG_PATH);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "no agent is configured: `{CONFIG_PATH}` does not exist; add `[agent]` with a `command`"
            ));
        }
        Err(e) => return Err(format!("cannot read `{CONFIG_PATH}`: {e}")),
    };
    let (config, findings) = parse_config(0, &text);
    match (
        config,
        findings.iter().find(|f| f.severity == Severity::Error),
    ) {
        (Some(config), None) => Ok(config),
        (_, error) => Err(format!(
            "`{CONFIG_PATH}` has errors{}; `vizier validate` shows them",
            error.map_or(String::new(), |f| format!(" ({})", f.message))
        )),
    }
}
