-- Background refresh. `refresh_failed_at`: when the current series of refreshes failing for a passing
-- reason (the provider unreachable) began, NULL while refreshes work; `account.refresh_failed` is
-- queued when a series begins. `refresh_after`: the background refresher leaves the account alone
-- until then (after such a failure, or when it has nothing to refresh). Both are cleared whenever
-- the credentials change.
ALTER TABLE accounts ADD COLUMN refresh_failed_at INTEGER;
ALTER TABLE accounts ADD COLUMN refresh_after INTEGER;
