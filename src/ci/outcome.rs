//! How a CI invocation ended, as the action's `outcome` output, the summary and the docs say it:
//! a run's words ([`RunOutcome`]) plus `skipped`.

use crate::store::RunOutcome;

/// How `vizier ci` (or a part of it) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CiOutcome {
    /// Every run succeeded.
    Succeeded,
    /// A template was invalid, or a run did not succeed.
    Failed,
    /// Nothing to run (a deleted ref).
    Skipped,
}

impl CiOutcome {
    /// The value written to `GITHUB_OUTPUT` as `outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            CiOutcome::Succeeded => "succeeded",
            CiOutcome::Failed => "failed",
            CiOutcome::Skipped => "skipped",
        }
    }

    /// The outcome of a set of finished runs, from each manifest's `outcome`: succeeded only when
    /// every one did.
    pub fn of_runs(outcomes: impl IntoIterator<Item = Option<RunOutcome>>) -> CiOutcome {
        if outcomes
            .into_iter()
            .all(|o| o == Some(RunOutcome::Succeeded))
        {
            CiOutcome::Succeeded
        } else {
            CiOutcome::Failed
        }
    }
}

impl From<RunOutcome> for CiOutcome {
    fn from(outcome: RunOutcome) -> CiOutcome {
        match outcome {
            RunOutcome::Succeeded => CiOutcome::Succeeded,
            RunOutcome::Failed => CiOutcome::Failed,
        }
    }
}

impl std::fmt::Display for CiOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_succeed_only_together_and_the_words_are_the_manifests() {
        assert_eq!(
            CiOutcome::of_runs([Some(RunOutcome::Succeeded), Some(RunOutcome::Succeeded)]),
            CiOutcome::Succeeded
        );
        assert_eq!(
            CiOutcome::of_runs([Some(RunOutcome::Succeeded), Some(RunOutcome::Failed)]),
            CiOutcome::Failed
        );
        assert_eq!(CiOutcome::of_runs([None]), CiOutcome::Failed);
        let words: Vec<_> = [CiOutcome::Succeeded, CiOutcome::Failed, CiOutcome::Skipped]
            .map(CiOutcome::as_str)
            .to_vec();
        assert_eq!(words, ["succeeded", "failed", "skipped"]);
        assert_eq!(
            [RunOutcome::Succeeded, RunOutcome::Failed].map(|o| CiOutcome::from(o).as_str()),
            [RunOutcome::Succeeded.as_str(), RunOutcome::Failed.as_str()],
            "a run's words are the CI outcome's"
        );
    }
}
