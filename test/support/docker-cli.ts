import { execFile } from 'node:child_process';

/** Run the docker CLI; resolves with stdout, rejects with stderr in the message. */
export function docker(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

export async function inspect(name: string, format: string): Promise<string> {
  return (await docker(['inspect', '--format', format, name])).trim();
}
