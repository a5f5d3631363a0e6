//! `build.materialize_step` (builtin): records one step of a build as
//! `.vizier/implementation-plans/builds/<build_id>/steps/<step_key>/materialized.json` in the
//! execution root, and makes sure the branches it names exist (a missing one is created at HEAD).

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{safe_name, write_file};
use super::git_cmd;
use super::plan_persist::PLANS_DIR;
use super::{OpContext, OpResult};
use crate::workspace::resolve_inside;

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    materialize(ctx).unwrap_or_else(OpResult::failed)
}

fn materialize(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let slug = safe_name("slug", ctx.required("slug")?)?;
    let build_id = safe_name("build_id", ctx.arg("build_id").unwrap_or(&ctx.spec.run_id))?;
    let default_key = crate::compile::sanitize(&ctx.node.node_id);
    let step_key = safe_name("step_key", ctx.arg("step_key").unwrap_or(&default_key))?;
    let dir = &ctx.execution_root;

    let mut branches: BTreeMap<String, String> = BTreeMap::new();
    let mut created = Vec::new();
    for what in ["branch", "target_branch"] {
        let Some(name) = ctx.arg(what) else { continue };
        git_cmd::check_branch_name(dir, what, name)?;
        let sha = match git_cmd::branch_sha(dir, name) {
            Some(sha) => sha,
            None => {
                git_cmd::ok(dir, ["branch", name, "HEAD"])
                    .map_err(|e| format!("cannot create `{what}` `{name}`: {e}"))?;
                created.push(name.to_owned());
                git_cmd::branch_sha(dir, name)
                    .ok_or_else(|| format!("branch `{name}` is missing right after creating it"))?
            }
        };
        branches.insert(name.to_owned(), sha);
    }

    let rel = format!("{PLANS_DIR}/builds/{build_id}/steps/{step_key}/materialized.json");
    let path = resolve_inside(dir, &rel).map_err(|e| e.to_string())?;
    let record = json!({
        "version": 1,
        "build_id": build_id,
        "step_key": step_key,
        "slug": slug,
        "branch": ctx.arg("branch"),
        "target_branch": ctx.arg("target_branch"),
        "branches": branches,
        "branches_created": created,
        "run_id": ctx.spec.run_id,
        "job_id": ctx.job_id(),
        "node_id": ctx.node.node_id,
        "materialized_at": crate::store::now(),
    });
    let mut text = serde_json::to_string_pretty(&record).expect("json serializes");
    text.push('\n');
    write_file(&path, &rel, &text)?;

    let mut result = OpResult::succeeded();
    let md = &mut result.metadata;
    md.insert("materialized_path".into(), json!(rel));
    md.insert("build_id".into(), json!(build_id));
    md.insert("step_key".into(), json!(step_key));
    md.insert("branches_created".into(), json!(created));
    Ok(result)
}
