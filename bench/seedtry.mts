import { seedDatabase } from '../src/seed/index.ts';
import { connectionFor } from '../test/helpers/db.ts';
const [db, users, tpu, mode] = process.argv.slice(2);
const r = await seedDatabase({ users: Number(users), tradesPerUser: Number(tpu), mode: (mode as any) ?? 'truncate' }, { connection: connectionFor(`postgres://postgres@127.0.0.1:5432/${db}`), onProgress: (e) => process.stderr.write(`${JSON.stringify(e)}\n`) });
console.log(JSON.stringify(r, null, 1));
