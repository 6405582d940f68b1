/**
 * One CSV line (RFC 4180). Cells that a spreadsheet would run as a formula
 * (starting with = + - @ or a tab/CR) get a leading apostrophe: exported rule
 * titles and URLs are user text, and CSV injection is a known attack.
 */
export function csvLine(cells: (string | number | boolean | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`
}

function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}
