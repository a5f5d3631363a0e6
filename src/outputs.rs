//! Node outputs: small named values a node publishes for the nodes after it.
//!
//! An executor writes `name=value` lines (or `name<<DELIM` … `DELIM` blocks for values of several
//! lines) to the file named by `$VIZIER_OUTPUT`, the way a GitHub Actions step writes
//! `$GITHUB_OUTPUT`; an agent node publishes its final answer as `text`. vizier keeps them in the
//! job's folder (`.vizier/jobs/<job_id>/outputs.json`, so they are run-scoped and travel with the job
//! records) and in the job's metadata (`outputs`), each at most [`VALUE_LIMIT`] bytes.
//!
//! Later nodes read them as data, never as shell source: scripts get the environment variables
//! `VIZIER_OUTPUT_<NODE>_<NAME>`, and builtin args and prompt files may say
//! `${nodes.<id>.outputs.<name>}`, resolved when the consuming node starts (a missing output fails
//! it, naming the node and the output).
//!
//! So that a node's start costs the same in a run of 5 nodes or 5,000, the job process does not
//! look into every upstream job's folder for an `outputs.json`: each run keeps an index, a folder
//! `.vizier/jobs/artifacts/outputs/<run_id>/` holding an empty file named after every job that
//! published outputs ([`published`]). The folder is made when the run is materialized; a run without
//! it (materialized by an older vizier) is read the old way, job folder by job folder. The index may
//! name more jobs than hold outputs (a marker is made before its `outputs.json` and removed after
//! it), never fewer: `outputs.json` stays the truth, and a marker only says where to look. Node
//! outputs imported from another runner (`vizier ci node`) get their markers at the import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::{Plan, PlanNode};
use crate::store::{Store, to_json, write_atomic};
use crate::template::output_refs::env_name;
use crate::template::output_refs::parse_ref;
use crate::template::params::{Piece, pieces};

/// The environment variable naming the file a node writes its outputs to.
pub const OUTPUT_ENV: &str = "VIZIER_OUTPUT";
/// The largest value an output may have.
pub const VALUE_LIMIT: usize = 1 << 20;
/// The most a node's `$VIZIER_OUTPUT` file may hold.
pub const FILE_LIMIT: u64 = 8 << 20;
/// The output an agent node publishes its final answer as.
pub const AGENT_TEXT: &str = "text";

pub type Outputs = BTreeMap<String, String>;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// Parses what a node wrote to `$VIZIER_OUTPUT`. A later value of a name replaces an earlier one.
pub fn parse(text: &str) -> Result<Outputs, String> {
    let mut out = Outputs::new();
    let mut lines = text.split('\n').enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let equals = line.find('=');
        let (name, value) = match (heredoc, equals) {
            (Some(h), e) if e.is_none_or(|e| h < e) => {
                let name = &line[..h];
                let delim = &line[h + 2..];
                if delim.is_empty() {
                    return Err(format!("line {}: `{name}<<` has no delimiter", i + 1));
                }
                let mut value = Vec::new();
                let mut closed = false;
                for (_, raw) in lines.by_ref() {
                    let l = raw.strip_suffix('\r').unwrap_or(raw);
                    if l == delim {
                        closed = true;
                        break;
                    }
                    value.push(l);
                }
                if !closed {
                    return Err(format!(
                        "line {}: the value of `{name}` never ends: no line `{delim}` follows",
                        i + 1
                    ));
                }
                (name, value.join("\n"))
            }
            (_, Some(e)) => (&line[..e], line[e + 1..].to_owned()),
            _ => {
                return Err(format!(
                    "line {}: expected `name=value` or `name<<DELIMITER`, got `{}`",
                    i + 1,
                    crate::agent::format::clip(line)
                ));
            }
        };
        if value.contains('\0') {
            return Err(format!(
                "line {}: the value of `{name}` holds a NUL byte",
                i + 1
            ));
        }
        if !valid_name(name) {
            return Err(format!(
                "line {}: `{name}` is not an output name (letters, digits, `_`, `-`)",
                i + 1
            ));
        }
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}

/// Checks every value against [`VALUE_LIMIT`].
pub fn check_sizes(outputs: &Outputs) -> Result<(), String> {
    for (name, value) in outputs {
        if value.len() > VALUE_LIMIT {
            return Err(format!(
                "output `{name}` is {} bytes, more than the limit of {VALUE_LIMIT} bytes (1 MiB); \
                 write large results to a file and publish its path instead",
                value.len()
            ));
        }
    }
    Ok(())
}

/// What `.vizier/jobs/<job_id>/outputs.json` holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputsFile {
    pub job_id: String,
    pub attempt: u32,
    pub outputs: Outputs,
}

pub fn outputs_path(store: &Store, job_id: &str) -> PathBuf {
    store.job_dir(job_id).join("outputs.json")
}

/// The file a job's process gives its node as `$VIZIER_OUTPUT` for one attempt.
pub fn output_file(store: &Store, job_id: &str, attempt: u32) -> PathBuf {
    store.job_dir(job_id).join(format!("output-{attempt}.txt"))
}

/// The marker of a job that published outputs, in its run's index.
fn marker_path(store: &Store, run_id: &str, job_id: &str) -> PathBuf {
    store.outputs_index_dir(run_id).join(job_id)
}

/// The jobs of `run_id` that may hold outputs, by the run's index; `None` when the run has no
/// index (then every upstream job folder is looked into). Marker names are untrusted: they are only
/// compared with the plan's job ids, never made into paths.
pub fn published(store: &Store, run_id: &str) -> Option<std::collections::HashSet<String>> {
    let dir = store.outputs_index_dir(run_id);
    // Only a real folder is an index: anything else (a symlink, a file) means "look everywhere".
    if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut names = std::collections::HashSet::new();
    for entry in entries {
        // A listing that fails half-way says nothing certain: look everywhere.
        let entry = entry.ok()?;
        names.insert(entry.file_name().to_string_lossy().into_owned());
    }
    Some(names)
}

/// Marks `job_id` in its run's index as a job that holds outputs, when the run has an index.
/// Called before its `outputs.json` is written, so the index never misses it.
fn mark(store: &Store, job_id: &str) -> crate::error::Result<()> {
    let Some(run_id) = crate::store::ids::run_of(job_id) else {
        return Ok(());
    };
    let dir = store.outputs_index_dir(run_id);
    if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return Ok(()); // no index for this run: readers look into every folder
    }
    let path = marker_path(store, run_id, job_id);
    crate::store::guard::create_nofollow(&path, false)
        .map(drop)
        .map_err(|source| crate::error::Error::Write { path, source })
}

/// Removes the marker of `job_id` (after its `outputs.json` is gone).
fn unmark(store: &Store, job_id: &str) {
    if let Some(run_id) = crate::store::ids::run_of(job_id) {
        let _ = std::fs::remove_file(marker_path(store, run_id, job_id));
    }
}

/// Puts a job whose folder was copied in from elsewhere (a fan-out import) into its run's index
/// when the copy brought an `outputs.json`.
pub fn note_copied(store: &Store, job_id: &str) -> crate::error::Result<()> {
    if std::fs::symlink_metadata(outputs_path(store, job_id)).is_ok_and(|m| m.is_file()) {
        mark(store, job_id)?;
    }
    Ok(())
}

pub fn read(store: &Store, job_id: &str) -> Option<OutputsFile> {
    let bytes = std::fs::read(outputs_path(store, job_id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn write(store: &Store, file: &OutputsFile) -> Result<(), String> {
    mark(store, &file.job_id).map_err(|e| {
        format!(
            "cannot record the outputs: {e}: {}",
            std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
        )
    })?;
    crate::store::failpoint("outputs-after-mark");
    write_atomic(&outputs_path(store, &file.job_id), &to_json(file))
        .map_err(|e| format!("cannot record the outputs: {e}"))
}

/// Every node upstream of `index` (through any dependency), nearest first.
fn upstream(plan: &Plan, index: usize) -> Vec<usize> {
    let mut seen = vec![false; plan.nodes.len()];
    let mut order = Vec::new();
    let mut queue: std::collections::VecDeque<usize> =
        plan.nodes[index].deps.iter().map(|d| d.node).collect();
    while let Some(i) = queue.pop_front() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        queue.extend(plan.nodes[i].deps.iter().map(|d| d.node));
    }
    order
}

/// What a node starts with: its args with output references resolved, and the environment
/// variables of its upstream nodes' outputs.
pub struct Inputs {
    pub node: PlanNode,
    pub env: Vec<(String, String)>,
    /// Outputs of upstream nodes by node id.
    pub upstream: BTreeMap<String, Outputs>,
    /// The params of the run, for prompt files: read from the plan the first time they are asked
    /// for (most nodes never ask, and the plan grows with the run).
    params: std::cell::OnceCell<Result<BTreeMap<String, String>, String>>,
    store: Store,
    run_id: String,
}

impl Inputs {
    /// The params of the run.
    pub fn params(&self) -> Result<&BTreeMap<String, String>, String> {
        self.params
            .get_or_init(|| {
                self.store
                    .load_plan(&self.run_id)
                    .map(|plan| plan.params)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Substitutes `${param}` and `${nodes.<id>.outputs.<name>}` in `text` (a prompt file).
    pub fn substitute(&self, text: &str) -> Result<String, String> {
        substitute(text, self.params()?, &self.upstream)
    }
}

/// Replaces params and output references; `$${` is a literal `${`.
pub fn substitute(
    text: &str,
    params: &BTreeMap<String, String>,
    upstream: &BTreeMap<String, Outputs>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Literal(s) | Piece::Unclosed(s) => out.push_str(s),
            Piece::Ref(inner) => {
                if let Some((node, name)) = parse_ref(inner) {
                    out.push_str(lookup(upstream, node, name)?);
                } else if let Some(value) = params.get(inner) {
                    out.push_str(value);
                } else {
                    return Err(format!("`${{{inner}}}` names a param that is not declared"));
                }
            }
        }
    }
    Ok(out)
}

fn lookup<'u>(
    upstream: &'u BTreeMap<String, Outputs>,
    node: &str,
    name: &str,
) -> Result<&'u str, String> {
    match upstream.get(node) {
        None => Err(format!(
            "node `{node}` left no outputs for `${{nodes.{node}.outputs.{name}}}` (it wrote none, did not run, or is not upstream of this node)"
        )),
        Some(outputs) => outputs.get(name).map(String::as_str).ok_or_else(|| {
            let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
            format!(
                "node `{node}` has no output `{name}` (it wrote: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        }),
    }
}

/// Prepares a node's start: reads the outputs of its upstream nodes, resolves the output references
/// in its deferred args, and gives the environment variables plus `$VIZIER_OUTPUT` (an empty file).
pub fn prepare(
    store: &Store,
    node: &PlanNode,
    run_id: &str,
    attempt: u32,
) -> Result<Inputs, String> {
    let published = published(store, run_id);
    // With an index that names no job, no upstream node left outputs: the plan is not needed.
    let plan = match &published {
        Some(names) if names.is_empty() => None,
        _ => Some(store.load_plan(run_id).map_err(|e| e.to_string())?),
    };
    let mut upstream_outputs = BTreeMap::new();
    let mut env = Vec::new();
    if let Some(plan) = &plan
        && let Some(index) = plan.nodes.iter().position(|n| n.job_id == node.job_id)
    {
        let mut order = upstream(plan, index);
        order.reverse(); // farthest first, so a nearer node's variable comes later and wins.
        // In a composition, a node of the same stage is also known by the id its own template
        // gave it (`agent` for `draft__agent`): prompt files and scripts are not renamed.
        let prefix = node
            .stage
            .as_ref()
            .map(|s| format!("{s}{}", crate::template::compose::STAGE_SEPARATOR));
        let mut local = Vec::new();
        for i in order {
            let up = &plan.nodes[i];
            if published.as_ref().is_some_and(|p| !p.contains(&up.job_id)) {
                continue; // not in the index: it published nothing
            }
            if let Some(file) = read(store, &up.job_id) {
                let short = prefix
                    .as_deref()
                    .and_then(|p| up.node_id.strip_prefix(p))
                    .filter(|_| up.stage == node.stage);
                for (name, value) in &file.outputs {
                    if let Some(short) = short {
                        local.push((env_name(short, name), value.clone()));
                    }
                    env.push((env_name(&up.node_id, name), value.clone()));
                }
                if let Some(short) = short {
                    upstream_outputs
                        .entry(short.to_owned())
                        .or_insert_with(|| file.outputs.clone());
                }
                upstream_outputs.insert(up.node_id.clone(), file.outputs);
            }
        }
        env.extend(local);
    }
    let mut resolved = node.clone();
    for arg in &node.output_args {
        if let Some(text) = node.args.get(arg) {
            let value = substitute_deferred(text, &upstream_outputs)
                .map_err(|e| format!("`args.{arg}`: {e}"))?;
            resolved.args.insert(arg.clone(), value);
        }
    }
    let path = output_file(store, &node.job_id, attempt);
    // A fresh file, never one reached through a link someone left in the job's folder.
    let _ = std::fs::remove_file(&path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create `{}`: {e}", store.relative(&path)))?;
    env.push((OUTPUT_ENV.to_owned(), path.display().to_string()));
    let params = std::cell::OnceCell::new();
    if let Some(plan) = plan {
        let _ = params.set(Ok(plan.params));
    }
    Ok(Inputs {
        node: resolved,
        env,
        upstream: upstream_outputs,
        params,
        store: store.clone(),
        run_id: run_id.to_owned(),
    })
}

/// A deferred arg: params were substituted at compile time, output references and `$${` are left.
fn substitute_deferred(text: &str, upstream: &BTreeMap<String, Outputs>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Literal(s) | Piece::Unclosed(s) => out.push_str(s),
            Piece::Ref(inner) => match parse_ref(inner) {
                Some((node, name)) => out.push_str(lookup(upstream, node, name)?),
                None => {
                    out.push_str("${");
                    out.push_str(inner);
                    out.push('}');
                }
            },
        }
    }
    Ok(out)
}

/// Collects what a node published: the `$VIZIER_OUTPUT` file, then the outputs its operation set
/// (an agent's `text`), which win. Records them; an error fails the node.
pub fn collect(
    store: &Store,
    job_id: &str,
    attempt: u32,
    from_op: &Outputs,
) -> Result<Outputs, String> {
    let path = output_file(store, job_id, attempt);
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.len() > FILE_LIMIT
    {
        return Err(format!(
            "`${OUTPUT_ENV}` holds {} bytes, more than the {FILE_LIMIT} bytes (8 MiB) vizier reads; \
             each output may be at most 1 MiB",
            meta.len()
        ));
    }
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            format!(
                "`${OUTPUT_ENV}` (`{}`) is not valid UTF-8",
                display(store, &path)
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read `${OUTPUT_ENV}`: {e}")),
    };
    let mut outputs = parse(&text).map_err(|e| format!("`${OUTPUT_ENV}` {e}"))?;
    outputs.extend(from_op.iter().map(|(k, v)| (k.clone(), v.clone())));
    check_sizes(&outputs)?;
    if outputs.is_empty() {
        // Nothing to publish: no file (and no fsync) for the many nodes that write no outputs.
        // One left by an earlier attempt is removed, so later nodes never read stale values.
        return match std::fs::remove_file(outputs_path(store, job_id)) {
            Ok(()) => {
                unmark(store, job_id);
                Ok(outputs)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                unmark(store, job_id);
                Ok(outputs)
            }
            Err(e) => Err(format!(
                "cannot remove the outputs of an earlier attempt: {e}"
            )),
        };
    }
    write(
        store,
        &OutputsFile {
            job_id: job_id.to_owned(),
            attempt,
            outputs: outputs.clone(),
        },
    )?;
    Ok(outputs)
}

fn display(store: &Store, path: &Path) -> String {
    store.relative(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::output_refs::{defer_params, refs_in, rename_refs};

    #[test]
    fn lines_and_blocks_parse_like_github_outputs() {
        let got =
            parse("version=1.2.3\nnotes<<EOF\nline one\nline=two\nEOF\n\nempty=\nversion=2\r\n")
                .unwrap();
        assert_eq!(got["version"], "2");
        assert_eq!(got["notes"], "line one\nline=two");
        assert_eq!(got["empty"], "");
        assert!(
            parse("notes<<EOF\nnever closed\n")
                .unwrap_err()
                .contains("never ends")
        );
        assert!(parse("just text\n").unwrap_err().contains("line 1"));
        assert!(
            parse("bad name=1\n")
                .unwrap_err()
                .contains("not an output name")
        );
    }

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(env_name("first", "version"), "VIZIER_OUTPUT_FIRST_VERSION");
        assert_eq!(
            env_name("draft__agent", "text-out"),
            "VIZIER_OUTPUT_DRAFT__AGENT_TEXT_OUT"
        );
    }

    #[test]
    fn references_split_at_the_last_outputs() {
        assert_eq!(parse_ref("nodes.a.b.outputs.x"), Some(("a.b", "x")));
        assert_eq!(parse_ref("nodes.a.outputs."), None);
        assert_eq!(parse_ref("slug"), None);
    }

    #[test]
    fn deferring_keeps_output_refs_and_escapes_everything_else() {
        let params: BTreeMap<String, String> = [("p".to_owned(), "v ${raw}".to_owned())].into();
        let deferred = defer_params("${p} $${lit} ${nodes.a.outputs.x}", &params).unwrap();
        assert_eq!(deferred, "v $${raw} $${lit} ${nodes.a.outputs.x}");
        let upstream: BTreeMap<String, Outputs> =
            [("a".to_owned(), [("x".to_owned(), "1".to_owned())].into())].into();
        assert_eq!(
            substitute_deferred(&deferred, &upstream).unwrap(),
            "v ${raw} ${lit} 1"
        );
        let err = substitute_deferred("${nodes.a.outputs.y}", &upstream).unwrap_err();
        assert!(err.contains("no output `y`") && err.contains("x"), "{err}");
        let err = substitute_deferred("${nodes.b.outputs.y}", &upstream).unwrap_err();
        assert!(err.contains("node `b`"), "{err}");
    }

    #[test]
    fn renaming_keeps_escapes_and_positions() {
        let text = "a $${nodes.x.outputs.y} ${nodes.x.outputs.y} ${p}";
        let refs = refs_in(text);
        assert_eq!(refs.len(), 1);
        assert_eq!(&text[refs[0].0.clone()], "${nodes.x.outputs.y}");
        assert_eq!(
            rename_refs(text, |n| format!("s__{n}")),
            "a $${nodes.x.outputs.y} ${nodes.s__x.outputs.y} ${p}"
        );
    }

    #[test]
    fn values_over_the_limit_are_refused() {
        let big: Outputs = [("x".to_owned(), "a".repeat(VALUE_LIMIT + 1))].into();
        assert!(check_sizes(&big).unwrap_err().contains("1 MiB"));
    }
}
