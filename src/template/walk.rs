//! Typed reads out of a spanned TOML tree that report, rather than stop at, every shape problem:
//! unknown keys (with a "did you mean"), wrong types, unknown enum values.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Sp, Span};
use crate::diagnostic::{Finding, Rule, did_you_mean};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// Reads one file's tree, collecting findings tagged with the file and, once known, the node.
pub struct Walker<'f> {
    pub file: usize,
    pub node: Option<String>,
    pub findings: &'f mut Vec<Finding>,
}

pub fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'f> Walker<'f> {
    pub fn new(file: usize, findings: &'f mut Vec<Finding>) -> Self {
        Walker {
            file,
            node: None,
            findings,
        }
    }

    pub fn report(
        &mut self,
        rule: Rule,
        span: Span,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let finding = Finding::error(rule, self.file, span, message)
            .node_opt(self.node.as_deref())
            .help_opt(help);
        self.findings.push(finding);
    }

    /// Reports every key of `table` that is not in `allowed`.
    pub fn check_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], context: &str) {
        for key in table.keys() {
            let name: &str = key.get_ref();
            if !allowed.contains(&name) {
                let help = match did_you_mean(name, allowed.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if allowed.is_empty() => format!("{context} takes no fields"),
                    None => format!("{context} takes: {}", backticked(allowed)),
                };
                self.report(
                    Rule::UnknownField,
                    key.span(),
                    format!("unknown field `{name}` in {context}"),
                    Some(help),
                );
            }
        }
    }

    pub fn wrong_type(&mut self, field: &str, value: &Value<'_>, expected: &str) {
        self.report(
            Rule::InvalidField,
            value.span(),
            format!(
                "`{field}` must be {expected}, found {}",
                type_name(value.get_ref())
            ),
            None,
        );
    }

    pub fn string(&mut self, field: &str, value: &Value<'_>) -> Option<Sp<String>> {
        match value.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), value.span())),
            _ => {
                self.wrong_type(field, value, "a string");
                None
            }
        }
    }

    /// A string field that must not be blank (`id`, `version`).
    pub fn nonempty_string(&mut self, field: &str, value: &Value<'_>) -> Option<Sp<String>> {
        let s = self.string(field, value)?;
        if s.value.trim().is_empty() {
            self.report(
                Rule::InvalidField,
                s.span.clone(),
                format!("`{field}` must not be empty"),
                None,
            );
            return None;
        }
        Some(s)
    }

    pub fn boolean(&mut self, field: &str, value: &Value<'_>) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(field, value, "a boolean");
                None
            }
        }
    }

    pub fn table<'a, 'i>(&mut self, field: &str, value: &'a Value<'i>) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(field, value, "a table");
                None
            }
        }
    }

    pub fn array<'a, 'i>(&mut self, field: &str, value: &'a Value<'i>) -> Option<&'a [Value<'i>]> {
        match value.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                self.wrong_type(field, value, "an array");
                None
            }
        }
    }

    /// An array whose every item is a table; items of another type are reported and skipped.
    pub fn tables<'a, 'i>(
        &mut self,
        field: &str,
        value: &'a Value<'i>,
    ) -> Vec<(&'a DeTable<'i>, Span)> {
        let Some(items) = self.array(field, value) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.table(field, item).map(|t| (t, item.span())))
            .collect()
    }

    pub fn strings(&mut self, field: &str, value: &Value<'_>) -> Vec<Sp<String>> {
        let Some(items) = self.array(field, value) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.string(field, item))
            .collect()
    }

    /// A string naming one of `names`; an unknown one is `invalid-field` with the list (and a close
    /// match when there is one).
    pub fn enumerated(
        &mut self,
        field: &str,
        value: &Value<'_>,
        names: &[&str],
    ) -> Option<Sp<String>> {
        let s = self.string(field, value)?;
        if names.contains(&s.value.as_str()) {
            return Some(s);
        }
        let help = match did_you_mean(&s.value, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("expected one of {}", backticked(names)),
        };
        self.report(
            Rule::InvalidField,
            s.span,
            format!("unknown {field} `{}`", s.value),
            Some(help),
        );
        None
    }

    pub fn missing(&mut self, field: &str, span: Span, context: &str) {
        self.report(
            Rule::MissingField,
            span,
            format!("missing field `{field}` in {context}"),
            None,
        );
    }
}

/// Looks a key up in a spanned table.
pub fn get<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Value<'i>> {
    table.get(key)
}

pub fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
