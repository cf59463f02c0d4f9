import { defineConfig } from 'prisma/config';

// process.env rather than env(): `prisma generate` must work with DATABASE_URL unset (CI, fresh clones).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
