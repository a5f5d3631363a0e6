//! Rendering the failed jobs of a finished run for `vizier run` and `vizier ci`: what ran, the last
//! lines of its logs, and the command that shows the rest.

use crate::failure::Failure;

/// The report, one block per failed job. With `fence`, the command and the log lines (untrusted
/// child output) are wrapped in `::stop-commands::` so a GitHub runner does not act on workflow commands in them.
pub fn render(failures: &[Failure], fence: bool) -> String {
    let mut text = String::new();
    for f in failures {
        let code = f
            .exit_code
            .filter(|c| *c != 0)
            .map(|c| format!(" (exit {c})"))
            .unwrap_or_default();
        text.push_str(&format!(
            "✘ node `{}` {}{code}{}\n",
            f.node_id,
            f.status,
            f.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
        // The command comes from the template and its params, the tails from the child: both are
        // fenced together.
        let mut body = String::new();
        if let Some(command) = &f.command {
            let mut lines = command.lines();
            body.push_str(&format!(
                "  command: {}\n",
                lines.next().unwrap_or_default()
            ));
            for line in lines {
                body.push_str(&format!("           {line}\n"));
            }
        }
        for (name, tail) in [("stderr", &f.stderr_tail), ("stdout", &f.stdout_tail)] {
            if tail.is_empty() {
                body.push_str(&format!("  {name}: (empty)\n"));
                continue;
            }
            body.push_str(&format!(
                "  {name}, last {} line{}:\n",
                tail.len(),
                if tail.len() == 1 { "" } else { "s" }
            ));
            for l in tail.iter() {
                body.push_str(&format!("    {l}\n"));
            }
        }
        match fence.then(|| crate::ci::github::fenced(&body)) {
            Some(Ok(fenced)) => text.push_str(&fenced),
            // No randomness for a token: leave the untrusted text out rather than unfenced.
            Some(Err(_)) => text.push_str("  (not shown: see the command below)\n"),
            None => text.push_str(&body),
        }
        text.push_str(&format!("  the rest: vizier jobs tail {}\n", f.job_id));
    }
    text
}
