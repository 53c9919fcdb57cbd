//! Full-text search terms: one tokenizer for what is indexed and what is searched, and the
//! safe translation of user text into each backend's query syntax.
//!
//! A token is a run of alphanumeric characters (Unicode), lower-cased; everything else
//! separates tokens. The stores index the tokens of a record's message and fields as
//! produced here, and a query's words go through the same function, so both backends
//! match the same records. User text never reaches a query parser as syntax: each token is
//! quoted as a literal (SQLite FTS5 `"…"`, PostgreSQL `'…'`), so no input can cause a
//! syntax error or change the query's meaning.

use std::fmt::Write;

use super::query::LogQueryError;

/// Most words in one search.
pub const MAX_TERMS: usize = 16;
/// Longest search text, in bytes.
pub const MAX_TEXT_LEN: usize = 512;

/// The tokens of `text`, lower-cased.
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase)
}

/// Appends the tokens of `text` to `out`, space-separated.
pub(crate) fn push_tokens(out: &mut String, text: &str) {
    for t in text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        // The same result as `tokens`, without a String per token on the common path
        // (`str::to_lowercase` is kept for the rest: it has context rules, e.g. final sigma).
        if t.is_ascii() {
            out.extend(t.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(&t.to_lowercase());
        }
    }
}

/// Appends the tokens of a JSON value (strings, numbers, booleans, nested values) to `out`.
pub(crate) fn push_value_tokens(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => {}
        Value::Bool(b) => push_tokens(out, if *b { "true" } else { "false" }),
        // Integers are one token: written straight into `out` (no String per number).
        Value::Number(n) => match n.as_u64() {
            Some(u) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                let _ = write!(out, "{u}");
            }
            None => push_tokens(out, &n.to_string()),
        },
        Value::String(s) => push_tokens(out, s),
        Value::Array(items) => items.iter().for_each(|i| push_value_tokens(out, i)),
        Value::Object(map) => {
            for (k, v) in map {
                push_tokens(out, k);
                push_value_tokens(out, v);
            }
        }
    }
}

/// One search word: a token, optionally a prefix (`timeo*`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    token: String,
    prefix: bool,
}

/// Validated full-text search: every word must occur in the record's message or fields
/// (words are ANDed); a word ending in `*` matches as a prefix.
///
/// Words are runs of letters and digits, matched case-insensitively; punctuation
/// separates words (`order_id=42` searches `order`, `id` and `42`). Nothing in the text is
/// query syntax, so any input is safe; input that holds no word at all, more than
/// [`MAX_TERMS`] words or more than [`MAX_TEXT_LEN`] bytes is refused with an error
/// saying so.
///
/// ```
/// use platform_observe::logs::SearchText;
///
/// let q = SearchText::parse(r#"Payment "timeo*" OR 1=1; --"#).unwrap();
/// assert_eq!(q.to_string(), "payment timeo* or 1 1");
/// assert!(SearchText::parse("  -- ** ").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    terms: Vec<Term>,
}

impl SearchText {
    /// Parses user text.
    pub fn parse(text: &str) -> Result<Self, LogQueryError> {
        let bad = |problem: String| LogQueryError::Text { problem };
        if text.len() > MAX_TEXT_LEN {
            return Err(bad(format!(
                "is {} bytes long; at most {MAX_TEXT_LEN} are allowed",
                text.len()
            )));
        }
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            // `timeo*` and `"timeo*"` both end in a prefix word.
            let prefix =
                word.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '*').ends_with('*');
            let mut toks: Vec<String> = tokens(word).collect();
            let last = toks.pop();
            terms.extend(toks.into_iter().map(|token| Term { token, prefix: false }));
            terms.extend(last.map(|token| Term { token, prefix }));
        }
        if terms.is_empty() {
            return Err(bad(format!(
                "`{text}` holds no word to search for (words are letters and digits)"
            )));
        }
        if terms.len() > MAX_TERMS {
            return Err(bad(format!("has {} words; at most {MAX_TERMS} are allowed", terms.len())));
        }
        Ok(Self { terms })
    }

    /// The SQLite FTS5 query: each word a quoted string (a literal, never an operator),
    /// prefix words followed by `*`; juxtaposed strings are ANDed.
    pub(crate) fn to_fts5(&self) -> String {
        let mut out = String::new();
        for t in &self.terms {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push('"');
            out.push_str(&t.token.replace('"', "\"\""));
            out.push('"');
            if t.prefix {
                out.push('*');
            }
        }
        out
    }

    /// The PostgreSQL `to_tsquery` text: quoted lexemes joined by `&`, prefixes as `:*`.
    pub(crate) fn to_tsquery(&self) -> String {
        let mut out = String::new();
        for t in &self.terms {
            if !out.is_empty() {
                out.push_str(" & ");
            }
            let escaped = t.token.replace('\\', "\\\\").replace('\'', "''");
            let _ = write!(out, "'{escaped}'");
            if t.prefix {
                out.push_str(":*");
            }
        }
        out
    }
}

impl std::fmt::Display for SearchText {
    /// The normalized words, space-separated (`timeo*` for a prefix); parsing it again
    /// gives the same search.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&t.token)?;
            if t.prefix {
                f.write_str("*")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for SearchText {
    type Err = LogQueryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is indexed must be exactly what a search for the same words looks for.
    #[test]
    fn indexed_tokens_are_the_search_tokens() {
        for text in [
            "Payment 42 ACCEPTED for customer-7",
            "ΟΔΟΣ Σοφοκλέους, café — Straße; naïve",
            "  --mixed  ASCII and ÜNICODE_words__ ",
            "",
            "***",
        ] {
            let mut indexed = String::new();
            push_tokens(&mut indexed, text);
            let searched: Vec<String> = tokens(text).collect();
            assert_eq!(indexed, searched.join(" "), "for {text:?}");
        }
        let mut values = String::new();
        let fields = serde_json::json!({"n": 4711, "f": -2.5, "s": "Mixed Case", "b": true});
        push_value_tokens(&mut values, &fields);
        assert_eq!(values, "b true f 2 5 n 4711 s mixed case");
        let mut appended = "first".to_owned();
        push_tokens(&mut appended, "Second THIRD");
        assert_eq!(appended, "first second third");
    }
}
