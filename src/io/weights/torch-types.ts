// Values returned by the PyTorch file readers.
import type { HostTensor } from './tensor.ts';

/** A TorchScript object (`__torch__.*` class instance) from a `torch.jit.save` archive: plain data only. */
export interface TorchScriptObject {
  readonly kind: 'torchscript-object';
  /** Qualified class name, e.g. `__torch__.torch.nn.modules.linear.Linear`. */
  className: string;
  /** The object's attributes (its BUILD state when that is a dict with string keys), in slot order. */
  attributes: Map<string, TorchValue>;
  /** The raw BUILD state (only differs from `attributes` for classes with a custom `__getstate__`). */
  state: TorchValue;
  /** True for `nn.Module` subclasses. */
  isModule: boolean;
  /** Parameter and buffer names as declared in the archive's code, when it could be read. */
  parameters: string[] | undefined;
  buffers: string[] | undefined;
}

/** A global that was accepted but has no data meaning (e.g. a storage class used as a value). */
export interface TorchGlobalRef {
  readonly kind: 'global';
  name: string;
}

export type TorchDict = Map<TorchValue, TorchValue>;

/**
 * A loaded PyTorch object: None → null, bool, int (number, or bigint beyond 2^53), float, str, bytes
 * (Uint8Array), tensors (HostTensor), lists and tuples (arrays), dicts and OrderedDicts (Map), sets (Set),
 * TorchScript objects.
 */
export type TorchValue =
  null | boolean | number | bigint | string | Uint8Array | HostTensor | TorchValue[] | TorchDict | Set<TorchValue> | TorchScriptObject | TorchGlobalRef;

export type TorchObject = TorchValue;

export function isTorchScriptObject(v: unknown): v is TorchScriptObject {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'torchscript-object';
}
