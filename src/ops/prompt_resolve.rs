//! `prompt.resolve`: the prompt an agent will read, written as the payload of the node's produced
//! `custom:prompt_text:<key>` artifact under this run's id (so concurrent runs never share one).
//!
//! Builtin: `args.prompt_text`, or `args.prompt_file` (a file inside the repository, read relative to
//! the execution root, with `${param}` and `${nodes.<id>.outputs.<name>}` substituted as in args). Shell: the stdout of `args.command` / `args.script`, also copied to the
//! job's stdout log.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::{OpContext, OpResult};
use crate::store::{self, Payload};
use crate::template::Class;
use crate::template::PROMPT_TYPE;
use crate::workspace::inside_root;

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    let Some(artifact) = ctx.node.produces.iter().find(|a| a.type_id == PROMPT_TYPE) else {
        return OpResult::failed(format!(
            "`prompt.resolve` has no `custom:{PROMPT_TYPE}:<key>` in its `produces` to write the prompt to"
        ));
    };
    let shell = ctx.node.identity().map(|row| row.class) == Some(Class::EnvironmentShell);
    let text = if shell {
        from_command(ctx)
    } else {
        from_args(ctx)
    };
    let text = match text {
        Ok(text) => text,
        Err(failed) => return failed,
    };
    let payload = Payload {
        type_id: PROMPT_TYPE.to_owned(),
        key: artifact.key.clone(),
        text,
        written_at: store::now(),
    };
    match ctx
        .store
        .write_payload(&ctx.spec.run_id, &ctx.node.job_id, &payload)
    {
        Ok(path) => {
            let mut result = OpResult::succeeded();
            result.metadata.insert(
                "workflow_payload_refs".into(),
                json!([ctx.store.relative(&path)]),
            );
            result
        }
        Err(e) => OpResult::failed(format!("cannot write the prompt payload: {e}")),
    }
}

/// The builtin form: exactly one of `prompt_text` and `prompt_file` (after `${}` substitution).
fn from_args(ctx: &OpContext<'_>) -> Result<String, OpResult> {
    match (ctx.arg("prompt_text"), ctx.arg("prompt_file")) {
        (Some(text), None) => Ok(text.to_owned()),
        (None, Some(file)) => {
            let text = read_prompt_file(&ctx.store.root, &ctx.execution_root, file)
                .map_err(OpResult::failed)?;
            // The same substitution as args: `${param}`, `${nodes.<id>.outputs.<name>}`, `$${`.
            match ctx.inputs {
                Some(inputs) => inputs
                    .substitute(&text)
                    .map_err(|e| OpResult::failed(format!("prompt file `{file}`: {e}"))),
                None => Ok(text),
            }
        }
        (Some(_), Some(_)) => Err(OpResult::failed(
            "both `prompt_text` and `prompt_file` are set after param substitution; set only one",
        )),
        (None, None) => Err(OpResult::failed(
            "`prompt_text` and `prompt_file` are both empty after param substitution; set one",
        )),
    }
}

/// Reads `file` relative to the execution root; it must stay inside the repository (no `..` or
/// symlink leading out).
fn read_prompt_file(repo_root: &Path, execution_root: &Path, file: &str) -> Result<String, String> {
    let joined = execution_root.join(file);
    if !joined.exists() {
        return Err(format!(
            "prompt file `{file}` does not exist (looked for `{}`)",
            joined.display()
        ));
    }
    // An absolute path joined onto the root is itself: the check below sees the real target.
    let path = inside_root(repo_root, &joined.to_string_lossy())
        .map_err(|_| format!("prompt file `{file}` leaves the repository root"))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read prompt file `{file}`: {e}"))?;
    if text.trim().is_empty() {
        return Err(format!("prompt file `{file}` is empty"));
    }
    Ok(text)
}

/// The shell form: the command's stdout is the prompt.
fn from_command(ctx: &OpContext<'_>) -> Result<String, OpResult> {
    let text = match (ctx.arg("command"), ctx.arg("script")) {
        (Some(text), None) | (None, Some(text)) => text,
        (Some(_), Some(_)) => {
            return Err(OpResult::failed(
                "both `command` and `script` are set after param substitution; set only one",
            ));
        }
        (None, None) => {
            return Err(OpResult::failed(
                "`prompt.resolve` (shell) has no `command` or `script` after param substitution",
            ));
        }
    };
    let (code, stdout) = crate::process::run_shell_capture(text, &ctx.execution_root, &ctx.env)
        .map_err(|e| OpResult::failed(super::error_chain(&e)))?;
    // The log shows what the agent will be asked, as if the command had written it there.
    let mut log = std::io::stdout();
    let _ = log.write_all(&stdout).and_then(|()| log.flush());
    if code != 0 {
        return Err(OpResult::from_exit("the prompt command", code));
    }
    let Ok(text) = String::from_utf8(stdout) else {
        return Err(OpResult::failed(
            "the prompt command's output is not valid UTF-8",
        ));
    };
    if text.trim().is_empty() {
        return Err(OpResult::failed(
            "the prompt command printed nothing; an empty prompt is not sent to the agent",
        ));
    }
    Ok(text)
}
