import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * Encrypts secrets at rest with AES-256-GCM. The additional data binds each
 * ciphertext to its row (`rules:rul_…:auth`), so a ciphertext copied onto
 * another row fails to decrypt instead of lending its secret there.
 * Layout: version (1 byte) | iv (12) | tag (16) | ciphertext.
 */
export class SecretBox {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the encryption key must be 32 bytes')
    this.#key = key
  }

  seal(plaintext: string, binding: string): Buffer {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(binding))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body])
  }

  open(sealed: Buffer, binding: string): string {
    if (sealed[0] !== VERSION) throw new Error('unknown secret format')
    const iv = sealed.subarray(1, 1 + IV_BYTES)
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES)
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv)
    decipher.setAAD(Buffer.from(binding))
    decipher.setAuthTag(tag)
    const body = sealed.subarray(1 + IV_BYTES + TAG_BYTES)
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
  }
}

/** Parses ENCRYPTION_KEY: 32 bytes as base64 (44 chars) or hex (64 chars). */
export function parseEncryptionKey(text: string): Buffer {
  const trimmed = text.trim()
  const key = /^[0-9a-f]{64}$/i.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64')
  if (key.length !== 32) throw new Error('expected 32 bytes as base64 or hex')
  return key
}

/**
 * The embedded default: without ENCRYPTION_KEY, a key is generated once and
 * kept beside the database in the data folder (mode 0600), so `npm start`
 * needs no setup. Deployments with DATABASE_URL should set ENCRYPTION_KEY.
 */
export async function loadOrCreateKeyFile(dataDir: string): Promise<Buffer> {
  const file = path.resolve(dataDir, 'encryption.key')
  try {
    return parseEncryptionKey(await readFile(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(path.dirname(file), { recursive: true })
  const key = randomBytes(32)
  await writeFile(file, `${key.toString('base64')}\n`, { flag: 'wx', mode: 0o600 })
  await chmod(file, 0o600)
  return key
}
