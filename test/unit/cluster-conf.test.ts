import { describe, expect, test } from '@jest/globals';
import { clusterConf } from '../../src/pgtools/cluster.ts';

describe('clusterConf: the postgresql.conf block of a throwaway cluster', () => {
  test('listens on 127.0.0.1 and the given port, sockets in its own directory, durability off', () => {
    const conf = clusterConf(54321, '/tmp/axisor-cluster-x');
    expect(conf).toContain("\nlisten_addresses = '127.0.0.1'\n");
    expect(conf).toContain('\nport = 54321\n');
    expect(conf).toContain("\nunix_socket_directories = '/tmp/axisor-cluster-x'\n");
    expect(conf).toContain('\nfsync = off\n');
    expect(conf.startsWith('\n# axisor-db throwaway cluster\n')).toBe(true);
  });

  test("the caller's settings override ours (the file's last line for a name wins) and values are quoted for the file", () => {
    const conf = clusterConf(5, '/s', { max_connections: 200, wal_level: 'logical', ssl: true, shared_preload_libraries: "it's" });
    expect(conf).toContain('\nmax_connections = 200\n');
    expect(conf).not.toContain('max_connections = 50');
    expect(conf).toContain("\nwal_level = 'logical'\n");
    expect(conf).toContain('\nssl = on\n');
    expect(conf).toContain("\nshared_preload_libraries = 'it''s'\n");
  });
});
