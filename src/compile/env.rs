//! The run-wide `VIZIER_*` variables every script sees, in every mode: `vizier run`, `vizier ci`
//! with or without a push event, retries. A push event supplies its values (`ci::event`); anything
//! it does not supply is derived from the trigger or set empty, so a `set -u` script that passes on
//! a CI runner also passes on a laptop.

use super::Trigger;

/// The variables of a run's trigger, as `docs/ci.md` lists them. `VIZIER_CHANGED_FILES` is set
/// here only when the trigger names a file; the job process makes sure it always names one.
pub const TRIGGER_VARIABLES: [&str; 12] = [
    "VIZIER_EVENT_NAME",
    "VIZIER_SHA",
    "VIZIER_REF",
    "VIZIER_REF_NAME",
    "VIZIER_REF_TYPE",
    "VIZIER_BEFORE",
    "VIZIER_PUSH_KIND",
    "VIZIER_BASE_REF",
    "VIZIER_DEFAULT_BRANCH",
    "VIZIER_PUSHER",
    "VIZIER_COMMIT_MESSAGE",
    "VIZIER_CHANGED_FILES",
];

/// Adds every trigger variable that `env` does not set yet: derived from the trigger where it can
/// be (the ref's short name and type, the event kind), else empty.
pub fn complete(env: &mut Vec<(String, String)>, trigger: &Trigger) {
    for name in TRIGGER_VARIABLES {
        if env.iter().any(|(k, _)| k == name) {
            continue;
        }
        let r = trigger.ref_name.as_str();
        let value = match name {
            "VIZIER_EVENT_NAME" => trigger.kind.clone(),
            "VIZIER_SHA" => trigger.sha.clone(),
            "VIZIER_REF" => r.to_owned(),
            "VIZIER_REF_NAME" => r
                .strip_prefix("refs/heads/")
                .or_else(|| r.strip_prefix("refs/tags/"))
                .unwrap_or(r)
                .to_owned(),
            "VIZIER_REF_TYPE" => if r.starts_with("refs/heads/") {
                "branch"
            } else if r.starts_with("refs/tags/") {
                "tag"
            } else {
                "other"
            }
            .to_owned(),
            "VIZIER_BEFORE" => trigger.before.clone().unwrap_or_default(),
            _ => String::new(),
        };
        env.push((name.to_owned(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_trigger_gets_every_variable() {
        let trigger = Trigger {
            kind: "local".into(),
            sha: "a".repeat(40),
            ref_name: "refs/tags/v1".into(),
            ..Trigger::default()
        };
        let mut env = vec![("VIZIER_PUSHER".to_owned(), "me".to_owned())];
        complete(&mut env, &trigger);
        let get = |n: &str| {
            let found: Vec<_> = env.iter().filter(|(k, _)| k == n).collect();
            assert_eq!(found.len(), 1, "{n} set once");
            found[0].1.clone()
        };
        for name in TRIGGER_VARIABLES {
            get(name);
        }
        assert_eq!(get("VIZIER_REF_NAME"), "v1");
        assert_eq!(get("VIZIER_REF_TYPE"), "tag");
        assert_eq!(get("VIZIER_PUSHER"), "me");
        assert_eq!(get("VIZIER_PUSH_KIND"), "");
    }
}
