// Reading a local generation (verify): its SQLite file must already exist, or a wrong data dir reads as an empty store that "matches" an empty log.
import { existsSync } from 'node:fs';
import { ConfigError } from '../../lib/errors.ts';

/** ConfigError unless the generation's store file is there: opening it would create an empty one and verify nothing. */
export function requireStoreFile(file: string, role: string, generation: string): void {
  if (existsSync(file)) return;
  throw new ConfigError(
    `the ${role} generation ${generation} has no store file at ${file}: pass the --data-dir (SPANDA_DATA_DIR) of the node that serves it`,
  );
}
