// Escaping for text and double- or single-quoted attribute values in HTML and SVG.

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes `&`, `<`, `>`, `"` and `'` so that any string is inert as element text or as a quoted
 * attribute value. Lone UTF-16 surrogates are replaced with U+FFFD.
 */
export function escapeHtml(value: string | number | boolean): string {
  return String(value)
    .replace(/[&<>"']/g, (c) => ENTITIES[c])
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
