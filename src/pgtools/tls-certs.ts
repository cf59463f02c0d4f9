import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ToolError } from '../errors.ts';
import { stderrTail } from './run.ts';

/**
 * A private certificate authority made with the openssl CLI at test time (never committed key material):
 * a CA, a server certificate for 127.0.0.1/localhost, and client certificates whose CN is the role name
 * (pg_hba `cert` maps CN to the user). P-256 keys: fast to make, accepted by PostgreSQL and Node.
 */
export interface TestCa {
  dir: string;
  caCert: string;
  caKey: string;
  /** Issues a certificate signed by this CA; returns the file paths. Client keys are 0600, as libpq demands. */
  issue(cn: string, opts?: { server?: boolean; owner?: { uid: number; gid: number } }): Promise<{ cert: string; key: string }>;
}

async function openssl(args: string[]): Promise<void> {
  const r = await execa('openssl', args, { reject: false });
  if (r.exitCode !== 0) throw new ToolError('openssl', `openssl ${args[0]} failed (exit ${r.exitCode})`, { stderrTail: stderrTail(r.stderr), hint: 'install openssl (Debian: apt-get install openssl)' });
}

export async function createTestCa(dir: string, name: string): Promise<TestCa> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, `${name}.key`);
  const caCert = join(dir, `${name}.crt`);
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCert,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let serial = 1;
  return {
    dir, caCert, caKey,
    async issue(cn, opts = {}) {
      const base = join(dir, `${name}-${cn.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
      const key = `${base}.key`;
      const cert = `${base}.crt`;
      const ext = `${base}.ext`;
      writeFileSync(ext, opts.server
        ? 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'
        : 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
      await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', `${base}.csr`, '-subj', `/CN=${cn}`]);
      await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(serial++), '-out', cert, '-days', '2', '-extfile', ext]);
      chmodSync(key, 0o600);
      if (opts.owner) {
        chownSync(key, opts.owner.uid, opts.owner.gid);
        chownSync(cert, opts.owner.uid, opts.owner.gid);
      }
      return { cert, key };
    },
  };
}
