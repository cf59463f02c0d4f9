import { describe, expect, test } from '@jest/globals';
import { bindPasswordToItsUrl, checkTlsSettings, mergeLayers, type Layer } from '../../src/config/connection.ts';
import type { ConfigSource } from '../../src/config/types.ts';

describe('mergeLayers', () => {
  test('a later layer overrides only the fields it sets, and sources name the winner', () => {
    const sources: Record<string, ConfigSource> = {};
    const layers: Layer[] = [
      { source: 'file', layer: { host: 'file-host', port: 5433, user: 'file-user' } },
      { source: 'env', layer: { host: 'env-host', password: 'plain' } },
      { source: 'flag', layer: { user: 'flag-user' } },
    ];
    const m = mergeLayers(layers, sources);
    expect(m.merged).toEqual({ host: 'env-host', port: 5433, user: 'flag-user', password: 'plain' });
    expect(sources).toEqual({ 'connection.host': 'env', 'connection.port': 'file', 'connection.user': 'flag', 'connection.password': 'env' });
    expect(m.passwordFrom).toBeUndefined();
    expect(m.plainPassword).toBe('plain');
  });

  test('a password from a URL remembers the server and user it came with', () => {
    const m = mergeLayers([{ source: 'env', layer: { host: 'a', port: 5432, user: 'u', password: 'p' }, url: 'DATABASE_URL' }], {});
    expect(m.passwordFrom).toEqual({ url: 'DATABASE_URL', host: 'a', port: 5432, user: 'u' });
  });
});

describe('bindPasswordToItsUrl', () => {
  const base = { host: 'b', port: 5432, user: 'u', database: 'd' };
  test("a URL's password is kept for its own server and user", () => {
    const m = mergeLayers([{ source: 'env', layer: { host: 'b', user: 'u', password: 'p' }, url: 'DATABASE_URL' }], {});
    expect(bindPasswordToItsUrl(m, base, {})).toBeNull();
    expect(m.merged.password).toBe('p');
  });
  test('sent to another server it is dropped (default source) with a note; a plain password takes its place', () => {
    const sources: Record<string, ConfigSource> = {};
    const m = mergeLayers([{ source: 'env', layer: { host: 'a', user: 'u', password: 'url-secret' }, url: 'DATABASE_URL' }, { source: 'flag', layer: { host: 'b' } }], sources);
    expect(bindPasswordToItsUrl(m, base, sources)).toMatch(/^the password in DATABASE_URL is not sent to postgres:\/\/u@b:5432\/d/);
    expect(m.merged.password).toBeUndefined();
    expect(sources['connection.password']).toBe('default');
    const withPlain = mergeLayers([{ source: 'env', layer: { password: 'plain' } }, { source: 'env', layer: { host: 'a', user: 'u', password: 'url-secret' }, url: 'DATABASE_URL' }, { source: 'flag', layer: { host: 'b' } }], {});
    expect(bindPasswordToItsUrl(withPlain, base, {})).not.toBeNull();
    expect(withPlain.merged.password).toBe('plain');
  });
});

describe('checkTlsSettings', () => {
  test('verify-full without a CA file and a certificate without its key are config errors', () => {
    expect(() => checkTlsSettings({}, 'verify-full')).toThrow(/needs a CA certificate file/);
    expect(() => checkTlsSettings({ sslCert: '/c' }, 'require')).toThrow(/got only the certificate/);
    expect(() => checkTlsSettings({ sslRootCert: '/ca', sslCert: '/c', sslKey: '/k' }, 'verify-ca')).not.toThrow();
  });
});
