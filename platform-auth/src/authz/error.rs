//! [`PolicyError`]: what is wrong with a policy document, and where.

use crate::error::StoreError;

/// Why a policy document was refused. Every variant names its origin (the file path, or
/// `database policy "name"`); invalid permissions also name the role, the permission and
/// the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document does not parse: syntax, an unknown field, a wrong type.
    #[error("{origin}: {message}")]
    Syntax {
        /// Where the document came from.
        origin: String,
        /// The parser's message, with the path of the offending field.
        message: String,
    },
    /// A permission or role is invalid.
    #[error("{origin}: role `{role}`, permission `{permission}`, field `{field}`: {problem}")]
    Invalid {
        /// Where the document came from.
        origin: String,
        /// The role.
        role: String,
        /// The permission's name, or `#<n>` (1-based) without one.
        permission: String,
        /// The field: `action`, `resource`, `when[<i>]`, `name`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The file cannot be read, or its format is unknown.
    #[error("{origin}: {message}")]
    Io {
        /// The file.
        origin: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// The policy store failed.
    #[error("policy store: {0}")]
    Store(#[from] StoreError),
}
