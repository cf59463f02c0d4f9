import { Option, type Command } from 'commander';

/** Shared flags, declared once and attached in groups (see node-pg-migrate's options.ts). */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--database-url <url>', 'postgres://user:password@host:port/db (default: DATABASE_URL, then PG* variables)'))
    .addOption(new Option('--host <host>', 'server host or socket directory (PGHOST; overrides --database-url)'))
    .addOption(new Option('--port <port>', 'server port (PGPORT; overrides --database-url)'))
    .addOption(new Option('--dbname <name>', 'database name (PGDATABASE; overrides --database-url)'))
    .addOption(new Option('--user <name>', 'user name (PGUSER; overrides --database-url)'))
    .addOption(new Option('--ssl-mode <mode>', 'disable | prefer | require | verify-ca | verify-full (PGSSLMODE)'))
    .addOption(new Option('--ssl-root-cert <file>', 'CA certificate; verify-ca/verify-full need it, and with it require verifies the chain too, as libpq (PGSSLROOTCERT)'))
    .addOption(new Option('--ssl-cert <file>', 'client certificate for certificate authentication (PGSSLCERT)'))
    .addOption(new Option('--ssl-key <file>', 'private key of --ssl-cert; 0600, or 0640 if owned by root, as libpq (PGSSLKEY)'))
    .addOption(new Option('--schema <name>', 'schema holding the Axisor tables (default: public)'))
    .addOption(new Option('--statement-timeout <duration>', 'statement_timeout for the tool\'s queries, e.g. 30s (0 = none)'))
    .addOption(new Option('--config <file>', 'config file (default: ./axisor-db.config.json, or AXISOR_CONFIG)'));
}

export function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'print one versioned JSON document on stdout, nothing else')
    .option('-q, --quiet', 'print nothing on success (for cron); errors still go to stderr')
    .option('-v, --verbose', 'more detail, tool output and stack traces')
    .option('--no-color', 'no colour (also NO_COLOR)');
}

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  color?: boolean;
}
