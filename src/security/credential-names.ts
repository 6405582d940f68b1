/**
 * Header and parameter names that look like they carry a credential, for
 * what the call log and delivery history show: a missed secret is worse than
 * a masked correlation id. Not `signature`: callers decide about signatures
 * (the inbound log masks a sender's, outbound history shows our own).
 */
export const LOOKS_LIKE_CREDENTIAL =
  /secret|token|passw|api[-_]?key|auth(?!ority)|cookie|session|credential/i

/** What a masked value is shown as. */
export const REDACTED = '[redacted]'
