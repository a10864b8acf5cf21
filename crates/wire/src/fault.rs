//! Why a request body's field was refused, before the endpoint names the resource: what a
//! body's `TryFrom` into its command returns, and what a 422's `errors[]` item is made of.

use std::convert::Infallible;

/// A refused field: its name, GitHub's code (`missing_field` or `invalid`) and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl Fault {
    /// The field is there but wrong.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code: "invalid",
            message: message.into(),
        }
    }

    /// A required field is absent or `null`.
    pub fn missing(field: &str) -> Self {
        Self {
            field: field.to_owned(),
            code: "missing_field",
            message: format!("{field} is missing"),
        }
    }
}

/// A body whose command is the body itself cannot be refused after it is read.
impl From<Infallible> for Fault {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}
