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
    #[error("`{path}` is not valid UTF-8")]
    NotUtf8 { path: String },
    #[error("`{path}` leaves the repository root")]
    OutsideRoot { path: String },
    #[error("git: {message}")]
    Git { message: String },
    /// Failures of the CI layer (push events, shallow clones, runner files); see `ci::CiError`.
    #[error(transparent)]
    Ci(#[from] crate::ci::CiError),
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
