//! Organizations kept in memory by id, so that checking the organization a path names costs
//! no round trip. An organization's row changes only with changes that may touch any
//! organization (seeding here, `organizations` elsewhere: PostgreSQL's trigger notifies `*`,
//! SQLite's follower counts every change as one), so a kept row is served while the epoch of
//! those changes stands, and only while other processes' writes are followed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::changes::Changes;
use crate::models::Organization;
use crate::StoreError;

/// More kept organizations than this and they are all dropped.
const MAX_KEPT: usize = 16_384;

/// Organizations by id, each with the epoch it was read at.
#[derive(Debug, Default)]
pub struct KeptOrgs {
    kept: Mutex<HashMap<i64, (u64, Organization)>>,
}

impl KeptOrgs {
    /// The organization kept for `id` while no change that may touch any organization was
    /// committed since it was read, or `load()` run now and kept under the epoch taken before
    /// it ran. An organization that does not exist is not kept.
    pub fn get_or_load(
        &self,
        changes: &Changes,
        id: i64,
        load: impl FnOnce() -> Result<Option<Organization>, StoreError>,
    ) -> Result<Option<Organization>, StoreError> {
        let Some(epoch) = changes.all_epoch() else {
            return load();
        };
        if let Some((at, org)) = self.lock().get(&id) {
            if *at == epoch {
                return Ok(Some(org.clone()));
            }
        }
        let org = load()?;
        if let Some(org) = &org {
            let mut kept = self.lock();
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
            kept.insert(id, (epoch, org.clone()));
        }
        Ok(org)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, (u64, Organization)>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme(login: &str) -> Organization {
        Organization {
            id: 1,
            login: login.to_owned(),
            login_key: login.to_ascii_lowercase(),
            name: None,
            description: None,
            created_at: chrono::NaiveDateTime::default(),
            enterprise_id: None,
        }
    }

    #[test]
    fn an_organization_is_read_again_only_after_a_change_to_any_organization() {
        let changes = Changes::default();
        let kept = KeptOrgs::default();
        let loads = std::cell::Cell::new(0);
        let get = |login: &'static str| {
            kept.get_or_load(&changes, 1, || {
                loads.set(loads.get() + 1);
                Ok(Some(acme(login)))
            })
            .expect("load")
            .expect("found")
            .login
        };
        // Not following other processes: nothing is kept.
        get("acme");
        get("acme");
        assert_eq!(loads.get(), 2);
        changes.set_following(true);
        get("acme");
        assert_eq!(get("renamed"), "acme", "kept");
        assert_eq!(loads.get(), 3);
        changes.org_changed(1);
        assert_eq!(
            get("renamed"),
            "acme",
            "a change inside the organization keeps it"
        );
        changes.all_changed();
        assert_eq!(
            get("renamed"),
            "renamed",
            "a change to any organization reads it again"
        );
        assert_eq!(loads.get(), 4);
        let missing = kept.get_or_load(&changes, 2, || Ok(None)).expect("load");
        assert!(missing.is_none());
    }
}
