//! `plan.persist` (builtin): the plan document `.vizier/implementation-plans/<slug>.md` in the
//! execution root — front matter (`plan`, `branch`), `## Operator Spec`, and `## Implementation
//! Plan`, which is the final answer (output `text`) of this run's upstream `agent.invoke` job when it gave one, else
//! `args.plan_body`, else the spec itself.

use serde_json::json;

use super::context::{safe_name, write_file};
use super::git_cmd;
use super::{OpContext, OpResult};
use crate::workspace::resolve_inside;

pub const PLANS_DIR: &str = ".vizier/implementation-plans";

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    persist(ctx).unwrap_or_else(OpResult::failed)
}

fn spec(ctx: &OpContext<'_>) -> Result<String, String> {
    let source = match ctx.arg("spec_source").map(str::trim) {
        Some("inline") => "inline",
        Some("file") => "file",
        Some(other) => {
            return Err(format!(
                "`args.spec_source` must be `inline` or `file`, got `{other}`"
            ));
        }
        None if ctx.arg("spec_text").is_some() => "inline",
        None => "file",
    };
    if source == "inline" {
        return ctx.arg("spec_text").map(str::to_owned).ok_or_else(|| {
            "missing spec: `args.spec_text` is empty after param substitution (spec_source = inline)"
                .to_owned()
        });
    }
    let rel = ctx.arg("spec_file").ok_or(
        "missing spec: neither `args.spec_text` nor `args.spec_file` is set after param substitution",
    )?;
    let path = resolve_inside(&ctx.repo_root(), rel).map_err(|e| format!("`spec_file`: {e}"))?;
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("missing spec: the spec file `{rel}` does not exist")
        }
        _ => format!("cannot read the spec file `{rel}`: {e}"),
    })?;
    if text.trim().is_empty() {
        return Err(format!("missing spec: the spec file `{rel}` is empty"));
    }
    Ok(text)
}

/// A YAML scalar: plain when it is plainly safe, else a double-quoted (JSON) string.
fn yaml_scalar(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if plain {
        value.to_owned()
    } else {
        serde_json::to_string(value).expect("strings serialize")
    }
}

fn persist(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let slug = ctx
        .arg("name_override")
        .or_else(|| ctx.arg("slug"))
        .ok_or("`plan.persist` needs `args.slug` (or `name_override`), which is empty after param substitution")?;
    let slug = safe_name("slug", slug)?;
    let spec = spec(ctx)?;
    let branch = ctx
        .arg("branch")
        .map_or_else(|| format!("draft/{slug}"), str::to_owned);
    git_cmd::check_branch_name(&ctx.execution_root, "branch", &branch)?;

    let mut body = None;
    let mut source = String::new();
    if let Some(agent) = ctx.nearest_upstream("agent.invoke")? {
        // The agent's output of its latest attempt, kept as the run's `agent_output` payload; the
        // stdout log (which appends across loop-back attempts) only when no payload exists.
        let node_id = agent
            .strip_prefix(&format!("{}-", ctx.spec.run_id))
            .unwrap_or(&agent);
        let payload =
            ctx.store
                .payload_path(&ctx.spec.run_id, crate::agent::OUTPUT_TYPE, node_id, &agent);
        // The agent's final answer (its `text` output: for a streaming agent, the answer alone,
        // not the stream); older runs kept it only as the payload or the log.
        let text = crate::outputs::read(ctx.store, &agent)
            .and_then(|f| f.outputs.get(crate::outputs::AGENT_TEXT).cloned());
        let output = match (text, crate::store::read_payload(&payload)) {
            (Some(text), _) => text,
            (None, Ok(p)) => p.text,
            (None, Err(_)) => std::fs::read_to_string(ctx.store.job_dir(&agent).join("stdout.log"))
                .unwrap_or_default(),
        };
        if !output.trim().is_empty() {
            body = Some(output);
            source = format!("agent:{agent}");
        }
    }
    if body.is_none()
        && let Some(plan_body) = ctx.arg("plan_body")
    {
        body = Some(plan_body.to_owned());
        source = "plan_body".into();
    }
    let body = body.unwrap_or_else(|| {
        source = "spec".into();
        spec.clone()
    });

    let rel = format!("{PLANS_DIR}/{slug}.md");
    let path = resolve_inside(&ctx.execution_root, &rel).map_err(|e| e.to_string())?;
    let doc = format!(
        "---\nplan: {}\nbranch: {}\n---\n\n## Operator Spec\n\n{}\n\n## Implementation Plan\n\n{}\n",
        yaml_scalar(slug),
        yaml_scalar(&branch),
        spec.trim_end(),
        body.trim_end()
    );
    write_file(&path, &rel, &doc)?;

    let mut result = OpResult::succeeded();
    let md = &mut result.metadata;
    md.insert("plan_path".into(), json!(rel));
    md.insert("plan_slug".into(), json!(slug));
    md.insert("plan_branch".into(), json!(branch));
    md.insert("plan_source".into(), json!(source));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_values_are_quoted_only_when_needed() {
        assert_eq!(yaml_scalar("draft/add-login"), "draft/add-login");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar(""), "\"\"");
    }
}
