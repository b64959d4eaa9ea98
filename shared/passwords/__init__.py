"""Password users: hashing, the password rules, invite and reset links, and the
password sign-in (shared.passwords.service)."""
