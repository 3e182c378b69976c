// Reads the class declarations of a TorchScript archive's `code/` tree: which attributes are parameters and
// buffers (what `state_dict()` keeps) and which classes are modules.

export interface ScriptClassInfo {
  isModule: boolean;
  parameters: string[];
  buffers: string[];
}

const CLASS_RE = /^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*([A-Za-z_][A-Za-z0-9_.]*)?\s*\)\s*:/;
const LIST_RE = /^\s+(__parameters__|__buffers__)\s*=\s*\[(.*)\]\s*$/;
const NAME_RE = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g;

function parseNames(list: string): string[] {
  const out: string[] = [];
  for (const m of list.matchAll(NAME_RE)) out.push((m[1] ?? m[2]).replace(/\\(.)/g, '$1'));
  return out;
}

/**
 * Parses one code file. `modulePath` is the file's path below `code/` without `.py`
 * (e.g. `__torch__/torch/nn/modules/linear`); classes are keyed by qualified name
 * (`__torch__.torch.nn.modules.linear.Linear`).
 */
export function parseScriptCode(modulePath: string, source: string, into: Map<string, ScriptClassInfo>): void {
  const prefix = modulePath.split('/').join('.');
  let current: ScriptClassInfo | undefined;
  for (const line of source.split('\n')) {
    const cls = CLASS_RE.exec(line);
    if (cls) {
      current = { isModule: cls[2] === 'Module', parameters: [], buffers: [] };
      into.set(`${prefix}.${cls[1]}`, current);
      continue;
    }
    if (!current) continue;
    if (line.length > 0 && !/^\s/.test(line)) {
      current = undefined;
      continue;
    }
    const list = LIST_RE.exec(line);
    if (list) {
      if (list[1] === '__parameters__') current.parameters = parseNames(list[2]);
      else current.buffers = parseNames(list[2]);
    }
  }
}
