//! `requests::review`: grants and review rows on approval and denial, and all-or-nothing refusals.

use diesel::prelude::*;
use patgate_domain::{AccessLevel, RequestEvent, RequestState, ReviewAction, TransitionError};
use patgate_persistence::models::{NewPatRequest, PatRequest};
use patgate_persistence::requests::{self, ReviewError};
use patgate_persistence::schema::{pat_grants, pat_request_reviews, pat_requests};
use patgate_persistence::seed::ensure_repo;
use patgate_persistence::Db;
use patgate_persistence::Touches;

use crate::common::{
    app, grants_of, org, pending, perms, read, request_row, reviews_of, snapshot, t, token, user,
    write, OrgFixture,
};

use ReviewAction::{Approve, Deny};

/// Two organizations with the reviewing app installed; five pending requests of acme (by
/// alice and bob, with different selections and last uses) and one of globex.
#[derive(Debug)]
struct Fixture {
    acme: OrgFixture,
    globex: OrgFixture,
    requests: Vec<PatRequest>,
    globex_request: PatRequest,
}

fn fixture(db: &Db) -> Fixture {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let globex = org(c, "globex", &app)?;
        let alice = user(c, "alice")?;
        let bob = user(c, "bob")?;
        let repo = ensure_repo(c, acme.id(), "widgets", true, t(0))?;
        let mut requests = Vec::new();
        for i in 0..5 {
            let owner = if i % 2 == 0 { &alice } else { &bob };
            let last_used = (i != 0).then(|| t(100 + i));
            let tok = token(c, owner, &format!("token-{i}"), last_used)?;
            let (selection, repos): (&str, &[i64]) = match i % 3 {
                0 => ("subset", &[repo.id]),
                1 => ("all", &[]),
                _ => ("none", &[]),
            };
            requests.push(pending(
                c,
                acme.id(),
                &tok,
                selection,
                repos,
                &perms(
                    &[("issues", AccessLevel::Read)],
                    &[("members", AccessLevel::Read)],
                ),
                t(i),
            )?);
        }
        let tok = token(c, &alice, "token-globex", None)?;
        let globex_request = pending(
            c,
            globex.id(),
            &tok,
            "all",
            &[],
            &perms(&[("contents", AccessLevel::Write)], &[]),
            t(9),
        )?;
        Ok(Fixture {
            acme,
            globex,
            requests,
            globex_request,
        })
    })
}

fn ids(requests: &[PatRequest]) -> Vec<i64> {
    requests.iter().map(|r| r.id).collect()
}

fn count_grants(db: &Db) -> i64 {
    read(db, |c| pat_grants::table.count().get_result(c))
}

fn count_reviews(db: &Db) -> i64 {
    read(db, |c| pat_request_reviews::table.count().get_result(c))
}

fn review(
    db: &Db,
    org: &OrgFixture,
    ids: &[i64],
    action: ReviewAction,
    reason: Option<&str>,
) -> Result<(), ReviewError> {
    db.write(Touches::Everything, |c| {
        requests::review(c, &org.review(ids, action, reason, t(1000)))
    })
}

fn refused(from: RequestState, event: RequestEvent) -> TransitionError {
    TransitionError { from, event }
}

/// The ids and refusals of a `NotPending` error, failing the test on any other outcome.
fn not_pending(result: Result<(), ReviewError>) -> Vec<(i64, TransitionError)> {
    match result {
        Err(ReviewError::NotPending(refusals)) => refusals,
        other => panic!("expected NotPending, got {other:?}"),
    }
}

fn unknown(result: Result<(), ReviewError>) -> Vec<i64> {
    match result {
        Err(ReviewError::Unknown(ids)) => ids,
        other => panic!("expected Unknown, got {other:?}"),
    }
}

fn approval_creates_exactly_one_grant_per_request_and_records_the_review(db: &Db) {
    let f = fixture(db);
    let approved = &f.requests[..3];
    review(db, &f.acme, &ids(approved), Approve, Some("looks fine")).expect("approve three");

    for request in approved {
        let row = request_row(db, request.id);
        assert_eq!(row.status, "approved");
        assert_eq!(row.reviewed_at, Some(t(1000)));

        let grants = grants_of(db, request.id);
        assert_eq!(grants.len(), 1, "one grant for request {}", request.id);
        let grant = &grants[0];
        assert_eq!(grant.org_id, f.acme.id());
        assert_eq!(grant.token_id, request.token_id);
        assert_eq!(grant.owner_id, request.owner_id);
        assert_eq!(grant.status, "active");
        assert_eq!(grant.repository_selection, request.repository_selection);
        assert_eq!(grant.permissions, request.permissions);
        assert_eq!(grant.access_granted_at, t(1000));
        assert_eq!(grant.ended_at, None);
        assert_eq!(grant.token_expires_at, request.token_expires_at);
        assert_eq!(grant.token_last_used_at, request.token_last_used_at);

        let reviews = reviews_of(db, request.id);
        assert_eq!(
            reviews.len(),
            1,
            "one review row for request {}",
            request.id
        );
        let r = &reviews[0];
        assert_eq!(r.org_id, f.acme.id());
        assert_eq!(r.app_id, f.acme.installation.app_id);
        assert_eq!(r.installation_id, f.acme.installation.id);
        assert_eq!(r.action, "approve");
        assert_eq!(r.reason.as_deref(), Some("looks fine"));
        assert_eq!(r.created_at, t(1000));
    }
    assert_eq!(count_grants(db), 3, "no grant for anything else");
    assert_eq!(count_reviews(db), 3);
    for untouched in &f.requests[3..] {
        assert_eq!(request_row(db, untouched.id).status, "pending");
    }
    assert_eq!(request_row(db, f.globex_request.id).status, "pending");

    // A single approval without a reason.
    review(db, &f.acme, &[f.requests[3].id], Approve, None).expect("approve one");
    assert_eq!(grants_of(db, f.requests[3].id).len(), 1);
    let reviews = reviews_of(db, f.requests[3].id);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].reason, None);
    assert_eq!(count_grants(db), 4);
}
both_backends!(approval_creates_exactly_one_grant_per_request_and_records_the_review);

fn denial_records_the_reason_and_creates_no_grant(db: &Db) {
    let f = fixture(db);
    let denied = [f.requests[1].id, f.requests[4].id];
    review(db, &f.acme, &denied, Deny, Some("too broad")).expect("deny two");
    for id in denied {
        let row = request_row(db, id);
        assert_eq!(row.status, "denied");
        assert_eq!(row.reviewed_at, Some(t(1000)));
        assert!(grants_of(db, id).is_empty(), "no grant for denied {id}");
        let reviews = reviews_of(db, id);
        assert_eq!(reviews.len(), 1);
        assert_eq!(reviews[0].action, "deny");
        assert_eq!(reviews[0].reason.as_deref(), Some("too broad"));
        assert_eq!(reviews[0].app_id, f.acme.installation.app_id);
        assert_eq!(reviews[0].installation_id, f.acme.installation.id);
        assert_eq!(reviews[0].org_id, f.acme.id());
    }
    assert_eq!(count_grants(db), 0);
    assert_eq!(count_reviews(db), 2);
}
both_backends!(denial_records_the_reason_and_creates_no_grant);

fn a_reviewed_request_cannot_be_reviewed_again(db: &Db) {
    let f = fixture(db);
    let (a, d) = (f.requests[0].id, f.requests[1].id);
    review(db, &f.acme, &[a], Approve, None).expect("approve");
    review(db, &f.acme, &[d], Deny, None).expect("deny");
    let before = snapshot(db);

    let cases = [
        (a, Approve, RequestState::Approved, RequestEvent::Approve),
        (a, Deny, RequestState::Approved, RequestEvent::Deny),
        (d, Approve, RequestState::Denied, RequestEvent::Approve),
        (d, Deny, RequestState::Denied, RequestEvent::Deny),
    ];
    for (id, action, from, event) in cases {
        let refusals = not_pending(review(db, &f.acme, &[id], action, Some("again")));
        assert_eq!(refusals, vec![(id, refused(from, event))]);
        assert_eq!(snapshot(db), before, "a refused review changes nothing");
    }
    assert_eq!(grants_of(db, a).len(), 1, "still exactly one grant");

    // Requests closed otherwise are refused the same way.
    let closed: Vec<(i64, RequestState)> = write(db, |c| {
        let owner = user(c, "carol")?;
        let mut closed = Vec::new();
        for state in [RequestState::Cancelled, RequestState::Expired] {
            let tok = token(c, &owner, state.as_str(), None)?;
            let id = diesel::insert_into(pat_requests::table)
                .values(NewPatRequest {
                    org_id: f.acme.id(),
                    token_id: tok.id,
                    owner_id: owner.id,
                    status: state.as_str(),
                    reason: None,
                    repository_selection: "all",
                    permissions: "{}",
                    created_at: t(5),
                    token_expires_at: None,
                    token_last_used_at: None,
                })
                .returning(pat_requests::id)
                .get_result(c)?;
            closed.push((id, state));
        }
        Ok(closed)
    });
    let before = snapshot(db);
    for (id, state) in closed {
        let refusals = not_pending(review(db, &f.acme, &[id], Approve, None));
        assert_eq!(refusals, vec![(id, refused(state, RequestEvent::Approve))]);
    }
    assert_eq!(snapshot(db), before);
}
both_backends!(a_reviewed_request_cannot_be_reviewed_again);

fn a_bulk_review_naming_an_unknown_id_changes_nothing(db: &Db) {
    let f = fixture(db);
    let before = snapshot(db);
    let missing = f.globex_request.id + 1000;
    for action in [Approve, Deny] {
        let mut named = ids(&f.requests);
        named.insert(2, missing);
        assert_eq!(
            unknown(review(db, &f.acme, &named, action, Some("bulk"))),
            vec![missing]
        );
        assert_eq!(snapshot(db), before, "nothing changed after {action:?}");
    }
    assert_eq!(count_grants(db), 0);
    assert_eq!(count_reviews(db), 0);
    // Several unknown ids are all named, in the order given.
    let named = [missing + 1, f.requests[0].id, missing];
    assert_eq!(
        unknown(review(db, &f.acme, &named, Approve, None)),
        vec![missing + 1, missing]
    );
    assert_eq!(snapshot(db), before);
}
both_backends!(a_bulk_review_naming_an_unknown_id_changes_nothing);

fn a_bulk_review_naming_a_non_pending_id_changes_nothing(db: &Db) {
    let f = fixture(db);
    let done = f.requests[2].id;
    review(db, &f.acme, &[done], Approve, None).expect("approve one first");
    let before = snapshot(db);
    for (action, event) in [(Approve, RequestEvent::Approve), (Deny, RequestEvent::Deny)] {
        let refusals = not_pending(review(db, &f.acme, &ids(&f.requests), action, None));
        assert_eq!(
            refusals,
            vec![(done, refused(RequestState::Approved, event))]
        );
        assert_eq!(snapshot(db), before, "nothing changed after {action:?}");
    }
    for r in &f.requests {
        let expected = if r.id == done { "approved" } else { "pending" };
        assert_eq!(request_row(db, r.id).status, expected);
    }
    assert_eq!(count_grants(db), 1);
    assert_eq!(count_reviews(db), 1);
}
both_backends!(a_bulk_review_naming_a_non_pending_id_changes_nothing);

fn a_request_of_another_organization_counts_as_unknown(db: &Db) {
    let f = fixture(db);
    let before = snapshot(db);
    let theirs = f.globex_request.id;
    assert_eq!(
        unknown(review(db, &f.acme, &[theirs], Approve, None)),
        vec![theirs]
    );
    let named = [f.requests[0].id, theirs, f.requests[1].id];
    assert_eq!(
        unknown(review(db, &f.acme, &named, Deny, None)),
        vec![theirs]
    );
    assert_eq!(snapshot(db), before);
    // Its own organization can review it.
    review(db, &f.globex, &[theirs], Approve, None).expect("globex approves its own");
    assert_eq!(request_row(db, theirs).status, "approved");
    assert_eq!(grants_of(db, theirs)[0].org_id, f.globex.id());
    assert_eq!(
        reviews_of(db, theirs)[0].installation_id,
        f.globex.installation.id
    );
}
both_backends!(a_request_of_another_organization_counts_as_unknown);
