//! `${name}` references in args, gate scripts and retry budgets. `$${` is a literal `${`.
//!
//! One scanner serves both the validator (which names it finds) and the compiler (what text results),
//! so they can never disagree on what counts as a reference.

/// A piece of text split into literal runs and references.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Ref(&'a str),
    /// A `${` with no closing `}`: kept literally.
    Unclosed(&'a str),
}

/// Splits `text` into literals and `${name}` references.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            // `$${` → literal `${`: emit up to and including the first `$`, skip the second.
            out.push(Piece::Literal(&text[literal_start..=i]));
            literal_start = i + 2;
            i += 3;
        } else if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            if literal_start < i {
                out.push(Piece::Literal(&text[literal_start..i]));
            }
            match text[i + 2..].find('}') {
                Some(close) => {
                    out.push(Piece::Ref(&text[i + 2..i + 2 + close]));
                    i = i + 2 + close + 1;
                }
                None => {
                    out.push(Piece::Unclosed(&text[i..]));
                    i = bytes.len();
                }
            }
            literal_start = i;
        } else {
            i += 1;
        }
    }
    if literal_start < text.len() {
        out.push(Piece::Literal(&text[literal_start..]));
    }
    out
}

/// The names referenced in `text`, in order.
pub fn references(text: &str) -> impl Iterator<Item = &str> {
    pieces(text).into_iter().filter_map(|p| match p {
        Piece::Ref(name) => Some(name),
        _ => None,
    })
}

/// Replaces every reference by its value; the first unknown name is the error.
pub fn substitute<'v>(
    text: &str,
    lookup: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Literal(s) | Piece::Unclosed(s) => out.push_str(s),
            Piece::Ref(name) => out.push_str(lookup(name).ok_or_else(|| name.to_owned())?),
        }
    }
    Ok(out)
}

/// The environment variable a param is exported as: `VIZIER_PARAM_<NAME>`, upper-cased, with every
/// character outside `[A-Z0-9_]` turned into `_`.
pub fn env_name(param: &str) -> String {
    let mut name = String::from("VIZIER_PARAM_");
    name.extend(param.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_escapes() {
        assert_eq!(
            references("cargo test -p ${crate} $${HOME} ${x}").collect::<Vec<_>>(),
            ["crate", "x"]
        );
        let out = substitute("a ${x} $${y} ${", |n| (n == "x").then_some("1")).unwrap();
        assert_eq!(out, "a 1 ${y} ${");
        assert_eq!(substitute("${nope}", |_| None), Err("nope".to_owned()));
    }

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(env_name("target-branch"), "VIZIER_PARAM_TARGET_BRANCH");
    }
}
