//! Writing to stdout and stderr. A closed pipe (`vizier jobs list | head`) ends output quietly
//! instead of panicking.
//!
//! Colour follows `--color` (`auto` by default). Under `auto`, `NO_COLOR` (non-empty) turns it off,
//! `CLICOLOR_FORCE` (non-zero) turns it on even into a pipe, `CLICOLOR=0` turns it off, and
//! otherwise stdout must be a terminal whose `TERM` is not `dumb` (the rules of `anstream`).
//! `-q` keeps errors and drops everything else from stdout; `--format json` turns an error into a
//! JSON document on stdout.

use std::io::{IsTerminal, Write};

use crate::error::Error;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal, following NO_COLOR, CLICOLOR, CLICOLOR_FORCE and TERM
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file
    Always,
    /// Never colour
    Never,
}

pub struct Output {
    stdout_closed: bool,
    color: bool,
    quiet: bool,
    json_errors: bool,
}

impl Output {
    pub fn stdout() -> Output {
        Output {
            stdout_closed: false,
            color: false,
            quiet: false,
            json_errors: false,
        }
    }

    /// Sets the colour from `--color` and the environment.
    pub fn set_color(&mut self, choice: ColorChoice) {
        self.color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        };
    }

    /// `-q`: errors only.
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Under `--format json`, errors are `{"version":1,"error":{…}}` on stdout.
    pub fn set_json_errors(&mut self, json: bool) {
        self.json_errors = json;
    }

    /// Whether stdout is a terminal (for live views).
    pub fn is_terminal(&self) -> bool {
        !self.quiet && std::io::stdout().is_terminal()
    }

    /// The width of the terminal on stdout, when it is one and says.
    pub fn terminal_width(&self) -> Option<usize> {
        terminal_width()
    }

    /// Whether to colour what goes to stdout.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Normal output: dropped under `-q`.
    pub fn write(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        self.write_always(text);
    }

    /// Output that `-q` keeps: findings and failures, the things a quiet run is about.
    pub fn write_always(&mut self, text: &str) {
        if self.stdout_closed {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            self.stdout_closed = true;
        }
    }

    pub fn error_text(&mut self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    /// A usage error from argument parsing (clap's text), as JSON under `--format json`.
    pub fn usage_error(&mut self, rendered: &str) {
        if self.json_errors {
            let message = rendered
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_owned();
            self.write_always(&json_error("usage", &message, None));
        }
        self.error_text(rendered);
    }

    /// `error: message`, then each cause as `caused by: …`; under `--format json` also the error
    /// document on stdout.
    pub fn error(&mut self, error: &Error) {
        let mut text = format!("error: {error}\n");
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!("caused by: {cause}\n"));
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        if let Error::NoVizier { .. } = error {
            text.push_str("help: run `vizier init` to create it\n");
        }
        if self.json_errors {
            self.write_always(&json_error(error.kind(), &message, error.path()));
        }
        self.error_text(&text);
    }
}

/// `{"version":1,"error":{"kind","message","path"}}` and a newline.
fn json_error(kind: &str, message: &str, path: Option<String>) -> String {
    let error = serde_json::json!({ "kind": kind, "message": message, "path": path });
    let mut text = versioned(&[("error", error)], false);
    text.push('\n');
    text
}

/// A JSON document whose first property is `"version": 1`, then `entries` in their order.
pub fn versioned(entries: &[(&str, serde_json::Value)], pretty: bool) -> String {
    struct Doc<'a>(&'a [(&'a str, serde_json::Value)]);
    impl serde::Serialize for Doc<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(Some(self.0.len() + 1))?;
            map.serialize_entry("version", &1)?;
            for (k, v) in self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }
    let doc = Doc(entries);
    if pretty {
        serde_json::to_string_pretty(&doc).expect("serializes")
    } else {
        serde_json::to_string(&doc).expect("serializes")
    }
}

#[cfg(unix)]
fn terminal_width() -> Option<usize> {
    use std::os::fd::AsRawFd;
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given and touches nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(stdout.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(size.ws_col as usize)
}

#[cfg(not(unix))]
fn terminal_width() -> Option<usize> {
    None
}
