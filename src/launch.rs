//! Starting a run: resolve an alias to a template file, validate it (and the config), compile it with
//! params and a trigger, and materialize it in the job store. Shared by `vizier run` and `vizier ci`.

use std::path::Path;

use crate::compile::{CompileError, Plan, Trigger, compile, resolve_params};
use crate::config::{CONFIG_PATH, Config};
use crate::error::{Error, Result};
use crate::store::{self, Manifest, Store};
use crate::template::Op;
use crate::validate::{Report, validate};
use crate::workspace::{VIZIER_DIR, WORKFLOW_DIR, WorkTree, Workspace};

/// Where a template comes from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Repository-relative path.
    pub path: String,
    /// The alias it was named by, if it was.
    pub alias: Option<String>,
}

/// Looks a name up: a path (anything with `/` or ending in `.toml`), else `[commands]`, else
/// `.vizier/workflow/<alias>.toml`, else `.vizier/<alias>.toml` (where compositions live). An unknown alias is a usage error listing the known ones.
pub fn resolve(
    ws: &Workspace,
    cwd: &Path,
    name: &str,
    config: Option<&Config>,
) -> Result<Resolved> {
    if name.contains('/') || name.ends_with(".toml") {
        let rel = ws.relative(cwd, Path::new(name))?;
        // A missing file is an I/O failure (exit 3), as it is for `vizier validate`.
        if !ws.root.join(&rel).is_file() {
            return Err(Error::Read {
                path: rel,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such template file"),
            });
        }
        return Ok(Resolved {
            path: rel,
            alias: None,
        });
    }
    if let Some(path) = config.and_then(|c| c.commands.get(name)) {
        return Ok(Resolved {
            path: path.trim_start_matches("./").to_owned(),
            alias: Some(name.to_owned()),
        });
    }
    // `.vizier/workflow/<alias>.toml`, then a composition beside the config: `.vizier/<alias>.toml`.
    let candidates = [
        format!("{WORKFLOW_DIR}/{name}.toml"),
        format!("{VIZIER_DIR}/{name}.toml"),
    ];
    for path in candidates {
        if path != CONFIG_PATH && ws.root.join(&path).is_file() {
            return Ok(Resolved {
                path,
                alias: Some(name.to_owned()),
            });
        }
    }
    let mut known: Vec<String> = config
        .map(|c| c.commands.keys().cloned().collect())
        .unwrap_or_default();
    for dir in [WORKFLOW_DIR, VIZIER_DIR] {
        if let Ok(entries) = std::fs::read_dir(ws.root.join(dir)) {
            for e in entries.filter_map(|e| e.ok()) {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = n.strip_suffix(".toml").filter(|s| *s != "config") {
                    known.push(stem.to_owned());
                }
            }
        }
    }
    known.sort();
    known.dedup();
    Err(Error::Usage(format!(
        "unknown template alias `{name}`; known: {}",
        if known.is_empty() {
            "(none)".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// Reads `.vizier/config.toml` strictly; a broken config is reported like a template.
pub fn load_config(root: &Path) -> Result<(Option<Config>, Option<Report>)> {
    if !root.join(CONFIG_PATH).is_file() {
        return Ok((None, None));
    }
    let reader = WorkTree {
        root: root.to_path_buf(),
    };
    let report = validate(&reader, &[CONFIG_PATH.to_owned()])?;
    if report.errors() > 0 {
        return Ok((None, Some(report)));
    }
    Ok((report.config.clone(), None))
}

/// The result of preparing a run.
pub enum Prepared {
    /// The template or config has errors: nothing may be written.
    Invalid(Box<Report>),
    Ready(Box<Plan>),
}

/// Validates and compiles. Param problems are usage errors (exit 2). The user-level config is read
/// unless `CI=true` (see [`prepare_with`]).
pub fn prepare(
    root: &Path,
    resolved: &Resolved,
    sets: &[String],
    trigger: Trigger,
) -> Result<Prepared> {
    prepare_with(root, resolved, sets, trigger, false)
}

/// The user-level config, when it is read and exists: parsed with the same rules as the
/// repository's; a broken one is reported like a template (positions in that file).
pub fn load_user_config(
    asked: bool,
) -> Result<std::result::Result<Option<(Config, String)>, Report>> {
    if !crate::config::user_config_wanted(asked) {
        return Ok(Ok(None));
    }
    let Some(path) = crate::config::user_config_path() else {
        return Ok(Ok(None));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
        Err(source) => {
            return Err(Error::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let shown = path.display().to_string();
    let mut sources = crate::diagnostic::SourceMap::default();
    let file = sources.add(crate::diagnostic::SourceFile::new(shown.as_str(), text));
    let (config, findings) =
        crate::validate::config::parse_user_config(file, &sources.get(file).text);
    let ok = !findings
        .iter()
        .any(|f| f.severity == crate::diagnostic::Severity::Error);
    if ok && let Some(config) = config {
        return Ok(Ok(Some((config, shown))));
    }
    let mut sink = crate::diagnostic::Sink::new(&sources);
    for finding in findings {
        sink.push(finding);
    }
    let diagnostics = sink.finish();
    Ok(Err(Report {
        files: vec![crate::diagnostic::FileSummary {
            path: shown,
            template_id: None,
            ok: false,
        }],
        diagnostics,
        sources,
        ..Report::default()
    }))
}

/// As [`prepare`]; `user_config` is `--user-config`: read the user-level config even under CI.
pub fn prepare_with(
    root: &Path,
    resolved: &Resolved,
    sets: &[String],
    trigger: Trigger,
    user_config: bool,
) -> Result<Prepared> {
    let inputs = RunInputs {
        sets: sets.to_vec(),
        ..RunInputs::default()
    };
    prepare_run(root, resolved, &inputs, trigger, user_config)
}

/// What `vizier run` was given besides the template: `--set` overrides, the words after the
/// alias (bound through `[cli]`), and the runs this one waits for (`--after`).
#[derive(Clone, Debug, Default)]
pub struct RunInputs {
    pub sets: Vec<String>,
    pub words: Vec<String>,
    pub after: Vec<String>,
}

/// Validates the template (and the config) without compiling it: the parsed template, or the
/// report when it has errors. For `vizier run <alias> --help` and `vizier list`.
pub fn inspect(
    root: &Path,
    resolved: &Resolved,
) -> Result<std::result::Result<Box<crate::template::Template>, Box<Report>>> {
    let reader = WorkTree {
        root: root.to_path_buf(),
    };
    let report = validate(&reader, std::slice::from_ref(&resolved.path))?;
    if report.errors() > 0 {
        return Ok(Err(Box::new(report)));
    }
    match report.templates.get(&resolved.path) {
        Some(t) => Ok(Ok(Box::new(t.clone()))),
        None => Err(Error::Usage(format!(
            "`{}` is not a template",
            resolved.path
        ))),
    }
}

/// Every alias `vizier run` accepts, sorted, with the file it names: `[commands]`, then
/// `.vizier/workflow/<alias>.toml` and `.vizier/<alias>.toml` (the first one found wins).
pub fn aliases(ws: &Workspace, config: Option<&Config>) -> Vec<Resolved> {
    let mut out: Vec<Resolved> = Vec::new();
    if let Some(c) = config {
        for (name, path) in &c.commands {
            out.push(Resolved {
                path: path.trim_start_matches("./").to_owned(),
                alias: Some(name.clone()),
            });
        }
    }
    for dir in [WORKFLOW_DIR, VIZIER_DIR] {
        let mut found: Vec<String> = std::fs::read_dir(ws.root.join(dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        for n in found {
            let path = format!("{dir}/{n}");
            if let Some(stem) = n.strip_suffix(".toml")
                && path != CONFIG_PATH
                && !out.iter().any(|r| r.alias.as_deref() == Some(stem))
            {
                out.push(Resolved {
                    path,
                    alias: Some(stem.to_owned()),
                });
            }
        }
    }
    out.sort_by(|a, b| a.alias.cmp(&b.alias));
    out
}

/// The template's `description`, read without validating (for listings); `None` when absent or
/// the file does not parse.
pub fn description(root: &Path, path: &str) -> Option<String> {
    let text = std::fs::read_to_string(root.join(path)).ok()?;
    crate::template::parse_template(0, &text)
        .template?
        .description
        .map(|d| d.value)
}

/// As [`prepare_with`], with the template's command-line inputs and `--after` runs.
pub fn prepare_run(
    root: &Path,
    resolved: &Resolved,
    inputs: &RunInputs,
    trigger: Trigger,
    user_config: bool,
) -> Result<Prepared> {
    let reader = WorkTree {
        root: root.to_path_buf(),
    };
    let mut paths = vec![resolved.path.clone()];
    if root.join(CONFIG_PATH).is_file() {
        paths.push(CONFIG_PATH.to_owned());
    }
    let report = validate(&reader, &paths)?;
    if report.errors() > 0 {
        return Ok(Prepared::Invalid(Box::new(report)));
    }
    let user = match load_user_config(user_config)? {
        Ok(user) => user,
        Err(report) => return Ok(Prepared::Invalid(Box::new(report))),
    };
    let template = report
        .templates
        .get(&resolved.path)
        .ok_or_else(|| Error::Usage(format!("`{}` is not a template", resolved.path)))?;
    let alias = resolved.alias.as_deref().unwrap_or(resolved.path.as_str());
    let mut sets =
        crate::template::inputs::bind(template, alias, &inputs.words).map_err(Error::Usage)?;
    sets.extend(inputs.sets.iter().cloned());
    let params = resolve_params(template, &sets).map_err(compile_error)?;
    if let Some(message) = crate::template::inputs::missing_required(template, alias, &params) {
        return Err(Error::Usage(message));
    }
    let plan = compile(
        template,
        &resolved.path,
        params,
        trigger,
        resolved.alias.clone(),
    )
    .map_err(compile_error)?;
    let mut plan = plan;
    plan.after_runs = inputs.after.clone();
    let user = user.as_ref().map(|(c, p)| (c, p.as_str()));
    require_agent(&plan, report.config.as_ref(), user)?;
    plan.user_config = user.map(|(_, p)| p.to_owned());
    Ok(Prepared::Ready(Box::new(plan)))
}

/// A run with an `agent.invoke` node needs an agent in the config: without one it is
/// refused here, before anything is written, naming the table to add.
fn require_agent(
    plan: &Plan,
    config: Option<&Config>,
    user: Option<(&Config, &str)>,
) -> Result<()> {
    let Some(node) = plan
        .nodes
        .iter()
        .find(|n| n.identity().is_some_and(|row| row.op == Op::AgentInvoke))
    else {
        return Ok(());
    };
    let alias = plan.alias.as_deref();
    if crate::config::choose_agent(config, user, alias).is_some() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "`{}` has an agent node (`{}`) but no agent is configured: add {}`[agent]` with \
         `command = [\"your-agent\", ...]` (or `preset = \"claude\"`) to `{CONFIG_PATH}` or to \
         your user-level config (the prompt arrives on stdin); nothing was run or written",
        plan.template.path,
        node.node_id,
        alias.map_or(String::new(), |a| format!("`[agents.{a}]` or ")),
    )))
}

fn compile_error(e: CompileError) -> Error {
    Error::Usage(e.to_string())
}

/// The trigger of a run started on this machine: `HEAD`'s commit and ref.
pub fn local_trigger(root: &Path) -> Trigger {
    let (sha, ref_name) = crate::git::head(root).unwrap_or_else(|| ("0".repeat(40), String::new()));
    // What a push event would say about the commit, where this machine knows it too; the other
    // trigger variables are derived or set empty by the plan (`compile::TRIGGER_VARIABLES`).
    let mut env = std::collections::BTreeMap::new();
    if let Some(message) = commit_message(root, &sha) {
        env.insert("VIZIER_COMMIT_MESSAGE".to_owned(), message);
    }
    Trigger {
        kind: "local".into(),
        sha,
        ref_name,
        env,
        ..Trigger::default()
    }
}

fn commit_message(root: &Path, sha: &str) -> Option<String> {
    let repo = git2::Repository::discover(root).ok()?;
    let commit = repo.find_commit(git2::Oid::from_str(sha).ok()?).ok()?;
    Some(commit.message().ok()?.trim_end_matches('\n').to_owned())
}

/// Materializes a run nobody drives in the foreground and gives it its first tick, which starts
/// its entry jobs; from then on the jobs drive it (`vizier run --detach`).
pub fn start_detached(store: &Store, plan: &mut Plan) -> Result<Manifest> {
    let manifest = materialize(store, plan, false)?;
    crate::runner::tick(
        store,
        crate::runner::Scope::Undriven,
        &mut crate::runner::Cache::default(),
    )?;
    Ok(manifest)
}

/// Picks the run id and writes every record of the run. `driven` marks this process as its driver.
pub fn materialize(store: &Store, plan: &mut Plan, driven: bool) -> Result<Manifest> {
    if driven {
        // From here on an interrupt stops the run instead of killing the driver mid-way.
        crate::runner::interrupt::install();
    }
    let _lock = store.lock()?;
    let sequence = store.assign_free_run_id(plan);
    store.note_sequence(plan, sequence)?;
    let mut manifest = store.initial_manifest(plan, &store::now());
    crate::schedule::initial_waits(plan, &mut manifest);
    if driven {
        manifest.driver = Some(crate::process::hold_driver(store, &plan.run_id)?);
    }
    store.materialize(plan, &manifest)?;
    // The dependency is recorded on both sides: the runs waited for list this one.
    let mut batch = store::Batch::default();
    for after in &plan.after_runs {
        if let Some(mut m) = store.load_manifest(after)?
            && !m.followed_by.contains(&plan.run_id)
        {
            m.followed_by.push(plan.run_id.clone());
            batch.add(&store.manifest_path(after), store::to_json_compact(&m));
        }
    }
    batch.commit()?;
    Ok(manifest)
}
