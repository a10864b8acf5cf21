//! Which of an organization's repositories a token's request (and the grant made of it) reaches: none, all, or a listed subset.

use std::fmt;

/// GitHub's `repository_selection` of a request or grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepositorySelection {
    /// No repository: organization permissions only.
    None,
    /// Every repository of the organization, present and future.
    All,
    /// The repositories listed with it.
    Subset,
}

impl RepositorySelection {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "none" => Some(Self::None),
            "all" => Some(Self::All),
            "subset" => Some(Self::Subset),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::All => "all",
            Self::Subset => "subset",
        }
    }

    /// Whether the selection comes with a list of repositories.
    pub fn lists_repositories(self) -> bool {
        self == Self::Subset
    }

    /// Whether access with this selection (listing `held` for a subset) reaches every
    /// repository that `asked` (listing `asked_ids` for a subset) asks for.
    pub fn covers(self, held: &[i64], asked: Self, asked_ids: &[i64]) -> bool {
        match (self, asked) {
            (Self::All, _) | (_, Self::None) => true,
            (Self::Subset, Self::Subset) => asked_ids.iter().all(|id| held.contains(id)),
            _ => false,
        }
    }
}

impl fmt::Display for RepositorySelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RepositorySelection::{self, All, None, Subset};

    #[test]
    fn selections_round_trip_and_refuse_anything_else() {
        for s in [None, All, Subset] {
            assert_eq!(RepositorySelection::parse(s.as_str()), Some(s));
        }
        for bad in ["", "ALL", "selected", "some"] {
            assert_eq!(RepositorySelection::parse(bad), Option::None, "{bad}");
        }
        assert!(Subset.lists_repositories() && !All.lists_repositories());
    }

    #[test]
    fn all_covers_everything_and_nothing_is_covered_by_anything() {
        for asked in [None, All, Subset] {
            assert!(All.covers(&[], asked, &[1, 2]), "all covers {asked}");
            assert!(asked.covers(&[], None, &[]), "{asked} covers none");
        }
        assert!(!None.covers(&[], All, &[]));
        assert!(!Subset.covers(&[1, 2, 3], All, &[]));
        assert!(!None.covers(&[], Subset, &[1]));
    }

    #[test]
    fn a_subset_covers_a_subset_of_it() {
        assert!(Subset.covers(&[1, 2, 3], Subset, &[1, 3]));
        assert!(Subset.covers(&[1], Subset, &[]));
        assert!(!Subset.covers(&[1, 2], Subset, &[2, 4]));
    }
}
