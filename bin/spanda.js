#!/usr/bin/env -S node --max-semi-space-size=32
// Entry point of the spanda command: runs the TypeScript CLI through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
// Output piped into a reader that stops early (`spanda projections list | head -3`) is not an error of the command.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
const { main } = await import('../cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit explicitly: worker threads or sockets a command forgot must not keep a finished command alive.
process.exit(code);
