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
use crate::agent::{self, Ending, Invocation};
use crate::config::{CONFIG_PATH, Config, parse_config};
use crate::diagnostic::Severity;
use crate::store::{self, Payload};
use crate::template::PROMPT_TYPE;

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
    metadata.insert("agent_command".into(), json!(agent_config.command));
    let timeout = agent_config
        .timeout_secs
        .map_or(agent::DEFAULT_TIMEOUT, Duration::from_secs);
    let mut env = ctx.env.clone();
    env.extend(agent_config.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let report = match agent::invoke(&Invocation {
        command: &agent_config.command,
        dir: &ctx.execution_root,
        env,
        prompt: &prompt.text,
        timeout,
    }) {
        Ok(report) => report,
        Err(e) => {
            return OpResult::failed(format!(
                "{} (the agent of `{table}` in `{CONFIG_PATH}`)",
                error_chain(&e)
            ));
        }
    };
    let code = report.ending.exit_code();
    metadata.insert("agent_exit_code".into(), json!(code));
    metadata.insert(
        "agent_duration_ms".into(),
        json!(u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX)),
    );
    if let Some(text) = report.output {
        let payload = Payload {
            type_id: agent::OUTPUT_TYPE.to_owned(),
            key: ctx.node.node_id.clone(),
            text,
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
    match report.ending {
        Ending::Exited(code) => OpResult::from_exit("the agent", code),
        Ending::TimedOut => OpResult {
            exit_code: Some(code),
            ..OpResult::failed(format!(
                "the agent timed out after {} s (`timeout_secs` of `{table}`) and was stopped",
                timeout.as_secs()
            ))
        },
        Ending::Stopped => OpResult {
            exit_code: Some(code),
            ..OpResult::failed("the agent was stopped because its job was stopped")
        },
    }
}

/// `.vizier/config.toml` as it is now. Broken or absent config fails the node: `vizier run` checked
/// it before the run started, so this is a config edited since.
/// The agent configured for this run (`[agents.<alias>]`, else `[agent]`) and the name of its table.
pub(super) fn configured_agent(
    ctx: &OpContext<'_>,
) -> Result<(String, crate::config::AgentConfig), String> {
    let config = read_config(&ctx.store.root)?;
    let alias = ctx.spec.alias.as_deref();
    let Some((table, agent_config)) = config.agent_for(alias) else {
        return Err(format!(
            "no agent is configured: add {}`[agent]` with a `command` to `{CONFIG_PATH}`",
            alias.map_or(String::new(), |a| format!("`[agents.{a}]` or "))
        ));
    };
    Ok((table.to_string(), agent_config.clone()))
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
