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

  createTenant(tenant: string, options: { admin: string; name?: string | null; settings?: Partial<Settings> | null }): Promise<Tenant>;
  getTenant(actor: Actor, tenant: string): Promise<Tenant>;
  updateTenantSettings(actor: Actor, tenant: string, settings: Partial<Settings>): Promise<Tenant>;
  defineRole(actor: Actor, tenant: string, role: string, grants: Grant[]): Promise<Role>;
  deleteRole(actor: Actor, tenant: string, role: string): Promise<void>;
  createGroup(actor: Actor, tenant: string, group: string, options?: { roles?: string[]; grants?: Grant[] }): Promise<Group>;
  deleteGroup(actor: Actor, tenant: string, group: string): Promise<void>;
  addGroupMember(actor: Actor, tenant: string, group: string, principal: string): Promise<Group>;
  removeGroupMember(actor: Actor, tenant: string, group: string, principal: string): Promise<Group>;
  grantGroupPermissions(actor: Actor, tenant: string, group: string, grants: Grant[]): Promise<Group>;
  revokeGroupPermissions(actor: Actor, tenant: string, group: string, grants: Grant[]): Promise<Group>;
  createUser(actor: Actor, tenant: string, email: string, options?: { name?: string | null; role?: string | null; mfa?: boolean }): Promise<Account>;
  removeUser(actor: Actor, tenant: string, email: string): Promise<void>;
  syncDirectory(actor: Actor, tenant: string, users: Array<{ email: string; name?: string | null }>): Promise<SyncReport>;
  createServiceAccount(
    actor: Actor, tenant: string, name: string,
    options?: { description?: string | null; role?: string | null; grants?: Grant[]; password?: string | null },
  ): Promise<Account>;
  getAccount(actor: Actor, tenant: string, principal: string): Promise<Account>;
  listAccounts(actor: Actor, tenant: string, options?: Page): Promise<AccountPage>;
  updateServiceAccount(actor: Actor, principal: string, options: { description: string | null }): Promise<Account>;
  setRole(actor: Actor, tenant: string, principal: string, role: string | null): Promise<Account>;
  grantPermissions(actor: Actor, tenant: string, principal: string, grants: Grant[]): Promise<Account>;
  revokePermissions(actor: Actor, tenant: string, principal: string, grants: Grant[]): Promise<Account>;
  grantAccess(actor: Actor, tenant: string, principal: string, options?: { role?: string | null; grants?: Grant[] }): Promise<Account>;
  removeAccess(actor: Actor, tenant: string, principal: string): Promise<void>;
  disableAccount(actor: Actor, principal: string): Promise<Account>;
  enableAccount(actor: Actor, principal: string): Promise<Account>;
  revokeAccount(actor: Actor, principal: string): Promise<Account>;
  deleteAccount(actor: Actor, principal: string): Promise<void>;
  setPassword(actor: Actor, principal: string, password: string | null): Promise<Account>;
  createToken(
    actor: Actor, principal: string,
    options?: { name?: string | null; ttlDays?: number | null; expiresAt?: number | null; neverExpires?: boolean; scopes?: Scope[] | null },
  ): Promise<TokenCreated>;
  listTokens(actor: Actor, principal: string): Promise<TokenInfo[]>;
  renameToken(actor: Actor, principal: string, tokenId: string, name: string): Promise<TokenInfo>;
  revokeToken(actor: Actor, principal: string, tokenId: string): Promise<TokenInfo>;
  rotateToken(actor: Actor, principal: string, tokenId: string, options?: { graceSeconds?: number }): Promise<TokenCreated>;
  seatUsage(actor: Actor, tenant: string): Promise<Seats>;
  auditLog(actor: Actor, tenant: string, options?: Page): Promise<AuditPage>;

  authenticate(token: string, options?: { channel?: Channel }): Promise<Identity>;
  authenticatePassword(principal: string, password: string, options?: { channel?: Channel }): Promise<Identity>;
  authorize(identityOrPrincipal: Identity | string, tenant: string, permission: string, resource?: string): Promise<Decision>;
  /** Never throws for a bad credential: the decision's `reason` says why. */
  verify(token: string, tenant: string, permission: string, resource?: string, options?: { channel?: Channel }): Promise<Decision>;
  verify(token: string, tenant: string, permission: string, options: { channel?: Channel }): Promise<Decision>;
  effectivePermissions(identityOrPrincipal: Identity | string, tenant: string): Promise<EffectiveGrant[]>;
}

/** The error codes of SPEC §12. */
export declare const CODES: readonly ErrorCode[];
