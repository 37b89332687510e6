// TypeScript declarations of Keyward's JavaScript API, shared by @keyward/wasm and
// @keyward/node (API.md). Every engine method returns a Promise. Timestamps are ms since the
// epoch. Fields of returned records are camelCase.

/** A grant: `"type:action"` (resource `*`) or an object. */
export type Grant = string | { permission: string; resource?: string };
/** A token scope: a grant, optionally limited to one tenant. */
export type Scope = string | { permission: string; resource?: string; tenant?: string };
export type Channel = 'api' | 'ui' | 'oidc';
/**
 * The actor of an admin operation: a principal, or an identity from `authenticate` — its token
 * is read again (revoked or expired acts for nobody) and its scopes narrow the actor's rights
 * (R-26).
 */
export type Actor = string | Identity;
export type AccountKind = 'user' | 'service';
export type Status = 'active' | 'disabled' | 'revoked';

export type ErrorCode =
  | 'invalid_argument' | 'invalid_filter' | 'invalid_credentials' | 'token_expired' | 'token_revoked'
  | 'account_disabled' | 'account_revoked' | 'channel_not_allowed' | 'not_found' | 'already_exists'
  | 'forbidden' | 'not_owner' | 'weak_password' | 'failed_precondition' | 'quota_exceeded' | 'conflict'
  | 'store_error' | 'internal';

/** Every error thrown by an engine method (SPEC §12). */
export declare class KeywardError extends Error {
  readonly code: ErrorCode;
  /** For `invalid_argument`: the argument at fault, spelled as in API.md (snake_case). */
  readonly field?: string;
  /** For `invalid_filter`: 0-based offset of the first offending character. */
  readonly position?: number;
  /** For `weak_password`: every unmet rule. */
  readonly rules?: Array<'min_length' | 'max_length' | 'uppercase' | 'digit' | 'special' | 'common'>;
}

export interface Identity {
  principal: string;
  kind: AccountKind;
  tenant: string;
  uid: string;
  tokenId: string | null;
  status: Status;
  scopes: Scope[] | null;
  requiresSecondFactor: boolean;
}

export interface Matched { permission: string; resource: string; source: string }

export interface Decision {
  allowed: boolean;
  reason: 'allowed' | ErrorCode;
  principal: string | null;
  matched: Matched | null;
}

export interface Account {
  principal: string;
  id: string;
  /** Null for a tenant that does not own the account, like description, createdBy, mfa, hasPassword. */
  uid: string | null;
  kind: AccountKind;
  name: string;
  tenant: string;
  owned: boolean;
  description: string | null;
  status: Status;
  roles: string[];
  groups: string[];
  grants: Grant[];
  mfa: boolean | null;
  hasPassword: boolean | null;
  createdAt: number;
  createdBy: string | null;
  updatedAt: number;
}

export interface TokenInfo {
  tokenId: string;
  name: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  scopes: Scope[] | null;
}

/** A new token: shown this once. */
export interface TokenCreated extends TokenInfo { token: string }

export interface Settings {
  defaultTokenTtlDays: number;
  maxTokenTtlDays: number | null;
  allowNonExpiringTokens: boolean;
  maxTokensPerAccount: number;
  maxServiceAccounts: number | null;
  seatLimit: number | null;
  defaultServiceAccountRole: string | null;
  passwordPolicy: 'default' | 'asvs';
}

export interface Tenant { tenant: string; name: string; settings: Settings; createdAt: number }
export interface Role { tenant: string; role: string; grants: Grant[]; builtin: boolean }
export interface Group { tenant: string; group: string; roles: string[]; grants: Grant[]; members: string[] }
export interface AccountPage { accounts: Account[]; nextPageToken: string | null }

export interface AuditEvent {
  time: number;
  tenant: string | null;
  actor: { principal: string; kind: 'user' | 'service' | 'system'; status: string } | null;
  action: string;
  target: string;
  outcome: 'ok' | 'denied' | 'error';
  reason: string | null;
  details: Record<string, unknown>;
}

export interface AuditPage { events: AuditEvent[]; nextPageToken: string | null }
export interface Seats { seatsUsed: number; seatLimit: number | null; serviceAccounts: number }
export interface SyncReport { created: number; updated: number; removed: number; skipped: number }
export interface EffectiveGrant { permission: string; resource: string; source: string }

type Awaitable<T> = T | Promise<T>;

/** The host's store: methods may return plain values or Promises. */
export interface Store {
  get(key: string): Awaitable<{ value: string; version: number } | null>;
  /** Compare-and-set: the new version, or null when `expectedVersion` did not match. */
  put(key: string, value: string, expectedVersion: number | null): Awaitable<number | null>;
  /** Compare-and-set: false when `expectedVersion` did not match. */
  delete(key: string, expectedVersion: number): Awaitable<boolean>;
  /** Entries whose key starts with `prefix`, after `after`, in key order, at most `limit`. */
  list(prefix: string, after: string | null, limit: number): Awaitable<Array<{ key: string; value: string; version: number }>>;
  /**
   * Optional: one answer per key, in order (null for a missing key). When present, the engine
   * asks each round of several reads in one call (one SQL query, one round trip).
   */
  getMany?(keys: string[]): Awaitable<Array<{ value: string; version: number } | null>>;
}

/** The built-in in-memory store. With it, each engine call crosses into native code once. */
export declare class MemoryStore implements Store {
  constructor();
  get(key: string): { value: string; version: number } | null;
  put(key: string, value: string, expectedVersion: number | null): number | null;
  delete(key: string, expectedVersion: number): boolean;
  list(prefix: string, after: string | null, limit: number): Array<{ key: string; value: string; version: number }>;
  getMany(keys: string[]): Array<{ value: string; version: number } | null>;
}

export interface EngineOptions {
  /** A host store, or the built-in MemoryStore (default). */
  store?: Store | MemoryStore | null;
  /** Domain of service-account principals. */
  domain?: string;
  /** Token prefix, 2 to 8 lower-case letters. */
  tokenPrefix?: string;
  /** Milliseconds since the epoch; default `Date.now`. */
  clock?: (() => number) | null;
  /** Receives every event; what it throws or rejects changes nothing. */
  audit?: ((event: AuditEvent) => unknown) | null;
  /** When set, token hashes are HMAC-SHA-256 under it; a string is taken as UTF-8. */
  pepper?: string | Uint8Array | null;
  /**
   * The staleness window of R-16 in ms, 0 (default) to 86400000: within it `authenticate`,
   * `verify` and `authorize` may answer from documents this engine read no longer ago, with no
   * store access. Writes through this engine take effect at once; writes through another engine
   * within the window.
   */
  maxStalenessMs?: number;
}

type Page = { filter?: string | null; pageSize?: number | null; pageToken?: string | null };

export declare class Engine {
  constructor(options?: EngineOptions);
  readonly store: Store | MemoryStore;

  // The operations of API.md, each returning a Promise.
// BEGIN GENERATED: operations (make stubs)
  /**
   * Creates a tenant and its first admin, the user `admin` (an email).
   *
   * Bootstrap: there is no actor, so the host must guard this call. If a user with that
   * email exists, it gets the `admin` role in the new tenant instead. Writes `tenant.create`
   * with actor kind `system`. `settings` are checked as `update_tenant_settings`
   * checks them.
   */
  createTenant(tenant: string, options: { admin: string; name?: string | null; settings?: Partial<Settings> | null }): Promise<Tenant>;
  /** The tenant's record; needs any access to the tenant. */
  getTenant(actor: Actor, tenant: string): Promise<Tenant>;
  /**
   * Merges `settings` into the tenant's, each value checked; `settings:write`.
   *
   * Keys: `default_token_ttl_days`, `max_token_ttl_days`, `allow_non_expiring_tokens`,
   * `max_tokens_per_account`, `max_service_accounts`, `seat_limit`,
   * `default_service_account_role` (no escalation, R-47), `password_policy`.
   */
  updateTenantSettings(actor: Actor, tenant: string, settings: Partial<Settings>): Promise<Tenant>;
  /**
   * Creates or replaces custom role `role`; `roles:write`.
   *
   * Built-in names are refused; the actor must hold every grant it gives.
   */
  defineRole(actor: Actor, tenant: string, role: string, grants: Grant[]): Promise<Role>;
  /** Deletes a custom role; one still in use is `failed_precondition`; `roles:write`. */
  deleteRole(actor: Actor, tenant: string, role: string): Promise<void>;
  /** Creates a group carrying `roles` and `grants`; `groups:write`. */
  createGroup(actor: Actor, tenant: string, group: string, options?: { roles?: string[]; grants?: Grant[] }): Promise<Group>;
  /** Deletes a group; `everyone` cannot be deleted; `groups:write`. */
  deleteGroup(actor: Actor, tenant: string, group: string): Promise<void>;
  /** Adds an account with access to the tenant to a group; `groups:write`. */
  addGroupMember(actor: Actor, tenant: string, group: string, principal: string): Promise<Group>;
  /** Removes an account from a group; never from `everyone`; `groups:write`. */
  removeGroupMember(actor: Actor, tenant: string, group: string, principal: string): Promise<Group>;
  /** Adds grants to a group; `groups:write`. */
  grantGroupPermissions(actor: Actor, tenant: string, group: string, grants: Grant[]): Promise<Group>;
  /** Removes grants from a group; `groups:write`. */
  revokeGroupPermissions(actor: Actor, tenant: string, group: string, grants: Grant[]): Promise<Group>;
  /**
   * Creates a user owned by the tenant; its principal is the email.
   *
   * `accounts:write`; a `role` beyond the actor's own rights is `forbidden`; past the
   * tenant's `seat_limit` is `quota_exceeded`.
   */
  createUser(actor: Actor, tenant: string, email: string, options?: { name?: string | null; role?: string | null; mfa?: boolean }): Promise<Account>;
  /**
   * Removes a user and its personal tokens; never the last admin.
   *
   * `accounts:delete`.
   */
  removeUser(actor: Actor, tenant: string, email: string): Promise<void>;
  /**
   * Makes the tenant's own users match an identity provider's list.
   *
   * `users` is a list of `{email, name}`. Creates, renames and removes users only; service
   * accounts and external users are untouched. `accounts:write` and `accounts:delete`.
   * Answers `{created, updated, removed, skipped}`.
   */
  syncDirectory(actor: Actor, tenant: string, users: Array<{ email: string; name?: string | null }>): Promise<SyncReport>;
  /**
   * Creates a service account owned by `tenant`; `accounts:write`.
   *
   * Its principal is `<name>@<tenant>.sa.<domain>`. Without `role` it gets the tenant's
   * `default_service_account_role` (none by default, R-40). The actor must hold the rights
   * it gives; past `max_service_accounts` is `quota_exceeded`. A `password`
   * must meet the tenant's policy and is stored as Argon2id.
   */
  createServiceAccount(actor: Actor, tenant: string, name: string, options?: { description?: string | null; role?: string | null; grants?: Grant[]; password?: string | null }): Promise<Account>;
  /** An account as seen from `tenant`; `accounts:read`. */
  getAccount(actor: Actor, tenant: string, principal: string): Promise<Account>;
  /**
   * Accounts with access to `tenant`, owned and external, by principal.
   *
   * `filter` uses the AIP-160 grammar of R-70 (a bad one is `invalid_filter` with its
   * `position`); `page_size` is 1 to 1,000. `accounts:read`. Answers
   * `{accounts, next_page_token}`.
   */
  listAccounts(actor: Actor, tenant: string, options?: { filter?: string | null; pageSize?: number | null; pageToken?: string | null }): Promise<AccountPage>;
  /** Changes a service account's description; owner's `accounts:write`. */
  updateServiceAccount(actor: Actor, principal: string, options: { description: string | null }): Promise<Account>;
  /**
   * Sets (or with null clears) the account's one direct role in `tenant`.
   *
   * `accounts:write`; no escalation.
   */
  setRole(actor: Actor, tenant: string, principal: string, role: string | null): Promise<Account>;
  /** Adds direct grants in `tenant`; `accounts:write`. */
  grantPermissions(actor: Actor, tenant: string, principal: string, grants: Grant[]): Promise<Account>;
  /** Removes direct grants in `tenant`; `accounts:write`. */
  revokePermissions(actor: Actor, tenant: string, principal: string, grants: Grant[]): Promise<Account>;
  /**
   * Gives an account of another tenant access to `tenant`.
   *
   * Needs `accounts:write` in `tenant`; the owner tenant is `invalid_argument`, a second
   * grant `already_exists`.
   */
  grantAccess(actor: Actor, tenant: string, principal: string, options?: { role?: string | null; grants?: Grant[] }): Promise<Account>;
  /** Removes an external account's access to `tenant`; `accounts:write`. */
  removeAccess(actor: Actor, tenant: string, principal: string): Promise<void>;
  /** Disables an account: its credentials stop working at once. */
  disableAccount(actor: Actor, principal: string): Promise<Account>;
  /** Enables a disabled account; a revoked one is `failed_precondition`. */
  enableAccount(actor: Actor, principal: string): Promise<Account>;
  /** Revokes an account for good; the principal is kept as inactive. */
  revokeAccount(actor: Actor, principal: string): Promise<Account>;
  /** Deletes an account and its credentials; owner's `accounts:delete`. */
  deleteAccount(actor: Actor, principal: string): Promise<void>;
  /**
   * Sets (or with null clears) a service account's password.
   *
   * A weak password is `weak_password` listing the unmet `rules`; a user is
   * `invalid_argument`. Hashing takes tens of milliseconds: hosts run it off their main
   * thread (Python releases the GIL).
   */
  setPassword(actor: Actor, principal: string, password: string | null): Promise<Account>;
  /**
   * Issues a token (R-20..R-23, R-26, R-47); owner's `tokens:write`.
   *
   * At most one of `ttl_days`, `expires_at` (ms) and `never_expires`. The answer
   * holds `token`, the plaintext: the only time it is seen.
   */
  createToken(actor: Actor, principal: string, options?: { name?: string | null; ttlDays?: number | null; expiresAt?: number | null; neverExpires?: boolean; scopes?: Scope[] | null }): Promise<TokenCreated>;
  /**
   * An account's tokens, revoked and expired included: metadata only.
   *
   * Owner's `tokens:read`.
   */
  listTokens(actor: Actor, principal: string): Promise<TokenInfo[]>;
  /** Renames a token (1 to 64 printable characters, R-24); owner's `tokens:write`. */
  renameToken(actor: Actor, principal: string, tokenId: string, name: string): Promise<TokenInfo>;
  /** Revokes a token; revoking a revoked one changes nothing; owner's `tokens:write`. */
  revokeToken(actor: Actor, principal: string, tokenId: string): Promise<TokenInfo>;
  /**
   * Issues a successor and lets the old token expire after `grace_seconds`.
   *
   * Same name, scopes and lifetime length; a revoked or expired token is
   * `failed_precondition`. Owner's `tokens:write`. The answer holds the new `token`.
   */
  rotateToken(actor: Actor, principal: string, tokenId: string, options?: { graceSeconds?: number | null }): Promise<TokenCreated>;
  /** Active users counted as seats; service accounts apart; `accounts:read`. */
  seatUsage(actor: Actor, tenant: string): Promise<Seats>;
  /**
   * The tenant's audit events, newest first (R-80, R-81); `audit:read`.
   *
   * `filter` uses R-70's grammar over `action`, `actor`, `target`, `outcome` and `time`.
   * Answers `{events, next_page_token}`.
   */
  auditLog(actor: Actor, tenant: string, options?: { filter?: string | null; pageSize?: number | null; pageToken?: string | null }): Promise<AuditPage>;
  /**
   * Verifies a token and answers who it belongs to (R-10..R-15, R-20, R-21).
   *
   * Raises `invalid_credentials` until the secret verifies, then `token_revoked`,
   * `token_expired`, `account_disabled` / `account_revoked` and `channel_not_allowed`, in
   * that order.
   */
  authenticate(token: string, options?: { channel?: Channel }): Promise<Identity>;
  /**
   * Signs a service account in with its password (R-10..R-13, R-50, R-51).
   *
   * Raises like `authenticate`. Hashing takes tens of milliseconds: hosts run it off their
   * main thread (Python releases the GIL).
   */
  authenticatePassword(principal: string, password: string, options?: { channel?: Channel }): Promise<Identity>;
  /**
   * Decides `permission` on `resource` in `tenant`.
   *
   * Takes a principal (the account's full rights) or an identity from `authenticate` (its
   * token's scopes apply, R-26). The decision explains itself: `matched` says which grant
   * allowed it and its source.
   */
  authorize(identityOrPrincipal: Identity | string, tenant: string, permission: string, resource?: string): Promise<Decision>;
  /**
   * Authenticates a token and authorizes in one call (R-10..R-15, R-44, R-45).
   *
   * Never raises for a bad credential: the failure's code is the decision's `reason`.
   */
  verify(token: string, tenant: string, permission: string, resource?: string, options?: { channel?: Channel }): Promise<Decision>;
  verify(token: string, tenant: string, permission: string, options?: { channel?: Channel }): Promise<Decision>;
  /** Every grant an identity or principal holds in `tenant`, with its source. */
  effectivePermissions(identityOrPrincipal: Identity | string, tenant: string): Promise<EffectiveGrant[]>;
// END GENERATED: operations
}

/** The error codes of SPEC §12. */
export declare const CODES: readonly ErrorCode[];
