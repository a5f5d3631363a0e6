//! Failures of the CI layer. They reach users through `crate::error::Error::Ci` (exit code 3).

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
    #[error("run manifest `{path}`: {message}")]
    Manifest { path: String, message: String },
    #[error("GitHub output `{name}`: {message}")]
    Output { name: String, message: String },
    #[error("no randomness for a delimiter: {message}")]
    Random { message: String },
}
