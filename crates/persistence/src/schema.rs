// @generated automatically by Diesel CLI.
//
// Do not edit: `make schema` writes this file from the SQLite migrations (migrations/sqlite)
// with the options in diesel.toml and the patch crates/persistence/schema.patch, and
// `make schema-check` (part of `make ci`) fails when the two differ. The PostgreSQL
// migrations (migrations/postgres) must define the same tables and columns.

diesel::table! {
    app_keys (id) {
        id -> BigInt,
        app_id -> BigInt,
        public_key_pem -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    app_webhooks (app_id) {
        app_id -> BigInt,
        url -> Text,
        secret -> Nullable<Text>,
        content_type -> Text,
        active -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    apps (id) {
        id -> BigInt,
        slug -> Text,
        client_id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        owner_org_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        org_id -> BigInt,
        action -> Text,
        subject_type -> Text,
        subject_id -> BigInt,
        app_id -> Nullable<BigInt>,
        installation_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    credential_changes (id) {
        id -> BigInt,
        action -> Text,
        installation_id -> BigInt,
        jti -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    digest_runs (period_start) {
        period_start -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    enterprises (id) {
        id -> BigInt,
        slug -> Text,
        name -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    installations (id) {
        id -> BigInt,
        app_id -> BigInt,
        org_id -> BigInt,
        permissions -> Text,
        events -> Text,
        repository_selection -> Text,
        suspended_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_settings (org_id) {
        org_id -> BigInt,
        email -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        kind -> Text,
        org_id -> BigInt,
        event_id -> Nullable<BigInt>,
        request_id -> Nullable<BigInt>,
        period_start -> Nullable<Timestamp>,
        recipient -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    org_webhooks (id) {
        id -> BigInt,
        org_id -> BigInt,
        url -> Text,
        secret -> Nullable<Text>,
        content_type -> Text,
        events -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organization_owners (org_id, user_id) {
        org_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        login -> Text,
        login_key -> Text,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamp,
        enterprise_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    pat_grants (id) {
        id -> BigInt,
        org_id -> BigInt,
        request_id -> BigInt,
        token_id -> BigInt,
        owner_id -> BigInt,
        status -> Text,
        repository_selection -> Text,
        permissions -> Text,
        access_granted_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        token_expires_at -> Nullable<Timestamp>,
        token_last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pat_request_permissions (request_id, permission) {
        request_id -> BigInt,
        org_id -> BigInt,
        permission -> Text,
    }
}

diesel::table! {
    pat_request_repositories (request_id, repository_id) {
        request_id -> BigInt,
        repository_id -> BigInt,
    }
}

diesel::table! {
    pat_request_reviews (id) {
        id -> BigInt,
        request_id -> BigInt,
        org_id -> BigInt,
        app_id -> BigInt,
        installation_id -> BigInt,
        action -> Text,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    pat_requests (id) {
        id -> BigInt,
        org_id -> BigInt,
        token_id -> BigInt,
        owner_id -> BigInt,
        status -> Text,
        reason -> Nullable<Text>,
        repository_selection -> Text,
        permissions -> Text,
        created_at -> Timestamp,
        reviewed_at -> Nullable<Timestamp>,
        token_expires_at -> Nullable<Timestamp>,
        token_last_used_at -> Nullable<Timestamp>,
        permissions_added -> Nullable<Text>,
        permissions_upgraded -> Nullable<Text>,
    }
}

diesel::table! {
    rate_limit_windows (caller) {
        caller -> Text,
        reset_at -> BigInt,
        used -> BigInt,
    }
}

diesel::table! {
    repositories (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        name_key -> Text,
        private -> Bool,
        description -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    review_rule_decisions (id) {
        id -> BigInt,
        org_id -> BigInt,
        request_id -> BigInt,
        owner_id -> BigInt,
        version -> BigInt,
        mode -> Text,
        outcome -> Text,
        acted -> Bool,
        explanation -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    review_rule_runs (org_id) {
        org_id -> BigInt,
        version -> BigInt,
        after_id -> BigInt,
        until_id -> BigInt,
        app_id -> Nullable<BigInt>,
        installation_id -> Nullable<BigInt>,
        leased_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    review_rule_versions (id) {
        id -> BigInt,
        org_id -> BigInt,
        version -> BigInt,
        mode -> Text,
        source -> Text,
        cases -> Text,
        sha256 -> Text,
        app_id -> Nullable<BigInt>,
        installation_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    token_policies (id) {
        id -> BigInt,
        enterprise_id -> Nullable<BigInt>,
        org_id -> Nullable<BigInt>,
        fine_grained_allowed -> Nullable<Bool>,
        approval_required -> Nullable<Bool>,
        classic_allowed -> Nullable<Bool>,
        fine_grained_max_days -> Nullable<Integer>,
        classic_max_days -> Nullable<Integer>,
        updated_at -> Timestamp,
        exempt_administrators -> Nullable<Bool>,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        owner_id -> BigInt,
        name -> Text,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        login -> Text,
        login_key -> Text,
        name -> Nullable<Text>,
        email -> Nullable<Text>,
        site_admin -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        guid -> Text,
        event_id -> Nullable<BigInt>,
        app_id -> Nullable<BigInt>,
        installation_id -> Nullable<BigInt>,
        hook_id -> Nullable<BigInt>,
        org_id -> Nullable<BigInt>,
        period_start -> Nullable<Timestamp>,
        event -> Text,
        action -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        duration_ms -> Nullable<Double>,
        redelivery -> Bool,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(app_keys -> apps (app_id));
diesel::joinable!(app_webhooks -> apps (app_id));
diesel::joinable!(apps -> organizations (owner_org_id));
diesel::joinable!(audit_events -> apps (app_id));
diesel::joinable!(audit_events -> installations (installation_id));
diesel::joinable!(audit_events -> organizations (org_id));
diesel::joinable!(credential_changes -> installations (installation_id));
diesel::joinable!(installations -> apps (app_id));
diesel::joinable!(installations -> organizations (org_id));
diesel::joinable!(notification_settings -> organizations (org_id));
diesel::joinable!(notifications -> audit_events (event_id));
diesel::joinable!(notifications -> organizations (org_id));
diesel::joinable!(notifications -> pat_requests (request_id));
diesel::joinable!(org_webhooks -> organizations (org_id));
diesel::joinable!(organization_owners -> organizations (org_id));
diesel::joinable!(organization_owners -> users (user_id));
diesel::joinable!(organizations -> enterprises (enterprise_id));
diesel::joinable!(pat_grants -> organizations (org_id));
diesel::joinable!(pat_grants -> pat_requests (request_id));
diesel::joinable!(pat_grants -> tokens (token_id));
diesel::joinable!(pat_grants -> users (owner_id));
diesel::joinable!(pat_request_permissions -> organizations (org_id));
diesel::joinable!(pat_request_permissions -> pat_requests (request_id));
diesel::joinable!(pat_request_repositories -> pat_requests (request_id));
diesel::joinable!(pat_request_repositories -> repositories (repository_id));
diesel::joinable!(pat_request_reviews -> apps (app_id));
diesel::joinable!(pat_request_reviews -> installations (installation_id));
diesel::joinable!(pat_request_reviews -> organizations (org_id));
diesel::joinable!(pat_request_reviews -> pat_requests (request_id));
diesel::joinable!(pat_requests -> organizations (org_id));
diesel::joinable!(pat_requests -> tokens (token_id));
diesel::joinable!(pat_requests -> users (owner_id));
diesel::joinable!(repositories -> organizations (org_id));
diesel::joinable!(review_rule_decisions -> organizations (org_id));
diesel::joinable!(review_rule_decisions -> pat_requests (request_id));
diesel::joinable!(review_rule_decisions -> users (owner_id));
diesel::joinable!(review_rule_runs -> apps (app_id));
diesel::joinable!(review_rule_runs -> installations (installation_id));
diesel::joinable!(review_rule_runs -> organizations (org_id));
diesel::joinable!(review_rule_versions -> apps (app_id));
diesel::joinable!(review_rule_versions -> installations (installation_id));
diesel::joinable!(review_rule_versions -> organizations (org_id));
diesel::joinable!(token_policies -> enterprises (enterprise_id));
diesel::joinable!(token_policies -> organizations (org_id));
diesel::joinable!(tokens -> users (owner_id));
diesel::joinable!(webhook_deliveries -> apps (app_id));
diesel::joinable!(webhook_deliveries -> audit_events (event_id));
diesel::joinable!(webhook_deliveries -> installations (installation_id));
diesel::joinable!(webhook_deliveries -> org_webhooks (hook_id));
diesel::joinable!(webhook_deliveries -> organizations (org_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_keys,
    app_webhooks,
    apps,
    audit_events,
    credential_changes,
    digest_runs,
    enterprises,
    installations,
    notification_settings,
    notifications,
    org_webhooks,
    organization_owners,
    organizations,
    pat_grants,
    pat_request_permissions,
    pat_request_repositories,
    pat_request_reviews,
    pat_requests,
    rate_limit_windows,
    repositories,
    review_rule_decisions,
    review_rule_runs,
    review_rule_versions,
    token_policies,
    tokens,
    users,
    webhook_deliveries,
);
