//! `gate.conflict_resolution` (control): decides whether this run's conflicted merge is resolved.
//!
//! No sentinel for this run: nothing to resolve, pass. Conflicts left: with `auto_resolve`
//! (`args.auto_resolve = true`, or on the gate), the resolver `script` gate runs in the conflicted
//! work tree (with `VIZIER_MERGE_WORKTREE`, `VIZIER_MERGE_CONFLICTS` — one path per line —,
//! `VIZIER_MERGE_SLUG` in its environment); files it fixed but did not `git add` are staged when no
//! conflict markers are left in them; then the conflicts are checked again. None left: the merge is
//! completed (committed, the target moved, the sentinel cleared) and the gate succeeds, so its
//! `on.succeeded` loop-back re-runs the integrate node, which finds the merge done. Conflicts left:
//! `blocked`, naming them.

use serde_json::json;

use super::context::safe_name;
use super::git_cmd;
use super::git_integrate_plan_branch::{complete, conflicted_dir, quoted};
use super::merge_sentinel::{self, Sentinel};
use super::{OpContext, OpResult};

pub fn run(ctx: &OpContext<'_>) -> OpResult {
    resolve(ctx).unwrap_or_else(OpResult::failed)
}

fn blocked(message: String, conflicts: &[String], dir: &str) -> OpResult {
    let mut result = OpResult {
        outcome: crate::template::Outcome::Blocked,
        message: Some(message),
        ..OpResult::default()
    };
    result
        .metadata
        .insert("merge_conflicts".into(), json!(conflicts));
    result.metadata.insert("merge_worktree".into(), json!(dir));
    result
}

/// Whether a file still holds conflict markers at the start of a line.
fn has_markers(bytes: &[u8]) -> bool {
    bytes
        .split(|b| *b == b'\n')
        .any(|line| line.starts_with(b"<<<<<<< ") || line.starts_with(b">>>>>>> "))
}

fn resolve(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let root = ctx.repo_root();
    let run_id = &ctx.spec.run_id;
    let sentinels: Vec<Sentinel> = match ctx.arg("slug") {
        Some(slug) => merge_sentinel::read(&root, safe_name("slug", slug)?)?
            .filter(|s| &s.run_id == run_id)
            .into_iter()
            .collect(),
        None => merge_sentinel::for_run(&root, run_id)?,
    };
    if sentinels.is_empty() {
        let mut result = OpResult::succeeded();
        result.message = Some("no merge sentinel for this run: nothing to resolve".into());
        result.metadata.insert("merge_conflicts".into(), json!([]));
        return Ok(result);
    }
    let auto =
        ctx.bool_arg("auto_resolve", false)? || ctx.node.gates.iter().any(|g| g.auto_resolve);
    let script = ctx
        .node
        .gates
        .iter()
        .find(|g| g.kind == crate::template::GateKind::Script)
        .and_then(|g| g.script.as_deref())
        .filter(|s| !s.trim().is_empty());

    let mut commits = Vec::new();
    for s in &sentinels {
        let dir = conflicted_dir(ctx, s)?;
        let rel = ctx.repo_relative(&dir);
        let mut left = git_cmd::unmerged_paths(&dir)?;
        if !left.is_empty() {
            if !auto {
                return Ok(blocked(
                    format!(
                        "conflicts remain in `{rel}`: {}; resolve them there (`git add` each file), then `vizier jobs retry {}`",
                        quoted(&left),
                        ctx.job_id()
                    ),
                    &left,
                    &rel,
                ));
            }
            let mut env = ctx.env.clone();
            env.push(("VIZIER_MERGE_WORKTREE".into(), dir.display().to_string()));
            env.push(("VIZIER_MERGE_CONFLICTS".into(), left.join("\n")));
            env.push(("VIZIER_MERGE_SLUG".into(), s.slug.clone()));
            let (code, resolver) = match script {
                Some(script) => (
                    crate::process::run_shell(script, &dir, &env).map_err(|e| e.to_string())?,
                    "the resolver script",
                ),
                // No script: the configured agent resolves, in the conflicted work tree.
                None => (
                    resolve_with_agent(ctx, &dir, &rel, &left, env)?,
                    "the agent",
                ),
            };
            if code != 0 {
                let mut result = blocked(
                    format!(
                        "{resolver} exited with code {code}; conflicts remain in `{rel}`: {}",
                        quoted(&left)
                    ),
                    &left,
                    &rel,
                );
                result.exit_code = Some(code);
                return Ok(result);
            }
            for path in &left {
                let fixed = match std::fs::read(dir.join(path)) {
                    Ok(bytes) => !has_markers(&bytes),
                    Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                };
                if fixed {
                    git_cmd::ok(&dir, ["add", "--", path])
                        .map_err(|e| format!("cannot stage the resolved `{path}`: {e}"))?;
                }
            }
            left = git_cmd::unmerged_paths(&dir)?;
            if !left.is_empty() {
                return Ok(blocked(
                    format!(
                        "conflicts remain in `{rel}` after {resolver}: {}",
                        quoted(&left)
                    ),
                    &left,
                    &rel,
                ));
            }
        }
        if s.mode.is_some() {
            commits.push(complete(ctx, s)?);
        } else {
            // Written by `merge.sentinel.write`: no merge of ours to complete.
            merge_sentinel::clear(&root, &s.slug, run_id)?;
        }
    }
    let mut result = OpResult::succeeded();
    result.metadata.insert("merge_conflicts".into(), json!([]));
    if !commits.is_empty() {
        result
            .metadata
            .insert("merge_commit".into(), json!(commits.last()));
    }
    result.metadata.insert(
        "merge_resolved".into(),
        json!(sentinels.iter().map(|s| &s.slug).collect::<Vec<_>>()),
    );
    Ok(result)
}

/// Asks the run's agent to resolve the conflicts; returns its exit code (124 on timeout).
fn resolve_with_agent(
    ctx: &OpContext<'_>,
    dir: &std::path::Path,
    rel: &str,
    files: &[String],
    env: Vec<(String, String)>,
) -> Result<i32, String> {
    let (table, agent) = super::agent_invoke::configured_agent(ctx).map_err(|why| {
        format!(
            "conflicts remain in `{rel}` ({}) and `auto_resolve` is on, but the gate has no resolver `script` gate, so the agent would resolve them: {why}",
            quoted(files)
        )
    })?;
    let prompt = format!(
        "A merge left conflicts in the git work tree `{rel}` (you are in it). Resolve the conflicts \
         in these files so that no conflict markers remain, keeping the intent of both sides; do not \
         commit and do not run git merge commands:\n\n{}\n",
        files
            .iter()
            .map(|f| format!("- {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let argv = agent.argv();
    let ran = super::agent_invoke::run_agent(
        &crate::agent::Invocation {
            command: &argv,
            dir,
            env: env
                .into_iter()
                .chain(agent.env.iter().map(|(k, v)| (k.clone(), v.clone())))
                .collect(),
            prompt: &prompt,
            timeout: agent.timeout_secs.map_or(
                crate::agent::DEFAULT_TIMEOUT,
                std::time::Duration::from_secs,
            ),
            group_file: Some(
                ctx.store
                    .job_dir(&ctx.node.job_id)
                    .join(crate::agent::GROUP_FILE),
            ),
        },
        agent.format(),
        None,
    )
    .map_err(|e| format!("{} (the agent of {table})", super::error_chain(&e)))?;
    Ok(ran.ending.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_only_at_line_starts() {
        assert!(has_markers(b"a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> x\n"));
        assert!(!has_markers(b"resolved\n"));
        assert!(!has_markers(b"text <<<<<<< inside\n"));
    }
}
