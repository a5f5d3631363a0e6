//! The id grammar of the job store. Ids read from records (or typed on the command line) become
//! folder and file names, so each is checked before it is used as a path: a run id is `run-` and
//! 16 lowercase hex digits; a job id is `<run_id>-<node>` with the node part made of
//! `[A-Za-z0-9_.-]` (what `compile::sanitize` produces). Neither can hold a separator or be `..`.

/// Whether `s` is a run id: `run-` and 16 lowercase hex digits.
pub fn is_run_id(s: &str) -> bool {
    s.len() == 20
        && s.starts_with("run-")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `s` is a job id: a run id, `-`, and a non-empty sanitized node id.
pub fn is_job_id(s: &str) -> bool {
    s.len() > 21
        && s.is_char_boundary(20)
        && is_run_id(&s[..20])
        && s.as_bytes()[20] == b'-'
        && s[21..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Whether `job_id` is a job id of run `run_id`.
pub fn is_job_of(run_id: &str, job_id: &str) -> bool {
    is_job_id(job_id) && job_id.starts_with(run_id) && job_id.as_bytes()[run_id.len()] == b'-'
}

/// The run a job id belongs to.
pub fn run_of(job_id: &str) -> Option<&str> {
    is_job_id(job_id).then(|| &job_id[..20])
}

/// A bad id as a message: what it should look like.
pub fn explain_job_id(s: &str) -> String {
    format!("`{s}` is not a job id (they look like run-<16 hex>-<node>)")
}

pub fn explain_run_id(s: &str) -> String {
    format!("`{s}` is not a run id (they look like run-<16 hex>)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_refuses_paths() {
        assert!(is_run_id("run-0123456789abcdef"));
        assert!(is_job_id("run-0123456789abcdef-build.v1_x-y"));
        assert!(is_job_of(
            "run-0123456789abcdef",
            "run-0123456789abcdef-build"
        ));
        assert!(!is_job_of(
            "run-0123456789abcdee",
            "run-0123456789abcdef-build"
        ));
        for bad in [
            "",
            "run-0123456789ABCDEF",
            "run-0123456789abcde",
            "run-0123456789abcdef/..",
            "../../etc",
            "run-..",
        ] {
            assert!(!is_run_id(bad), "{bad}");
        }
        for bad in [
            "run-0123456789abcdef",
            "run-0123456789abcdef-",
            "run-0123456789abcdef-../../x",
            "run-0123456789abcdef-a/b",
            "run-0123456789abcdefx",
            "run-0123456789abcdef-é",
            "../../etc/passwd",
        ] {
            assert!(!is_job_id(bad), "{bad}");
        }
    }
}
