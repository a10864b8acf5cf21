-- Whether the organization's owners' tokens are exempt from the policy's lifetime limits
-- (GitHub's "exempt administrators"); NULL leaves it to the enterprise or the default (no).
ALTER TABLE token_policies ADD COLUMN exempt_administrators BOOLEAN;
