// Flattening of loaded PyTorch objects into `name → tensor` maps, with `state_dict()` naming.
import { isHostTensor, type HostTensor } from './tensor.ts';
import { isTorchScriptObject, type TorchScriptObject, type TorchValue } from './torch-types.ts';

const MAX_NODES = 10_000_000;
const MAX_DEPTH = 512;

function keyString(k: TorchValue): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  if (k === null) return 'None';
  throw new Error(`cannot use a ${Array.isArray(k) ? 'tuple' : typeof k} dict key in a tensor name`);
}

/** The (name, value) children of a module in `state_dict()` order: parameters, buffers, then submodules. */
function moduleChildren(m: TorchScriptObject): [string, TorchValue][] {
  const attrs = m.attributes;
  const out: [string, TorchValue][] = [];
  if (m.parameters && m.buffers) {
    for (const name of [...m.parameters, ...m.buffers]) {
      const v = attrs.get(name);
      if (isHostTensor(v)) out.push([name, v]);
    }
  } else {
    for (const [name, v] of attrs) if (isHostTensor(v)) out.push([name, v]);
  }
  for (const [name, v] of attrs) if (isTorchScriptObject(v) && v.isModule) out.push([name, v]);
  return out;
}

/**
 * Flattens nested dicts / lists / TorchScript modules into `prefix<sep>key → tensor`. Non-tensor leaves
 * (numbers, strings, None, flags) are skipped. TorchScript modules contribute exactly what their
 * `state_dict()` would: declared parameters and buffers (not other tensor attributes), then submodules.
 */
export function flattenStateDict(obj: TorchValue, sep = '.'): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const path = new Set<object>();
  let nodes = 0;

  const add = (name: string, t: HostTensor): void => {
    if (out.has(name)) throw new Error(`duplicate tensor name '${name}' after flattening`);
    out.set(name, t);
  };
  const join = (prefix: string, k: string): string => (prefix === '' ? k : `${prefix}${sep}${k}`);

  const walk = (v: TorchValue, prefix: string, depth: number): void => {
    if (++nodes > MAX_NODES) throw new Error(`object graph has more than ${MAX_NODES} nodes`);
    if (isHostTensor(v)) {
      add(prefix, v);
      return;
    }
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array || v instanceof Set) return;
    if (depth > MAX_DEPTH) throw new Error(`object nesting deeper than ${MAX_DEPTH} levels`);
    if (path.has(v)) throw new Error(`cyclic object graph at '${prefix}'`);
    path.add(v);
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, join(prefix, String(i)), depth + 1));
    } else if (v instanceof Map) {
      for (const [k, x] of v) walk(x, join(prefix, keyString(k)), depth + 1);
    } else if (isTorchScriptObject(v)) {
      const children = v.isModule ? moduleChildren(v) : [...v.attributes];
      for (const [k, x] of children) walk(x, join(prefix, k), depth + 1);
    }
    path.delete(v);
  };
  walk(obj, '', 0);
  return out;
}
