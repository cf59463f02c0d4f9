export { connectClient, withClient, createPool, withPool, withDatabase } from './connect.ts';
export type { PgClient, PgPool, PoolClient, SessionOptions } from './connect.ts';
export { withTransaction } from './transaction.ts';
export type { IsolationLevel, TransactionOptions } from './transaction.ts';
export { withAdvisoryLock, findLockHolder, advisoryKey } from './advisory-lock.ts';
export type { AdvisoryLockOptions, LockHolder } from './advisory-lock.ts';
export { quoteIdent, qualifiedName, quoteLiteral } from './ident.ts';
export { mapConnectError, toDatabaseError } from './errors.ts';
