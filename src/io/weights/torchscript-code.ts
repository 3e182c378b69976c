// Reads the class declarations of a TorchScript archive's `code/` tree: which attributes are parameters and
// buffers (what `state_dict()` keeps) and which classes are modules.

export interface ScriptClassInfo {
  isModule: boolean;
  parameters: string[];
  buffers: string[];
}

const CLASS_RE = /^class\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*([A-Za-z_][A-Za-z0-9_.]*)?\s*\)\s*:/;
const LIST_RE = /^\s+(__parameters__|__buffers__)\s*=\s*\[(.*)\]\s*$/;

/** Most bytes of one code file that are read (TorchScript code files of real models are far smaller). */
export const MAX_SCRIPT_CODE_BYTES = 4 * 1024 * 1024;

/**
 * The quoted names of a Python list literal's body, in one linear pass: a backslash escapes the next
 * character; an unterminated string ends the list.
 */
export function parseNames(list: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < list.length) {
    const q = list[i++];
    if (q !== '"' && q !== "'") continue;
    let name = '';
    let closed = false;
    while (i < list.length) {
      const c = list[i++];
      if (c === q) {
        closed = true;
        break;
      }
      if (c === '\\' && i < list.length) name += list[i++];
      else name += c;
    }
    if (!closed) break;
    out.push(name);
  }
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
