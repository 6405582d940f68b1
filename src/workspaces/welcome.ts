import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface Welcome {
  baseUrl: string
  workspaceId: string
  key: string
}

/**
 * Hands the first start's API key to the person who started Hookline, never
 * to the log stream. On a terminal it is printed once; otherwise stdout is a
 * log (a container, systemd, a pipe), so the same text goes to a file only
 * the service's user can read, and the log says where. Answers that file.
 */
export async function handOverBootstrapKey(
  welcome: Welcome,
  out: { isTTY?: boolean; write: (text: string) => unknown },
  dataDir: string,
): Promise<string | undefined> {
  if (out.isTTY) {
    out.write(welcomeText(welcome))
    return undefined
  }
  const file = path.resolve(dataDir, 'bootstrap-api-key.txt')
  // A file left by an earlier database is replaced; mode applies on creation,
  // so remove first rather than overwrite one that may be readable by others.
  await mkdir(dataDir, { recursive: true })
  await rm(file, { force: true })
  await writeFile(file, welcomeText(welcome), { flag: 'wx', mode: 0o600 })
  return file
}

export function welcomeText({ baseUrl, workspaceId, key }: Welcome): string {
  return [
    '',
    '  Hookline is running. A default workspace and API key were created:',
    '',
    `    workspace  ${workspaceId}`,
    `    API key    ${key}   (shown once; store it now)`,
    '',
    '  Try it:',
    `    curl -H "Authorization: Bearer ${key}" ${baseUrl}/v1/workspace`,
    '',
    `  API reference: ${baseUrl}/docs`,
    '',
  ].join('\n')
}
