import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A dependency-free Node workspace: package.json whose start script runs `server.js`, with this source. */
export async function writeNodeServer(dir: string, serverSource: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: path.basename(dir),
      private: true,
      scripts: { start: 'node server.js' },
    }),
  );
  await writeFile(path.join(dir, 'server.js'), serverSource);
}
