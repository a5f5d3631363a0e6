//! From a push event to the [`Trigger`] of its runs: the commit, the ref, the changed paths (written
//! to `changed-files.txt` in the artifacts folder for `VIZIER_CHANGED_FILES`) and the event values that
//! reach scripts as environment variables. Shared by `vizier ci` and the fan-out commands, so every
//! runner of one push computes the same trigger.

use std::path::{Path, PathBuf};

use super::event::{EventSource, FetchPolicy, PushEvent, changed_paths, write_changed_files};
use super::github::{self, Annotation};
use crate::compile::Trigger;
use crate::config::Config;
use crate::error::{Error, Result};

/// The push this CI job runs for, when there is one.
pub struct Push {
    pub source: EventSource,
    /// `None` outside CI without an event: the checkout's `HEAD` is the trigger.
    pub event: Option<PushEvent>,
}

impl Push {
    /// Reads the event named by `--event-path` or the runner's variables.
    pub fn load(event_path: Option<PathBuf>) -> Result<Push> {
        let source = EventSource::from_env(event_path);
        let have_event =
            source.event_path.is_some() || source.sha.is_some() || source.git_ref.is_some();
        let event = if have_event {
            Some(PushEvent::load(&source)?)
        } else {
            None
        };
        Ok(Push { source, event })
    }

    /// The deleted ref, when the push deleted one (nothing to run).
    pub fn deleted_ref(&self) -> Option<&str> {
        self.event
            .as_ref()
            .filter(|e| e.is_noop())
            .map(|e| e.git_ref.as_str())
    }
}

/// A trigger and what was learnt on the way to it.
pub struct Framed {
    pub trigger: Trigger,
    /// Lines for the step summary.
    pub notes: Vec<String>,
    /// Problems that did not stop the run (the changed paths could not be computed).
    pub warnings: Vec<Annotation>,
}

/// The trigger of the push's runs; writes `changed-files.txt` into `artifacts`.
pub fn trigger(root: &Path, push: &Push, artifacts: &Path) -> Result<Framed> {
    let mut trigger = match &push.event {
        Some(event) => Trigger {
            kind: event.event_name.clone(),
            sha: event.sha.clone(),
            ref_name: event.git_ref.clone(),
            before: event.before.clone(),
            ..Trigger::default()
        },
        None => crate::launch::local_trigger(root),
    };
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    if let Some(event) = &push.event {
        let changed_file = artifacts.join("changed-files.txt");
        match changed_paths(root, event, &FetchPolicy::default()) {
            Ok(changed) => {
                write_changed_files(&changed_file, &changed.paths)?;
                if let Some(note) = changed.note {
                    notes.push(note);
                }
                trigger.changed_paths = changed.paths;
                for (k, v) in event.env(Some(&changed_file)) {
                    trigger
                        .env
                        .insert(k.to_owned(), v.to_string_lossy().into_owned());
                }
            }
            Err(e) => {
                warnings.push(Annotation::new(
                    github::Level::Warning,
                    github::rank::NODE_BLOCKED,
                    Some("vizier: changed paths"),
                    None,
                    &format!("could not compute the changed paths: {e}"),
                ));
                for (k, v) in event.env(None) {
                    trigger
                        .env
                        .insert(k.to_owned(), v.to_string_lossy().into_owned());
                }
            }
        }
    }
    Ok(Framed {
        trigger,
        notes,
        warnings,
    })
}

/// The templates a push runs: the ones named on the command line, else `[ci] templates`, else `ci`.
pub fn templates(given: &[String], config: Option<&Config>) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    config
        .map(|c| c.ci.templates.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| vec!["ci".to_owned()])
}

/// [`artifacts_dir`], made: the folder exists when this returns.
pub fn make_artifacts_dir(
    root: &Path,
    given: Option<&Path>,
    config: Option<&Config>,
) -> Result<PathBuf> {
    let artifacts = artifacts_dir(root, given, config)?;
    std::fs::create_dir_all(&artifacts).map_err(|source| crate::error::Error::Write {
        path: artifacts.clone(),
        source,
    })?;
    Ok(artifacts)
}

/// [`Push::load`], keeping a copy of the event file (when there is one) as `event.json` in the
/// artifacts folder.
pub fn load_keeping_event(event_path: Option<PathBuf>, artifacts: &Path) -> Result<Push> {
    let push = Push::load(event_path)?;
    if let Some(path) = &push.source.event_path
        && push.event.is_some()
    {
        let _ = std::fs::copy(path, artifacts.join("event.json"));
    }
    Ok(push)
}

/// The artifacts folder: `--artifacts-dir` (relative to the current folder; the operator may name any
/// folder), else `[ci]
/// artifacts_dir`, else `.vizier/artifacts` (both inside the repository).
pub fn artifacts_dir(
    root: &Path,
    given: Option<&Path>,
    config: Option<&Config>,
) -> Result<PathBuf> {
    if let Some(given) = given {
        return Ok(if given.is_absolute() {
            given.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(given))
                .unwrap_or_else(|_| given.to_path_buf())
        });
    }
    // `[ci] artifacts_dir` comes from the tracked config (anyone who can push writes it), so it
    // must stay inside the repository: no absolute path, no `..`, no symlink out.
    let rel = config
        .and_then(|c| c.ci.artifacts_dir.clone())
        .unwrap_or_else(|| ".vizier/artifacts".to_owned());
    crate::workspace::resolve_inside(root, &rel).map_err(|_| {
        Error::Usage(format!(
            "`[ci] artifacts_dir = \"{rel}\"` in .vizier/config.toml leaves the repository; \
             name a folder inside it, or pass `--artifacts-dir` to write elsewhere"
        ))
    })
}
