-- An organization's revocation of a token's access is told to the token's owner, as GitHub
-- e-mails them: a notice of kind `revoked`, for the grant's request, with the revocation's
-- reason (kept on its audit event). Who is told is decided in Rust, in the revocation's
-- transaction (crates/persistence/src/routing.rs); this only admits the kind.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('approved', 'denied', 'revoked', 'digest'));
