ALTER TABLE token_policies DROP COLUMN exempt_administrators;
