//! A template's inputs on the command line: `vizier run <alias> [positional...] [--<named> value]`,
//! bound to params through the `[cli]` table, beside `--set name=value`.
//!
//! Binding turns the words after the alias into `name=value` overrides (the same shape `--set`
//! takes), so one path resolves every override; the words it cannot place are usage errors that
//! list the template's inputs.

use super::{Param, Template};

/// The long flags `vizier run` itself takes; a `[cli.named]` flag may not reuse one.
pub const RUN_FLAGS: &[&str] = &[
    "set",
    "after",
    "detach",
    "dry-run",
    "format",
    "user-config",
    "quiet",
    "help",
    "color",
    "version",
];

/// One declared input, for help and error texts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputInfo {
    pub param: String,
    pub default: String,
    pub description: Option<String>,
    pub required: bool,
    /// 1-based argument position, when `[cli].positional` lists it.
    pub position: Option<usize>,
    /// `[cli.named]` flags bound to it.
    pub flags: Vec<String>,
}

/// Every param of `template` with its command-line spellings, in declaration order.
pub fn describe(template: &Template) -> Vec<InputInfo> {
    template
        .params
        .iter()
        .map(|p: &Param| {
            let name = &p.name.value;
            let cli = template.cli.as_ref();
            InputInfo {
                param: name.clone(),
                default: p.default.value.clone(),
                description: p.description.as_ref().map(|d| d.value.clone()),
                required: p.required,
                position: cli.and_then(|c| {
                    c.positional
                        .iter()
                        .position(|q| &q.value == name)
                        .map(|i| i + 1)
                }),
                flags: cli
                    .map(|c| {
                        c.named
                            .iter()
                            .filter(|(_, q)| &q.value == name)
                            .map(|(f, _)| f.value.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// An example command line for `alias`: positionals as `<param>`, then every other required
/// input as its flag (or `--set`).
pub fn example(template: &Template, alias: &str) -> String {
    let mut line = format!("vizier run {alias}");
    let inputs = describe(template);
    if let Some(cli) = &template.cli {
        for p in &cli.positional {
            line.push_str(&format!(" <{}>", p.value));
        }
    }
    for i in inputs.iter().filter(|i| i.required && i.position.is_none()) {
        match i.flags.first() {
            Some(flag) => line.push_str(&format!(" --{flag} <{}>", i.param)),
            None => line.push_str(&format!(" --set {}=<value>", i.param)),
        }
    }
    line
}

/// A compact list of the inputs for error messages: `spec_file (1st argument), slug (--name), ...`.
pub fn summary(template: &Template) -> String {
    let inputs = describe(template);
    if inputs.is_empty() {
        return "(this template takes no inputs)".to_owned();
    }
    inputs
        .iter()
        .map(|i| {
            let mut ways = Vec::new();
            if let Some(pos) = i.position {
                ways.push(format!("argument {pos}"));
            }
            ways.extend(i.flags.iter().map(|f| format!("--{f}")));
            ways.push(format!("--set {}=…", i.param));
            format!("`{}` ({})", i.param, ways.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Binds the words after the alias to `name=value` overrides. `--flag value` and `--flag=value`
/// name a `[cli.named]` flag; `--` ends the flags; every other word fills the next positional.
pub fn bind(template: &Template, alias: &str, words: &[String]) -> Result<Vec<String>, String> {
    let positional: Vec<&str> = template
        .cli
        .as_ref()
        .map(|c| c.positional.iter().map(|p| p.value.as_str()).collect())
        .unwrap_or_default();
    let named = |flag: &str| {
        template.cli.as_ref().and_then(|c| {
            c.named
                .iter()
                .find(|(f, _)| f.value == flag)
                .map(|(_, p)| p.value.clone())
        })
    };
    let listing = || {
        format!(
            "`{alias}` takes: {}; e.g. `{}`",
            summary(template),
            example(template, alias)
        )
    };
    let mut sets = Vec::new();
    let mut next_position = 0;
    let mut flags_done = false;
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if !flags_done && word == "--" {
            flags_done = true;
            continue;
        }
        if !flags_done && let Some(flag) = word.strip_prefix("--") {
            let (flag, inline) = match flag.split_once('=') {
                Some((f, v)) => (f, Some(v.to_owned())),
                None => (flag, None),
            };
            let Some(param) = named(flag) else {
                return Err(format!(
                    "unknown flag `--{flag}` for `{alias}`; {}",
                    listing()
                ));
            };
            let value = match inline {
                Some(v) => v,
                None => match words.get(i) {
                    Some(v) => {
                        i += 1;
                        v.clone()
                    }
                    None => {
                        return Err(format!("`--{flag}` needs a value; {}", listing()));
                    }
                },
            };
            sets.push(format!("{param}={value}"));
            continue;
        }
        if !flags_done && word.len() > 1 && word.starts_with('-') {
            return Err(format!(
                "unknown flag `{word}` for `{alias}`; {}",
                listing()
            ));
        }
        let Some(param) = positional.get(next_position) else {
            return Err(format!(
                "unexpected argument `{word}`: `{alias}` takes {} positional argument(s); {}",
                positional.len(),
                listing()
            ));
        };
        next_position += 1;
        sets.push(format!("{param}={word}"));
    }
    Ok(sets)
}

/// The first required param whose resolved value is empty, as a usage message with an example.
pub fn missing_required(
    template: &Template,
    alias: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let missing: Vec<InputInfo> = describe(template)
        .into_iter()
        .filter(|i| i.required && params.get(&i.param).is_none_or(|v| v.is_empty()))
        .collect();
    let first = missing.first()?;
    let how = match (first.position, first.flags.first()) {
        (Some(pos), _) => format!("argument {pos}"),
        (None, Some(flag)) => format!("--{flag} <value>"),
        (None, None) => format!("--set {}=<value>", first.param),
    };
    Some(format!(
        "missing required input `{}` ({how}){}; e.g. `{}`",
        first.param,
        first
            .description
            .as_ref()
            .map_or(String::new(), |d| format!(": {d}")),
        example(template, alias)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse_template;

    fn template(text: &str) -> Template {
        let parsed = parse_template(0, text);
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        parsed.template.unwrap()
    }

    const DRAFT: &str = r#"
id = "t"
version = "v1"
[params]
spec_file = { description = "the spec", required = true }
slug = { default = "plan" }
[cli]
positional = ["spec_file", "slug"]
named = { file = "spec_file", name = "slug" }
"#;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn positionals_and_flags_bind_in_order() {
        let t = template(DRAFT);
        assert_eq!(
            bind(&t, "draft", &words(&["a.md", "x"])).unwrap(),
            ["spec_file=a.md", "slug=x"]
        );
        assert_eq!(
            bind(&t, "draft", &words(&["--name", "y", "--file=b.md"])).unwrap(),
            ["slug=y", "spec_file=b.md"]
        );
        assert_eq!(
            bind(&t, "draft", &words(&["--", "-odd"])).unwrap(),
            ["spec_file=-odd"]
        );
    }

    #[test]
    fn unknown_words_list_the_inputs() {
        let t = template(DRAFT);
        let e = bind(&t, "draft", &words(&["--nope", "1"])).unwrap_err();
        assert!(
            e.contains("unknown flag `--nope`") && e.contains("`slug`"),
            "{e}"
        );
        let e = bind(&t, "draft", &words(&["a", "b", "c"])).unwrap_err();
        assert!(e.contains("unexpected argument `c`"), "{e}");
        let e = bind(&t, "draft", &words(&["--name"])).unwrap_err();
        assert!(e.contains("needs a value"), "{e}");
    }

    #[test]
    fn a_missing_required_input_is_named_with_an_example() {
        let t = template(DRAFT);
        let params = [("slug".to_owned(), "plan".to_owned())].into();
        let e = missing_required(&t, "draft", &params).unwrap();
        assert_eq!(
            e,
            "missing required input `spec_file` (argument 1): the spec; e.g. `vizier run draft <spec_file> <slug>`"
        );
    }
}
