//! The hook script vizier writes (`hooks/hook.sh` at the repository root, built into the binary) and
//! how a script in a hooks folder is recognised as vizier's.

use std::path::Path;

use super::HookName;

const TEMPLATE: &str = include_str!("../../hooks/hook.sh");

/// The line that marks a script as vizier's; anything without it is a foreign hook.
const MARKER: &str = "# vizier-managed-hook: ";

/// Suffix of a foreign hook kept beside vizier's script and run by it.
pub const CHAINED_SUFFIX: &str = ".vizier-chained";
/// Suffix of a foreign hook that `--force` replaced; it does not run.
pub const BACKUP_SUFFIX: &str = ".vizier-backup";

/// The script for `hook`, recording `binary` (absolute) as the first place to find vizier.
pub fn render(hook: HookName, binary: &str) -> String {
    TEMPLATE
        .replace("@HOOK@", hook.file_name())
        .replace("@VIZIER@", &sh_quote(binary))
}

/// Whether `text` is a script vizier wrote (for any hook).
pub fn is_managed(text: &[u8]) -> bool {
    // The marker is on the second line; a foreign hook that merely mentions vizier does not count.
    text.split(|&b| b == b'\n')
        .take(3)
        .any(|line| line.starts_with(MARKER.as_bytes()))
}

/// The binary path a managed script records, as it was given to [`render`].
pub fn recorded_binary(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("installed="))?;
    sh_unquote(line.strip_prefix("installed=")?)
}

/// The name of the chained hook beside `hook` in `folder`.
pub fn chained_path(folder: &Path, hook: HookName) -> std::path::PathBuf {
    folder.join(format!("{}{CHAINED_SUFFIX}", hook.file_name()))
}

/// A single-quoted shell word: nothing inside is expanded.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sh_unquote(word: &str) -> Option<String> {
    let mut out = String::new();
    for (i, part) in word.split(r"'\''").enumerate() {
        if i > 0 {
            out.push('\'');
        }
        out.push_str(part);
    }
    out.strip_prefix('\'')?
        .strip_suffix('\'')
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_dollars() {
        for path in [
            "/usr/bin/vizier",
            "/tmp/it's $HOME/`x`/vizier",
            "/a b/'/vizier",
        ] {
            let script = render(HookName::PreCommit, path);
            assert_eq!(recorded_binary(&script).as_deref(), Some(path));
        }
    }

    #[test]
    fn rendered_scripts_are_managed_and_foreign_ones_are_not() {
        assert!(is_managed(render(HookName::PrePush, "/x").as_bytes()));
        assert!(!is_managed(b"#!/bin/sh\nexec vizier hook pre-commit\n"));
        assert!(!is_managed(b""));
        assert!(!is_managed(
            b"#!/bin/sh\n# a\n# b\n# vizier-managed-hook: pre-commit\n"
        ));
    }

    #[test]
    fn every_placeholder_is_filled() {
        let script = render(HookName::PrePush, "/bin/vizier");
        assert!(
            !script.contains("@HOOK@") && !script.contains("@VIZIER@"),
            "{script}"
        );
        assert!(script.contains("hook=pre-push\n"));
    }
}
