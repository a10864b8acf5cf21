//! Property tests of patgate-domain's rules, through its public API only.
//!
//! Each property is checked against a small reference model written here (regex-free
//! predicates, a fold over event sequences) rather than against the implementation itself.

use std::collections::{BTreeMap, BTreeSet};

use patgate_domain::{
    classify, parse_authorization, AccessLevel, AuthScheme, Credential, CredentialKind, GrantEvent,
    GrantState, IdList, Login, NameError, NarrowError, Operation, PermissionFilter, PermissionSet,
    RepoName, RequestEvent, RequestState, RequestedPermissions, ReviewAction, ReviewReason,
    TransitionError, ValidationError, MAX_IDS, MAX_REASON_CHARS, PAT_GRANTS_PERMISSION,
    PAT_REQUESTS_PERMISSION,
};
use proptest::collection::{btree_map, hash_set, vec};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------------
// Generators and reference models
// ---------------------------------------------------------------------------------------------

const REQUEST_EVENTS: [RequestEvent; 4] = [
    RequestEvent::Approve,
    RequestEvent::Deny,
    RequestEvent::Cancel,
    RequestEvent::Expire,
];
const GRANT_EVENTS: [GrantEvent; 2] = [GrantEvent::Revoke, GrantEvent::Expire];
const LEVELS: [AccessLevel; 3] = [AccessLevel::Read, AccessLevel::Write, AccessLevel::Admin];

/// The prefixes of the plain (non-JWT) GitHub token kinds and what each classifies to.
const PREFIXED: [(&str, CredentialKind); 4] = [
    ("ghp_", CredentialKind::ClassicPat),
    ("gho_", CredentialKind::OAuth),
    ("ghu_", CredentialKind::UserToServer),
    ("ghr_", CredentialKind::Refresh),
];
/// Every prefix `classify` treats specially.
const ALL_PREFIXES: [&str; 6] = ["ghp_", "gho_", "ghu_", "ghr_", "ghs_", "github_pat_"];

fn request_event() -> impl Strategy<Value = RequestEvent> {
    select(REQUEST_EVENTS.to_vec())
}

fn request_state() -> impl Strategy<Value = RequestState> {
    select(RequestState::ALL.to_vec())
}

fn final_request_state() -> impl Strategy<Value = RequestState> {
    select(
        RequestState::ALL
            .into_iter()
            .filter(|s| *s != RequestState::Pending)
            .collect::<Vec<_>>(),
    )
}

fn grant_event() -> impl Strategy<Value = GrantEvent> {
    select(GRANT_EVENTS.to_vec())
}

fn final_grant_state() -> impl Strategy<Value = GrantState> {
    select(vec![GrantState::Revoked, GrantState::Expired])
}

fn level() -> impl Strategy<Value = AccessLevel> {
    select(LEVELS.to_vec())
}

/// Where `event` takes a pending request.
fn request_target(event: RequestEvent) -> RequestState {
    match event {
        RequestEvent::Approve => RequestState::Approved,
        RequestEvent::Deny => RequestState::Denied,
        RequestEvent::Cancel => RequestState::Cancelled,
        RequestEvent::Expire => RequestState::Expired,
    }
}

/// Where `event` takes an active grant.
fn grant_target(event: GrantEvent) -> GrantState {
    match event {
        GrantEvent::Revoke => GrantState::Revoked,
        GrantEvent::Expire => GrantState::Expired,
    }
}

/// Names that look like state names but are not exactly one.
fn state_name_candidates() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "pending",
            "approved",
            "denied",
            "cancelled",
            "expired",
            "active",
            "revoked",
            "Pending",
            "APPROVED",
            " denied",
            "expired ",
            "canceled",
            "",
            "revoke",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z ]{0,10}",
        any::<String>(),
    ]
}

/// A small pool of keys so that held and requested sets overlap often.
fn pooled_key() -> impl Strategy<Value = String> {
    select(vec![
        "issues",
        "members",
        "metadata",
        "pull_requests",
        "a",
        "x_1",
        PAT_REQUESTS_PERMISSION,
        PAT_GRANTS_PERMISSION,
    ])
    .prop_map(str::to_owned)
}

fn permission_map() -> impl Strategy<Value = BTreeMap<String, AccessLevel>> {
    btree_map(pooled_key(), level(), 0..=6)
}

fn set_of(map: &BTreeMap<String, AccessLevel>) -> PermissionSet {
    PermissionSet::from_pairs(map.iter().map(|(k, l)| (k.clone(), *l)))
        .expect("pooled keys are well formed")
}

/// GitHub's permission key shape: 1–100 of lowercase ASCII letters, digits and `_`.
fn reference_permission_key(key: &str) -> bool {
    let chars: Vec<char> = key.chars().collect();
    (1..=100).contains(&chars.len())
        && chars
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
}

fn reference_level(raw: &str) -> Option<AccessLevel> {
    LEVELS.into_iter().find(|l| l.as_str() == raw)
}

/// Three dot-separated base64url segments, the first two non-empty, at most 4096 bytes.
fn reference_jwt_shaped(s: &str) -> bool {
    let segments: Vec<&str> = s.split('.').collect();
    let b64url = |seg: &str| {
        seg.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    s.len() <= 4096
        && segments.len() == 3
        && !segments[0].is_empty()
        && !segments[1].is_empty()
        && segments.iter().all(|seg| b64url(seg))
}

fn jwt_shaped() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9_-]{1,40}",
        "[A-Za-z0-9_-]{1,60}",
        "[A-Za-z0-9_-]{0,80}",
    )
        .prop_map(|(h, p, s)| format!("{h}.{p}.{s}"))
}

/// Dotted strings that are often, but not always, JWT-shaped: segments may be empty, there may
/// be two or four of them, and a segment may hold a character outside base64url.
fn jwt_like() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            4 => "[A-Za-z0-9_-]{0,6}",
            1 => "[A-Za-z0-9_=+/ -]{0,6}",
        ],
        2..=4,
    )
    .prop_map(|segments| segments.join("."))
}

fn has_known_prefix(s: &str) -> bool {
    ALL_PREFIXES.iter().any(|p| s.starts_with(p))
}

/// Strings of every shape `classify` distinguishes, plus noise.
fn credential_candidates() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9._ -]{0,60}",
        jwt_shaped(),
        jwt_like(),
        (
            select(vec![
                "",
                "gh",
                "ghp_",
                "gho_",
                "ghu_",
                "ghr_",
                "ghs_",
                "github_pat_",
                "GHP_"
            ]),
            prop_oneof![
                "[A-Za-z0-9._-]{0,60}",
                jwt_shaped(),
                jwt_like(),
                any::<String>()
            ],
        )
            .prop_map(|(p, rest)| format!("{p}{rest}")),
    ]
}

fn reference_login(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    !chars.is_empty()
        && chars.len() <= 39
        && chars.iter().all(|c| c.is_ascii_alphanumeric() || *c == '-')
        && chars[0] != '-'
        && chars[chars.len() - 1] != '-'
}

fn reference_repo_name(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    !chars.is_empty()
        && chars.len() <= 100
        && chars
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && s != "."
        && s != ".."
}

/// 1..=MAX_IDS distinct positive ids.
fn reference_id_list(ids: &[i64]) -> bool {
    !ids.is_empty()
        && ids.len() <= MAX_IDS
        && ids.iter().all(|id| *id > 0)
        && ids.iter().collect::<BTreeSet<_>>().len() == ids.len()
}

/// The refusal `IdList::parse` is documented to give, checked in order.
fn reference_id_error(ids: &[i64]) -> Option<ValidationError> {
    if ids.is_empty() {
        return Some(ValidationError::NoIds);
    }
    if ids.len() > MAX_IDS {
        return Some(ValidationError::TooManyIds { len: ids.len() });
    }
    if let Some(bad) = ids.iter().find(|id| **id <= 0) {
        return Some(ValidationError::BadId(*bad));
    }
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(*id).or_default() += 1;
    }
    let repeated: Vec<i64> = counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect();
    (!repeated.is_empty()).then_some(ValidationError::DuplicateIds(repeated))
}

fn id_vectors() -> impl Strategy<Value = Vec<i64>> {
    let distinct_positive =
        |len: std::ops::RangeInclusive<usize>| hash_set(1..=i64::MAX, len).prop_map(Vec::from_iter);
    prop_oneof![
        // small values: zero, negatives and duplicates are likely
        vec(-3i64..30, 0..8),
        vec(any::<i64>(), 0..=120),
        distinct_positive(0..=110),
        // right around the limit
        distinct_positive(95..=105),
        // a valid list with one id repeated or spoiled
        (
            distinct_positive(1..=100),
            any::<prop::sample::Index>(),
            -2i64..=0
        )
            .prop_map(|(mut ids, at, spoil)| {
                let i = at.index(ids.len());
                if spoil == 0 {
                    ids.push(ids[i]);
                } else {
                    ids[i] = spoil;
                }
                ids
            }),
    ]
}

/// Unicode text whose character count lies around [`MAX_REASON_CHARS`].
fn reason_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        Just('a'),
        Just('é'),
        Just('€'),
        Just('😀'),
        Just('\u{301}'),
        any::<char>(),
    ];
    prop_oneof![
        vec(ch, 1000..=1050).prop_map(String::from_iter),
        (
            select(vec!['a', 'é', '€', '😀', '\u{301}']),
            1020usize..=1030
        )
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
        any::<String>(),
    ]
}

fn expected_scheme(word: &str) -> AuthScheme {
    match word.to_ascii_lowercase().as_str() {
        "bearer" => AuthScheme::Bearer,
        "token" => AuthScheme::Token,
        "basic" => AuthScheme::Basic,
        _ => AuthScheme::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// Request and grant state machines
// ---------------------------------------------------------------------------------------------

/// A request's or a grant's state machine, seen one way: its states and events, and what an
/// event does (the next state, or the refusal: a `TransitionError` for requests, nothing more
/// for grants).
trait Machine: Copy + Eq + std::fmt::Debug + 'static {
    type Event: Copy + std::fmt::Debug + 'static;
    type Refusal: std::fmt::Debug;
    const STATES: &'static [Self];
    const EVENTS: &'static [Self::Event];
    fn step(self, event: Self::Event) -> Result<Self, Self::Refusal>;
    fn ends(self) -> bool;
    fn name(self) -> &'static str;
    fn from_name(raw: &str) -> Option<Self>;
}

/// Implements [`Machine`] for `$state` (with `ALL`, `is_final`, `as_str` and `parse`), whose
/// events are `$events`: `$step` takes `$s` by `$e`.
macro_rules! machine {
    ($state:ident, $event:ty, $refusal:ty, $events:expr, |$s:ident, $e:ident| $step:expr) => {
        impl Machine for $state {
            type Event = $event;
            type Refusal = $refusal;
            const STATES: &'static [Self] = &$state::ALL;
            const EVENTS: &'static [$event] = &$events;
            fn step(self, $e: $event) -> Result<Self, $refusal> {
                let $s = self;
                $step
            }
            fn ends(self) -> bool {
                self.is_final()
            }
            fn name(self) -> &'static str {
                self.as_str()
            }
            fn from_name(raw: &str) -> Option<Self> {
                $state::parse(raw)
            }
        }
    };
}

machine!(
    RequestState,
    RequestEvent,
    TransitionError,
    REQUEST_EVENTS,
    |s, e| s.apply(e)
);
machine!(GrantState, GrantEvent, (), GRANT_EVENTS, |s, e| s
    .apply(e)
    .ok_or(()));

/// Applies `events` from `start`: the first takes it to `target(first)` and every later one is
/// refused, each refusal checked by `refused` (with the state it came in, and the event).
fn only_the_first_event_takes_effect<M: Machine>(
    start: M,
    events: &[M::Event],
    target: fn(M::Event) -> M,
    first_must_succeed: &str,
    refused: impl Fn(M, M::Event, M::Refusal) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut state = start;
    let mut transitions = 0;
    for (i, event) in events.iter().copied().enumerate() {
        match state.step(event) {
            Ok(next) => {
                prop_assert_eq!(i, 0, "only the first event may succeed");
                prop_assert_eq!(next, target(event));
                transitions += 1;
                state = next;
            }
            Err(refusal) => {
                prop_assert!(i > 0, "{}", first_must_succeed);
                refused(state, event, refusal)?;
            }
        }
    }
    prop_assert_eq!(transitions, 1);
    prop_assert_eq!(state, target(events[0]));
    Ok(())
}

/// `raw` parses as the state of that name, and only a state's name parses.
fn state_names_round_trip<M: Machine>(raw: &str) -> Result<(), TestCaseError> {
    let expected = M::STATES.iter().copied().find(|s| s.name() == raw);
    prop_assert_eq!(M::from_name(raw), expected);
    if let Some(state) = M::from_name(raw) {
        prop_assert_eq!(state.name(), raw);
    }
    Ok(())
}

/// A state is final exactly when every event is refused, and none is half open: either every
/// event or none is refused.
fn final_exactly_when_every_event_is_refused<M: Machine>() {
    for state in M::STATES {
        let all_refused = M::EVENTS.iter().all(|e| state.step(*e).is_err());
        let any_refused = M::EVENTS.iter().any(|e| state.step(*e).is_err());
        assert_eq!(state.ends(), all_refused, "{state:?}");
        assert_eq!(all_refused, any_refused, "{state:?}");
    }
}

/// Every transition ends in a final state.
fn every_transition_ends_final<M: Machine>() {
    for state in M::STATES {
        for event in M::EVENTS {
            if let Ok(next) = state.step(*event) {
                assert!(next.ends(), "{state:?} --{event:?}--> {next:?}");
            }
        }
    }
}

proptest! {
    #[test]
    fn only_the_first_event_applied_to_a_pending_request_takes_effect(
        events in vec(request_event(), 1..12),
    ) {
        only_the_first_event_takes_effect(
            RequestState::Pending,
            &events,
            request_target,
            "the first event from pending must succeed",
            |state, event, err| {
                prop_assert_eq!(err, TransitionError { from: state, event });
                let message = err.to_string();
                prop_assert_eq!(
                    &message,
                    &format!("cannot {event} a request that is {state}")
                );
                prop_assert!(message.contains(&state.to_string()));
                Ok(())
            },
        )?;
    }

    #[test]
    fn no_event_leaves_a_final_request_state(
        start in final_request_state(),
        events in vec(request_event(), 0..12),
    ) {
        let mut state = start;
        for event in events {
            let result = state.apply(event);
            prop_assert_eq!(result, Err(TransitionError { from: start, event }));
            state = result.unwrap_or(state);
        }
        prop_assert_eq!(state, start);
    }

    #[test]
    fn any_sequence_of_events_creates_at_most_one_grant(
        start in request_state(),
        events in vec(request_event(), 0..12),
    ) {
        let mut state = start;
        let mut grants = 0;
        for event in &events {
            if let Ok(next) = state.apply(*event) {
                if next.creates_grant() {
                    grants += 1;
                }
                state = next;
            }
        }
        prop_assert!(grants <= 1);
        let expected = usize::from(
            start == RequestState::Pending && events.first() == Some(&RequestEvent::Approve),
        );
        prop_assert_eq!(grants, expected);
    }

    #[test]
    fn request_state_names_round_trip_and_nothing_else_parses(raw in state_name_candidates()) {
        state_names_round_trip::<RequestState>(&raw)?;
    }

    #[test]
    fn only_the_first_event_applied_to_an_active_grant_takes_effect(
        events in vec(grant_event(), 1..8),
    ) {
        only_the_first_event_takes_effect(
            GrantState::Active,
            &events,
            grant_target,
            "the first event on an active grant must succeed",
            |_, _, ()| Ok(()),
        )?;
    }

    #[test]
    fn no_event_leaves_an_ended_grant(
        start in final_grant_state(),
        events in vec(grant_event(), 0..8),
    ) {
        for event in events {
            prop_assert_eq!(start.apply(event), None);
        }
    }

    #[test]
    fn grant_state_names_round_trip_and_nothing_else_parses(raw in state_name_candidates()) {
        state_names_round_trip::<GrantState>(&raw)?;
    }
}

#[test]
fn only_approved_creates_a_grant() {
    for state in RequestState::ALL {
        assert_eq!(
            state.creates_grant(),
            state == RequestState::Approved,
            "{state:?}"
        );
    }
}

#[test]
fn a_request_state_is_final_exactly_when_every_event_is_refused() {
    final_exactly_when_every_event_is_refused::<RequestState>();
}

#[test]
fn a_grant_state_is_final_exactly_when_every_event_is_refused() {
    final_exactly_when_every_event_is_refused::<GrantState>();
}

#[test]
fn every_transition_ends_in_a_final_state() {
    every_transition_ends_final::<RequestState>();
    every_transition_ends_final::<GrantState>();
}

#[test]
fn a_refusal_names_the_state_and_event_it_refused() {
    for state in RequestState::ALL {
        for event in REQUEST_EVENTS {
            if let Err(err) = state.apply(event) {
                assert_eq!((err.from, err.event), (state, event));
                assert_ne!(err.from, RequestState::Pending);
            }
        }
    }
}

#[test]
fn state_names_are_distinct() {
    let request: BTreeSet<&str> = RequestState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(request.len(), RequestState::ALL.len());
    let grant: BTreeSet<&str> = GrantState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(grant.len(), GrantState::ALL.len());
}

#[test]
fn review_actions_cause_the_matching_request_events() {
    for action in [ReviewAction::Approve, ReviewAction::Deny] {
        let event = RequestEvent::from_review(action);
        assert_eq!(event.to_string(), action.as_str());
    }
    assert_eq!(
        RequestState::Pending.apply(RequestEvent::from_review(ReviewAction::Approve)),
        Ok(RequestState::Approved)
    );
    assert_eq!(
        RequestState::Pending.apply(RequestEvent::from_review(ReviewAction::Deny)),
        Ok(RequestState::Denied)
    );
}

// ---------------------------------------------------------------------------------------------
// Review input
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn id_lists_accept_exactly_one_to_a_hundred_distinct_positive_ids_in_order(
        ids in id_vectors(),
    ) {
        let parsed = IdList::parse(ids.clone());
        prop_assert_eq!(parsed.is_ok(), reference_id_list(&ids));
        let expected = reference_id_error(&ids).map_or(Ok(ids.clone()), Err);
        prop_assert_eq!(parsed.clone().map(|l| l.as_slice().to_vec()), expected);
        if let Ok(list) = parsed {
            prop_assert_eq!(list.len(), ids.len());
            prop_assert!(!list.is_empty());
        }
    }

    #[test]
    fn reasons_are_accepted_iff_at_most_1024_characters(raw in reason_text()) {
        let chars = raw.chars().count();
        match ReviewReason::parse(&raw) {
            Ok(reason) => {
                prop_assert!(chars <= MAX_REASON_CHARS, "{chars} characters accepted");
                prop_assert_eq!(reason.as_str(), raw.as_str());
                prop_assert_eq!(reason.into_inner(), raw);
            }
            Err(err) => {
                prop_assert!(chars > MAX_REASON_CHARS, "{chars} characters refused");
                prop_assert_eq!(err, ValidationError::ReasonTooLong { len: chars });
            }
        }
    }

    #[test]
    fn review_actions_are_exactly_approve_or_deny(
        raw in prop_oneof![
            select(vec![
                "approve", "deny", "Approve", "DENY", " approve", "deny ", "approved",
                "", "revoke", "approve\n", "denY",
            ])
            .prop_map(str::to_owned),
            "[a-z]{0,8}",
            any::<String>(),
            ".{60,80}",
        ],
    ) {
        match ReviewAction::parse(&raw) {
            Ok(action) => {
                prop_assert!(raw == "approve" || raw == "deny", "accepted {raw:?}");
                prop_assert_eq!(action.as_str(), raw.as_str());
            }
            Err(err) => {
                prop_assert!(raw != "approve" && raw != "deny", "refused {raw:?}");
                let echoed: String = raw.chars().take(64).collect();
                prop_assert_eq!(err, ValidationError::UnknownAction(echoed));
            }
        }
    }
}

#[test]
fn id_lists_at_the_boundaries() {
    assert!(IdList::parse(vec![i64::MAX]).is_ok());
    assert_eq!(IdList::parse(vec![1]).map(|l| l.len()), Ok(1));
    assert_eq!(
        IdList::parse(vec![i64::MIN]),
        Err(ValidationError::BadId(i64::MIN))
    );
    let hundred: Vec<i64> = (1..=100).rev().collect();
    assert_eq!(
        IdList::parse(hundred.clone()).map(|l| l.as_slice().to_vec()),
        Ok(hundred)
    );
    // too many is reported before bad or repeated ids
    assert_eq!(
        IdList::parse(vec![0; 101]),
        Err(ValidationError::TooManyIds { len: 101 })
    );
    // a bad id is reported before repeats
    assert_eq!(
        IdList::parse(vec![2, 2, -1]),
        Err(ValidationError::BadId(-1))
    );
}

#[test]
fn reasons_at_the_limit_in_multibyte_characters() {
    assert!(ReviewReason::parse("").is_ok());
    assert!(ReviewReason::parse(&"😀".repeat(MAX_REASON_CHARS)).is_ok());
    assert_eq!(
        ReviewReason::parse(&"😀".repeat(MAX_REASON_CHARS + 1)),
        Err(ValidationError::ReasonTooLong {
            len: MAX_REASON_CHARS + 1
        })
    );
}

#[test]
fn an_unknown_action_is_echoed_truncated_to_64_characters() {
    let long = "é".repeat(100);
    let err = ReviewAction::parse(&long).expect_err("not an action");
    assert_eq!(err, ValidationError::UnknownAction("é".repeat(64)));
}

// ---------------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn narrowing_yields_the_request_only_when_the_held_set_covers_it(
        held in permission_map(),
        asked in permission_map(),
    ) {
        let held_set = set_of(&held);
        let asked_set = set_of(&asked);
        let missing: Vec<String> = asked
            .iter()
            .filter(|(k, l)| held.get(*k).is_none_or(|h| h < *l))
            .map(|(k, l)| format!("{k}:{}", l.as_str()))
            .collect();
        match held_set.narrow(&asked_set) {
            Ok(narrowed) => {
                prop_assert!(missing.is_empty(), "granted despite missing {missing:?}");
                // An empty request narrows nothing, as on GitHub.
                let expected = if asked.is_empty() { &held_set } else { &asked_set };
                prop_assert_eq!(&narrowed, expected);
                for (key, level) in narrowed.iter() {
                    prop_assert!(held_set.allows(key, level), "{key}:{level} not held");
                }
            }
            Err(err) => {
                prop_assert!(!missing.is_empty());
                prop_assert_eq!(
                    err.to_string(),
                    format!("permissions not granted to this installation: {}", missing.join(", "))
                );
                prop_assert_eq!(err, NarrowError::NotGranted(missing));
            }
        }
    }

    #[test]
    fn narrowing_to_a_held_subset_at_lower_or_equal_levels_succeeds(
        (held, picks) in permission_map().prop_flat_map(|held| {
            let n = held.len();
            (Just(held), vec((any::<bool>(), level()), n))
        }),
    ) {
        let asked: BTreeMap<String, AccessLevel> = held
            .iter()
            .zip(picks)
            .filter(|(_, (keep, _))| *keep)
            .map(|((k, h), (_, l))| (k.clone(), (*h).min(l)))
            .collect();
        let asked_set = set_of(&asked);
        let expected = if asked.is_empty() { set_of(&held) } else { asked_set.clone() };
        prop_assert_eq!(set_of(&held).narrow(&asked_set), Ok(expected));
    }

    #[test]
    fn narrowing_a_set_by_itself_returns_it(held in permission_map()) {
        let set = set_of(&held);
        prop_assert_eq!(set.narrow(&set), Ok(set.clone()));
        // Asking for nothing in particular narrows nothing.
        prop_assert_eq!(set.narrow(&PermissionSet::default()), Ok(set.clone()));
    }

    #[test]
    fn narrowing_is_transitive(
        a in permission_map(),
        b in permission_map(),
        c in permission_map(),
    ) {
        let (a, b, c) = (set_of(&a), set_of(&b), set_of(&c));
        if a.narrow(&b).is_ok() && b.narrow(&c).is_ok() {
            let expected = if c.is_empty() { a.clone() } else { c.clone() };
            prop_assert_eq!(a.narrow(&c), Ok(expected));
        }
    }

    #[test]
    fn permission_sets_accept_exactly_well_formed_keys(
        key in prop_oneof![
            "[a-z0-9_]{0,8}",
            "[a-z_]{99,101}",
            "[a-zA-Z0-9_ .-]{0,8}",
            any::<String>(),
        ],
        level in level(),
    ) {
        let result = PermissionSet::from_pairs([(key.clone(), level)]);
        if reference_permission_key(&key) {
            let set = result.expect("well-formed key");
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), vec![(key.as_str(), level)]);
        } else {
            prop_assert_eq!(result, Err(NarrowError::BadKey(key)));
        }
    }

    #[test]
    fn allows_agrees_with_the_held_level(held in permission_map(), key in pooled_key(), asked in level()) {
        let set = set_of(&held);
        prop_assert_eq!(set.allows(&key, asked), held.get(&key).is_some_and(|h| *h >= asked));
    }

    #[test]
    fn allows_is_monotone_in_the_asked_level(
        held in permission_map(),
        key in pooled_key(),
        lower in level(),
        higher in level(),
    ) {
        prop_assume!(lower <= higher);
        let set = set_of(&held);
        if set.allows(&key, higher) {
            prop_assert!(set.allows(&key, lower));
        }
    }

    #[test]
    fn raising_a_held_level_never_takes_a_permission_away(
        held in permission_map(),
        raised_key in pooled_key(),
        raised_to in level(),
        key in pooled_key(),
        asked in level(),
    ) {
        let before = set_of(&held);
        let mut raised = held.clone();
        let entry = raised.entry(raised_key).or_insert(raised_to);
        *entry = (*entry).max(raised_to);
        let after = set_of(&raised);
        if before.allows(&key, asked) {
            prop_assert!(after.allows(&key, asked));
        }
        prop_assert!(after.narrow(&before).is_ok());
    }

    #[test]
    fn each_operation_is_allowed_exactly_when_its_permission_is_held(held in permission_map()) {
        let set = set_of(&held);
        for op in [
            Operation::ListRequests,
            Operation::ReviewRequests,
            Operation::ListRequestRepositories,
            Operation::ListGrants,
            Operation::RevokeGrants,
            Operation::ListGrantRepositories,
        ] {
            let (key, level) = op.required();
            prop_assert_eq!(
                op.is_allowed_by(&set),
                held.get(key).is_some_and(|h| *h >= level),
                "{:?}", op
            );
        }
    }

    #[test]
    fn permission_sets_round_trip_through_json(held in permission_map()) {
        let set = set_of(&held);
        let json = serde_json::to_string(&set).expect("serialises");
        let back: PermissionSet = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(back, set);
    }

    #[test]
    fn permission_filters_round_trip_through_display(key in "[a-z0-9_]{1,100}", level in level()) {
        let filter = PermissionFilter { key: key.clone(), level };
        let text = filter.to_string();
        prop_assert_eq!(&text, &format!("{key}_{}", level.as_str()));
        prop_assert_eq!(PermissionFilter::parse(&text), Some(filter));
    }

    #[test]
    fn a_parsed_permission_filter_displays_as_its_input(
        raw in prop_oneof![
            "[a-z0-9_]{0,12}_(read|write|admin)",
            "[a-zA-Z0-9_]{0,16}",
            any::<String>(),
        ],
    ) {
        let expected = raw.rsplit_once('_').and_then(|(key, level)| {
            let level = reference_level(level)?;
            reference_permission_key(key).then(|| PermissionFilter { key: key.to_owned(), level })
        });
        let parsed = PermissionFilter::parse(&raw);
        prop_assert_eq!(&parsed, &expected);
        if let Some(filter) = parsed {
            prop_assert_eq!(filter.to_string(), raw);
        }
    }

    #[test]
    fn strings_without_a_level_suffix_are_not_permission_filters(
        key in "[a-z0-9_]{1,20}",
        suffix in "[a-zA-Z ]{0,8}",
    ) {
        prop_assume!(reference_level(&suffix).is_none());
        prop_assert_eq!(PermissionFilter::parse(&format!("{key}_{suffix}")), None);
        // with no underscore at all there is no suffix to read
        let bare: String = key.chars().filter(|c| *c != '_').collect();
        prop_assert_eq!(PermissionFilter::parse(&bare), None);
    }

    #[test]
    fn requested_permissions_match_a_filter_at_exactly_its_level(
        organization in permission_map(),
        repository in permission_map(),
        other in permission_map(),
        key in pooled_key(),
        level in level(),
    ) {
        let requested = RequestedPermissions { organization, repository, other };
        let filter = PermissionFilter { key: key.clone(), level };
        let expected = [&requested.organization, &requested.repository, &requested.other]
            .iter()
            .any(|group| group.get(&key) == Some(&level));
        prop_assert_eq!(requested.matches(&filter), expected);
        prop_assert!(requested.is_well_formed());
        let json = serde_json::to_string(&requested).expect("serialises");
        let back: RequestedPermissions = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(back, requested);
    }
}

#[test]
fn access_levels_are_ordered_read_write_admin() {
    assert!(AccessLevel::Read < AccessLevel::Write);
    assert!(AccessLevel::Write < AccessLevel::Admin);
    assert!(AccessLevel::Read < AccessLevel::Admin);
    let mut shuffled = vec![AccessLevel::Admin, AccessLevel::Read, AccessLevel::Write];
    shuffled.sort();
    assert_eq!(shuffled, LEVELS);
}

#[test]
fn access_level_names_round_trip() {
    for level in LEVELS {
        assert_eq!(AccessLevel::parse(level.as_str()), Some(level));
        assert_eq!(level.to_string(), level.as_str());
        let json = serde_json::to_string(&level).expect("serialises");
        assert_eq!(json, format!("\"{}\"", level.as_str()));
        let back: AccessLevel = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, level);
    }
    for bad in ["Read", "WRITE", "", "owner", "none", " admin"] {
        assert_eq!(AccessLevel::parse(bad), None, "{bad:?}");
    }
    assert!(serde_json::from_str::<AccessLevel>("\"Read\"").is_err());
}

#[test]
fn a_deserialised_permission_set_refuses_malformed_keys() {
    let parsed = serde_json::from_str::<PermissionSet>(r#"{"Not A Key!":"read"}"#);
    assert!(
        parsed.is_err(),
        "accepted a key from_pairs refuses: {parsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn a_prefixed_token_of_36_alphanumerics_classifies_to_its_kind(
        (prefix, kind) in select(PREFIXED.to_vec()),
        body in "[A-Za-z0-9]{36}",
    ) {
        let raw = format!("{prefix}{body}");
        prop_assert_eq!(classify(&raw), Credential { kind, jwt: None });
        prop_assert!(kind.is_refused_kind());
    }

    #[test]
    fn prefixed_token_bodies_must_be_36_to_251_alphanumerics(
        (prefix, kind) in select(
            PREFIXED
                .iter()
                .copied()
                .chain([("ghs_", CredentialKind::ForeignInstallation)])
                .collect::<Vec<_>>(),
        ),
        body in "[A-Za-z0-9]{0,260}",
    ) {
        let expected = if (36..=251).contains(&body.len()) { kind } else { CredentialKind::Unknown };
        let raw = format!("{prefix}{body}");
        prop_assert_eq!(classify(&raw), Credential { kind: expected, jwt: None });
    }

    #[test]
    fn a_prefixed_token_with_a_non_alphanumeric_character_is_unknown(
        (prefix, _kind) in select(PREFIXED.to_vec()),
        body in "[A-Za-z0-9]{36,60}",
        bad in "[^A-Za-z0-9]",
        at in any::<prop::sample::Index>(),
    ) {
        let mut chars: Vec<char> = body.chars().collect();
        let i = at.index(chars.len());
        chars.insert(i, bad.chars().next().expect("one character"));
        let body: String = chars.into_iter().collect();
        prop_assert_eq!(classify(&format!("{prefix}{body}")).kind, CredentialKind::Unknown);
    }

    #[test]
    fn ghs_followed_by_a_jwt_is_an_installation_token_carrying_that_jwt(jwt in jwt_shaped()) {
        let raw = format!("ghs_{jwt}");
        let c = classify(&raw);
        prop_assert_eq!(c, Credential { kind: CredentialKind::Installation, jwt: Some(jwt.as_str()) });
        prop_assert!(!c.kind.is_refused_kind());
    }

    #[test]
    fn a_bare_jwt_is_an_app_jwt(jwt in jwt_shaped()) {
        prop_assume!(!has_known_prefix(&jwt));
        prop_assert_eq!(classify(&jwt), Credential { kind: CredentialKind::AppJwt, jwt: Some(jwt.as_str()) });
    }

    #[test]
    fn a_fine_grained_token_is_recognised_within_255_characters(
        rest in "[A-Za-z0-9_]{0,250}",
    ) {
        let raw = format!("github_pat_{rest}");
        let expected = if rest.len() >= 22 && raw.len() <= 255 {
            CredentialKind::FineGrainedPat
        } else {
            CredentialKind::Unknown
        };
        prop_assert_eq!(classify(&raw), Credential { kind: expected, jwt: None });
    }

    #[test]
    fn classification_never_panics_and_only_jwts_carry_a_jwt(raw in credential_candidates()) {
        let c = classify(&raw);
        let carries = matches!(c.kind, CredentialKind::Installation | CredentialKind::AppJwt);
        prop_assert_eq!(c.jwt.is_some(), carries, "{:?}", c);
        if let Some(jwt) = c.jwt {
            prop_assert!(raw.ends_with(jwt));
            prop_assert!(reference_jwt_shaped(jwt), "{jwt:?} is not JWT-shaped");
        }
        prop_assert!(!c.kind.describe().is_empty());
    }

    #[test]
    fn strings_without_a_known_prefix_are_unknown_unless_jwt_shaped(raw in credential_candidates()) {
        prop_assume!(!has_known_prefix(&raw));
        let expected = if reference_jwt_shaped(&raw) {
            Credential { kind: CredentialKind::AppJwt, jwt: Some(raw.as_str()) }
        } else {
            Credential { kind: CredentialKind::Unknown, jwt: None }
        };
        prop_assert_eq!(classify(&raw), expected);
    }

    #[test]
    fn parse_authorization_never_panics_and_returns_a_trimmed_credential(
        header in prop_oneof![
            any::<String>(),
            "[ \t]{0,2}[A-Za-z]{0,8}[ \t\u{a0}\u{3000}]{0,3}.{0,20}",
        ],
    ) {
        if let Some((scheme, credential)) = parse_authorization(&header) {
            prop_assert!(!credential.is_empty());
            prop_assert_eq!(credential, credential.trim());
            prop_assert!(header.contains(credential));
            let word = header
                .trim()
                .split(char::is_whitespace)
                .next()
                .expect("split yields at least one piece");
            prop_assert_eq!(scheme, expected_scheme(word));
        }
    }

    #[test]
    fn a_well_formed_authorization_header_splits_into_scheme_and_credential(
        lead in "[ \t]{0,2}",
        word in prop_oneof![
            select(vec!["Bearer", "bearer", "BEARER", "token", "Token", "Basic", "basic"])
                .prop_map(str::to_owned),
            "[A-Za-z]{1,10}",
        ],
        gap in "[ \t]{1,3}",
        credential in "[!-~]{1,40}",
        trail in "[ \t]{0,2}",
    ) {
        let header = format!("{lead}{word}{gap}{credential}{trail}");
        prop_assert_eq!(
            parse_authorization(&header),
            Some((expected_scheme(&word), credential.as_str()))
        );
    }

    #[test]
    fn a_header_with_no_credential_is_refused(
        word in "[!-~]{0,20}",
        lead in "[ \t]{0,2}",
        trail in "[ \t]{0,3}",
    ) {
        let header = format!("{lead}{word}{trail}");
        prop_assert_eq!(parse_authorization(&header), None);
    }
}

#[test]
fn plain_token_kinds_are_refused_and_the_others_are_not() {
    use CredentialKind::*;
    for kind in [ClassicPat, FineGrainedPat, OAuth, UserToServer, Refresh] {
        assert!(kind.is_refused_kind(), "{kind:?}");
    }
    for kind in [Installation, ForeignInstallation, AppJwt, Unknown] {
        assert!(!kind.is_refused_kind(), "{kind:?}");
    }
}

#[test]
fn an_installation_jwt_longer_than_4096_bytes_is_not_recognised() {
    let at_limit = format!("{}.{}.", "a".repeat(2000), "b".repeat(4096 - 2002));
    assert_eq!(at_limit.len(), 4096);
    assert_eq!(
        classify(&format!("ghs_{at_limit}")).kind,
        CredentialKind::Installation
    );
    let over = format!("{at_limit}c");
    let prefixed = format!("ghs_{over}");
    assert_eq!(
        classify(&prefixed),
        Credential {
            kind: CredentialKind::Unknown,
            jwt: None
        }
    );
    assert_eq!(classify(&over).kind, CredentialKind::Unknown);
}

#[test]
fn a_jwt_needs_a_header_and_a_payload_but_not_a_signature() {
    assert_eq!(classify("h.p.").kind, CredentialKind::AppJwt);
    assert_eq!(
        classify("ghs_h.p."),
        Credential {
            kind: CredentialKind::Installation,
            jwt: Some("h.p.")
        }
    );
    for raw in [
        ".p.s", "h..s", "..", "h.p", "h.p.s.x", "h.p=.s", "ghs_.p.s", "ghs_h..s",
    ] {
        assert_eq!(
            classify(raw),
            Credential {
                kind: CredentialKind::Unknown,
                jwt: None
            },
            "{raw:?}"
        );
    }
}

#[test]
fn prefixes_are_case_sensitive() {
    let body = "16C7e42F292c6912E7710c838347Ae178B4a";
    for prefix in ["GHP_", "Ghp_", "GHS_", "GITHUB_PAT_"] {
        assert_eq!(
            classify(&format!("{prefix}{body}")).kind,
            CredentialKind::Unknown,
            "{prefix}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// Strings matching one of three `patterns`, or any string at all, each as likely.
fn names_like(patterns: [&'static str; 3]) -> impl Strategy<Value = String> {
    prop_oneof![patterns[0], patterns[1], patterns[2], any::<String>()]
}

/// `parsed` (of `raw`) is accepted exactly when the reference predicate `accepted` holds, is
/// `Empty` exactly for empty input, and once accepted keeps its spelling (`as_str` and
/// `Display`, through `spelling_and_key`) with the lowercase spelling as its key.
fn check_name<N: std::fmt::Debug + std::fmt::Display>(
    raw: &str,
    parsed: &Result<N, NameError>,
    accepted: bool,
    spelling_and_key: fn(&N) -> (&str, String),
) -> Result<(), TestCaseError> {
    prop_assert_eq!(parsed.is_ok(), accepted, "{:?} -> {:?}", raw, parsed);
    prop_assert_eq!(
        parsed.as_ref().err() == Some(&NameError::Empty),
        raw.is_empty()
    );
    if let Ok(name) = parsed {
        let (spelling, key) = spelling_and_key(name);
        prop_assert_eq!(spelling, raw);
        prop_assert_eq!(name.to_string(), raw.to_owned());
        prop_assert_eq!(key, raw.to_ascii_lowercase());
    }
    Ok(())
}

proptest! {
    #[test]
    fn logins_are_accepted_iff_the_reference_predicate_holds(
        raw in names_like(["[a-zA-Z0-9-]{0,42}", "-?[a-zA-Z0-9]{1,38}-?", "[a-zA-Z0-9é_. -]{0,42}"]),
    ) {
        let parsed = Login::parse(&raw);
        check_name(&raw, &parsed, reference_login(&raw), |l| (l.as_str(), l.key()))?;
        if let Ok(login) = parsed {
            let upper = Login::parse(&raw.to_ascii_uppercase()).expect("case does not matter");
            prop_assert_eq!(upper.key(), login.key());
        }
    }

    #[test]
    fn repository_names_are_accepted_iff_the_reference_predicate_holds(
        raw in names_like(["[a-zA-Z0-9._-]{0,103}", "\\.{1,3}", "[a-zA-Z0-9._/ é-]{0,12}"]),
    ) {
        let parsed = RepoName::parse(&raw);
        check_name(&raw, &parsed, reference_repo_name(&raw), |n| (n.as_str(), n.key()))?;
    }
}

#[test]
fn names_at_their_length_limits() {
    assert!(Login::parse(&"a".repeat(Login::MAX_LEN)).is_ok());
    assert_eq!(
        Login::parse(&"a".repeat(Login::MAX_LEN + 1)),
        Err(NameError::TooLong { max: 39 })
    );
    assert_eq!(Login::parse("octo-"), Err(NameError::EdgeHyphen));
    assert_eq!(Login::parse("-"), Err(NameError::EdgeHyphen));
    assert!(Login::parse("a").is_ok());
    assert!(RepoName::parse(&"r".repeat(RepoName::MAX_LEN)).is_ok());
    assert!(RepoName::parse("...").is_ok());
    assert!(RepoName::parse(".github").is_ok());
    assert_eq!(RepoName::parse("."), Err(NameError::BadCharacter));
    assert_eq!(RepoName::parse(""), Err(NameError::Empty));
}

#[test]
fn logins_differing_only_in_case_share_a_key_but_keep_their_spelling() {
    let lower = Login::parse("octocat").expect("valid");
    let mixed = Login::parse("OctoCat").expect("valid");
    assert_eq!(lower.key(), mixed.key());
    assert_eq!(mixed.as_str(), "OctoCat");
}
