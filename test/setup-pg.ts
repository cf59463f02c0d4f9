// Test-side clients (helpers reading rows to compare) parse timestamps like the product does: in ISO style, whatever
// DateStyle the server under test has (scripts/test-on-configured-server.sh runs the suite on 'SQL, DMY').
// The product's own clients pin this themselves in src/db/connect.ts.
import pg from 'pg';

(pg.defaults as { options?: string }).options = '-c DateStyle=ISO -c IntervalStyle=postgres';
