/** RFC 4180: quote a field holding a comma, quote or line break, doubling inner quotes. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
