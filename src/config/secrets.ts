/**
 * Secrets seen while resolving configuration (passwords). The render layer scrubs every line it prints
 * through `redact`, as a second line of defence behind "never put a password in a message".
 */
const secrets = new Set<string>();

export function registerSecret(secret: string | undefined): void {
  // Very short secrets would redact ordinary words; they still never reach output by construction.
  if (secret && secret.length >= 3) secrets.add(secret);
}

const URL_PASSWORD = /(postgres(?:ql)?:\/\/[^:/@\s]*):([^@\s]*)@/gi;

export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, '$1:***@');
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('***');
    const encoded = encodeURIComponent(s);
    if (encoded !== s && out.includes(encoded)) out = out.split(encoded).join('***');
  }
  return out;
}
