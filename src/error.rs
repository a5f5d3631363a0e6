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

    pub fn git(err: impl std::fmt::Display) -> Error {
        Error::Git {
            message: err.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
