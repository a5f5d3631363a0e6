//! Failures to operate. Template problems are findings (`diagnostic`), never these.

use std::path::PathBuf;

use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("no `.vizier/` folder in `{}`", root.display())]
    NoVizier { root: PathBuf },
    #[error("`{}` is not inside a git repository", path.display())]
    NotARepo { path: PathBuf },
    #[error("cannot read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {what}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is corrupt: {message}")]
    Corrupt { path: String, message: String },
    /// A record written by a newer vizier, in a format this one does not know: refused, not misread.
    #[error(
        "`{path}` was written by a newer vizier: its version is {version}, this vizier reads up to version {supported}"
    )]
    NewerRecord {
        path: String,
        version: u64,
        supported: u64,
    },
    #[error("`{path}` is not valid UTF-8")]
    NotUtf8 { path: String },
    #[error("`{path}` leaves the repository root")]
    OutsideRoot { path: String },
    #[error("git: {message}")]
    Git { message: String },
    /// Failures of the CI layer (push events, shallow clones, runner files); see [`CiError`].
    #[error(transparent)]
    Ci(#[from] CiError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::NoVizier { .. } => exit::USAGE,
            _ => exit::OPERATIONAL,
        }
    }

    /// A stable name for the kind of failure, for `--format json` error documents.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::NoVizier { .. } => "no_vizier",
            Error::NotARepo { .. } => "not_a_repo",
            Error::Read { .. } => "read",
            Error::Write { .. } => "write",
            Error::Spawn { .. } => "spawn",
            Error::Corrupt { .. } => "corrupt",
            Error::NewerRecord { .. } => "newer_record",
            Error::NotUtf8 { .. } => "not_utf8",
            Error::OutsideRoot { .. } => "outside_root",
            Error::Git { .. } => "git",
            Error::Ci(_) => "ci",
        }
    }

    /// The file or folder the failure is about, when there is one.
    pub fn path(&self) -> Option<String> {
        match self {
            Error::NoVizier { root } => Some(root.display().to_string()),
            Error::NotARepo { path } | Error::Write { path, .. } => {
                Some(path.display().to_string())
            }
            Error::Read { path, .. }
            | Error::Corrupt { path, .. }
            | Error::NewerRecord { path, .. }
            | Error::NotUtf8 { path }
            | Error::OutsideRoot { path } => Some(path.clone()),
            _ => None,
        }
    }

    pub fn git(err: impl std::fmt::Display) -> Error {
        Error::Git {
            message: err.to_string(),
        }
    }
}

/// Failures of the CI layer. They live here, not in `ci`, so that `error` stays a leaf every module
/// can use; `ci` re-exports them. They reach users through [`Error::Ci`] (exit code 3).
///
/// A CI input or runner file that vizier cannot work with. Each variant names the file, field or
/// commit at fault and, where there is one, the way out.
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("push event `{origin}`: {message}")]
    Event { origin: String, message: String },
    #[error("{what} is not in this clone{}\nhelp: {help}", if *.shallow { " (it is a shallow clone)" } else { "" })]
    MissingHistory {
        what: String,
        shallow: bool,
        help: String,
    },
    #[error("`{command}` failed: {stderr}")]
    GitCommand { command: String, stderr: String },
    #[error("GitHub output `{name}`: {message}")]
    Output { name: String, message: String },
    #[error("no randomness for a delimiter: {message}")]
    Random { message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
