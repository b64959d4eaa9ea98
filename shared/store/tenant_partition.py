"""The tenant's partition of the `users` table: everything a sign-in writes.

A sign-in creates or updates the user, starts a session and records an audit
event. Keeping all of it in one partition of one table makes that a single
entity group transaction: all of it is written or none of it, in one round trip.

RowKeys by kind (each prefix is a range a query can read on its own):
- `user:{id}`: a user; `email:{email}`: index from email to user id;
- `session:{user_id}:{family_id}`: a refresh-token family (one per sign-in);
- `esid:{entra sid, percent-encoded including ':'}:{user_id}:{family_id}`:
  index for Entra's front-channel logout, which names only the Entra session;
- `audit:{inverted time}-{random}`: the audit log, newest first;
- `stateused:{sha256 of the state}`: a sign-in state already used (single use);
- `throttle:{minute}:{client}`: the sign-in start throttle's shared counts.

Per-partition throughput (about 2,000 entities/s) bounds one tenant at a few
hundred sign-ins per second; tenants never share a partition.
"""

TABLE = "users"
