//! Writing to stdout and stderr. A closed pipe (`vizier jobs list | head`) ends output quietly
//! instead of panicking.

use std::io::{IsTerminal, Write};

use crate::error::Error;

pub struct Output {
    stdout_closed: bool,
}

impl Output {
    pub fn stdout() -> Output {
        Output {
            stdout_closed: false,
        }
    }

    /// Whether stdout is a terminal (for live views).
    pub fn is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// Colour on a terminal unless `NO_COLOR` is set (to anything non-empty).
    pub fn color(&self) -> bool {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    pub fn write(&mut self, text: &str) {
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

    /// `error: message`, then each cause as `caused by: …`.
    pub fn error(&mut self, error: &Error) {
        let mut text = format!("error: {error}\n");
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!("caused by: {cause}\n"));
            source = cause.source();
        }
        if let Error::NoVizier { .. } = error {
            text.push_str("help: run `vizier init` to create it\n");
        }
        self.error_text(&text);
    }
}
