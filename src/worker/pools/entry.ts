/**
 * Where a child starts: the compiled child-main.js next to this file, or, when this file is itself TypeScript run from
 * source (tests, tsx), a small .mjs that loads child-main.ts through tsx.
 */
export function childEntry(): URL {
  // The pathname, not the URL: tsx's tsImport adds a query (`?tsx-namespace=...`) to the modules it loads.
  const fromSource = new URL(import.meta.url).pathname.endsWith('.ts');
  return new URL(fromSource ? './source-child.mjs' : './child-main.js', import.meta.url);
}
