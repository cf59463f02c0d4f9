/** s3rver in its own process (for benchmarks: in-process, it would share the client's event loop). Prints {"port":N}. */
import { startS3Server } from './s3-server.ts';

const server = await startS3Server(process.argv.slice(2));
process.stdout.write(`${JSON.stringify({ port: server.port, directory: server.directory })}\n`);
const stop = () => void server.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
