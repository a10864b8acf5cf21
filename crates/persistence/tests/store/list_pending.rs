//! `requests::list_pending`: order, paging and every filter, checked against an in-memory model of the seeded requests.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::{AccessLevel, ReviewAction};
use patgate_persistence::models::NewPatRequest;
use patgate_persistence::requests::{self, ListFilter};
use patgate_persistence::schema::pat_requests;
use patgate_persistence::seed::ensure_repo;
use patgate_persistence::starts::Starts;
use patgate_persistence::{Db, Page, Total, COUNT_AHEAD_PAGES, COUNT_AHEAD_PAGES_PROBED};

use crate::common::{app, org, pending, perms, t, token, user, write, OrgFixture};

use AccessLevel::{Read, Write};

/// What the model knows of one pending request of the listed organization.
#[derive(Debug, Clone)]
struct Expected {
    id: i64,
    owner_key: String,
    token_id: i64,
    selection: &'static str,
    repository_ids: Vec<i64>,
    permissions: Vec<String>,
    created_at: NaiveDateTime,
    last_used: Option<NaiveDateTime>,
}

/// The seeded world: pending requests of `acme` (the model), plus requests that must never be
/// listed for `acme`: its reviewed, cancelled and expired ones, and everything of `globex`.
#[derive(Debug)]
struct World {
    acme: OrgFixture,
    pending: Vec<Expected>,
    /// Repository keys of acme with their ids.
    repos: Vec<(String, i64)>,
    /// Requests of acme that are not pending, and every request of globex.
    never_listed: Vec<i64>,
}

const OWNERS: [&str; 3] = ["alice", "bob", "carol"];
/// Creation minutes: ties (3, 5, 9) and an order unrelated to the insertion (id) order.
const CREATED: [i64; 14] = [5, 3, 9, 3, 7, 1, 9, 2, 5, 8, 3, 6, 0, 9];
const LAST_USED: [Option<i64>; 5] = [None, Some(100), Some(200), Some(300), Some(400)];

fn permissions_of(i: usize) -> patgate_domain::RequestedPermissions {
    match i % 4 {
        0 => perms(&[("issues", Read)], &[]),
        1 => perms(&[("issues", Write)], &[]),
        2 => perms(
            &[("contents", Read), ("issues", Read)],
            &[("members", Read)],
        ),
        _ => perms(&[("metadata", Read)], &[]),
    }
}

fn seed_world(db: &Db) -> World {
    // As a server does once its follower runs: pages then start from the starts that earlier
    // pages found, and every walk below checks them against the model.
    db.changes().set_following(true);
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let globex = org(c, "globex", &app)?;
        let users = OWNERS
            .iter()
            .map(|login| user(c, login))
            .collect::<Result<Vec<_>, _>>()?;
        user(c, "dave")?; // has no requests at all
        let widgets = ensure_repo(c, acme.id(), "Widgets", true, t(0))?;
        let gadgets = ensure_repo(c, acme.id(), "gadgets", true, t(0))?;
        let unused = ensure_repo(c, acme.id(), "unused", false, t(0))?;
        let globex_widgets = ensure_repo(c, globex.id(), "widgets", true, t(0))?;

        let mut expected = Vec::new();
        let mut never_listed = Vec::new();
        for (i, minutes) in CREATED.iter().enumerate() {
            let owner = &users[i % OWNERS.len()];
            let last_used = LAST_USED[i % LAST_USED.len()].map(t);
            let tok = token(c, owner, &format!("token-{i}"), last_used)?;
            let selection = ["subset", "all", "none", "subset"][i % 4];
            let repository_ids = match (selection, i % 3) {
                ("subset", 0) => vec![widgets.id],
                ("subset", 1) => vec![gadgets.id],
                ("subset", _) => vec![widgets.id, gadgets.id],
                _ => Vec::new(),
            };
            let permissions = permissions_of(i);
            let request = pending(
                c,
                acme.id(),
                &tok,
                selection,
                &repository_ids,
                &permissions,
                t(*minutes),
            )?;
            let mut names: Vec<String> = permissions
                .entries()
                .map(|(k, l)| format!("{k}_{l}"))
                .collect();
            names.sort();
            expected.push(Expected {
                id: request.id,
                owner_key: owner.login_key.clone(),
                token_id: tok.id,
                selection,
                repository_ids,
                permissions: names,
                created_at: t(*minutes),
                last_used,
            });
            // The same token asks globex for everything, every filter would match it there.
            let other = pending(
                c,
                globex.id(),
                &tok,
                if i % 2 == 0 { "all" } else { "subset" },
                &[globex_widgets.id],
                &perms(&[("issues", Read), ("contents", Read)], &[]),
                t(*minutes),
            )?;
            never_listed.push(other.id);
        }

        // Requests of acme that match every filter but are no longer pending.
        let broad = perms(
            &[("issues", Read), ("contents", Read)],
            &[("members", Read)],
        );
        for (i, action) in [ReviewAction::Approve, ReviewAction::Deny]
            .iter()
            .enumerate()
        {
            let tok = token(c, &users[i], &format!("reviewed-{i}"), Some(t(150)))?;
            let r = pending(c, acme.id(), &tok, "all", &[], &broad, t(4))?;
            requests::review(c, &acme.review(&[r.id], *action, None, t(500)))
                .map_err(|e| patgate_persistence::StoreError::Conflict(e.to_string()))?;
            never_listed.push(r.id);
        }
        for (i, status) in ["cancelled", "expired"].iter().enumerate() {
            let tok = token(c, &users[i], &format!("closed-{i}"), Some(t(150)))?;
            let id: i64 = diesel::insert_into(pat_requests::table)
                .values(NewPatRequest {
                    org_id: acme.id(),
                    token_id: tok.id,
                    owner_id: tok.owner_id,
                    status,
                    reason: None,
                    repository_selection: "all",
                    permissions: r#"{"repository":{"issues":"read"}}"#,
                    created_at: t(4),
                    token_expires_at: None,
                    token_last_used_at: tok.last_used_at,
                })
                .returning(pat_requests::id)
                .get_result(c)?;
            never_listed.push(id);
        }

        Ok(World {
            acme,
            pending: expected,
            repos: vec![
                (widgets.name_key, widgets.id),
                (gadgets.name_key, gadgets.id),
                (unused.name_key, unused.id),
            ],
            never_listed,
        })
    })
}

impl World {
    fn repo(&self, key: &str) -> i64 {
        self.repos
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| *id)
            .expect("a seeded repository")
    }

    /// The ids `filter` should list, in the order the list must have.
    fn expected(&self, filter: &ListFilter) -> Vec<i64> {
        let repo = filter
            .repository_key
            .as_ref()
            .map(|key| self.repos.iter().find(|(k, _)| k == key).map(|(_, id)| *id));
        let mut rows: Vec<&Expected> = self
            .pending
            .iter()
            .filter(|r| filter.owner_keys.is_empty() || filter.owner_keys.contains(&r.owner_key))
            .filter(|r| filter.token_ids.is_empty() || filter.token_ids.contains(&r.token_id))
            .filter(|r| match repo {
                None => true,
                Some(None) => false,
                Some(Some(id)) => r.selection == "all" || r.repository_ids.contains(&id),
            })
            .filter(|r| {
                filter
                    .permission
                    .as_ref()
                    .is_none_or(|p| r.permissions.contains(p))
            })
            .filter(|r| {
                filter
                    .last_used_before
                    .is_none_or(|b| r.last_used.is_some_and(|u| u < b))
            })
            .filter(|r| {
                filter
                    .last_used_after
                    .is_none_or(|a| r.last_used.is_some_and(|u| u > a))
            })
            .collect();
        rows.sort_by_key(|r| (r.created_at, r.id));
        if !filter.ascending {
            rows.reverse();
        }
        rows.into_iter().map(|r| r.id).collect()
    }

    fn by_id(&self, id: i64) -> &Expected {
        self.pending
            .iter()
            .find(|r| r.id == id)
            .expect("a pending request of the model")
    }

    /// Ids of acme's pending requests for which `pred` holds (for hand-written expectations).
    fn ids_where(&self, pred: impl Fn(&Expected) -> bool) -> BTreeSet<i64> {
        self.pending
            .iter()
            .filter(|r| pred(r))
            .map(|r| r.id)
            .collect()
    }
}

/// One page of the list, checking that every row is a consistent pending request of acme.
fn list(
    db: &Db,
    world: &World,
    filter: &ListFilter,
    page: i64,
    per_page: i64,
) -> (Vec<i64>, Total) {
    let mut conn = db.conn().expect("a pooled connection");
    let starts = db.starts(world.acme.id());
    let (views, total) = requests::list_pending(
        &mut conn,
        world.acme.id(),
        filter,
        Page { page, per_page },
        &starts,
    )
    .expect("list_pending");
    for view in &views {
        let r = &view.request;
        assert_eq!(r.status, "pending", "request {}", r.id);
        assert_eq!(r.org_id, world.acme.id(), "request {}", r.id);
        assert_eq!(view.token.id, r.token_id, "token of request {}", r.id);
        assert_eq!(view.owner.id, r.owner_id, "owner of request {}", r.id);
        assert!(
            !world.never_listed.contains(&r.id),
            "request {} must not be listed",
            r.id
        );
        let model = world.by_id(r.id);
        assert_eq!(view.owner.login_key, model.owner_key);
        assert_eq!(r.token_last_used_at, model.last_used);
        assert_eq!(r.created_at, model.created_at);
    }
    (views.iter().map(|v| v.request.id).collect(), total)
}

/// The whole list in one page.
fn list_all(db: &Db, world: &World, filter: &ListFilter) -> (Vec<i64>, Total) {
    list(db, world, filter, 1, 100)
}

fn assert_lists_as_modelled(db: &Db, world: &World, filter: &ListFilter) -> Vec<i64> {
    let expected = world.expected(filter);
    let (ids, total) = list_all(db, world, filter);
    assert_eq!(ids, expected, "filter {filter:?}");
    assert_eq!(total, expected.len() as i64, "total for filter {filter:?}");
    for ascending in [false, true] {
        let flipped = ListFilter {
            ascending,
            ..filter.clone()
        };
        let (ids, total) = list_all(db, world, &flipped);
        assert_eq!(ids, world.expected(&flipped), "filter {flipped:?}");
        assert_eq!(total, expected.len() as i64);
    }
    expected
}

fn newest_first_by_creation_time_then_id(db: &Db) {
    let world = seed_world(db);
    let (ids, total) = list_all(db, &world, &ListFilter::default());
    assert_eq!(total, CREATED.len() as i64);
    assert_eq!(ids, world.expected(&ListFilter::default()));
    // Spelled out: creation times never increase, and ties go to the higher id first.
    for pair in ids.windows(2) {
        let (a, b) = (world.by_id(pair[0]), world.by_id(pair[1]));
        assert!(
            (a.created_at, a.id) > (b.created_at, b.id),
            "{} listed before {}",
            a.id,
            b.id
        );
    }
    let ties = ids
        .windows(2)
        .filter(|p| world.by_id(p[0]).created_at == world.by_id(p[1]).created_at)
        .count();
    assert!(ties >= 3, "the data set has ties on created_at");
}
both_backends!(newest_first_by_creation_time_then_id);

fn oldest_first_when_ascending(db: &Db) {
    let world = seed_world(db);
    let filter = ListFilter {
        ascending: true,
        ..ListFilter::default()
    };
    let (ids, _) = list_all(db, &world, &filter);
    let (descending, _) = list_all(db, &world, &ListFilter::default());
    let mut reversed = descending.clone();
    reversed.reverse();
    assert_eq!(ids, reversed);
    assert_eq!(ids, world.expected(&filter));
}
both_backends!(oldest_first_when_ascending);

fn pages_cover_every_request_exactly_once(db: &Db) {
    let world = seed_world(db);
    let filters = [
        ListFilter::default(),
        ListFilter {
            ascending: true,
            ..ListFilter::default()
        },
        ListFilter {
            owner_keys: vec!["alice".into(), "carol".into()],
            ..ListFilter::default()
        },
    ];
    for filter in &filters {
        let all = world.expected(filter);
        let n = all.len() as i64;
        for per_page in [1, 2, 5, n - 1, n, n + 1, 100] {
            let mut seen = Vec::new();
            let pages = (n + per_page - 1) / per_page;
            for page in 1..=pages {
                let (ids, total) = list(db, &world, filter, page, per_page);
                // Exact within the pages read ahead; a lower bound beyond them.
                let offset = (page - 1) * per_page;
                let window = per_page * (COUNT_AHEAD_PAGES + 1) + 1;
                let expected_total = if n - offset >= window {
                    Total::AtLeast(offset + window)
                } else {
                    Total::Exact(n)
                };
                assert_eq!(
                    total, expected_total,
                    "total on page {page} of {per_page} ({filter:?})"
                );
                let start = ((page - 1) * per_page) as usize;
                let end = (start + per_page as usize).min(all.len());
                assert_eq!(
                    ids,
                    all[start..end],
                    "page {page} of {per_page} ({filter:?})"
                );
                seen.extend(ids);
            }
            let distinct: BTreeSet<i64> = seen.iter().copied().collect();
            assert_eq!(distinct.len(), seen.len(), "no request on two pages");
            assert_eq!(seen, all, "the pages together are the whole list");
            for past in [pages + 1, pages + 10] {
                let (ids, total) = list(db, &world, filter, past, per_page);
                assert!(ids.is_empty(), "page {past} of {per_page} is past the end");
                assert_eq!(total, n, "the total is kept past the end");
            }
        }
    }
}
both_backends!(pages_cover_every_request_exactly_once);

fn filters_by_owner_logins(db: &Db) {
    let world = seed_world(db);
    for owners in [
        vec!["alice"],
        vec!["bob", "carol"],
        vec!["alice", "dave"],
        vec!["dave"],
        vec!["nobody"],
    ] {
        let filter = ListFilter {
            owner_keys: owners.iter().map(|s| (*s).to_owned()).collect(),
            ..ListFilter::default()
        };
        let ids = assert_lists_as_modelled(db, &world, &filter);
        let by_hand = world.ids_where(|r| owners.contains(&r.owner_key.as_str()));
        assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), by_hand);
    }
    let two = ListFilter {
        owner_keys: vec!["bob".into(), "carol".into()],
        ..ListFilter::default()
    };
    assert_eq!(
        list_all(db, &world, &two).1,
        9,
        "bob and carol have 9 between them"
    );
}
both_backends!(filters_by_owner_logins);

fn filters_by_token_ids(db: &Db) {
    let world = seed_world(db);
    let tokens: Vec<i64> = world.pending.iter().map(|r| r.token_id).collect();
    for chosen in [
        vec![tokens[0]],
        vec![tokens[1], tokens[5], tokens[13]],
        vec![tokens[2], i64::MAX],
        vec![i64::MAX],
    ] {
        let filter = ListFilter {
            token_ids: chosen.clone(),
            ..ListFilter::default()
        };
        let ids = assert_lists_as_modelled(db, &world, &filter);
        assert_eq!(
            ids.iter().copied().collect::<BTreeSet<_>>(),
            world.ids_where(|r| chosen.contains(&r.token_id))
        );
    }
}
both_backends!(filters_by_token_ids);

fn filters_by_repository_including_requests_for_all_repositories(db: &Db) {
    let world = seed_world(db);
    let widgets = world.repo("widgets");
    let filter = ListFilter {
        repository_key: Some("widgets".into()),
        ..ListFilter::default()
    };
    let ids: BTreeSet<i64> = assert_lists_as_modelled(db, &world, &filter)
        .into_iter()
        .collect();
    let all = world.ids_where(|r| r.selection == "all");
    let subset_with =
        world.ids_where(|r| r.selection == "subset" && r.repository_ids.contains(&widgets));
    let subset_without =
        world.ids_where(|r| r.selection == "subset" && !r.repository_ids.contains(&widgets));
    let none = world.ids_where(|r| r.selection == "none");
    for (name, set) in [
        ("all", &all),
        ("subset with", &subset_with),
        ("subset without", &subset_without),
        ("none", &none),
    ] {
        assert!(!set.is_empty(), "the data set has '{name}' requests");
    }
    assert!(ids.is_superset(&all), "requests for all repositories match");
    assert!(
        ids.is_superset(&subset_with),
        "requests naming the repository match"
    );
    assert!(ids.is_disjoint(&subset_without));
    assert!(ids.is_disjoint(&none));
    assert_eq!(ids.len(), all.len() + subset_with.len());

    // A repository nobody names explicitly: only the "all" requests.
    let unused = ListFilter {
        repository_key: Some("unused".into()),
        ..ListFilter::default()
    };
    let (ids, total) = list_all(db, &world, &unused);
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), all);
    assert_eq!(total, all.len() as i64);
    assert_lists_as_modelled(
        db,
        &world,
        &ListFilter {
            repository_key: Some("gadgets".into()),
            ..ListFilter::default()
        },
    );
}
both_backends!(filters_by_repository_including_requests_for_all_repositories);

fn an_unknown_repository_lists_nothing(db: &Db) {
    let world = seed_world(db);
    for key in ["no-such-repo", "Widgets"] {
        // Keys are case-folded by the caller; "Widgets" is not a key.
        let filter = ListFilter {
            repository_key: Some(key.into()),
            ..ListFilter::default()
        };
        for page in [1, 2] {
            let (ids, total) = list(db, &world, &filter, page, 5);
            assert!(ids.is_empty(), "{key}");
            assert_eq!(total, 0, "{key}");
        }
    }
}
both_backends!(an_unknown_repository_lists_nothing);

fn filters_by_permission_at_its_exact_level(db: &Db) {
    let world = seed_world(db);
    let with_permission = |permission: &str| -> BTreeSet<i64> {
        let filter = ListFilter {
            permission: Some(permission.into()),
            ..ListFilter::default()
        };
        assert_lists_as_modelled(db, &world, &filter)
            .into_iter()
            .collect()
    };
    let issues_read = with_permission("issues_read");
    let issues_write = with_permission("issues_write");
    assert!(!issues_read.is_empty() && !issues_write.is_empty());
    assert!(
        issues_read.is_disjoint(&issues_write),
        "a level is matched exactly"
    );
    assert_eq!(
        issues_read,
        world.ids_where(|r| r.permissions.iter().any(|p| p == "issues_read"))
    );
    // An organization permission is indexed like a repository one.
    let members = assert_lists_as_modelled(
        db,
        &world,
        &ListFilter {
            permission: Some("members_read".into()),
            ..ListFilter::default()
        },
    );
    assert_eq!(members.len(), 3, "i % 4 == 2 for i in 0..14");
    for absent in ["issues_admin", "members_write", "nothing_read"] {
        let filter = ListFilter {
            permission: Some(absent.into()),
            ..ListFilter::default()
        };
        assert_eq!(
            list_all(db, &world, &filter),
            (Vec::new(), Total::Exact(0)),
            "{absent}"
        );
    }
}
both_backends!(filters_by_permission_at_its_exact_level);

fn filters_by_last_use_and_never_matches_unused_tokens(db: &Db) {
    let world = seed_world(db);
    let never_used = world.ids_where(|r| r.last_used.is_none());
    assert!(!never_used.is_empty());
    let cases = [
        (Some(t(250)), None),
        (Some(t(200)), None), // strictly before
        (None, Some(t(250))),
        (None, Some(t(300))), // strictly after
        (Some(t(10_000)), None),
        (None, Some(t(-10_000))),
        (Some(t(350)), Some(t(150))),
        (Some(t(150)), Some(t(350))), // an empty window
    ];
    for (before, after) in cases {
        let filter = ListFilter {
            last_used_before: before,
            last_used_after: after,
            ..ListFilter::default()
        };
        let ids: BTreeSet<i64> = assert_lists_as_modelled(db, &world, &filter)
            .into_iter()
            .collect();
        assert!(
            ids.is_disjoint(&never_used),
            "never-used tokens never match {filter:?}"
        );
    }
    // Every used token is before a far future and after a far past.
    let used = world.ids_where(|r| r.last_used.is_some());
    for filter in [
        ListFilter {
            last_used_before: Some(t(10_000)),
            ..ListFilter::default()
        },
        ListFilter {
            last_used_after: Some(t(-10_000)),
            ..ListFilter::default()
        },
    ] {
        let (ids, _) = list_all(db, &world, &filter);
        assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), used);
    }
    let strictly = ListFilter {
        last_used_before: Some(t(200)),
        ..ListFilter::default()
    };
    assert_eq!(
        list_all(db, &world, &strictly)
            .0
            .into_iter()
            .collect::<BTreeSet<_>>(),
        world.ids_where(|r| r.last_used == Some(t(100)))
    );
}
both_backends!(filters_by_last_use_and_never_matches_unused_tokens);

fn combined_filters_match_every_condition(db: &Db) {
    let world = seed_world(db);
    let tokens: Vec<i64> = world.pending.iter().map(|r| r.token_id).collect();
    let filters = [
        ListFilter {
            owner_keys: vec!["alice".into()],
            permission: Some("issues_read".into()),
            ..ListFilter::default()
        },
        ListFilter {
            repository_key: Some("widgets".into()),
            last_used_before: Some(t(350)),
            ..ListFilter::default()
        },
        ListFilter {
            owner_keys: vec!["alice".into(), "bob".into()],
            token_ids: tokens[..8].to_vec(),
            last_used_after: Some(t(50)),
            ..ListFilter::default()
        },
        ListFilter {
            owner_keys: vec!["alice".into(), "bob".into(), "carol".into()],
            repository_key: Some("gadgets".into()),
            permission: Some("issues_read".into()),
            last_used_before: Some(t(450)),
            last_used_after: Some(t(150)),
            token_ids: tokens.clone(),
            ascending: true,
        },
        ListFilter {
            owner_keys: vec!["carol".into()],
            token_ids: vec![tokens[0]], // alice's token: nothing matches both
            ..ListFilter::default()
        },
    ];
    let mut non_empty = 0;
    for filter in &filters {
        if !assert_lists_as_modelled(db, &world, filter).is_empty() {
            non_empty += 1;
        }
        // Paging applies to the combination as well.
        let all = world.expected(filter);
        let (first, total) = list(db, &world, filter, 1, 2);
        // Filters that probe every row walked count one page ahead, the others ten.
        let probed = filter.permission.is_some()
            || filter.repository_key.is_some()
            || filter.last_used_before.is_some()
            || filter.last_used_after.is_some();
        let ahead = if probed {
            COUNT_AHEAD_PAGES_PROBED
        } else {
            COUNT_AHEAD_PAGES
        };
        let window = 2 * (ahead + 1) + 1;
        let n = all.len() as i64;
        let expected_total = if n >= window {
            Total::AtLeast(window)
        } else {
            Total::Exact(n)
        };
        assert_eq!(total, expected_total, "{filter:?}");
        assert_eq!(first, all[..all.len().min(2)]);
    }
    assert!(non_empty >= 3, "most combinations select something");
}
both_backends!(combined_filters_match_every_condition);

fn only_pending_requests_of_the_organization_are_listed(db: &Db) {
    let world = seed_world(db);
    assert_eq!(world.never_listed.len(), CREATED.len() + 4);
    let broad = [
        ListFilter::default(),
        ListFilter {
            repository_key: Some("widgets".into()),
            ..ListFilter::default()
        },
        ListFilter {
            permission: Some("issues_read".into()),
            ..ListFilter::default()
        },
        ListFilter {
            last_used_before: Some(t(160)),
            last_used_after: Some(t(140)),
            ..ListFilter::default()
        },
        ListFilter {
            owner_keys: OWNERS.iter().map(|s| (*s).to_owned()).collect(),
            ..ListFilter::default()
        },
    ];
    for filter in &broad {
        // `list` asserts that no row is one of `never_listed`.
        assert_lists_as_modelled(db, &world, filter);
    }
    // The other organization sees its own requests only.
    let mut conn = db.conn().expect("a pooled connection");
    let globex = patgate_persistence::directory::org_by_login(&mut conn, "GLOBEX")
        .expect("org lookup")
        .expect("globex exists");
    let (views, total) = requests::list_pending(
        &mut conn,
        globex.id,
        &ListFilter::default(),
        Page {
            page: 1,
            per_page: 100,
        },
        &Starts::none(),
    )
    .expect("list_pending for globex");
    assert_eq!(total, CREATED.len() as i64);
    assert!(views.iter().all(|v| v.request.org_id == globex.id));
    let acme_ids: BTreeSet<i64> = world.pending.iter().map(|r| r.id).collect();
    assert!(views.iter().all(|v| !acme_ids.contains(&v.request.id)));
    // An organization without requests, and one that does not exist.
    for org_id in [i64::MAX, -1] {
        let (views, total) = requests::list_pending(
            &mut conn,
            org_id,
            &ListFilter::default(),
            Page {
                page: 1,
                per_page: 100,
            },
            &Starts::none(),
        )
        .expect("list_pending for an unknown org");
        assert!(views.is_empty());
        assert_eq!(total, 0);
    }
}
both_backends!(only_pending_requests_of_the_organization_are_listed);
