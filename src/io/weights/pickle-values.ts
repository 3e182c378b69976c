// Values produced by the restricted unpickler. Nothing here can run code: globals are inert descriptors whose
// behaviour is fixed by the reader that accepted them.

/** Base class of every non-builtin value (accepted globals, tensors, storages, inert instances). */
export abstract class PyObject {
  /** Dotted Python name of the class this value stands for, for error messages. */
  abstract readonly pyClass: string;
  /** Applies a BUILD opcode's state. Objects that do not accept state refuse it. */
  build(state: PyValue): void {
    void state;
    throw new Error(`BUILD is not supported on ${this.pyClass}`);
  }
}

export type PyDict = Map<PyValue, PyValue>;
export type PySet = Set<PyValue>;

/**
 * Python values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes/bytearray → Uint8Array, list and tuple → array, dict → Map, set/frozenset → Set.
 */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyDict | PySet | PyObject;

export interface GlobalBehaviour {
  /** Called by REDUCE with the argument tuple. */
  call?: (args: PyValue[]) => PyValue;
  /** Called by NEWOBJ / NEWOBJ_EX / OBJ / INST with the argument tuple. */
  construct?: (args: PyValue[]) => PyValue;
}

/** A global accepted by the reader's allow-list. */
export class PyGlobal extends PyObject {
  readonly pyClass: string;
  readonly module: string;
  readonly name: string;
  readonly behaviour: GlobalBehaviour;
  constructor(module: string, name: string, behaviour: GlobalBehaviour = {}) {
    super();
    this.module = module;
    this.name = name;
    this.behaviour = behaviour;
    this.pyClass = `${module}.${name}`;
  }
}

export function describePy(v: PyValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyObject) return v.pyClass;
  return typeof v;
}
