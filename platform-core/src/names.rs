//! Names that end up in URL paths and Redis keys: registry service names and instance
//! ids, control-plane namespaces and environments.

/// Longest name accepted.
const MAX_NAME: usize = 128;

/// Checks a name: 1–128 of `[A-Za-z0-9._-]`, so it is safe in a URL path and a Redis key.
pub(crate) fn check(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.len() > MAX_NAME {
        return Err(format!("is {} bytes long; at most {MAX_NAME} allowed", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c))) {
        return Err(format!(
            "{name:?} contains {c:?}; only ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}
