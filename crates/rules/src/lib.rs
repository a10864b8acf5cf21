//! Review rules as code: an organization's rules, written in Cedar, decide its pending token
//! requests. This crate knows the schema the rules are validated against (`schema`), what a
//! request looks like to them (`facts`), how a source becomes a rule set (`compile`), what a
//! set decides and why (`decide`), and the test cases a set carries (`cases`). No I/O.

pub mod cases;
pub mod compile;
pub mod decide;
pub mod facts;
mod index;
pub mod kept;
pub mod schema;

pub use cases::{Case, CaseResult, CasesError, Expectation};
pub use compile::{Problem, Rule, RuleSet};
pub use decide::{hard_limits, Decision, Outcome};
pub use facts::{Facts, Owner, Repository, Situation};
pub use schema::{SCHEMA, SCHEMA_VERSION};

/// What a rule set does with its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Rules are not evaluated.
    Off,
    /// Rules decide and their decisions are recorded; nothing is acted on.
    Shadow,
    /// Rules' decisions are reviews.
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Shadow => "shadow",
            Self::Enforce => "enforce",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "off" => Some(Self::Off),
            "shadow" => Some(Self::Shadow),
            "enforce" => Some(Self::Enforce),
            _ => None,
        }
    }
}

/// The SHA-256 of a source, as lowercase hex.
pub fn sha256(source: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, source.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_is_the_usual_hex_digest() {
        assert_eq!(
            super::sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
