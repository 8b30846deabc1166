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

/** A dependency-free Node app that answers with the text of message.txt. */
export async function writeNodeApp(dir: string, message: string): Promise<void> {
  await writeNodeServer(
    dir,
    `const http = require('node:http');
const fs = require('node:fs');
const message = fs.readFileSync(__dirname + '/message.txt', 'utf8').trim();
if (message === 'crash') { console.error('boom: refusing to start'); process.exit(3); }
http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(message + ' url=' + req.url + ' prefix=' + (req.headers['x-forwarded-prefix'] || ''));
}).listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
  );
  await writeFile(path.join(dir, 'message.txt'), message);
}
