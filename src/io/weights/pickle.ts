// Restricted unpickler (protocols 0–5). It never executes anything: GLOBAL names go through the caller's
// allow-list, and REDUCE/NEWOBJ/BUILD only apply the fixed behaviour of an accepted global.
import { PyGlobal, PyObject, describePy, type PyDict, type PyValue } from './pickle-values.ts';
import { PickleInput, latin1, utf8 } from './pickle-input.ts';
import { WeightFileError } from './tensor.ts';

export { PyGlobal, PyObject, describePy, type PyDict, type PyValue } from './pickle-values.ts';
export { PickleTruncatedError } from './pickle-input.ts';

export interface UnpickleLimits {
  /** Most values on the stack at once. */
  maxStack: number;
  /** Most memo entries. */
  maxMemo: number;
  /** Deepest MARK nesting. */
  maxMarks: number;
  /** Longest LONG1/LONG4 integer, in bytes. */
  maxIntBytes: number;
}

export const DEFAULT_LIMITS: UnpickleLimits = { maxStack: 1_000_000, maxMemo: 1_000_000, maxMarks: 10_000, maxIntBytes: 64 };

export interface UnpickleOptions {
  /** File name used in error messages. */
  file: string;
  /** Entry or stream name inside the file, used as the error key. */
  key?: string;
  /** Returns the value standing for an accepted global (a PyGlobal if it may be called), or throws to refuse it. */
  findGlobal(module: string, name: string): PyObject;
  /** Resolves PERSID / BINPERSID ids; without it persistent ids are refused. */
  persistentLoad?(pid: PyValue): PyValue;
  limits?: Partial<UnpickleLimits>;
}

class Machine extends PickleInput {
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly limits: UnpickleLimits;

  constructor(
    data: Uint8Array,
    start: number,
    private readonly opts: UnpickleOptions,
  ) {
    super(data, start, opts.file, opts.key);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  private push(v: PyValue): void {
    if (this.stack.length >= this.limits.maxStack) this.fail(`stack exceeds ${this.limits.maxStack} items`);
    this.stack.push(v);
  }
  private floor(): number {
    return this.marks.length ? this.marks[this.marks.length - 1] : 0;
  }
  private pop(): PyValue {
    if (this.stack.length <= this.floor()) this.fail('stack underflow');
    return this.stack.pop() as PyValue;
  }
  private top(): PyValue {
    if (this.stack.length <= this.floor()) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): PyValue[] {
    if (!this.marks.length) this.fail('no MARK on the stack');
    return this.stack.splice(this.marks.pop() as number);
  }
  private memoPut(i: number, v: PyValue): void {
    if (!Number.isSafeInteger(i) || i < 0) this.fail(`bad memo index ${i}`);
    if (!this.memo.has(i) && this.memo.size >= this.limits.maxMemo) this.fail(`memo exceeds ${this.limits.maxMemo} entries`);
    this.memo.set(i, v);
  }
  private memoGet(i: number): void {
    if (!this.memo.has(i)) this.fail(`memo key ${i} not found`);
    this.push(this.memo.get(i) as PyValue);
  }
  private global(module: string, name: string): void {
    this.push(this.opts.findGlobal(module, name));
  }
  private callable(v: PyValue, op: 'call' | 'construct', what: string): (args: PyValue[]) => PyValue {
    const fn = v instanceof PyGlobal ? v.behaviour[op] : undefined;
    if (!fn) this.fail(`${what} on ${describePy(v)}, which is not an accepted ${op === 'call' ? 'callable' : 'class'}`);
    return fn;
  }
  private args(v: PyValue, what: string): PyValue[] {
    if (!Array.isArray(v)) this.fail(`${what} arguments are ${describePy(v)}, not a tuple`);
    return v;
  }
  private dictTarget(what: string): PyDict {
    const d = this.top();
    if (!(d instanceof Map)) this.fail(`${what} on ${describePy(d)}`);
    return d;
  }
  private persistent(pid: PyValue): void {
    if (!this.opts.persistentLoad) this.fail('persistent id found but this file kind has no external storages');
    this.push(this.opts.persistentLoad(pid));
  }

  run(): { value: PyValue; end: number } {
    for (;;) {
      const at = this.pos;
      const op = this.u8('opcode');
      switch (op) {
        case 0x80: {
          const p = this.u8('PROTO');
          if (p > 5) this.fail(`unsupported pickle protocol ${p}`, at);
          break;
        }
        case 0x95:
          this.u64('FRAME');
          break;
        case 0x2e: {
          // STOP
          const value = this.pop();
          return { value, end: this.pos };
        }
        case 0x28: // MARK
          if (this.marks.length >= this.limits.maxMarks) this.fail(`MARK nesting exceeds ${this.limits.maxMarks}`, at);
          this.marks.push(this.stack.length);
          break;
        case 0x30:
          if (this.stack.length > this.floor()) this.stack.pop();
          else this.popMark();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x32:
          this.push(this.top());
          break; // DUP
        case 0x4e:
          this.push(null);
          break; // NONE
        case 0x88:
          this.push(true);
          break;
        case 0x89:
          this.push(false);
          break;
        case 0x49:
          this.push(this.textInt(at));
          break;
        case 0x4c:
          this.push(this.textLong(at));
          break;
        case 0x46:
          this.push(this.textFloat(at));
          break;
        case 0x4a:
          this.push(this.i32('BININT'));
          break;
        case 0x4b:
          this.push(this.u8('BININT1'));
          break;
        case 0x4d:
          this.push(this.u16('BININT2'));
          break;
        case 0x8a:
          this.push(this.long(this.u8('LONG1'), this.limits.maxIntBytes));
          break;
        case 0x8b:
          this.push(this.long(this.i32('LONG4'), this.limits.maxIntBytes));
          break;
        case 0x47:
          this.push(this.view.getFloat64(this.need(8, 'BINFLOAT'), false));
          break;
        case 0x53:
          this.push(this.textString(at));
          break;
        case 0x54:
          this.push(latin1.decode(this.bytes(this.i32('BINSTRING'), 'BINSTRING')));
          break;
        case 0x55:
          this.push(latin1.decode(this.bytes(this.u8('SHORT_BINSTRING'), 'SHORT_BINSTRING')));
          break;
        case 0x56:
          this.push(this.textUnicode());
          break;
        case 0x58:
          this.push(utf8.decode(this.bytes(this.u32('BINUNICODE'), 'BINUNICODE')));
          break;
        case 0x8c:
          this.push(utf8.decode(this.bytes(this.u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE')));
          break;
        case 0x8d:
          this.push(utf8.decode(this.bytes(this.u64('BINUNICODE8'), 'BINUNICODE8')));
          break;
        case 0x42:
          this.push(this.bytes(this.u32('BINBYTES'), 'BINBYTES'));
          break;
        case 0x43:
          this.push(this.bytes(this.u8('SHORT_BINBYTES'), 'SHORT_BINBYTES'));
          break;
        case 0x8e:
          this.push(this.bytes(this.u64('BINBYTES8'), 'BINBYTES8'));
          break;
        case 0x96:
          this.push(this.bytes(this.u64('BYTEARRAY8'), 'BYTEARRAY8'));
          break;
        case 0x97:
          return this.fail('out-of-band buffers (NEXT_BUFFER) are not supported', at);
        case 0x98:
          this.top();
          break; // READONLY_BUFFER: no-op on our immutable-by-convention bytes
        case 0x29:
          this.push([]);
          break; // EMPTY_TUPLE
        case 0x5d:
          this.push([]);
          break; // EMPTY_LIST
        case 0x7d:
          this.push(new Map());
          break; // EMPTY_DICT
        case 0x8f:
          this.push(new Set());
          break; // EMPTY_SET
        case 0x85:
          this.push([this.pop()]);
          break; // TUPLE1
        case 0x86: {
          const b = this.pop();
          const a = this.pop();
          this.push([a, b]);
          break;
        }
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push([a, b, c]);
          break;
        }
        case 0x74:
          this.push(this.popMark());
          break; // TUPLE
        case 0x6c:
          this.push(this.popMark());
          break; // LIST
        case 0x91:
          this.push(new Set(this.popMark()));
          break; // FROZENSET
        case 0x64: {
          // DICT
          const items = this.popMark();
          if (items.length % 2) this.fail('odd number of items for DICT', at);
          const d: PyDict = new Map();
          for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
          this.push(d);
          break;
        }
        case 0x61: {
          // APPEND
          const v = this.pop();
          const l = this.top();
          if (!Array.isArray(l)) this.fail(`APPEND on ${describePy(l)}`, at);
          l.push(v);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          const l = this.top();
          if (!Array.isArray(l)) this.fail(`APPENDS on ${describePy(l)}`, at);
          for (const v of items) l.push(v);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.dictTarget('SETITEM').set(k, v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          if (items.length % 2) this.fail('odd number of items for SETITEMS', at);
          const d = this.dictTarget('SETITEMS');
          for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
          break;
        }
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail(`ADDITEMS on ${describePy(s)}`, at);
          for (const v of items) s.add(v);
          break;
        }
        case 0x67:
          this.memoGet(this.lineInt('GET index'));
          break;
        case 0x68:
          this.memoGet(this.u8('BINGET'));
          break;
        case 0x6a:
          this.memoGet(this.u32('LONG_BINGET'));
          break;
        case 0x70:
          this.memoPut(this.lineInt('PUT index'), this.top());
          break;
        case 0x71:
          this.memoPut(this.u8('BINPUT'), this.top());
          break;
        case 0x72:
          this.memoPut(this.u32('LONG_BINPUT'), this.top());
          break;
        case 0x94:
          this.memoPut(this.memo.size, this.top());
          break; // MEMOIZE
        case 0x63: {
          const m = this.line('GLOBAL module');
          this.global(m, this.line('GLOBAL name'));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings', at);
          this.global(module, name);
          break;
        }
        case 0x82:
        case 0x83:
        case 0x84: {
          // EXT1/2/4
          const code = op === 0x82 ? this.u8('EXT1') : op === 0x83 ? this.u16('EXT2') : this.i32('EXT4');
          throw new WeightFileError(this.opts.file, `refusing extension registry code ${code} (only tensor data is allowed)`, this.opts.key);
        }
        case 0x52: {
          // REDUCE
          const args = this.args(this.pop(), 'REDUCE');
          const fn = this.callable(this.pop(), 'call', 'REDUCE');
          this.push(fn(args));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.args(this.pop(), 'NEWOBJ');
          this.push(this.callable(this.pop(), 'construct', 'NEWOBJ')(args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.args(this.pop(), 'NEWOBJ_EX');
          const ctor = this.callable(this.pop(), 'construct', 'NEWOBJ_EX');
          if (!(kwargs instanceof Map) || kwargs.size) this.fail('NEWOBJ_EX with keyword arguments is not supported', at);
          this.push(ctor(args));
          break;
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark();
          if (!items.length) this.fail('OBJ without a class', at);
          this.push(this.callable(items[0], 'construct', 'OBJ')(items.slice(1)));
          break;
        }
        case 0x69: {
          // INST
          const m = this.line('INST module');
          const cls = this.opts.findGlobal(m, this.line('INST name'));
          const args = this.popMark();
          this.push(this.callable(cls, 'construct', 'INST')(args));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const inst = this.top();
          if (inst instanceof PyObject) {
            try {
              inst.build(state);
            } catch (e) {
              if (e instanceof WeightFileError) throw e;
              this.fail((e as Error).message, at);
            }
          } else if (inst instanceof Map) {
            // dict subclasses (OrderedDict) carry instance attributes such as `_metadata`: not tensor data.
            if (state !== null && !(state instanceof Map) && !Array.isArray(state)) this.fail(`BUILD state ${describePy(state)} on dict`, at);
          } else {
            this.fail(`BUILD on ${describePy(inst)}`, at);
          }
          break;
        }
        case 0x50:
          this.persistent(this.line('PERSID'));
          break;
        case 0x51:
          this.persistent(this.pop());
          break; // BINPERSID
        default:
          return this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`, at);
      }
    }
  }
}

/**
 * Unpickles one pickle starting at `start`. Returns the value and the offset just past its STOP opcode.
 * Every global goes through `opts.findGlobal`, which decides what is accepted.
 */
export function unpickle(data: Uint8Array, opts: UnpickleOptions, start = 0): { value: PyValue; end: number } {
  return new Machine(data, start, opts).run();
}
