//! The patch pipeline: `patch.pipeline_prepare` checks the patch files and writes the run's pipeline
//! manifest, `patch.execute_pipeline` applies them in order to the execution root, and
//! `patch.pipeline_finalize` commits them (all builtin).
//!
//! The manifest lives with the run's payloads
//! (`.vizier/jobs/artifacts/data/<run_id>/patch_pipeline/manifest/<prepare job>.json`), and records
//! each patch's SHA-256 so a patch edited after it was checked is refused. The patches, joined in
//! order into one input, are applied by one `git apply --index`, which applies all or nothing; when
//! it fails, the first patch that does not apply on top of the ones before it is found and named. Execution starts from an
//! index with nothing staged, so what finalize commits is exactly the applied patches.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::git_cmd;
use super::{OpContext, OpResult};
use crate::store::{Store, to_json, write_atomic};
use crate::workspace::resolve_inside;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct PipelineManifest {
    version: u32,
    run_id: String,
    job_id: String,
    created_at: String,
    patches: Vec<Patch>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Patch {
    /// Relative to the repository root, as `args.files` gave it.
    path: String,
    sha256: String,
}

fn manifest_path(store: &Store, run_id: &str, prepare_job: &str) -> std::path::PathBuf {
    store
        .artifact_data_dir(run_id, "patch_pipeline", "manifest")
        .join(format!("{prepare_job}.json"))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn run_prepare(ctx: &OpContext<'_>) -> OpResult {
    prepare(ctx).unwrap_or_else(OpResult::failed)
}

fn prepare(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let raw = ctx.required("files")?;
    let files: Vec<String> = serde_json::from_str(raw).map_err(|e| {
        format!("`args.files` must be a JSON list of patch paths, like `[\"a.patch\"]`: {e}")
    })?;
    if files.is_empty() {
        return Err("`args.files` lists no patches".into());
    }
    let root = ctx.repo_root();
    let mut patches = Vec::new();
    for file in &files {
        let path = resolve_inside(&root, file).map_err(|e| format!("patch `{file}`: {e}"))?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("patch file `{file}` does not exist"));
            }
            Err(e) => return Err(format!("cannot read patch file `{file}`: {e}")),
        };
        patches.push(Patch {
            path: file.clone(),
            sha256: sha256(&bytes),
        });
    }
    let manifest = PipelineManifest {
        version: 1,
        run_id: ctx.spec.run_id.clone(),
        job_id: ctx.job_id().to_owned(),
        created_at: crate::store::now(),
        patches,
    };
    let path = manifest_path(ctx.store, &ctx.spec.run_id, ctx.job_id());
    write_atomic(&path, &to_json(&manifest)).map_err(|e| e.to_string())?;
    let mut result = OpResult::succeeded();
    result.metadata.insert(
        "patch_pipeline_manifest".into(),
        json!(ctx.repo_relative(&path)),
    );
    result
        .metadata
        .insert("patch_pipeline_files".into(), json!(files));
    Ok(result)
}

/// The manifest written by the nearest `patch.pipeline_prepare` upstream of this node.
fn upstream_manifest(ctx: &OpContext<'_>) -> Result<PipelineManifest, String> {
    let prepare = ctx.nearest_upstream("patch.pipeline_prepare")?.ok_or_else(|| {
        format!(
            "no `patch.pipeline_prepare` node is upstream of `{}` in this run; it writes the pipeline manifest",
            ctx.node.node_id
        )
    })?;
    let path = manifest_path(ctx.store, &ctx.spec.run_id, &prepare);
    let bytes = std::fs::read(&path).map_err(|_| {
        format!(
            "the pipeline manifest of `{prepare}` is missing (did that node succeed in this run?)"
        )
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the pipeline manifest of `{prepare}` is corrupt: {e}"))
}

pub fn run_execute(ctx: &OpContext<'_>) -> OpResult {
    execute(ctx).unwrap_or_else(OpResult::failed)
}

fn execute(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let manifest = upstream_manifest(ctx)?;
    let dir = &ctx.execution_root;
    if git_cmd::has_staged_changes(dir)? {
        return Err(format!(
            "the index of `{}` already has staged changes; the pipeline applies with `--index` and finalize commits the index, so it must start with nothing staged",
            ctx.repo_relative(dir)
        ));
    }
    let root = ctx.repo_root();
    let mut patches = Vec::new();
    for patch in &manifest.patches {
        let path = resolve_inside(&root, &patch.path)
            .map_err(|e| format!("patch `{}`: {e}", patch.path))?;
        let mut bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read patch `{}`: {e}", patch.path))?;
        if sha256(&bytes) != patch.sha256 {
            return Err(format!(
                "patch `{}` changed after `patch.pipeline_prepare` checked it",
                patch.path
            ));
        }
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        patches.push(bytes);
    }
    // `git apply` writes each patch *file* it is given as soon as that one checks out, so several
    // files are not all-or-nothing; one input is — it is checked whole before anything is
    // written, and a later diff of a path applies on top of an earlier one.
    let job_dir = ctx.store.job_dir(ctx.job_id());
    let apply = |count: usize, check: bool| -> Result<git_cmd::Out, String> {
        let file = job_dir.join(if check {
            "pipeline-check.patch"
        } else {
            "pipeline.patch"
        });
        std::fs::write(&file, patches[..count].concat())
            .map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
        let mut args: Vec<std::ffi::OsString> = vec!["apply".into(), "--index".into()];
        if check {
            args.push("--check".into());
        }
        args.push(file.into_os_string());
        git_cmd::run(dir, &args)
    };
    let out = apply(patches.len(), false)?;
    if !out.ok() {
        // Nothing was applied; name the first patch that does not apply on top of those before it.
        for k in 1..=patches.len() {
            let tried = apply(k, true)?;
            if !tried.ok() {
                return Err(format!(
                    "patch `{}` does not apply: {}; nothing was applied",
                    manifest.patches[k - 1].path,
                    tried.reason()
                ));
            }
        }
        return Err(format!(
            "the patches do not apply together: {}; nothing was applied",
            out.reason()
        ));
    }
    let mut result = OpResult::succeeded();
    result.metadata.insert(
        "patches_applied".into(),
        json!(manifest.patches.iter().map(|p| &p.path).collect::<Vec<_>>()),
    );
    Ok(result)
}

pub fn run_finalize(ctx: &OpContext<'_>) -> OpResult {
    finalize(ctx).unwrap_or_else(OpResult::failed)
}

fn finalize(ctx: &OpContext<'_>) -> Result<OpResult, String> {
    let message = ctx.required("message")?;
    let manifest = upstream_manifest(ctx)?;
    let commit = git_cmd::commit_staged(&ctx.execution_root, message)?;
    let mut result = OpResult::succeeded();
    let md = &mut result.metadata;
    md.insert("committed".into(), json!(commit.is_some()));
    if let Some(sha) = commit {
        md.insert("commit_sha".into(), json!(sha));
    } else {
        result.message = Some("nothing to commit: the patches changed nothing".into());
    }
    result.metadata.insert(
        "patches_committed".into(),
        json!(manifest.patches.iter().map(|p| &p.path).collect::<Vec<_>>()),
    );
    Ok(result)
}
