//! Which folder git runs hooks from. git itself is asked (`git rev-parse --git-path hooks`), so every
//! way of setting `core.hooksPath` counts exactly as git counts it: relative (to the top of the work
//! tree) or absolute, in the repository, global, worktree or `-c` config. Linked worktrees share the
//! common git folder's `hooks/`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::git::command::Out;

/// Where hooks live for the repository around a folder.
#[derive(Clone, Debug)]
pub struct HooksFolder {
    /// The folder git runs hooks from, absolute.
    pub path: PathBuf,
    /// `<common git folder>/hooks`: the folder used when `core.hooksPath` is not set.
    pub default: PathBuf,
    /// `core.hooksPath`, when set.
    pub hooks_path: Option<HooksPathSetting>,
    /// The top of the current work tree.
    pub work_tree: PathBuf,
}

impl HooksFolder {
    /// Hooks in the default folder are not run while `core.hooksPath` points elsewhere.
    pub fn default_is_shadowed(&self) -> bool {
        self.path != self.default
    }

    /// A hooks folder inside the work tree may be tracked by git; scripts written there name a path on
    /// this machine.
    pub fn inside_work_tree(&self) -> bool {
        let git_dir = self.default.parent().unwrap_or(&self.default);
        self.path.starts_with(&self.work_tree) && !self.path.starts_with(git_dir)
    }
}

/// A `core.hooksPath` setting and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HooksPathSetting {
    pub value: String,
    /// `local`, `global`, `system`, `worktree` or `command`.
    pub scope: String,
    /// The config file (or `command line:`) that sets it.
    pub origin: String,
}

/// Finds the hooks folder for the repository around `cwd`. A folder outside any repository, or a
/// bare repository (where commits are never made, so these hooks never run), is a usage error.
pub fn locate(cwd: &Path) -> Result<HooksFolder> {
    let kind = rev_parse(cwd, &["--is-bare-repository", "--is-inside-work-tree"])?;
    match kind.as_slice() {
        [bare, _] if bare.as_bytes() == b"true" => {
            return Err(Error::Usage(format!(
                "`{}` is a bare repository: commits are not made there, so pre-commit and pre-push \
                 hooks never run; install the hooks in a clone that has a work tree",
                cwd.display()
            )));
        }
        [_, inside] if inside.as_bytes() != b"true" => {
            return Err(Error::Usage(format!(
                "`{}` is not inside a work tree; run this from the repository's files",
                cwd.display()
            )));
        }
        _ => {}
    }
    let paths = rev_parse(
        cwd,
        &[
            "--path-format=absolute",
            "--show-toplevel",
            "--git-common-dir",
            "--git-path",
            "hooks",
        ],
    )?;
    let [work_tree, common, hooks] = paths.as_slice() else {
        return Err(Error::git(format!(
            "unexpected output from `git rev-parse` in `{}`",
            cwd.display()
        )));
    };
    Ok(HooksFolder {
        path: PathBuf::from(hooks),
        default: Path::new(common).join("hooks"),
        hooks_path: hooks_path_setting(cwd)?,
        work_tree: PathBuf::from(work_tree),
    })
}

fn hooks_path_setting(cwd: &Path) -> Result<Option<HooksPathSetting>> {
    let out = git(
        cwd,
        &[
            "config",
            "--show-scope",
            "--show-origin",
            "--get",
            "core.hooksPath",
        ],
    )?;
    // `git config --get` exits 1 when the key is not set.
    if out.code == 1 {
        return Ok(None);
    }
    if !out.ok() {
        return Err(git_failure(cwd, "git config --get core.hooksPath", &out));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let line = line.trim_end_matches('\n');
    let mut fields = line.splitn(3, '\t');
    let (Some(scope), Some(origin), Some(value)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(Error::git(format!(
            "unexpected output from `git config --get core.hooksPath`: `{line}`"
        )));
    };
    Ok(Some(HooksPathSetting {
        value: value.to_owned(),
        scope: scope.to_owned(),
        origin: origin.strip_prefix("file:").unwrap_or(origin).to_owned(),
    }))
}

/// `git rev-parse ARGS` in `cwd`, one output line per element. Not being in a repository (or a
/// repository git cannot read) is a usage error: the user ran the command in the wrong place.
fn rev_parse(cwd: &Path, args: &[&str]) -> Result<Vec<std::ffi::OsString>> {
    let mut argv = vec!["rev-parse"];
    argv.extend_from_slice(args);
    let out = git(cwd, &argv)?;
    if !out.ok() {
        let stderr = &out.stderr;
        return Err(Error::Usage(format!(
            "`{}` is not inside a usable git repository (git says: {})",
            cwd.display(),
            stderr.trim()
        )));
    }
    Ok(out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| OsStr::from_bytes(l).to_owned())
        .collect())
}

/// A hook's read of the repository it runs in: the variables git set for the hook are kept.
fn git(cwd: &Path, args: &[&str]) -> Result<Out> {
    crate::git::command::run_here(cwd, args).map_err(Error::git)
}

fn git_failure(cwd: &Path, what: &str, out: &Out) -> Error {
    Error::git(format!(
        "`{what}` failed in `{}`: {}",
        cwd.display(),
        out.stderr.trim()
    ))
}
