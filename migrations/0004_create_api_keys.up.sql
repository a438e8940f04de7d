-- API keys. Only a SHA-256 hash of each key is stored: keys are 256 random bits, so a fast
-- hash is enough (nothing to brute-force) and lets a key be found by an index look-up.
CREATE TABLE api_keys (
  name         text        PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 64),
  key_hash     bytea       NOT NULL UNIQUE,
  scope        text        NOT NULL CHECK (scope IN ('write', 'read', 'all')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
