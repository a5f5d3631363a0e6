//! The grammar of output references, `${nodes.<id>.outputs.<name>}`: pure text functions that
//! composition, compile and validation use on template text. What the values are and how a node
//! publishes and reads them is `outputs` (which re-exports these).

use std::collections::BTreeMap;

use crate::template::params::{Piece, pieces};

/// A reference `${nodes.<id>.outputs.<name>}`: the text between `${` and `}` split in two.
pub fn parse_ref(inner: &str) -> Option<(&str, &str)> {
    let rest = inner.strip_prefix("nodes.")?;
    let at = rest.rfind(".outputs.")?;
    let (node, name) = (&rest[..at], &rest[at + ".outputs.".len()..]);
    (!node.is_empty() && !name.is_empty()).then_some((node, name))
}

/// Whether `${…}` text is an output reference (`nodes.` …) rather than a param.
pub fn is_output_ref(inner: &str) -> bool {
    inner.starts_with("nodes.")
}

/// Compile time: substitutes params in an arg that holds output references, leaving those references
/// (and escaping every other `${`, from `$${` or from a param's value, as `$${`) for `outputs::prepare`.
pub fn defer_params(text: &str, params: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    // Text between output references, as it would read after substitution; escaped as a whole
    // (a `$${` escape is split over two pieces by the scanner).
    let mut fixed = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Literal(s) | Piece::Unclosed(s) => fixed.push_str(s),
            Piece::Ref(inner) if parse_ref(inner).is_some() => {
                out.push_str(&fixed.replace("${", "$${"));
                fixed.clear();
                out.push_str("${");
                out.push_str(inner);
                out.push('}');
            }
            Piece::Ref(inner) => {
                fixed.push_str(params.get(inner).ok_or_else(|| inner.to_owned())?);
            }
        }
    }
    out.push_str(&fixed.replace("${", "$${"));
    Ok(out)
}

/// The output references in `text`: (byte range of the whole `${…}` in `text`, node id, name).
pub fn refs_in(text: &str) -> Vec<(std::ops::Range<usize>, &str, &str)> {
    let base = text.as_ptr() as usize;
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(inner) => {
                let (node, name) = parse_ref(inner)?;
                let start = inner.as_ptr() as usize - base - 2;
                Some((start..start + inner.len() + 3, node, name))
            }
            _ => None,
        })
        .collect()
}

/// `text` with the node id of every output reference mapped through `rename` (composition renames
/// `<id>` to `<stage>__<id>`); everything else, escapes included, is kept byte for byte.
pub fn rename_refs(text: &str, rename: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, node, name) in refs_in(text) {
        out.push_str(&text[at..range.start]);
        out.push_str(&format!("${{nodes.{}.outputs.{name}}}", rename(node)));
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether text holds a `${nodes.…}` reference.
pub fn has_output_ref(text: &str) -> bool {
    pieces(text)
        .iter()
        .any(|p| matches!(p, Piece::Ref(inner) if parse_ref(inner).is_some()))
}

/// `VIZIER_OUTPUT_<NODE>_<NAME>`: upper-cased, every character outside `[A-Z0-9]` as `_`.
pub fn env_name(node: &str, name: &str) -> String {
    let upper = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("VIZIER_OUTPUT_{}_{}", upper(node), upper(name))
}
